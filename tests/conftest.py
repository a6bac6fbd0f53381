"""Test tiers by folder: unit (no Docker), docker (real containers), e2e (the installed command).
Docker-backed tests skip only on a developer machine without an engine; under CI=true they fail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_functions"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The e2e tier runs the installed `lambda-emu` command: the one beside this interpreter (the project's venv),
# never another checkout's that happens to come first on PATH.
os.environ["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))

# Started as a background job (nohup, `&` in a script, some CI runners), pytest inherits SIGINT ignored, and
# so would every lambda-emu it starts: the Ctrl-C tests would then wait in vain. A handler is not inherited
# across exec, an ignored signal is: with one here the commands under test get SIGINT's default, as a
# terminal user's do.
signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier in ("docker", "e2e"):
            item.add_marker(pytest.mark.docker)
        if tier == "e2e":
            item.add_marker(pytest.mark.e2e)


def _engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if not _engine_answers():
        if IN_CI:
            pytest.fail("CI=true and no Docker engine answers: Docker tests never skip in CI.")
        pytest.skip("no Docker engine (run ../shared/env/docker-up.sh); these tests never skip in CI")


def embedded_cannot_run() -> str | None:
    """Why the embedded backend cannot run on this host (it needs root and runc or crun), None when it can."""
    from lambda_emu.containers.embedded import oci_runtime

    if os.geteuid() != 0:
        return "it needs root"
    if oci_runtime() is None:
        return "no OCI runtime (runc or crun) is installed"
    return None


@pytest.fixture(scope="session")
def embedded_host() -> None:
    reason = embedded_cannot_run()
    if reason:
        if IN_CI:
            pytest.fail(
                f"CI=true and the embedded backend cannot run here ({reason}): .ci/run installs runc."
            )
        pytest.skip(f"the embedded backend cannot run here ({reason}); these tests never skip in CI")


@pytest.fixture(autouse=True)
def _docker_tier_needs_an_engine(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is not None:
        request.getfixturevalue("docker_engine")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fails the test if it leaves a container of the current process behind."""
    yield
    from lambda_emu.cleanup import OWNER_LABEL, owner_token

    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={OWNER_LABEL}={owner_token()}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert not out, f"containers left behind: {out}"
