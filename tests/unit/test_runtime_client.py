"""The Python runtime client, run as a process against a fake Runtime API: init errors, the invoke loop, the
context object, results and errors, logging, and the log-marker protocol (no Docker)."""

from __future__ import annotations

import glob
import http.server
import importlib.util
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import pytest

from lambda_emu import wire
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "runtimes" / "python" / "runtime_client.py"
BOOTSTRAP = ROOT / "runtimes" / "python" / "bootstrap"
WAIT_S = 10.0  # the longest any single wait in these tests may take
MARKER_WAIT_S = 5.0  # how long the fake API waits for a marker line before answering without it
TOKEN = "c0ffee" * 5
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
NBSP = "\u00a0"


# ---- a fake Runtime API and the runtime process
@dataclass
class Event:
    request_id: str
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    deadline_in_ms: int = 30_000  # the absolute deadline is set when the event is handed out
    reply_status: int = 202  # the fake's answer to this invocation's response/error post


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int]
    end_marker_first: bool | None  # had "<token> END <id>" reached stdout before this post was answered?

    @property
    def kind(self) -> str:
        return "init_error" if self.path == wire.PATH_INIT_ERROR else self.path.rsplit("/", 1)[1]

    @property
    def request_id(self) -> str:
        return self.path[len(wire.INVOCATION_PREFIX) :].rsplit("/", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body)


