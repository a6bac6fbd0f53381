"""Raises an unhandled exception."""


class PaymentDeclined(Exception):
    pass


def check(amount):
    raise PaymentDeclined(f"card declined for {amount}")


def handler(event, context):
    print("about to fail")
    check(event.get("amount", 42))
