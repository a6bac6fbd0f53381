"""The pure parts of stream polling (event_sources.streams, event_sources.settings): the Kinesis and
DynamoDB events a batch becomes, what a batch's outcome means (retries, bisect, checkpoints at reported
failures, discards), the on-failure record, and Lambda's checks of a stream mapping's settings."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from lambda_emu.errors import ApiError, ConfigError
from lambda_emu.event_sources.settings import configured
from lambda_emu.event_sources.streams import (
    RECORD_TOO_OLD,
    RETRIES_EXHAUSTED,
    Attempt,
    Discarded,
    StreamArn,
    StreamPolicy,
    failure_record,
    filter_view,
    handle_batch,
    stream_event,
)

KINESIS_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
DDB_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024-01-01T00:00:00.000"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def kinesis(n: int, *, at: float = 1_700_000_000.0, fail: bool = False) -> dict[str, Any]:
    return {
        "SequenceNumber": str(100 + n),
        "ApproximateArrivalTimestamp": datetime.fromtimestamp(at + n, tz=timezone.utc),
        "Data": json.dumps({"n": n, "fail": fail}).encode(),
        "PartitionKey": "k",
    }


def run(
    records: Sequence[Mapping[str, Any]],
    policy: StreamPolicy,
    answer: Any,
    *,
    now: float = 1_700_000_100.0,
) -> tuple[list[list[int]], list[str], list[Discarded]]:
    """Handles the batch with `answer(batch numbers) -> Attempt`; the batches invoked, the checkpoints
    and what was discarded."""
    invoked: list[list[int]] = []
    checkpoints: list[str] = []
    discarded: list[Discarded] = []

    def invoke(part: Sequence[Mapping[str, Any]]) -> Attempt:
        numbers = [int(r["SequenceNumber"]) - 100 for r in part]
        invoked.append(numbers)
        return answer(numbers)

    finished = handle_batch(
        records,
        policy,
        invoke,
        now=lambda: now,
        done=lambda r: checkpoints.append(r["SequenceNumber"]),
        discard=discarded.append,
        pause=lambda counted: True,
    )
    assert finished
    return invoked, checkpoints, discarded


def test_the_kinesis_event_is_lambdas() -> None:
    source = StreamArn.parse(KINESIS_ARN)
    assert source is not None and (source.kind, source.name) == ("kinesis", "orders")
    role = "arn:aws:iam::123456789012:role/r"
    (record,) = stream_event([kinesis(0)], source, shard_id="shardId-000000000000", role_arn=role)["Records"]
    assert record == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "k",
            "sequenceNumber": "100",
            "data": base64.b64encode(b'{"n": 0, "fail": false}').decode(),
            "approximateArrivalTimestamp": 1_700_000_000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000000:100",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": "us-east-1",
        "eventSourceARN": KINESIS_ARN,
    }
    assert filter_view(record)["data"] == {"n": 0, "fail": False}


def test_the_dynamodb_event_is_lambdas_with_binary_in_base64() -> None:
    source = StreamArn.parse(DDB_ARN)
    assert source is not None and (source.kind, source.name) == ("dynamodb", "Orders")
    change = {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": T0,
            "Keys": {"id": {"S": "a"}},
            "NewImage": {"id": {"S": "a"}, "b": {"B": b"\x00\x01"}},
            "OldImage": {"id": {"S": "a"}, "n": {"N": "1"}},
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    (record,) = stream_event([change], source, shard_id="s", role_arn="r")["Records"]
    assert record == {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(T0.timestamp()),
            "Keys": {"id": {"S": "a"}},
            "NewImage": {"id": {"S": "a"}, "b": {"B": "AAE="}},
            "OldImage": {"id": {"S": "a"}, "n": {"N": "1"}},
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": DDB_ARN,
    }


def test_success_checkpoints_the_batch_and_a_failure_retries_it_until_the_quota() -> None:
    records = [kinesis(n) for n in range(3)]
    invoked, checkpoints, discarded = run(records, StreamPolicy(), lambda ns: Attempt(True))
    assert (invoked, checkpoints, discarded) == ([[0, 1, 2]], ["102"], [])

    invoked, checkpoints, discarded = run(
        records, StreamPolicy(max_retries=2), lambda ns: Attempt(True, failed=True)
    )
    assert invoked == [[0, 1, 2]] * 3  # the first attempt and two retries
    assert checkpoints == ["102"]  # given up on: the shard moves past them
    (gone,) = discarded
    assert (len(gone.records), gone.condition, gone.invocations) == (3, RETRIES_EXHAUSTED, 3)


def test_a_throttled_batch_is_tried_again_without_counting_as_a_retry() -> None:
    answers = iter([Attempt(False), Attempt(False), Attempt(True)])
    invoked, checkpoints, discarded = run([kinesis(0)], StreamPolicy(max_retries=0), lambda ns: next(answers))
    assert (len(invoked), checkpoints, discarded) == (3, ["100"], [])


def test_bisect_splits_a_failing_batch_until_the_bad_record_is_alone() -> None:
    records = [kinesis(n) for n in range(4)]
    invoked, checkpoints, discarded = run(
        records,
        StreamPolicy(max_retries=0, bisect=True),
        lambda ns: Attempt(True, failed=1 in ns),
    )
    assert invoked == [[0, 1, 2, 3], [0, 1], [0], [1], [2, 3]]
    assert checkpoints == ["100", "101", "103"]
    (gone,) = discarded
    assert [r["SequenceNumber"] for r in gone.records] == ["101"] and gone.invocations == 1


def test_reported_failures_checkpoint_before_the_lowest_and_retry_from_it() -> None:
    records = [kinesis(n) for n in range(5)]
    answers = iter(
        [
            {"batchItemFailures": [{"itemIdentifier": "103"}, {"itemIdentifier": "102"}]},
            {"batchItemFailures": []},
        ]
    )
    invoked, checkpoints, discarded = run(
        records,
        StreamPolicy(reports_failures=True),
        lambda ns: Attempt(True, payload=json.dumps(next(answers)).encode()),
    )
    assert invoked == [[0, 1, 2, 3, 4], [2, 3, 4]]
    assert checkpoints == ["101", "104"] and discarded == []


def test_an_unreadable_report_fails_the_whole_batch() -> None:
    records = [kinesis(n) for n in range(2)]
    for payload in (b'{"batchItemFailures": [{"itemIdentifier": "999"}]}', b"{not json"):
        invoked, _, discarded = run(
            records,
            StreamPolicy(reports_failures=True, max_retries=0),
            lambda ns, payload=payload: Attempt(True, payload=payload),
        )
        assert invoked == [[0, 1]] and len(discarded[0].records) == 2


def test_records_older_than_the_maximum_age_are_discarded_unseen() -> None:
    records = [kinesis(0, at=1000.0), kinesis(1, at=5000.0)]
    invoked, checkpoints, discarded = run(
        records, StreamPolicy(max_age_s=60), lambda ns: Attempt(True), now=5030.0
    )
    assert invoked == [[1]] and checkpoints == ["100", "101"]
    assert [(len(d.records), d.condition, d.invocations) for d in discarded] == [(1, RECORD_TOO_OLD, 0)]


def test_the_on_failure_record_is_lambdas() -> None:
    source = StreamArn.parse(KINESIS_ARN)
    assert source is not None
    gone = Discarded(
        (kinesis(0), kinesis(1)), RETRIES_EXHAUSTED, 2, Attempt(True, failed=True, error="Unhandled")
    )
    record = failure_record(
        gone,
        source,
        shard_id="shardId-000000000001",
        function_arn="arn:f",
        executed_version="$LATEST",
        now=0.5,
    )
    assert record["requestContext"]["condition"] == RETRIES_EXHAUSTED
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert (record["version"], record["timestamp"]) == ("1.0", "1970-01-01T00:00:00.500Z")
    assert record["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000001",
        "startSequenceNumber": "100",
        "endSequenceNumber": "101",
        "approximateArrivalOfFirstRecord": "2023-11-14T22:13:20.000Z",
        "approximateArrivalOfLastRecord": "2023-11-14T22:13:21.000Z",
        "batchSize": 2,
        "streamArn": KINESIS_ARN,
    }
    ddb = StreamArn.parse(DDB_ARN)
    assert ddb is not None
    change = {"dynamodb": {"SequenceNumber": "7", "ApproximateCreationDateTime": T0}}
    other = failure_record(
        Discarded((change,), RECORD_TOO_OLD, 0, None),
        ddb,
        shard_id="s",
        function_arn="f",
        executed_version="1",
        now=0,
    )
    assert "DDBStreamBatchInfo" in other and "functionError" not in other["responseContext"]


STREAM = {"event_source_arn": KINESIS_ARN, "batch_size": 100, "window_s": 0}


def test_a_stream_mapping_needs_a_starting_position_lambda_knows() -> None:
    with pytest.raises(ConfigError, match="Value null at 'startingPosition'"):
        configured("kinesis", STREAM, {}, create=True)
    with pytest.raises(ApiError, match="enum value set"):
        configured("kinesis", STREAM, {"StartingPosition": "EARLIEST"}, create=True)
    ddb = {**STREAM, "event_source_arn": DDB_ARN}
    with pytest.raises(ConfigError, match="Unsupported starting position"):
        configured(
            "dynamodb", ddb, {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1}, create=True
        )
    with pytest.raises(ConfigError, match="timestamp"):
        configured("kinesis", STREAM, {"StartingPosition": "AT_TIMESTAMP"}, create=True)
    changes = configured(
        "kinesis", STREAM, {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 5}, create=True
    )
    assert (changes["starting_position"], changes["starting_position_timestamp"]) == ("AT_TIMESTAMP", 5.0)


def test_a_stream_mappings_limits_are_lambdas() -> None:
    position = {"StartingPosition": "LATEST"}
    for field, value in (
        ("BatchSize", 10_001),
        ("MaximumRetryAttempts", -2),
        ("MaximumRetryAttempts", 10_001),
        ("MaximumRecordAgeInSeconds", 604_801),
        ("ParallelizationFactor", 11),
    ):
        with pytest.raises(ApiError) as caught:
            configured("kinesis", STREAM, {**position, field: value}, create=True)
        assert caught.value.code == "ValidationException"
    with pytest.raises(ConfigError, match="MaximumRecordAgeInSeconds"):
        configured("kinesis", STREAM, {**position, "MaximumRecordAgeInSeconds": 30}, create=True)
    with pytest.raises(ConfigError, match="Unsupported DestinationConfig"):
        configured(
            "kinesis",
            STREAM,
            {**position, "DestinationConfig": {"OnSuccess": {"Destination": "x"}}},
            create=True,
        )
    with pytest.raises(ConfigError, match="SQS queue or an SNS topic"):
        configured(
            "kinesis",
            STREAM,
            {**position, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::b"}}},
            create=True,
        )
    # A batch over 10 needs no batching window for a stream, unlike an SQS queue.
    assert configured("kinesis", STREAM, {**position, "BatchSize": 500}, create=True)["batch_size"] == 500


def test_an_sqs_mapping_refuses_the_stream_only_settings() -> None:
    sqs = {"event_source_arn": "arn:aws:sqs:us-east-1:123456789012:q", "batch_size": 10, "window_s": 0}
    with pytest.raises(ConfigError, match="Unsupported MaximumRetryAttempts parameter"):
        configured("sqs", sqs, {"MaximumRetryAttempts": 1}, create=True)


def test_malformed_settings_are_refused_not_crashed_on() -> None:
    position = {"StartingPosition": "LATEST"}
    for body in (
        {"DestinationConfig": "x"},
        {"DestinationConfig": {"OnFailure": "x"}},
        {"StartingPositionTimestamp": [1], "StartingPosition": "AT_TIMESTAMP"},
        {"MaximumRetryAttempts": "2"},
        {"BatchSize": True},
    ):
        with pytest.raises((ConfigError, ApiError)):
            configured("kinesis", STREAM, {**position, **body}, create=True)
