"""The local API Gateway: `Gateway` turns one request into its route's event, invokes the function under
the route's integration timeout and maps the answer (and CORS preflights); `ApiFront` serves it."""

from __future__ import annotations

import email.utils
import heapq
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lambda_emu.engine.httpserver import BackgroundServer, ChunkedOut, QuickHandler, TrackingHttpServer
from lambda_emu.errors import LambdaEmuError
from lambda_emu.gateway.authorizers import AuthorizerCache, Verdict, authorize, authorizer_failed
from lambda_emu.gateway.cors import preflight, with_cors
from lambda_emu.gateway.jwt import RsaKey
from lambda_emu.gateway.requests import HttpRequest, RequestIds, integration_event
from lambda_emu.gateway.responses import (
    HttpResponse,
    forbidden,
    function_response,
    internal_error,
    no_route,
    rejected,
    timed_out,
    too_large,
)
from lambda_emu.gateway.routes import RouteMatch, RouteTable
from lambda_emu.gateway.streaming import UrlStream
from lambda_emu.models import InvocationResult, ResponseStream
from lambda_emu.template.apis import REST, URL, TemplateApi

LOG = logging.getLogger(__name__)


class Invoke(Protocol):
    """A function by name and its event → Lambda's result (function errors are results; a rejected call
    raises). `answered`, when the invoke can, is told the result as soon as the function has answered,
    before the invocation's bookkeeping (END and REPORT, the memory figure): API Gateway answers from it.
    `stream`, when given, gets a response the function streams, as it comes (Function URLs in
    RESPONSE_STREAM mode)."""

    def __call__(
        self,
        name: str,
        payload: bytes,
        answered: Callable[[InvocationResult], None],
        stream: ResponseStream | None = None,
    ) -> InvocationResult: ...


# API Gateway's payload quota: 10 MB for REST and HTTP APIs (API Gateway quotas).
MAX_REQUEST_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class RequestRecord:
    """One request served, for the terminal's one line per request."""

    method: str
    path: str
    function: str | None  # None: API Gateway answered itself (no route, a preflight)
    status: int
    duration_ms: float
    error: str | None = None


