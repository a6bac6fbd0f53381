"""The Lambda API over HTTP, as AWS SDKs speak it (rest-json): routes, status codes, headers and error
bodies exactly as Lambda sends them (Lambda API Reference: Invoke)."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from lambda_emu import wire
from lambda_emu.api import (
    account,
    configs,
    event_sources,
    eventstream,
    function_urls,
    inputs,
    layers,
    management,
    permissions,
)
from lambda_emu.api.routes import Reply, Request, Route, RouteTable, path
from lambda_emu.api.routes import json_reply as _json
from lambda_emu.api.service import InvokeOutcome, LambdaService
from lambda_emu.control.sigv4 import SignedRequest, check_signed
from lambda_emu.engine.httpserver import (
    BackgroundServer,
    QuickHandler,
    TrackingHttpServer,
    peer_uid,
    plain_reply,
    same_user,
)
from lambda_emu.errors import API_STATUS, ApiError, ConfigError, LambdaEmuError, ThrottledError, api_code

LOG = logging.getLogger(__name__)

__all__ = ["InvokeApiServer", "Reply", "Request", "error_reply"]

# Bodies larger than their operation's limit are drained and refused before they are read into memory:
# requests that carry a zip may be larger than an Invoke's (Lambda quotas).
_CODE_REQUESTS = [
    ("POST", path(management.FUNCTIONS), "CreateFunction"),
    ("POST", path(management.FUNCTIONS + "/"), "CreateFunction"),
    ("PUT", path(management.FUNCTION + "/code"), "UpdateFunctionCode"),
    ("POST", path(layers.VERSIONS), "PublishLayerVersion"),
]


def _body_limit(method: str, url_path: str) -> tuple[int, str]:
    """The largest body the operation at `url_path` takes, and the operation's name for the refusal."""
    for verb, pattern, operation in _CODE_REQUESTS:
        if verb == method and pattern.match(url_path):
            return wire.MAX_CODE_REQUEST_BYTES, operation
    return wire.MAX_SYNC_REQUEST_BYTES, "InvokeFunction"


# A keep-alive connection idle this long is closed (SDKs reconnect), so idle clients hold no thread.
_IDLE_S = 65.0
# Connections (a thread each) at once; one more is answered 429 and closed.
_MAX_CONNECTIONS = 512
_REFUSED_FUNCTION = (
    "lambda-emu: this endpoint does not answer functions (the connection comes from a function's sandbox "
    "user). Start serve with --allow-functions-api to let functions call the Lambda API."
)


def _invoke_options(service: LambdaService, request: Request, invocation_type: str | None) -> dict[str, Any]:
    """What Invoke and InvokeWithResponseStream take from the request besides the name and payload."""
    return {
        "qualifier": request.query.get("Qualifier"),
        "invocation_type": invocation_type,
        "log_type": request.headers.get(wire.X_LOG_TYPE.lower()),
        "client_context": request.headers.get(wire.X_CLIENT_CONTEXT.lower()),
        "tenant_id": request.headers.get(wire.X_TENANT_ID.lower()),
        # Only a DryRun answers who may invoke; other calls never look at the signature.
        "caller": permissions.signed_caller(service, request.headers)
        if invocation_type == "DryRun"
        else None,
    }


def _invoke(service: LambdaService, request: Request) -> Reply:
    invocation_type = request.headers.get(wire.X_INVOCATION_TYPE.lower())
    answer = request.answer
    outcome = service.invoke(
        request.function_name,
        request.body,
        **_invoke_options(service, request, invocation_type),
        respond=None if answer is None else lambda early: answer(_invoke_reply(early)),
    )
    return _invoke_reply(outcome)


def _invoke_streaming(service: LambdaService, request: Request) -> Reply:
    """InvokeWithResponseStream: the function's answer as an event stream, PayloadChunk events sent as the
    function streams them (a function that does not stream: its whole payload in one), then InvokeComplete
    with the error and the log's tail."""
    # Its own InvocationType (no Event) was checked against the model before the route (api/inputs.py).
    invocation_type = request.headers.get(wire.X_INVOCATION_TYPE.lower()) or "RequestResponse"
    live: list[eventstream.EventStreamAnswer] = []
    out = request.chunked

    def stream(request_id: str, version: str) -> eventstream.EventStreamAnswer:
        assert out is not None
        live.append(eventstream.EventStreamAnswer(out, _stream_head(request_id, version)))
        return live[0]

    early: list[Reply] = []
    answer = request.answer

    def respond(outcome: InvokeOutcome) -> None:
        # The function has answered: InvokeComplete goes out now, before END and REPORT are written.
        early.append(_stream_end(outcome, live))
        if not (live and live[0].started) and answer is not None:
            answer(early[0])

    outcome = service.invoke(
        request.function_name,
        request.body,
        **_invoke_options(service, request, invocation_type),
        stream=stream if out is not None else None,
        respond=respond if answer is not None else None,
    )
    return early[0] if early else _stream_end(outcome, live)


