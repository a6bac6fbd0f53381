"""Sleeps for the event's seconds and says which environment it ran in: concurrent calls scale out."""

import os
import time

ENVIRONMENT_ID = os.urandom(8).hex()


def handler(event, context):
    time.sleep(float(event.get("seconds", 0)))
    return {"environment": ENVIRONMENT_ID}
