"""Which containers are leftovers: each carries its owner's pid and start time, so a later run removes
those of dead lambda-emu processes and never those of one still running (e.g. a `serve`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import psutil

LOG = logging.getLogger(__name__)

OWNER_LABEL = "dev.lambda-emu.owner"
FUNCTION_LABEL = "dev.lambda-emu.function"


def owner_token(pid: int | None = None) -> str:
    """ "<pid>:<process start time>": pid reuse cannot make a dead owner look alive."""
    process = psutil.Process(pid or os.getpid())
    return f"{process.pid}:{process.create_time():.3f}"


def owner_alive(token: str) -> bool:
    pid_text, _, started = token.partition(":")
    try:
        return owner_token(int(pid_text)) == f"{int(pid_text)}:{float(started):.3f}"
    except (ValueError, psutil.Error):
        return False


def is_stale(labels: Mapping[str, str]) -> bool:
    """A container of ours whose owner process is gone is a leftover. One without an owner label is not
    ours to remove: containers inherit our images' labels, so a user's own `docker run` of one has them."""
    token = labels.get(OWNER_LABEL)
    return token is not None and not owner_alive(token)
