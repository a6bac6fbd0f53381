// A callback handler that answers at once but leaves a timer of event.delay_ms pending. By default Lambda
// sends the answer once the event loop is empty (after the timer); with event.wait === false it sets
// context.callbackWaitsForEmptyEventLoop = false and the answer goes at once.
let timersFired = 0;

exports.handler = (event, context, callback) => {
  if (event.wait === false) context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {
    timersFired += 1;
    console.log('timer fired');
  }, event.delay_ms ?? 500);
  callback(null, { timersFiredBefore: timersFired, waited: context.callbackWaitsForEmptyEventLoop });
};
