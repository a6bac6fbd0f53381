"""Fakes of our own lower layers, for unit tests only: a container backend whose "containers" are local
processes running our runtime client, so environments and the invoker run without Docker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from lambda_emu.containers import ContainerSpec, ExitStatus
from lambda_emu.containers.base import StalePredicate
from lambda_emu.errors import ContainerError

RUNTIME_CLIENT = Path(__file__).resolve().parent.parent / "runtimes" / "python" / "runtime_client.py"
FAKE_HOSTS = Path(__file__).resolve().parent / "fake_hosts"  # its sitecustomize plays /etc/hosts


class ProcessContainer:
    def __init__(
        self, spec: ContainerSpec, exit_notice_delay: float = 0.0, peak_bytes: int | None = None
    ) -> None:
        self.spec = spec
        # The peak a cgroup would report while the process runs (its cgroup, and the figure, go with it).
        self.peak_bytes = peak_bytes
        # How long after the process ends `wait` returns: an engine notices an exit late, sometimes.
        self.exit_notice_delay = exit_notice_delay
        self.id = uuid.uuid4().hex
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_fd: int | None = None
        self._started: float | None = None
        self.removed = False
        self.unkillable = False  # kill() does nothing, as an engine that cannot kill a sandbox
        self.starts = 0
        self.cpu_quota: float | None = None
        self.cpu_shares: int | None = None

    def attach(self) -> Iterator[bytes]:
        if self.removed:
            raise ContainerError(f"Cannot attach to container {self.id[:12]}: No such container")
        read_fd, self._write_fd = os.pipe()

        def chunks() -> Iterator[bytes]:
            with os.fdopen(read_fd, "rb", buffering=0) as pipe:
                while chunk := pipe.read(65536):
                    yield chunk

        return chunks()

    def start(self) -> None:
        task_root = next(m.source for m in self.spec.mounts if m.target == "/var/task")
        env = dict(self.spec.environment, LAMBDA_TASK_ROOT=task_root, PATH=os.environ.get("PATH", ""))
        if self.spec.extra_hosts:
            env["PYTHONPATH"] = str(FAKE_HOSTS)
            env["_FAKE_HOSTS"] = ",".join(f"{name}={address}" for name, address in self.spec.extra_hosts)
        self._started = time.time()
        self.starts += 1
        # An entry point of the spec (a custom runtime's bootstrap in a test) runs instead of our client.
        argv = list(self.spec.entrypoint) if self.spec.entrypoint else [sys.executable, str(RUNTIME_CLIENT)]
        self._proc = subprocess.Popen(
            argv,
            env=env,
            cwd=task_root,
            stdout=self._write_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self._write_fd is not None
        os.close(self._write_fd)  # the child holds it; EOF comes when the child is gone

    def wait(self) -> ExitStatus:
        assert self._proc is not None
        code = self._proc.wait()
        time.sleep(self.exit_notice_delay)
        return ExitStatus(128 - code if code < 0 else code)

    def exited(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    def started_at(self) -> float | None:
        return self._started

    def set_cpu_limits(self, vcpus: float | None, shares: int | None) -> None:
        self.cpu_quota = vcpus
        self.cpu_shares = shares

    def kill(self) -> None:
        if not self.unkillable:
            self._kill()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)

    def max_memory_bytes(self) -> int | None:
        return None if self._proc is None or self.exited() else self.peak_bytes

    def remove(self) -> None:
        self._kill()
        if self._proc is not None:
            self._proc.wait(timeout=10)
        self.removed = True

    def discard(self) -> None:
        self.remove()


class ProcessBackend:
    def __init__(self, exit_notice_delay: float = 0.0, peak_bytes: int | None = None) -> None:
        self.exit_notice_delay = exit_notice_delay
        self.peak_bytes = peak_bytes
        self.created: list[ProcessContainer] = []
        self._lock = threading.Lock()

    def create(self, spec: ContainerSpec) -> ProcessContainer:
        container = ProcessContainer(spec, self.exit_notice_delay, self.peak_bytes)
        with self._lock:
            self.created.append(container)
        return container

    def remove_stale(self, is_stale: StalePredicate) -> int:
        return 0
