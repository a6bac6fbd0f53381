"""Kinesis and DynamoDB Streams as Lambda polls them ("Using Lambda with Kinesis Data Streams", "Using
Lambda with DynamoDB"): the event a batch of GetRecords records becomes, what a batch's outcome means
(retry, bisect, checkpoint at a reported failure, discard), and the record an on-failure destination
gets. Pure: the shard pollers (event_sources.stream_pollers) do the I/O."""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lambda_emu import arns, wire
from lambda_emu.event_sources.sqs import reported_failures

LOG = logging.getLogger(__name__)

KINESIS, DYNAMODB = "kinesis", "dynamodb"
RETRIES_EXHAUSTED, RECORD_TOO_OLD = "RetryAttemptsExhausted", "RecordAgeExceeded"


@dataclass(frozen=True)
class StreamArn:
    """A Kinesis stream's or a DynamoDB table stream's ARN, parsed."""

    arn: str
    kind: str  # KINESIS | DYNAMODB
    region: str
    account: str
    name: str  # the stream's name, or the table's

    @classmethod
    def parse(cls, arn: str) -> StreamArn | None:
        """Through arns.parse: a Kinesis ARN's resource is stream/NAME, a DynamoDB stream's
        table/TABLE/stream/LABEL."""
        parts = arns.parse(arn)
        if parts is None or not parts.account.isdigit() or len(parts.account) != 12:
            return None
        resource = parts.resource.split("/")
        if parts.service == KINESIS and len(resource) == 2 and resource[0] == "stream":
            name = resource[1]
        elif (
            parts.service == DYNAMODB
            and len(resource) == 4
            and (resource[0], resource[2]) == ("table", "stream")
        ):
            name = resource[1] if resource[3] else ""
        else:
            return None
        if not re.fullmatch(r"[\w.-]+", name):
            return None
        return cls(arn, parts.service, parts.region, parts.account, name)


# ---- the event
def _seconds(value: Any) -> float:
    """GetRecords' timestamps (a datetime from boto3, or epoch seconds) as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value or 0)


def sequence_of(record: Mapping[str, Any]) -> str:
    """A GetRecords record's sequence number (Kinesis's top level, DynamoDB's under `dynamodb`)."""
    if "dynamodb" in record:
        return str(record["dynamodb"]["SequenceNumber"])
    return str(record["SequenceNumber"])


def arrival_of(record: Mapping[str, Any]) -> float:
    """When a record reached the stream, epoch seconds: what MaximumRecordAgeInSeconds measures."""
    if "dynamodb" in record:
        return _seconds(record["dynamodb"].get("ApproximateCreationDateTime"))
    return _seconds(record.get("ApproximateArrivalTimestamp"))


def stream_event(
    records: Sequence[Mapping[str, Any]], source: StreamArn, *, shard_id: str, role_arn: str
) -> dict[str, Any]:
    """The event of a batch of one shard's GetRecords records, in order."""
    if source.kind == KINESIS:
        return {"Records": [_kinesis_record(r, source, shard_id, role_arn) for r in records]}
    return {"Records": [_dynamodb_record(r, source) for r in records]}


def _kinesis_record(
    record: Mapping[str, Any], source: StreamArn, shard_id: str, role_arn: str
) -> dict[str, Any]:
    data = record.get("Data", b"")
    number = str(record["SequenceNumber"])
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.get("PartitionKey", ""),
            "sequenceNumber": number,
            "data": base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode(),
            "approximateArrivalTimestamp": round(arrival_of(record), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": source.region,
        "eventSourceARN": source.arn,
    }


