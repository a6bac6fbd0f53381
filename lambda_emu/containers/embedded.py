"""The embedded container backend: execution environments run by an OCI runtime (runc or crun) over the
runtime images' root file systems, unpacked once into a cache; no Docker engine at run time. Limits are a
cgroup of our own per environment, the OCI runtime's cgroup of each process start nested in it."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lambda_emu.containers.base import ContainerSpec, ExitStatus, StalePredicate
from lambda_emu.containers.engine import LABEL, LABEL_VALUE
from lambda_emu.containers.peak import PeakMemory
from lambda_emu.containers.rootfs_cache import RootfsCache
from lambda_emu.containers.tmpdisk import TmpDisk, sweep_stale, with_tmp
from lambda_emu.errors import ContainerError

LOG = logging.getLogger(__name__)

_CGROUP_ROOT = Path("/sys/fs/cgroup")
_CGROUP_PARENT = "lambda-emu"  # every cgroup we make sits under this one, in each hierarchy
_CFS_PERIOD_US = 100_000
_DEFAULT_SHARES = 1024
_READ_SIZE = 1 << 16
# Docker's init (tini), when the host has it: a real PID 1 that reaps the handler's orphans and reports a
# killed runtime as 128+signal, as the Docker backend's `init=True`.
_INIT_CANDIDATES = ("/usr/bin/docker-init", "/usr/libexec/docker/docker-init", "/usr/bin/tini-static")
_MASKED = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
_READ_ONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def state_root() -> Path:
    return Path(os.environ.get("LAMBDA_EMU_EMBEDDED_STATE", "/run/lambda-emu-embedded"))


def oci_runtime() -> str | None:
    """The OCI runtime binary this host has: crun or runc (LAMBDA_EMU_OCI_RUNTIME names one)."""
    wanted = os.environ.get("LAMBDA_EMU_OCI_RUNTIME")
    for name in (wanted,) if wanted else ("runc", "crun"):
        found = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
        )
        if found:
            return found
    return None


def docker_init() -> str | None:
    return next((p for p in _INIT_CANDIDATES if os.access(p, os.X_OK)), None)


# ---- cgroups (v1 hierarchies, as on these machines; v2 unified where the host has only that)


@dataclass(frozen=True)
class CgroupSupport:
    """Which limits this host lets us enforce, and why not where not."""

    version: int | None  # 1, 2 or None (no writable cgroup file system)
    memory: bool
    no_swap: bool  # memory+swap limited to the memory limit (or the host has no swap at all)
    cpu_quota: bool
    pids: bool

    def missing(self) -> list[str]:
        names = {
            "memory": "memory hard limit",
            "no_swap": "no swap",
            "cpu_quota": "CPU quota",
            "pids": "pids limit",
        }
        return [label for field, label in names.items() if not getattr(self, field)]


def cgroup_support() -> CgroupSupport:
    if not os.access(_CGROUP_ROOT, os.W_OK) and not os.access(_CGROUP_ROOT / "memory", os.W_OK):
        return CgroupSupport(None, False, False, False, False)
    if (_CGROUP_ROOT / "cgroup.controllers").exists():  # v2 only
        controllers = (_CGROUP_ROOT / "cgroup.controllers").read_text().split()
        return CgroupSupport(
            2,
            "memory" in controllers,
            "memory" in controllers,
            "cpu" in controllers,
            "pids" in controllers,
        )
    memory = _CGROUP_ROOT / "memory"
    return CgroupSupport(
        1,
        (memory / "memory.limit_in_bytes").exists(),
        (memory / "memory.memsw.limit_in_bytes").exists() or _host_has_no_swap(),
        (_CGROUP_ROOT / "cpu" / "cpu.cfs_quota_us").exists(),
        (_CGROUP_ROOT / "pids" / "cgroup.procs").exists(),  # the root cgroup has no pids.max
    )


def _host_has_no_swap() -> bool:
    try:
        with open("/proc/swaps") as swaps:
            return len(swaps.read().strip().splitlines()) <= 1
    except OSError:
        return False


class EnvironmentCgroup:
    """One environment's cgroup, made at create and removed at remove: the limits sit here, so they hold
    across every start of its runtime, and the peak and OOM counters outlive each process."""

    def __init__(self, name: str, support: CgroupSupport) -> None:
        self.name = name
        self.support = support
        self.relative = f"/{_CGROUP_PARENT}/{name}"
        self.current: str | None = None  # the running start's cgroup, nested in this one
        self.cpu: tuple[int, int] = (-1, _DEFAULT_SHARES)  # quota (µs per period, -1: none), shares

    def _dir(self, controller: str) -> Path:
        if self.support.version == 2:
            return _CGROUP_ROOT / _CGROUP_PARENT / self.name
        return _CGROUP_ROOT / controller / _CGROUP_PARENT / self.name

    def create(self, memory_mb: int, max_processes: int) -> None:
        if self.support.version is None:
            return
        limit = memory_mb * 1024 * 1024
        if self.support.version == 2:
            parent = _CGROUP_ROOT / _CGROUP_PARENT
            parent.mkdir(exist_ok=True)
            _write(_CGROUP_ROOT / "cgroup.subtree_control", "+memory +cpu +pids")
            _write(parent / "cgroup.subtree_control", "+memory +cpu +pids")
            here = self._dir("")
            here.mkdir(exist_ok=True)
            _write(here / "cgroup.subtree_control", "+memory +cpu +pids")
            _write(here / "memory.max", str(limit))
            _write(here / "memory.swap.max", "0")
            _write(here / "pids.max", str(max_processes))
            return
        for controller in ("memory", "cpu", "pids"):
            self._dir(controller).mkdir(parents=True, exist_ok=True)
        memory = self._dir("memory")
        _write(memory / "memory.limit_in_bytes", str(limit))
        if (memory / "memory.memsw.limit_in_bytes").exists():  # memory+swap = memory: no swap, as Lambda
            _write(memory / "memory.memsw.limit_in_bytes", str(limit))
        _write(self._dir("pids") / "pids.max", str(max_processes))

    def set_cpu(self, vcpus: float | None, shares: int | None) -> None:
        if self.support.version is None:
            return
        quota = -1 if vcpus is None else max(1000, int(vcpus * _CFS_PERIOD_US))
        weight = shares or _DEFAULT_SHARES
        if self.support.version == 2:
            here = self._dir("")
            _write(here / "cpu.max", f"{'max' if quota < 0 else quota} {_CFS_PERIOD_US}")
            _write(here / "cpu.weight", str(max(1, min(10000, weight * 100 // 1024))))
            return
        # The running start's own cgroup holds the limits too (the function sees them there, as in a
        # Docker container). v1 refuses a child's quota above its parent's: lift the parent's first, and
        # tighten the child's first.
        dirs = [self._dir("cpu")]
        if self.current is not None:
            dirs.append(self._dir("cpu") / self.current)
        for cpu in dirs if quota < 0 else reversed(dirs):
            _write(cpu / "cpu.cfs_period_us", str(_CFS_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(quota))
            _write(cpu / "cpu.shares", str(weight))
        self.cpu = (quota, weight)

    def resources(self, memory_mb: int, max_processes: int) -> dict[str, Any]:
        """The OCI runtime's limits of one start's cgroup: those of this environment's."""
        limit = memory_mb * 1024 * 1024
        quota, weight = self.cpu
        memory: dict[str, Any] = {"limit": limit}
        if self.support.no_swap and (_CGROUP_ROOT / "memory" / "memory.memsw.limit_in_bytes").exists():
            memory["swap"] = limit  # memory+swap: none of it swap
        cpu: dict[str, Any] = {"shares": weight, "period": _CFS_PERIOD_US}
        if quota > 0:
            cpu["quota"] = quota
        resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
        if self.support.memory:
            resources["memory"] = memory
        if self.support.cpu_quota:
            resources["cpu"] = cpu
        if self.support.pids:
            resources["pids"] = {"limit": max_processes}
        return resources

    def peak_file(self) -> Path | None:
        if self.support.version == 2:
            return self._dir("") / "memory.peak"
        if self.support.version == 1:
            return self._dir("memory") / "memory.max_usage_in_bytes"
        return None

    def reset_peak(self) -> None:
        """A new start's peak begins from now, as a restarted Docker container's new cgroup does."""
        peak = self.peak_file()
        if peak is not None:
            _write(peak, "0" if self.support.version == 1 else "reset")

    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in this cgroup so far."""
        path = (
            self._dir("") / "memory.events"
            if self.support.version == 2
            else self._dir("memory") / "memory.oom_control"
        )
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def pids(self) -> list[int]:
        """Every process in this cgroup and the OOM runtime's cgroups nested in it."""
        root = self._dir("") if self.support.version == 2 else self._dir("pids")
        found: list[int] = []
        if not root.is_dir():
            return found
        # os.walk, not rglob: a start's cgroup may vanish while we look (the OCI runtime removes it).
        for folder, _, files in os.walk(root):
            if "cgroup.procs" not in files:
                continue
            try:
                found.extend(int(p) for p in Path(folder, "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def remove(self) -> None:
        # Every hierarchy: the OCI runtime makes this cgroup in all of them as the parent of a start's
        # own, and removes only that child.
        for path in _hierarchy_dirs(self.name, self.support):
            if not path.is_dir():
                continue
            # Children first (the OCI runtime's leftovers of killed starts), then this one.
            for folder, _, _ in sorted(os.walk(path), key=lambda entry: -len(Path(entry[0]).parts)):
                _rmdir(Path(folder))


def _hierarchy_dirs(name: str, support: CgroupSupport) -> list[Path]:
    """This environment's cgroup folder in each hierarchy, named `name` ("*" for all of ours)."""
    if support.version == 2:
        return list((_CGROUP_ROOT / _CGROUP_PARENT).glob(name))
    if support.version == 1:
        return list(_CGROUP_ROOT.glob(f"*/{_CGROUP_PARENT}/{name}"))
    return []


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        LOG.debug("cgroup %s = %s: %s", path, value, exc)


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError as exc:
        LOG.debug("rmdir %s: %s", path, exc)


# ---- the container handle


class EmbeddedContainer:
    """One environment's bundle: created once, its runtime process started again after each exit (one OCI
    container per start, named "<id>-<n>"), all of them in this environment's cgroup."""

    def __init__(
        self,
        backend: EmbeddedBackend,
        bundle: Path,
        spec: ContainerSpec,
        process: dict[str, Any],
        cgroup: EnvironmentCgroup,
        tmp: TmpDisk | None = None,
    ) -> None:
        self._backend = backend
        self._tmp = tmp  # its /tmp disk, removed with it
        self.id: str = bundle.name
        self._bundle = bundle
        self._spec = spec
        self._process = process
        self._cgroup = cgroup
        self._cond = threading.Condition()
        self._procs: list[subprocess.Popen[bytes]] = []
        self._removed = False
        self._started_at: float | None = None
        self._oom_before = 0
        self._peak = PeakMemory(cgroup.peak_file)
        self._killed = False  # by us, since the last start

    def _oci_id(self, start: int) -> str:
        return f"{self.id}-{start}"

    def attach(self) -> Iterator[bytes]:
        with self._cond:
            if self._removed:
                raise ContainerError(f"Container {self.id} was removed")
            generation = len(self._procs)
        return self._read(generation)

    def _read(self, generation: int) -> Iterator[bytes]:
        with self._cond:
            # Attach comes before start: wait for that start, or the removal that makes it never come.
            while len(self._procs) <= generation and not self._removed:
                self._cond.wait(timeout=1)
            if len(self._procs) <= generation:
                return
            proc = self._procs[generation]
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        try:
            while True:
                chunk = os.read(fd, _READ_SIZE)
                if not chunk:
                    return
                yield chunk
        except OSError as exc:
            LOG.debug("output of %s ended: %s", self.id, exc)
        finally:
            proc.stdout.close()

    def start(self) -> None:
        with self._cond:
            if self._removed:
                raise ContainerError(f"Cannot start container {self.id}: it was removed")
            start = len(self._procs)
            config = oci_config(self._spec, self._process, self._bundle, init=self._backend.init)
            config["linux"]["cgroupsPath"] = f"{self._cgroup.relative}/{start}"
            config["linux"]["resources"] = self._cgroup.resources(
                self._spec.memory_mb, self._spec.max_processes
            )
            self._cgroup.current = str(start)
            (self._bundle / "config.json").write_text(json.dumps(config))
            self._oom_before = self._cgroup.oom_kills()
            self._cgroup.reset_peak()
            self._killed = False
            try:
                proc = subprocess.Popen(
                    [
                        *self._backend.runtime_args(),
                        "run",
                        "--bundle",
                        str(self._bundle),
                        self._oci_id(start),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    # Its own session: Ctrl-C of our terminal reaches us, not the runtime (we stop it).
                    start_new_session=True,
                )
            except OSError as exc:
                raise ContainerError(f"Cannot start container {self.id}: {exc}") from exc
            self._started_at = time.time()
            self._procs.append(proc)
            self._cond.notify_all()

    def wait(self) -> ExitStatus:
        with self._cond:
            proc = self._procs[-1] if self._procs else None
        if proc is None:
            return ExitStatus(code=-1)
        code = proc.wait()
        if code < 0:  # the OCI runtime itself was signalled (our kill): report it as the process's end
            code = 128 - code
        return ExitStatus(code=code, oom_killed=self._oom_killed(code))

    def _oom_killed(self, code: int) -> bool:
        if self._cgroup.oom_kills() > self._oom_before:
            return True
        # Some kernels count the kill only in the per-start cgroup, which the OCI runtime has removed by
        # now: a SIGKILL nobody here sent, with memory at the limit, is the OOM killer's.
        if code != 128 + signal.SIGKILL or self._killed:
            return False
        peak = self.max_memory_bytes()
        limit = self._spec.memory_mb * 1024 * 1024
        return peak is not None and peak >= limit - 4 * 1024 * 1024

    def set_cpu_limits(self, vcpus: float | None, shares: int | None) -> None:
        self._cgroup.set_cpu(vcpus, shares)

    def started_at(self) -> float | None:
        return self._started_at

    def kill(self) -> None:
        # The runtime's whole sandbox: every process in this environment's cgroup (the namespace's PID 1
        # among them, whose end ends the rest), then the OCI runtime's own process.
        self._killed = True
        for pid in self._cgroup.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        with self._cond:
            proc = self._procs[-1] if self._procs else None
        if proc is not None and proc.poll() is None and not self._cgroup.pids():
            # No cgroup to find its processes by: ask the OCI runtime.
            subprocess.run(
                [*self._backend.runtime_args(), "kill", self._oci_id(len(self._procs) - 1), "KILL"],
                capture_output=True,
                check=False,
            )

    def max_memory_bytes(self) -> int | None:
        return self._peak.read()

    def discard(self) -> None:
        """Kill the sandbox now; the OCI runtime's state, the cgroup and the bundle are removed by a shell
        of their own session, which outlives this process (the OCI runtime's processes, ours until then,
        are reaped by init once we have exited). Where that shell cannot start: as remove() does it."""
        with self._cond:
            self._removed = True
            self._cond.notify_all()
            starts = len(self._procs)
        self.kill()
        self._peak.close()
        script = _cleanup_script(
            [[*self._backend.runtime_args(), "delete", "--force", self._oci_id(n)] for n in range(starts)],
            _hierarchy_dirs(self._cgroup.name, self._cgroup.support),
            self._bundle,
        )
        try:
            subprocess.Popen(
                ["/bin/sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of the terminal does not stop it halfway
            )
        except OSError as exc:
            LOG.debug("cleanup of %s by a shell: %s", self.id, exc)
            self.remove()
            return
        self._close_tmp()  # a lazy unmount: the sandbox still holding the disk does not keep it

    def remove(self) -> None:
        with self._cond:
            self._removed = True
            self._cond.notify_all()
            procs = list(self._procs)
        self.kill()
        for start, proc in enumerate(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            subprocess.run(
                [*self._backend.runtime_args(), "delete", "--force", self._oci_id(start)],
                capture_output=True,
                check=False,
            )
        self._peak.close()
        self._cgroup.remove()
        shutil.rmtree(self._bundle, ignore_errors=True)
        self._close_tmp()

    def _close_tmp(self) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.close()


def _cleanup_script(deletes: list[list[str]], cgroups: list[Path], bundle: Path) -> str:
    """The shell commands of EmbeddedContainer.remove after the kill: the OCI runtime's states deleted,
    each cgroup folder removed children first (retried for up to 5 s while killed processes exit), the
    bundle removed."""
    lines = [f"{shlex.join(command)} >/dev/null 2>&1" for command in deletes]
    for folder in cgroups:
        quoted = shlex.quote(str(folder))
        lines.append(
            f"i=0; while [ -d {quoted} ] && [ $i -lt 100 ]; do "
            f"find {quoted} -depth -type d -exec rmdir {{}} + 2>/dev/null; "
            f"[ -d {quoted} ] && sleep 0.05; i=$((i+1)); done"
        )
    lines.append(f"rm -rf {shlex.quote(str(bundle))}")
    return "\n".join(lines)


# ---- the backend


class EmbeddedBackend:
    """ContainerBackend over an OCI runtime. Needs root (rootless OCI runtimes are not supported yet)."""

    def __init__(
        self,
        *,
        rootfs: RootfsCache | None = None,
        runtime: str | None = None,
        root: Path | None = None,
    ) -> None:
        found = runtime or oci_runtime()
        if found is None:
            raise ContainerError(
                "No OCI runtime found for the embedded backend",
                hint="Install one (Debian: apt-get install runc, or crun) or use --backend docker.",
            )
        if os.geteuid() != 0:
            raise ContainerError(
                "The embedded backend needs root here (rootless OCI runtimes are not supported yet)",
                hint="Run as root, or use --backend docker.",
            )
        self._runtime = found
        self._root = root or state_root()
        self._bundles = self._root / "bundles"
        self._bundles.mkdir(parents=True, exist_ok=True)
        self._rootfs = rootfs or RootfsCache()
        self.cgroups = cgroup_support()
        self.init = docker_init()
        missing = self.cgroups.missing()
        if missing:
            LOG.warning("embedded backend: this host cannot enforce: %s", ", ".join(missing))

    def runtime_args(self) -> list[str]:
        return [self._runtime, "--root", str(self._root / "oci")]

    def create(self, spec: ContainerSpec) -> EmbeddedContainer:
        image = self._rootfs.get(spec.image)
        bundle = self._bundles / f"{spec.name[:40]}-{uuid.uuid4().hex[:12]}"
        bundle.mkdir(parents=True)
        spec, tmp = with_tmp(spec)
        try:
            labels = {LABEL: LABEL_VALUE, **spec.labels}
            (bundle / "state.json").write_text(json.dumps({"labels": labels, "image": spec.image}))
            (bundle / "hosts").write_text(_hosts_file(spec.extra_hosts))
            (bundle / "hostname").write_text("localhost\n")
            process = process_config(spec, image.config, self.init)
            cgroup = EnvironmentCgroup(bundle.name, self.cgroups)
            cgroup.create(spec.memory_mb, spec.max_processes)
            cgroup.set_cpu(None, spec.cpu_shares)
        except OSError as exc:
            tmp.close()
            shutil.rmtree(bundle, ignore_errors=True)
            raise ContainerError(f"Cannot create container {spec.name}: {exc}") from exc
        return EmbeddedContainer(self, bundle, replace(spec, image=str(image.root)), process, cgroup, tmp)

    def remove_stale(self, is_stale: StalePredicate) -> int:
        removed = 0
        if not self._bundles.is_dir():
            sweep_stale(is_stale)
            return 0
        for bundle in self._bundles.iterdir():
            try:
                labels = json.loads((bundle / "state.json").read_text()).get("labels") or {}
            except (OSError, ValueError):
                continue
            if labels.get(LABEL) != LABEL_VALUE or not is_stale(labels):
                continue
            LOG.info("removing leftover embedded container %s", bundle.name)
            self._remove_bundle(bundle)
            removed += 1
        sweep_stale(is_stale)  # their /tmp disks, once nothing uses them
        return removed

    def _remove_bundle(self, bundle: Path) -> None:
        cgroup = EnvironmentCgroup(bundle.name, self.cgroups)
        for pid in cgroup.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        oci_root = self._root / "oci"
        if oci_root.is_dir():
            for state in oci_root.glob(f"{bundle.name}-*"):
                subprocess.run(
                    [*self.runtime_args(), "delete", "--force", state.name], capture_output=True, check=False
                )
        cgroup.remove()
        shutil.rmtree(bundle, ignore_errors=True)


def oci_config(
    spec: ContainerSpec, process: dict[str, Any], bundle: Path, *, init: str | None
) -> dict[str, Any]:
    """The OCI bundle's config.json of `spec` (its root is `spec.image`, a folder)."""
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        # The host's network namespace is shared, so sysfs can only be the host's, bound read-only.
        {
            "destination": "/sys",
            "type": "bind",
            "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
        },
        # Its own cgroup as the root of the cgroup file system (a cgroup namespace), as in Docker.
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
        {
            "destination": "/etc/hosts",
            "type": "bind",
            "source": str(bundle / "hosts"),
            "options": ["bind", "ro"],
        },
        {
            "destination": "/etc/hostname",
            "type": "bind",
            "source": str(bundle / "hostname"),
            "options": ["bind", "ro"],
        },
    ]
    if os.path.exists("/etc/resolv.conf"):
        mounts.append(
            {
                "destination": "/etc/resolv.conf",
                "type": "bind",
                "source": "/etc/resolv.conf",
                "options": ["bind", "ro"],
            }
        )
    if init:
        mounts.append({"destination": "/dev/init", "type": "bind", "source": init, "options": ["bind", "ro"]})
    if spec.tmpfs_mb:
        mounts.append(
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", f"size={spec.tmpfs_mb}m", "mode=1777"],
            }
        )
    for mount in spec.mounts:
        options = ["rbind", "nosuid", "nodev"] + (["ro"] if mount.read_only else ["rw"])
        mounts.append(
            {"destination": mount.target, "type": "bind", "source": mount.source, "options": options}
        )
    return {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": spec.image, "readonly": spec.read_only_root},
        "hostname": "localhost",
        "mounts": mounts,
        "linux": {
            # No network namespace: the host's, so the Runtime API on 127.0.0.1 is reachable, as the
            # Docker backend's host networking.
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": list(_MASKED),
            "readonlyPaths": list(_READ_ONLY),
        },
    }


def _hosts_file(extra_hosts: tuple[tuple[str, str], ...]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{name}" for name, address in extra_hosts]
    return "\n".join(lines) + "\n"


def process_config(spec: ContainerSpec, image: Mapping[str, Any], init: str | None) -> dict[str, Any]:
    """The OCI process: the image's config overridden by the spec, as `docker create` does."""
    env: dict[str, str] = {}
    for item in image.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    env.update(spec.environment)
    entrypoint = list(spec.entrypoint) if spec.entrypoint else list(image.get("Entrypoint") or [])
    command = (
        list(spec.command) if spec.command else ([] if spec.entrypoint else list(image.get("Cmd") or []))
    )
    args = entrypoint + command
    if not args:
        raise ContainerError(f"Container {spec.name}: the image {spec.image} has no command")
    if init:
        args = ["/dev/init", "--", *args]
    uid, gid = _user(spec.user or image.get("User") or "0")
    nofile = spec.max_open_files
    return {
        "terminal": False,
        "user": {"uid": uid, "gid": gid, "additionalGids": [gid]},
        "args": args,
        "env": [f"{k}={v}" for k, v in env.items()],
        "cwd": spec.working_dir or image.get("WorkingDir") or "/",
        # Lambda's sandbox: no capabilities at all, no privilege escalation.
        "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
        "noNewPrivileges": True,
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
    }


def _user(user: str) -> tuple[int, int]:
    name, _, group = user.partition(":")
    try:
        uid = int(name)
        return uid, int(group) if group else uid
    except ValueError as exc:
        raise ContainerError(f"The embedded backend needs a numeric user (uid:gid), got {user!r}") from exc
