"""The shared HTTP plumbing's own request parsing, over a real loopback socket: headers by any case,
repeats joined, keep-alive and close, and malformed requests refused with the right status."""

from __future__ import annotations

import json
import os
import resource
import socket
import time
from collections.abc import Iterator

import pytest

from lambda_emu.engine.httpserver import (
    BackgroundServer,
    QuickHandler,
    TrackingHttpServer,
    peer_uid,
    readable,
    same_user,
)


class _Echo(QuickHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.read_body(1024) or b""
        seen = {
            "path": self.path,
            "x-any": self.headers.get("X-ANY"),
            "repeated": self.headers.get("x-repeated"),
            "body": body.decode(),
            "missing": self.headers.get("X-Missing", "default"),
        }
        self.reply(200, json.dumps(seen).encode())


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    background = BackgroundServer(TrackingHttpServer(("127.0.0.1", 0), _Echo, name="echo-test"))
    yield background
    background.close()


def exchange(server: BackgroundServer, raw: bytes, replies: int = 1) -> list[bytes]:
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(raw)
        data = b""
        answers: list[bytes] = []
        while len(answers) < replies:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            while b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                if len(rest) < length:
                    break
                answers.append(head + b"\r\n\r\n" + rest[:length])
                data = rest[length:]
        return answers


def test_headers_are_found_by_any_case_and_repeats_are_joined(server: BackgroundServer) -> None:
    request = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nx-Any: one\r\nX-Repeated: a\r\nx-repeated: b\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    (reply,) = exchange(server, request)
    assert reply.startswith(b"HTTP/1.1 200 ")
    seen = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert seen == {
        "path": "/echo",
        "x-any": "one",
        "repeated": "a, b",
        "body": "hello",
        "missing": "default",
    }


def test_keep_alive_serves_several_requests_on_one_connection(server: BackgroundServer) -> None:
    one = b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"
    replies = exchange(server, one + one.replace(b"/a", b"/b") + one.replace(b"/a", b"/c"), replies=3)
    assert [json.loads(r.partition(b"\r\n\r\n")[2])["path"] for r in replies] == ["/a", "/b", "/c"]


def test_connection_close_ends_the_connection_after_the_reply(server: BackgroundServer) -> None:
    request = b"POST /a HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    replies = exchange(server, request + request, replies=2)
    assert len(replies) == 1  # the second request was never read


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"POST /a HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"POST /a HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n", b"431"),
        (b"POST /a HTTP/1.1\r\nX-Long: " + b"v" * 70000 + b"\r\n\r\n", b"431"),
    ],
)
def test_malformed_requests_are_refused(server: BackgroundServer, raw: bytes, status: bytes) -> None:
    (reply,) = exchange(server, raw)
    assert reply.split(b" ")[1] == status


def test_readable_works_past_1024_descriptors() -> None:
    """A server with many environments holds more than 1,024 sockets; select.select fails past that."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1200, hard), hard))
    pairs = [socket.socketpair() for _ in range(520)]
    try:
        quiet, talking = pairs[-2][1], pairs[-1][1]
        assert talking.fileno() > 1024
        pairs[-1][0].send(b"x")
        assert readable([quiet, talking], 0) == [talking]
        pairs[-2][0].close()  # an end is readable too
        assert readable([quiet, talking], 1) == [quiet, talking]
    finally:
        for a, b in pairs:
            a.close()
            b.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /a HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"POST /a HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n",
    ],
)
def test_a_body_that_cannot_be_delimited_is_a_400_in_json_then_the_connection_ends(
    server: BackgroundServer, raw: bytes
) -> None:
    replies = exchange(server, raw + b"POST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n", replies=2)
    assert len(replies) == 1  # nothing more is read from a stream whose framing is lost
    head, _, body = replies[0].partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400" and b"Connection: close" in head
    assert json.loads(body)["errorType"] == "BadRequest"


def test_an_unknown_method_is_answered_in_json_without_the_server_version(server: BackgroundServer) -> None:
    (reply,) = exchange(server, b"BREW /pot HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"501"
    assert b"Python" not in reply and b"<html" not in reply.lower()
    assert json.loads(body)["errorType"] == "BadRequest"


def test_connections_past_the_limit_are_answered_at_once_and_closed() -> None:
    background = BackgroundServer(
        TrackingHttpServer(("127.0.0.1", 0), _Echo, name="small", max_connections=2)
    )
    host, port = background.address.split(":")
    try:
        held = [socket.create_connection((host, int(port)), timeout=5) for _ in range(2)]
        for conn in held:  # each has a thread once it has been served once
            conn.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        with socket.create_connection((host, int(port)), timeout=5) as extra:
            assert extra.recv(65536).startswith(b"HTTP/1.1 503")
            assert extra.recv(1) == b""  # closed
        held.pop().close()
        for _ in range(100):  # its thread ends soon after the close
            if background.httpd.open_connections < 2:
                break
            time.sleep(0.05)
        with socket.create_connection((host, int(port)), timeout=5) as again:
            again.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            assert again.recv(65536).startswith(b"HTTP/1.1 200")
        for conn in held:
            conn.close()
    finally:
        background.close()


def test_the_listen_backlog_takes_a_burst_of_connections(server: BackgroundServer) -> None:
    assert server.httpd.request_queue_size >= 128


def test_the_peer_of_a_loopback_connection_is_known_by_its_uid() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname()[:2], timeout=5)
        accepted, _ = listener.accept()
        try:
            assert peer_uid(accepted) == os.geteuid()
            assert same_user(peer_uid(accepted)) and same_user(None) and not same_user(os.geteuid() + 4242)
        finally:
            accepted.close()
            client.close()
