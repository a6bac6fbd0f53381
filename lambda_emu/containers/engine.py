"""The connection to the Docker engine: the only place a docker client is made."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from lambda_emu.errors import ContainerError

if TYPE_CHECKING:
    import docker

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
        raise ContainerError(
            f"Cannot reach the Docker engine: {exc}",
            hint="Start Docker (on this project's machines: bash ../shared/env/docker-up.sh) and retry.",
        ) from exc
    return client
