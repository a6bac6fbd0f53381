"""Event invocations through a live `lambda-emu serve`, with boto3: the 202, Lambda's retries counted
from outside the container, dead letters to the local sink and to a real SQS-compatible server,
destinations, throttles, and nothing lost when the server is killed with SIGKILL."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import time
import uuid
import zipfile

import pytest
from conftest import API_SAMPLES, containers_of, start_server

TEMPLATE = str(API_SAMPLES / "template.yaml")
ROLE = "arn:aws:iam::123456789012:role/lambda-emu-test"
# Reports which version ran, with what configuration, to the loopback sink the event names.
VERSION_REPORTER = """
import json, os, urllib.request
def handler(event, context):
    record = {"request_id": context.aws_request_id, "event": event, "version": context.function_version,
              "tag": os.environ.get("TAG"), "arn": context.invoked_function_arn}
    request = urllib.request.Request(event["report_to"], data=json.dumps(record).encode(), method="POST")
    urllib.request.urlopen(request, timeout=5).close()
    return {"id": event["id"], "report_to": event["report_to"]}
"""


def cli(state_dir, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lambda-emu")
    return subprocess.run(
        [exe, "--state-dir", str(state_dir), *args], capture_output=True, text=True, timeout=timeout
    )


def dead_letters(state_dir, target: str) -> list[dict]:
    done = cli(state_dir, "dlq", "list", target)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def wait_until(check, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def event(client, function: str, payload: dict, **fields: str) -> dict:
    answer = client.invoke(
        FunctionName=function, InvocationType="Event", Payload=json.dumps(payload), **fields
    )
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    return answer


def test_event_answers_202_at_once_and_runs_the_function(served_on, reports):
    marker = str(uuid.uuid4())
    answer = event(served_on.client(), "AttemptsFunction", {"report_to": reports.url, "id": marker})
    request_id = answer["ResponseMetadata"]["RequestId"]
    (record,) = reports.wait_for(1, id=marker)
    assert record["request_id"] == request_id  # the function sees the request id the caller was given


def test_a_failing_event_is_tried_three_times_then_dead_lettered_with_lambdas_attributes(served_on, reports):
    marker = str(uuid.uuid4())
    answer = event(
        served_on.client(), "RetriedFunction", {"report_to": reports.url, "id": marker, "fail": True}
    )
    request_id = answer["ResponseMetadata"]["RequestId"]
    attempts = reports.wait_for(3, id=marker)
    assert len(attempts) == 3
    assert {a["request_id"] for a in attempts} == {request_id}  # retries keep the request id
    letters = wait_until(
        lambda: [
            x for x in dead_letters(served_on.state_dir, "RetriedFunction") if x["requestId"] == request_id
        ]
    )
    assert len(letters) == 1
    letter = letters[0]
    assert letter["target"] == "arn:aws:sqs:us-east-1:123456789012:lambda-emu-dead-letters"
    assert json.loads(letter["body"]) == {"report_to": reports.url, "id": marker, "fail": True}
    attributes = letter["messageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"]["DataType"] == "Number"
    assert attributes["ErrorMessage"]["StringValue"] == f"failing on purpose: {marker}"
    time.sleep(1.5)  # past another retry delay: no fourth attempt
    assert len(reports.where(id=marker)) == 3
    by_queue_name = dead_letters(served_on.state_dir, "lambda-emu-dead-letters")
    assert request_id in {x["requestId"] for x in by_queue_name}


def test_maximum_retry_attempts_and_destinations(served_on, reports):
    client = served_on.client()
    failing = str(uuid.uuid4())
    event(client, "OneRetryFunction", {"report_to": reports.url, "id": failing, "fail": True})
    assert len(reports.wait_for(2, id=failing)) == 2  # MaximumRetryAttempts: 1
    time.sleep(1.5)
    assert len(reports.where(id=failing)) == 2
    # On success, the destination (AttemptsFunction) is invoked with Lambda's record.
    succeeding = str(uuid.uuid4())
    event(client, "OneRetryFunction", {"report_to": reports.url, "id": succeeding})
    records = wait_until(
        lambda: [r for r in reports.records if r["event"].get("requestPayload", {}).get("id") == succeeding]
    )
    assert records, "the on-success destination was not invoked"
    record = records[0]["event"]
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"].endswith(":function:OneRetryFunction:$LATEST")
    assert record["responseContext"]["statusCode"] == 200
    assert record["responsePayload"]["id"] == succeeding


def test_an_event_to_a_version_or_an_alias_runs_that_version(served, reports):
    client = served.client()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("app.py", VERSION_REPORTER)
    client.create_function(
        FunctionName="async-versions",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
        Environment={"Variables": {"TAG": "one"}},
    )
    client.get_waiter("function_active_v2").wait(FunctionName="async-versions", WaiterConfig={"Delay": 1})
    assert client.publish_version(FunctionName="async-versions")["Version"] == "1"
    client.update_function_configuration(
        FunctionName="async-versions", Environment={"Variables": {"TAG": "two"}}
    )
    client.get_waiter("function_updated_v2").wait(FunctionName="async-versions", WaiterConfig={"Delay": 1})
    client.create_alias(FunctionName="async-versions", Name="live", FunctionVersion="1")
    attempts = client.get_function(FunctionName="AttemptsFunction")["Configuration"]["FunctionArn"]
    # On the alias: its events use its own EventInvokeConfig, not the unqualified function's.
    client.put_function_event_invoke_config(
        FunctionName="async-versions",
        Qualifier="live",
        DestinationConfig={"OnSuccess": {"Destination": attempts}},
    )

    marks = {how: str(uuid.uuid4()) for how in ("version", "alias", "unqualified")}
    event(client, "async-versions", {"report_to": reports.url, "id": marks["version"]}, Qualifier="1")
    event(client, "async-versions:live", {"report_to": reports.url, "id": marks["alias"]})
    event(client, "async-versions", {"report_to": reports.url, "id": marks["unqualified"]})
    ran = {how: reports.wait_for(1, id=mark) for how, mark in marks.items()}
    arn = client.get_function(FunctionName="async-versions")["Configuration"]["FunctionArn"]
    assert {how: [(r["version"], r["tag"], r["arn"]) for r in found] for how, found in ran.items()} == {
        "version": [("1", "one", f"{arn}:1")],
        "alias": [("1", "one", f"{arn}:live")],
        "unqualified": [("$LATEST", "two", arn)],
    }
    # The on-success record names the function as it was invoked (Lambda's asynchronous invocation), here
    # through the alias.
    records = reports.wait_for(1, requestPayload={"report_to": reports.url, "id": marks["alias"]})
    assert records, "the on-success destination was not invoked"
    context = records[0]["event"]["requestContext"]
    assert context["functionArn"] == f"{arn}:live"
    assert records[0]["event"]["responseContext"]["executedVersion"] == "1"

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        event(client, "async-versions", {"report_to": reports.url, "id": "never"}, Qualifier="9")


def test_reserved_concurrency_zero_sends_events_straight_to_the_dead_letter_queue(served, reports):
    marker = str(uuid.uuid4())
    answer = event(served.client(), "NeverFunction", {"report_to": reports.url, "id": marker})
    request_id = answer["ResponseMetadata"]["RequestId"]
    letters = wait_until(
        lambda: [x for x in dead_letters(served.state_dir, "NeverFunction") if x["requestId"] == request_id]
    )
    assert letters
    assert reports.where(id=marker) == []  # it never ran


def test_throttled_events_are_retried_until_they_run(served, reports):
    client = served.client()
    client.put_function_concurrency(FunctionName="AttemptsFunction", ReservedConcurrentExecutions=1)
    try:
        markers = [str(uuid.uuid4()) for _ in range(3)]
        for marker in markers:
            event(client, "AttemptsFunction", {"report_to": reports.url, "id": marker, "sleep": 1})
        for marker in markers:
            assert len(reports.wait_for(1, timeout=90, id=marker)) == 1, marker
    finally:
        client.delete_function_concurrency(FunctionName="AttemptsFunction")
    assert dead_letters(served.state_dir, "AttemptsFunction") == []


def test_dead_letters_go_to_a_real_sqs_endpoint_when_one_is_configured(tmp_path, reports):
    import boto3
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        queue_url = sqs.create_queue(QueueName="lambda-emu-dead-letters")["QueueUrl"]
        server = start_server(
            tmp_path / "state", "--async-retry-delays", "0.2,0.2", "--sqs-endpoint-url", endpoint
        )
        try:
            marker = str(uuid.uuid4())
            answer = event(
                server.client(), "RetriedFunction", {"report_to": reports.url, "id": marker, "fail": True}
            )
            request_id = answer["ResponseMetadata"]["RequestId"]
            messages = wait_until(
                lambda: sqs.receive_message(
                    QueueUrl=queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
                ).get("Messages"),
                timeout=60,
            )
            assert messages, "no dead letter reached the SQS queue"
            message = messages[0]
            assert json.loads(message["Body"])["id"] == marker
            attributes = message["MessageAttributes"]
            assert attributes["RequestID"]["StringValue"] == request_id
            assert attributes["ErrorCode"]["DataType"] == "Number"
            assert attributes["ErrorMessage"]["StringValue"] == f"failing on purpose: {marker}"
            assert len(reports.where(id=marker)) == 3
        finally:
            assert server.stop() == 0, server.log()
    finally:
        moto.stop()


def test_sigkill_loses_no_accepted_event(tmp_path, reports):
    state = tmp_path / "state"
    server = start_server(state, "--async-workers", "2")
    count = 300
    client = server.client()
    markers = [f"kill-{n}" for n in range(count)]
    for marker in markers:
        event(client, "AttemptsFunction", {"report_to": reports.url, "id": marker})
    killed_pid = server.process.pid
    server.process.send_signal(signal.SIGKILL)  # some delivered, some in flight, most still queued
    server.process.wait(30)
    delivered_before = {r["event"]["id"] for r in reports.records}
    assert len(delivered_before) < count, "everything was delivered before the kill: the test proves nothing"

    restarted = start_server(state)
    try:
        assert wait_until(lambda: {r["event"]["id"] for r in reports.records} >= set(markers), timeout=240), (
            f"lost: {sorted(set(markers) - {r['event']['id'] for r in reports.records})[:10]}"
        )
        assert wait_until(lambda: containers_of(killed_pid) == [], timeout=30)  # the restart swept them
    finally:
        assert restarted.stop() == 0, restarted.log()


def test_terminal_event_and_dry_run_without_a_server(tmp_path, reports):
    state = tmp_path / "state"
    marker = str(uuid.uuid4())
    payload = json.dumps({"report_to": reports.url, "id": marker, "fail": True})
    done = cli(
        state,
        "invoke",
        "-t",
        TEMPLATE,
        "RetriedFunction",
        "--payload",
        payload,
        "--invocation-type",
        "Event",
        "--async-retry-delays",
        "0.2,0.2",
    )
    assert done.returncode == 0, done.stderr
    assert "Event: accepted (202)" in done.stderr
    assert done.stdout == ""
    assert len(reports.where(id=marker)) == 3  # it returned once every attempt was made
    (letter,) = dead_letters(state, "RetriedFunction")
    assert json.loads(letter["body"])["id"] == marker

    dry = cli(state, "invoke", "-t", TEMPLATE, "AttemptsFunction", "--invocation-type", "DryRun")
    assert dry.returncode == 0, dry.stderr
    assert "DryRun" in dry.stderr and dry.stdout == ""
    bad = cli(
        state, "invoke", "-t", TEMPLATE, "AttemptsFunction", "--invocation-type", "DryRun", "--payload", "["
    )
    assert bad.returncode == 2
    assert "Could not parse request body into json" in bad.stderr
