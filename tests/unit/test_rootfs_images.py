"""The engine-free image build: a Dockerfile's instructions read as Docker reads them, replayed into a
folder's Config; the runtimes' own Dockerfiles use only what the replay supports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.containers.rootfs_images import Replay, dockerfile_instructions, folder_image_id
from lambda_emu.errors import ImageError
from lambda_emu.images.runtimes import runtimes_root

DOCKERFILE = """\
# a comment
ARG BASE_IMAGE=base:unset
FROM ${BASE_IMAGE}
ARG RUNTIME_ID=python
LABEL dev.lambda-emu="1" dev.lambda-emu.runtime="${RUNTIME_ID}"
RUN set -eu; \\
    # a comment inside a continued instruction
    mkdir -p /var/task; \\
    chmod 1777 /tmp
WORKDIR /var/task
ENV LANG=en_US.UTF-8 TZ=:UTC ROOT=$RUNTIME_ID
CMD ["/var/runtime/bootstrap"]
"""


def test_instructions_join_continued_lines_and_drop_comments() -> None:
    assert dockerfile_instructions(DOCKERFILE) == [
        "ARG BASE_IMAGE=base:unset",
        "FROM ${BASE_IMAGE}",
        "ARG RUNTIME_ID=python",
        'LABEL dev.lambda-emu="1" dev.lambda-emu.runtime="${RUNTIME_ID}"',
        "RUN set -eu;  mkdir -p /var/task;  chmod 1777 /tmp",
        "WORKDIR /var/task",
        "ENV LANG=en_US.UTF-8 TZ=:UTC ROOT=$RUNTIME_ID",
        'CMD ["/var/runtime/bootstrap"]',
    ]


def test_the_config_has_the_bases_env_then_the_images_with_build_arguments_expanded(tmp_path: Path) -> None:
    bases = {"lambda-emu-base/bookworm:1": (tmp_path / "base", {"Env": ["PATH=/usr/bin:/bin"], "Cmd": None})}
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "etc").mkdir()
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    replay = Replay(
        rootfs,
        tmp_path,
        {"BASE_IMAGE": "lambda-emu-base/bookworm:1", "RUNTIME_ID": "python3.13"},
        bases.__getitem__,
    )
    for instruction in dockerfile_instructions(DOCKERFILE):
        if not instruction.startswith("RUN"):  # RUN needs root (chroot): the e2e tier runs it
            replay.run(instruction)
    assert (rootfs / "etc").is_dir(), "FROM copies the base"
    assert (rootfs / "var" / "task").is_dir(), "WORKDIR makes its folder"
    assert replay.config({"dev.lambda-emu.base": "lambda-emu-base/bookworm:1"}) == {
        "Env": ["PATH=/usr/bin:/bin", "LANG=en_US.UTF-8", "TZ=:UTC", "ROOT=python3.13"],
        "Cmd": ["/var/runtime/bootstrap"],
        "WorkingDir": "/var/task",
        "Labels": {
            "dev.lambda-emu": "1",
            "dev.lambda-emu.runtime": "python3.13",
            "dev.lambda-emu.base": "lambda-emu-base/bookworm:1",
        },
        "User": "",
    }


def test_an_instruction_the_replay_does_not_know_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="Cannot replay the Dockerfile instruction USER") as caught:
        Replay(tmp_path, tmp_path, {}).run("USER 993:990")
    assert caught.value.hint


def test_copy_stays_in_the_build_context(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    with pytest.raises(ImageError, match="not in the build context"):
        Replay(tmp_path / "rootfs", tmp_path / "rootfs", {}).run("COPY ../secret /var/")


def test_every_runtime_dockerfile_can_be_replayed_without_an_engine() -> None:
    supported = {"ARG", "FROM", "LABEL", "COPY", "RUN", "WORKDIR", "ENV", "CMD"}
    dockerfiles = sorted(runtimes_root().glob("*/Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        keywords = {line.split()[0] for line in dockerfile_instructions(dockerfile.read_text())}
        assert keywords <= supported, (dockerfile, keywords - supported)
        assert all(hasattr(Replay, f"_{keyword.lower()}") for keyword in keywords)


def test_an_image_made_here_is_named_by_its_tag_and_never_like_an_engines() -> None:
    one = folder_image_id("lambda-emu/python3.11:3ff7c42996f3")
    assert one == folder_image_id("lambda-emu/python3.11:3ff7c42996f3")
    assert one != folder_image_id("lambda-emu/python3.11:000000000000")
    assert not one.startswith("sha256:")


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The Docker engine unreachable for this process: DOCKER_HOST names a socket that does not exist."""
    from lambda_emu.containers.engine import docker_client

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setenv("LAMBDA_EMU_ROOTFS_CACHE", str(tmp_path / "rootfs"))
    docker_client.cache_clear()
    yield
    docker_client.cache_clear()


@pytest.mark.usefixtures("no_engine")
@pytest.mark.parametrize("named", ["--backend", "LAMBDA_EMU_BACKEND"])
def test_without_an_engine_the_embedded_backends_images_are_built_into_its_cache(
    named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_emu.images.runtimes import RUNTIMES, local_image_builder

    if named == "LAMBDA_EMU_BACKEND":  # as the pytest plugin's session finds it
        monkeypatch.setenv("LAMBDA_EMU_BACKEND", "embedded")
        builder = local_image_builder()
    else:
        builder = local_image_builder(backend="embedded")
    assert builder.base == "debian"
    status = {row.id: row for row in builder.list()}["python3.11"]
    assert (status.built, status.tag) == (False, builder.image_tag(RUNTIMES["python3.11"]))
    with pytest.raises(ImageError, match="Cannot pull .*no Docker engine answers"):
        local_image_builder("registry", backend="embedded").build(RUNTIMES["python3.11"])
