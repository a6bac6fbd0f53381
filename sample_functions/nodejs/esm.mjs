// An ES module (.mjs): top-level await during init, a named export as the handler.
import { basename } from 'node:path';

const loadedAt = await Promise.resolve(Date.now());

export const handler = async (event) => ({
  module: basename(new URL(import.meta.url).pathname),
  kind: typeof require === 'undefined' ? 'esm' : 'cjs',
  loadedAt,
  echo: event,
});
