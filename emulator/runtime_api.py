"""The Lambda Runtime API (2018-06-01) for one execution environment: one handler per endpoint,
each validating the call, moving the protocol's state machine and rendering RAPID's replies."""

from __future__ import annotations

import enum
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from emulator import wire
from emulator.errors import RuntimeApiError
from emulator.httpserver import BackgroundServer, QuickHandler, TrackingHttpServer
from emulator.models import Invocation

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

    def wait_started(self, timeout: float) -> bool:
        """Wait until the runtime took the event or the invocation already ended; False on timeout."""
        return self._handed_out.wait(timeout)

    def finish(self, reply: RuntimeReply) -> bool:
        """Complete once; later replies (e.g. an exit after a response) are ignored."""
        if self.future.done():
            return False
        self.future.set_result(reply)
        self._handed_out.set()  # wake anyone still waiting for the start
        return True


# Writes the reply of a parked /next: the event, or None when the environment was reset or closed.
EventWriter = Callable[["PendingInvocation | None"], None]


def _write_event(parked: EventWriter | None, pending: PendingInvocation | None) -> None:
    if parked is None:
        return
    try:
        parked(pending)
    except OSError as exc:  # the runtime is gone: its exit ends the invocation (fail_outstanding)
        LOG.debug("the runtime's /next connection is gone: %s", exc)


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
    ) -> None:
        self._lock = threading.Lock()  # nothing waits on the state: a parked /next is a callback
        self._state = ApiState.INITIALIZING
        self._parked: EventWriter | None = None  # the runtime's /next, waiting for an event
        self._pending: PendingInvocation | None = None
        self._current: PendingInvocation | None = None
        self._finished: deque[str] = deque(maxlen=64)
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
        pending = PendingInvocation(invocation, timeout_s, invoke_started=invoke_started)
        with self._lock:
            if self._state is ApiState.CLOSED:
                raise RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment is closed")
            if self._pending is not None or self._current is not None:
                raise RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment is busy")
            if self.init_error is not None:
                pending.finish(self.init_error)
                return pending
            parked = self._unpark()
            if parked is None:
                self._pending = pending  # taken by the runtime's next /next
                return pending
            self._hand_out(pending)
        _write_event(parked, pending)
        return pending

    def fail_outstanding(self, reply: RuntimeReply) -> None:
        """The runtime is gone (exit, kill): end whatever invocation it held or was about to get."""
        with self._lock:
            for pending in (self._current, self._pending):
                if pending is not None:
                    pending.finish(reply)
            self._current = self._pending = None

    def reset(self) -> None:
        """A new runtime process starts from scratch (after a crash, a timeout or an init error)."""
        with self._lock:
            if self._state is not ApiState.CLOSED:
                self._state = ApiState.INITIALIZING
            self._current = self._pending = None
            self.init_error = None
            parked = self._unpark()
        _write_event(parked, None)

    def close(self) -> None:
        with self._lock:
            self._state = ApiState.CLOSED
            parked = self._unpark()
        _write_event(parked, None)

    # ---- the runtime's side, one method per endpoint
    def next_invocation(self, deliver: EventWriter) -> PendingInvocation | None:
        """GET /runtime/invocation/next. With an event waiting, it is handed out and returned: the caller
        replies. Otherwise the request is parked and None returned: the thread that submits the next event
        hands it out and calls `deliver` with it, writing the reply itself (no thread hop between the Invoke
        and the runtime), and a reset or close calls `deliver(None)`."""
        with self._lock:
            if self._state is ApiState.INVOKING:
                raise RuntimeApiError(
                    403, wire.E_INVALID_STATE_TRANSITION, "State transition from Running to Ready failed"
                )
            if self._state is ApiState.CLOSED:
                raise RuntimeApiError(500, wire.E_SANDBOX_FAILURE, "environment closed")
            if self._state is ApiState.INITIALIZING:
                self._state = ApiState.IDLE
                if self._on_ready is not None:
                    self._on_ready(time.monotonic())
            if self._pending is None:
                self._parked = deliver
                return None
            pending, self._pending = self._pending, None
            self._hand_out(pending)
            return pending

    def _hand_out(self, pending: PendingInvocation) -> None:
        """Under the lock: the event goes out now; its deadline starts from when the invoke started."""
        self._current = pending
        self._state = ApiState.INVOKING
        now = time.monotonic()
        pending.handed_out_at = now
        if pending.invoke_started is None:
            pending.invoke_started = now
        elapsed = now - pending.invoke_started
        pending.deadline_ms = int((time.time() - elapsed + pending.timeout_s) * 1000)
        if self._on_handout is not None:
            self._on_handout(pending.invocation.request_id)
        pending._handed_out.set()

    def drop_parked(self, deliver: EventWriter) -> None:
        """The parked /next's connection ended (the runtime died waiting): an event submitted now waits for
        a new runtime instead of going to a dead one."""
        with self._lock:
            if self._parked == deliver:
                self._parked = None

    def _unpark(self) -> EventWriter | None:
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


