"""The Lambda Runtime API (2018-06-01) for one execution environment: one handler per endpoint,
each validating the call, moving the protocol's state machine and rendering RAPID's replies.

An invocation is `pending` (submitted, no /next waiting for it) or `current` (handed out, its reply due);
one at a time. A runtime's connection is read by its own thread (`home`) except while it is lent, so that
a warm invoke costs no hop between threads:

    home ──GET /next, nothing pending──▶ parked ──submit(): event written on it──▶ lent
     ▲                                     ▲                                        │ reply in: settle()
     │                                     └────── its next /next came already ◀────┤ (read within 1 s)
     │                                                                              │ not yet
     │                                   unread ◀───────────────────────────────────┘
     │                                     │ the next submit reads that /next itself (_take_next)
     └── release(): a reset, the close, the connection gone, a second /next taking its place

While parked its thread waits for `release`; while lent the submitting thread reads the reply on it.
Every wait ends: a parked /next by an event, a reset or the close (which releases every connection);
a lent connection at the invocation's deadline; a settle's read after 1 s; a request begun on a lent
connection at the invocation's deadline (its socket timeout). The lock guards only the fields, never a
wait."""

from __future__ import annotations

import base64
import binascii
import enum
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Protocol

from lambda_emu import wire
from lambda_emu.engine.httpserver import BackgroundServer, Headers, QuickHandler, TrackingHttpServer, readable
from lambda_emu.errors import RuntimeApiError
from lambda_emu.models import Invocation, ResponseStream

LOG = logging.getLogger(__name__)


class ApiState(enum.Enum):
    INITIALIZING = "initializing"  # the runtime has not asked for an event yet
    IDLE = "idle"  # waiting in /next, or about to
    INVOKING = "invoking"  # an event is out; a response or error is due
    CLOSED = "closed"


class ReplyKind(enum.Enum):
    RESPONSE = "response"
    ERROR = "error"  # the runtime reported a function error
    INIT_ERROR = "init_error"
    TOO_LARGE = "too_large"  # a response over the payload limit (the runtime got 413)
    EXITED = "exited"  # the runtime process died (completed by the environment)


@dataclass(frozen=True)
class RuntimeReply:
    kind: ReplyKind
    body: bytes = b""
    content_type: str = "application/json"
    error_type: str | None = None  # Lambda-Runtime-Function-Error-Type, when sent
    received_at: float = field(default_factory=time.monotonic)
    streamed: bool = False  # the body went to the invocation's response stream as it came (`body` is not it)


@dataclass(eq=False)
class PendingInvocation:
    """An invocation queued for this environment; `future` completes with the runtime's reply."""

    invocation: Invocation
    timeout_s: float
    future: Future[RuntimeReply] = field(default_factory=Future)
    handed_out_at: float | None = None  # monotonic time /next returned it
    deadline_ms: int | None = None  # absolute epoch ms, fixed at hand-out
    # Monotonic start of the invoke phase when it began before the hand-out (a re-init inside the
    # invoke phase runs under the function's timeout); None: the phase starts at hand-out.
    invoke_started: float | None = None
    _handed_out: threading.Event = field(default_factory=threading.Event)
    # The connection the event went out on, when the submitting thread wrote it: `wait_reply` reads the
    # runtime's answer from it directly.
    _connection: RuntimeConnection | None = None
    _waker: Callable[[], None] | None = None  # set while a thread serves `_connection`
    # Another socket that thread reads as it waits (the runtime's output, see DirectOutput.lend): the
    # socket, and what reads it (False once it has ended).
    _output: tuple[socket.socket, Callable[[], bool]] | None = None

    @property
    def read_by_waiter(self) -> bool:
        """The reply is read by the thread that waits for it (the event went out on a parked /next)."""
        return self._connection is not None

    def watch(self, sock: socket.socket, pull: Callable[[], bool]) -> None:
        """While waiting for the reply, also read `sock` with `pull` (from any thread)."""
        self._output = (sock, pull)
        waker = self._waker
        if waker is not None:
            waker()  # a thread already waits: it watches the socket from its next turn

    def wait_started(self, timeout: float) -> bool:
        """Wait until the runtime took the event or the invocation already ended; False on timeout."""
        return self._handed_out.wait(timeout)

    def wait_reply(self, timeout: float) -> RuntimeReply | None:
        """The runtime's reply, or None when `timeout` seconds pass first. The one way to wait for it: an
        event written by the submitting thread is answered on a connection only this call reads."""
        deadline = time.monotonic() + timeout
        if self._connection is not None:
            self._connection.serve(self, deadline)  # returns at once once the reply is in
        try:
            return self.future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            return None

    def finish(self, reply: RuntimeReply) -> bool:
        """Complete once; later replies (e.g. an exit after a response) are ignored."""
        if self.future.done():
            return False
        self.future.set_result(reply)
        self._handed_out.set()  # wake anyone still waiting for the start
        waker = self._waker
        if waker is not None:
            waker()  # a thread reading the event's connection: the reply came another way
        return True


