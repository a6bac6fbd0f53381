"""The embedded backend (runc over the runtime images' unpacked root file systems, no Docker engine at run
time) runs the samples as the Docker backend does: answers and logs, the sandbox, memory, timeouts, /tmp.
Docker is used only to build the images and export them once into the root file system cache."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_emu.cleanup import OWNER_LABEL
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.base import ContainerSpec, Mount
from lambda_emu.containers.embedded import EmbeddedBackend, cgroup_support
from lambda_emu.containers.images import DockerImages
from lambda_emu.containers.rootfs_cache import RootfsCache
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder
from lambda_emu.models import InvocationResult
from lambda_emu.template import load_template

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"

# Root and runc or crun: skips on a developer machine without them, fails under CI=true (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("embedded_host")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-state")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def functions(config: EmulatorConfig) -> dict[str, FunctionConfig]:
    return dict(load_template(SAMPLES / "template.yaml", emulator=config).functions)


@pytest.fixture(scope="module")
def backend(docker_engine: None, state: Path) -> EmbeddedBackend:
    return EmbeddedBackend(root=state, rootfs=RootfsCache())


@pytest.fixture(scope="module")
def emu(config: EmulatorConfig, backend: EmbeddedBackend) -> Iterator[Emulator]:
    with Emulator(config, backend=backend, images=ImageBuilder(DockerImages())) as e:
        yield e


def invoke(emu: Emulator, function: FunctionConfig, event: object = None) -> InvocationResult:
    return emu.invoke(function, emu.invocation(function, json.dumps(event or {}).encode()))


def body(result: InvocationResult) -> dict:  # type: ignore[type-arg]
    value = json.loads(result.payload)
    assert isinstance(value, dict), result.payload[:300]
    return value


def test_hello_answers_with_its_log(emu: Emulator, functions: dict[str, FunctionConfig]) -> None:
    result = invoke(emu, functions["HelloFunction"], {"name": "embedded"})
    assert not result.failed, result.payload
    assert body(result) == {"message": "Hello, embedded!"}
    assert "saying hello to embedded" in result.logs
    assert f"END RequestId: {result.request_id}" in result.logs
    assert result.init_duration_ms is not None
    warm = invoke(emu, functions["HelloFunction"], {"name": "again"})
    assert body(warm) == {"message": "Hello, again!"}
    assert warm.init_duration_ms is None, "the second invoke is warm"


def test_sandbox_user_read_only_root_no_capabilities(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    probe = body(invoke(emu, functions["SandboxProbeFunction"]))
    assert (probe["uid"], probe["gid"]) == (993, 990)
    assert int(probe["cap_eff"], 16) == 0, "no capabilities"
    assert probe["no_new_privs"] == "1"
    assert probe["nofile"] == [1024, 1024]
    assert probe["root_write"] == "Read-only file system"
    if cgroup_support().pids:
        assert probe["pids_max"] == "1024"


@pytest.mark.skipif(not cgroup_support().cpu_quota, reason="this host lets us set no CPU quota")
@pytest.mark.parametrize("memory", [128, 1769])
def test_cpu_quota_is_proportional_to_memory_during_invokes(
    emu: Emulator, functions: dict[str, FunctionConfig], memory: int
) -> None:
    probe = body(invoke(emu, replace(functions["SandboxProbeFunction"], memory_size=memory)))
    vcpus = min(os.cpu_count() or 1, memory / 1769)
    assert int(probe["cpu_quota_us"]) == max(1000, int(vcpus * 100_000))
    assert int(probe["cpu_period_us"]) == 100_000
    assert int(probe["cpu_shares"]) == max(2, round(1024 * memory / 1769))


def test_tmp_is_writable_sized_and_var_task_read_only(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    first = body(invoke(emu, functions["FilesystemFunction"]))
    second = body(invoke(emu, functions["FilesystemFunction"]))
    assert first["task_write"] == "Read-only file system"
    assert second["tmp_writes"] == first["tmp_writes"] + 1
    default = body(invoke(emu, functions["SandboxProbeFunction"]))
    assert 500 <= default["tmp_size_mb"] <= 530
    larger = body(invoke(emu, replace(functions["SandboxProbeFunction"], ephemeral_storage=1024)))
    assert 1010 <= larger["tmp_size_mb"] <= 1060


def test_timeout_kills_and_the_environment_recovers(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["TimeoutFunction"]
    started = time.monotonic()
    result = invoke(emu, function, {"seconds": 30})
    assert time.monotonic() - started < 10
    assert result.error_type == "Sandbox.Timedout"
    assert "Status: timeout" in result.logs
    after = invoke(emu, function, {"seconds": 0})
    assert json.loads(after.payload) == "woke up"
    assert after.init_duration_ms is not None, "after a timeout the environment re-inits"


@pytest.mark.skipif(not cgroup_support().memory, reason="this host lets us set no memory limit")
def test_memory_limit_kills_a_memory_bomb_as_out_of_memory(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["MemoryFunction"]
    fits = invoke(emu, function, {"mb": 40})
    assert body(fits) == {"allocated_mb": 40}
    assert 40 <= fits.max_memory_used_mb <= 128
    result = invoke(emu, function, {"mb": 400})
    assert result.error_type == "Runtime.OutOfMemory", result.payload
    assert body(result)["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert not invoke(emu, function, {"mb": 1}).failed


def test_nothing_is_left_after_close(
    config: EmulatorConfig, backend: EmbeddedBackend, state: Path, functions: dict[str, FunctionConfig]
) -> None:
    before = {p.name for p in (state / "bundles").iterdir()}  # the module's emulator's environments
    with Emulator(config, backend=backend, images=ImageBuilder(DockerImages())) as emu:
        assert not invoke(emu, functions["EchoFunction"], {"a": 1}).failed
        mine = {p.name for p in (state / "bundles").iterdir()} - before
        assert mine
    left = {p.name for p in (state / "bundles").iterdir()}
    assert not left & mine
    for name in mine:  # in every cgroup hierarchy, not only those holding limits
        assert not list(Path("/sys/fs/cgroup").glob(f"*/lambda-emu/{name}")), name
        assert not (Path("/sys/fs/cgroup/lambda-emu") / name).exists(), name


def test_remove_stale_removes_bundles_of_dead_owners_only(backend: EmbeddedBackend, state: Path) -> None:
    image = "lambda-emu/python3.11"
    tag = next(iter(DockerImages()._client.images.list(image)), None)  # noqa: SLF001
    assert tag is not None and tag.tags, "the python3.11 image is built by the tests above"

    def spec(owner: str, name: str) -> ContainerSpec:
        return ContainerSpec(
            image=tag.tags[0],
            name=name,
            environment={},
            labels={OWNER_LABEL: owner},
            memory_mb=128,
            command=("true",),
            user="993:990",
        )

    dead = backend.create(spec("1:1.000", "dead-owner"))
    alive = backend.create(spec("alive", "live-owner"))
    try:
        removed = backend.remove_stale(lambda labels: labels.get(OWNER_LABEL) == "1:1.000")
        assert removed == 1
        names = {p.name for p in (state / "bundles").iterdir()}
        assert dead.id not in names
        assert alive.id in names
    finally:
        alive.remove()
        dead.remove()


def test_without_a_docker_engine_auto_runs_the_embedded_backend(
    emu: Emulator, functions: dict[str, FunctionConfig], tmp_path: Path
) -> None:
    assert not invoke(emu, functions["HelloFunction"]).failed  # python3.11 unpacked while Docker answers
    nowhere = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    nowhere.pop("LAMBDA_EMU_BACKEND", None)
    doctor = subprocess.run(
        ["lambda-emu", "doctor"], capture_output=True, text=True, env=nowhere, timeout=60, check=False
    )
    assert "backend: embedded (auto would pick embedded)" in doctor.stdout, doctor.stdout + doctor.stderr
    done = subprocess.run(
        ["lambda-emu", "--state-dir", str(tmp_path / "state"), "invoke", "HelloFunction", "--no-server"],
        cwd=SAMPLES,
        capture_output=True,
        text=True,
        env=nowhere,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"message": "Hello, world!"}
    assert "saying hello to world" in done.stderr


@pytest.mark.skipif(not cgroup_support().memory, reason="this host lets us set no memory limit")
def test_a_sigkill_after_an_oom_in_the_same_sandbox_is_no_oom(
    emu: Emulator, backend: EmbeddedBackend, tmp_path: Path
) -> None:
    image = emu.runtime_image("python3.11").image
    state = tmp_path / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    # First start: a memory bomb; second: the process kills itself with SIGKILL, memory far below the limit.
    script = (
        "if [ -e /state/seen ]; then kill -9 $$; fi; touch /state/seen; "
        'exec python3 -c "x = bytearray(400 * 1024 * 1024)"'
    )
    handle = backend.create(
        ContainerSpec(
            image=image,
            name="oom-then-kill",
            environment={},
            labels={},
            memory_mb=128,
            command=("/bin/sh", "-c", script),
            user="993:990",
            mounts=(Mount(str(state), "/state", read_only=False),),
        )
    )
    try:
        for expected_oom in (True, False):
            output = handle.attach()
            handle.start()
            for _ in output:
                pass
            status = handle.wait()
            assert (status.code, status.oom_killed) == (137, expected_oom)
    finally:
        handle.remove()
