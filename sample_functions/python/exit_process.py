"""Ends the runtime process (event "code", default 3)."""

import sys


def handler(event, context):
    print("exiting")
    sys.exit(event.get("code", 3))