class RuntimeConnection(Protocol):
    """A runtime's connection whose GET /next is parked. It has no reader while parked: the thread that
    submits the next event writes it and then reads the runtime's answer itself, so the reply reaches the
    waiting Invoke without a hop between threads."""

    def ended(self) -> bool:
        """The runtime closed the connection while it waited (checked before an event goes out)."""

    def deliver(self, pending: PendingInvocation | None) -> bool:
        """Write the event (or, for None, the error of a reset or close, which ends the connection);
        False when the connection is gone."""

    def serve(self, pending: PendingInvocation, deadline: float) -> None:
        """Answer the runtime's requests on this connection until `pending` has its reply, the connection
        ends or `deadline` (monotonic) passes."""

    def settle(self) -> bool:
        """The invocation is over: take the runtime's next GET /next here when it already came (parked
        again). True: no thread reads the connection now (its /next is parked, or has not come yet);
        False: it was given back to its own thread."""

    def release(self) -> None:
        """Give the connection back to its own thread, which reads it again."""

    def abandon(self) -> None:
        """The runtime process it belonged to is gone: end the connection, unread. A request that process
        sent before it died (its next /next) must not reach the API as the next process's."""


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class RuntimeApi:
    """Protocol state of one environment's Runtime API, apart from HTTP (so it is unit-testable).

    `on_ready` is called once per runtime start, at its first /next; `on_handout(request_id)` when an
    event goes out (the log stream opens the invocation there)."""

    def __init__(
        self,
        *,
        on_ready: Callable[[float], None] | None = None,
        on_handout: Callable[[str], None] | None = None,
        log_token: str | None = None,
    ) -> None:
        self._log_token = log_token
        self._token_taken = False  # by this runtime process: once per start (wire.PATH_LOG_TOKEN)
        self._lock = threading.Lock()  # nothing waits on the state: a parked /next is a connection object
        self._state = ApiState.INITIALIZING
        self._parked: RuntimeConnection | None = None  # the runtime's /next, waiting for an event
        self._lent: RuntimeConnection | None = None  # an event went out on it; settled after the call
        # Settled before the runtime's next /next came: nobody reads it until the next submit, which takes
        # that /next itself. Waking the connection's own thread for it cost a thread switch per invoke.
        self._unread: RuntimeConnection | None = None
        self._pending: PendingInvocation | None = None
        self._current: PendingInvocation | None = None
        self._finished: deque[str] = deque(maxlen=64)
        # Set when the runtime asks for its next event (GET /next), cleared when an event goes out: a
        # runtime without log markers has written all of an invocation's output once it asks again.
        self._asked = threading.Event()
        self._gone = False  # the runtime process ended (fail_outstanding) since its start
        self.init_error: RuntimeReply | None = None
        self._on_ready = on_ready
        self._on_handout = on_handout

    @property
    def state(self) -> ApiState:
        return self._state

    # ---- the environment's side
    def submit(
        self, invocation: Invocation, timeout_s: float, *, invoke_started: float | None = None
    ) -> PendingInvocation:
        """Queue an invocation, or deliver it at once to a parked /next. The caller waits for the reply
        with `pending.wait_reply` (which reads the runtime's answer when the event went out here) and then
        calls `settle`."""
        pending = PendingInvocation(invocation, timeout_s, invoke_started=invoke_started)
        with self._lock:
            unread, self._unread = self._unread, None
        if unread is not None:
            self._take_next(unread)
        with self._lock:
            if self._state is ApiState.CLOSED:
                raise RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment is closed")
            if self._pending is not None or self._current is not None:
                raise RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment is busy")
            if self.init_error is not None:
                pending.finish(self.init_error)
                return pending
            parked = self._unpark()
            if parked is None or parked.ended():
                self._pending = pending  # taken by the runtime's next /next (a new runtime's, if it died)
            else:
                self._hand_out(pending)
                self._lent = pending._connection = parked
        if parked is None:
            return pending
        if pending._connection is None:
            parked.release()  # its thread reads the end of the connection and finishes
        elif not parked.deliver(pending):
            pending._connection = None  # the runtime is gone: its exit ends the invocation
            with self._lock:
                if self._lent is parked:
                    self._lent = None  # released by deliver: its own thread reads it again
        return pending

    def settle(self) -> None:
        """An invocation is over: the connection its event went out on is read again (see
        RuntimeConnection.settle). Called once the caller has the reply, whatever it was."""
        with self._lock:
            lent, self._lent = self._lent, None
        if lent is None or not lent.settle():
            return
        with self._lock:
            if self._parked is lent:
                return
            if self._state is ApiState.IDLE and self._unread is None:
                self._unread = lent  # its /next has not come yet: the next submit reads it
                return
        lent.release()  # reset or closed meanwhile: its own thread reads the end of it

    def wait_next(self, timeout: float) -> bool:
        """After an invocation's reply: wait until the runtime asks for its next event (True), or `timeout`
        passes (False). Settles first (the runtime's 202); a connection left unread goes back to its own
        thread, which reads the /next when it comes (a thread switch, instead of none, for this wait)."""
        self.settle()
        with self._lock:
            unread, self._unread = self._unread, None
        if unread is not None:
            unread.release()
        asked = self._asked.wait(timeout)
        with self._lock:
            return asked and not self._gone

    def _take_next(self, connection: RuntimeConnection) -> None:
        """A connection left unread by `settle`: its /next, when it came meanwhile (as it nearly always
        has), is parked now. Otherwise its own thread reads it, and that /next takes the event."""
        if connection.settle():
            with self._lock:
                if self._parked is connection:
                    return
        connection.release()

    def fail_outstanding(self, reply: RuntimeReply) -> None:
        """The runtime is gone (exit, kill): end whatever invocation it held or was about to get."""
        with self._lock:
            for pending in (self._current, self._pending):
                if pending is not None:
                    pending.finish(reply)
            self._current = self._pending = None
            self._gone = True
        self._asked.set()  # a wait for its next /next ends: none comes

    def take_log_token(self) -> str:
        """The log token, to the runtime client's first call after its start only: user code, which runs
        after it, cannot read it (wire.PATH_LOG_TOKEN)."""
        with self._lock:
            if self._log_token is None or self._token_taken:
                raise RuntimeApiError(403, "AccessDenied", "The log token was taken")
            self._token_taken = True
            return self._log_token

    def reset(self) -> None:
        """A new runtime process starts from scratch (after a crash, a timeout or an init error)."""
        with self._lock:
            self._token_taken = False
            self._asked.clear()
            self._gone = False
            if self._state is not ApiState.CLOSED:
                self._state = ApiState.INITIALIZING
            self._current = self._pending = None
            self.init_error = None
            connections = self._detach()
        self._end(*connections)

    def close(self) -> None:
        with self._lock:
            self._state = ApiState.CLOSED
            connections = self._detach()
        self._end(*connections)

    def _detach(self) -> tuple[RuntimeConnection | None, ...]:
        """Under the lock: the parked, lent and unread connections, taken (for `_end`)."""
        taken = (self._unpark(), self._lent, self._unread)
        self._lent = self._unread = None
        return taken

    @staticmethod
    def _end(parked: RuntimeConnection | None, *others: RuntimeConnection | None) -> None:
        """After a reset or close: the parked /next gets the error; a lent or unread connection is ended
        unread (a dead runtime's last /next, still in its buffer, would make the next runtime look
        ready before it even started)."""
        if parked is not None:
            parked.deliver(None)
        for other in others:
            if other is not None and other is not parked:
                other.abandon()

    # ---- the runtime's side, one method per endpoint
    def next_invocation(self, connection: RuntimeConnection) -> PendingInvocation | None:
        """GET /runtime/invocation/next. With an event waiting, it is handed out and returned: the caller
        replies. Otherwise the connection is parked and None returned: the thread that submits the next
        event delivers it and serves the connection until the reply (RuntimeConnection), and a reset or
        close delivers None."""
        with self._lock:
            if self._state is ApiState.INVOKING:
                raise RuntimeApiError(
                    403, wire.E_INVALID_STATE_TRANSITION, "State transition from Running to Ready failed"
                )
            if self._state is ApiState.CLOSED:
                raise RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment closed")
            self._asked.set()
            if self._state is ApiState.INITIALIZING:
                self._state = ApiState.IDLE
                if self._on_ready is not None:
                    self._on_ready(time.monotonic())
            if self._pending is not None:
                pending, self._pending = self._pending, None
                self._hand_out(pending)
                return pending
            displaced, self._parked = self._parked, connection
        if displaced is not None and displaced is not connection:
            displaced.release()  # a second /next took its place: its thread reads it again, unanswered
        return None

    def _hand_out(self, pending: PendingInvocation) -> None:
        """Under the lock: the event goes out now; its deadline starts from when the invoke started."""
        self._current = pending
        self._state = ApiState.INVOKING
        self._asked.clear()
        now = time.monotonic()
        pending.handed_out_at = now
        if pending.invoke_started is None:
            pending.invoke_started = now
        elapsed = now - pending.invoke_started
        pending.deadline_ms = int((time.time() - elapsed + pending.timeout_s) * 1000)
        if self._on_handout is not None:
            self._on_handout(pending.invocation.request_id)
        pending._handed_out.set()

    def drop_parked(self, connection: RuntimeConnection) -> None:
        """The parked /next's connection ended: an event submitted now waits for a new runtime instead of
        going to a dead one."""
        with self._lock:
            if self._parked is connection:
                self._parked = None

    def _unpark(self) -> RuntimeConnection | None:
        """Under the lock: the parked /next, taken (a reset or close answers it with a 500)."""
        parked, self._parked = self._parked, None
        return parked

    def complete(self, request_id: str, reply: RuntimeReply) -> None:
        """POST /invocation/{id}/response or /error."""
        with self._lock:
            current = self._current
            if current is None or current.invocation.request_id != request_id:
                if request_id in self._finished:
                    raise RuntimeApiError(
                        403, wire.E_INVALID_STATE_TRANSITION, "Invalid state transition: invocation is over"
                    )
                raise RuntimeApiError(400, wire.E_INVALID_REQUEST_ID, "Invalid request ID")
            self._current = None
            self._state = ApiState.IDLE
            self._finished.append(request_id)
        current.finish(reply)

    def response_stream(self, request_id: str) -> ResponseStream | None:
        """Where the current invocation's streamed response goes, when its caller takes one and
        `request_id` names it (otherwise `complete` answers the runtime's mistake)."""
        with self._lock:
            current = self._current
            if current is None or current.invocation.request_id != request_id:
                return None
            return current.invocation.response_stream

    def report_init_error(self, reply: RuntimeReply) -> None:
        """POST /runtime/init/error: only before the first /next."""
        with self._lock:
            if self._state is not ApiState.INITIALIZING:
                raise RuntimeApiError(
                    403, wire.E_INVALID_STATE_TRANSITION, "Init error is only accepted during init"
                )
            self.init_error = reply
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.finish(reply)