class Output:
    """Lines a process writes to one pipe, read by a thread, waitable."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def attach(self, pipe: IO[bytes], name: str) -> None:
        def read() -> None:
            for raw in iter(pipe.readline, b""):
                with self._cond:
                    self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                    self._cond.notify_all()

        self._thread = threading.Thread(target=read, name=name, daemon=True)
        self._thread.start()

    def wait_for(self, line: str, timeout: float = WAIT_S) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: line in self.lines, timeout)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(WAIT_S)

    def index(self, line: str) -> int:
        return self.lines.index(line)

    def matching(self, pattern: str) -> list[str]:
        return [line for line in self.lines if re.fullmatch(pattern, line)]


class _ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ApiServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        # One write per reply, as the real server does: no Nagle/delayed-ACK stall between head and body.
        api = self.server.api
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if api.chunked:
            all_headers["Transfer-Encoding"] = "chunked"
            half = len(body) // 2
            parts = [part for part in (body[:half], body[half:]) if part]
            body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
            body += b"0\r\n\r\n"
        else:
            all_headers["Content-Length"] = str(len(body))
        if api.connection_close:
            all_headers["Connection"] = "close"
            self.close_connection = True
        head = f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in all_headers.items()) + "\r\n"
        self.wfile.write(head.encode("latin-1") + body)
        api.after_reply(self)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        api = self.server.api
        if self.path == wire.PATH_LOG_TOKEN:  # as the emulator's API: once per runtime start
            first, api.token_taken = not api.token_taken, True
            body = TOKEN.encode() if first else b'{"errorType":"AccessDenied"}'
            head = f"HTTP/1.1 {200 if first else 403} x\r\nContent-Length: {len(body)}\r\n\r\n"
            self.wfile.write(head.encode() + body)  # not a counted reply: drop_after counts the protocol's
            return
        if self.path != wire.PATH_NEXT:
            self._reply(404, b"{}")
            return
        event = api.take_event(self.client_address)
        if event is None:
            self.close_connection = True  # the fake is closing: no more events
            return
        deadline_ms = int(time.time() * 1000) + event.deadline_in_ms
        api.deadlines[event.request_id] = deadline_ms
        headers = {
            wire.H_REQUEST_ID: event.request_id,
            wire.H_DEADLINE_MS: str(deadline_ms),
            wire.H_FUNCTION_ARN: ARN,
            **event.headers,
        }
        self._reply(200, event.body, headers)

    def do_POST(self) -> None:  # noqa: N802
        api = self.server.api
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        post = Post(self.path, dict(self.headers.items()), body, self.client_address, None)
        status = 202
        if post.kind in ("response", "error"):
            if api.output is not None:
                post.end_marker_first = api.output.wait_for(f"{TOKEN} END {post.request_id}", MARKER_WAIT_S)
            status = api.reply_status.get(post.request_id, 202)
        api.record(post)
        self._reply(status, b'{"status":"OK"}' if status == 202 else b'{"errorType":"RequestEntityTooLarge"}')


class _ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, api: FakeRuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _ApiHandler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a runtime killed mid-request resets its connection: expected here


class FakeRuntimeApi:
    """Hands out scripted events in order, then blocks /next; records every post and connection.
    With `output` (the runtime's stdout) it answers the first /next and each result post only once the
    matching marker line has arrived there, or after MARKER_WAIT_S, and records which it was."""

    def __init__(
        self,
        events: Iterable[Event],
        *,
        output: Output | None = None,
        drop_after: Iterable[int] = (),
        chunked: bool = False,
        connection_close: bool = False,
    ) -> None:
        self.output = output
        self.chunked = chunked  # replies with Transfer-Encoding: chunked instead of Content-Length
        self.connection_close = connection_close  # every reply says "Connection: close" and closes
        self.posts: list[Post] = []
        self.clients: list[tuple[str, int]] = []  # one entry per request
        self.deadlines: dict[str, int] = {}
        self.ready_marker_first: bool | None = None
        self.token_taken = False
        self._events = deque(events)
        self.reply_status = {e.request_id: e.reply_status for e in self._events}
        self._drop_after = set(drop_after)  # request numbers after whose reply the connection is cut
        self._requests = 0
        self._cond = threading.Condition()
        self._closed = False
        self._server = _ApiServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-runtime-api", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        port = self._server.server_address[1]
        return f"127.0.0.1:{port}"

    def take_event(self, client: tuple[str, int]) -> Event | None:
        with self._cond:
            self.clients.append(client)
            first = self.ready_marker_first is None
        if first:
            self.ready_marker_first = (
                self.output.wait_for(f"{TOKEN} READY", MARKER_WAIT_S) if self.output is not None else False
            )
        with self._cond:
            self._cond.wait_for(lambda: self._events or self._closed, WAIT_S * 6)
            return self._events.popleft() if self._events and not self._closed else None

    def record(self, post: Post) -> None:
        with self._cond:
            self.clients.append(post.client)
            self.posts.append(post)
            self._cond.notify_all()

    def after_reply(self, handler: _ApiHandler) -> None:
        with self._cond:
            number = self._requests
            self._requests += 1
        if number in self._drop_after:
            handler.close_connection = True  # closed without "Connection: close": a silent drop

    def wait_posts(self, count: int, timeout: float = WAIT_S) -> list[Post]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.posts) >= count, timeout):
                raise AssertionError(f"expected {count} posts within {timeout}s, got {self.posts}")
            return list(self.posts)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT_S)


@dataclass
class Runtime:
    proc: subprocess.Popen[bytes]
    api: FakeRuntimeApi | None
    stdout: Output
    stderr: Output
    task_root: Path

    def wait_exit(self, timeout: float = WAIT_S) -> int:
        code = self.proc.wait(timeout)
        self.stdout.join()
        self.stderr.join()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT_S)
        if self.api is not None:
            self.api.close()
        self.stdout.join()
        self.stderr.join()


Launch = Callable[..., Runtime]


def write_code(task_root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = task_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start the runtime client on code `files` (a task root under tmp_path) against a fake API."""
    started: list[Runtime] = []

    def start(
        files: dict[str, str],
        events: Iterable[Event] = (),
        *,
        handler: str = "app.handler",
        env: dict[str, str] | None = None,
        marker: bool = True,
        drop_after: Iterable[int] = (),
        chunked: bool = False,
        connection_close: bool = False,
        api_address: str | None = None,
        python: str = sys.executable,
    ) -> Runtime:
        task_root = tmp_path / "task"
        task_root.mkdir(exist_ok=True)
        write_code(task_root, files)
        stdout, stderr = Output(), Output()
        api = None
        if api_address is None:
            api = FakeRuntimeApi(
                events,
                output=stdout if marker else None,
                drop_after=drop_after,
                chunked=chunked,
                connection_close=connection_close,
            )
            api_address = api.address
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
            **({wire.ENV_LOG_MARKER: "1"} if marker else {}),
            **(env or {}),
        }
        proc = subprocess.Popen(
            [python, str(CLIENT)],
            cwd=task_root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        stdout.attach(proc.stdout, "runtime-stdout")
        stderr.attach(proc.stderr, "runtime-stderr")
        runtime = Runtime(proc, api, stdout, stderr, task_root)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()


def invoke(launch: Launch, source: str, *events: Event, **options: Any) -> tuple[Runtime, list[Post]]:
    runtime = launch({"app.py": source}, events, **options)
    assert runtime.api is not None
    return runtime, runtime.api.wait_posts(len(events))


def load_client_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lambda_emu_runtime_client", CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # keep runtimes/ clean
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = write_bytecode
    return module


# ---- the files
def test_client_wire_names_match_the_emulator() -> None:
    client = load_client_module()
    for name in (
        "RUNTIME_API_VERSION",
        "PATH_NEXT",
        "PATH_INIT_ERROR",
        "INVOCATION_PREFIX",
        "H_REQUEST_ID",
        "H_DEADLINE_MS",
        "H_FUNCTION_ARN",
        "H_TRACE_ID",
        "H_CLIENT_CONTEXT",
        "H_COGNITO_IDENTITY",
        "H_TENANT_ID",
        "H_FUNCTION_ERROR_TYPE",
        "ENV_LOG_MARKER",
        "PATH_LOG_TOKEN",
    ):
        assert getattr(client, name) == getattr(wire, name), name


def test_bootstrap_is_an_executable_sh_script_that_execs_the_client() -> None:
    text = BOOTSTRAP.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "exec /var/lang/bin/python3 /var/runtime/runtime_client.py\n" in text
    assert BOOTSTRAP.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["sh", "-n", str(BOOTSTRAP)], timeout=WAIT_S).returncode == 0


