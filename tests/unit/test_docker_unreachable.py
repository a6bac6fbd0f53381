"""No engine answers: the error names the address it tried (DOCKER_HOST or the default socket) and the
innermost reason, and the hint says how to name another engine, with no path of this project's own; the
same from the docker SDK's client and from the invoke path's Engine API transport."""

from __future__ import annotations

import pytest

from lambda_emu.containers.engine import docker_client, engine
from lambda_emu.errors import ContainerError


@pytest.mark.parametrize("connect", [docker_client, engine], ids=["sdk", "transport"])
def test_an_unreachable_engine_is_named_with_docker_host(
    connect, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nothing.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{missing}")
    connect.cache_clear()
    try:
        with pytest.raises(ContainerError) as caught:
            connect()
    finally:
        connect.cache_clear()
    assert f"unix://{missing}" in caught.value.message
    assert "No such file or directory" in caught.value.message
    assert caught.value.hint is not None and "DOCKER_HOST" in caught.value.hint
    assert "../shared" not in caught.value.hint and "docker-up" not in caught.value.hint