# How long `settle` may spend reading a request that has begun to arrive (the runtime's next /next).
_SETTLE_READ_S = 1.0


class _Handler(QuickHandler):
    """One runtime connection. Its own thread reads it, except while its GET /next is parked: then the
    connection is lent (RuntimeConnection) and this thread waits until it is given back."""

    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self._home_thread = threading.get_ident()
        self._home = threading.Event()  # set when the connection is given back to this thread
        self._reparked = False  # a borrowing thread parked the runtime's next /next itself
        self._serving = 0  # ident of the thread in `serve`
        # The 202 for a response or error read by the thread in `serve`, written by `settle`: the caller's
        # answer goes out first, the runtime (which only asks for its next event after it) waits meanwhile.
        self._ack = False
        self._wake_r: socket.socket | None = None  # wakes `serve` when the reply came another way
        self._wake_w: socket.socket | None = None

    def error_body(self, status: int, message: str) -> tuple[bytes, dict[str, str]]:
        return _error_json("InvalidRequest" if status < 500 else wire.E_SANDBOX_FAILURE, message), {}

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        expected = self.server.host_name
        if expected is None or self.headers.get("Host", "").rpartition(":")[0].lower() == expected:
            return True
        # Another environment's function found this port (ports show in /proc/net/tcp on a shared host
        # network); only this environment's runtime knows the name it was given for the API.
        self.reply(403, _error_json("AccessDenied", "This Runtime API belongs to another environment"))
        self.close_connection = True
        return False

    def finish(self) -> None:
        self.server.api.drop_parked(self)
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        super().finish()

    def _reply_error(self, exc: RuntimeApiError) -> None:
        self.reply(exc.status, _error_json(exc.error_type, exc.message))

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == wire.PATH_LOG_TOKEN:
            try:
                token = self.server.api.take_log_token()
            except RuntimeApiError as exc:
                self._reply_error(exc)
                return
            self.reply(200, token.encode(), {"Content-Type": "text/plain"})
            return
        if self.path != wire.PATH_NEXT:
            self.reply(404, _error_json("NotFound", "Not found"))
            return
        at_home = threading.get_ident() == self._home_thread
        if at_home:
            self._home.clear()
        try:
            pending = self.server.api.next_invocation(self)
        except RuntimeApiError as exc:
            self._write_error(exc)
            return
        if pending is not None:
            self._write_event(pending)
        elif at_home:
            self._home.wait()  # parked: the connection is lent until given back
        else:
            self._reparked = True

    # ---- RuntimeConnection: called by other threads while the /next is parked
    def ended(self) -> bool:
        sock = self.connection
        try:
            # poll first: a socket with a timeout would wait that long in recv, even with MSG_DONTWAIT.
            return bool(readable([sock], 0)) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def deliver(self, pending: PendingInvocation | None) -> bool:
        try:
            self._write_event(pending)
        except OSError as exc:
            LOG.debug("the runtime's /next connection is gone: %s", exc)
            self.release()
            return False
        if pending is None:
            self.release()
        return pending is not None

    def serve(self, pending: PendingInvocation, deadline: float) -> None:
        sock = self.connection
        if self._wake_r is None:
            self._wake_r, self._wake_w = socket.socketpair()
        self._serving = threading.get_ident()
        pending._waker = self._wake_serving
        try:
            while not pending.future.done() and not self.close_connection:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                output = pending._output
                watched = [sock, self._wake_r] if output is None else [sock, self._wake_r, output[0]]
                try:
                    ready = readable(watched, remaining)
                except (OSError, ValueError):
                    if output is None:
                        raise
                    pending._output = None  # closed by its own reader: the runtime process is gone
                    continue
                if output is not None and output[0] in ready and not output[1]():
                    pending._output = None  # ended: its reader finishes it
                if self._wake_r in ready:
                    self._wake_r.recv(64)
                elif sock in ready:
                    # A request begun but never finished cannot outlast the invocation's own deadline (not
                    # this call's: a caller may wait in slices, and a request can straddle two).
                    ends = (pending.invoke_started or time.monotonic()) + pending.timeout_s
                    sock.settimeout(max(0.001, ends - time.monotonic()))
                    try:
                        self.handle_one_request()
                    except Exception as exc:  # see _ended_by
                        self._ended_by(exc)
        finally:
            # The output is not read once more here: what the runtime wrote before its reply (its END
            # marker) was readable when the reply was, and is read in that turn; the rare rest is read by
            # the log's wait for its end (Environment.wait_log_end).
            pending._waker = None
            self._serving = 0

    def _ended_by(self, exc: Exception) -> None:
        """A request read by a borrowing thread failed: a reset by the runtime, or a request it cannot
        parse (a bad Content-Length). Its own thread would end the connection (handle_error); so does the
        borrower, instead of raising into the invoker. The runtime's exit ends the invocation."""
        LOG.debug("runtime connection ended: %r", exc)
        self.close_connection = True

    def _wake_serving(self) -> None:
        if self._serving and threading.get_ident() != self._serving and self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass

    def settle(self) -> bool:
        self._reparked = False
        try:
            if self._ack:
                self._ack = False
                self._accepted()
            if not self.close_connection:
                if not readable([self.connection], 0):
                    self._blocking()
                    return True  # nothing yet: left unread (RuntimeApi decides who reads it)
                self.connection.settimeout(_SETTLE_READ_S)
                self.handle_one_request()  # the runtime asked for its next event already: park it here
        except Exception as exc:  # see _ended_by
            self._ended_by(exc)
        if self._reparked and not self.close_connection:
            self._blocking()  # parked again, with no reader until the next event is delivered
            return True
        self.release()
        return False

    def release(self) -> None:
        self._blocking()
        self._home.set()

    def abandon(self) -> None:
        self.close_connection = True  # its own thread, woken, stops before reading anything more
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.release()

    def _blocking(self) -> None:
        try:
            self.connection.settimeout(None)
        except OSError:
            pass

    def _write_event(self, pending: PendingInvocation | None) -> None:
        if pending is None:
            self._write_error(RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment reset"))
            return
        inv = pending.invocation
        headers = {
            "Content-Type": inv.content_type,
            wire.H_REQUEST_ID: inv.request_id,
            wire.H_DEADLINE_MS: str(pending.deadline_ms),
            wire.H_FUNCTION_ARN: inv.invoked_function_arn,
            wire.H_TRACE_ID: inv.trace_id,
        }
        for name, value in (
            (wire.H_CLIENT_CONTEXT, inv.client_context),
            (wire.H_COGNITO_IDENTITY, inv.cognito_identity),
            (wire.H_TENANT_ID, inv.tenant_id),
        ):
            if value:
                headers[name] = value
        self.reply(200, inv.payload, headers)

    def _write_error(self, exc: RuntimeApiError) -> None:
        self._reply_error(exc)
        if exc.status >= 500:
            # The runtime is being replaced: end its connection (also wakes this handler's read when the
            # reply comes from another thread).
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def do_POST(self) -> None:  # noqa: N802
        api = self.server.api
        path = self.path
        try:
            if path == wire.PATH_INIT_ERROR:
                body = self.read_body(wire.MAX_RESPONSE_BYTES) or b""
                api.report_init_error(self._error_reply(ReplyKind.INIT_ERROR, body))
                self._accepted()
                return
            if not path.startswith(wire.INVOCATION_PREFIX):
                self.reply(404, _error_json("NotFound", "Not found"))
                return
            request_id, _, action = path[len(wire.INVOCATION_PREFIX) :].rpartition("/")
            if action == "response" and self._streaming():
                reply = self._streamed_reply(request_id)
                if reply.kind is ReplyKind.TOO_LARGE:
                    self._response_too_large(request_id, reply)
                    return
            elif action == "response":
                result = self.read_body(wire.MAX_RESPONSE_BYTES)
                if result is None:
                    self._response_too_large(request_id)
                    return
                reply = RuntimeReply(
                    ReplyKind.RESPONSE, result, self.headers.get("Content-Type") or "application/json"
                )
            elif action == "error":
                reply = self._error_reply(ReplyKind.ERROR, self.read_body(wire.MAX_RESPONSE_BYTES) or b"")
            else:
                self.reply(404, _error_json("NotFound", "Not found"))
                return
            api.complete(request_id, reply)
            if self._serving == threading.get_ident():
                self._ack = True  # written by `settle`, after the caller has its answer
            else:
                self._accepted()
        except RuntimeApiError as exc:
            self._reply_error(exc)

    def _streaming(self) -> bool:
        return self.headers.get(wire.H_RESPONSE_MODE, "").lower() == wire.RESPONSE_MODE_STREAMING

    def _streamed_reply(self, request_id: str) -> RuntimeReply:
        """A response POSTed in streaming mode, each chunk passed on to the caller's stream as it arrives
        (or gathered, for a caller that takes the answer whole: Invoke buffers it, under Invoke's limit).
        An error mid-stream comes in the trailers (Lambda's Runtime API, "Response streaming"). The thread
        reading it reads nothing else meanwhile: a runtime whose output that thread also reads
        (DirectOutput, our Python client) never streams."""
        stream = self.server.api.response_stream(request_id)
        content_type = self.headers.get("Content-Type") or "application/octet-stream"
        limit = wire.MAX_RESPONSE_BYTES if stream is None else wire.MAX_STREAMED_RESPONSE_BYTES
        gathered: list[bytes] = []
        take = gathered.append if stream is None else stream.write
        if stream is not None:
            stream.begin(content_type)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            size, trailers = self.read_chunked(take, limit)
        else:  # a streaming-mode POST with a Content-Length: one chunk
            body = self.read_body(limit)
            size, trailers = (limit + 1, Headers()) if body is None else (len(body), Headers())
            if body:
                take(body)
        if size > limit:
            return RuntimeReply(ReplyKind.TOO_LARGE, streamed=stream is not None)
        error_type = trailers.get(wire.H_FUNCTION_ERROR_TYPE)
        if error_type:
            return RuntimeReply(
                ReplyKind.ERROR,
                _trailer_body(trailers.get(wire.H_FUNCTION_ERROR_BODY, ""), error_type),
                error_type=error_type,
                streamed=stream is not None,
            )
        return RuntimeReply(ReplyKind.RESPONSE, b"".join(gathered), content_type, streamed=stream is not None)

    def _accepted(self) -> None:
        self.reply(202, b'{"status":"OK"}')

    def _error_reply(self, kind: ReplyKind, body: bytes) -> RuntimeReply:
        return RuntimeReply(kind, body, error_type=self.headers.get(wire.H_FUNCTION_ERROR_TYPE))

    def _response_too_large(self, request_id: str, streamed: RuntimeReply | None = None) -> None:
        live = streamed is not None and streamed.streamed
        limit = wire.MAX_STREAMED_RESPONSE_BYTES if live else wire.MAX_RESPONSE_BYTES
        # The caller sees Function.ResponseSizeTooLarge; the runtime gets RAPID's 413 (Lambda's Runtime API).
        caller_body = _error_json(
            wire.E_RESPONSE_TOO_LARGE,
            f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
        )
        reply = RuntimeReply(ReplyKind.TOO_LARGE, caller_body, streamed=live)
        self.server.api.complete(request_id, reply)
        self.reply(
            413,
            _error_json(wire.E_REQUEST_TOO_LARGE, f"Exceeded maximum allowed payload size ({limit} bytes)."),
        )


def _trailer_body(value: str, error_type: str) -> bytes:
    """The Lambda-Runtime-Function-Error-Body trailer: the error's JSON, base64-encoded (as runtimes send
    it); text that is not base64 is taken as it is, and no body at all becomes the type's own error."""
    if not value:
        return _error_json(error_type, error_type)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()


class _HttpServer(TrackingHttpServer):
    def __init__(self, address: tuple[str, int], api: RuntimeApi, name: str, host_name: str | None) -> None:
        # A runtime needs two connections at most (its /next, an init error); the rest are strangers.
        super().__init__(address, _Handler, name=name, max_connections=32)
        self.api = api
        self.host_name = host_name


class RuntimeApiServer:
    """The HTTP endpoint of one RuntimeApi on 127.0.0.1 (a port of its own per environment, because a
    runtime addresses the API by host:port only). Closing it stops at once.

    With `host_name`, the API answers only requests whose Host header names it: every environment shares
    the host's loopback, so any function can connect to any environment's port, but only the runtime whose
    container resolves that secret name (an /etc/hosts entry of its own) addresses it so. Every runtime
    client sends the Host of AWS_LAMBDA_RUNTIME_API (HTTP/1.1 requires it), so none needs to know."""

    def __init__(
        self,
        api: RuntimeApi,
        *,
        host: str = "127.0.0.1",
        name: str = "runtime-api",
        host_name: str | None = None,
    ) -> None:
        self.api = api
        self.host_name = host_name.lower() if host_name else None
        self._server = BackgroundServer(_HttpServer((host, 0), api, name, self.host_name))

    @property
    def address(self) -> str:
        """host:port as the runtime addresses it (AWS_LAMBDA_RUNTIME_API)."""
        if self.host_name is None:
            return self._server.address
        return f"{self.host_name}:{self._server.address.rpartition(':')[2]}"

    @property
    def listen_address(self) -> str:
        """The loopback address it listens on."""
        return self._server.address

    def close(self) -> None:
        self.api.close()
        self._server.close()

    def __enter__(self) -> RuntimeApiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
