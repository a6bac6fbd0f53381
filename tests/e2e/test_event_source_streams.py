"""Kinesis and DynamoDB Streams event source mappings against real endpoints (moto's server on loopback):
batches of BatchSize in shard order, StartingPosition, bisect on a function error, ReportBatchItemFailures
checkpoints, the on-failure record in an SQS queue, INSERT/MODIFY/REMOVE in order, a SIGKILL of serve
mid-stream with every record handed after the restart, and a mapping from the template."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Reports, Served, start_server
from tests.e2e.test_api_account_tags import error_of
from tests.e2e.test_api_layers import zipped
from tests.e2e.test_api_management import ROLE

HANDLER = """
import base64, json, time, urllib.request

def _items(event):
    records = event["Records"]
    if records[0]["eventSource"] == "aws:kinesis":
        return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in records]
    images = [r["dynamodb"].get("NewImage") or r["dynamodb"]["OldImage"] for r in records]
    return [{k: v.get("S", v.get("N")) for k, v in image.items()} for image in images]

def handler(event, context):
    items = _items(event)
    report = {"mark": items[0]["mark"], "ns": [int(i["n"]) for i in items], "records": event["Records"]}
    request = urllib.request.Request(items[0]["report_to"], data=json.dumps({"event": report}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    time.sleep(float(items[0].get("sleep", 0)))
    if any(i.get("fail") == "all" for i in items):
        raise RuntimeError("failing the batch on purpose")
    return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                  for r, i in zip(event["Records"], items) if i.get("fail") == "item"]}
"""


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws(moto: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=moto, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def serve(state: Path, moto: str, **options: Any) -> Served:
    """serve with moto as its Kinesis and DynamoDB Streams endpoints (the environment's variables, as a
    user sets them) and its SQS endpoint (the on-failure destinations)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_KINESIS", moto)
        env.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", moto)
        return start_server(state, "--sqs-endpoint-url", moto, **options)


