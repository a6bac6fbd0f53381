// An async CommonJS handler: greets, counts warm calls, and logs through console.
let calls = 0;

exports.handler = async (event) => {
  calls += 1;
  console.log('hello call', calls);
  return { message: `Hello, ${event.name ?? 'world'}!`, calls };
};
