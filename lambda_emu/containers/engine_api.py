"""The Docker Engine API calls of the invoke path, over the engine's Unix socket with the standard library's
http.client: importing the docker SDK (and requests, urllib3) cost a cold CLI invoke ~45 ms, and its client
asks the engine for its version and re-inspects a container after each create. Engines this transport cannot
reach (ssh://, TLS) go through the SDK's own client, behind the same two calls."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import struct
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

LOG = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/docker.sock"
# Requests of the invoke path are answered at once; a wait or a build can take as long as it takes.
_TIMEOUT_S = 120.0
_FRAME_HEADER = struct.Struct(">BxxxL")  # stream type, 3 zero bytes, payload length (Engine API: attach)


class EngineReply:
    """A finished call: its HTTP status and body; `message` is the engine's error text."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str:
        try:
            return str(self.json().get("message") or self.body.decode(errors="replace"))
        except (ValueError, AttributeError):
            return self.body.decode(errors="replace").strip() or f"HTTP {self.status}"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class SocketTransport:
    """The engine at a Unix socket (or plain tcp://): a connection per call, so threads never share one
    (a connect on a local socket costs tens of microseconds)."""

    def __init__(self, path: str | None = None, *, tcp: tuple[str, int] | None = None) -> None:
        self.path = path or DEFAULT_SOCKET
        self._tcp = tcp

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._tcp is not None:
            return http.client.HTTPConnection(*self._tcp, timeout=timeout)
        return _UnixConnection(self.path, timeout)

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: object = None,
        timeout: float | None = _TIMEOUT_S,
    ) -> EngineReply:
        """One request (`body` sent as JSON); OSError when the engine cannot be reached."""
        data = None if body is None else json.dumps(body).encode()
        return self._exchange(method, _target(path, query), data, timeout)

    def _exchange(self, method: str, target: str, data: bytes | None, timeout: float | None) -> EngineReply:
        connection = self._connection(timeout)
        try:
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            return EngineReply(response.status, response.read())
        except http.client.HTTPException as exc:
            raise OSError(f"the engine's answer was cut short: {exc}") from exc
        finally:
            connection.close()

    def send(self, method: str, path: str, *, query: Mapping[str, str] | None = None) -> None:
        """A request handed to the engine without waiting for its answer; OSError when it cannot be sent."""
        # The engine reads a request whose sender has hung up and carries it out (a forced DELETE goes on
        # to kill and remove the container: checked against Docker 20.10 and later).
        connection = self._connection(_TIMEOUT_S)
        try:
            connection.request(method, _target(path, query))
        finally:
            connection.close()

    def attach(self, container_id: str) -> Iterator[bytes]:
        """The container's stdout and stderr from its next start on (no TTY: the engine frames them)."""
        connection = self._connection(None)
        target = _target(f"/containers/{container_id}/attach", {"stream": "1", "stdout": "1", "stderr": "1"})
        connection.request("POST", target, headers={"Upgrade": "tcp", "Connection": "Upgrade"})
        response = connection.getresponse()
        if response.status not in (101, 200):
            body = response.read()
            connection.close()
            raise OSError(f"attach: {EngineReply(response.status, body).message}")
        # The engine hijacks the connection: what follows the headers is the raw multiplexed stream.
        return _frames(response, connection)


def _frames(response: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> Iterator[bytes]:
    stream = response.fp
    try:
        while True:
            header = stream.read(_FRAME_HEADER.size)
            if len(header) < _FRAME_HEADER.size:
                return
            _kind, size = _FRAME_HEADER.unpack(header)
            payload = stream.read(size)
            if payload:
                yield payload
            if len(payload) < size:
                return
    finally:
        response.close()
        connection.close()


def _target(path: str, query: Mapping[str, str] | None) -> str:
    return path + ("?" + urllib.parse.urlencode(query) if query else "")


class SdkTransport(SocketTransport):
    """The same calls through the docker SDK's client, for engines only it can reach (ssh://, TLS)."""

    def __init__(self) -> None:
        from lambda_emu.containers.engine import docker_client

        super().__init__()
        self._api = docker_client().api

    def _exchange(self, method: str, target: str, data: bytes | None, timeout: float | None) -> EngineReply:
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            response = self._api.request(
                method, self._api._url(target), data=data, headers=headers, timeout=timeout
            )
        except Exception as exc:  # requests' connection errors
            raise OSError(str(exc)) from exc
        return EngineReply(response.status_code, response.content)

    def send(self, method: str, path: str, *, query: Mapping[str, str] | None = None) -> None:
        self.call(method, path, query=query)  # the SDK's client waits for the answer

    def attach(self, container_id: str) -> Iterator[bytes]:
        return self._api.attach(container_id, stdout=True, stderr=True, stream=True, logs=False)  # type: ignore[no-any-return]


# What the backends are handed: the socket transport, or the SDK's (transport_for).
EngineTransport = SocketTransport


def transport_for(docker_host: str | None = None) -> EngineTransport:
    """The transport for DOCKER_HOST (default: the local socket); TLS and ssh:// take the SDK's."""
    host = docker_host if docker_host is not None else os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith("unix://"):
        return SocketTransport(host[len("unix://") :] or None)
    parsed = urllib.parse.urlsplit(host)
    if parsed.scheme in ("tcp", "http") and not os.environ.get("DOCKER_TLS_VERIFY") and parsed.hostname:
        return SocketTransport(tcp=(parsed.hostname, parsed.port or 2375))
    return SdkTransport()
