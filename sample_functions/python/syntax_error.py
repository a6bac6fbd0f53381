"""A module with a syntax error."""


def handler(event, context)
    return "unreachable"
