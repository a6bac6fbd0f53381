"""The pure parts of SQS polling: which messages a batch's outcome deletes, and the event a batch becomes."""

from __future__ import annotations

import json

from lambda_emu.event_sources.sqs import deleted_after, sqs_event

BATCH = [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": str(n)} for n in range(3)]


def _deleted(payload: object, *, failed: bool = False, reports: bool = True) -> list[str]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return [
        m["MessageId"] for m in deleted_after(BATCH, failed=failed, payload=raw, reports_failures=reports)
    ]


def test_a_function_error_deletes_nothing_and_success_deletes_all() -> None:
    assert _deleted(None, failed=True) == []
    assert _deleted({"anything": 1}, reports=False) == ["m0", "m1", "m2"]


def test_reported_failures_stay_and_an_empty_or_null_report_is_full_success() -> None:
    assert _deleted({"batchItemFailures": [{"itemIdentifier": "m1"}]}) == ["m0", "m2"]
    assert _deleted({"batchItemFailures": []}) == ["m0", "m1", "m2"]
    assert _deleted(b"null") == ["m0", "m1", "m2"]
    assert _deleted(b"") == ["m0", "m1", "m2"]


def test_an_unreadable_report_retries_the_whole_batch() -> None:
    assert _deleted({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}) == []
    assert _deleted({"batchItemFailures": [{"itemIdentifier": ""}]}) == []
    assert _deleted({"batchItemFailures": "m1"}) == []
    assert _deleted(b"{not json") == []


def test_the_event_keeps_lambdas_system_attributes_only_and_binary_values_in_base64() -> None:
    message = {
        "MessageId": "m0",
        "ReceiptHandle": "r0",
        "Body": "hi",
        "MD5OfBody": "49f68a5c8493ec2c0bf489821c21fc3b",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "x", "Policy": "no"},
        "MessageAttributes": {"b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    }
    (record,) = sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")["Records"]
    assert record["attributes"] == {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "x"}
    assert record["messageAttributes"] == {
        "b": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
    }
    assert record["md5OfMessageAttributes"] is None and record["eventSource"] == "aws:sqs"
