"""The OS-only runtimes in real containers: the function's own bootstrap (sample_functions/provided, a
custom runtime in shell and curl) speaks the Runtime API; our launcher only finds it."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_emu.config import FunctionConfig
from lambda_emu.facade import Emulator
from tests.bootstraps import late_writer_code, late_writer_log
from tests.docker import test_invoke as rig
from tests.timing import assert_timed_out

# The sample-function rig of the Python tests, shared: pytest finds fixtures by name in this module.
config, functions, emu = rig.config, rig.functions, rig.emu
body, invoke = rig.body, rig.invoke


@pytest.mark.parametrize("name", ["ProvidedFunction", "ProvidedAl2Function"])
def test_custom_bootstrap_answers_with_the_invocations_headers(
    emu: Emulator, functions: dict[str, FunctionConfig], name: str
) -> None:
    result = invoke(emu, functions[name], {"a": 1})
    assert not result.failed
    answer = body(result)
    assert answer["event"] == {"a": 1}
    assert answer["requestId"] == result.request_id
    assert answer["handler"] == "function.handler"
    assert answer["executionEnv"] == "", "AWS_EXECUTION_ENV is absent on OS-only runtimes"
    assert answer["traceId"].startswith("Root=1-"), "the bootstrap exports the trace header"
    assert 0 < answer["remainingMs"] <= 2_000, "the deadline header is absolute: Timeout from the start"
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert f"handling {result.request_id}" in lines[1:-2]
    assert lines[-2] == f"END RequestId: {result.request_id}"


def test_remaining_time_decreases_with_the_real_deadline(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    quick = body(invoke(emu, functions["ProvidedFunction"]))
    slept = body(invoke(emu, functions["ProvidedFunction"], {"sleep": 1}))
    assert quick["remainingMs"] - slept["remainingMs"] >= 800


def test_a_failing_handler_is_posted_to_error_and_the_runtime_lives_on(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["ProvidedFunction"]
    invoke(emu, function)
    result = invoke(emu, function, {"fail": True})
    assert result.error_type == "HandlerFailed" and result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": "asked to fail",
        "errorType": "HandlerFailed",
        "stackTrace": ["handler exited with status 3"],
    }
    assert "asked to fail" in result.logs
    after = invoke(emu, function)
    assert not after.failed and after.init_duration_ms is None, "an /error post keeps the environment"


def test_timeout_kills_the_custom_runtime_and_the_next_invoke_works(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["ProvidedFunction"]
    started = time.monotonic()
    result = invoke(emu, function, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert result.error_type == "Sandbox.Timedout"
    assert_timed_out(body(result)["errorMessage"], 2, result.request_id)
    after = invoke(emu, function)
    assert not after.failed and after.init_duration_ms is not None, "after a timeout the runtime re-inits"


def test_an_init_error_posted_by_the_bootstrap_reaches_the_caller(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["ProvidedMissingHandlerFunction"])
    assert result.error_type == "Runtime.HandlerNotFound"
    assert body(result)["errorMessage"] == "Handler 'no_such_function' missing in function.sh"


def _code_copy(samples: Path, tmp_path: Path) -> Path:
    code = tmp_path / "code"
    shutil.copytree(samples / "provided", code)
    return code


def test_code_without_a_bootstrap_is_an_invalid_entrypoint(
    emu: Emulator, functions: dict[str, FunctionConfig], samples: Path, tmp_path: Path
) -> None:
    code = _code_copy(samples, tmp_path)
    (code / "bootstrap").unlink()
    function = replace(functions["ProvidedFunction"], name="ProvidedNoBootstrap", code_path=code)
    result = invoke(emu, function)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    # As Lambda's platform answers: "RequestId: <id> Error: ...", and the same two lines after REPORT.
    message = (
        f"RequestId: {result.request_id} Error: "
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )
    assert body(result)["errorMessage"] == message
    assert result.logs.startswith(f"START RequestId: {result.request_id} ")
    assert result.logs.endswith(f"{message}\nRuntime.InvalidEntrypoint\n")


def test_a_bootstrap_that_is_not_executable_is_an_invalid_entrypoint(
    emu: Emulator, functions: dict[str, FunctionConfig], samples: Path, tmp_path: Path
) -> None:
    code = _code_copy(samples, tmp_path)
    (code / "bootstrap").chmod(0o644)
    function = replace(functions["ProvidedFunction"], name="ProvidedNotExecutable", code_path=code)
    result = invoke(emu, function)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    message = f"RequestId: {result.request_id} Error: fork/exec /var/task/bootstrap: permission denied"
    assert body(result)["errorMessage"] == message


def test_what_a_bootstrap_writes_after_its_response_is_in_that_invocations_log(
    emu: Emulator, functions: dict[str, FunctionConfig], tmp_path: Path
) -> None:
    """As in Lambda, whose invoke phase ends when the runtime asks for its next event: output between the
    response and that GET /next belongs to the invocation, before its END, and not to the next one."""
    code = late_writer_code(tmp_path / "code")
    function = replace(functions["ProvidedFunction"], name="ProvidedLateWriter", code_path=code)
    for n in range(3):
        result = invoke(emu, function, {"n": n})
        assert body(result) == {"n": n}
        assert result.logs.splitlines()[:-1] == late_writer_log(result.request_id)
