"""SQS event source mappings against a real SQS endpoint (moto's server on loopback): created through boto3,
batches handed to the function in Lambda's event shape, a successful batch deleted, a failed one back after
the visibility timeout and on to the queue's dead-letter queue, ReportBatchItemFailures deleting all but
the reported messages; the mapping API's answers in Lambda's shape."""

from __future__ import annotations

import json
import subprocess
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
import json, time, urllib.request

def handler(event, context):
    started = time.time()
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    time.sleep(max(b.get("sleep", 0) for b in bodies))
    report = {"mark": bodies[0]["mark"], "ids": [b["n"] for b in bodies], "records": event["Records"],
              "started": started, "ended": time.time()}
    request = urllib.request.Request(bodies[0]["report_to"], data=json.dumps({"event": report}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    if any(b.get("fail") == "all" for b in bodies):
        raise RuntimeError("failing the batch on purpose")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r, b in zip(event["Records"], bodies) if b.get("fail") == "item"]}
"""


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def sqs(moto: str) -> Any:
    import boto3

    return boto3.client(
        "sqs", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


@pytest.fixture(scope="module")
def serve_sqs(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("esm") / "state", "--sqs-endpoint-url", moto)
    client = server.client()
    client.create_function(
        FunctionName="sqs-consumer",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName="sqs-consumer", WaiterConfig={"Delay": 1})
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def send(sqs: Any, url: str, reports: Reports, mark: str, items: list[dict[str, Any]]) -> None:
    for item in items:
        sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"report_to": reports.url, "mark": mark, **item})
        )


def left_in(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def test_a_mapping_hands_batches_in_lambdas_shape_and_deletes_what_succeeded(
    serve_sqs: Served, sqs: Any, reports: Reports
) -> None:
    client = serve_sqs.client()
    url, arn = queue(sqs, "orders")
    mark = str(uuid.uuid4())
    send(sqs, url, reports, mark, [{"n": n} for n in range(5)])
    created = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="sqs-consumer", BatchSize=5)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    created.pop("ResponseMetadata")
    mapping_id, modified = created.pop("UUID"), created.pop("LastModified")
    assert created == {
        "BatchSize": 5,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": arn,
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:sqs-consumer",
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [],
        "EventSourceMappingArn": f"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{mapping_id}",
    }
    assert modified.timestamp() > 0
    assert client.get_event_source_mapping(UUID=mapping_id)["State"] == "Enabled"

    seen = wait_until(
        lambda: (
            sum(len(r["event"]["ids"]) for r in reports.where(mark=mark)) >= 5 and reports.where(mark=mark)
        )
    )
    assert sorted(n for r in seen for n in r["event"]["ids"]) == [0, 1, 2, 3, 4]
    record = seen[0]["event"]["records"][0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        arn,
        "us-east-1",
    )
    assert set(record["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId"}
    assert wait_until(lambda: left_in(sqs, url) == 0), "a successful batch is deleted from the queue"

    listed = client.list_event_source_mappings(FunctionName="sqs-consumer")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping_id]
    disabled = client.update_event_source_mapping(UUID=mapping_id, Enabled=False)
    assert disabled["State"] == "Updating"
    assert client.get_event_source_mapping(UUID=mapping_id)["State"] == "Disabled"
    deleted = client.delete_event_source_mapping(UUID=mapping_id)
    assert deleted["State"] == "Deleting"
    assert error_of(client.get_event_source_mapping, UUID=mapping_id) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )


def test_a_failed_batch_comes_back_and_goes_to_the_dead_letter_queue(
    serve_sqs: Served, sqs: Any, reports: Reports
) -> None:
    client = serve_sqs.client()
    dlq_url, dlq_arn = queue(sqs, "failing-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, arn = queue(sqs, "failing", VisibilityTimeout="1", RedrivePolicy=redrive)
    mark = str(uuid.uuid4())
    send(sqs, url, reports, mark, [{"n": 0, "fail": "all"}])
    mapping = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="sqs-consumer", BatchSize=1)
    try:
        assert len(reports.wait_for(2, mark=mark)) >= 2, "retried after the visibility timeout"
        moved = wait_until(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"))
        assert moved and json.loads(moved[0]["Body"])["mark"] == mark
        counts = [
            r["event"]["records"][0]["attributes"]["ApproximateReceiveCount"]
            for r in reports.where(mark=mark)
        ]
        assert counts[:2] == ["1", "2"]
        # The pollers' own lines: `lambda-emu logs <UUID>` prints what was handed and how it ended.
        shown = subprocess.run(
            ["lambda-emu", "--state-dir", str(serve_sqs.state_dir), "logs", mapping["UUID"]],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        lines = [line.split(" ", 2)[2] for line in shown.stdout.splitlines()]
        assert lines[0] == f"INFO polling {arn} for sqs-consumer, 5 batch(es) at a time"
        assert lines.count("INFO batch of 1, function error, 0 deleted") >= 2
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_report_batch_item_failures_deletes_all_but_the_reported_messages(
    serve_sqs: Served, sqs: Any, reports: Reports
) -> None:
    client = serve_sqs.client()
    url, arn = queue(sqs, "partial", VisibilityTimeout="30")
    mark = str(uuid.uuid4())
    send(sqs, url, reports, mark, [{"n": 0}, {"n": 1, "fail": "item"}, {"n": 2}])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="sqs-consumer",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        assert wait_until(lambda: sum(len(r["event"]["ids"]) for r in reports.where(mark=mark)) >= 3)
        client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        # The reported message stays (invisible for the queue's 30 s); the others are gone.
        assert wait_until(lambda: left_in(sqs, url) == 1)
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_fifo_queue_keeps_each_message_groups_order_across_the_pollers(
    serve_sqs: Served, sqs: Any, reports: Reports
) -> None:
    client = serve_sqs.client()
    url, arn = queue(sqs, "ordered.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    mark = str(uuid.uuid4())
    for n in range(12):  # two groups, interleaved: a0 b1 a2 b3 ...
        body = {"report_to": reports.url, "mark": mark, "n": n, "sleep": 0.2}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), MessageGroupId="ab"[n % 2])
    mapping = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="sqs-consumer", BatchSize=2)
    try:
        seen = wait_until(lambda: sum(len(r["event"]["ids"]) for r in reports.where(mark=mark)) >= 12)
        assert seen, reports.where(mark=mark)
        handed = [n for r in reports.where(mark=mark) for n in r["event"]["ids"]]
        assert sorted(handed) == list(range(12)), "each message once"
        for group in "ab":
            ids = [n for n in handed if "ab"[n % 2] == group]
            assert ids == sorted(ids), f"group {group} handed out of order: {handed}"
        assert wait_until(lambda: left_in(sqs, url) == 0)
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_maximum_concurrency_caps_the_batches_in_flight(
    serve_sqs: Served, sqs: Any, reports: Reports
) -> None:
    client = serve_sqs.client()
    url, arn = queue(sqs, "capped", VisibilityTimeout="60")
    mark = str(uuid.uuid4())
    send(sqs, url, reports, mark, [{"n": n, "sleep": 1.5} for n in range(8)])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="sqs-consumer", BatchSize=1, ScalingConfig={"MaximumConcurrency": 2}
    )
    try:
        done = reports.wait_for(8, timeout=120, mark=mark)
        assert sorted(n for r in done for n in r["event"]["ids"]) == list(range(8))
        spans = [(r["event"]["started"], r["event"]["ended"]) for r in done]
        # The most invocations running at one moment: at every start, how many spans cover it.
        most = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
        assert most == 2, spans
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_throttled_batches_come_back_and_none_is_lost(serve_sqs: Served, sqs: Any, reports: Reports) -> None:
    client = serve_sqs.client()
    client.create_function(
        FunctionName="sqs-one-at-a-time",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
        Timeout=30,
    )
    client.put_function_concurrency(FunctionName="sqs-one-at-a-time", ReservedConcurrentExecutions=1)
    url, arn = queue(sqs, "throttled", VisibilityTimeout="1")
    mark = str(uuid.uuid4())
    send(sqs, url, reports, mark, [{"n": n, "sleep": 0.5} for n in range(6)])
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="sqs-one-at-a-time", BatchSize=1
    )
    try:
        assert wait_until(lambda: left_in(sqs, url) == 0, timeout=120)
        handed = sorted(n for r in reports.where(mark=mark) for n in r["event"]["ids"])
        assert set(handed) == set(range(6)), handed
        shown = subprocess.run(
            [
                "lambda-emu",
                "--state-dir",
                str(serve_sqs.state_dir),
                "logs",
                mapping["UUID"],
                "--filter",
                "throttled (ReservedFunctionConcurrentInvocationLimitExceeded)",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.stdout, "five batches in flight against a reserved concurrency of 1 are throttled"
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])
        client.delete_function(FunctionName="sqs-one-at-a-time")


def test_mapping_errors_are_lambdas(serve_sqs: Served, sqs: Any) -> None:
    client = serve_sqs.client()
    _, arn = queue(sqs, "errors")
    status, code, message = error_of(
        client.create_event_source_mapping, EventSourceArn=arn, FunctionName="no-such-function"
    )
    assert (status, code) == (404, "ResourceNotFoundException") and "no-such-function" in message
    assert error_of(
        client.create_event_source_mapping, EventSourceArn=arn, FunctionName="sqs-consumer", BatchSize=50
    ) == (
        400,
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
    )
    first = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="sqs-consumer", Enabled=False)
    status, code, message = error_of(
        client.create_event_source_mapping, EventSourceArn=arn, FunctionName="sqs-consumer"
    )
    assert (status, code) == (409, "ResourceConflictException") and first["UUID"] in message
    client.delete_event_source_mapping(UUID=first["UUID"])


def test_without_an_sqs_endpoint_a_mapping_is_refused_with_the_option_to_set(tmp_path: Path) -> None:
    server = start_server(tmp_path / "state")
    try:
        status, code, message = error_of(
            server.client().create_event_source_mapping,
            EventSourceArn="arn:aws:sqs:us-east-1:123456789012:q",
            FunctionName="NoOpFunction",
        )
        assert (status, code) == (400, "InvalidParameterValueException") and "SQS endpoint" in message
    finally:
        assert server.stop() == 0, server.log()


def test_a_filter_hands_only_matching_messages_and_deletes_the_others(
    serve_sqs: Served, sqs: Any, reports: Reports
) -> None:
    client = serve_sqs.client()
    url, arn = queue(sqs, "filtered", VisibilityTimeout="30")
    mark = str(uuid.uuid4())
    send(
        sqs,
        url,
        reports,
        mark,
        [{"n": 0, "kind": "order"}, {"n": 1, "kind": "refund"}, {"n": 2, "kind": "order"}],
    )
    pattern = json.dumps({"body": {"kind": ["order"]}})
    mapping = client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="sqs-consumer",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=2,
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
    )
    try:
        assert mapping["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
        assert wait_until(lambda: left_in(sqs, url) == 0), "matching messages are handled, the others deleted"
        handed = sorted(n for r in reports.where(mark=mark) for n in r["event"]["ids"])
        assert handed == [0, 2]
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])
    status, code, _ = error_of(
        client.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName="sqs-consumer",
        FilterCriteria={"Filters": [{"Pattern": "not json"}]},
    )
    assert (status, code) == (400, "InvalidParameterValueException")


def test_a_restart_of_serve_polls_its_mappings_again(
    tmp_path: Path, moto: str, sqs: Any, reports: Reports
) -> None:
    state = tmp_path / "state"
    url, arn = queue(sqs, "across-restarts")
    server = start_server(state, "--sqs-endpoint-url", moto)
    try:
        client = server.client()
        client.create_function(
            FunctionName="restart-consumer",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zipped({"app.py": HANDLER})},
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName="restart-consumer", WaiterConfig={"Delay": 1}
        )
        mapping = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="restart-consumer")
    finally:
        assert server.stop() == 0, server.log()
    mark = str(uuid.uuid4())
    send(sqs, url, reports, mark, [{"n": 7}])  # sent while nothing polls
    again = start_server(state, "--sqs-endpoint-url", moto)
    try:
        assert again.client().get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
        assert reports.wait_for(1, mark=mark), "the mapping was polled again after the restart"
        assert wait_until(lambda: left_in(sqs, url) == 0)
    finally:
        assert again.stop() == 0, again.log()


TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: template-orders
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        FromOrders:
          Type: SQS
          Properties:
            Queue: !GetAtt Orders.Arn
            BatchSize: 3
"""


