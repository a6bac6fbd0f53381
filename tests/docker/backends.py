"""The container backend the Docker tier runs on: Docker, or the embedded one when LAMBDA_EMU_BACKEND is
`embedded` (`make test-embedded`; images are still built and exported with Docker)."""

from __future__ import annotations

import os

import pytest

from lambda_emu.containers.base import ContainerBackend

EMBEDDED = os.environ.get("LAMBDA_EMU_BACKEND", "").lower() == "embedded"

# A test of what only Docker has (its container list, `docker rm -f`).
docker_only = pytest.mark.skipif(EMBEDDED, reason="about Docker's own containers")


def chosen_backend() -> ContainerBackend:
    if EMBEDDED:
        from lambda_emu.containers.embedded import EmbeddedBackend

        return EmbeddedBackend()
    from lambda_emu.containers.docker import DockerBackend

    return DockerBackend()
