"""SQS as Lambda polls it ("Using Lambda with Amazon SQS"): the event a batch of received messages becomes,
and which messages a batch's outcome deletes. Pure: the poller (event_sources.pollers) does the I/O."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_emu import wire

LOG = logging.getLogger(__name__)

# The system attributes Lambda hands the function (FIFO queues add the last three; AWSTraceHeader when set).
_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The SQS event of ReceiveMessage's `messages` (boto3's shape), one record each, in order."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {key: attributes[key] for key in _SYSTEM_ATTRIBUTES if key in attributes},
        "messageAttributes": {
            name: _attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if "StringValue" in value:
        entry["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return {
        **entry,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }


def deleted_after(
    messages: Sequence[Mapping[str, Any]], *, failed: bool, payload: bytes, reports_failures: bool
) -> list[Mapping[str, Any]]:
    """The messages a batch's outcome deletes. A function error deletes none: they come back after the
    queue's visibility timeout, and the queue's redrive policy moves them on after its maxReceiveCount.
    With ReportBatchItemFailures, a successful answer deletes all but the items it reports; an answer
    Lambda cannot read as such a report, or naming a message not in the batch, fails the whole batch."""
    if failed:
        return []
    if not reports_failures:
        return list(messages)
    reported = reported_failures(payload, {m["MessageId"] for m in messages})
    if reported is None:
        LOG.warning("the batch response could not be read as batchItemFailures: the whole batch is retried")
        return []
    return [m for m in messages if m["MessageId"] not in reported]


def reported_failures(payload: bytes, batch: set[str]) -> set[str] | None:
    """The itemIdentifiers of a batch response ({"batchItemFailures": [{"itemIdentifier": id}]}); an empty
    or null answer reports none; None when the answer is not a valid report."""
    try:
        answer = wire.loads_json(payload) if payload.strip() else None
    except ValueError:
        return None
    if answer is None or (isinstance(answer, dict) and not answer.get("batchItemFailures")):
        return set()  # "an empty batchItemFailures list or a null response": the whole batch succeeded
    if not isinstance(answer, dict) or not isinstance(answer["batchItemFailures"], list):
        return None
    reported: set[str] = set()
    for item in answer["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch:
            return None
        reported.add(identifier)
    return reported
