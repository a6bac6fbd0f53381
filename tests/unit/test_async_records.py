"""Dead-letter attributes, invocation records, destination ARNs and the local dead-letter store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_emu.async_invoke import Sinks, read_dead_letters, read_destination_records
from lambda_emu.async_invoke.records import dead_letter_attributes, error_message, failure_record
from lambda_emu.async_invoke.retry import LastError
from lambda_emu.async_invoke.sinks import Target
from lambda_emu.errors import ConfigError

T0 = 1_573_755_365.568  # 2019-11-14T18:16:05.568Z


def test_the_error_message_attribute_carries_the_first_kilobyte() -> None:
    message = "é" * 1000  # 2,000 bytes of UTF-8
    attributes = dead_letter_attributes("req", LastError(200, message))
    kept = attributes["ErrorMessage"]["StringValue"]
    assert len(kept.encode()) <= 1024 and message.startswith(kept)
    assert len(kept) == 512  # whole characters only: none cut in half


def test_a_throttled_dead_letter_has_the_429_status() -> None:
    attributes = dead_letter_attributes("req", LastError(429, "Rate Exceeded."))
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "429"}
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": "req"}


def test_a_failure_record_has_lambdas_shape() -> None:
    error = LastError(
        200, "oops", "Sandbox.Timedout", b'{"errorMessage": "oops", "errorType": "Sandbox.Timedout"}'
    )
    record = failure_record(
        request_id="req",
        function_arn="arn:aws:lambda:us-east-2:123456789012:function:fn:$LATEST",
        condition="RetriesExhausted",
        invoke_count=3,
        request_payload=b'{"ORDER_IDS": [1, 2]}',
        error=error,
        now=T0,
    )
    assert record == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "req",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:fn:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"ORDER_IDS": [1, 2]},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "oops", "errorType": "Sandbox.Timedout"},
    }


def test_a_payload_that_is_not_json_is_kept_as_text() -> None:
    record = failure_record(
        request_id="req",
        function_arn="arn",
        condition="EventAgeExceeded",
        invoke_count=0,
        request_payload=b"plain text",
        error=None,
        now=T0,
    )
    assert record["requestPayload"] == "plain text"
    assert "responsePayload" not in record


def test_error_message_reads_the_function_error() -> None:
    assert error_message(b'{"errorMessage": "bad", "errorType": "E"}') == "bad"
    assert error_message(b"not json") == "not json"


@pytest.mark.parametrize(
    ("arn", "service", "name"),
    [
        ("arn:aws:sqs:eu-west-1:111122223333:my-queue", "sqs", "my-queue"),
        ("arn:aws:sns:us-east-1:111122223333:topic", "sns", "topic"),
        ("arn:aws:lambda:us-east-1:111122223333:function:audit", "lambda", "audit"),
        ("arn:aws:lambda:us-east-1:111122223333:function:audit:live", "lambda", "audit"),
        ("arn:aws:events:us-east-1:111122223333:event-bus/default", "events", "event-bus/default"),
    ],
)
def test_destination_arns_are_parsed(arn: str, service: str, name: str) -> None:
    target = Target.parse(arn)
    assert (target.service, target.name) == (service, name)


@pytest.mark.parametrize("arn", ["my-queue", "arn:aws:lambda:us-east-1:1:layer:x:1"])
def test_bad_arns_are_refused(arn: str) -> None:
    with pytest.raises(ConfigError):
        Target.parse(arn)


def test_the_local_store_keeps_dead_letters_per_function(tmp_path: Path) -> None:
    sinks = Sinks(tmp_path)
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:dlq"
    sinks.dead_letter("a", queue_arn, b'{"n": 1}', dead_letter_attributes("r1", LastError(200, "x")))
    sinks.dead_letter("b", queue_arn, b'{"n": 2}', dead_letter_attributes("r2", LastError(429, "y")))
    sinks.dead_letter("a", queue_arn, b'{"n": 3}', dead_letter_attributes("r3", LastError(200, "z")))
    assert [entry["requestId"] for entry in read_dead_letters(tmp_path, "a")] == ["r1", "r3"]
    assert [entry["body"] for entry in read_dead_letters(tmp_path)] == ['{"n": 1}', '{"n": 3}', '{"n": 2}']
    assert read_dead_letters(tmp_path, "nobody") == []
    assert (tmp_path / "dead-letters" / "a.jsonl").is_file()


def test_a_dlq_that_is_not_a_queue_or_topic_is_kept_locally_with_the_reason(tmp_path: Path) -> None:
    Sinks(tmp_path).dead_letter("a", "arn:aws:s3:::bucket", b"{}", dead_letter_attributes("r", None))
    (entry,) = read_dead_letters(tmp_path, "a")
    assert entry["deliveredTo"] is None and "SQS queue or SNS topic" in entry["deliveryError"]


def test_an_eventbridge_destination_is_kept_locally(tmp_path: Path) -> None:
    target = "arn:aws:events:us-east-1:123456789012:event-bus/default"
    Sinks(tmp_path).destination("a", target, {"version": "1.0"})
    (entry,) = read_destination_records(tmp_path, "a")
    assert entry == {
        "function": "a",
        "target": target,
        "record": {"version": "1.0"},
        "deliveredTo": None,
        "deliveryError": None,
    }


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    store = tmp_path / "dead-letters" / "a.jsonl"
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({"requestId": "r1"}) + "\n" + '{"requestId": "r2", "bo')
    assert read_dead_letters(tmp_path, "a") == [{"requestId": "r1"}]
