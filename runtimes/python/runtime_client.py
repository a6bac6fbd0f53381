"""lambda-emu's Python runtime client, run inside the container as /var/runtime/runtime_client.py: loads the
handler, then serves the Runtime API loop (GET /next -> handler -> POST result) as AWS's awslambdaric does.

Standard library only, and on the cold-start path: heavy modules are imported where first needed."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time

TYPE_CHECKING = False  # typing itself costs ~4 ms of cold start; annotations are never evaluated here
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any, NoReturn

    Handler = Callable[[Any, "LambdaContext"], Any]

# ---- wire names: this file runs without the emulator package, so it mirrors lambda_emu/wire.py
# (tests/unit/test_runtime_client.py checks that the two agree).
RUNTIME_API_VERSION = "2018-06-01"
RUNTIME_PREFIX = f"/{RUNTIME_API_VERSION}/runtime"
PATH_NEXT = f"{RUNTIME_PREFIX}/invocation/next"
PATH_INIT_ERROR = f"{RUNTIME_PREFIX}/init/error"
INVOCATION_PREFIX = f"{RUNTIME_PREFIX}/invocation/"
H_REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
H_DEADLINE_MS = "Lambda-Runtime-Deadline-Ms"
H_FUNCTION_ARN = "Lambda-Runtime-Invoked-Function-Arn"
H_TRACE_ID = "Lambda-Runtime-Trace-Id"
H_CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
H_COGNITO_IDENTITY = "Lambda-Runtime-Cognito-Identity"
H_TENANT_ID = "Lambda-Runtime-Aws-Tenant-Id"
H_FUNCTION_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
ENV_LOG_MARKER = "_LAMBDA_EMU_LOG_MARKER"
PATH_LOG_TOKEN = "/lambda-emu/log-token"
ENV_LOG_ADDRESS = "_LAMBDA_EMU_LOG_ADDRESS"

# errorTypes of the faults the runtime itself reports (awslambdaric's FaultException).
E_MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
E_IMPORT_MODULE = "Runtime.ImportModuleError"
E_USER_CODE_SYNTAX = "Runtime.UserCodeSyntaxError"
E_HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
E_BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
E_MARSHAL = "Runtime.MarshalError"
E_UNMARSHAL = "Runtime.UnmarshalError"
E_CONTEXT_UNMARSHAL = "Runtime.LambdaContextUnmarshalError"

DEFAULT_TASK_ROOT = "/var/task"
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# AWS_LAMBDA_LOG_LEVEL values (Lambda's ApplicationLogLevel); Python has no TRACE, so it means DEBUG.
LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
}
# Lambda's text log writes a traceback's indentation as NO-BREAK SPACEs (awslambdaric's log_error).
TRACE_INDENT = "\u00a0"
# awslambdaric stops escaping non-ASCII in results and error bodies from the python3.12 runtime on.
ENSURE_ASCII = sys.version_info < (3, 12)


class RuntimeFault(Exception):
    """A failure the runtime reports under its own Runtime.* error type (not the user's exception)."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


class ApiUnreachable(Exception):
    """The Runtime API cannot be used at all: the runtime has nothing left to do but exit."""


class _Current:
    """The invocation in progress, for log records (Lambda keeps the last id until the next event)."""

    request_id = ""
    tenant_id: str | None = None


# ---- output: one ordered, unbuffered stream, with marker lines that always start a line
class _LineState:
    at_line_start = True  # shared by stdout and stderr: with a marker both are the same pipe


class UnbufferedText(io.TextIOWrapper):
    """sys.stdout / sys.stderr: every write reaches the file descriptor at once (as awslambdaric's
    Unbuffered does), so prints, log records and stderr stay in order, and a marker can tell whether the
    function left a line unfinished."""

    def write(self, s: str, /) -> int:
        written = super().write(s)
        self.flush()
        if s:
            _LineState.at_line_start = s.endswith("\n")
        return written


def _unbuffered(fd: int, like: Any) -> UnbufferedText | None:
    try:
        binary = open(fd, "wb", closefd=False)  # noqa: SIM115 - lives as long as the process
    except OSError:
        return None
    # Lambda's log stream is UTF-8 whatever the image's locale says.
    errors = getattr(like, "errors", None) or "strict"
    return UnbufferedText(binary, encoding="utf-8", errors=errors, write_through=True)


def install_output_streams() -> None:
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = _unbuffered(fd, getattr(sys, name))
        if stream is not None:
            old = getattr(sys, name)
            if old is not None:
                old.flush()
            setattr(sys, name, stream)


def flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # a stream the function closed or replaced must not stop the runtime
            pass


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:  # a descriptor some subprocess made non-blocking: wait until it drains
            import select

            select.select([], [fd], [])


class LogMarker:
    """The emulator's log cut points (runtimes/README.md): '<token> READY' once init output is complete and
    '<token> END <request id>' once an invocation's output is, each on a line of its own."""

    def __init__(self, token: str) -> None:
        self._prefix = token.encode() + b" "
        # A descriptor of its own (not inherited by subprocesses): a function that closes fd 1 and 2 still
        # gets its result back, as on Lambda, and its invocation's log still ends.
        try:
            self._fd = os.dup(1)
        except OSError:
            self._fd = 1

    def ready(self) -> None:
        self._emit(b"READY")

    def end(self, request_id: str) -> None:
        self._emit(b"END " + request_id.encode())

    def _emit(self, word: bytes) -> None:
        flush_output()
        lead = b"" if _LineState.at_line_start else b"\n"
        try:
            _write_fd(self._fd, lead + self._prefix + word + b"\n")
        except OSError:  # the log's end is then found by the emulator's own grace period
            pass
        _LineState.at_line_start = True


# ---- logging: Lambda's root handler
class LambdaLogHandler(logging.Handler):
    """Writes records to the current sys.stdout, one record per line group, as Lambda's runtime does."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            # A record with a traceback does not end in a newline; the next line must not join it.
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        except Exception:
            self.handleError(record)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _Current.request_id
        record.tenant_id = _Current.tenant_id
        return True


def install_logging(level_name: str | None) -> None:
    """Lambda's root handler; the root level changes only when AWS_LAMBDA_LOG_LEVEL says so (default
    WARNING). With a handler on the root logger a user's logging.basicConfig() is a no-op, as in Lambda."""
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    formatter.converter = time.gmtime  # the "Z" in the format means UTC
    handler = LambdaLogHandler()
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = LOG_LEVELS.get((level_name or "").strip().upper())
    if level is not None:
        root.setLevel(level)