class _Deadlines:
    """One named thread that runs each registered action at its time (the integration timeouts): a thread
    per request would cost its start-up, about a millisecond, on every request."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], object]]] = []
        self._cond = threading.Condition()
        self._count = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def at(self, when: float, action: Callable[[], object]) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gateway-deadlines", daemon=True)
                self._thread.start()
            self._count += 1
            heapq.heappush(self._due, (when, self._count, action))
            if self._due[0][1] == self._count:  # the earliest now: the thread waits less
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                    self._cond.wait(self._due[0][0] - time.monotonic() if self._due else None)
                if self._closed:
                    return
                _, _, action = heapq.heappop(self._due)
            try:
                action()
            except Exception:  # noqa: BLE001 - one failed answer must not stop the others' timeouts
                LOG.exception("a timeout answer failed")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


class _Reply:
    """The one answer a request gets: the function's, or API Gateway's own when the integration timeout
    comes first; whichever is sent first wins, the other is dropped."""

    def __init__(self, finish: Callable[[HttpResponse], HttpResponse], send: Callable[[HttpResponse], None]):
        self._finish: Callable[[HttpResponse], HttpResponse] | None = finish
        self._send: Callable[[HttpResponse], None] | None = send
        self._lock = threading.Lock()
        self.sent = False

    def claim(self) -> Callable[[HttpResponse], HttpResponse] | None:
        """Take the right to answer (a streamed answer sends its own head): the finishing step, or None
        when the request was answered already."""
        with self._lock:
            finish = self._finish
            if finish is None or self._send is None:
                return None
            self.sent = True
            self._finish = self._send = None
            return finish

    def __call__(self, response: HttpResponse) -> None:
        with self._lock:
            if self._finish is None or self._send is None:
                return
            self.sent = True
            finish, send = self._finish, self._send
            # The timeout's entry keeps this object until its time: it must not keep the request too.
            self._finish = self._send = None
            send(finish(response))


class Gateway:
    """Routes a request, invokes its function and maps the answer, as API Gateway's Lambda proxy
    integration does. `table` may be replaced while serving (a reloaded template)."""

    def __init__(
        self,
        table: RouteTable,
        invoke: Invoke,
        *,
        account_id: str,
        region: str = "us-east-1",
        on_request: Callable[[RequestRecord], None] | None = None,
        jwt_keys: Mapping[str, RsaKey] | None = None,  # the keys JWT authorizers check tokens with, by kid
        # Why a signed request to an AWS_IAM Function URL is refused, its signature or its signer ("": it is
        # not; None: any signed request is let in).
        iam_refusal: Callable[[HttpRequest, TemplateApi], str] | None = None,
    ) -> None:
        self.table = table
        self._invoke = invoke
        self._account_id = account_id
        self._region = region
        self._authorizer_answers = AuthorizerCache()
        self._on_request = on_request
        self._deadlines = _Deadlines()
        self._jwt_keys = jwt_keys
        self._iam_refusal_of = iam_refusal

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The answer to one request (returns once the invocation has ended, even past its timeout)."""
        answers: list[HttpResponse] = []
        self.serve(request, answers.append)
        return answers[0]

    def serve(
        self, request: HttpRequest, send: Callable[[HttpResponse], None], chunked: ChunkedOut | None = None
    ) -> None:
        """Answer one request through `send`, called once: as soon as the function has answered (before
        the invocation's bookkeeping), or with API Gateway's own answer at the integration timeout (from
        another thread, while the invocation runs on, as it does in Lambda when API Gateway gives up).
        With `chunked`, a Function URL in RESPONSE_STREAM mode streams its function's answer on it."""
        started = time.monotonic()
        table = self.table_for(request)  # one table for the whole request, whatever a reload does meanwhile
        ids_ = RequestIds()
        answer = preflight(table, request)
        match = table.match(request.method, request.path) if answer is None else None
        kind = match.api.kind if match is not None else table.kind
        function = match.route.function if match is not None else None

        def finish(response: HttpResponse) -> HttpResponse:
            headers = response.headers
            if match is not None:
                headers = with_cors(match.api, request, headers)
            response = HttpResponse(
                response.status, headers + _id_headers(kind, ids_), response.body, response.error
            )
            if self._on_request is not None:
                elapsed = (time.monotonic() - started) * 1000
                record = RequestRecord(
                    request.method, request.target, function, response.status, elapsed, response.error
                )
                self._on_request(record)
            return response

        reply = _Reply(finish, send)
        if answer is not None:
            reply(answer)
        elif match is None:
            reply(no_route(kind))
        elif (
            match.api.kind == URL
            and match.api.url_auth == "AWS_IAM"
            and (why := self._iam_refusal(request, match))
        ):
            reply(forbidden(why))
        else:
            context = None
            if match.route.authorizer is not None:
                verdict = self._authorize(request, match, ids_)
                if verdict.answer is not None:
                    reply(verdict.answer)
                    return
                context = verdict.context
            self._integrate(request, match, ids_, reply, context, chunked)

    def _iam_refusal(self, request: HttpRequest, match: RouteMatch) -> str:
        """Why an AWS_IAM Function URL refuses `request` ("" when it does not): unsigned, or what
        `iam_refusal` finds wrong with its signature or its signer."""
        if not request.header("authorization").startswith("AWS4-HMAC-SHA256 "):
            return "AuthType AWS_IAM: the request is not signed"
        if self._iam_refusal_of is not None:
            return self._iam_refusal_of(request, match.api)
        return ""

    def table_for(self, request: HttpRequest) -> RouteTable:
        """The routes `request` is matched against: the gateway's table."""
        return self.table

    def _authorize(self, request: HttpRequest, match: RouteMatch, ids_: RequestIds) -> Verdict:
        authorizer = match.api.authorizers[match.route.authorizer or ""]
        try:
            return authorize(
                authorizer,
                request,
                match,
                ids_,
                invoke=lambda name, payload: self._invoke(name, payload, _ignore),
                cache=self._authorizer_answers,
                region=self._region,
                account_id=self._account_id,
                jwt_keys=self._jwt_keys,
            )
        except LambdaEmuError as exc:
            LOG.warning("%s: authorizer %s failed: %s", request.target, authorizer.name, exc.message)
            return Verdict(answer=authorizer_failed(match.api.kind, f"authorizer failed: {exc.message}"))
        except Exception as exc:  # noqa: BLE001 - a bug below must still answer the client
            LOG.error("%s: authorizer %s failed", request.target, authorizer.name, exc_info=exc)
            return Verdict(answer=authorizer_failed(match.api.kind, f"authorizer failed: {exc}"))

    def _integrate(
        self,
        request: HttpRequest,
        match: RouteMatch,
        ids_: RequestIds,
        reply: _Reply,
        authorizer: dict[str, object] | None = None,
        chunked: ChunkedOut | None = None,
    ) -> None:
        kind, route = match.api.kind, match.route
        event = integration_event(request, match, ids_, account_id=self._account_id, authorizer=authorizer)
        payload = json.dumps(event).encode()
        why = f"no answer within the integration timeout of {route.timeout_ms} ms"
        self._deadlines.at(time.monotonic() + route.timeout_ms / 1000, lambda: reply(timed_out(kind, why)))

        stream = None
        if chunked is not None and match.api.kind == URL and match.api.invoke_mode == "RESPONSE_STREAM":
            stream = _url_stream(chunked, reply, request.method == "HEAD")

        def answered(result: InvocationResult) -> None:
            if stream is not None and stream.opened:
                # Streamed: the body ends as soon as the function has answered, before the bookkeeping.
                stream.close()
                stream.end()
                return
            if not reply.sent:
                reply(self._mapped(request, match, result))

        try:
            result = self._invoke(route.function, payload, answered, stream)
        except LambdaEmuError as exc:
            LOG.warning("%s: invoking %s failed: %s", request.target, route.function, exc.message)
            reply(rejected(kind, f"the invocation failed: {exc.message}"))
        except Exception as exc:  # noqa: BLE001 - a bug below must still answer the client
            LOG.error("%s: invoking %s failed", request.target, route.function, exc_info=exc)
            reply(rejected(kind, f"the invocation failed: {exc}"))
        else:
            answered(result)  # the whole result, when no early answer came (timeouts, crashes)
        finally:
            if stream is not None:
                stream.close()
                stream.end()

    @staticmethod
    def _mapped(request: HttpRequest, match: RouteMatch, result: InvocationResult) -> HttpResponse:
        kind, route = match.api.kind, match.route
        if result.failed:
            return internal_error(kind, f"the function failed: {result.error_type}")
        return function_response(
            result.payload,
            kind=kind,
            version=route.payload_version,
            accept=request.header("accept"),
            binary_media_types=match.api.binary_media_types,
        )

    def close(self) -> None:
        self._deadlines.close()