def test_runtime_loads_no_heavy_module_the_function_did_not_ask_for(launch: Launch) -> None:
    source = """\
    import sys
    def handler(event, context):
        heavy = ("http.client", "ssl", "email.parser", "decimal", "traceback", "asyncio")
        return [name for name in heavy if name in sys.modules]
    """
    _, posts = invoke(launch, source, Event("r1"))
    # traceback comes with logging anyway; the rest cost cold-start time and are loaded only on use.
    assert [name for name in posts[0].json() if name != "traceback"] == []


# ---- results
@pytest.mark.parametrize(
    ("source", "body", "content_type"),
    [
        (
            "def handler(event, context):\n    return {'got': event}\n",
            b'{"got": {"k": [1, 2]}}',
            "application/json",
        ),
        ("def handler(event, context):\n    return 'hi'\n", b'"hi"', "application/json"),
        ("def handler(event, context):\n    return None\n", b"null", "application/json"),
        (
            "from decimal import Decimal\n"
            "def handler(event, context):\n"
            "    return {'i': Decimal('10'), 'f': Decimal('1.50'), 'n': Decimal('NaN'),\n"
            "            'l': [Decimal('-0.1')]}\n",
            b'{"i": 10, "f": 1.50, "n": NaN, "l": [-0.1]}',
            "application/json",
        ),
        ("def handler(event, context):\n    return b'\\x00raw'\n", b"\x00raw", "application/unknown"),
    ],
    ids=["dict", "str", "none", "decimal", "bytes"],
)
def test_result_is_posted_as_lambda_marshals_it(
    launch: Launch, source: str, body: bytes, content_type: str
) -> None:
    _, posts = invoke(launch, source, Event("r1", b'{"k": [1, 2]}'))
    assert [(p.kind, p.request_id) for p in posts] == [("response", "r1")]
    assert posts[0].body == body
    assert posts[0].headers["Content-Type"] == content_type


def test_unserialisable_result_is_a_marshal_error(launch: Launch) -> None:
    _, posts = invoke(launch, "def handler(event, context):\n    return {1, 2}\n", Event("r1"))
    assert posts[0].kind == "error"
    assert posts[0].headers[wire.H_FUNCTION_ERROR_TYPE] == "Runtime.MarshalError"
    assert posts[0].json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": "r1",
        "stackTrace": [],
    }


def test_event_that_is_not_json_is_an_unmarshal_error_and_the_loop_goes_on(launch: Launch) -> None:
    _, posts = invoke(
        launch,
        "def handler(event, context):\n    return event\n",
        Event("r1", b"{not json"),
        Event("r2", b"[1]"),
    )
    error = posts[0].json()
    assert (posts[0].kind, error["requestId"]) == ("error", "r1")
    assert error["errorType"] == "Runtime.UnmarshalError"
    assert error["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")
    assert (posts[1].kind, posts[1].body) == ("response", b"[1]")


# ---- handler errors
FAILING = """\
def helper():
    raise ValueError("boom")

def handler(event, context):
    print("before")
    helper()
"""


