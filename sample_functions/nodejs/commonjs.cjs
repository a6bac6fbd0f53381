// A CommonJS module with the .cjs extension: module.exports, require and __filename are defined.
const path = require('node:path');

module.exports.handler = async (event) => ({
  module: path.basename(__filename),
  kind: typeof require === 'function' ? 'cjs' : 'esm',
  echo: event,
});
