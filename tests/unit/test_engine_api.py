"""The Engine API transport of the invoke path, against a real Unix-socket HTTP server that answers as the
engine does: JSON calls with their status, the attach stream's framing, and the create body the docker SDK
would have sent for the same spec."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.containers.base import ContainerSpec, Mount
from lambda_emu.containers.docker import DockerBackend, create_body
from lambda_emu.containers.engine_api import SocketTransport
from lambda_emu.errors import ImageError


class _Engine:
    """A one-request-per-connection HTTP server on a Unix socket; `answer(method, target, body)` gives
    (status, body bytes), and an attach is answered with 101 and `frames`."""

    def __init__(self, path: Path, answer, frames: bytes = b"") -> None:  # type: ignore[no-untyped-def]
        self.requests: list[tuple[str, str, bytes]] = []
        self._answer = answer
        self._frames = frames
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen()
        self._thread = threading.Thread(target=self._serve, name="fake-engine", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ")
                length = next(
                    (int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length")), 0
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append((method, target, body))
                if target.split("?")[0].endswith("/attach"):
                    conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
                    conn.sendall(self._frames)
                    continue
                status, reply = self._answer(method, target, body)
                conn.sendall(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(reply)}\r\nConnection: close\r\n\r\n".encode()
                    + reply
                )

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "engine.sock"


def _frame(kind: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(data)) + data


def test_calls_carry_method_path_query_and_json_body_and_return_the_status(socket_path: Path) -> None:
    engine = _Engine(socket_path, lambda m, t, b: (201, b'{"Id": "abc"}'))
    try:
        reply = SocketTransport(str(socket_path)).call(
            "POST", "/containers/create", query={"name": "n 1"}, body={"Image": "x"}
        )
    finally:
        engine.close()
    assert (reply.status, reply.json()) == (201, {"Id": "abc"})
    assert engine.requests == [("POST", "/containers/create?name=n+1", b'{"Image": "x"}')]


def test_attach_yields_each_frames_payload_of_both_streams_in_order(socket_path: Path) -> None:
    frames = _frame(1, b"out one\n") + _frame(2, b"err\n") + _frame(1, b"x" * 70000)
    engine = _Engine(socket_path, lambda m, t, b: (200, b""), frames=frames)
    try:
        chunks = list(SocketTransport(str(socket_path)).attach("abc"))
    finally:
        engine.close()
    assert chunks == [b"out one\n", b"err\n", b"x" * 70000]
    assert engine.requests[0][:2] == ("POST", "/containers/abc/attach?stream=1&stdout=1&stderr=1")


def test_a_missing_image_is_an_image_error_with_the_engines_message(socket_path: Path) -> None:
    engine = _Engine(socket_path, lambda m, t, b: (404, b'{"message": "No such image: lambda-emu/p:1"}'))
    spec = ContainerSpec(image="lambda-emu/p:1", name="n", environment={}, labels={}, memory_mb=128)
    try:
        with pytest.raises(ImageError) as caught:
            DockerBackend(SocketTransport(str(socket_path))).create(spec)
    finally:
        engine.close()
    assert caught.value.message == "Image lambda-emu/p:1 is missing: No such image: lambda-emu/p:1"


def test_the_create_body_is_what_the_docker_sdk_sends_for_the_same_spec() -> None:
    docker = pytest.importorskip("docker")
    from docker.types import Mount as DockerMount
    from docker.types import Ulimit

    spec = ContainerSpec(
        image="img:1",
        name="n",
        environment={"A": "1", "B": "x=y"},
        labels={"l": "v"},
        memory_mb=256,
        command=("app.handler",),
        mounts=(Mount("/code", "/var/task"), Mount("/d", "/tmp", read_only=False)),
        user="993:990",
        extra_hosts=(("runtime-x", "127.0.0.1"),),
        tmpfs_mb=512,
        cpu_shares=148,
    )
    api = docker.APIClient(version="1.41")
    host = api.create_host_config(
        mounts=[
            DockerMount(target=m.target, source=m.source, type="bind", read_only=m.read_only)
            for m in spec.mounts
        ],
        network_mode="host",
        extra_hosts=dict(spec.extra_hosts),
        mem_limit="256m",
        memswap_limit="256m",
        cpu_shares=148,
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=1024,
        ulimits=[Ulimit(name="nofile", soft=1024, hard=1024)],
        tmpfs={"/tmp": "size=512m,mode=1777"},
        init=True,
    )
    sdk = api.create_container_config(
        "img:1",
        ["app.handler"],
        entrypoint=None,
        environment=dict(spec.environment),
        labels={"dev.lambda-emu": "1", "l": "v"},
        working_dir="/var/task",
        user="993:990",
        host_config=host,
        stdin_open=False,
        tty=False,
    )
    ours = json.loads(json.dumps(create_body(spec)))
    assert ours == {
        key: value for key, value in sdk.items() if value is not None and key != "NetworkDisabled"
    }