def _dynamodb_record(record: Mapping[str, Any], source: StreamArn) -> dict[str, Any]:
    change = record["dynamodb"]
    body: dict[str, Any] = {
        # Lambda's DynamoDB event gives the creation time in whole epoch seconds.
        "ApproximateCreationDateTime": int(arrival_of(record)),
    }
    for part in ("Keys", "NewImage", "OldImage"):
        if part in change:
            body[part] = {name: _typed_json(value) for name, value in change[part].items()}
    body.update(
        SequenceNumber=str(change["SequenceNumber"]),
        SizeBytes=change.get("SizeBytes", 0),
        StreamViewType=change.get("StreamViewType", ""),
    )
    answer: dict[str, Any] = {
        "eventID": record.get("eventID", uuid.uuid4().hex),
        "eventName": record.get("eventName", ""),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion") or source.region,
        "dynamodb": body,
        "eventSourceARN": source.arn,
    }
    if "userIdentity" in record:  # a deletion by TTL says who deleted it
        answer["userIdentity"] = dict(record["userIdentity"])
    return answer


def _typed_json(value: Any) -> Any:
    """A DynamoDB attribute value from boto3 (binary as bytes) as the event's JSON has it (base64)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {key: _typed_json(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_typed_json(inner) for inner in value]
    return value


def filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a filter pattern sees of an event record: Kinesis's `data` decoded and parsed as JSON when it
    is a JSON object ("Filtering Kinesis events"); a DynamoDB record as it is."""
    kinesis = record.get("kinesis")
    if not isinstance(kinesis, Mapping):
        return dict(record)
    try:
        parsed = wire.loads_json(base64.b64decode(kinesis.get("data", "")))
    except ValueError:
        parsed = None
    return {**record, "data": parsed if isinstance(parsed, dict) else kinesis.get("data")}


def lanes(records: Sequence[Mapping[str, Any]], factor: int) -> list[list[Mapping[str, Any]]]:
    """The records split over ParallelizationFactor lanes by partition key (a DynamoDB item's keys), each
    lane in shard order: records of one key stay in order, lanes run at once ("Lambda processes up to 10
    batches in each shard simultaneously ... and still ensures in-order processing at the partition-key
    level"). Empty lanes are left out."""
    split: list[list[Mapping[str, Any]]] = [[] for _ in range(max(factor, 1))]
    for record in records:
        if "dynamodb" in record:
            key = json.dumps(record["dynamodb"].get("Keys"), sort_keys=True, default=str)
        else:
            key = str(record.get("PartitionKey", ""))
        split[zlib.crc32(key.encode()) % len(split)].append(record)
    return [lane for lane in split if lane]


# ---- a batch's outcome
@dataclass(frozen=True)
class Attempt:
    """One invocation of the function with a batch: whether it ran at all (False: throttled or not
    there, which Lambda retries without counting), whether it failed, and its answer."""

    reached: bool
    failed: bool = False
    payload: bytes = b""
    error: str | None = None  # the function error type, or why it did not run


@dataclass(frozen=True)
class StreamPolicy:
    """A mapping's error handling: -1 for MaximumRetryAttempts and MaximumRecordAgeInSeconds is forever."""

    max_retries: int = -1
    max_age_s: int = -1
    bisect: bool = False
    reports_failures: bool = False


@dataclass(frozen=True)
class Discarded:
    """Records Lambda gave up on, for the on-failure destination."""

    records: tuple[Mapping[str, Any], ...]
    condition: str  # RETRIES_EXHAUSTED | RECORD_TOO_OLD
    invocations: int
    last: Attempt | None


