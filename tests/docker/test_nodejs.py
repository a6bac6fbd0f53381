"""The Node.js runtimes in real containers: our runtime client (runtimes/nodejs/index.mjs) behaving as
Lambda's Node.js runtime does, through the emulator facade on Docker."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import replace

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.facade import Emulator
from tests.docker import test_invoke as rig
from tests.timing import assert_timed_out

# The sample-function rig of the Python tests (one emulator per module, the template's functions), shared
# rather than copied: pytest finds fixtures by name in this module.
config, functions, emu = rig.config, rig.functions, rig.emu
body, invoke = rig.body, rig.invoke

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(?P<id>[0-9a-f-]{36})\t(?P<level>[A-Z]+)\t")


@pytest.mark.parametrize(("name", "major"), [("NodeHelloFunction", "20"), ("Node18HelloFunction", "18")])
def test_async_handler_answers_and_logs_like_lambdas_node_runtime(
    emu: Emulator, functions: dict[str, FunctionConfig], name: str, major: str
) -> None:
    result = invoke(emu, functions[name], {"name": "Ada"})
    assert not result.failed
    assert body(result)["message"] == "Hello, Ada!"
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    match = LOG_LINE.match(lines[1])
    assert match and match["id"] == result.request_id and match["level"] == "INFO"
    assert lines[1].endswith("\thello call " + str(body(result)["calls"]))
    assert lines[-2] == f"END RequestId: {result.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")
    assert functions[name].runtime == f"nodejs{major}.x"


def test_node_versions_match_their_runtimes(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    probe = functions["NodeContextFunction"]
    for runtime, major in (("nodejs18.x", "18."), ("nodejs20.x", "20.")):
        function = replace(probe, name=f"NodeVersion{runtime[6:8]}", runtime=runtime)
        seen = body(invoke(emu, function, {"sleep_ms": 0}))
        assert seen["node"].startswith(major)
        assert seen["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"


def test_warm_invoke_keeps_module_state(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    first = invoke(emu, functions["NodeHelloFunction"])
    second = invoke(emu, functions["NodeHelloFunction"])
    assert body(second)["calls"] == body(first)["calls"] + 1
    assert second.init_duration_ms is None


def test_context_has_every_node_field_with_lambdas_types(
    emu: Emulator, functions: dict[str, FunctionConfig], config: EmulatorConfig
) -> None:
    before_ms = time.time() * 1000
    result = invoke(emu, functions["NodeContextFunction"], {"sleep_ms": 100})
    ctx = body(result)
    assert ctx["functionName"] == "NodeContextFunction"
    assert ctx["functionVersion"] == "$LATEST"
    assert ctx["invokedFunctionArn"] == config.function_arn("NodeContextFunction")
    assert (ctx["memoryLimitInMB"], ctx["memoryLimitType"]) == ("256", "string")
    assert ctx["awsRequestId"] == result.request_id
    assert ctx["logGroupName"] == "/aws/lambda/NodeContextFunction"
    assert "[$LATEST]" in ctx["logStreamName"]
    assert ctx["identityType"] == "undefined", "Node leaves identity undefined without a Cognito identity"
    assert ctx["clientContext"] is None
    assert ctx["callbackWaitsForEmptyEventLoop"] is True
    # The real deadline: about Timeout (5 s) at first, then 100 ms less.
    assert 4_000 < ctx["remainingFirst"] <= 5_000
    assert 80 <= ctx["remainingFirst"] - ctx["remainingSecond"] <= 1_000
    assert ctx["nowMs"] >= before_ms
    assert ctx["cwd"] == "/var/task" and ctx["uid"] == 993


def test_client_context_reaches_the_node_context(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    function = functions["NodeContextFunction"]
    encoded = base64.b64encode(json.dumps({"custom": {"tier": "gold"}}).encode()).decode()
    result = emu.invoke(function, emu.invocation(function, b'{"sleep_ms": 0}', client_context_b64=encoded))
    assert body(result)["clientContext"] == {"custom": {"tier": "gold"}}


def test_environment_has_node_path_with_layers_and_hides_our_marker(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    env = body(invoke(emu, functions["NodeContextFunction"], {"sleep_ms": 0}))["env"]
    node_path = env["NODE_PATH"].split(":")
    assert node_path[:2] == ["/opt/nodejs/node20/node_modules", "/opt/nodejs/node_modules"]
    assert node_path[-1] == "/var/task"
    assert env["GREETING"] == "hello" and env["_HANDLER"] == "context_probe.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["TZ"] == ":UTC"
    assert not any(key.startswith("_LAMBDA_EMU") for key in env), "our log marker must stay hidden"


def test_callback_handler_answers_through_the_callback(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    ok = invoke(emu, functions["NodeCallbackFunction"], {"n": 1})
    assert body(ok) == {"via": "callback", "echo": {"n": 1}}
    failed = invoke(emu, functions["NodeCallbackFunction"], {"fail": "please"})
    assert failed.error_type == "Error" and failed.function_error == "Unhandled"
    assert body(failed)["errorMessage"] == "asked to fail: please"


def test_callback_waits_for_the_empty_event_loop_by_default(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["NodeWaitLoopFunction"], {"delay_ms": 600})
    assert body(result)["waited"] is True
    assert result.duration_ms >= 550, "the answer waits for the pending timer"
    assert "\tINFO\ttimer fired" in result.logs, "the timer's output belongs to this invocation"


def test_without_waiting_for_the_loop_the_answer_goes_at_once(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["NodeWaitLoopFunction"], {"delay_ms": 2_000, "wait": False})
    assert body(result)["waited"] is False
    # Waiting for the loop would take the timer's 2 s at least; no margin is asked of the machine below that.
    assert result.duration_ms < 2_000, "the pending timer does not hold the answer back"
    assert "timer fired" not in result.logs


@pytest.mark.parametrize(
    ("name", "module", "kind"),
    [
        ("NodeEsmFunction", "esm.mjs", "esm"),
        ("NodeCommonJsFunction", "commonjs.cjs", "cjs"),
    ],
)
def test_es_modules_and_commonjs_both_load(
    emu: Emulator, functions: dict[str, FunctionConfig], name: str, module: str, kind: str
) -> None:
    result = body(invoke(emu, functions[name], {"x": 1}))
    assert (result["module"], result["kind"], result["echo"]) == (module, kind, {"x": 1})


def test_a_js_file_under_type_module_is_an_es_module(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = body(invoke(emu, functions["NodeTypeModuleFunction"]))
    assert result == {"kind": "esm", "url": "file:///var/task/typemodule/app.js"}


def test_thrown_error_is_reported_in_lambdas_node_shape(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["NodeErrorFunction"], {"amount": 7})
    error = body(result)
    assert result.error_type == "PaymentDeclined" and result.function_error == "Unhandled"
    assert set(error) == {"errorType", "errorMessage", "trace"}
    assert error["errorMessage"] == "card declined for 7"
    assert error["trace"][0] == "PaymentDeclined: card declined for 7"
    assert any("(/var/task/throw_error.js:" in frame and "at check" in frame for frame in error["trace"])
    logged = next(line for line in result.logs.splitlines() if "\tERROR\t" in line)
    assert logged.split("\t")[3:5][0] == "Invoke Error "
    assert json.loads(logged.split("\t", 4)[4])["errorType"] == "PaymentDeclined"
    again = invoke(emu, functions["NodeErrorFunction"])
    assert again.init_duration_ms is None, "a function error does not reset the environment"


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        (
            "NodeImportErrorFunction",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'no-such-dependency'\nRequire stack:\n- /var/task/import_error.js",
        ),
        ("NodeSyntaxErrorFunction", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"),
        (
            "NodeHandlerNotFoundFunction",
            "Runtime.HandlerNotFound",
            "hello.noSuchHandler is undefined or not exported",
        ),
        ("NodeMalformedHandlerFunction", "Runtime.MalformedHandlerName", "Bad handler"),
    ],
)
def test_init_errors_are_reported_with_lambdas_node_types(
    emu: Emulator, functions: dict[str, FunctionConfig], name: str, error_type: str, message: str
) -> None:
    result = invoke(emu, functions[name])
    assert result.error_type == error_type
    error = body(result)
    assert error["errorType"] == error_type
    assert error["errorMessage"].startswith(message)
    assert error["trace"][0].startswith(f"{error_type}: ")


def test_uncaught_exception_is_reported_then_the_runtime_restarts(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["NodeCrashFunction"]
    result = invoke(emu, function)
    assert result.error_type == "TypeError"
    assert body(result)["errorMessage"] == "exploded in a timer"
    assert "\tERROR\tUncaught Exception \t" in result.logs
    # Lambda's Node runtime exits after an uncaught exception (status 129): the next invoke starts anew.
    for _ in range(3):
        again = invoke(emu, function)
        assert again.error_type == "TypeError"
        # A fresh runtime each time: a plain cold start (its Init Duration), not a failed init.
        assert again.init_duration_ms is not None and "INIT_REPORT" not in again.init_logs
    assert not invoke(emu, functions["NodeHelloFunction"]).failed


def test_timeout_kills_the_invocation_and_the_next_invoke_works(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["NodeTimeoutFunction"]
    started = time.monotonic()
    result = invoke(emu, function, {"seconds": 30})
    assert time.monotonic() - started < 10
    assert result.error_type == "Sandbox.Timedout"
    assert_timed_out(body(result)["errorMessage"], 1, result.request_id)
    assert "\tINFO\tgoing to sleep" in result.logs and "Status: timeout" in result.logs
    after = invoke(emu, function, {"seconds": 0})
    assert json.loads(after.payload) == "woke up"
    assert after.init_duration_ms is not None, "after a timeout the environment re-inits"


def test_a_reset_wipes_process_state_that_warm_invokes_keep(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["NodeEnvResetFunction"]
    invoke(emu, function)
    assert body(invoke(emu, function)) == {"envBefore": "yes", "globalBefore": "yes"}
    assert invoke(emu, function, {"seconds": 5}).error_type == "Sandbox.Timedout"
    assert body(invoke(emu, function)) == {"envBefore": None, "globalBefore": None}
