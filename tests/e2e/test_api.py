"""The Lambda API of `lambda-emu serve`, driven by boto3 as users drive it: invocation types, logs,
qualifiers, errors in Lambda's shapes, concurrency and throttling, shutdown."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from conftest import API_SAMPLES, containers_of, start_server

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"


def error_of(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_request_response_returns_the_payload_status_and_executed_version(served_on):
    answer = served_on.client().invoke(FunctionName="AttemptsFunction", Payload=json.dumps({"id": 7}))
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["id"] == 7


def test_function_error_sets_x_amz_function_error_and_returns_the_error_payload(served_on):
    answer = served_on.client().invoke(
        FunctionName="AttemptsFunction", Payload=json.dumps({"fail": True, "id": 1})
    )
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "failing on purpose: 1"


def test_tail_returns_the_last_4_kb_of_this_invocations_log(served_on):
    client = served_on.client()
    short = client.invoke(FunctionName="AttemptsFunction", LogType="Tail", Payload=b'{"lines": 2}')
    request_id = short["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(short["LogResult"]).decode()
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert log.count(f"line of output for {request_id}") == 2
    assert f"END RequestId: {request_id}" in log
    assert f"REPORT RequestId: {request_id}\tDuration: " in log

    long = client.invoke(FunctionName="AttemptsFunction", LogType="Tail", Payload=b'{"lines": 500}')
    tail = base64.b64decode(long["LogResult"])
    assert len(tail) == 4096
    assert tail.decode(errors="replace").rstrip().splitlines()[-1].startswith("REPORT RequestId: ")
    assert "LogResult" not in client.invoke(FunctionName="AttemptsFunction")


def test_names_partial_and_full_arns_and_the_latest_qualifier_all_find_the_function(served):
    client = served.client()
    for name, qualifier in [
        ("AttemptsFunction", None),
        ("123456789012:function:AttemptsFunction", None),
        (f"{ACCOUNT_ARN}:AttemptsFunction", None),
        (f"{ACCOUNT_ARN}:AttemptsFunction:$LATEST", None),
        ("AttemptsFunction", "$LATEST"),
    ]:
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        assert client.invoke(FunctionName=name, **kwargs)["StatusCode"] == 200, name


def test_unknown_function_and_unknown_version_are_resource_not_found_404(served):
    client = served.client()
    missing = error_of(lambda: client.invoke(FunctionName="NoSuchFunction"))
    assert missing.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert f"{ACCOUNT_ARN}:NoSuchFunction" in missing.response["Error"]["Message"]
    version = error_of(lambda: client.invoke(FunctionName="AttemptsFunction", Qualifier="7"))
    assert version.response["Error"]["Code"] == "ResourceNotFoundException"


def test_bad_json_is_invalid_request_content_400_and_6_mb_is_413(served):
    client = served.client()
    bad = error_of(lambda: client.invoke(FunctionName="AttemptsFunction", Payload=b"{nope"))
    assert bad.response["Error"]["Code"] == "InvalidRequestContentException"
    assert bad.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    big = json.dumps({"blob": "x" * (6 * 1024 * 1024)}).encode()
    too_big = error_of(lambda: client.invoke(FunctionName="AttemptsFunction", Payload=big))
    assert too_big.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert too_big.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_client_context_reaches_the_function(served):
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t-1"}}).encode()).decode()
    answer = served.client().invoke(FunctionName="AttemptsFunction", ClientContext=context)
    assert json.loads(answer["Payload"].read())["custom"] == {"tenant": "t-1"}


def test_dry_run_answers_204_without_running_and_checks_the_call(served):
    client = served.client()
    before = len(containers_of(served.process.pid))
    answer = client.invoke(
        FunctionName="SleeperFunction", InvocationType="DryRun", Payload=b'{"seconds": 30}'
    )
    assert answer["StatusCode"] == 204
    assert answer["Payload"].read() == b""
    assert len(containers_of(served.process.pid)) == before
    assert (
        error_of(lambda: client.invoke(FunctionName="Nope", InvocationType="DryRun")).response["Error"][
            "Code"
        ]
        == "ResourceNotFoundException"
    )
    bad = error_of(lambda: client.invoke(FunctionName="NoOpFunction", InvocationType="DryRun", Payload=b"["))
    assert bad.response["Error"]["Code"] == "InvalidRequestContentException"


def test_unknown_invocation_type_is_a_validation_error(served):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{served.url}/2015-03-31/functions/NoOpFunction/invocations",
        data=b"{}",
        headers={"X-Amz-Invocation-Type": "Sometimes"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-ErrorType"] == "ValidationException"


def test_concurrent_calls_scale_out_to_more_environments(served_on):
    client = served_on.client(max_pool_connections=4)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: client.invoke(FunctionName="SleeperFunction", Payload=b'{"seconds": 1.5}'), range(4)
            )
        )
    environments = {json.loads(a["Payload"].read())["environment"] for a in answers}
    assert len(environments) == 4  # none waited for another's environment
    again = client.invoke(FunctionName="SleeperFunction", Payload=b'{"seconds": 0}')
    assert json.loads(again["Payload"].read())["environment"] in environments  # warm reuse


def test_reserved_concurrency_zero_throttles_every_call_with_lambdas_reason(served):
    throttled = error_of(lambda: served.client().invoke(FunctionName="NeverFunction"))
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttled.response["Error"]["Code"] == "TooManyRequestsException"
    assert throttled.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_reserved_concurrency_of_one_throttles_the_second_concurrent_call(served):
    client = served.client(max_pool_connections=2)
    client.invoke(
        FunctionName="OneAtATimeFunction", Payload=b'{"seconds": 0}'
    )  # warm: both calls now overlap

    def call(_: int) -> object:
        try:
            return client.invoke(FunctionName="OneAtATimeFunction", Payload=b'{"seconds": 3}')["StatusCode"]
        except ClientError as exc:
            return exc

    # Whichever call takes the one unit of concurrency first, the other is throttled.
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(call, range(2)))
    assert 200 in outcomes, outcomes
    throttled = [o for o in outcomes if isinstance(o, ClientError)]
    assert len(throttled) == 1, "the second concurrent call was never throttled"
    assert throttled[0].response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_a_call_made_the_moment_the_last_one_answered_finds_its_environment_and_concurrency_free(served):
    """The server answers as soon as the function has, then writes END and REPORT and takes the runtime's
    next /next. A caller that invokes again at once, on a new connection as many clients do, is neither
    throttled by that bookkeeping (reserved concurrency 1) nor sent to a second, cold environment."""
    host, port = served.url.removeprefix("http://").split(":")
    environments = set()
    for _ in range(30):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("POST", "/2015-03-31/functions/OneAtATimeFunction/invocations", b'{"seconds": 0}')
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200, body
        environments.add(json.loads(body)["environment"])
    assert len(environments) == 1


def test_function_concurrency_operations_round_trip(served):
    client = served.client()
    put = client.put_function_concurrency(FunctionName="SleeperFunction", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert (
        client.get_function_concurrency(FunctionName="SleeperFunction")["ReservedConcurrentExecutions"] == 5
    )
    client.put_function_concurrency(FunctionName="SleeperFunction", ReservedConcurrentExecutions=0)
    throttled = error_of(lambda: client.invoke(FunctionName="SleeperFunction"))
    assert throttled.response["Error"]["Code"] == "TooManyRequestsException"
    client.delete_function_concurrency(FunctionName="SleeperFunction")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName="SleeperFunction"
    )
    assert client.invoke(FunctionName="SleeperFunction")["StatusCode"] == 200
    too_much = error_of(
        lambda: client.put_function_concurrency(
            FunctionName="SleeperFunction", ReservedConcurrentExecutions=999
        )
    )
    assert "UnreservedConcurrentExecution below its minimum value of [100]" in str(too_much)


def test_event_invoke_config_operations_round_trip(served):
    client = served.client()
    missing = error_of(lambda: client.get_function_event_invoke_config(FunctionName="NoOpFunction"))
    assert missing.response["Error"]["Code"] == "ResourceNotFoundException"
    put = client.put_function_event_invoke_config(
        FunctionName="NoOpFunction", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=300
    )
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 300)
    assert put["FunctionArn"] == f"{ACCOUNT_ARN}:NoOpFunction:$LATEST"
    updated = client.update_function_event_invoke_config(FunctionName="NoOpFunction", MaximumRetryAttempts=0)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 300)
    replaced = client.put_function_event_invoke_config(FunctionName="NoOpFunction", MaximumRetryAttempts=2)
    assert replaced["MaximumEventAgeInSeconds"] == 21600  # PUT replaces the whole configuration
    invalid = error_of(
        lambda: client.put_function_event_invoke_config(FunctionName="NoOpFunction", MaximumRetryAttempts=5)
    )
    assert invalid.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    client.delete_function_event_invoke_config(FunctionName="NoOpFunction")
    gone = error_of(lambda: client.get_function_event_invoke_config(FunctionName="NoOpFunction"))
    assert gone.response["Error"]["Code"] == "ResourceNotFoundException"


def test_terminal_invoke_goes_through_the_running_server(served):
    exe = shutil.which("lambda-emu")
    template = str(API_SAMPLES / "template.yaml")
    state = str(served.state_dir)
    command = [
        exe,
        "--state-dir",
        state,
        "invoke",
        "-t",
        template,
        "AttemptsFunction",
        "--payload",
        '{"id": 3}',
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "invoking through the server" in first.stderr
    assert "START RequestId: " in first.stderr and "REPORT RequestId: " in first.stderr
    # Both calls ran in the server's warm environments: the same one, since they did not overlap.
    assert json.loads(first.stdout)["environment"] == json.loads(second.stdout)["environment"]
    failed = subprocess.run([*command[:-1], '{"fail": true}'], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "RuntimeError"
    here = subprocess.run([*command, "--no-server"], capture_output=True, text=True, timeout=120)
    assert here.returncode == 0, here.stderr
    assert "invoking through the server" not in here.stderr


def test_idle_environments_are_stopped_after_the_keep_alive(tmp_path):
    server = start_server(tmp_path / "state", "--keep-alive", "1")
    try:
        server.client().invoke(FunctionName="NoOpFunction")
        assert len(containers_of(server.process.pid)) == 1
        deadline = time.monotonic() + 30
        while containers_of(server.process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert containers_of(server.process.pid) == []
        assert server.client().invoke(FunctionName="NoOpFunction")["StatusCode"] == 200  # a cold start again
    finally:
        assert server.stop() == 0, server.log()


def test_sigterm_lets_the_in_flight_invocation_finish_then_removes_everything(tmp_path):
    server = start_server(tmp_path / "state")
    pid = server.process.pid
    answers = []
    call = threading.Thread(
        target=lambda: answers.append(
            server.client().invoke(FunctionName="SleeperFunction", Payload=b'{"seconds": 3}')
        )
    )
    call.start()
    deadline = time.monotonic() + 60
    while not containers_of(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the call is running in its environment
    server.process.send_signal(signal.SIGTERM)
    call.join(120)
    assert server.process.wait(60) == 0, server.log()
    assert answers and answers[0]["StatusCode"] == 200
    assert containers_of(pid) == []
    assert "stopped" in server.log()
