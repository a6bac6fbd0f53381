"""Returns a value JSON cannot represent."""


def handler(event, context):
    return {"ids": {1, 2, 3}}
