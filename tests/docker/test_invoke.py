"""Invocations in real containers: the sample functions through the emulator facade on Docker."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import chosen_backend, docker_only

from lambda_emu.cleanup import FUNCTION_LABEL, OWNER_LABEL
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers import LABEL, LABEL_VALUE
from lambda_emu.containers.images import DockerImages
from lambda_emu.engine.environment import EnvState
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder, get_runtime
from lambda_emu.models import InvocationResult
from lambda_emu.template import load_template
from tests.timing import assert_timed_out

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def functions(config: EmulatorConfig) -> dict[str, FunctionConfig]:
    return dict(load_template(SAMPLES / "template.yaml", emulator=config).functions)


@pytest.fixture(scope="module")
def emu(config: EmulatorConfig) -> Iterator[Emulator]:
    lines: list[str] = []
    with Emulator(
        config, backend=chosen_backend(), images=ImageBuilder(DockerImages()), sink=lines.append
    ) as e:
        yield e


def invoke(emu: Emulator, function: FunctionConfig, event: object = None) -> InvocationResult:
    payload = json.dumps(event if event is not None else {}).encode()
    return emu.invoke(function, emu.invocation(function, payload))


def body(result: InvocationResult) -> dict:  # type: ignore[type-arg]
    value = json.loads(result.payload)
    assert isinstance(value, dict)
    return value


def test_echo_returns_the_event_and_frames_the_log(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["EchoFunction"], {"hello": "world"})
    assert not result.failed
    assert body(result)["event"] == {"hello": "world"}
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert "echo call" in lines[1]
    assert lines[-2] == f"END RequestId: {result.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")


def test_second_invoke_is_warm_in_the_same_environment(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    first = invoke(emu, functions["EchoFunction"])
    second = invoke(emu, functions["EchoFunction"])
    assert body(second)["calls"] == body(first)["calls"] + 1
    assert second.init_duration_ms is None
    assert "Init Duration" not in second.logs


def test_cold_start_reports_init_duration(
    config: EmulatorConfig, functions: dict[str, FunctionConfig]
) -> None:
    with Emulator(config, backend=chosen_backend(), images=ImageBuilder(DockerImages())) as fresh:
        result = invoke(fresh, functions["HelloFunction"], {"name": "x"})
    assert result.init_duration_ms is not None and 0 < result.init_duration_ms < 10_000
    assert "\tInit Duration: " in result.logs
    assert result.billed_duration_ms >= int(result.duration_ms + result.init_duration_ms)


def test_context_has_every_attribute_with_lambdas_types(
    emu: Emulator, functions: dict[str, FunctionConfig], config: EmulatorConfig
) -> None:
    function = functions["ContextFunction"]
    before_ms = time.time() * 1000
    result = invoke(emu, function, {"sleep_ms": 100})
    ctx = body(result)
    assert ctx["function_name"] == "ContextFunction"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == config.function_arn("ContextFunction")
    assert (ctx["memory_limit_in_mb"], ctx["memory_limit_type"]) == ("256", "str")
    assert ctx["aws_request_id"] == result.request_id
    assert ctx["log_group_name"] == "/aws/lambda/ContextFunction"
    assert "[$LATEST]" in ctx["log_stream_name"]
    assert ctx["identity"] == {"cognito_identity_id": None, "cognito_identity_pool_id": None}
    assert ctx["client_context"] is None
    # Remaining time follows the real deadline: about Timeout (5 s) at first, then 100 ms less.
    assert 4_000 < ctx["remaining_first"] <= 5_000
    assert 80 <= ctx["remaining_first"] - ctx["remaining_second"] <= 1_000
    assert ctx["now_ms"] >= before_ms


def test_each_invocation_gets_a_new_request_id(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    ids = {
        body(invoke(emu, functions["ContextFunction"], {"sleep_ms": 0}))["aws_request_id"] for _ in range(3)
    }
    assert len(ids) == 3


def test_client_context_reaches_the_context(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    import base64

    function = functions["ContextFunction"]
    encoded = base64.b64encode(json.dumps({"custom": {"tier": "gold"}}).encode()).decode()
    result = emu.invoke(function, emu.invocation(function, b'{"sleep_ms": 0}', client_context_b64=encoded))
    assert body(result)["client_context"] == {"custom": {"tier": "gold"}}


def test_environment_has_user_and_reserved_variables_and_nothing_of_the_host(
    emu: Emulator, functions: dict[str, FunctionConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST_ONLY_MARKER", "must-not-leak")
    env = body(invoke(emu, functions["EnvFunction"]))
    assert env["GREETING"] == "hello" and env["STAGE"] == "dev"
    assert env["FUNCTION_ARN_SEEN"] == "arn:aws:lambda:us-east-1:123456789012:function:EnvFunction"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EnvFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["_HANDLER"] == "env_dump.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert "HOST_ONLY_MARKER" not in env
    assert not any(key.startswith("_LAMBDA_EMU") for key in env), "our log marker must stay hidden"


def test_unhandled_exception_is_reported_in_lambdas_shape(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["RaiseFunction"], {"amount": 7})
    error = body(result)
    assert result.error_type == "PaymentDeclined" and result.function_error == "Unhandled"
    assert error["errorMessage"] == "card declined for 7"
    assert error["errorType"] == "PaymentDeclined"
    assert any("raise_error.py" in frame and "in check" in frame for frame in error["stackTrace"])
    assert "[ERROR] PaymentDeclined: card declined for 7" in result.logs


def test_environment_survives_a_function_error(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    invoke(emu, functions["RaiseFunction"])
    again = invoke(emu, functions["RaiseFunction"])
    assert again.init_duration_ms is None, "a handled function error does not reset the environment"


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        (
            "ImportErrorFunction",
            "Runtime.ImportModuleError",
            "Unable to import module 'import_error': No module named 'no_such_dependency'",
        ),
        ("SyntaxErrorFunction", "Runtime.UserCodeSyntaxError", "Syntax error in module 'syntax_error'"),
        (
            "HandlerNotFoundFunction",
            "Runtime.HandlerNotFound",
            "Handler 'no_such_handler' missing on module 'echo'",
        ),
    ],
)
def test_init_errors_are_reported_with_lambdas_types(
    emu: Emulator, functions: dict[str, FunctionConfig], name: str, error_type: str, message: str
) -> None:
    result = invoke(emu, functions[name])
    assert result.error_type == error_type
    assert body(result)["errorMessage"].startswith(message)


def test_unserializable_result_is_a_marshal_error(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["UnserializableFunction"])
    assert result.error_type == "Runtime.MarshalError"
    assert "Unable to marshal response" in body(result)["errorMessage"]


def test_runtime_exit_is_an_exit_error_and_the_next_invoke_works(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["ExitFunction"], {"code": 3})
    assert result.error_type == "Runtime.ExitError"
    assert body(result)["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3"
    )
    assert "Runtime.ExitError" in result.logs
    echo = invoke(emu, functions["EchoFunction"])
    assert not echo.failed


def test_timeout_kills_the_invocation_and_the_environment_recovers(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["TimeoutFunction"]
    started = time.monotonic()
    result = invoke(emu, function, {"seconds": 30})
    assert time.monotonic() - started < 10
    assert result.error_type == "Sandbox.Timedout"
    assert_timed_out(body(result)["errorMessage"], 1, result.request_id)
    assert_timed_out(result.logs, 1)
    assert "Status: timeout" in result.logs
    after = invoke(emu, function, {"seconds": 0})
    assert json.loads(after.payload) == "woke up"
    assert after.init_duration_ms is not None, "after a timeout the environment re-inits"


def test_memory_limit_is_hard_and_an_oom_is_reported_and_recovered(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["MemoryFunction"]
    fits = invoke(emu, function, {"mb": 40})
    assert body(fits) == {"allocated_mb": 40}
    assert 40 <= fits.max_memory_used_mb <= 128
    result = invoke(emu, function, {"mb": 400})
    assert result.error_type == "Runtime.OutOfMemory"
    assert body(result)["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert not invoke(emu, function, {"mb": 1}).failed


def test_var_task_is_read_only_and_tmp_is_writable_and_kept_across_warm_invokes(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    first = body(invoke(emu, functions["FilesystemFunction"]))
    second = body(invoke(emu, functions["FilesystemFunction"]))
    assert first["task_write"] == "Read-only file system"
    assert second["tmp_writes"] == first["tmp_writes"] + 1
    assert first["uid"] != 0, "functions run as a non-root user, as in Lambda"


def test_python313_runtime(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    result = invoke(emu, functions["Python313Function"], {"v": 1})
    assert body(result)["python"] == "3.13"


@docker_only
def test_containers_are_labelled_and_removed_on_close(
    config: EmulatorConfig, functions: dict[str, FunctionConfig]
) -> None:
    with Emulator(config, backend=chosen_backend(), images=ImageBuilder(DockerImages())) as fresh:
        invoke(fresh, functions["EchoFunction"])
        env = fresh.environments()[0]
        assert env.state is EnvState.READY
        assert env.container_id in _containers(f"{FUNCTION_LABEL}=EchoFunction")
        labels = json.loads(
            subprocess.run(
                ["docker", "inspect", env.container_id, "--format", "{{json .Config.Labels}}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert labels[LABEL] == LABEL_VALUE and OWNER_LABEL in labels
    assert env.state is EnvState.CLOSED
    assert env.container_id not in _containers(f"{LABEL}={LABEL_VALUE}")


@docker_only
def test_leftovers_of_a_dead_process_are_removed_on_start_and_others_untouched(
    config: EmulatorConfig,
) -> None:
    image = ImageBuilder(DockerImages()).ensure(get_runtime("python3.11"))
    dead = subprocess.run(
        [
            "docker",
            "create",
            "--network",
            "host",
            "--label",
            f"{LABEL}={LABEL_VALUE}",
            "--label",
            f"{OWNER_LABEL}=999999:1.000",
            image,
            "true",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    foreign = subprocess.run(
        ["docker", "create", "--network", "host", image, "true"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        Emulator(config, backend=chosen_backend(), images=ImageBuilder(DockerImages())).close()
        remaining = subprocess.run(
            ["docker", "ps", "-aq", "--no-trunc"], capture_output=True, text=True
        ).stdout
        assert dead not in remaining
        assert foreign in remaining, "containers without our label are never touched"
    finally:
        subprocess.run(["docker", "rm", "-f", dead, foreign], capture_output=True)


def _containers(label: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()
