// Throws from a timer, outside any promise: an uncaught exception ends the runtime process.
exports.handler = (event, context, callback) => {
  setTimeout(() => {
    throw new TypeError('exploded in a timer');
  }, 10);
};
