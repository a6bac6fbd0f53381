"""Which container backend runs environments: `auto` (Docker when its engine answers, else embedded),
`docker` or `embedded`; and what each would enforce on this host (for `lambda-emu doctor`)."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass

from lambda_emu.containers.base import ContainerBackend
from lambda_emu.errors import ConfigError, ContainerError

LOG = logging.getLogger(__name__)

BACKENDS = ("auto", "docker", "embedded")


def docker_answers() -> bool:
    from lambda_emu.containers.engine import engine

    try:
        engine()
    except ContainerError:
        return False
    return True


def resolve(name: str | None) -> str:
    """The concrete backend `name` (or LAMBDA_EMU_BACKEND, default auto) stands for here."""
    chosen = (name or os.environ.get("LAMBDA_EMU_BACKEND") or "auto").lower()
    if chosen not in BACKENDS:
        raise ConfigError(f"Unknown backend {chosen!r}", hint=f"Use one of: {', '.join(BACKENDS)}")
    if chosen == "auto":
        return "docker" if docker_answers() else "embedded"
    return chosen


def make_backend(name: str | None) -> ContainerBackend:
    concrete = resolve(name)
    LOG.debug("container backend: %s", concrete)
    if concrete == "docker":
        from lambda_emu.containers.docker import DockerBackend

        return DockerBackend()
    from lambda_emu.containers.embedded import EmbeddedBackend

    return EmbeddedBackend()


@dataclass(frozen=True)
class HostReport:
    backend: str  # what `auto` would run
    docker: bool
    oci_runtime: str | None
    root: bool
    limits: dict[str, bool]  # the embedded backend's limits, by name: enforced here or not
    notes: tuple[str, ...]


def host_report() -> HostReport:
    from lambda_emu.containers.embedded import cgroup_support, docker_init, oci_runtime

    docker = docker_answers()
    runtime = oci_runtime()
    root = os.geteuid() == 0
    cgroups = cgroup_support()
    limits = {
        "namespaces (mount, pid, ipc, uts; host network)": runtime is not None and root,
        "read-only root, /var/task and /opt read-only": runtime is not None and root,
        "sandbox user, no capabilities, no_new_privileges": runtime is not None and root,
        "memory hard limit": cgroups.memory,
        "no swap": cgroups.no_swap,
        "CPU quota proportional to memory": cgroups.cpu_quota,
        "pids limit (1024)": cgroups.pids,
    }
    notes = []
    if runtime is None:
        notes.append("no OCI runtime (runc or crun) found: the embedded backend cannot run")
    if not root:
        notes.append("not root: the embedded backend needs root (rootless runtimes are not supported yet)")
    if cgroups.version is None:
        notes.append("no writable cgroup file system: no memory, CPU or pids limits")
    else:
        notes.append(f"cgroup v{cgroups.version}")
    if not docker:
        from lambda_emu.containers.rootfs_cache import default_cache

        made = (
            "builds runtime images"
            if shutil.which("mmdebstrap")
            else "cannot build runtime images (no mmdebstrap)"
        )
        notes.append(f"no Docker engine: the embedded backend {made} into {default_cache()}")
    if docker_init() is None:
        notes.append("no docker-init/tini on this host: the runtime runs as PID 1 (orphans not reaped)")
    return HostReport("docker" if docker else "embedded", docker, runtime, root, limits, tuple(notes))
