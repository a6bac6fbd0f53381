"""The Runtime API's streaming mode over real HTTP on loopback: a POST /response with
Lambda-Runtime-Function-Response-Mode: streaming, chunked, its chunks passed on as they arrive, an error
mid-stream told in trailers, and the same stream gathered whole for a caller that takes no stream."""

from __future__ import annotations

import base64
import json
import queue
import socket
from collections.abc import Iterator

import pytest

from lambda_emu import wire
from lambda_emu.engine.runtime_api import ReplyKind, RuntimeApi, RuntimeApiServer
from lambda_emu.models import Invocation
from tests.unit.test_runtime_api import get_next_in_thread

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


class Recorder:
    """A ResponseStream that records what reaches it, in order."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, object]] = queue.Queue()

    def begin(self, content_type: str) -> None:
        self.events.put(("begin", content_type))

    def write(self, chunk: bytes) -> None:
        self.events.put(("chunk", chunk))

    def next(self) -> tuple[str, object]:
        return self.events.get(timeout=5)


@pytest.fixture
def server() -> Iterator[RuntimeApiServer]:
    with RuntimeApiServer(RuntimeApi()) as srv:
        yield srv


def _streaming_post(server: RuntimeApiServer, request_id: str, content_type: str) -> socket.socket:
    host, port = server.address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        (
            f"POST {wire.INVOCATION_PREFIX}{request_id}/response HTTP/1.1\r\nHost: {host}\r\n"
            f"{wire.H_RESPONSE_MODE}: {wire.RESPONSE_MODE_STREAMING}\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: {content_type}\r\nTrailer: {wire.H_FUNCTION_ERROR_TYPE}\r\n\r\n"
        ).encode()
    )
    return sock


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _handed_out(server: RuntimeApiServer, invocation: Invocation):  # type: ignore[no-untyped-def]
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(invocation, timeout_s=5)
    thread.join(5)
    return pending


def test_each_chunk_reaches_the_stream_while_the_post_is_still_open(server: RuntimeApiServer) -> None:
    stream = Recorder()
    pending = _handed_out(server, Invocation(b"{}", ARN, response_stream=stream))
    runtime = _streaming_post(server, pending.invocation.request_id, "text/plain")
    assert stream.next() == ("begin", "text/plain")
    runtime.sendall(_chunk(b"first"))
    # The second chunk is sent only once the first has arrived: the stream is not gathered to the end.
    assert stream.next() == ("chunk", b"first")
    assert not pending.future.done()
    runtime.sendall(_chunk(b"second") + b"0\r\n\r\n")
    assert stream.next() == ("chunk", b"second")
    reply = pending.future.result(5)
    assert (reply.kind, reply.streamed, reply.body) == (ReplyKind.RESPONSE, True, b"")
    assert runtime.recv(4096).startswith(b"HTTP/1.1 202 ")


def test_an_error_mid_stream_comes_in_the_trailers(server: RuntimeApiServer) -> None:
    stream = Recorder()
    pending = _handed_out(server, Invocation(b"{}", ARN, response_stream=stream))
    runtime = _streaming_post(server, pending.invocation.request_id, "application/octet-stream")
    error = {"errorType": "Error", "errorMessage": "boom", "trace": []}
    trailers = (
        f"{wire.H_FUNCTION_ERROR_TYPE}: Error\r\n"
        f"{wire.H_FUNCTION_ERROR_BODY}: {base64.b64encode(json.dumps(error).encode()).decode()}\r\n\r\n"
    )
    runtime.sendall(_chunk(b"partial") + b"0\r\n" + trailers.encode())
    reply = pending.future.result(5)
    assert (reply.kind, reply.error_type, reply.streamed) == (ReplyKind.ERROR, "Error", True)
    assert json.loads(reply.body) == error
    assert [stream.next(), stream.next()] == [("begin", "application/octet-stream"), ("chunk", b"partial")]


def test_without_a_stream_the_streamed_response_is_gathered_whole(server: RuntimeApiServer) -> None:
    pending = _handed_out(server, Invocation(b"{}", ARN))
    runtime = _streaming_post(server, pending.invocation.request_id, "text/plain")
    runtime.sendall(_chunk(b"hello ") + _chunk(b"world") + b"0\r\n\r\n")
    reply = pending.future.result(5)
    assert (reply.kind, reply.body, reply.content_type, reply.streamed) == (
        ReplyKind.RESPONSE,
        b"hello world",
        "text/plain",
        False,
    )


def test_a_gathered_stream_past_invoke_s_limit_is_response_size_too_large(server: RuntimeApiServer) -> None:
    pending = _handed_out(server, Invocation(b"{}", ARN))
    runtime = _streaming_post(server, pending.invocation.request_id, "text/plain")
    piece = b"x" * (1 << 20)
    for _ in range(wire.MAX_RESPONSE_BYTES // len(piece) + 1):
        runtime.sendall(_chunk(piece))
    runtime.sendall(b"0\r\n\r\n")
    reply = pending.future.result(10)
    assert reply.kind is ReplyKind.TOO_LARGE
    assert json.loads(reply.body)["errorType"] == wire.E_RESPONSE_TOO_LARGE
    assert runtime.recv(4096).startswith(b"HTTP/1.1 413 ")


def test_a_stream_past_the_streaming_limit_stops_there_and_is_response_size_too_large(
    server: RuntimeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "MAX_STREAMED_RESPONSE_BYTES", 10)  # Lambda's is 200 MB
    stream = Recorder()
    pending = _handed_out(server, Invocation(b"{}", ARN, response_stream=stream))
    runtime = _streaming_post(server, pending.invocation.request_id, "text/plain")
    runtime.sendall(_chunk(b"12345678") + _chunk(b"past the limit") + b"0\r\n\r\n")
    reply = pending.future.result(5)
    assert (reply.kind, reply.streamed) == (ReplyKind.TOO_LARGE, True)
    assert json.loads(reply.body)["errorType"] == wire.E_RESPONSE_TOO_LARGE
    assert [stream.next(), stream.next()] == [("begin", "text/plain"), ("chunk", b"12345678")]
    assert stream.events.empty()
    assert runtime.recv(4096).startswith(b"HTTP/1.1 413 ")
