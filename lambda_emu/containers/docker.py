"""The Docker implementation of the container backend, over the Engine API (engine_api.py)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lambda_emu.containers.base import ContainerSpec, ExitStatus, StalePredicate
from lambda_emu.containers.engine import LABEL, LABEL_VALUE
from lambda_emu.containers.engine import engine as default_engine
from lambda_emu.containers.engine_api import EngineReply, EngineTransport
from lambda_emu.containers.peak import PeakMemory
from lambda_emu.containers.tmpdisk import TmpDisk, sweep_stale, with_tmp
from lambda_emu.errors import ContainerError, ImageError

LOG = logging.getLogger(__name__)
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")
_DEFAULT_SHARES = 1024  # Docker's weight of a container started without one
_CFS_PERIOD_US = 100_000


class DockerContainer:
    def __init__(self, engine: EngineTransport, container_id: str, tmp: TmpDisk | None = None) -> None:
        self._engine = engine
        self.id = container_id
        self._tmp = tmp  # its /tmp disk, removed with it
        self._cgroup_peak: Path | None = None
        self._peak = PeakMemory(self._peak_file)
        self._started: tuple[list[float | None], threading.Thread] | None = None

    def _call(self, method: str, action: str, **kwargs: Any) -> EngineReply:
        return self._engine.call(method, f"/containers/{self.id}{action}", **kwargs)

    def attach(self) -> Iterator[bytes]:
        try:
            return self._engine.attach(self.id)
        except OSError as exc:
            raise ContainerError(f"Cannot attach to container {self.id[:12]}: {exc}") from exc

    def start(self) -> None:
        try:
            reply = self._call("POST", "/start")
        except OSError as exc:
            raise ContainerError(f"Cannot start container {self.id[:12]}: {exc}") from exc
        if not reply.ok and reply.status != 304:  # 304: already started
            raise ContainerError(f"Cannot start container {self.id[:12]}: {reply.message}")
        # Asked now, while the runtime initialises: the REPORT's Init Duration needs the engine's StartedAt
        # after the invocation, where the round trip would delay the answer.
        found: list[float | None] = []
        self._started = (
            found,
            threading.Thread(
                target=lambda: found.append(self._read_started_at()),
                name=f"started-at-{self.id[:8]}",
                daemon=True,
            ),
        )
        self._started[1].start()

    def wait(self) -> ExitStatus:
        try:
            reply = self._call("POST", "/wait", timeout=None)
            if not reply.ok:
                raise OSError(reply.message)
            code = int(reply.json()["StatusCode"])
            oom = bool((self._inspect().get("State") or {}).get("OOMKilled"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # the engine went away, or the container was removed under us
            LOG.debug("wait on %s failed: %s", self.id[:12], exc)
            return ExitStatus(code=-1)
        return ExitStatus(code=code, oom_killed=oom)

    def _inspect(self) -> dict[str, Any]:
        reply = self._call("GET", "/json")
        if not reply.ok:
            raise OSError(reply.message)
        return reply.json() or {}

    def set_cpu_limits(self, vcpus: float | None, shares: int | None) -> None:
        quota = -1 if vcpus is None else max(1000, int(vcpus * _CFS_PERIOD_US))
        # Straight into the container's cgroup where this process may write it: the engine's update
        # also rewrites the container's stored configuration, ~25 ms on the cold path (after init,
        # before the first invocation is handed out) and again before the kill. A restart makes a new
        # cgroup from that stored configuration, which has no quota: a re-init runs unthrottled anyway.
        if _write_cpu_cgroup(self.id, quota, shares):
            return
        body = {"CpuPeriod": _CFS_PERIOD_US, "CpuQuota": quota, "CpuShares": shares or _DEFAULT_SHARES}
        try:
            reply = self._call("POST", "/update", body=body)
            if not reply.ok:
                raise OSError(reply.message)
        except OSError as exc:  # the container may be gone already (killed, removed)
            LOG.debug("cpu quota of %s: %s", self.id[:12], exc)

    def started_at(self) -> float | None:
        asked, self._started = self._started, None
        if asked is not None:
            found, thread = asked
            thread.join(timeout=10)
            if found:
                return found[0]
        return self._read_started_at()

    def _read_started_at(self) -> float | None:
        try:
            stamp = self._inspect()["State"]["StartedAt"]  # RFC 3339 with nanoseconds
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return _parse_timestamp(stamp)

    def kill(self) -> None:
        try:
            reply = self._call("POST", "/kill")
        except OSError as exc:
            LOG.debug("kill %s: %s", self.id[:12], exc)
            return
        if not reply.ok:  # already stopped (409) or gone (404): both fine here
            LOG.debug("kill %s: %s", self.id[:12], reply.message)

    def max_memory_bytes(self) -> int | None:
        return self._peak.read()

    def _peak_file(self) -> Path | None:
        if self._cgroup_peak is None:
            # cgroup v1 with the cgroupfs driver (these machines); v2 keeps memory.peak per scope.
            for candidate in (
                _CGROUP_V1 / "docker" / self.id / "memory.max_usage_in_bytes",
                _CGROUP_V1 / "system.slice" / f"docker-{self.id}.scope" / "memory.max_usage_in_bytes",
                Path("/sys/fs/cgroup/system.slice") / f"docker-{self.id}.scope" / "memory.peak",
                Path("/sys/fs/cgroup/docker") / self.id / "memory.peak",
            ):
                if candidate.exists():
                    self._cgroup_peak = candidate
                    break
        return self._cgroup_peak

    def discard(self) -> None:
        self._peak.close()
        try:
            self._engine.send("DELETE", f"/containers/{self.id}", query={"force": "1"})
        except OSError as exc:  # then as remove() does it
            LOG.debug("discard %s: %s", self.id[:12], exc)
            self.remove()
            return
        self._close_tmp()  # a lazy unmount: the container still holding the disk does not keep it

    def remove(self) -> None:
        self._peak.close()
        try:
            reply = self._engine.call("DELETE", f"/containers/{self.id}", query={"force": "1"})
        except OSError as exc:
            LOG.debug("remove %s: %s", self.id[:12], exc)
        else:
            if not reply.ok and reply.status != 404:
                LOG.debug("remove %s: %s", self.id[:12], reply.message)
        self._close_tmp()

    def _close_tmp(self) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.close()


def _write_cpu_cgroup(container_id: str, quota: int, shares: int | None) -> bool:
    """The quota (µs per _CFS_PERIOD_US, -1: none) and weight written to the container's cgroup files, as
    the engine writes them (cgroup v1: cpu.cfs_*, cpu.shares; v2: cpu.max, cpu.weight); False when there
    is no such cgroup here or it cannot be written (rootless, another host's engine)."""
    for root in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct")):
        for folder in (
            root / "docker" / container_id,
            root / "system.slice" / f"docker-{container_id}.scope",
        ):
            if (folder / "cpu.cfs_quota_us").exists():
                return _write_files(
                    folder,
                    [
                        ("cpu.cfs_period_us", str(_CFS_PERIOD_US)),
                        ("cpu.cfs_quota_us", str(quota)),
                        ("cpu.shares", str(shares or _DEFAULT_SHARES)),
                    ],
                )
    for folder in (
        Path("/sys/fs/cgroup/system.slice") / f"docker-{container_id}.scope",
        Path("/sys/fs/cgroup/docker") / container_id,
    ):
        if (folder / "cpu.max").exists():
            # runc's conversion of shares to a weight (2..262144 onto 1..10000); 100 is the default.
            weight = 100 if shares is None else 1 + ((shares - 2) * 9999) // 262142
            limit = "max" if quota < 0 else str(quota)
            return _write_files(
                folder, [("cpu.max", f"{limit} {_CFS_PERIOD_US}"), ("cpu.weight", str(weight))]
            )
    return False


def _write_files(folder: Path, values: list[tuple[str, str]]) -> bool:
    try:
        for name, value in values:
            (folder / name).write_text(value)
    except OSError as exc:  # not ours to write, or the container just went away
        LOG.debug("cgroup %s: %s", folder, exc)
        return False
    return True


def _parse_timestamp(stamp: str) -> float | None:
    import datetime

    try:
        whole, _, fraction = stamp.rstrip("Z").partition(".")
        moment = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)
    except ValueError:
        return None


