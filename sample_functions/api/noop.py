"""A handler that does nothing: what the API benchmarks measure is everything around it."""


def handler(event, context):
    return None
