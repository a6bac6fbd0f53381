"""Reports every attempt to a loopback URL named in the event, then fails if the event says so: how the
tests count Lambda's retries of Event invocations from outside the container."""

import json
import os
import time
import urllib.request

# One value per execution environment: tells the tests which environment served a call.
ENVIRONMENT_ID = os.urandom(8).hex()


def handler(event, context):
    # A destination's record carries the original event as requestPayload.
    report_to = event.get("report_to") or (event.get("requestPayload") or {}).get("report_to")
    if report_to:
        record = {"request_id": context.aws_request_id, "event": event, "environment": ENVIRONMENT_ID}
        request = urllib.request.Request(report_to, data=json.dumps(record).encode(), method="POST")
        urllib.request.urlopen(request, timeout=5).close()
    time.sleep(float(event.get("sleep", 0)))
    for _ in range(int(event.get("lines", 0))):  # output for the LogType=Tail tests
        print(f"line of output for {context.aws_request_id}")
    if event.get("fail"):
        raise RuntimeError(f"failing on purpose: {event.get('id')}")
    custom = getattr(context.client_context, "custom", None)
    return {"id": event.get("id"), "environment": ENVIRONMENT_ID, "custom": custom}
