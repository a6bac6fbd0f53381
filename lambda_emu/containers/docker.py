"""The Docker implementation of the container backend (the docker SDK is used only in this package)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_emu.containers.base import ContainerSpec, ExitStatus, StalePredicate
from lambda_emu.containers.engine import LABEL, LABEL_VALUE, docker_client
from lambda_emu.containers.peak import PeakMemory
from lambda_emu.containers.tmpdisk import TmpDisk, sweep_stale, with_tmp
from lambda_emu.errors import ContainerError, ImageError

if TYPE_CHECKING:
    import docker

LOG = logging.getLogger(__name__)
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")
_DEFAULT_SHARES = 1024  # Docker's weight of a container started without one
_CFS_PERIOD_US = 100_000


class DockerContainer:
    def __init__(self, container: Any, tmp: TmpDisk | None = None) -> None:
        self._container = container
        self._tmp = tmp  # its /tmp disk, removed with it
        self.id: str = container.id
        self._cgroup_peak: Path | None = None
        self._peak = PeakMemory(self._peak_file)

    def attach(self) -> Iterator[bytes]:
        try:
            stream = self._container.attach(stdout=True, stderr=True, stream=True, logs=False)
        except Exception as exc:
            raise ContainerError(f"Cannot attach to container {self.id[:12]}: {exc}") from exc
        return _closing(stream)

    def start(self) -> None:
        try:
            self._container.start()
        except Exception as exc:
            raise ContainerError(f"Cannot start container {self.id[:12]}: {exc}") from exc

    def wait(self) -> ExitStatus:
        try:
            code = int(self._container.wait()["StatusCode"])
            self._container.reload()
            oom = bool(self._container.attrs["State"].get("OOMKilled"))
        except Exception as exc:  # the engine went away, or the container was removed under us
            LOG.debug("wait on %s failed: %s", self.id[:12], exc)
            return ExitStatus(code=-1)
        return ExitStatus(code=code, oom_killed=oom)

    def set_cpu_limits(self, vcpus: float | None, shares: int | None) -> None:
        quota = -1 if vcpus is None else max(1000, int(vcpus * _CFS_PERIOD_US))
        try:  # one engine call for both: the cold path pays it once, after init
            self._container.update(
                cpu_period=_CFS_PERIOD_US, cpu_quota=quota, cpu_shares=shares or _DEFAULT_SHARES
            )
        except Exception as exc:  # the container may be gone already (killed, removed)
            LOG.debug("cpu quota of %s: %s", self.id[:12], exc)

    def started_at(self) -> float | None:
        try:
            self._container.reload()
            stamp = self._container.attrs["State"]["StartedAt"]  # RFC 3339 with nanoseconds
        except Exception:
            return None
        return _parse_timestamp(stamp)

    def kill(self) -> None:
        try:
            self._container.kill()
        except Exception as exc:  # already stopped (409) or gone (404): both fine here
            LOG.debug("kill %s: %s", self.id[:12], exc)

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

    def remove(self) -> None:
        self._peak.close()
        try:
            self._container.remove(force=True)
        except Exception as exc:
            LOG.debug("remove %s: %s", self.id[:12], exc)
        if self._tmp is not None:
            self._tmp.close()


def _closing(stream: Any) -> Iterator[bytes]:
    """The attach stream's chunks, then its socket closed: the engine's connection is hijacked for the
    stream, so it never goes back to the client's pool, and left to the garbage collector one socket per
    start of a runtime stayed open."""
    try:
        yield from stream
    finally:
        try:
            stream.close()
        except Exception as exc:  # already closed by the engine's end of the stream
            LOG.debug("closing an attach stream: %s", exc)


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

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client or docker_client()

    def create(self, spec: ContainerSpec) -> DockerContainer:
        import docker.errors
        from docker.types import Mount as DockerMount
        from docker.types import Ulimit

        spec, tmp = with_tmp(spec)
        mounts = [
            DockerMount(target=m.target, source=m.source, type="bind", read_only=m.read_only)
            for m in spec.mounts
        ]
        try:
            container = self._client.containers.create(
                spec.image,
                command=list(spec.command) if spec.command else None,
                entrypoint=list(spec.entrypoint) if spec.entrypoint else None,
                name=spec.name,
                environment=dict(spec.environment),
                labels={LABEL: LABEL_VALUE, **spec.labels},
                mounts=mounts,
                working_dir=spec.working_dir,
                user=spec.user,
                # Only loopback is reachable: the Runtime API listens on 127.0.0.1 of this host.
                network_mode="host",
                extra_hosts=dict(spec.extra_hosts) or None,
                # MemorySize is a hard limit with no swap, as in Lambda.
                mem_limit=f"{spec.memory_mb}m",
                memswap_limit=f"{spec.memory_mb}m",
                cpu_shares=spec.cpu_shares,
                # Lambda's sandbox: nothing writable but /tmp, no capabilities, no privilege escalation,
                # 1,024 processes+threads (a cgroup limit: per environment, unlike a per-user ulimit).
                read_only=spec.read_only_root,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=spec.max_processes,
                ulimits=[Ulimit(name="nofile", soft=spec.max_open_files, hard=spec.max_open_files)],
                tmpfs={"/tmp": f"size={spec.tmpfs_mb}m,mode=1777"} if spec.tmpfs_mb else None,
                # A real PID 1 reaps the handler's orphans and reports a killed runtime as 128+signal.
                init=True,
                stdin_open=False,
                tty=False,
            )
        except docker.errors.ImageNotFound as exc:
            tmp.close()
            runtime_id = spec.image.split("/")[-1].split(":")[0]
            raise ImageError(
                f"Image {spec.image} is missing: {exc.explanation}",
                hint=f"Build it with: lambda-emu runtimes build {runtime_id}",
            ) from exc
        except docker.errors.APIError as exc:
            tmp.close()
            raise ContainerError(f"Cannot create container {spec.name}: {exc.explanation}") from exc
        return DockerContainer(container, tmp)

    def remove_stale(self, is_stale: StalePredicate) -> int:
        removed = 0
        try:
            # sparse: the list's own fields (labels included), without inspecting each container, which
            # fails with 404 when another process removes one of them meanwhile.
            containers = self._client.containers.list(
                all=True, sparse=True, filters={"label": f"{LABEL}={LABEL_VALUE}"}
            )
        except Exception as exc:
            raise ContainerError(f"Cannot list containers: {exc}") from exc
        for container in containers:
            if is_stale(container.attrs.get("Labels") or {}):
                LOG.info("removing leftover container %s", container.id[:12])
                DockerContainer(container).remove()
                removed += 1
        sweep_stale(is_stale)  # their /tmp disks, once nothing uses them
        return removed