def make_function(server: Served, name: str) -> None:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[Served]:
    server = serve(tmp_path_factory.mktemp("streams") / "state", moto)
    make_function(server, "stream-consumer")
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def stream(kinesis: Any, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return str(kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"])


def put(kinesis: Any, name: str, reports: Reports, mark: str, items: list[dict[str, Any]]) -> list[str]:
    numbers = []
    for item in items:
        data = json.dumps({"report_to": reports.url, "mark": mark, **item}).encode()
        numbers.append(kinesis.put_record(StreamName=name, Data=data, PartitionKey="k")["SequenceNumber"])
    return numbers


def wait_until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def batches(reports: Reports, mark: str) -> list[list[int]]:
    return [r["event"]["ns"] for r in reports.where(mark=mark)]


def handed(reports: Reports, mark: str, count: int, timeout: float = 60) -> list[list[int]]:
    """The batches of `mark` once `count` records were handed in all."""
    wait_until(lambda: sum(len(b) for b in batches(reports, mark)) >= count, timeout)
    return batches(reports, mark)


def test_a_kinesis_mapping_hands_batches_of_its_size_in_shard_order(
    served: Served, moto: str, reports: Reports
) -> None:
    kinesis, client = aws(moto, "kinesis"), served.client()
    arn = stream(kinesis, "clicks")
    mark = str(uuid.uuid4())
    put(kinesis, "clicks", reports, mark, [{"n": n} for n in range(3)])  # before the mapping
    created = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="stream-consumer", StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    try:
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert (created["StartingPosition"], created["BatchSize"], created["State"]) == (
            "TRIM_HORIZON",
            2,
            "Creating",
        )
        assert (created["MaximumRetryAttempts"], created["MaximumRecordAgeInSeconds"]) == (-1, -1)
        assert (created["BisectBatchOnFunctionError"], created["ParallelizationFactor"]) == (False, 1)
        assert created["DestinationConfig"] == {"OnFailure": {}}
        put(kinesis, "clicks", reports, mark, [{"n": n} for n in range(3, 6)])  # after it
        seen = handed(reports, mark, 6)
        assert [n for batch in seen for n in batch] == [0, 1, 2, 3, 4, 5], "each record once, in order"
        assert all(1 <= len(batch) <= 2 for batch in seen) and seen[0] == [0, 1]
        record = reports.where(mark=mark)[0]["event"]["records"][0]
        assert set(record) == {
            "kinesis",
            "eventSource",
            "eventVersion",
            "eventID",
            "eventName",
            "invokeIdentityArn",
            "awsRegion",
            "eventSourceARN",
        }
        assert set(record["kinesis"]) == {
            "kinesisSchemaVersion",
            "partitionKey",
            "sequenceNumber",
            "data",
            "approximateArrivalTimestamp",
        }
        assert (record["eventSource"], record["eventName"], record["eventSourceARN"]) == (
            "aws:kinesis",
            "aws:kinesis:record",
            arn,
        )
        assert record["eventID"] == f"shardId-000000000000:{record['kinesis']['sequenceNumber']}"
        assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    finally:
        client.delete_event_source_mapping(UUID=created["UUID"])


def test_latest_hands_only_what_came_after_the_mapping(served: Served, moto: str, reports: Reports) -> None:
    kinesis, client = aws(moto, "kinesis"), served.client()
    arn = stream(kinesis, "latest")
    mark = str(uuid.uuid4())
    put(kinesis, "latest", reports, mark, [{"n": 0}, {"n": 1}])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="stream-consumer", StartingPosition="LATEST"
    )
    try:
        put(kinesis, "latest", reports, mark, [{"n": 2}, {"n": 3}])
        seen = handed(reports, mark, 2)
        assert [n for batch in seen for n in batch] == [2, 3]
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_bisect_isolates_the_failing_record_and_sends_its_place_to_the_on_failure_queue(
    served: Served, moto: str, reports: Reports
) -> None:
    kinesis, sqs, client = aws(moto, "kinesis"), aws(moto, "sqs"), served.client()
    arn = stream(kinesis, "poison")
    failed_url = sqs.create_queue(QueueName="poison-failures")["QueueUrl"]
    failed_arn = sqs.get_queue_attributes(QueueUrl=failed_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    mark = str(uuid.uuid4())
    numbers = put(kinesis, "poison", reports, mark, [{"n": 0}, {"n": 1, "fail": "all"}, {"n": 2}, {"n": 3}])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="stream-consumer",
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failed_arn}},
    )
    try:
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": failed_arn}}
        message = wait_until(
            lambda: sqs.receive_message(QueueUrl=failed_url, WaitTimeSeconds=1).get("Messages")
        )
        assert message, "the discarded record's place reaches the on-failure queue"
        # The batch, its failing half, that half's two records, then the other half: five invocations.
        assert handed(reports, mark, 10) == [[0, 1, 2, 3], [0, 1], [0], [1], [2, 3]]
        record = json.loads(message[0]["Body"])
        assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert record["requestContext"]["functionArn"].endswith(":function:stream-consumer")
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["version"] == "1.0"
        info = record["KinesisBatchInfo"]
        assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
            numbers[1],
            numbers[1],
            1,
        )
        assert (info["shardId"], info["streamArn"]) == ("shardId-000000000000", arn)
        assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_reported_failures_are_retried_from_the_lowest_one(
    served: Served, moto: str, reports: Reports
) -> None:
    kinesis, client = aws(moto, "kinesis"), served.client()
    arn = stream(kinesis, "partial")
    mark = str(uuid.uuid4())
    put(kinesis, "partial", reports, mark, [{"n": 0}, {"n": 1}, {"n": 2, "fail": "item"}, {"n": 3}, {"n": 4}])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="stream-consumer",
        StartingPosition="TRIM_HORIZON",
        BatchSize=5,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        put(kinesis, "partial", reports, mark, [{"n": 5}])  # after the discarded ones: the shard goes on
        seen = handed(reports, mark, 9)
        # The batch; from the reported record on once more (the one retry); then past them.
        assert seen == [[0, 1, 2, 3, 4], [2, 3, 4], [5]]
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_dynamodb_stream_hands_insert_modify_remove_in_order(
    served: Served, moto: str, reports: Reports
) -> None:
    dynamodb, client = aws(moto, "dynamodb"), served.client()
    table = dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    arn = table["LatestStreamArn"]
    mark = str(uuid.uuid4())
    item = {"id": {"S": "o1"}, "mark": {"S": mark}, "report_to": {"S": reports.url}}
    dynamodb.put_item(TableName="orders", Item={**item, "id": {"S": "o0"}, "n": {"N": "0"}})
    # DynamoDB stamps stream records in whole seconds: a change of the second before the mapping's is
    # not the LATEST mapping's (one of the same second may be handed: at least once rather than lost).
    time.sleep(1.1)
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="stream-consumer", StartingPosition="LATEST", BatchSize=10
    )
    try:
        dynamodb.put_item(TableName="orders", Item={**item, "n": {"N": "1"}})
        dynamodb.put_item(TableName="orders", Item={**item, "n": {"N": "2"}})
        dynamodb.delete_item(TableName="orders", Key={"id": {"S": "o1"}})
        wait_until(lambda: sum(len(b) for b in batches(reports, mark)) >= 3)
        records = [r for report in reports.where(mark=mark) for r in report["event"]["records"]]
        assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"], "o0's INSERT came before"
        insert, modify, remove = (r["dynamodb"] for r in records)
        assert "OldImage" not in insert and insert["NewImage"]["n"] == {"N": "1"}
        assert (modify["OldImage"]["n"], modify["NewImage"]["n"]) == ({"N": "1"}, {"N": "2"})
        assert "NewImage" not in remove and remove["Keys"] == {"id": {"S": "o1"}}
        assert all(r["eventVersion"] == "1.1" and r["eventSource"] == "aws:dynamodb" for r in records)
        assert all(
            r["eventSourceARN"] == arn and isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int)
            for r in records
        )
        assert insert["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers)
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_disabled_mapping_stops_reading_and_resumes_where_it_stopped(
    served: Served, moto: str, reports: Reports
) -> None:
    kinesis, client = aws(moto, "kinesis"), served.client()
    arn = stream(kinesis, "paused")
    mark = str(uuid.uuid4())
    put(kinesis, "paused", reports, mark, [{"n": 0}])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="stream-consumer", StartingPosition="TRIM_HORIZON"
    )
    try:
        assert handed(reports, mark, 1) == [[0]]
        client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        assert client.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
        put(kinesis, "paused", reports, mark, [{"n": 1}, {"n": 2}])
        # Nothing reads the shard while the mapping is disabled: several of the poller's rounds go by.
        time.sleep(3)
        assert batches(reports, mark) == [[0]]
        client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
        seen = handed(reports, mark, 3)
        assert [n for batch in seen for n in batch] == [0, 1, 2], "resumed after the checkpoint"
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


