// Not valid JavaScript: init fails with Runtime.UserCodeSyntaxError.
exports.handler = async (event) => {
  return { broken: ;
};
