"""Which containers are leftovers: each carries its owner's pid and start time, so a later run removes
those of dead lambda-emu processes and never those of one still running (e.g. a `serve`)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping

LOG = logging.getLogger(__name__)

OWNER_LABEL = "dev.lambda-emu.owner"
FUNCTION_LABEL = "dev.lambda-emu.function"


def owner_token(pid: int | None = None) -> str:
    """ "<pid>:<process start time>": pid reuse cannot make a dead owner look alive. Raises OSError (or
    psutil's error) when there is no such process."""
    pid = pid or os.getpid()
    return f"{pid}:{_create_time(pid):.3f}"


def owner_alive(token: str) -> bool:
    pid_text, _, started = token.partition(":")
    try:
        return owner_token(int(pid_text)) == f"{int(pid_text)}:{float(started):.3f}"
    except Exception:  # no such process (OSError, psutil.Error), or a malformed token (ValueError)
        return False


def _create_time(pid: int) -> float:
    """The process's start time in epoch seconds, computed as psutil does on Linux (boot time plus the
    start in clock ticks, /proc/PID/stat's 22nd field), without importing psutil (~10 ms on every cold
    CLI invoke); psutil elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()  # after "(comm)", which may hold spaces
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            raise  # Linux: the process is gone
        import psutil

        return float(psutil.Process(pid).create_time())
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


@functools.lru_cache(maxsize=1)
def _boot_time() -> float:
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"btime"):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def is_stale(labels: Mapping[str, str]) -> bool:
    """A container of ours whose owner process is gone is a leftover. One without an owner label is not
    ours to remove: containers inherit our images' labels, so a user's own `docker run` of one has them."""
    token = labels.get(OWNER_LABEL)
    return token is not None and not owner_alive(token)