WINDOW_HANDLER = """
import base64, json, urllib.request

def handler(event, context):
    items = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    state = dict(event["state"])
    if items:
        state.update(mark=items[0]["mark"], report_to=items[0]["report_to"])
    state["sum"] = state.get("sum", 0) + sum(i["n"] for i in items)
    report = {"mark": state["mark"], "final": event["isFinalInvokeForWindow"], "window": event["window"],
              "ns": [i["n"] for i in items], "state": event["state"], "records": event["Records"]}
    request = urllib.request.Request(state["report_to"], data=json.dumps({"event": report}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    return {"state": state, "batchItemFailures": []}
"""


def test_a_tumbling_window_aggregates_its_records_into_a_final_state(
    served: Served, moto: str, reports: Reports
) -> None:
    from datetime import datetime

    kinesis, client = aws(moto, "kinesis"), served.client()
    client.create_function(
        FunctionName="window-consumer",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": WINDOW_HANDLER})},
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName="window-consumer", WaiterConfig={"Delay": 1})
    arn = stream(kinesis, "windowed")
    mark = str(uuid.uuid4())
    put(kinesis, "windowed", reports, mark, [{"n": n} for n in range(1, 7)])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="window-consumer",
        StartingPosition="TRIM_HORIZON",
        TumblingWindowInSeconds=2,
    )
    try:
        assert mapping["TumblingWindowInSeconds"] == 2

        def finals() -> list[dict[str, Any]]:
            return [r["event"] for r in reports.where(mark=mark) if r["event"]["final"]]

        assert wait_until(lambda: sum(f["state"]["sum"] for f in finals()) >= 21), reports.where(mark=mark)
        assert sum(f["state"]["sum"] for f in finals()) == 21, "each record counted once in its window"
        assert all(f["ns"] == [] for f in finals())
        for event in (r["event"] for r in reports.where(mark=mark) if not r["event"]["final"]):
            start, end = (
                datetime.fromisoformat(event["window"][k].replace("Z", "+00:00")).timestamp()
                for k in ("start", "end")
            )
            assert end - start == 2
            assert all(start <= r["kinesis"]["approximateArrivalTimestamp"] < end for r in event["records"])
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_stream_mapping_errors_are_lambdas(served: Served, moto: str) -> None:
    client = served.client()
    arn = stream(aws(moto, "kinesis"), "refused")
    assert error_of(
        client.create_event_source_mapping, EventSourceArn=arn, FunctionName="stream-consumer"
    ) == (
        400,
        "InvalidParameterValueException",
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member "
        "must not be null.",
    )
    status, code, _ = error_of(
        client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName="stream-consumer",
        StartingPosition="AT_TIMESTAMP",
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    ddb = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
    assert error_of(
        client.create_event_source_mapping,
        EventSourceArn=ddb,
        FunctionName="stream-consumer",
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=1,
    ) == (400, "InvalidParameterValueException", f"Unsupported starting position for arn type: {ddb}")
    first = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="stream-consumer", StartingPosition="LATEST", Enabled=False
    )
    status, code, message = error_of(
        client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName="stream-consumer",
        StartingPosition="LATEST",
    )
    assert (status, code) == (409, "ResourceConflictException") and first["UUID"] in message
    assert client.get_event_source_mapping(UUID=first["UUID"])["State"] == "Disabled"
    client.delete_event_source_mapping(UUID=first["UUID"])


