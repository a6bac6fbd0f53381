"""What the environment needs from a container engine: a spec, a handle, a backend (interface only)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Mount:
    source: str  # a path on this machine
    target: str  # the path in the container
    read_only: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """One execution environment's container: enforced limits and what it runs."""

    image: str
    name: str
    environment: Mapping[str, str]
    labels: Mapping[str, str]
    memory_mb: int
    command: tuple[str, ...] | None = None  # None: the image's own CMD
    entrypoint: tuple[str, ...] | None = None  # None: the image's own ENTRYPOINT
    mounts: tuple[Mount, ...] = ()
    working_dir: str | None = "/var/task"
    user: str | None = None  # None: the image's own USER
    # (name, address) pairs added to the container's /etc/hosts.
    extra_hosts: tuple[tuple[str, str], ...] = ()
    tmp_mb: int = 512  # /tmp's size (EphemeralStorage): the backend makes it (containers/tmpdisk.py)
    tmpfs_mb: int | None = None  # set by the backend where /tmp is a size-limited tmpfs, not a disk
    cpu_shares: int | None = None  # relative weight under contention (1024 = one vCPU's worth)
    # Lambda's sandbox: read-only root file system, 1,024 processes+threads and file descriptors.
    read_only_root: bool = True
    max_processes: int = 1024
    max_open_files: int = 1024


@dataclass(frozen=True)
class ExitStatus:
    code: int
    oom_killed: bool = False

    def describe(self) -> str:
        """Lambda's wording of a process end: "exit status 1", "signal: killed" (Lambda's Runtime API)."""
        if self.oom_killed or self.code == 137:
            return "signal: killed"
        if self.code > 128:
            return f"signal: {_SIGNAL_NAMES.get(self.code - 128, str(self.code - 128))}"
        return f"exit status {self.code}"


_SIGNAL_NAMES = {
    1: "hangup",
    2: "interrupt",
    6: "aborted",
    9: "killed",
    11: "segmentation fault",
    15: "terminated",
}


class ContainerHandle(Protocol):
    id: str

    def attach(self) -> Iterator[bytes]:
        """The process's stdout and stderr from the next start on; open it before `start`."""
        ...

    def start(self) -> None: ...

    def wait(self) -> ExitStatus:
        """Block until the process ends."""
        ...

    def set_cpu_limits(self, vcpus: float | None, shares: int | None) -> None:
        """From now on a hard CPU quota in vCPUs and a weight under contention (1024 = one vCPU's worth);
        None lifts the quota and gives the default weight."""
        ...

    def started_at(self) -> float | None:
        """Wall time (epoch seconds) the current process started, when the engine can tell."""
        ...

    def kill(self) -> None:
        """SIGKILL the process; no error when it is already gone."""
        ...

    def max_memory_bytes(self) -> int | None:
        """Peak memory of the container since it was created, when the engine can tell."""
        ...

    def remove(self) -> None: ...

    def discard(self) -> None:
        """Remove it without waiting for the engine to be done (a one-shot invoke's teardown, after its
        answer is out); a backend that cannot hand the removal over removes it here."""
        ...


class ContainerBackend(Protocol):
    def create(self, spec: ContainerSpec) -> ContainerHandle: ...

    def remove_stale(self, is_stale: StalePredicate) -> int:
        """Remove our labelled containers for which `is_stale(labels)` holds; return how many."""
        ...


class StalePredicate(Protocol):
    def __call__(self, labels: Mapping[str, str]) -> bool: ...
