"""Container engines: the backend interface and its Docker implementation (the only users of docker)."""

from lambda_emu.containers.base import (
    ContainerBackend,
    ContainerHandle,
    ContainerSpec,
    ExitStatus,
    Mount,
)
from lambda_emu.containers.engine import LABEL, LABEL_VALUE

__all__ = [
    "LABEL",
    "LABEL_VALUE",
    "ContainerBackend",
    "ContainerHandle",
    "ContainerSpec",
    "ExitStatus",
    "Mount",
]
