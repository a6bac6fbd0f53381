// Sets a variable and a global on each call and reports what it saw first: shows what survives warm
// invocations and what a reset (after a timeout) wipes.
exports.handler = async (event) => {
  const seen = { envBefore: process.env.SET_BY_HANDLER ?? null, globalBefore: globalThis.setByHandler ?? null };
  process.env.SET_BY_HANDLER = 'yes';
  globalThis.setByHandler = 'yes';
  if (event.seconds) await new Promise((resolve) => setTimeout(resolve, event.seconds * 1000));
  return seen;
};
