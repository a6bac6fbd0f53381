"""Architectures in real containers: a function for the other architecture (arm64 on an x86_64 machine)
runs under qemu-user emulation, from its own Debian image built with mmdebstrap --arch.

Opt-in with LAMBDA_EMU_ARCH_TESTS=1: the first build of that image takes about 4 minutes (its packages are
set up under emulation). Once opted in these tests never skip: without binfmt emulation they fail. The image
is built by the module's fixture, before anything is timed: a cold start is measured, never a build."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.facade import Emulator
from lambda_emu.images.architectures import native_architecture
from lambda_emu.images.runtimes import ImageBuilder, get_runtime

# Never skipped in CI (.ci/run installs qemu-user-static): only a developer machine may leave it out.
pytestmark = pytest.mark.skipif(
    os.environ.get("LAMBDA_EMU_ARCH_TESTS") != "1"
    and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="builds a foreign-architecture image (~4 min): run with LAMBDA_EMU_ARCH_TESTS=1",
)

FOREIGN = "arm64" if native_architecture() == "x86_64" else "x86_64"
MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}[FOREIGN]
HANDLER = """
import os, platform

def handler(event, context):
    return {"uname": os.uname().machine, "machine": platform.machine(), "event": event}
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))
    images = ImageBuilder(DockerImages())
    images.ensure(get_runtime("python3.11", FOREIGN))  # minutes on a fresh machine: not part of any timing
    with Emulator(config, backend=DockerBackend(), images=images) as e:
        yield e


def test_a_foreign_architecture_python_function_runs_under_emulation(emu: Emulator, tmp_path: Path) -> None:
    (tmp_path / "machine.py").write_text(HANDLER)
    tmp_path.chmod(0o755)  # pytest makes it 0700; the function runs as sbx_user1051
    function = FunctionConfig(
        name="ForeignMachine",
        runtime="python3.11",
        handler="machine.handler",
        code_path=tmp_path,
        architectures=(FOREIGN,),
        timeout=30,
    )
    started = time.monotonic()
    cold = emu.invoke(function, emu.invocation(function, b'{"n": 1}'))
    cold_s = time.monotonic() - started
    assert not cold.failed, cold.payload
    assert json.loads(cold.payload) == {"uname": MACHINE, "machine": MACHINE, "event": {"n": 1}}
    assert cold.init_duration_ms is not None and cold_s < 60
    warm = emu.invoke(function, emu.invocation(function, b"{}"))
    assert json.loads(warm.payload)["uname"] == MACHINE and warm.init_duration_ms is None