class DockerBackend:
    """Creates labelled containers on host networking; finds and removes only labelled ones."""

    def __init__(self, engine: EngineTransport | None = None) -> None:
        self._engine = engine or default_engine()

    def create(self, spec: ContainerSpec) -> DockerContainer:
        spec, tmp = with_tmp(spec)
        try:
            reply = self._engine.call(
                "POST", "/containers/create", query={"name": spec.name}, body=create_body(spec)
            )
        except OSError as exc:
            tmp.close()
            raise ContainerError(f"Cannot create container {spec.name}: {exc}") from exc
        if reply.status == 404:
            tmp.close()
            runtime_id = spec.image.split("/")[-1].split(":")[0]
            raise ImageError(
                f"Image {spec.image} is missing: {reply.message}",
                hint=f"Build it with: lambda-emu runtimes build {runtime_id}",
            )
        if not reply.ok:
            tmp.close()
            raise ContainerError(f"Cannot create container {spec.name}: {reply.message}")
        return DockerContainer(self._engine, reply.json()["Id"], tmp)

    def remove_stale(self, is_stale: StalePredicate) -> int:
        removed = 0
        try:
            # The list's own fields (labels included), without inspecting each container, which fails
            # with 404 when another process removes one of them meanwhile.
            filters = json.dumps({"label": [f"{LABEL}={LABEL_VALUE}"]})
            reply = self._engine.call("GET", "/containers/json", query={"all": "1", "filters": filters})
            if not reply.ok:
                raise OSError(reply.message)
            containers = reply.json() or []
        except (OSError, ValueError) as exc:
            raise ContainerError(f"Cannot list containers: {exc}") from exc
        for container in containers:
            if is_stale(container.get("Labels") or {}):
                LOG.info("removing leftover container %s", container["Id"][:12])
                DockerContainer(self._engine, container["Id"]).remove()
                removed += 1
        sweep_stale(is_stale)  # their /tmp disks, once nothing uses them
        return removed


