// A Node.js function whose require() finds a package of its layer: Lambda's NODE_PATH includes
// /opt/nodejs/node_modules (ES module imports do not read NODE_PATH, so this file is CommonJS).
const fs = require("fs");
const { hello } = require("greeting");

exports.handler = async (event) => ({
  greeting: hello(event.name || "world"),
  resolved: require.resolve("greeting"),
  overlap: fs.readFileSync("/opt/overlap.txt", "utf8").trim(),
});
