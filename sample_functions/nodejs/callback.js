// A callback handler: answers through callback(err, result) from a timer; event.fail makes it an error.
exports.handler = (event, context, callback) => {
  setTimeout(() => {
    if (event.fail) callback(new Error(`asked to fail: ${event.fail}`));
    else callback(null, { via: 'callback', echo: event });
  }, 10);
};
