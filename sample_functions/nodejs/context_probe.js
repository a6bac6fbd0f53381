// Returns every field of the Node.js context object, with types, and the remaining time read twice.
exports.handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((resolve) => setTimeout(resolve, event.sleep_ms ?? 50));
  const second = context.getRemainingTimeInMillis();
  return {
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    memoryLimitType: typeof context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    identityType: typeof context.identity,
    clientContext: context.clientContext ?? null,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    remainingFirst: first,
    remainingSecond: second,
    nowMs: Date.now(),
    env: { ...process.env },
    node: process.versions.node,
    cwd: process.cwd(),
    uid: process.getuid(),
  };
};
