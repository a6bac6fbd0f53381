"""DynamoDB Streams and Kinesis Data Streams sample events, as their event source mappings deliver a
batch of stream records to Lambda."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from lambda_emu import arns
from lambda_emu.errors import ConfigError
from lambda_emu.events import ids
from lambda_emu.events.catalog import sample_event

LOG = logging.getLogger(__name__)

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
Data = str | bytes | Mapping[str, Any] | Sequence[Any]


def dynamodb_value(value: object) -> dict[str, Any]:
    """A Python value as DynamoDB's typed attribute value: str → S, number → N (as text), bool → BOOL,
    None → NULL, bytes → B (base64 in JSON), list → L, mapping → M, sets → SS / NS / BS ("Supported data
    types" of the DynamoDB Developer Guide). An already-typed value ({"S": "x"}) is kept."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, bytes):
        return {"B": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        if len(value) == 1 and next(iter(value)) in (
            "S",
            "N",
            "B",
            "SS",
            "NS",
            "BS",
            "M",
            "L",
            "NULL",
            "BOOL",
        ):
            return dict(value)
        return {"M": {str(k): dynamodb_value(v) for k, v in value.items()}}
    if isinstance(value, (set, frozenset)):
        items = sorted(value, key=str)
        if all(isinstance(v, str) for v in items):
            return {"SS": items}
        if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in items):
            return {"NS": [str(v) for v in items]}
        if all(isinstance(v, bytes) for v in items):
            return {"BS": [base64.b64encode(v).decode() for v in items]}
        raise ConfigError(f"a DynamoDB set holds strings, numbers or bytes only; got {value!r}")
    if isinstance(value, (list, tuple)):
        return {"L": [dynamodb_value(v) for v in value]}
    raise ConfigError(f"no DynamoDB type for {type(value).__name__} value {value!r}")


def _item(values: Mapping[str, object]) -> dict[str, Any]:
    return {str(name): dynamodb_value(v) for name, v in values.items()}


def _size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it, roughly: names plus values in bytes."""
    return sum(len(name.encode()) + len(json.dumps(value).encode()) for name, value in item.items())


@sample_event(
    "dynamodb",
    "update",
    "Amazon DynamoDB stream record (INSERT, MODIFY or REMOVE of one item)",
    {
        "table": "table name",
        "keys": "key attributes, plain values (typed in the event: {'Id': 101} → {'Id': {'N': '101'}})",
        "new_image": "the item after the change (plain values; default: the keys plus a message)",
        "old_image": "the item before the change (plain values; default: the keys plus a message)",
        "event_name": f"what happened: {', '.join(EVENT_NAMES)}",
        "stream_view_type": f"what the stream carries: {', '.join(VIEW_TYPES)}",
        "region": "AWS region (follows AWS_REGION, as the emulator does)",
        "account_id": "AWS account id",
    },
    json_fields=frozenset({"keys", "new_image", "old_image"}),
)
def dynamodb_stream(
    *,
    table: str = "ExampleTableWithStream",
    keys: Mapping[str, object] | None = None,
    new_image: Mapping[str, object] | None = None,
    old_image: Mapping[str, object] | None = None,
    event_name: str = "MODIFY",
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """A DynamoDB stream event of one record. An INSERT has no OldImage, a REMOVE no NewImage, and the
    stream view type decides which images appear at all ("Change data capture for DynamoDB Streams")."""
    if event_name not in EVENT_NAMES:
        raise ConfigError(
            f"unknown DynamoDB event name {event_name!r}; choose from: {', '.join(EVENT_NAMES)}"
        )
    if stream_view_type not in VIEW_TYPES:
        raise ConfigError(
            f"unknown stream view type {stream_view_type!r}; choose from: {', '.join(VIEW_TYPES)}"
        )
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    keys = dict(keys) if keys is not None else {"Id": 101}
    at = ids.now()
    record: dict[str, Any] = {"ApproximateCreationDateTime": int(at.timestamp()), "Keys": _item(keys)}
    if event_name != "REMOVE" and stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        record["NewImage"] = _item(new_image if new_image is not None else {**keys, "Message": "New item!"})
    if event_name != "INSERT" and stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        record["OldImage"] = _item(old_image if old_image is not None else {**keys, "Message": "Old item!"})
    record["SequenceNumber"] = ids.digits(21)
    record["SizeBytes"] = sum(
        _size(record[part]) for part in ("Keys", "NewImage", "OldImage") if part in record
    )
    record["StreamViewType"] = stream_view_type
    stream_label = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}"
    return {
        "Records": [
            {
                "eventID": ids.lower_hex(32),
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": record,
                "eventSourceARN": arns.arn(
                    "dynamodb", region, account_id, f"table/{table}/stream/{stream_label}"
                ),
            }
        ]
    }


def _bytes(data: Data) -> bytes:
    if isinstance(data, bytes):
        return data
    return (data if isinstance(data, str) else json.dumps(data)).encode()


@sample_event(
    "kinesis",
    "get-records",
    "Amazon Kinesis Data Streams records",
    {
        "data": "record data (text; a mapping is sent as JSON; a list makes one record per item); "
        "the event carries it base64-encoded",
        "partition_key": "partition key",
        "stream": "stream name",
        "sequence": "sequence number of the first record (random when not given)",
        "shard_id": "shard id",
        "region": "AWS region (follows AWS_REGION, as the emulator does)",
        "account_id": "AWS account id",
    },
)
def kinesis_record(
    *,
    data: Data | Sequence[Data] = "Hello, this is a test 123.",
    partition_key: str = "partitionKey-03",
    stream: str = "example-stream",
    sequence: str | None = None,
    shard_id: str = "shardId-000000000000",
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """A Kinesis event with one record per data item: data base64-encoded, 56-digit sequence numbers,
    eventID "<shard id>:<sequence number>" ("Using Lambda with Kinesis Data Streams")."""
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    if sequence is not None and not sequence.isdigit():
        raise ConfigError(f"a Kinesis sequence number is decimal digits; got {sequence!r}")
    first = int(sequence or ids.digits(56))
    items = list(data) if isinstance(data, list) else [data]
    arrival = ids.now().timestamp()
    records = []
    for offset, item in enumerate(items):
        number = str(first + offset * 1_000_000)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": number,
                    "data": base64.b64encode(_bytes(item)).decode(),
                    "approximateArrivalTimestamp": round(arrival, 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:{arns.partition(region)}:iam::{account_id}:role/lambda-role",
                "awsRegion": region,
                "eventSourceARN": arns.arn("kinesis", region, account_id, f"stream/{stream}"),
            }
        )
    return {"Records": records}
