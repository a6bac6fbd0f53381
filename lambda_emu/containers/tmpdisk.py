"""Each container's /tmp, made by the backend that creates the container (`with_tmp`) and removed with it:
an ext4 image of EphemeralStorage's size (`ContainerSpec.tmp_mb`), loop-mounted on this host and bound into
the container. It fails with ENOSPC at its size, survives restarts of the container's process (an
environment's reset), and does not count against the memory limit, as Lambda's /tmp. Where this process
cannot mount (not root), /tmp falls back to a size-limited tmpfs, whose pages do count against memory:
said once in the log."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from lambda_emu.cleanup import OWNER_LABEL
from lambda_emu.containers.base import ContainerSpec, Mount

LOG = logging.getLogger(__name__)

MIB = 1024 * 1024
_warned = False


def default_root() -> Path:
    return Path(tempfile.gettempdir()) / f"lambda-emu-tmp-{os.geteuid()}"


def image_bytes(size_mb: int) -> int:
    """An image a little larger than the size, so its usable space (after ext4's own tables) is the size."""
    return (size_mb + size_mb // 40 + 4) * MIB


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mkfs.ext4") is not None and shutil.which("mount") is not None


class TmpDisk:
    """Created by `open`, removed by `close`; `mount_point` is None when the tmpfs fallback applies."""

    def __init__(self, root: Path, name: str, size_mb: int) -> None:
        self.size_mb = size_mb
        self._image = root / f"{name}.img"
        self._dir = root / name
        self.mount_point: Path | None = None

    def open(self) -> TmpDisk:
        global _warned
        if not can_mount():
            if not _warned:
                LOG.warning("cannot loop-mount here (not root): /tmp is a tmpfs and counts against memory")
                _warned = True
            return self
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(self._image, "wb") as image:
                image.truncate(image_bytes(self.size_mb))  # sparse: costs no disk until written
            # No journal and few inodes: /tmp is scratch space, and this keeps the usable size honest.
            _run(
                [
                    "mkfs.ext4",
                    "-q",
                    "-F",
                    "-m",
                    "0",
                    "-O",
                    "^has_journal",
                    "-N",
                    "8192",
                    "-E",
                    "lazy_itable_init=1",
                    str(self._image),
                ]
            )
            _run(["mount", "-o", "loop,nosuid,nodev", str(self._image), str(self._dir)])
            os.chmod(self._dir, 0o1777)
        except (OSError, subprocess.CalledProcessError) as exc:
            LOG.warning("cannot make a disk-backed /tmp (%s): falling back to tmpfs", exc)
            self.close()
            return self
        self.mount_point = self._dir
        return self

    def close(self) -> None:
        if _is_mounted(self._dir):
            # Lazy: a process still holding a file there must not keep the mount (or this call) alive.
            subprocess.run(["umount", "-l", str(self._dir)], capture_output=True, check=False)
        for path in (self._image,):
            path.unlink(missing_ok=True)
        shutil.rmtree(self._dir, ignore_errors=True)
        self.mount_point = None


def with_tmp(spec: ContainerSpec, root: Path | None = None) -> tuple[ContainerSpec, TmpDisk]:
    """The spec with its /tmp of `spec.tmp_mb`: a disk of its own mounted there, else a size-limited tmpfs;
    and the disk, which the container closes when it is removed."""
    name = disk_name(spec.labels.get(OWNER_LABEL, ""), uuid.uuid4().hex[:12])
    disk = TmpDisk(root or default_root(), name, spec.tmp_mb).open()
    if disk.mount_point is None:
        return replace(spec, tmpfs_mb=spec.tmp_mb), disk
    return replace(spec, mounts=(*spec.mounts, Mount(str(disk.mount_point), "/tmp", read_only=False))), disk


def disk_name(owner: str, disk_id: str) -> str:
    """ "<owner>-<id>" with the owner token made file-name safe, so a sweep can tell its owner."""
    return f"{owner.replace(':', '_')}-{disk_id}"


def owner_of_disk(name: str) -> str:
    return name.rsplit("-", 1)[0].replace("_", ":")


def sweep_stale(is_stale: Callable[[Mapping[str, str]], bool], root: Path | None = None) -> int:
    """Remove the disks whose owner `is_stale` says is gone (a backend's remove_stale, after its containers:
    a leftover disk is unmounted once nothing uses it)."""
    removed = sweep(root or default_root(), lambda name: is_stale({OWNER_LABEL: owner_of_disk(name)}))
    if removed:
        LOG.info("removed %d leftover /tmp disk(s) of earlier runs", removed)
    return removed


def sweep(root: Path, is_stale: Callable[[str], bool]) -> int:
    """Remove the disks of environments whose owner process is gone (named "<owner>-<env>")."""
    if not root.is_dir():
        return 0
    removed = 0
    for image in root.glob("*.img"):
        name = image.stem
        if is_stale(name):
            TmpDisk(root, name, 0).close()
            removed += 1
    return removed


def _is_mounted(path: Path) -> bool:
    try:
        with open("/proc/self/mounts") as mounts:
            target = str(path)
            return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)
    except OSError:
        return False


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)
