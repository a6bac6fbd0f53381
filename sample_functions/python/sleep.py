"""Sleeps longer than its timeout (event "seconds", default 5)."""

import time


def handler(event, context):
    print("going to sleep")
    time.sleep(event.get("seconds", 5))
    return "woke up"
