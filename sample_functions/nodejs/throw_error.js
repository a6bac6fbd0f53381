// An async handler that throws an Error subclass with its own name.
class PaymentDeclined extends Error {
  constructor(message) {
    super(message);
    this.name = 'PaymentDeclined';
  }
}

function check(amount) {
  throw new PaymentDeclined(`card declined for ${amount}`);
}

exports.handler = async (event) => {
  console.log('checking', event.amount);
  check(event.amount ?? 0);
};
