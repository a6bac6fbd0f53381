"""The local API Gateway: `Gateway` turns one request into its route's event, invokes the function under
the route's integration timeout and maps the answer (and CORS preflights); `ApiFront` serves it."""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lambda_emu.engine.httpserver import BackgroundServer, QuickHandler, TrackingHttpServer
from lambda_emu.errors import LambdaEmuError
from lambda_emu.gateway.cors import preflight, with_cors
from lambda_emu.gateway.requests import HttpRequest, RequestIds, integration_event
from lambda_emu.gateway.responses import (
    HttpResponse,
    function_response,
    internal_error,
    no_route,
    rejected,
    timed_out,
    too_large,
)
from lambda_emu.gateway.routes import RouteMatch, RouteTable
from lambda_emu.models import InvocationResult
from lambda_emu.template.apis import REST

LOG = logging.getLogger(__name__)

# A function by name and its event → Lambda's result (function errors are results; a rejected call raises).
Invoke = Callable[[str, bytes], InvocationResult]
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


class Gateway:
    """Routes a request, invokes its function and maps the answer, as API Gateway's Lambda proxy
    integration does. `table` may be replaced while serving (a reloaded template)."""

    def __init__(
        self,
        table: RouteTable,
        invoke: Invoke,
        *,
        account_id: str,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self.table = table
        self._invoke = invoke
        self._account_id = account_id
        self._on_request = on_request

    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        table = self.table  # one table for the whole request, whatever a reload does meanwhile
        function: str | None = None
        ids_ = RequestIds()
        kind = table.kind
        answer = preflight(table, request)
        if answer is None:
            match = table.match(request.method, request.path)
            if match is None:
                answer = no_route(kind)
            else:
                kind, function = match.api.kind, match.route.function
                answer = self._integrate(request, match, ids_)
                headers = with_cors(match.api, request, answer.headers)
                answer = HttpResponse(answer.status, headers, answer.body, answer.error)
        answer = HttpResponse(
            answer.status, answer.headers + _id_headers(kind, ids_), answer.body, answer.error
        )
        if self._on_request is not None:
            elapsed = (time.monotonic() - started) * 1000
            record = RequestRecord(
                request.method, request.target, function, answer.status, elapsed, answer.error
            )
            self._on_request(record)
        return answer

    def _integrate(self, request: HttpRequest, match: RouteMatch, ids_: RequestIds) -> HttpResponse:
        kind, route = match.api.kind, match.route
        event = integration_event(request, match, ids_, account_id=self._account_id)
        payload = json.dumps(event).encode()
        outcome: list[InvocationResult | BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append(self._invoke(route.function, payload))
            except BaseException as exc:  # noqa: BLE001 - handed to the request's thread below
                outcome.append(exc)
            finally:
                done.set()

        # The invocation runs on past the integration timeout, as it does in Lambda when API Gateway gives up.
        threading.Thread(target=run, name=f"gateway-invoke-{route.function}", daemon=True).start()
        if not done.wait(route.timeout_ms / 1000):
            return timed_out(kind, f"no answer within the integration timeout of {route.timeout_ms} ms")
        result = outcome[0]
        if isinstance(result, LambdaEmuError):
            LOG.warning("%s: invoking %s failed: %s", request.target, route.function, result.message)
            return rejected(kind, f"the invocation failed: {result.message}")
        if isinstance(result, BaseException):
            LOG.error("%s: invoking %s failed", request.target, route.function, exc_info=result)
            return rejected(kind, f"the invocation failed: {result}")
        if result.failed:
            return internal_error(kind, f"the function failed: {result.error_type}")
        return function_response(
            result.payload,
            kind=kind,
            version=route.payload_version,
            accept=request.header("accept"),
            binary_media_types=match.api.binary_media_types,
        )


def _id_headers(kind: str, ids_: RequestIds) -> tuple[tuple[str, str], ...]:
    """The ids API Gateway puts on every answer: a REST API's x-amzn-RequestId and x-amz-apigw-id, an HTTP
    API's Apigw-Requestid."""
    if kind == REST:
        return (("x-amzn-RequestId", ids_.request_id), ("x-amz-apigw-id", ids_.extended_request_id))
    return (("Apigw-Requestid", ids_.short_id),)


class _GatewayHandler(QuickHandler):
    server: _GatewayHttpServer

    def _serve(self) -> None:
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
        self._send(self.server.gateway.handle(request))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815

    def _send(self, response: HttpResponse) -> None:
        body = b"" if self.command == "HEAD" else response.body
        length = len(response.body)
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        head += [f"{name}: {value}" for name, value in response.headers if name.lower() != "content-length"]
        head += [f"Content-Length: {length}", f"Date: {email.utils.formatdate(usegmt=True)}"]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1", errors="replace") + body)


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

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> ApiFront:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