def _indent_nbsp(line: str) -> str:
    stripped = line.lstrip(" ")
    return TRACE_INDENT * (len(line) - len(stripped)) + stripped


def format_error_log(error: dict[str, Any]) -> str:
    """'[ERROR] Type: message', 'Traceback (most recent call last):', then the frames, as Lambda logs an
    unhandled error (lines joined by '\\n' here, where awslambdaric's stdout sink uses '\\r')."""
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        head += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        lines.extend(_indent_nbsp(line) for line in element.splitlines())
    return "\n".join(lines) + "\n"


def log_error(error: dict[str, Any]) -> None:
    try:
        sys.stdout.write(format_error_log(error))
    except Exception:  # the error is still reported to the API
        pass


# ---- results and errors
def to_json(value: Any) -> str:
    """json.dumps with awslambdaric's Decimal rule: a Decimal is written as its own digits (str(d)), NaN as
    NaN. The C encoder cannot emit raw text, so Decimals travel as unique placeholder strings."""
    raw: list[str] = []
    nonce: list[str] = []

    def default(obj: Any) -> Any:
        decimal = sys.modules.get("decimal")  # a Decimal exists only if its module was imported
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            if not nonce:
                nonce.append(os.urandom(8).hex())
            raw.append(str(obj))
            return f"\x00{nonce[0]}:{len(raw) - 1}\x00"
        raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")

    text = json.dumps(value, ensure_ascii=ENSURE_ASCII, default=default)
    if raw:
        import re

        # NUL is always escaped by json, so a user's own string can never produce this pattern's quotes.
        pattern = re.compile(r'"\\u0000' + nonce[0] + r':(\d+)\\u0000"')
        text = pattern.sub(lambda m: raw[int(m.group(1))], text)
    return text


def marshal_result(result: Any) -> tuple[bytes, str]:
    if isinstance(result, bytes):  # awslambdaric passes bytes through untouched
        return result, "application/unknown"
    try:
        return to_json(result).encode("utf-8"), "application/json"
    except Exception as exc:
        raise RuntimeFault(E_MARSHAL, f"Unable to marshal response: {exc}") from None


def unmarshal_event(body: bytes, content_type: str | None) -> Any:
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        return body  # awslambdaric hands non-JSON events over as they came
    try:
        return json.loads(body)
    except Exception as exc:
        raise RuntimeFault(E_UNMARSHAL, f"Unable to unmarshal input: {exc}") from None


