"""GET /hello/{name} behind API Gateway's proxy integration: a greeting in JSON."""

import json
import os
import time

# Module scope runs once per execution environment, in Lambda's Init phase.
STARTED_AT = time.time()
_invocations = 0


def handler(event, context):
    global _invocations
    _invocations += 1
    name = (event.get("pathParameters") or {}).get("name") or "world"
    print(f"greeting {name}")
    body = {
        "message": f"{os.environ['GREETING']}, {name}!",
        "invocationsInThisEnvironment": _invocations,
        "memoryLimitInMB": int(context.memory_limit_in_mb),
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