def test_handler_exception_posts_lambda_error_body_with_user_frames_only(launch: Launch) -> None:
    runtime, posts = invoke(launch, FAILING, Event("r1"))
    app = runtime.task_root / "app.py"
    assert posts[0].kind == "error"
    assert posts[0].headers[wire.H_FUNCTION_ERROR_TYPE] == "ValueError"
    error = posts[0].json()
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (error["errorMessage"], error["errorType"], error["requestId"]) == ("boom", "ValueError", "r1")
    assert error["stackTrace"] == [
        f'  File "{app}", line 6, in handler\n    helper()\n',
        f'  File "{app}", line 2, in helper\n    raise ValueError("boom")\n',
    ]


def test_handler_exception_is_logged_as_lambda_does(launch: Launch) -> None:
    runtime, _ = invoke(launch, FAILING, Event("r1"))
    app = runtime.task_root / "app.py"
    assert runtime.stdout.wait_for(f"{TOKEN} END r1")
    lines = runtime.stdout.lines
    start = lines.index("[ERROR] ValueError: boom")
    assert lines[start - 1] == "before"
    assert lines[start + 1 : start + 7] == [
        "Traceback (most recent call last):",
        f'{NBSP * 2}File "{app}", line 6, in handler',
        f"{NBSP * 4}helper()",
        f'{NBSP * 2}File "{app}", line 2, in helper',
        f'{NBSP * 4}raise ValueError("boom")',
        f"{TOKEN} END r1",
    ]


@pytest.mark.parametrize(("statement", "code"), [("sys.exit(3)", 3), ("os._exit(7)", 7)])
def test_exit_in_handler_ends_the_process_with_its_status(launch: Launch, statement: str, code: int) -> None:
    source = f"import os, sys\ndef handler(event, context):\n    {statement}\n"
    runtime = launch({"app.py": source}, [Event("r1")])
    assert runtime.wait_exit() == code
    assert runtime.api is not None and runtime.api.posts == []


