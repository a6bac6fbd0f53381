"""Lambda's instruction set architectures (x86_64, arm64): their names in Debian and Docker, which one this
machine runs natively, and whether a foreign one can run here under emulation (qemu-user via binfmt_misc)."""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from lambda_emu.errors import ConfigError, ImageError

LOG = logging.getLogger(__name__)

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
EMULATION_PACKAGES = "qemu-user-static binfmt-support"


@dataclass(frozen=True)
class Architecture:
    name: str  # Lambda's name, as in Architectures
    debian: str  # dpkg's name, for mmdebstrap --arch
    platform: str  # the engine's platform
    binfmt_entry: str  # the binfmt_misc entry through which qemu-user runs its binaries elsewhere


ARCHITECTURES = MappingProxyType(
    {
        arch.name: arch
        for arch in (
            Architecture("x86_64", "amd64", "linux/amd64", "qemu-x86_64"),
            Architecture("arm64", "arm64", "linux/arm64", "qemu-aarch64"),
        )
    }
)
# platform.machine() of either architecture, on Linux and elsewhere.
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ConfigError(
            f"Unsupported architecture {name!r}. Lambda's are: {', '.join(ARCHITECTURES)}."
        ) from None


def native_architecture(machine: str | None = None) -> str | None:
    """This machine's architecture in Lambda's terms, or None when Lambda has no such architecture."""
    return _MACHINES.get((machine or platform.machine()).lower())


def is_foreign(name: str) -> bool:
    return name != native_architecture()


def require_emulation(arch: Architecture, binfmt_dir: Path = BINFMT_DIR) -> None:
    """Raise ImageError with what to install unless the kernel runs `arch` binaries through qemu-user.

    The entry needs the F flag (interpreter opened at registration): a container does not hold the
    interpreter's path, so without it every exec there fails. qemu-user-static registers it so."""
    native = native_architecture() or platform.machine()
    entry = binfmt_dir / arch.binfmt_entry
    try:
        fields = entry.read_text().splitlines()
    except OSError:
        raise ImageError(
            f"Functions for {arch.name} need emulation on this {native} machine, and the kernel has no "
            f"{arch.binfmt_entry} binfmt_misc entry to run their binaries.",
            hint=f"Install qemu-user emulation: sudo apt-get install -y {EMULATION_PACKAGES} "
            f"(or set Architectures to [{native}]).",
        ) from None
    if not fields or fields[0].strip() != "enabled":
        raise ImageError(
            f"The {arch.binfmt_entry} binfmt_misc entry that runs {arch.name} binaries is disabled.",
            hint=f"Enable it: sudo update-binfmts --enable {arch.binfmt_entry}",
        )
    flags = next((line.split(":", 1)[1] for line in fields if line.startswith("flags:")), "")
    if "F" not in flags:
        raise ImageError(
            f"The {arch.binfmt_entry} binfmt_misc entry lacks the F flag, so containers cannot reach its "
            "interpreter.",
            hint=f"Use the static build, which registers it so: sudo apt-get install -y {EMULATION_PACKAGES}",
        )
    LOG.debug("%s runs under emulation through %s", arch.name, entry)