def _stream_end(outcome: InvokeOutcome, live: list[eventstream.EventStreamAnswer]) -> Reply:
    """The stream's last events (an unstreamed payload's chunk, InvokeComplete), sent on the live stream
    when it started (a stream still arriving after a timeout goes no further), else the whole reply."""
    for started in live:
        started.close()
    headers = _stream_head(outcome.request_id, outcome.headers.get(wire.X_EXECUTED_VERSION))
    if outcome.result is None:  # DryRun
        return Reply(outcome.status, b"", headers)
    result = outcome.result
    complete: dict[str, str] = {}
    chunks = b""
    if result.failed:  # the error instead of the payload, in the final event
        complete["ErrorCode"] = result.error_type or "Unhandled"
        complete["ErrorDetails"] = result.payload.decode("utf-8", "replace")
    elif result.payload and not result.streamed:
        chunks = eventstream.event("PayloadChunk", result.payload)
    if wire.X_LOG_RESULT in outcome.headers:
        complete["LogResult"] = outcome.headers[wire.X_LOG_RESULT]
    body = chunks + eventstream.json_event("InvokeComplete", complete)
    if live and live[0].started:
        live[0].finish(body)
    return Reply(200, body, {**headers, "Content-Type": eventstream.CONTENT_TYPE})


def _stream_head(request_id: str, version: str | None) -> dict[str, str]:
    headers = {wire.X_REQUEST_ID: request_id}
    if version is not None:
        headers[wire.X_EXECUTED_VERSION] = version
    return headers


def _invoke_reply(outcome: InvokeOutcome) -> Reply:
    return Reply(
        outcome.status, outcome.payload, dict(outcome.headers, **{wire.X_REQUEST_ID: outcome.request_id})
    )


def _local_invoke(service: LambdaService, request: Request) -> Reply:
    """Ours: a RequestResponse Invoke answered with the payload and the invocation's whole log as JSON,
    for `lambda-emu invoke` run against a server."""
    outcome = service.invoke(
        request.function_name,
        request.body,
        client_context=request.headers.get(wire.X_CLIENT_CONTEXT.lower()),
    )
    result = outcome.result
    assert result is not None  # a RequestResponse call always runs
    answer = {
        "StatusCode": outcome.status,
        "Payload": base64.b64encode(result.payload).decode(),
        "FunctionError": result.function_error,
        "Log": result.init_logs + result.logs,
    }
    return _json(200, answer)


def _no_content(operation: Callable[[str], None], request: Request) -> Reply:
    operation(request.function_name)
    return Reply(204)


def _put_event_invoke_config(service: LambdaService, request: Request, *, merge: bool) -> Reply:
    qualifier = request.query.get("Qualifier")
    answer = service.put_event_invoke_config(
        request.function_name, request.body, qualifier=qualifier, merge=merge
    )
    return _json(200, answer)


def _delete_event_invoke_config(service: LambdaService, request: Request) -> Reply:
    service.delete_event_invoke_config(request.function_name, request.query.get("Qualifier"))
    return Reply(204)


_CONCURRENCY = path("/2017-10-31/functions/{name}/concurrency")
_GET_CONCURRENCY = path("/2019-09-30/functions/{name}/concurrency")  # GetFunctionConcurrency's own date
_EVENT_INVOKE_CONFIG = path("/2019-09-25/functions/{name}/event-invoke-config")
# ListFunctionEventInvokeConfigs: a path of its own ("list" is no qualifier: those go in the query).
_EVENT_INVOKE_CONFIGS = path("/2019-09-25/functions/{name}/event-invoke-config/list")

