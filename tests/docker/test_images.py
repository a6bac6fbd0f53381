"""Runtime images built for real (Debian base via mmdebstrap, then the family's Dockerfile) and run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.containers.images import DockerImages
from lambda_emu.errors import ImageError
from lambda_emu.images.runtimes import RUNTIMES, ImageBuilder, runtimes_root

pytestmark = pytest.mark.docker

STAND_IN_BOOTSTRAP = "#!/bin/sh\nexec python3 /var/runtime/runtime_client.py\n"
STAND_IN_CLIENT = "print('stand-in runtime client')\n"


def _run(tag: str, *command: str, user: str | None = None) -> str:
    argv = ["docker", "run", "--rm", "--network", "host"]
    if user:
        argv += ["--user", user]
    done = subprocess.run([*argv, tag, *command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _inspect(tag: str, template: str) -> str:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", template, tag], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped build contexts, or a copy with stand-ins while the runtime client is not written yet;
    images built from stand-ins are removed afterwards, the real ones stay for other tests."""
    shipped = runtimes_root()
    family = shipped / "python"
    if (family / "bootstrap").is_file() and (family / "runtime_client.py").is_file():
        yield shipped
        return
    copy = tmp_path_factory.mktemp("runtimes") / "runtimes"
    shutil.copytree(shipped, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "python" / "bootstrap").write_text(STAND_IN_BOOTSTRAP)
    (copy / "python" / "bootstrap").chmod(0o755)
    (copy / "python" / "runtime_client.py").write_text(STAND_IN_CLIENT)
    yield copy
    tags = [ImageBuilder(DockerImages(), runtimes_root=copy).image_tag(spec) for spec in RUNTIMES.values()]
    subprocess.run(["docker", "rmi", *tags], capture_output=True, check=False)


@pytest.fixture(scope="module")
def messages() -> list[str]:
    return []


@pytest.fixture(scope="module")
def builder(root: Path, messages: list[str]) -> ImageBuilder:
    return ImageBuilder(DockerImages(), progress=messages.append, runtimes_root=root)


@pytest.fixture(scope="module")
def python311(builder: ImageBuilder) -> str:
    return builder.ensure(RUNTIMES["python3.11"])


def test_python311_image_runs_debian_python_3_11(python311: str) -> None:
    assert _run(python311, "python3", "--version").startswith("Python 3.11.")
    # The full standard library, not python3-minimal's subset.
    assert _run(python311, "python3", "-c", "import json, ssl, sqlite3; print('ok')") == "ok"
    # System zone files and CA bundle, as Lambda's images have.
    zone = "import zoneinfo; print(zoneinfo.ZoneInfo('Europe/Paris'))"
    assert _run(python311, "python3", "-c", zone) == "Europe/Paris"
    cas = "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'] > 100)"
    assert _run(python311, "python3", "-c", cas) == "True"


def test_python311_image_has_lambdas_layout_user_and_environment(python311: str) -> None:
    # Lambda's runtime user: uid 993, gid 990.
    assert _run(python311, "id", "-u", "sbx_user1051") == "993"
    assert _run(python311, "id", "-g", "sbx_user1051") == "990"
    executable = "test -x /var/runtime/bootstrap && echo yes"
    assert _run(python311, "sh", "-c", executable, user="sbx_user1051") == "yes"
    assert _run(python311, "sh", "-c", "test -d /var/task && test -d /opt && pwd") == "/var/task"
    assert _run(python311, "sh", "-c", "touch /tmp/w && echo yes", user="sbx_user1051") == "yes"
    env = _run(python311, "env").splitlines()
    assert "LANG=en_US.UTF-8" in env and "TZ=:UTC" in env
    assert _inspect(python311, "{{json .Config.Cmd}}") == '["/var/runtime/bootstrap"]'


def test_python311_image_carries_our_labels(python311: str) -> None:
    assert _inspect(python311, '{{index .Config.Labels "dev.lambda-emu"}}') == "1"
    assert _inspect(python311, '{{index .Config.Labels "dev.lambda-emu.runtime"}}') == "python3.11"


def test_a_second_ensure_is_a_cache_hit(builder: ImageBuilder, python311: str, root: Path) -> None:
    again = builder.provide(RUNTIMES["python3.11"])
    assert again.tag == python311 and not again.built
    fresh = ImageBuilder(DockerImages(), runtimes_root=root).provide(RUNTIMES["python3.11"])
    assert fresh.tag == python311 and not fresh.built


def test_progress_relays_a_build_and_stays_silent_on_a_cache_hit(
    builder: ImageBuilder, python311: str, messages: list[str]
) -> None:
    # The first ensure either built (and said so) or found the image of an earlier run (and said nothing).
    assert f"built {python311}" in "\n".join(messages) or messages == []
    messages.clear()
    builder.ensure(RUNTIMES["python3.11"])
    assert messages == [], "a cache hit happens on every invoke: it must not print"


def test_list_reports_the_built_image_and_its_size(builder: ImageBuilder, python311: str) -> None:
    row = next(row for row in builder.list() if row.id == "python3.11")
    assert row.built and row.tag == python311
    assert row.size is not None and row.size > 50 * 2**20
    assert row.base.startswith("lambda-emu-base/bookworm:")


def test_python313_image_runs_trixie_python_3_13(builder: ImageBuilder) -> None:
    tag = builder.ensure(RUNTIMES["python3.13"])
    assert _run(tag, "python3", "--version").startswith("Python 3.13.")
    assert _run(tag, "sh", "-c", "test -x /var/runtime/bootstrap && echo yes", user="sbx_user1051") == "yes"


def test_an_unpullable_base_is_an_image_error_naming_the_debian_base(root: Path) -> None:
    builder = ImageBuilder(DockerImages(), base="lambda-emu-test/no-such-base:never", runtimes_root=root)
    with pytest.raises(ImageError, match="Cannot pull lambda-emu-test/no-such-base:never") as caught:
        builder.ensure(RUNTIMES["python3.11"])
    assert caught.value.hint is not None and "runtimes build python3.11 --base debian" in caught.value.hint


def test_a_failing_dockerfile_is_an_image_error_with_its_output(
    root: Path, python311: str, tmp_path: Path
) -> None:
    broken = tmp_path / "runtimes"
    shutil.copytree(root, broken, ignore=shutil.ignore_patterns("__pycache__"))
    with (broken / "python" / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("RUN echo lambda-emu-test-marker && false\n")
    builder = ImageBuilder(DockerImages(), runtimes_root=broken)
    with pytest.raises(ImageError, match="(?s)failed.*lambda-emu-test-marker") as caught:
        builder.ensure(RUNTIMES["python3.11"])
    assert caught.value.hint == "Fix the cause above, then run: lambda-emu runtimes build python3.11"


def test_any_local_image_can_be_the_base_of_a_runtime(builder: ImageBuilder, root: Path) -> None:
    # python3.11's build context FROM the trixie base: a local image reference, so nothing is pulled.
    trixie = builder.base_image(RUNTIMES["python3.13"])
    builder.ensure(RUNTIMES["python3.13"])
    custom = ImageBuilder(DockerImages(), base=trixie, runtimes_root=root)
    report = custom.provide(RUNTIMES["python3.11"])
    try:
        assert report.base == trixie and report.tag != builder.image_tag(RUNTIMES["python3.11"])
        assert _run(report.tag, "python3", "--version").startswith("Python 3.13.")
        assert _inspect(report.tag, '{{index .Config.Labels "dev.lambda-emu.base"}}') == trixie
    finally:
        subprocess.run(["docker", "rmi", report.tag], capture_output=True, check=False)
