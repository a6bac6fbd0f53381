"""Returns a string of event["mb"] megabytes (over Lambda's 6 MB response limit by default)."""


def handler(event, context):
    return "x" * int(event.get("mb", 7) * 1024 * 1024)