def test_a_sigkill_of_serve_mid_stream_loses_no_record(tmp_path: Path, moto: str, reports: Reports) -> None:
    kinesis = aws(moto, "kinesis")
    arn = stream(kinesis, "survivor")
    mark = str(uuid.uuid4())
    total, size = 40, 5
    put(kinesis, "survivor", reports, mark, [{"n": n, "sleep": 0.3} for n in range(total)])
    state = tmp_path / "state"
    server = serve(state, moto)
    try:
        make_function(server, "survivor")
        server.client().create_event_source_mapping(
            EventSourceArn=arn, FunctionName="survivor", StartingPosition="TRIM_HORIZON", BatchSize=size
        )
        assert wait_until(lambda: len(batches(reports, mark)) >= 3), server.log()
    finally:
        server.stop(signal.SIGKILL)
    before = [n for batch in batches(reports, mark) for n in batch]
    assert len(before) < total, "serve was killed mid-stream"
    again = serve(state, moto)
    try:
        wait_until(lambda: {n for b in batches(reports, mark) for n in b} == set(range(total)))
        handed_ns = [n for batch in batches(reports, mark) for n in batch]
        assert set(handed_ns) == set(range(total)), "no record skipped"
        assert len(handed_ns) - total <= size, "only the batch in flight at the kill is handed twice"
        # Each serve handed the shard in order, the second resuming at or before where the first stopped.
        after = handed_ns[len(before) :]
        assert after == sorted(after) and after[0] <= max(before) + 1
    finally:
        assert again.stop() == 0, again.log()


TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: template-orders
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        Clicks:
          Type: Kinesis
          Properties:
            Stream: !Sub "arn:aws:kinesis:${AWS::Region}:${AWS::AccountId}:stream/template-clicks"
            StartingPosition: TRIM_HORIZON
            BatchSize: 3
        OrderChanges:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
"""


def test_a_templates_kinesis_and_dynamodb_events_are_mappings_that_serve_polls(
    tmp_path: Path, moto: str, reports: Reports
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text(HANDLER)
    (project / "template.yaml").write_text(TEMPLATE)
    for folder in (tmp_path, project, project / "src"):
        folder.chmod(0o755)  # pytest makes them 0700; the function runs as sbx_user1051
    kinesis = aws(moto, "kinesis")
    arn = stream(kinesis, "template-clicks")
    mark = str(uuid.uuid4())
    put(kinesis, "template-clicks", reports, mark, [{"n": n} for n in range(5)])
    dynamodb = aws(moto, "dynamodb")
    table_stream = dynamodb.create_table(
        TableName="template-orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    orders_mark = str(uuid.uuid4())
    dynamodb.put_item(
        TableName="template-orders",
        Item={
            "id": {"S": "o1"},
            "n": {"N": "9"},
            "mark": {"S": orders_mark},
            "report_to": {"S": reports.url},
        },
    )
    server = serve(tmp_path / "state", moto, template=project / "template.yaml")
    try:
        listed = server.client().list_event_source_mappings(FunctionName="Consumer")["EventSourceMappings"]
        mapping, orders = sorted(listed, key=lambda m: m["EventSourceArn"].startswith("arn:aws:dynamodb"))
        # The table's stream label is the table's: the template's GetAtt names its latest stream.
        assert orders["EventSourceArn"].startswith(
            "arn:aws:dynamodb:us-east-1:123456789012:table/template-orders/"
        )
        (change,) = reports.wait_for(1, mark=orders_mark)[0]["event"]["records"]
        assert (change["eventName"], change["eventSourceARN"]) == ("INSERT", table_stream)
        assert (mapping["EventSourceArn"], mapping["BatchSize"], mapping["StartingPosition"]) == (
            arn,
            3,
            "TRIM_HORIZON",
        )
        seen = handed(reports, mark, 5)
        assert [n for batch in seen for n in batch] == [0, 1, 2, 3, 4] and seen[0] == [0, 1, 2]
    finally:
        assert server.stop() == 0, server.log()
