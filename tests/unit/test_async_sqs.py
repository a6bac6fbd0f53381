"""Dead letters and destination records delivered to real SQS queues and SNS topics, on a moto server
listening on 127.0.0.1, read back with boto3 as a user would."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lambda_emu.async_invoke import EventDispatcher, EventQueue, Pacing, RetryDelays, Sinks, read_dead_letters
from lambda_emu.config import AsyncConfig
from lambda_emu.errors import ConfigError
from lambda_emu.models import InvocationResult, error_body

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
WAIT = 30.0


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def new_queue(endpoint: str, name: str) -> tuple[str, str]:
    sqs = client(endpoint, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_one(endpoint: str, url: str) -> dict[str, Any]:
    sqs = client(endpoint, "sqs")
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", [])
        if messages:
            assert len(messages) == 1, messages
            return dict(messages[0])
    raise AssertionError(f"nothing arrived in {url}")


def succeeding(name: str, qualifier: str | None, payload: bytes, request_id: str) -> InvocationResult:
    return InvocationResult(request_id, b'{"ok": true}')


def failing(name: str, qualifier: str | None, payload: bytes, request_id: str) -> InvocationResult:
    return InvocationResult(request_id, error_body("KeyError", "'order_id'"), "KeyError")


def run_one_failing_event(
    state: Path, sinks: Sinks, config: AsyncConfig, payload: bytes, request_id: str
) -> None:
    queue = EventQueue(state / "events.sqlite3")
    engine = EventDispatcher(
        queue, failing, lambda name, qualifier: config, sinks, pacing=Pacing(delays=RetryDelays((0.05,)))
    )
    engine.start()
    try:
        engine.accept("orders", None, payload, request_id)
        assert engine.wait_idle(WAIT)
    finally:
        assert engine.stop(WAIT)
        queue.close()


def test_a_dead_letter_reaches_an_sqs_queue_with_lambdas_attributes(tmp_path: Path, endpoint: str) -> None:
    dlq_url, dlq_arn = new_queue(endpoint, "orders-dlq")
    failure_url, failure_arn = new_queue(endpoint, "orders-failures")
    sinks = Sinks(tmp_path, endpoint_url=endpoint, region=REGION, credentials=CREDENTIALS)
    config = AsyncConfig(maximum_retry_attempts=1, dead_letter_target=dlq_arn, on_failure=failure_arn)
    payload = b'{"order": {"id": 42, "items": ["a", "b"]}}'

    run_one_failing_event(tmp_path, sinks, config, payload, "11111111-2222-3333-4444-555555555555")

    letter = receive_one(endpoint, dlq_url)
    assert letter["Body"] == payload.decode()  # the event, unchanged
    attributes = letter["MessageAttributes"]
    assert attributes["RequestID"] == {
        "StringValue": "11111111-2222-3333-4444-555555555555",
        "DataType": "String",
    }
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"] == {"StringValue": "'order_id'", "DataType": "String"}

    record = json.loads(receive_one(endpoint, failure_url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(":function:orders:$LATEST")
    assert record["requestPayload"] == json.loads(payload)
    assert record["responsePayload"] == {"errorMessage": "'order_id'", "errorType": "KeyError"}

    (kept,) = read_dead_letters(tmp_path, "orders")
    assert kept["deliveredTo"] == "sqs" and kept["deliveryError"] is None


def test_a_dead_letter_reaches_an_sns_topic(tmp_path: Path, endpoint: str) -> None:
    sns = client(endpoint, "sns")
    topic_arn = sns.create_topic(Name="orders-dlq-topic")["TopicArn"]
    url, queue_arn = new_queue(endpoint, "orders-topic-subscriber")
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    sinks = Sinks(tmp_path, endpoint_url=endpoint, region=REGION, credentials=CREDENTIALS)
    config = AsyncConfig(maximum_retry_attempts=0, dead_letter_target=topic_arn)

    run_one_failing_event(tmp_path, sinks, config, b'{"n": 1}', "req-sns")

    message = receive_one(endpoint, url)
    assert message["Body"] == '{"n": 1}'
    assert message["MessageAttributes"]["RequestID"]["StringValue"] == "req-sns"
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "200"


def test_a_success_record_reaches_an_eventbridge_bus(tmp_path: Path, endpoint: str) -> None:
    events = client(endpoint, "events")
    bus_arn = events.create_event_bus(Name="results")["EventBusArn"]
    url, queue_arn = new_queue(endpoint, "results-subscriber")
    events.put_rule(
        Name="from-lambda", EventBusName="results", EventPattern=json.dumps({"source": ["lambda"]})
    )
    events.put_targets(
        Rule="from-lambda", EventBusName="results", Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    sinks = Sinks(tmp_path, endpoint_url=endpoint, region=REGION, credentials=CREDENTIALS)
    queue = EventQueue(tmp_path / "events.sqlite3")
    engine = EventDispatcher(
        queue, succeeding, lambda name, qualifier: AsyncConfig(on_success=bus_arn), sinks
    )
    with engine:
        engine.accept("orders", None, b'{"n": 3}', "req-eb")
        assert engine.wait_idle(WAIT)
    queue.close()

    event = json.loads(receive_one(endpoint, url)["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert event["resources"] == [f"arn:aws:lambda:{REGION}:123456789012:function:orders:$LATEST", bus_arn]
    assert event["detail"]["requestContext"]["condition"] == "Success"
    assert event["detail"]["requestPayload"] == {"n": 3}
    assert event["detail"]["responsePayload"] == {"ok": True}


def test_a_dead_letter_to_a_missing_queue_is_logged_and_dropped(
    tmp_path: Path, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    sinks = Sinks(tmp_path, endpoint_url=endpoint, region=REGION, credentials=CREDENTIALS)
    config = AsyncConfig(
        maximum_retry_attempts=0, dead_letter_target=f"arn:aws:sqs:{REGION}:123456789012:nowhere"
    )

    run_one_failing_event(tmp_path, sinks, config, b"{}", "req-lost")

    (kept,) = read_dead_letters(tmp_path, "orders")
    assert kept["deliveredTo"] is None
    assert "NonExistentQueue" in kept["deliveryError"] or "does not exist" in kept["deliveryError"]
    assert any("not delivered" in r.getMessage() for r in caplog.records)


def test_an_endpoint_without_boto3_is_a_clear_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if the `aws` extra were not installed
    with pytest.raises(ConfigError) as info:
        Sinks(tmp_path, endpoint_url="http://127.0.0.1:1")
    assert "boto3" in info.value.message
    assert info.value.hint and "lambda-emu[aws]" in info.value.hint
