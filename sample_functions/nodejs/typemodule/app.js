// A .js file that is an ES module because its package.json says "type": "module".
export const handler = async () => ({
  kind: typeof require === 'undefined' ? 'esm' : 'cjs',
  url: import.meta.url,
});