# ---- init errors
@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "def handler(e, c): pass\n"},
            "app",
            "Runtime.MalformedHandlerName",
            "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        ),
        (
            {},
            "nothere.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'nothere': No module named 'nothere'",
        ),
        (
            {"app.py": "import not_installed_pkg\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_installed_pkg'",
        ),
        (
            {},
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
        (
            {"app.py": "def other(e, c): pass\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        (
            {"src/app.py": "x = 1\n"},
            "src/app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'src/app'",
        ),
    ],
    ids=["malformed", "no-module", "import-inside", "built-in", "no-handler", "no-handler-in-folder"],
)
def test_init_error_is_posted_logged_and_exits_1(
    launch: Launch, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    runtime = launch(files, handler=handler)
    assert runtime.wait_exit() == 1
    assert runtime.api is not None
    (post,) = runtime.api.posts
    assert post.kind == "init_error"
    assert post.headers[wire.H_FUNCTION_ERROR_TYPE] == error_type
    expected = {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
    assert post.json() == expected
    lines = runtime.stdout.lines
    assert lines[lines.index(f"[ERROR] {error_type}: {message}") + 1] == "Traceback (most recent call last):"
    assert runtime.api.clients == [post.client], "no /next after a failed init"
    assert f"{TOKEN} READY" not in lines


def test_syntax_error_reports_file_line_and_text(launch: Launch) -> None:
    source = "def handler(event, context):\n    return (1,\n"
    runtime = launch({"app.py": source})
    assert runtime.wait_exit() == 1
    path = runtime.task_root / "app.py"
    with pytest.raises(SyntaxError) as expected:
        compile(source, str(path), "exec")
    exc = expected.value
    assert runtime.api is not None
    (post,) = runtime.api.posts
    assert post.json() == {
        "errorMessage": f"Syntax error in module 'app': {exc}",
        "errorType": "Runtime.UserCodeSyntaxError",
        "requestId": "",
        "stackTrace": [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}'],
    }


def test_exception_at_import_reports_its_own_type_and_no_runtime_frames(launch: Launch) -> None:
    source = "print('loading')\ndef load():\n    raise KeyError('cfg')\nload()\n"
    runtime = launch({"app.py": source})
    assert runtime.wait_exit() == 1
    assert runtime.api is not None
    (post,) = runtime.api.posts
    error = post.json()
    assert (error["errorType"], error["errorMessage"], error["requestId"]) == ("KeyError", "'cfg'", "")
    assert post.headers[wire.H_FUNCTION_ERROR_TYPE] == "KeyError"
    app = runtime.task_root / "app.py"
    assert error["stackTrace"][-2:] == [
        f'  File "{app}", line 4, in <module>\n    load()\n',
        f"  File \"{app}\", line 3, in load\n    raise KeyError('cfg')\n",
    ]
    assert not any("runtime_client.py" in frame for frame in error["stackTrace"])
    assert runtime.stdout.index("loading") < runtime.stdout.index("[ERROR] KeyError: 'cfg'")


# ---- the context object
CONTEXT_DUMP = """\
def handler(event, context):
    cc = context.client_context
    client_fields = (
        "installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"
    )
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client": None if cc is None else {k: getattr(cc.client, k) for k in client_fields},
        "custom": None if cc is None else cc.custom,
        "env": None if cc is None else cc.env,
        "tenant_id": context.tenant_id,
        "remaining_is_int": type(context.get_remaining_time_in_millis()) is int,
        "repr": repr(context),
    }
"""


def test_context_carries_every_attribute_with_lambda_types(launch: Launch) -> None:
    client = {
        "installation_id": "inst",
        "app_title": "title",
        "app_version_name": "1.0",
        "app_version_code": "100",
        "app_package_name": "pkg",
    }
    headers = {
        wire.H_CLIENT_CONTEXT: json.dumps({"client": client, "custom": {"a": 1}, "env": {"platform": "x"}}),
        wire.H_COGNITO_IDENTITY: json.dumps({"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"}),
        wire.H_TENANT_ID: "tenant-1",
    }
    _, posts = invoke(launch, CONTEXT_DUMP, Event("r1", headers=headers))
    got = posts[0].json()
    assert got.pop("repr").startswith("LambdaContext(aws_request_id='r1', function_name='fn'")
    assert got == {
        "function_name": "fn",
        "function_version": "$LATEST",
        "invoked_function_arn": ARN,
        "memory_limit_in_mb": "256",  # a string, as in Lambda
        "aws_request_id": "r1",
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
        "identity": ["cid", "pool"],
        "client": client,
        "custom": {"a": 1},
        "env": {"platform": "x"},
        "tenant_id": "tenant-1",
        "remaining_is_int": True,
    }


def test_context_without_optional_headers_has_an_empty_identity_and_no_client_context(launch: Launch) -> None:
    _, posts = invoke(launch, CONTEXT_DUMP, Event("r1"))
    got = posts[0].json()
    assert (got["identity"], got["client"], got["custom"], got["env"], got["tenant_id"]) == (
        [None, None],
        None,
        None,
        None,
        None,
    )


def test_unparseable_client_context_is_a_context_unmarshal_error(launch: Launch) -> None:
    _, posts = invoke(launch, CONTEXT_DUMP, Event("r1", headers={wire.H_CLIENT_CONTEXT: "{nope"}))
    error = posts[0].json()
    assert error["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert error["errorMessage"].startswith("Unable to parse Client Context JSON: ")


def test_remaining_time_counts_down_from_the_absolute_deadline(launch: Launch) -> None:
    source = """\
    import time
    def handler(event, context):
        first = context.get_remaining_time_in_millis()
        now = int(time.time() * 1000)
        time.sleep(0.2)
        return [first, now, context.get_remaining_time_in_millis()]
    """
    runtime, posts = invoke(
        launch, source, Event("r1", deadline_in_ms=10_000), Event("late", deadline_in_ms=-5_000)
    )
    assert runtime.api is not None
    first, now, second = posts[0].json()
    assert abs(first - (runtime.api.deadlines["r1"] - now)) <= 50
    assert 10_000 - 3_000 < first <= 10_000
    assert first - 2_000 < second <= first - 190
    assert posts[1].json()[0::2] == [0, 0]  # clamped at 0 once the deadline is past


def test_trace_id_header_sets_x_amzn_trace_id_and_its_absence_clears_it(launch: Launch) -> None:
    source = "import os\ndef handler(event, context):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    _, posts = invoke(launch, source, Event("r1", headers={wire.H_TRACE_ID: trace}), Event("r2"))
    assert [p.json() for p in posts] == [trace, None]


# ---- code location
def test_handler_in_a_folder_is_imported_as_a_package_path(launch: Launch) -> None:
    runtime = launch(
        {"pkg/mod.py": "def handler(event, context):\n    return __name__\n"},
        [Event("r1")],
        handler="pkg/mod.handler",
    )
    assert runtime.api is not None
    assert runtime.api.wait_posts(1)[0].json() == "pkg.mod"


def test_sys_path_and_cwd_are_lambdas(launch: Launch) -> None:
    source = "import os, sys\ndef handler(event, context):\n    return [os.getcwd(), sys.path[:4]]\n"
    runtime, posts = invoke(launch, source, Event("r1"))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    task = str(runtime.task_root)
    assert posts[0].json() == [
        task,
        [task, f"/opt/python/lib/{version}/site-packages", "/opt/python", str(CLIENT.parent)],
    ]


# ---- the connection
def test_many_invocations_share_one_keep_alive_connection(launch: Launch) -> None:
    source = "def handler(event, context):\n    return event['n'] * 2\n"
    events = [Event(f"r{n}", json.dumps({"n": n}).encode()) for n in range(30)]
    runtime, posts = invoke(launch, source, *events)
    assert [(p.request_id, p.json()) for p in posts] == [(f"r{n}", n * 2) for n in range(30)]
    assert runtime.api is not None
    assert len(set(runtime.api.clients)) == 1


def test_a_dropped_connection_is_reopened(launch: Launch) -> None:
    source = "def handler(event, context):\n    return event\n"
    # Request 0 is the first /next: the fake cuts the connection after answering it, then again later.
    events = [Event("r1", b"1"), Event("r2", b"2"), Event("r3", b"3")]
    runtime, posts = invoke(launch, source, *events, drop_after={0, 3})
    assert [(p.request_id, p.body) for p in posts] == [("r1", b"1"), ("r2", b"2"), ("r3", b"3")]
    assert runtime.api is not None
    assert len(set(runtime.api.clients)) == 3
    assert runtime.proc.poll() is None


@pytest.mark.parametrize("variant", ["chunked", "connection_close"])
def test_replies_framed_otherwise_are_understood(launch: Launch, variant: str) -> None:
    source = "def handler(event, context):\n    return event\n"
    events = [Event(f"r{n}", json.dumps({"n": n, "pad": "x" * 5000}).encode()) for n in range(3)]
    runtime, posts = invoke(launch, source, *events, **{variant: True})
    assert [p.json()["n"] for p in posts] == [0, 1, 2]
    assert runtime.proc.poll() is None


def test_round_trips_through_the_emulators_runtime_api(launch: Launch) -> None:
    from lambda_emu.engine.runtime_api import ReplyKind, RuntimeApi, RuntimeApiServer, RuntimeReply
    from lambda_emu.models import Invocation

    source = """\
    def handler(event, context):
        if event == "fail":
            raise ValueError("nope")
        return "x" * 7_000_000 if event == "big" else {"echo": event, "id": context.aws_request_id}
    """
    with RuntimeApiServer(RuntimeApi(log_token=TOKEN)) as server:
        runtime = launch({"app.py": source}, api_address=server.address)
        replies: list[RuntimeReply] = []
        for payload in (b'"hi"', b'"fail"', b'"big"', b'"again"'):
            pending = server.api.submit(Invocation(payload, ARN, request_id=f"id-{len(replies)}"), 30)
            replies.append(pending.wait_reply(WAIT_S))
            server.api.settle()
        assert [r.kind for r in replies] == [
            ReplyKind.RESPONSE,
            ReplyKind.ERROR,
            ReplyKind.TOO_LARGE,
            ReplyKind.RESPONSE,
        ]
        assert json.loads(replies[0].body) == {"echo": "hi", "id": "id-0"}
        assert replies[1].error_type == "ValueError"
        assert json.loads(replies[3].body) == {"echo": "again", "id": "id-3"}
        assert runtime.proc.poll() is None


def test_a_rejected_response_is_not_fatal(launch: Launch) -> None:
    source = "def handler(event, context):\n    return event\n"
    runtime, posts = invoke(launch, source, Event("big", b'"x"', reply_status=413), Event("r2", b'"y"'))
    assert [(p.request_id, p.body) for p in posts] == [("big", b'"x"'), ("r2", b'"y"')]
    assert runtime.proc.poll() is None


def test_unreachable_runtime_api_exits_1_with_a_one_line_reason(launch: Launch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens there
    runtime = launch({"app.py": "def handler(e, c): pass\n"}, marker=False, api_address=address)
    assert runtime.wait_exit() == 1
    assert len(runtime.stderr.lines) == 1
    assert "cannot reach the Runtime API at " + address in runtime.stderr.lines[0]


# ---- logging
LOGGING = """\
import logging
logger = logging.getLogger("app")
logger.warning("at init")

def handler(event, context):
    logger.debug("debug line")
    logger.warning("warn line")
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("failed")
    print("after")
"""


def test_log_records_carry_level_utc_time_and_request_id(launch: Launch) -> None:
    runtime, _ = invoke(launch, LOGGING, Event("r1"))
    assert runtime.stdout.wait_for(f"{TOKEN} END r1")
    out = runtime.stdout
    assert len(out.matching(rf"\[WARNING\]\t{TIMESTAMP}\t\tat init")) == 1  # no request id during init
    (warn,) = out.matching(rf"\[WARNING\]\t{TIMESTAMP}\tr1\twarn line")
    stamp = datetime.strptime(warn.split("\t")[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 60
    assert out.matching(rf"\[ERROR\]\t{TIMESTAMP}\tr1\tfailed")
    # The record with a traceback ended its own line.
    assert out.lines[out.index("after") - 1] == "ZeroDivisionError: division by zero"
    assert not any("debug line" in line for line in out.lines)  # Lambda's default level is WARNING


def test_aws_lambda_log_level_sets_the_root_level(launch: Launch) -> None:
    runtime, _ = invoke(launch, LOGGING, Event("r1"), env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    assert runtime.stdout.wait_for(f"{TOKEN} END r1")
    assert runtime.stdout.matching(rf"\[DEBUG\]\t{TIMESTAMP}\tr1\tdebug line")


# ---- the log-marker protocol
def test_ready_marker_follows_init_output_and_precedes_the_first_next(launch: Launch) -> None:
    source = "print('init output')\ndef handler(event, context):\n    return 1\n"
    runtime, _ = invoke(launch, source, Event("r1"))
    assert runtime.api is not None
    assert runtime.api.ready_marker_first is True
    assert runtime.stdout.index("init output") < runtime.stdout.index(f"{TOKEN} READY")


def test_end_marker_follows_the_invocations_output_and_precedes_its_post(launch: Launch) -> None:
    source = """\
    import logging, os, sys
    def handler(event, context):
        print("out")
        print("err", file=sys.stderr)
        os.write(2, b"raw err\\n")
        logging.getLogger().warning("logged")
        if event == "fail":
            raise RuntimeError("failed")
        return "ok"
    """
    runtime, posts = invoke(launch, source, Event("r1", b'"ok"'), Event("r2", b'"fail"'))
    assert [(p.kind, p.end_marker_first) for p in posts] == [("response", True), ("error", True)]
    lines = runtime.stdout.lines
    end_r1, end_r2 = lines.index(f"{TOKEN} END r1"), lines.index(f"{TOKEN} END r2")
    for request_id, segment in (("r1", lines[:end_r1]), ("r2", lines[end_r1 + 1 : end_r2])):
        start = segment.index("out")
        assert segment[start : start + 3] == ["out", "err", "raw err"]
        assert segment[start + 3].endswith(f"\t{request_id}\tlogged")
    assert lines[end_r1 - 1].endswith("\tr1\tlogged")
    assert "[ERROR] RuntimeError: failed" in lines[end_r1:end_r2]
    assert runtime.stderr.lines == []  # stderr is merged into stdout while a marker is set


def test_end_marker_starts_its_own_line_after_unfinished_output(launch: Launch) -> None:
    source = "import sys\ndef handler(event, context):\n    sys.stdout.write('no newline')\n"
    runtime, posts = invoke(launch, source, Event("r1"))
    assert posts[0].end_marker_first is True
    lines = runtime.stdout.lines
    assert lines[lines.index(f"{TOKEN} END r1") - 1] == "no newline"


def test_the_log_token_is_nowhere_the_function_can_read_it(launch: Launch) -> None:
    source = f"""\
    import os, socket, subprocess, sys
    def handler(event, context):
        child = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.environ))"],
                               capture_output=True, text=True, timeout=10).stdout
        with open("/proc/self/environ", "rb") as initial:  # the process's first environment, as exec'd
            environ = initial.read()
        host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as api:  # ask for it as the client did
            api.sendall(b"GET {wire.PATH_LOG_TOKEN} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            again = api.recv(65536)
        return [os.environ.get("_LAMBDA_EMU_LOG_MARKER"), "_LAMBDA_EMU_LOG_MARKER" in child,
                b"{TOKEN}" in environ, b"{TOKEN}" in again, again.split(b" ")[1].decode()]
    """
    _, posts = invoke(launch, source, Event("r1"))
    assert posts[0].json() == [None, False, False, False, "403"]


def test_without_a_marker_there_are_no_marker_lines_and_stderr_stays_apart(launch: Launch) -> None:
    source = "import sys\ndef handler(event, context):\n    print('out')\n    print('err', file=sys.stderr)\n"
    runtime, _ = invoke(launch, source, Event("r1"), marker=False)
    assert runtime.stderr.wait_for("err") and runtime.stdout.wait_for("out")
    assert not any(TOKEN in line for line in runtime.stdout.lines)


# ---- pure parts, in-process
def test_decimals_keep_their_digits_and_cannot_collide_with_strings() -> None:
    client = load_client_module()
    value = {"a": Decimal("3.14159"), "b": [Decimal("1E+2"), Decimal("-NaN")], "s": "\x00x:0\x00"}
    assert client.to_json(value) == '{"a": 3.14159, "b": [1E+2, NaN], "s": "\\u0000x:0\\u0000"}'


def test_error_log_uses_no_break_space_indentation() -> None:
    client = load_client_module()
    frame = '  File "a.py", line 1, in f\n    x()\n'
    error = {"errorMessage": "", "errorType": "Boom", "stackTrace": [frame]}
    assert client.format_error_log(error) == (
        "[ERROR] Boom\nTraceback (most recent call last):\n"
        f'{NBSP * 2}File "a.py", line 1, in f\n{NBSP * 4}x()\n'
    )


# ---- every supported Python
def find_python(version: str) -> str | None:
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=WAIT_S,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_client_runs_on_each_supported_python(launch: Launch, version: str) -> None:
    python = find_python(version)
    if python is None:
        # This project's machines have every version (pyenv); CI must run them, a laptop may lack one.
        if IN_CI:
            pytest.fail(f"CI=true and python{version} is not installed: this test never skips in CI")
        pytest.skip(f"python{version} is not installed here")
    source = """\
    from decimal import Decimal
    def handler(event, context):
        if event == "fail":
            raise ValueError("nope")
        return {"d": Decimal("2.50"), "s": "\\u00e9", "m": context.memory_limit_in_mb}
    """
    runtime, posts = invoke(launch, source, Event("r1", b'"ok"'), Event("r2", b'"fail"'), python=python)
    escaped = '"\\u00e9"' if version in ("3.10", "3.11") else '"\u00e9"'  # awslambdaric: raw from 3.12
    assert posts[0].body.decode() == '{"d": 2.50, "s": ' + escaped + ', "m": "256"}'
    error = posts[1].json()
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "nope")
    assert error["stackTrace"] == [
        f'  File "{runtime.task_root / "app.py"}", line 4, in handler\n    raise ValueError("nope")\n'
    ]
    assert [p.end_marker_first for p in posts] == [True, True]


def test_output_sent_to_the_emulator_waits_for_a_slow_reader_instead_of_failing() -> None:
    """The output socket is connected with a timeout, which makes it non-blocking: fd 1 and 2 share its
    flags, so a few MB of prints faster than the emulator reads died with BlockingIOError."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT_S)
    port = listener.getsockname()[1]
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(CLIENT.parent)!r})
        import runtime_client
        runtime_client.connect_output("127.0.0.1:{port}", "tok")
        runtime_client.install_output_streams()
        for _ in range(5000):
            print("p" * 999)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL)
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(WAIT_S)
            time.sleep(0.5)  # a slow reader: the socket's buffers fill meanwhile
            received = 0
            while chunk := conn.recv(1 << 16):
                received += len(chunk)
        assert proc.wait(WAIT_S) == 0
        assert received == len(b"tok\n") + 5000 * 1000  # the hello line, then every print
    finally:
        proc.kill()
        listener.close()


def test_a_function_that_closes_stdout_and_stderr_still_gets_its_result_back_and_its_log_ends(
    launch: Launch,
) -> None:
    source = """\
    import os, sys
    def handler(event, context):
        if not sys.stdout.closed:  # the first invocation closes them; the next runs without them
            sys.stdout.close()
            os.close(1)
            os.close(2)
        return {"closed": True}
    """
    _, posts = invoke(launch, source, Event("r1"), Event("r2"))
    assert [(p.kind, p.request_id, p.json()) for p in posts] == [
        ("response", "r1", {"closed": True}),
        ("response", "r2", {"closed": True}),
    ]
    assert posts[0].end_marker_first, "the END marker has a descriptor of its own"
