"""SQS batches: each message body is JSON with a "task"; failed messages are reported back to Lambda."""

import json


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            task = json.loads(record["body"])["task"]
            print(f"done: {task}")
        except (ValueError, KeyError):
            print(f"cannot process message {record['messageId']}")
            failures.append({"itemIdentifier": record["messageId"]})
    # ReportBatchItemFailures: only these messages return to the queue.
    return {"batchItemFailures": failures}
