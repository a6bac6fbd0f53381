"""The shared HTTP plumbing's own request parsing, over a real loopback socket: headers by any case,
repeats joined, keep-alive and close, and malformed requests refused with the right status."""

from __future__ import annotations

import json
import resource
import socket
from collections.abc import Iterator

import pytest

from lambda_emu.engine.httpserver import BackgroundServer, QuickHandler, TrackingHttpServer, readable


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