def test_a_templates_sqs_event_is_a_mapping_that_serve_polls(
    tmp_path: Path, moto: str, sqs: Any, reports: Reports
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text(HANDLER)
    (project / "template.yaml").write_text(TEMPLATE)
    for folder in (tmp_path, project, project / "src"):
        folder.chmod(0o755)  # pytest makes them 0700; the function runs as sbx_user1051
    url, arn = queue(sqs, "template-orders")
    server = start_server(tmp_path / "state", "--sqs-endpoint-url", moto, template=project / "template.yaml")
    try:
        (mapping,) = server.client().list_event_source_mappings(FunctionName="Consumer")[
            "EventSourceMappings"
        ]
        assert (mapping["EventSourceArn"], mapping["BatchSize"], mapping["State"]) == (arn, 3, "Enabled")
        mark = str(uuid.uuid4())
        send(sqs, url, reports, mark, [{"n": n} for n in range(3)])
        assert wait_until(lambda: sum(len(r["event"]["ids"]) for r in reports.where(mark=mark)) >= 3)
        assert wait_until(lambda: left_in(sqs, url) == 0)
    finally:
        assert server.stop() == 0, server.log()
    again = start_server(tmp_path / "state", "--sqs-endpoint-url", moto, template=project / "template.yaml")
    try:  # the same mapping (its UUID) at the next start, not a second one
        listed = again.client().list_event_source_mappings()["EventSourceMappings"]
        assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    finally:
        assert again.stop() == 0, again.log()