class _Handler(QuickHandler):
    server: _HttpServer

    def finish(self) -> None:
        self.server.api.drop_parked(self._write_event)
        super().finish()

    def _reply_error(self, exc: RuntimeApiError) -> None:
        self.reply(exc.status, _error_json(exc.error_type, exc.message))

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != wire.PATH_NEXT:
            self.reply(404, _error_json("NotFound", "Not found"))
            return
        try:
            pending = self.server.api.next_invocation(self._write_event)
        except RuntimeApiError as exc:
            self._write_error(exc)
            return
        if pending is not None:
            self._write_event(pending)
        # else parked: this thread goes back to reading the connection; the submitter writes the event.

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
                self.reply(202, b'{"status":"OK"}')
                return
            if not path.startswith(wire.INVOCATION_PREFIX):
                self.reply(404, _error_json("NotFound", "Not found"))
                return
            request_id, _, action = path[len(wire.INVOCATION_PREFIX) :].rpartition("/")
            if action == "response":
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
            self.reply(202, b'{"status":"OK"}')
        except RuntimeApiError as exc:
            self._reply_error(exc)

    def _error_reply(self, kind: ReplyKind, body: bytes) -> RuntimeReply:
        return RuntimeReply(kind, body, error_type=self.headers.get(wire.H_FUNCTION_ERROR_TYPE))

    def _response_too_large(self, request_id: str) -> None:
        limit = wire.MAX_RESPONSE_BYTES
        # The caller sees Function.ResponseSizeTooLarge; the runtime gets RAPID's 413 (contract §1).
        caller_body = _error_json(
            wire.E_RESPONSE_TOO_LARGE,
            f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
        )
        self.server.api.complete(request_id, RuntimeReply(ReplyKind.TOO_LARGE, caller_body))
        self.reply(
            413,
            _error_json(wire.E_REQUEST_TOO_LARGE, f"Exceeded maximum allowed payload size ({limit} bytes)."),
        )


class _HttpServer(TrackingHttpServer):
    def __init__(self, address: tuple[str, int], api: RuntimeApi, name: str) -> None:
        super().__init__(address, _Handler, name=name)
        self.api = api


class RuntimeApiServer:
    """The HTTP endpoint of one RuntimeApi on 127.0.0.1 (a port of its own per environment, because a
    runtime addresses the API by host:port only). Closing it stops at once."""

    def __init__(self, api: RuntimeApi, *, host: str = "127.0.0.1", name: str = "runtime-api") -> None:
        self.api = api
        self._server = BackgroundServer(_HttpServer((host, 0), api, name))

    @property
    def address(self) -> str:
        return self._server.address

    def close(self) -> None:
        self.api.close()
        self._server.close()

    def __enter__(self) -> RuntimeApiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