# Invoke first: it is the hot path, matched before any other route is tried.
_ROUTES: RouteTable = [
    ("POST", path(wire.INVOKE_PATH), _invoke),
    ("POST", path(wire.LOCAL_INVOKE_PATH), _local_invoke),
    ("POST", path(wire.STREAMING_INVOKE_PATH), _invoke_streaming),
    ("PUT", _CONCURRENCY, lambda s, r: _json(200, s.put_concurrency(r.function_name, r.body))),
    ("GET", _GET_CONCURRENCY, lambda s, r: _json(200, s.get_concurrency(r.function_name))),
    ("DELETE", _CONCURRENCY, lambda s, r: _no_content(s.delete_concurrency, r)),
    ("PUT", _EVENT_INVOKE_CONFIG, lambda s, r: _put_event_invoke_config(s, r, merge=False)),
    ("POST", _EVENT_INVOKE_CONFIG, lambda s, r: _put_event_invoke_config(s, r, merge=True)),
    (
        "GET",
        _EVENT_INVOKE_CONFIG,
        lambda s, r: _json(200, s.get_event_invoke_config(r.function_name, r.query.get("Qualifier"))),
    ),
    ("DELETE", _EVENT_INVOKE_CONFIG, _delete_event_invoke_config),
    (
        "GET",
        _EVENT_INVOKE_CONFIGS,
        lambda s, r: _json(200, s.list_event_invoke_configs(r.function_name, r.query)),
    ),
    *management.ROUTES,
    *permissions.ROUTES,
    *account.ROUTES,
    *layers.ROUTES,
    *event_sources.ROUTES,
    *configs.ROUTES,
    *function_urls.ROUTES,
]


_CAPITAL_MESSAGE = ("ResourceNotFoundException", "CodeSigningConfigNotFoundException")


def error_reply(exc: Exception) -> Reply:
    """An exception as Lambda renders a service error: x-amzn-ErrorType and {"Type", "message"}."""
    if isinstance(exc, ThrottledError):
        code = "TooManyRequestsException"
        body: dict[str, str] = {"Reason": exc.reason, "Type": "User", "message": exc.message}
        return Reply(429, json.dumps(body).encode(), {wire.X_ERROR_TYPE: code, "Retry-After": "1"})
    if isinstance(exc, (ApiError, ConfigError)):
        code, message = api_code(exc), exc.message
        kind = "User" if API_STATUS.get(code, 500) < 500 else "Service"
    elif isinstance(exc, LambdaEmuError):
        code, message, kind = "ServiceException", exc.message, "Service"
    else:
        LOG.exception("unexpected error in the Lambda API")
        code, message, kind = "ServiceException", "An internal error occurred.", "Service"
    # The model says "Message" in these errors and "message" in the others (botocore reads both).
    key = "Message" if code in _CAPITAL_MESSAGE else "message"
    return Reply(
        API_STATUS.get(code, 500),
        json.dumps({"Type": kind, key: message}).encode(),
        {wire.X_ERROR_TYPE: code},
    )


def _find_route(method: str, url_path: str) -> tuple[Route, Mapping[str, str], re.Pattern[str]] | None:
    for verb, pattern, route in _ROUTES:
        if verb == method and (match := pattern.match(url_path)):
            return route, {key: unquote(value) for key, value in match.groupdict().items()}, pattern
    return None


def _error_parts(status: int, code: str, message: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"Type": "User", "message": message}).encode(), {wire.X_ERROR_TYPE: code}


