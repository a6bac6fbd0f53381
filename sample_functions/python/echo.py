"""Returns the event unchanged, and how many times this environment has served a call (warm state)."""

import sys

CALLS = 0


def handler(event, context):
    global CALLS
    CALLS += 1
    print(f"echo call {CALLS}")
    return {"event": event, "calls": CALLS, "python": "%d.%d" % sys.version_info[:2]}
