"""The connection to the Docker engine: the only place a docker client is made."""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING

from lambda_emu.errors import ContainerError

if TYPE_CHECKING:
    import docker

    from lambda_emu.containers.engine_api import EngineTransport

LOG = logging.getLogger(__name__)

# Every container and image lambda-emu creates carries this label, so only ours are ever touched.
LABEL = "dev.lambda-emu"
LABEL_VALUE = "1"


@functools.lru_cache(maxsize=1)
def docker_client() -> docker.DockerClient:
    """A client of the local engine, made once; ContainerError with a hint when none answers."""
    import docker  # lazy: importing the SDK costs ~100 ms on the CLI path

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no engine"
        raise _unreachable(exc) from exc
    return client


def _unreachable(exc: Exception) -> ContainerError:
    return ContainerError(
        f"Cannot reach the Docker engine at {engine_address()}: {_reason(exc)}",
        hint="Start Docker and retry; an engine elsewhere is named by DOCKER_HOST "
        "(e.g. DOCKER_HOST=unix:///run/user/1000/docker.sock for rootless Docker).",
    )


@functools.lru_cache(maxsize=1)
def engine() -> EngineTransport:
    """The Engine API transport of the invoke path (no SDK import), checked once with a ping;
    ContainerError with the same hint as docker_client's when no engine answers."""
    from lambda_emu.containers.engine_api import transport_for

    try:
        transport = transport_for()
        reply = transport.call("GET", "/_ping", timeout=30)
        if not reply.ok:
            raise OSError(reply.message)
    except ContainerError:
        raise
    except Exception as exc:
        raise _unreachable(exc) from exc
    return transport


def engine_address() -> str:
    """Where the Docker SDK looks for the engine: DOCKER_HOST, else the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (DOCKER_HOST is not set)"


def _reason(exc: Exception) -> str:
    """The SDK's innermost reason ("No such file or directory", "Connection refused"), not its wrappers."""
    reason: BaseException = exc
    while reason.__cause__ is not None or reason.__context__ is not None:
        reason = reason.__cause__ or reason.__context__  # type: ignore[assignment]
    text = str(reason.args[-1] if reason.args else reason)
    return text if text else type(reason).__name__