def _url_stream(chunked: ChunkedOut, reply: _Reply, head_only: bool) -> UrlStream:
    finishing: list[Callable[[HttpResponse], HttpResponse]] = []

    def claim() -> bool:
        finish = reply.claim()
        if finish is not None:
            finishing.append(finish)
        return finish is not None

    return UrlStream(chunked, claim=claim, finish=lambda head: finishing[0](head), head_only=head_only)


def _ignore(_result: InvocationResult) -> None:
    """An authorizer's early answer: its whole result is waited for."""


def _id_headers(kind: str, ids_: RequestIds) -> tuple[tuple[str, str], ...]:
    """The ids API Gateway puts on every answer: a REST API's x-amzn-RequestId and x-amz-apigw-id, an HTTP
    API's Apigw-Requestid."""
    if kind == REST:
        return (("x-amzn-RequestId", ids_.request_id), ("x-amz-apigw-id", ids_.extended_request_id))
    if kind == URL:  # a Function URL's answer names the request
        return (("x-amzn-RequestId", ids_.request_id),)
    return (("Apigw-Requestid", ids_.short_id),)


# Headers of the message's framing: ours, whatever the function's answer says.
_FRAMING = ("content-length", "transfer-encoding", "connection", "date")


class _GatewayHandler(QuickHandler):
    server: _GatewayHttpServer
    _thread: threading.Thread

    def _serve(self) -> None:
        self._thread = threading.current_thread()
        body = self.read_body(MAX_REQUEST_BYTES)
        host, port = self.server.server_address[:2]
        if body is None:
            self._send(too_large(self.server.gateway.table.kind))
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=tuple(self.header_pairs),
            body=body,
            source_ip=self.client_address[0],
            port=int(port),
        )
        self.server.gateway.serve(request, self._send, self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815

    def start_chunked(self, status: int, headers: Sequence[tuple[str, str]]) -> None:
        """A streamed answer's head (a RESPONSE_STREAM Function URL), with the Date every answer has."""
        own = [(name, value) for name, value in headers if name.lower() not in _FRAMING]
        super().start_chunked(status, [*own, ("Date", email.utils.formatdate(usegmt=True))])

    def _send(self, response: HttpResponse) -> None:
        # An answer from another thread (a timeout's, while the invocation still holds this connection's
        # thread) ends the connection: the client's next request must not wait for the invocation.
        late = threading.current_thread() is not self._thread
        if late:
            self.close_connection = True
        body = b"" if self.command == "HEAD" else response.body
        length = len(response.body)
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        head += [f"{name}: {value}" for name, value in response.headers if name.lower() not in _FRAMING]
        head += [f"Content-Length: {length}", f"Date: {email.utils.formatdate(usegmt=True)}"]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1", errors="replace") + body)
        if late:
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class _GatewayHttpServer(TrackingHttpServer):
    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, _GatewayHandler, name="api-gateway")
        self.gateway = gateway


class ApiFront:
    """Serves a Gateway on `host`:`port` (0: any free port) until closed."""

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.gateway = gateway
        self._server = BackgroundServer(_GatewayHttpServer((host, port), gateway))

    @property
    def url(self) -> str:
        return f"http://{self._server.address}"

    @property
    def port(self) -> int:
        return int(self._server.address.rpartition(":")[2])

    def close(self) -> None:
        self._server.close()
        self.gateway.close()

    def __enter__(self) -> ApiFront:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
