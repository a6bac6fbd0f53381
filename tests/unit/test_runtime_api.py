"""The Runtime API over real HTTP on loopback: endpoints, headers, status codes and RAPID's bodies."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from lambda_emu import wire
from lambda_emu.engine.httpserver import readable
from lambda_emu.engine.runtime_api import ApiState, ReplyKind, RuntimeApi, RuntimeApiServer, RuntimeReply
from lambda_emu.models import Invocation

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


@pytest.fixture
def server() -> Iterator[RuntimeApiServer]:
    with RuntimeApiServer(RuntimeApi()) as srv:
        yield srv


def connect(server: RuntimeApiServer) -> http.client.HTTPConnection:
    host, port = server.address.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def get_next_in_thread(server: RuntimeApiServer) -> tuple[threading.Thread, dict[str, object]]:
    out: dict[str, object] = {}

    def run() -> None:
        status, headers, body = call(connect(server), "GET", wire.PATH_NEXT)
        out.update(status=status, headers=headers, body=body)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_server_listens_on_loopback_only(server: RuntimeApiServer) -> None:
    assert server.address.startswith("127.0.0.1:")


def test_next_blocks_until_an_event_then_carries_every_header(server: RuntimeApiServer) -> None:
    thread, out = get_next_in_thread(server)
    time.sleep(0.05)
    assert not out, "GET /next must block while no event exists"
    invocation = Invocation(
        b'{"k": 1}',
        ARN,
        client_context='{"custom": {"a": 1}}',
        cognito_identity='{"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"}',
        tenant_id="t-1",
    )
    before = time.time() * 1000
    pending = server.api.submit(invocation, timeout_s=3)
    thread.join(5)
    headers = out["headers"]
    assert out["status"] == 200 and out["body"] == b'{"k": 1}'
    assert isinstance(headers, dict)
    assert headers[wire.H_REQUEST_ID] == invocation.request_id
    deadline = int(headers[wire.H_DEADLINE_MS])
    # Absolute epoch milliseconds, the timeout after hand-out: not a duration.
    assert before + 2900 <= deadline <= time.time() * 1000 + 3100
    assert headers[wire.H_FUNCTION_ARN] == ARN
    assert headers[wire.H_TRACE_ID].startswith("Root=1-")
    assert json.loads(headers[wire.H_CLIENT_CONTEXT]) == {"custom": {"a": 1}}
    assert json.loads(headers[wire.H_COGNITO_IDENTITY])["cognitoIdentityPoolId"] == "pool"
    assert headers[wire.H_TENANT_ID] == "t-1"
    assert pending.deadline_ms == deadline


def test_empty_optional_headers_are_omitted(server: RuntimeApiServer) -> None:
    thread, out = get_next_in_thread(server)
    server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    headers = out["headers"]
    assert isinstance(headers, dict)
    for name in (wire.H_CLIENT_CONTEXT, wire.H_COGNITO_IDENTITY, wire.H_TENANT_ID):
        assert name not in headers


def test_response_is_accepted_with_202_and_completes_the_invocation(server: RuntimeApiServer) -> None:
    thread, out = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    rid = pending.invocation.request_id
    status, _, body = call(
        connect(server),
        "POST",
        f"{wire.INVOCATION_PREFIX}{rid}/response",
        b'"ok"',
        {"Content-Type": "application/json"},
    )
    assert (status, json.loads(body)) == (202, {"status": "OK"})
    reply = pending.future.result(1)
    assert reply.kind is ReplyKind.RESPONSE and reply.body == b'"ok"'
    assert server.api.state is ApiState.IDLE


def test_error_post_keeps_the_body_verbatim_and_the_error_type_header(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    body = b'{"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}'
    status, _, _ = call(
        connect(server),
        "POST",
        f"{wire.INVOCATION_PREFIX}{pending.invocation.request_id}/error",
        body,
        {wire.H_FUNCTION_ERROR_TYPE: "ValueError"},
    )
    reply = pending.future.result(1)
    assert status == 202
    assert (reply.kind, reply.body, reply.error_type) == (ReplyKind.ERROR, body, "ValueError")


def test_unknown_request_id_is_400_invalid_request_id(server: RuntimeApiServer) -> None:
    status, _, body = call(connect(server), "POST", f"{wire.INVOCATION_PREFIX}nope/response", b"{}")
    assert status == 400
    assert json.loads(body) == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}


def test_second_response_for_the_same_invocation_is_403(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    path = f"{wire.INVOCATION_PREFIX}{pending.invocation.request_id}/response"
    conn = connect(server)
    assert call(conn, "POST", path, b"1")[0] == 202
    status, _, body = call(conn, "POST", path, b"2")
    assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"


def test_next_while_an_invocation_is_out_is_403(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    status, _, body = call(connect(server), "GET", wire.PATH_NEXT)
    assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"


def test_init_error_before_first_next_is_accepted_and_ends_the_pending_invocation(
    server: RuntimeApiServer,
) -> None:
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    body = b'{"errorMessage": "Unable to import module \'app\'", "errorType": "Runtime.ImportModuleError"}'
    status, _, _ = call(connect(server), "POST", wire.PATH_INIT_ERROR, body)
    assert status == 202
    reply = pending.future.result(1)
    assert reply.kind is ReplyKind.INIT_ERROR and reply.body == body


def test_init_error_after_init_is_403(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    status, _, body = call(connect(server), "POST", wire.PATH_INIT_ERROR, b"{}")
    assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"


def test_oversized_response_gets_413_and_the_caller_gets_response_size_too_large(
    server: RuntimeApiServer,
) -> None:
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    conn = connect(server)
    big = b'"' + b"x" * wire.MAX_RESPONSE_BYTES + b'"'
    status, _, body = call(
        conn, "POST", f"{wire.INVOCATION_PREFIX}{pending.invocation.request_id}/response", big
    )
    assert status == 413
    assert json.loads(body) == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    reply = pending.future.result(1)
    assert reply.kind is ReplyKind.TOO_LARGE
    assert json.loads(reply.body)["errorType"] == "Function.ResponseSizeTooLarge"
    # The connection stays usable: the runtime goes on to its next event.
    thread2, out2 = get_next_in_thread(server)
    server.api.submit(Invocation(b'{"n": 2}', ARN), timeout_s=3)
    thread2.join(5)
    assert out2["body"] == b'{"n": 2}'


def test_a_response_of_exactly_the_limit_is_accepted(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    body = b'"' + b"x" * (wire.MAX_RESPONSE_BYTES - 2) + b'"'
    status, _, _ = call(
        connect(server), "POST", f"{wire.INVOCATION_PREFIX}{pending.invocation.request_id}/response", body
    )
    assert status == 202 and pending.future.result(1).kind is ReplyKind.RESPONSE


def test_chunked_response_body_is_read(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    conn = connect(server)
    conn.putrequest("POST", f"{wire.INVOCATION_PREFIX}{pending.invocation.request_id}/response")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b'3\r\n{"a\r\n5\r\n": 1}\r\n0\r\n\r\n')
    assert conn.getresponse().status == 202
    assert pending.future.result(1).body == b'{"a": 1}'


def test_unknown_path_is_404(server: RuntimeApiServer) -> None:
    assert call(connect(server), "GET", "/2018-06-01/runtime/nothing")[0] == 404


def test_one_keep_alive_connection_serves_many_invocations(server: RuntimeApiServer) -> None:
    """As the invoker drives it: submit, wait for the reply (read by the waiting thread when the event went
    out on a parked /next), then settle; whether the next /next was parked yet or not."""
    conn = connect(server)
    replies: list[RuntimeReply | None] = []

    def invoke(n: int) -> None:
        pending = server.api.submit(Invocation(json.dumps({"n": n}).encode(), ARN), 3)
        replies.append(pending.wait_reply(3))
        if n % 2:
            time.sleep(0.01)  # the runtime's next /next is in: settle parks it on this thread
        server.api.settle()

    for n in range(20):
        submitter = threading.Timer(0.001 * (n % 3), invoke, (n,))
        submitter.start()
        status, headers, body = call(conn, "GET", wire.PATH_NEXT)
        assert json.loads(body) == {"n": n}
        rid = headers[wire.H_REQUEST_ID]
        assert call(conn, "POST", f"{wire.INVOCATION_PREFIX}{rid}/response", json.dumps(n).encode())[0] == 202
        submitter.join(5)
    assert [json.loads(r.body) for r in replies if r is not None] == list(range(20))


def test_exit_of_the_runtime_ends_the_outstanding_invocation(server: RuntimeApiServer) -> None:
    thread, _ = get_next_in_thread(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    thread.join(5)
    server.api.fail_outstanding(RuntimeReply(ReplyKind.EXITED))
    assert pending.future.result(1).kind is ReplyKind.EXITED


def test_reset_wakes_a_waiting_next_and_expects_init_again(server: RuntimeApiServer) -> None:
    thread, out = get_next_in_thread(server)
    deadline = time.monotonic() + 5
    while server.api._parked is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the /next must be waiting, or there is nothing for reset to wake
    server.api.reset()
    thread.join(5)
    assert out["status"] == 500
    assert server.api.state is ApiState.INITIALIZING


def test_close_stops_the_server_at_once() -> None:
    server = RuntimeApiServer(RuntimeApi())
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 5.0  # not a speed check: close must not wait out a poll or timeout
    with pytest.raises(OSError):
        call(connect(server), "GET", wire.PATH_NEXT)


def _parked_runtime(server: RuntimeApiServer) -> socket.socket:
    host, port = server.address.split(":")
    runtime = socket.create_connection((host, int(port)), timeout=10)
    runtime.sendall(f"GET {wire.PATH_NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    deadline = time.monotonic() + 5
    while server.api._parked is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return runtime


def test_a_response_arriving_across_the_waiters_slices_is_read_whole(server: RuntimeApiServer) -> None:
    """The invoker waits in slices (START goes live after 100 ms): a POST begun in one slice and finished in
    the next is still read, under the invocation's own deadline."""
    runtime = _parked_runtime(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    runtime.recv(65536)  # the event
    rid = pending.invocation.request_id
    head = f"POST {wire.INVOCATION_PREFIX}{rid}/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
    threading.Timer(0.05, runtime.sendall, (head.encode(),)).start()
    threading.Timer(0.3, runtime.sendall, (b'"k',)).start()
    reply = pending.wait_reply(0.1) or pending.wait_reply(2.5)
    server.api.settle()
    assert reply is not None and reply.kind is ReplyKind.RESPONSE and reply.body == b'"k'
    runtime.close()


def test_a_runtime_resetting_its_connection_mid_wait_is_no_exception_for_the_waiter(
    server: RuntimeApiServer,
) -> None:
    runtime = _parked_runtime(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    runtime.recv(65536)
    rid = pending.invocation.request_id
    runtime.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    head = f"POST {wire.INVOCATION_PREFIX}{rid}/response HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n"
    runtime.sendall(head.encode() + b"{")
    runtime.close()  # RST mid-body
    threading.Timer(0.2, server.api.fail_outstanding, (RuntimeReply(ReplyKind.EXITED),)).start()
    reply = pending.wait_reply(2)
    server.api.settle()
    assert reply is not None and reply.kind is ReplyKind.EXITED


def test_an_unreadable_request_on_a_lent_connection_ends_it_instead_of_raising_into_the_waiter(
    server: RuntimeApiServer,
) -> None:
    runtime = _parked_runtime(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    runtime.recv(65536)
    rid = pending.invocation.request_id
    head = f"POST {wire.INVOCATION_PREFIX}{rid}/response HTTP/1.1\r\nHost: x\r\nContent-Length: two\r\n\r\n"
    runtime.sendall(head.encode())
    threading.Timer(0.2, server.api.fail_outstanding, (RuntimeReply(ReplyKind.EXITED),)).start()
    reply = pending.wait_reply(2)
    server.api.settle()
    assert reply is not None and reply.kind is ReplyKind.EXITED
    runtime.close()


def _answered_on_lent_connection(server: RuntimeApiServer, runtime: socket.socket, n: int) -> None:
    """One invocation as the invoker drives a warm one: the event goes out on the parked /next, the runtime
    answers on it, the submitting thread reads the answer and settles."""
    pending = server.api.submit(Invocation(json.dumps({"n": n}).encode(), ARN), timeout_s=3)
    assert pending._connection is not None, "the event went out on the submitting thread"
    event = runtime.recv(65536)
    assert event.startswith(b"HTTP/1.1 200") and event.endswith(json.dumps({"n": n}).encode())
    rid = pending.invocation.request_id
    head = f"POST {wire.INVOCATION_PREFIX}{rid}/response HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"
    runtime.sendall(head.encode() + str(n).encode())
    reply = pending.wait_reply(3)
    assert reply is not None and reply.body == str(n).encode()
    server.api.settle()
    assert runtime.recv(65536).startswith(b"HTTP/1.1 202")


def test_a_reply_read_by_the_waiting_thread_is_acknowledged_when_the_invocation_settles(
    server: RuntimeApiServer,
) -> None:
    """The runtime's 202 waits for `settle`, so the caller's answer, sent between the two, goes out first
    (the runtime asks for its next event only after its 202)."""
    runtime = _parked_runtime(server)
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    runtime.recv(65536)
    rid = pending.invocation.request_id
    head = f"POST {wire.INVOCATION_PREFIX}{rid}/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
    runtime.sendall(head.encode() + b"{}")
    reply = pending.wait_reply(3)
    assert reply is not None and reply.body == b"{}"
    assert not readable([runtime], 0.2), "no 202 before the invocation settles"
    server.api.settle()
    assert runtime.recv(65536).startswith(b"HTTP/1.1 202")
    runtime.sendall(f"GET {wire.PATH_NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    # The protocol goes on: the next event goes out on the /next the runtime sent after its 202.
    _answered_on_lent_connection(server, runtime, 1)
    runtime.close()


def _handler_of(server: RuntimeApiServer):  # type: ignore[no-untyped-def]
    handler = server.api._unread or server.api._parked
    assert handler is not None
    return handler


def test_a_next_that_comes_after_settle_is_taken_by_the_next_submit_not_by_its_own_thread(
    server: RuntimeApiServer,
) -> None:
    """Settling before the runtime's next /next arrived leaves the connection unread; the next submit takes
    that /next itself, so the connection's own thread is never woken between warm invocations."""
    runtime = _parked_runtime(server)
    for n in range(3):
        _answered_on_lent_connection(server, runtime, n)  # settled at once: the /next is not sent yet
        handler = _handler_of(server)
        assert server.api._unread is handler and not handler._home.is_set()
        runtime.sendall(f"GET {wire.PATH_NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.05)
        assert not handler._home.is_set(), "nobody reads it: the home thread stays asleep"
    _answered_on_lent_connection(server, runtime, 3)
    runtime.close()


def test_a_submit_before_the_next_came_lets_the_connection_s_own_thread_take_the_event(
    server: RuntimeApiServer,
) -> None:
    runtime = _parked_runtime(server)
    _answered_on_lent_connection(server, runtime, 0)
    pending = server.api.submit(Invocation(b'{"n": 1}', ARN), timeout_s=3)  # no /next yet
    assert pending._connection is None and server.api._unread is None
    runtime.sendall(f"GET {wire.PATH_NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert runtime.recv(65536).endswith(b'{"n": 1}')
    assert pending.wait_started(3)
    runtime.close()


@pytest.mark.parametrize("end", ["reset", "close"])
def test_reset_or_close_ends_an_unread_connection_without_reading_it(
    server: RuntimeApiServer, end: str
) -> None:
    """The connection belonged to a runtime process that is gone: what it sent last (its next /next) must
    not make the next process look ready before it has even started."""
    runtime = _parked_runtime(server)
    _answered_on_lent_connection(server, runtime, 0)
    handler = _handler_of(server)
    runtime.sendall(f"GET {wire.PATH_NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())  # the last words
    getattr(server.api, end)()
    assert server.api._unread is None and handler._home.is_set()
    runtime.settimeout(5)
    assert runtime.recv(65536) == b""  # ended, unanswered
    assert server.api._parked is None
    assert server.api.state is (ApiState.INITIALIZING if end == "reset" else ApiState.CLOSED)
    runtime.close()


def test_with_a_host_name_only_requests_naming_it_are_answered() -> None:
    """Another environment's function can connect to this port, but does not know the secret name."""
    api = RuntimeApi()
    with RuntimeApiServer(api, host_name="runtime-0123abcd") as srv:
        name, port = srv.address.split(":")
        assert name == "runtime-0123abcd" and srv.listen_address == f"127.0.0.1:{port}"
        thief = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        status, _, body = call(thief, "GET", wire.PATH_NEXT)
        assert status == 403 and json.loads(body)["errorType"] == "AccessDenied"
        assert api.state is ApiState.INITIALIZING  # the thief's /next changed nothing
        forged = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        status, _, _ = call(forged, "POST", wire.PATH_INIT_ERROR, b"{}", {"Host": f"runtime-other:{port}"})
        assert status == 403 and api.init_error is None
        # The runtime addresses it by name (its container's /etc/hosts maps the name to 127.0.0.1).
        runtime = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        status, _, _ = call(
            runtime, "POST", wire.PATH_INIT_ERROR, b"{}", {"Host": f"Runtime-0123ABCD:{port}"}
        )
        assert status == 202 and api.init_error is not None


def test_the_log_token_is_given_once_per_runtime_start_and_only_before_its_first_next() -> None:
    api = RuntimeApi(log_token="tok")
    with RuntimeApiServer(api) as srv:
        status, _, body = call(connect(srv), "GET", wire.PATH_LOG_TOKEN)
        assert (status, body) == (200, b"tok")
        status, _, body = call(connect(srv), "GET", wire.PATH_LOG_TOKEN)  # user code asking after it
        assert status == 403 and json.loads(body)["errorType"] == "AccessDenied"
        api.reset()  # a new runtime process: its client takes it again
        assert call(connect(srv), "GET", wire.PATH_LOG_TOKEN)[:3:2] == (200, b"tok")
    with RuntimeApiServer(RuntimeApi()) as srv:  # an environment without markers has none to give
        assert call(connect(srv), "GET", wire.PATH_LOG_TOKEN)[0] == 403


def _answered_without_settling(server: RuntimeApiServer, runtime: socket.socket) -> None:
    """A warm invocation out on the parked /next, answered on it, its reply read by the waiting thread."""
    pending = server.api.submit(Invocation(b"{}", ARN), timeout_s=3)
    runtime.recv(65536)
    rid = pending.invocation.request_id
    head = f"POST {wire.INVOCATION_PREFIX}{rid}/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
    runtime.sendall(head.encode() + b"{}")
    assert pending.wait_reply(3) is not None


def test_wait_next_tells_when_the_runtime_asks_again_on_the_connection_it_answered_on(
    server: RuntimeApiServer,
) -> None:
    """A keep-alive runtime (one connection): its 202 goes out, then its next /next is waited for."""
    runtime = _parked_runtime(server)
    _answered_without_settling(server, runtime)
    timer = threading.Timer(
        0.1, lambda: runtime.sendall(f"GET {wire.PATH_NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    )
    timer.start()
    try:
        assert server.api.wait_next(5)
    finally:
        timer.join()
    assert runtime.recv(65536).startswith(b"HTTP/1.1 202")
    # The next event goes out on that /next, as after any settle.
    _answered_on_lent_connection(server, runtime, 1)
    runtime.close()


def test_wait_next_tells_when_the_runtime_asks_again_on_another_connection(server: RuntimeApiServer) -> None:
    """A runtime that connects anew per request (curl in a shell bootstrap)."""
    runtime = _parked_runtime(server)
    _answered_without_settling(server, runtime)
    assert not server.api.wait_next(0.05), "no /next yet"
    assert runtime.recv(65536).startswith(b"HTTP/1.1 202")
    runtime.close()
    thread, out = get_next_in_thread(server)
    assert server.api.wait_next(5)
    pending = server.api.submit(Invocation(b'{"n": 2}', ARN), timeout_s=3)
    assert pending.wait_started(3)
    server.api.complete(pending.invocation.request_id, RuntimeReply(ReplyKind.RESPONSE, b"2"))
    thread.join(5)
    assert out["body"] == b'{"n": 2}'


def test_wait_next_is_false_when_the_runtime_exits_instead_of_asking(server: RuntimeApiServer) -> None:
    runtime = _parked_runtime(server)
    _answered_without_settling(server, runtime)
    timer = threading.Timer(0.1, server.api.fail_outstanding, args=(RuntimeReply(ReplyKind.EXITED),))
    timer.start()
    try:
        assert not server.api.wait_next(5)
    finally:
        timer.join()
    runtime.close()
