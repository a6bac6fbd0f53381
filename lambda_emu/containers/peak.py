"""A container's peak memory, read from its cgroup's high-water mark (cgroup v1 `memory.max_usage_in_bytes`,
v2 `memory.peak`): what Lambda's REPORT line calls Max Memory Used. Both backends read it the same way."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


class PeakMemory:
    """Reads the file `locate` finds. Read on every invoke, so the file stays open and is read from offset
    0 (a tenth of an open per read); a restarted container has a new cgroup, whose file is found again once
    a read of the old one fails."""

    def __init__(self, locate: Callable[[], Path | None]) -> None:
        self._locate = locate
        self._fd: int | None = None

    def read(self) -> int | None:
        """Bytes, or None where the host's cgroups give no such file."""
        for _ in range(2):
            if self._fd is None:
                path = self._locate()
                if path is None:
                    return None
                try:
                    self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    return None
            try:
                return int(os.pread(self._fd, 64, 0))
            except (OSError, ValueError):
                self.close()
        return None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
