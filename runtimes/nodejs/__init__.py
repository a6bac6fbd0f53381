"""The Node.js runtime: `bootstrap` starts `index.mjs` (Node's standard library only) inside the container.

The client runs there as a plain ES module; this folder is a package here only so that its files ship with
lambda-emu."""
