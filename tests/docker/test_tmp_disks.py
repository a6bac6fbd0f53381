"""Each container's /tmp is the backend's: a disk of the spec's size made with the container, gone with it,
and a crashed owner's disk swept by the next run's remove_stale (Docker or, under `make test-embedded`, the
embedded backend)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from backends import chosen_backend

from lambda_emu.cleanup import OWNER_LABEL, owner_token
from lambda_emu.containers.base import ContainerSpec
from lambda_emu.containers.images import DockerImages
from lambda_emu.containers.tmpdisk import TmpDisk, can_mount, default_root, disk_name
from lambda_emu.images.runtimes import ImageBuilder, get_runtime

pytestmark = pytest.mark.skipif(not can_mount(), reason="a disk-backed /tmp needs root and mkfs.ext4")


def _mounted(path: Path) -> bool:
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)


def _spec(image: str, owner: str) -> ContainerSpec:
    return ContainerSpec(
        image=image,
        name=f"lambda-emu-tmp-disk-{os.getpid()}",
        environment={},
        labels={OWNER_LABEL: owner},
        memory_mb=128,
        command=("true",),
        user="993:990",
        tmp_mb=16,
    )


def test_a_containers_tmp_disk_is_made_with_it_and_removed_with_it() -> None:
    image = ImageBuilder(DockerImages()).ensure(get_runtime("python3.11"))
    before = {p.name for p in default_root().glob("*.img")} if default_root().is_dir() else set()
    container = chosen_backend().create(_spec(image, owner_token()))
    try:
        made = [p for p in default_root().glob("*.img") if p.name not in before]
        assert len(made) == 1, "one disk for the container"
        disk_dir = made[0].with_suffix("")
        assert _mounted(disk_dir)
        usable = os.statvfs(disk_dir)
        assert 16 <= usable.f_bavail * usable.f_frsize / (1024 * 1024) < 20, "the spec's 16 MB, and a little"
    finally:
        container.remove()
    assert not made[0].exists() and not _mounted(disk_dir)


def test_a_dead_owners_disk_is_swept_and_a_live_ones_kept() -> None:
    dead = TmpDisk(default_root(), disk_name("999999:1.000", "deadbeef0001"), 16).open()
    alive = TmpDisk(default_root(), disk_name(owner_token(), "deadbeef0002"), 16).open()
    try:
        chosen_backend().remove_stale(lambda labels: labels.get(OWNER_LABEL) == "999999:1.000")
        assert not (default_root() / (disk_name("999999:1.000", "deadbeef0001") + ".img")).exists()
        assert alive.mount_point is not None and _mounted(alive.mount_point)
    finally:
        dead.close()
        alive.close()