_OWN_FILE = os.path.normcase(os.path.abspath(__file__))


def user_frames(tb: TracebackType | None) -> list[str]:
    """traceback.format_list of the frames below this file's own: the user's code (and, for an error at
    import, importlib's frames, as in Lambda). Plain tuples, so no 3.11+ caret lines, as in Lambda."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    start = 0
    while start < len(frames) and os.path.normcase(os.path.abspath(frames[start][0])) == _OWN_FILE:
        start += 1
    return traceback.format_list(frames[start:])  # type: ignore[arg-type]


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__} object>"


def error_body(exc: Exception, request_id: str) -> dict[str, Any]:
    if isinstance(exc, RuntimeFault):
        error_type, message, trace = exc.error_type, exc.message, exc.stack_trace
    else:
        error_type, message, trace = type(exc).__name__, _safe_str(exc), user_frames(exc.__traceback__)
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}


# ---- the handler
def python_path(task_root: str, runtime_dir: str, current: list[str]) -> list[str]:
    """Lambda's order: the function's code, then layers, then the runtime's own directory, then the rest."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    head = [task_root, f"/opt/python/lib/{version}/site-packages", "/opt/python", runtime_dir]
    return head + [entry for entry in current if entry not in head]


def load_handler(spec: str) -> Handler:
    """Import the handler named 'module.function' ('dir/module.function' for code in folders), raising
    RuntimeFault with Lambda's error types and messages."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError:
        raise RuntimeFault(
            E_MALFORMED_HANDLER_NAME, f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)"
        ) from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise RuntimeFault(
            E_BUILT_IN_MODULE_CONFLICT, f"Cannot use built-in module {module_name} as a handler module"
        )
    import importlib

    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise RuntimeFault(E_IMPORT_MODULE, f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        message = f"Syntax error in module '{module_name}': {exc}"
        raise RuntimeFault(E_USER_CODE_SYNTAX, message, trace) from None
    try:
        handler: Handler = getattr(module, function_name)
    except AttributeError:
        raise RuntimeFault(
            E_HANDLER_NOT_FOUND, f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None
    return handler


# ---- the context object
class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity(cognito_identity_id={self.cognito_identity_id!r}, "
            f"cognito_identity_pool_id={self.cognito_identity_pool_id!r})"
        )


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, fields: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Client({inner})"


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, fields: dict[str, Any]) -> None:
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else client
        self.custom = fields.get("custom")
        self.env = fields.get("env")

    def __repr__(self) -> str:
        return f"ClientContext(client={self.client!r}, custom={self.custom!r}, env={self.env!r})"


def _json_header(value: str | None, what: str) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except Exception as exc:
        raise RuntimeFault(E_CONTEXT_UNMARSHAL, f"Unable to parse {what} JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise RuntimeFault(E_CONTEXT_UNMARSHAL, f"Unable to parse {what} JSON: not an object")
    return parsed


class LambdaContext:
    """The handler's `context`, with the attributes of Lambda's Python context object."""

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        invoked_function_arn: str | None,
        *,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        # A string, read from the environment, as in Lambda (Lambda's context object).
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = tenant_id
        context_fields = _json_header(client_context, "Client Context")
        self.client_context = ClientContext(context_fields) if context_fields is not None else None
        identity = _json_header(cognito_identity, "Cognito Identity") or {}
        self.identity = CognitoIdentity(
            identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId")
        )
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (absolute) deadline, never below 0 as in Lambda's Python runtime."""
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: Any) -> None:
        sys.stdout.write(str(message))

    def __repr__(self) -> str:
        fields = (
            "aws_request_id",
            "function_name",
            "function_version",
            "invoked_function_arn",
            "memory_limit_in_mb",
            "log_group_name",
            "log_stream_name",
            "client_context",
            "identity",
            "tenant_id",
        )
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in fields)
        return f"LambdaContext({inner})"


# ---- the Runtime API
class Event:
    """One GET /next reply."""

    __slots__ = (
        "request_id",
        "deadline_ms",
        "function_arn",
        "trace_id",
        "client_context",
        "cognito_identity",
        "tenant_id",
        "content_type",
        "body",
    )

    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        def header(name: str) -> str | None:
            return headers.get(name.lower()) or None  # RAPID omits empty headers: treat empty as absent

        self.request_id: str = header(H_REQUEST_ID) or ""
        try:
            self.deadline_ms = int(header(H_DEADLINE_MS) or 0)
        except ValueError:
            self.deadline_ms = 0
        self.function_arn = header(H_FUNCTION_ARN)
        self.trace_id = header(H_TRACE_ID)
        self.client_context = header(H_CLIENT_CONTEXT)
        self.cognito_identity = header(H_COGNITO_IDENTITY)
        self.tenant_id = header(H_TENANT_ID)
        self.content_type = header("Content-Type")
        self.body = body