class _Handler(QuickHandler):
    server: _ApiHttpServer
    timeout = _IDLE_S

    def setup(self) -> None:
        super().setup()
        # Functions share the host's loopback: tell their connections (the sandbox user's) from the user's.
        self._refused = not self.server.allow_functions and not same_user(peer_uid(self.connection))

    def error_body(self, status: int, message: str) -> tuple[bytes, dict[str, str]]:
        if status == 501:  # a method no route has: what Lambda answers an unknown operation
            return _error_parts(404, "UnknownOperationException", "Unknown operation")
        return _error_parts(status, "InvalidRequestContentException", message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        super().send_error(404 if code == 501 else code, message, explain)

    def _handle(self, method: str) -> None:
        self.server.enter()
        try:
            self._route(method)
        finally:
            self.server.leave()

    def _route(self, method: str) -> None:
        self._answered = False
        if "?" in self.path or "#" in self.path:
            url = urlsplit(self.path)
            url_path, query = url.path, {key: values[-1] for key, values in parse_qs(url.query).items()}
            query_string = url.query
        else:
            url_path, query, query_string = self.path, {}, ""
        if self._refused:
            self.close_connection = True
            self._send(error_reply(ApiError("AccessDeniedException", _REFUSED_FUNCTION)))
            return
        limit, operation = _body_limit(method, url_path)
        body = self.read_body(limit)  # FramingError: a 400 (QuickHandler.handle_one_request)
        found = _find_route(method, url_path)
        if found is None:
            unknown = b'{"Type":"User","message":"Unknown operation"}'
            self._send(Reply(404, unknown, {wire.X_ERROR_TYPE: "UnknownOperationException"}))
            return
        route, params, pattern = found
        try:
            if body is None:
                raise ApiError(
                    "RequestEntityTooLargeException",
                    f"Request must be smaller than {limit} bytes for the {operation} operation",
                )
            if "authorization" in self.headers:
                signed = SignedRequest(method, url_path, query_string, self.headers.items(), body)
                check_signed(self.server.service.emulator.config.state_dir, signed)
            # QuickHandler's headers are keyed by lower-case name already.
            request = Request(
                params.get("name", ""),
                query,
                self.headers,  # type: ignore[arg-type]
                body,
                params,
                self._answer,
                query_string,
                self,
            )
            # The model's constraints on path, query, headers and body, before the route looks anything up;
            # a function named by its logical path (Child/Function, as SAM CLI names it) as its FunctionName.
            checked = url_path
            if "/" in params.get("name", "") and (raw := pattern.match(url_path)) is not None:
                spelled = self.server.service.registry.spelled(params["name"])
                checked = (
                    url_path[: raw.start("name")] + quote(spelled, safe=":") + url_path[raw.end("name") :]
                )
            inputs.check(method, pattern, checked, query, query_string, body, request.headers)
            reply = route(self.server.service, request)
        except Exception as exc:  # every failure becomes Lambda's error shape, never a dropped connection
            if self._answered:  # the caller has its answer: a failure after it is ours alone
                LOG.exception("%s %s failed after it answered", method, url_path)
                return
            reply = error_reply(exc)
        if not self._answered:
            self._send(reply)

    def _answer(self, reply: Reply) -> None:
        """A route's reply sent before the route returns (Request.answer)."""
        self._answered = True
        try:
            self._send(reply)
        except OSError as exc:  # the caller is gone; the route goes on to its end
            LOG.debug("%s: the caller left before its answer: %s", self.server.name, exc)
            self.close_connection = True

    def start_chunked(self, status: int, headers: Sequence[tuple[str, str]]) -> None:
        """A streamed reply (Request.chunked) answers the request from its head on."""
        self._answered = True
        super().start_chunked(status, headers)

    def _send(self, reply: Reply) -> None:
        """The reply, with a request id of its own unless it carries one (an Invoke's is the invocation's)."""
        headers = reply.headers or {}
        if wire.X_REQUEST_ID not in headers:
            headers = {wire.X_REQUEST_ID: str(uuid.uuid4()), **headers}
        self.reply(reply.status, reply.body, headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")


class _ApiHttpServer(TrackingHttpServer):
    def __init__(self, address: tuple[str, int], service: LambdaService, allow_functions: bool) -> None:
        too_many = json.dumps(
            {
                "Reason": "ConcurrentConnectionsLimitExceeded",
                "Type": "User",
                "message": "Too many connections",
            }
        ).encode()
        super().__init__(
            address,
            _Handler,
            name="lambda-api",
            max_connections=_MAX_CONNECTIONS,
            overloaded=plain_reply(429, too_many, {wire.X_ERROR_TYPE: "TooManyRequestsException"}),
        )
        self.service = service
        self.allow_functions = allow_functions
        self._busy = 0
        self._idle = threading.Condition()

    # enter/leave around each request, not a context manager: a generator-based one costs more per call.
    def enter(self) -> None:
        with self._idle:
            self._busy += 1

    def leave(self) -> None:
        with self._idle:
            self._busy -= 1
            if not self._busy:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled (for a graceful shutdown); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


class InvokeApiServer:
    """The Lambda API on host:port (127.0.0.1 by default: nothing else can reach it). Connections from
    functions (another user's, on the shared loopback) are refused unless `allow_functions`."""

    def __init__(
        self,
        service: LambdaService,
        *,
        host: str = "127.0.0.1",
        port: int = 3001,
        allow_functions: bool = False,
    ) -> None:
        self._server = BackgroundServer(_ApiHttpServer((host, port), service, allow_functions))

    @property
    def address(self) -> str:
        return self._server.address

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop_accepting(self) -> None:
        """Close the listening socket; requests already in progress go on."""
        self._server.stop_accepting()

    def wait_idle(self, timeout: float) -> bool:
        return self._server.httpd.wait_idle(timeout)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._server.close()
