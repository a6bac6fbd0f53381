"""The sample app's functions, tested with lambda-emu's pytest plugin: each test invokes a function of
../template.yaml in a Lambda-like container (environments stay warm across tests)."""

import json

import pytest


def test_api_greets_by_path_parameter(lambda_invoke, lambda_events):
    event = lambda_events.api_gateway_proxy(method="GET", path="/hello/ada", resource="/hello/{name}")

    result = lambda_invoke("HelloApiFunction", event).assert_ok()

    assert result.status_code == 200 and result.executed_version == "$LATEST"
    assert result.payload["statusCode"] == 200
    assert json.loads(result.payload["body"])["message"] == "hello, ada!"
    assert "greeting ada" in result.logs  # the function's own output, between START and REPORT


def test_env_override_reaches_the_function(lambda_invoke, lambda_events):
    event = lambda_events.api_gateway_proxy(path="/hello/bob", path_parameters={"name": "bob"})

    result = lambda_invoke("HelloApiFunction", event, env={"GREETING": "bonjour"})

    assert json.loads(result.payload["body"])["message"] == "bonjour, bob!"


@pytest.mark.lambda_emu(memory_size=256)
def test_marker_sets_the_memory_of_every_invocation(lambda_invoke, lambda_events):
    result = lambda_invoke("HelloApiFunction", lambda_events.api_gateway_proxy(path="/hello/x"))

    assert json.loads(result.payload["body"])["memoryLimitInMB"] == 256
    assert result.memory_size_mb == 256


def test_cold_start_runs_init_then_warm_calls_reuse_the_environment(lambda_invoke, lambda_events):
    event = lambda_events.api_gateway_proxy(path="/hello/eve", path_parameters={"name": "eve"})

    cold = lambda_invoke("HelloApiFunction", event, cold=True)
    warm = lambda_invoke("HelloApiFunction", event)

    assert cold.init_duration_ms is not None and cold.init_duration_ms > 0
    assert warm.init_duration_ms is None
    assert json.loads(cold.payload["body"])["invocationsInThisEnvironment"] == 1
    assert json.loads(warm.payload["body"])["invocationsInThisEnvironment"] == 2


def test_uploads_reads_the_keys_of_an_s3_event(lambda_invoke, lambda_events):
    event = lambda_events.s3_put(bucket="photos", key="uploads/summer trip.jpg")

    result = lambda_invoke("UploadFunction", event).assert_ok()

    assert result.payload == {"uploaded": ["uploads/summer trip.jpg"]}


def test_uploads_outside_the_prefix_fail_with_the_functions_error(lambda_invoke, lambda_events):
    result = lambda_invoke("UploadFunction", lambda_events.s3_put(bucket="photos", key="elsewhere/x.jpg"))

    # Lambda's error payload, as the Invoke API returns it (HTTP 200, X-Amz-Function-Error: Unhandled).
    result.assert_error("ValueError", "is not under uploads/")
    assert result.status_code == 200 and result.function_error == "Unhandled"


def test_worker_reports_only_the_failed_messages(lambda_invoke, lambda_events):
    batch = lambda_events.sqs_message(body=[json.dumps({"task": "resize"}), "not json"])  # one record each

    result = lambda_invoke("QueueWorkerFunction", batch).assert_ok()

    failed_id = batch["Records"][1]["messageId"]
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": failed_id}]}
    assert "done: resize" in result.logs
