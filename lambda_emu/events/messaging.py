"""Amazon SQS and Amazon SNS sample events: a batch of received queue messages and a topic
notification, as the SQS event source mapping and SNS deliver them to Lambda."""

from __future__ import annotations

import base64
import json
import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_emu import arns
from lambda_emu.errors import ConfigError
from lambda_emu.events import ids
from lambda_emu.events.catalog import sample_event

LOG = logging.getLogger(__name__)

# An attribute is a String (str), a Number (int or float) or a Binary (bytes) value.
AttributeValue = str | int | float | bytes
Message = str | Mapping[str, Any] | Sequence[Any]


def _text(message: Message) -> str:
    """A message body: text as it is; a mapping or list as its JSON."""
    return message if isinstance(message, str) else json.dumps(message)


def _typed(value: AttributeValue) -> tuple[str, str | bytes]:
    if isinstance(value, bool):
        raise ConfigError(f"a message attribute is a string, number or bytes; got {value!r}")
    if isinstance(value, bytes):
        return "Binary", value
    if isinstance(value, (int, float)):
        return "Number", str(value)
    return "String", value


def md5_of_message_attributes(attributes: Mapping[str, AttributeValue]) -> str:
    """SQS's MD5 of message attributes: over the attributes sorted by name, each encoded as name,
    data type (length-prefixed, 4 bytes big-endian), a transport byte (1 string, 2 binary) and the
    length-prefixed value (SQS Developer Guide, "Calculating the MD5 message digest for message
    attributes")."""
    encoded = b""
    for name in sorted(attributes):
        data_type, value = _typed(attributes[name])
        raw = value if isinstance(value, bytes) else value.encode()
        for part in (name.encode(), data_type.encode()):
            encoded += struct.pack(">I", len(part)) + part
        encoded += (b"\x02" if isinstance(value, bytes) else b"\x01") + struct.pack(">I", len(raw)) + raw
    return ids.md5_hex(encoded)


def _sqs_attribute(value: AttributeValue) -> dict[str, Any]:
    data_type, typed = _typed(value)
    entry: dict[str, Any] = (
        {"binaryValue": base64.b64encode(typed).decode()}
        if isinstance(typed, bytes)
        else {"stringValue": typed}
    )
    return {**entry, "stringListValues": [], "binaryListValues": [], "dataType": data_type}


@sample_event(
    "sqs",
    "receive-message",
    "Amazon SQS messages received by an event source mapping",
    {
        "body": "message body (a list makes one record per body; a mapping or list item is sent as JSON)",
        "queue_name": "queue name (a name ending in .fifo makes a FIFO queue's records)",
        "message_attributes": "message attributes: name to a string, number or bytes value",
        "message_group_id": "FIFO message group id",
        "receive_count": "ApproximateReceiveCount",
        "region": "AWS region (follows AWS_REGION, as the emulator does)",
        "account_id": "AWS account id",
    },
    json_fields=frozenset({"message_attributes"}),
)
def sqs_message(
    *,
    body: Message | Sequence[Message] = "Hello from SQS!",
    queue_name: str = "MyQueue",
    message_attributes: Mapping[str, AttributeValue] | None = None,
    message_group_id: str = "1",
    receive_count: int = 1,
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """An SQS event with one record per body. md5OfBody is the body's real MD5 and md5OfMessageAttributes
    SQS's digest of the attributes (null without attributes); FIFO queues add MessageGroupId,
    MessageDeduplicationId and SequenceNumber ("Using Lambda with Amazon SQS")."""
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    if receive_count < 1:
        raise ConfigError(f"receive_count must be 1 or more; got {receive_count}")
    bodies = list(body) if isinstance(body, list) else [body]
    attributes = dict(message_attributes or {})
    fifo = queue_name.endswith(".fifo")
    records = []
    sent = ids.epoch_millis(ids.now())
    for item in bodies:
        text = _text(item)
        system: dict[str, str] = {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": "AIDA" + ids.hex_id(17),
            "ApproximateFirstReceiveTimestamp": str(sent + 3),
        }
        if fifo:
            system["SequenceNumber"] = ids.digits(20)
            system["MessageGroupId"] = message_group_id
            system["MessageDeduplicationId"] = ids.md5_hex(text.encode()) + ids.lower_hex(8)
        records.append(
            {
                "messageId": ids.request_uuid(),
                "receiptHandle": "AQEB" + ids.b64_token(120),
                "body": text,
                "attributes": system,
                "messageAttributes": {name: _sqs_attribute(v) for name, v in attributes.items()},
                "md5OfMessageAttributes": md5_of_message_attributes(attributes) if attributes else None,
                "md5OfBody": ids.md5_hex(text.encode()),
                "eventSource": "aws:sqs",
                "eventSourceARN": arns.arn("sqs", region, account_id, queue_name),
                "awsRegion": region,
            }
        )
    return {"Records": records}


@sample_event(
    "sns",
    "notification",
    "Amazon SNS topic notification",
    {
        "message": "message (a mapping or list is sent as JSON)",
        "subject": "subject (null when not given)",
        "topic": "topic name",
        "message_attributes": "message attributes: name to a string, number or bytes value",
        "region": "AWS region (follows AWS_REGION, as the emulator does)",
        "account_id": "AWS account id",
    },
    json_fields=frozenset({"message_attributes"}),
)
def sns_notification(
    *,
    message: Message = "example message",
    subject: str | None = None,
    topic: str = "ExampleTopic",
    message_attributes: Mapping[str, AttributeValue] | None = None,
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """An SNS notification of one message ("Invoking Lambda functions with Amazon SNS notifications"):
    binary attribute values arrive base64-encoded."""
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    topic_arn = arns.arn("sns", region, account_id, topic)
    subscription_arn = f"{topic_arn}:{ids.request_uuid()}"
    attributes = {}
    for name, value in (message_attributes or {}).items():
        data_type, typed = _typed(value)
        shown = base64.b64encode(typed).decode() if isinstance(typed, bytes) else typed
        attributes[name] = {"Type": data_type, "Value": shown}
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": ids.request_uuid(),
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": _text(message),
                    "Timestamp": ids.iso_millis(ids.now()),
                    "SignatureVersion": "1",
                    "Signature": ids.b64_token(256),
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/"
                    f"SimpleNotificationService-{ids.lower_hex(32)}.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/"
                    f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": attributes,
                },
            }
        ]
    }
