"""Every configured limit enforced in real containers: CPU share, /tmp size, memory, the sandbox,
payload sizes, and Lambda's behaviour on init failure."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from backends import chosen_backend

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.images import DockerImages
from lambda_emu.errors import LambdaEmuError, api_code
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder
from lambda_emu.models import InvocationResult
from lambda_emu.template import load_template

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def functions(config: EmulatorConfig) -> dict[str, FunctionConfig]:
    return dict(load_template(SAMPLES / "template.yaml", emulator=config).functions)


@pytest.fixture(scope="module")
def emu(config: EmulatorConfig) -> Iterator[Emulator]:
    with Emulator(config, backend=chosen_backend(), images=ImageBuilder(DockerImages())) as e:
        yield e


def invoke(emu: Emulator, function: FunctionConfig, event: object = None) -> InvocationResult:
    return emu.invoke(function, emu.invocation(function, json.dumps(event or {}).encode()))


def body(result: InvocationResult) -> dict:  # type: ignore[type-arg]
    value = json.loads(result.payload)
    assert isinstance(value, dict), result.payload[:300]
    return value


def test_sandbox_is_lambdas(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    probe = body(invoke(emu, functions["SandboxProbeFunction"]))
    assert (probe["uid"], probe["gid"]) == (993, 990)
    assert int(probe["cap_eff"], 16) == 0, "no capabilities"
    assert probe["no_new_privs"] == "1"
    assert probe["nofile"] == [1024, 1024]
    assert probe["pids_max"] == "1024"
    assert probe["root_write"] == "Read-only file system"


@pytest.mark.parametrize("memory", [128, 256, 1769])
def test_cpu_quota_is_proportional_to_memory_during_invokes(
    emu: Emulator, functions: dict[str, FunctionConfig], memory: int
) -> None:
    probe = body(invoke(emu, replace(functions["SandboxProbeFunction"], memory_size=memory)))
    vcpus = min(os.cpu_count() or 1, memory / 1769)
    assert int(probe["cpu_quota_us"]) == max(1000, int(vcpus * 100_000))
    assert int(probe["cpu_period_us"]) == 100_000
    assert int(probe["cpu_shares"]) == max(2, round(1024 * memory / 1769))


def test_cpu_limit_switch_turns_the_quota_off(
    config: EmulatorConfig, functions: dict[str, FunctionConfig]
) -> None:
    fast = replace(config, cpu_limit=False)
    with Emulator(fast, backend=chosen_backend(), images=ImageBuilder(DockerImages())) as emu:
        probe = body(invoke(emu, functions["SandboxProbeFunction"]))
    assert probe["cpu_quota_us"] == "-1"


def test_tmp_has_the_ephemeral_storage_size(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    default = body(invoke(emu, functions["SandboxProbeFunction"]))
    assert 500 <= default["tmp_size_mb"] <= 530
    larger = body(invoke(emu, replace(functions["SandboxProbeFunction"], ephemeral_storage=1024)))
    assert 1010 <= larger["tmp_size_mb"] <= 1060


def test_writing_past_tmp_fails_with_enospc_and_the_environment_keeps_working(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["TmpFillFunction"]
    full = body(invoke(emu, function, {"mb": 600, "name": "big", "remove": True}))
    assert full["outcome"] == "No space left on device"
    assert 480 <= full["written_mb"] < 530
    result = invoke(emu, function, {"mb": 400, "name": "fits"})
    fits = body(result)
    assert fits.get("outcome") == "ok" and fits["written_mb"] == 400, (fits, result.logs)
    again = invoke(emu, function, {"mb": 1, "name": "small"})
    assert not again.failed and again.init_duration_ms is None, "same warm environment"
    assert {"fill-fits", "fill-small"} <= set(body(again)["files"]), "/tmp persists across warm invokes"


def test_tmp_does_not_count_against_memory(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    # 300 MB in /tmp of a 128 MB function: Lambda's /tmp is disk, not memory.
    own_environment = replace(functions["TmpFillFunction"], description="an environment of its own")
    result = invoke(emu, own_environment, {"mb": 300, "name": "memory", "remove": True})
    assert body(result)["outcome"] == "ok"


def test_tmp_survives_a_reset(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    fill = functions["TmpFillFunction"]
    invoke(emu, fill, {"mb": 1, "name": "before-reset"})
    env = next(e for e in emu.environments() if e.function == fill)
    env.reset()  # what a timeout or crash does: the runtime is killed, the next invoke re-inits
    after = invoke(emu, fill, {"mb": 1, "name": "after-reset"})
    assert after.init_duration_ms is not None, after.init_logs
    assert "fill-before-reset" in body(after)["files"]


def test_max_memory_used_is_the_real_peak(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    function = replace(functions["MemoryFunction"], memory_size=512)
    small = invoke(emu, function, {"mb": 1})
    big = invoke(emu, function, {"mb": 100})
    assert small.max_memory_used_mb < 60
    assert 100 <= big.max_memory_used_mb <= 140
    assert f"Max Memory Used: {big.max_memory_used_mb} MB" in big.logs


def test_response_over_6_mb_is_response_size_too_large(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["BigResponseFunction"], {"mb": 7})
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert body(result)["errorMessage"] == (
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    )
    fits = invoke(emu, functions["BigResponseFunction"], {"mb": 5})
    assert not fits.failed and len(fits.payload) > 5 * 1024 * 1024


def test_request_over_6_mb_is_refused_before_anything_runs(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    payload = json.dumps({"blob": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(LambdaEmuError) as caught:
        emu.invocation(functions["EchoFunction"], payload)
    assert api_code(caught.value) == "RequestEntityTooLargeException"
    assert (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation" in caught.value.message
    )


def test_init_error_is_logged_twice_as_lambda_retries_init(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["ImportErrorFunction"])
    assert result.error_type == "Runtime.ImportModuleError"
    assert result.init_logs.count("[ERROR] Runtime.ImportModuleError") == 2
    assert "INIT_REPORT Init Duration: " in result.init_logs