class RuntimeApiClient:
    """One keep-alive HTTP/1.1 connection to the Runtime API, reopened once when the peer dropped it.

    A plain socket, not http.client: http.client costs ~20 ms of cold start (it imports ssl and email), and
    tracing SDKs patch it (X-Ray, Sentry, ddtrace), which would then trace the runtime's own calls; under
    AWS's native runtime client they never see them."""

    def __init__(self, address: str) -> None:
        self.address = address
        host, _, port = address.rpartition(":")
        self._host, self._port = host.strip("[]"), int(port or 0)
        self._sock: Any = None
        self._reader: Any = None

    def _connect(self) -> None:
        import socket

        # timeout=None: /next blocks as long as no event exists, whatever socket default the user sets.
        sock = socket.create_connection((self._host, self._port), timeout=None)
        # Small request/reply pairs would otherwise wait out a delayed ACK (~40 ms each).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._reader = sock, sock.makefile("rb")

    def close(self) -> None:
        for closable in (self._reader, self._sock):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass
        self._sock = self._reader = None

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            try:
                if self._sock is None:
                    self._connect()
                return self._exchange(method, path, body, headers or {})
            except (OSError, ValueError) as exc:  # ValueError: a malformed length
                self.close()  # a dropped keep-alive connection: reconnect on the next try
                if attempt == 2:
                    raise ApiUnreachable(
                        f"cannot reach the Runtime API at {self.address} ({method} {path}): {exc!r}"
                    ) from None
        raise AssertionError("unreachable")

    def _exchange(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.address}"]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self._sock.sendall(head + body if body else head)  # one write: headers and body in one segment

        reader = self._reader
        status_line = reader.readline(65537)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ConnectionResetError(f"no valid reply from the Runtime API: {status_line[:100]!r}")
        reply_headers: dict[str, str] = {}
        while True:
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionResetError("the Runtime API closed the connection mid-reply")
            name, _, value = line.decode("latin-1").partition(":")
            reply_headers[name.strip().lower()] = value.strip()
        if "chunked" in reply_headers.get("transfer-encoding", "").lower():
            data = self._read_chunked()
        elif "content-length" in reply_headers:
            length = int(reply_headers["content-length"])
            data = reader.read(length)
            if len(data) < length:
                raise ConnectionResetError("the Runtime API closed the connection mid-body")
        else:
            data = reader.read()  # delimited by the end of the connection
            reply_headers["connection"] = "close"
        if reply_headers.get("connection", "").lower() == "close" or parts[0] == b"HTTP/1.0":
            self.close()
        return int(parts[1]), reply_headers, data

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self._reader.readline(65537)
            if not size_line:
                raise ConnectionResetError("the Runtime API closed the connection mid-body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._reader.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunk = self._reader.read(size)
            if len(chunk) < size:
                raise ConnectionResetError("the Runtime API closed the connection mid-body")
            chunks.append(chunk)
            self._reader.readline(65537)  # the CRLF after each chunk

    def log_token(self) -> str:
        """The environment's log token: given once per runtime start, to this call before user code."""
        status, _, body = self._request("GET", PATH_LOG_TOKEN)
        if status != 200:
            raise ApiUnreachable(f"GET {PATH_LOG_TOKEN} returned {status}: {body[:200]!r}")
        return body.decode("ascii", "replace").strip()

    def next_invocation(self) -> Event:
        status, headers, body = self._request("GET", PATH_NEXT)
        if status != 200:
            raise ApiUnreachable(f"GET {PATH_NEXT} returned {status}: {body[:200]!r}")
        return Event(headers, body)

    def post_response(self, request_id: str, body: bytes, content_type: str) -> int:
        # Any non-202 (413 for an oversized result) is the emulator's to report, not a reason to stop.
        return self._request(
            "POST", f"{INVOCATION_PREFIX}{request_id}/response", body, {"Content-Type": content_type}
        )[0]

    def post_error(self, request_id: str, error: dict[str, Any]) -> int:
        return self._post_error(f"{INVOCATION_PREFIX}{request_id}/error", error)

    def post_init_error(self, error: dict[str, Any]) -> int:
        return self._post_error(PATH_INIT_ERROR, error)

    def _post_error(self, path: str, error: dict[str, Any]) -> int:
        headers = {"Content-Type": "application/json", H_FUNCTION_ERROR_TYPE: error["errorType"]}
        return self._request("POST", path, to_json(error).encode("utf-8"), headers)[0]


# ---- the loop
def _set_trace_id(trace_id: str | None) -> None:
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def handle(api: RuntimeApiClient, handler: Handler, event: Event, marker: LogMarker | None) -> None:
    """One invocation: call the handler, log an error, close the log, then post. SystemExit and other
    BaseExceptions are not caught: the process ends and the emulator reports Runtime.ExitError."""
    request_id = event.request_id
    _Current.request_id, _Current.tenant_id = request_id, event.tenant_id
    _set_trace_id(event.trace_id)
    try:
        context = LambdaContext(
            request_id,
            event.deadline_ms,
            event.function_arn,
            client_context=event.client_context,
            cognito_identity=event.cognito_identity,
            tenant_id=event.tenant_id,
        )
        result = handler(unmarshal_event(event.body, event.content_type), context)
        body, content_type = marshal_result(result)
    except Exception as exc:
        error = error_body(exc, request_id)
        log_error(error)
        _output_complete(marker, request_id)
        api.post_error(request_id, error)
        return
    _output_complete(marker, request_id)
    api.post_response(request_id, body, content_type)


def _output_complete(marker: LogMarker | None, request_id: str) -> None:
    if marker is not None:
        marker.end(request_id)  # flushes first
    else:
        flush_output()


def serve(api: RuntimeApiClient, handler: Handler, marker: LogMarker | None) -> NoReturn:
    if marker is not None:
        marker.ready()
    while True:
        handle(api, handler, api.next_invocation(), marker)


def connect_output(address: str, token: str) -> None:
    """Send fd 1 and 2 (ours, the function's, its subprocesses') to the emulator over loopback instead of
    through the container engine's stream; if that fails, the engine's stream still carries everything.
    The first line is the environment's token: the emulator takes output only from its own runtime."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(token.encode() + b"\n")
    except (OSError, ValueError):
        return
    with sock:
        # Blocking again (the connect timeout made the socket non-blocking, and fd 1 and 2 share its
        # flags): a function printing faster than the emulator reads waits, as on a pipe, rather than
        # failing with BlockingIOError.
        sock.settimeout(None)
        os.dup2(sock.fileno(), 1)
        os.dup2(sock.fileno(), 2)


def fatal(reason: str) -> NoReturn:
    flush_output()
    try:
        sys.stderr.write(f"lambda-emu runtime client: {reason}\n")
        sys.stderr.flush()
    finally:
        os._exit(1)  # nothing is left to do: do not wait for the function's threads


def main() -> None:
    # Popped first, so the function never sees them (and nor do its subprocesses).
    markers = os.environ.pop(ENV_LOG_MARKER, "")
    log_address = os.environ.pop(ENV_LOG_ADDRESS, "")
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        fatal("AWS_LAMBDA_RUNTIME_API is not set")
    api = RuntimeApiClient(address)
    token = ""
    if markers:
        try:
            token = api.log_token()  # before any user code: the only call the API answers it
        except ApiUnreachable as exc:
            fatal(str(exc))
        os.dup2(1, 2)  # one ordered stream, as Lambda merges stdout and stderr into one log anyway
        if log_address:
            connect_output(log_address, token)
    install_output_streams()
    marker = LogMarker(token) if token else None

    task_root = os.environ.get("LAMBDA_TASK_ROOT") or DEFAULT_TASK_ROOT
    sys.path[:] = python_path(task_root, os.path.dirname(os.path.abspath(__file__)), sys.path)
    try:
        os.chdir(task_root)
    except OSError:
        pass  # the import below reports the missing code
    install_logging(os.environ.get("AWS_LAMBDA_LOG_LEVEL"))

    try:
        try:
            handler = load_handler(os.environ.get("_HANDLER", ""))
        except Exception as exc:
            error = error_body(exc, "")
            log_error(error)
            flush_output()
            api.post_init_error(error)
            sys.exit(1)  # as awslambdaric: atexit handlers still run
        serve(api, handler, marker)
    except ApiUnreachable as exc:
        fatal(str(exc))


if __name__ == "__main__":
    main()