def handle_batch(
    records: Sequence[Mapping[str, Any]],
    policy: StreamPolicy,
    invoke: Callable[[Sequence[Mapping[str, Any]]], Attempt],
    *,
    now: Callable[[], float],
    done: Callable[[Mapping[str, Any]], None],
    discard: Callable[[Discarded], None],
    pause: Callable[[bool], bool],
) -> bool:
    """Hands one shard's batch to the function until every record is processed or discarded, in order.

    A function error retries the batch (BisectBatchOnFunctionError: split in halves first, which "does not
    count towards the retry quota"; each half then has retries of its own), until MaximumRetryAttempts or
    MaximumRecordAgeInSeconds gives up on it. With ReportBatchItemFailures, a successful answer naming
    failed records checkpoints at the lowest sequence number named: the records before it are done and
    the retry resumes from it. `done(record)` is the checkpoint after each record that is finished (or
    given up on), in order; `pause(counted)` waits before a retry and returns False when the poller stops,
    which leaves the rest unprocessed (at-least-once: it comes again after the last checkpoint)."""
    parts: list[list[Mapping[str, Any]]] = [list(records)]
    while parts:
        part = parts.pop(0)
        retries, invocations = 0, 0
        while part:
            expired = _expired(part, policy, now())
            if expired:
                discard(Discarded(tuple(expired), RECORD_TOO_OLD, invocations, None))
                done(expired[-1])
                part = part[len(expired) :]
                continue
            attempt = invoke(part)
            if not attempt.reached:  # throttled or gone: retried, not counted, until the records expire
                if not pause(False):
                    return False
                continue
            invocations += 1
            remaining = _remaining(part, attempt, policy.reports_failures)
            if not remaining:
                done(part[-1])
                break
            if len(remaining) < len(part):
                done(part[len(part) - len(remaining) - 1])  # the checkpoint: before the lowest failure
            if policy.bisect and len(remaining) > 1:
                half = len(remaining) // 2
                parts[:0] = [remaining[:half], remaining[half:]]
                break
            retries += 1
            if policy.max_retries != -1 and retries > policy.max_retries:
                discard(Discarded(tuple(remaining), RETRIES_EXHAUSTED, invocations, attempt))
                done(remaining[-1])
                break
            if not pause(True):
                return False
            part = remaining
    return True


def _expired(part: Sequence[Mapping[str, Any]], policy: StreamPolicy, now: float) -> list[Mapping[str, Any]]:
    """The records at the front of the batch older than MaximumRecordAgeInSeconds (the oldest come first
    in a shard, so the expired ones are a prefix)."""
    if policy.max_age_s == -1:
        return []
    expired = []
    for record in part:
        if now - arrival_of(record) <= policy.max_age_s:
            break
        expired.append(record)
    return expired


def _remaining(
    part: Sequence[Mapping[str, Any]], attempt: Attempt, reports_failures: bool
) -> list[Mapping[str, Any]]:
    """The records of the batch still to be processed after the attempt: none on success, all on a
    function error, and from the lowest reported failure on with ReportBatchItemFailures ("Configuring
    partial batch response"); an answer that is not a valid report fails the whole batch."""
    if attempt.failed:
        return list(part)
    if not reports_failures:
        return []
    numbers = [sequence_of(r) for r in part]
    reported = reported_failures(attempt.payload, set(numbers))  # itemIdentifiers: sequence numbers
    if reported is None:
        LOG.warning("the batch response could not be read as batchItemFailures: the whole batch is retried")
        return list(part)
    if not reported:
        return []
    first = min(numbers.index(number) for number in reported)
    return list(part[first:])


# ---- the on-failure destination's record
def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def failure_record(
    discarded: Discarded,
    source: StreamArn,
    *,
    shard_id: str,
    function_arn: str,
    executed_version: str,
    now: float,
) -> dict[str, Any]:
    """The record Lambda sends an on-failure destination for records of a stream it discarded ("Retain
    discarded batch records"): the records' place in the shard, not the records themselves."""
    records = discarded.records
    request: dict[str, Any] = {
        "requestId": str(uuid.uuid4()),
        "functionArn": function_arn,
        "condition": discarded.condition,
        "approximateInvokeCount": discarded.invocations,
    }
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
    if discarded.last is not None and discarded.last.failed:
        response["functionError"] = discarded.last.error or "Unhandled"
    info = {
        "shardId": shard_id,
        "startSequenceNumber": sequence_of(records[0]),
        "endSequenceNumber": sequence_of(records[-1]),
        "approximateArrivalOfFirstRecord": _iso(arrival_of(records[0])),
        "approximateArrivalOfLastRecord": _iso(arrival_of(records[-1])),
        "batchSize": len(records),
        "streamArn": source.arn,
    }
    return {
        "requestContext": request,
        "responseContext": response,
        "version": "1.0",
        "timestamp": _iso(now),
        ("KinesisBatchInfo" if source.kind == KINESIS else "DDBStreamBatchInfo"): info,
    }
