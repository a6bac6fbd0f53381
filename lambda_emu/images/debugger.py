"""What a debug run (`invoke -d PORT`, `serve -d PORT`) adds to a function's container: the variable that
makes our bootstrap start the runtime client under a debugger, and for Python the debugger itself (debugpy,
fetched on the host once and cached as the images' SDKs are, then mounted read-only, not baked in)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from lambda_emu import wire
from lambda_emu.config import FunctionConfig
from lambda_emu.containers import Mount
from lambda_emu.errors import ConfigError
from lambda_emu.images.runtimes import RUNTIMES
from lambda_emu.images.vendor import HostFetcher, VendorSet

LOG = logging.getLogger(__name__)

# debugpy's newest release on PyPI when this was written; pure Python, so one wheel serves every python3.x.
DEBUGPY_VERSION = "1.8.22"
# The runtime families whose bootstrap honours ENV_DEBUG_PORT (runtimes/README.md).
DEBUGGABLE_FAMILIES = ("python", "nodejs")


@dataclass(frozen=True)
class DebugAttach:
    """A debug run's additions to the container: its environment variables and read-only mounts."""

    environment: tuple[tuple[str, str], ...]
    mounts: tuple[Mount, ...] = ()


def debugger_family(function: FunctionConfig) -> str:
    """The runtime family ("python", "nodejs") whose debugger a debug run of `function` starts, checked
    before any image is built; a ConfigError for a function no debugger of ours can start."""
    spec = RUNTIMES.get(function.runtime) if function.package_type != "Image" else None
    if spec is None or spec.family not in DEBUGGABLE_FAMILIES:
        raise ConfigError(
            f"Function {function.name}: -d/--debug-port attaches a debugger to Python and Node.js runtimes "
            "only" + (" (a container image runs its own entry point)." if spec is None else "."),
            hint="Leave out -d for this function, or debug a python3.x or nodejs*.x function.",
        )
    return spec.family


def debug_attach(
    family: str,
    port: int,
    *,
    function: str,
    python_version: str | None = None,
    fetcher: HostFetcher | None = None,
    progress: Callable[[str], None] = LOG.info,
) -> DebugAttach:
    """The additions that make a runtime of `family` ("python", "nodejs") wait for a debugger on
    127.0.0.1:port."""
    if family not in DEBUGGABLE_FAMILIES:
        raise ConfigError(
            f"Function {function}: -d/--debug-port attaches a debugger to Python and Node.js runtimes only.",
            hint="Leave out -d for this function, or debug a python3.x or nodejs*.x function.",
        )
    environment = ((wire.ENV_DEBUG_PORT, str(port)),)
    if family != "python":
        return DebugAttach(environment)  # Node's inspector is built in
    wanted = VendorSet(python_version=python_version, pip=(f"debugpy=={DEBUGPY_VERSION}",))
    folder = (fetcher or HostFetcher()).fetch(wanted, progress) / "runtime"
    return DebugAttach(environment, (Mount(str(folder), wire.DEBUGGER_DIR, read_only=True),))
