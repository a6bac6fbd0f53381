// Requires a package that is not installed: init fails with Runtime.ImportModuleError.
const missing = require('no-such-dependency');

exports.handler = async () => missing.run();
