"""Each container's /tmp, made by the backend that creates the container (`with_tmp`) and removed with it:
an ext4 image of EphemeralStorage's size (`ContainerSpec.tmp_mb`), loop-mounted on this host and bound into
the container. It fails with ENOSPC at its size, survives restarts of the container's process (an
environment's reset), and does not count against the memory limit, as Lambda's /tmp. Where this process
cannot mount (not root), /tmp falls back to a size-limited tmpfs, whose pages do count against memory:
said once in the log."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import struct
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
            # A copy of a file system formatted once per size (its few written blocks; the rest stays a
            # hole), not a mkfs per environment: two processes fewer on every cold start.
            _sparse_copy(_formatted(self._image.parent, self.size_mb), self._image)
            _mount_loop(self._image, self._dir)
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
            _unmount_lazily(self._dir)
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


# No journal and few inodes: /tmp is scratch space, and this keeps the usable size honest.
_MKFS = ("mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", "-N", "8192", "-E", "lazy_itable_init=1")
_FORMAT_VERSION = "1"  # of _MKFS and image_bytes: a new one formats new templates


def _formatted(root: Path, size_mb: int) -> Path:
    """An empty file system of `size_mb`, formatted once and kept under `root` for every later disk."""
    template = root / "formatted" / f"ext4-v{_FORMAT_VERSION}-{size_mb}mb.img"
    if template.exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    staging = template.with_name(f".{template.name}.{os.getpid()}")
    try:
        with open(staging, "wb") as image:
            image.truncate(image_bytes(size_mb))  # sparse: costs no disk until written
        _run([*_MKFS, str(staging)])
        os.replace(staging, template)  # whole or not at all, whoever else formats the same size meanwhile
    finally:
        staging.unlink(missing_ok=True)
    return template


def _sparse_copy(source: Path, target: Path) -> None:
    """Copy `source`'s data extents only (a fresh ext4 image of 512 MB holds ~330 KB); holes stay holes."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        dst.truncate(size)
        offset = 0
        while offset < size:
            try:
                data = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            hole = os.lseek(src.fileno(), data, os.SEEK_HOLE)
            position = data
            while position < hole:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), hole - position, position, position)
                if copied <= 0:
                    raise OSError(f"copying {source} stopped at byte {position}")
                position += copied
            offset = hole


# Linux's loop device and mount interfaces (linux/loop.h, sys/mount.h), called directly: `mount -o loop`
# and `umount -l` are a process each on every cold start and teardown.
_LOOP_CTL_GET_FREE = 0x4C82
_LOOP_CONFIGURE = 0x4C0A  # Linux 5.8+: attach the file and set its flags in one call
_LO_FLAGS_AUTOCLEAR = 4  # the device lets go of the file when the file system is unmounted
_LOOP_CONFIG = struct.Struct("=II40xIIII64s64s32s16x64x")  # fd, block size, loop_info64, reserved
_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


def _mount_loop(image: Path, target: Path) -> None:
    """`mount -o loop,nosuid,nodev image target`, by the kernel's own calls where it has them."""
    try:
        _mount_by_syscalls(image, target)
    except (OSError, AttributeError) as exc:  # an older kernel, no libc: as util-linux does it
        LOG.debug("loop mount by ioctl failed (%s); running mount", exc)
        _run(["mount", "-o", "loop,nosuid,nodev", str(image), str(target)])


def _mount_by_syscalls(image: Path, target: Path) -> None:
    import ctypes
    import fcntl

    libc = ctypes.CDLL(None, use_errno=True)
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        for _attempt in range(8):  # another process may take the free device first: ask again
            number = fcntl.ioctl(control, _LOOP_CTL_GET_FREE)
            device = f"/dev/loop{number}"
            loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                name = str(image).encode()[-63:]  # what losetup shows
                config = _LOOP_CONFIG.pack(backing, 0, 0, 0, 0, _LO_FLAGS_AUTOCLEAR, name, b"", b"")
                try:
                    fcntl.ioctl(loop, _LOOP_CONFIGURE, config)
                except OSError as exc:
                    if exc.errno == errno.EBUSY:
                        continue
                    raise
                flags = _MS_NOSUID | _MS_NODEV
                if libc.mount(device.encode(), str(target).encode(), b"ext4", flags, None) != 0:
                    code = ctypes.get_errno()
                    fcntl.ioctl(loop, _LOOP_CLR_FD)
                    raise OSError(code, f"mount {device} on {target}: {os.strerror(code)}")
                return
            finally:
                os.close(loop)
        raise OSError(errno.EBUSY, "no free loop device")
    finally:
        os.close(backing)
        os.close(control)


_LOOP_CLR_FD = 0x4C01


def _unmount_lazily(target: Path) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(str(target).encode(), _MNT_DETACH) == 0:
            return
        LOG.debug("umount2 %s: %s", target, os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as exc:
        LOG.debug("umount2 %s: %s", target, exc)
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
