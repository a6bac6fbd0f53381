// Sleeps event.seconds (default 5) before answering: longer than its timeout, it is killed.
exports.handler = async (event) => {
  console.log('going to sleep');
  await new Promise((resolve) => setTimeout(resolve, (event.seconds ?? 5) * 1000));
  return 'woke up';
};