def create_body(spec: ContainerSpec) -> dict[str, Any]:
    """The Engine API's ContainerCreate body for `spec` (Docker Engine API: POST /containers/create)."""
    host: dict[str, Any] = {
        # Only loopback is reachable: the Runtime API listens on 127.0.0.1 of this host.
        "NetworkMode": "host",
        # MemorySize is a hard limit with no swap, as in Lambda.
        "Memory": spec.memory_mb * 1024 * 1024,
        "MemorySwap": spec.memory_mb * 1024 * 1024,
        # Lambda's sandbox: nothing writable but /tmp, no capabilities, no privilege escalation,
        # 1,024 processes+threads (a cgroup limit: per environment, unlike a per-user ulimit).
        "ReadonlyRootfs": spec.read_only_root,
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "PidsLimit": spec.max_processes,
        "Ulimits": [{"Name": "nofile", "Soft": spec.max_open_files, "Hard": spec.max_open_files}],
        # A real PID 1 reaps the handler's orphans and reports a killed runtime as 128+signal.
        "Init": True,
        "Mounts": [
            {"Target": m.target, "Source": m.source, "Type": "bind", "ReadOnly": m.read_only}
            for m in spec.mounts
        ],
    }
    if spec.extra_hosts:
        host["ExtraHosts"] = [f"{name}:{address}" for name, address in spec.extra_hosts]
    if spec.cpu_shares is not None:
        host["CpuShares"] = spec.cpu_shares
    if spec.tmpfs_mb:
        host["Tmpfs"] = {"/tmp": f"size={spec.tmpfs_mb}m,mode=1777"}
    body: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{key}={value}" for key, value in spec.environment.items()],
        "Labels": {LABEL: LABEL_VALUE, **spec.labels},
        "User": spec.user,
        "WorkingDir": spec.working_dir,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host,
    }
    if spec.command:
        body["Cmd"] = list(spec.command)
    if spec.entrypoint:
        body["Entrypoint"] = list(spec.entrypoint)
    return body
