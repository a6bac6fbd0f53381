"""`lambda-emu invoke -d PORT`: the runtime waits under a debugger on 127.0.0.1:PORT, a real debugger client
attaches (the Debug Adapter Protocol for debugpy, the inspector's protocol for Node), a breakpoint in the
user's file is hit, the client continues and the invoke's answer arrives, with the function's timeout lifted
meanwhile."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Every wait of these tests is bounded by this; a cold start with an image build fits well inside it.
WAIT_S = 120.0

PY_HANDLER = """\
import time


def handler(event, context):
    doubled = event["n"] * 2
    return {"doubled": doubled, "remaining_ms": context.get_remaining_time_in_millis()}
"""
PY_BREAK_LINE = 5  # `doubled = ...`

NODE_HANDLER = """\
export const handler = async (event, context) => {
  const doubled = event.n * 2;
  return { doubled, remaining_ms: context.getRemainingTimeInMillis() };
};
"""
NODE_BREAK_LINE = 2  # `const doubled = ...` (the inspector's lines count from 0: 1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connect(port: int, proc: subprocess.Popen[bytes]) -> socket.socket:
    """Connect once the debugger listens (polling, bounded), failing early if the invoke ended."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
            return conn
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"lambda-emu ended before the debugger listened: {_output(proc)}")
            if time.monotonic() > deadline:
                pytest.fail(f"no debugger listened on 127.0.0.1:{port} within {WAIT_S} s")
            time.sleep(0.2)


def _finish(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    """The invoke's stdout and stderr once it has ended (killed after WAIT_S)."""
    try:
        out, err = proc.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out.decode(errors="replace"), err.decode(errors="replace")


def _output(proc: subprocess.Popen[bytes]) -> str:
    out, err = _finish(proc)
    return f"exit {proc.returncode}\nstdout: {out}\nstderr: {err}"


@pytest.fixture
def start_invoke(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        runtime: str, handler: str, code: Path, port: int, payload: dict[str, Any]
    ) -> subprocess.Popen[bytes]:
        # --timeout 1: a debugger holding the function at a breakpoint for longer must not time it out.
        command = [
            "lambda-emu", "invoke", "--runtime", runtime, "--handler", handler, "--code", str(code),
            "--timeout", "1", "--payload", json.dumps(payload), "-d", str(port),
        ]  # fmt: skip
        env = {**os.environ, "LAMBDA_EMU_BASE_IMAGE": "debian"}  # our images' bootstraps start the debugger
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()  # the CLI removes its container on the way out
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


# ---- Python: the Debug Adapter Protocol, as an IDE speaks it to debugpy


class DapClient:
    """A minimal Debug Adapter Protocol client over TCP: Content-Length framed JSON messages."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._buffer = b""
        self._seq = 0
        self.seen: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        """A request without waiting for its answer (a `continue` may end the debuggee before the answer
        comes: the run answers, and the CLI removes the container)."""
        self._seq += 1
        body = json.dumps({"seq": self._seq, "type": "request", "command": command, "arguments": arguments})
        data = body.encode()
        self._conn.sendall(f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        return self._seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(rest) < length:
            self._buffer = header + b"\r\n\r\n" + rest
            self._fill()
            header, _, rest = self._buffer.partition(b"\r\n\r\n")
        self._buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        self.seen.append(message)
        return message

    def _fill(self) -> None:
        chunk = self._conn.recv(65536)
        if not chunk:
            raise AssertionError(f"debugpy closed the connection; seen: {self.seen}")
        self._buffer += chunk

    def wait_for(self, kind: str, name: str) -> dict[str, Any]:
        """The next event `name` (kind "event") or response to command `name` (kind "response")."""
        key = "event" if kind == "event" else "command"
        while True:
            message = self._read()
            if message.get("type") == kind and message.get(key) == name:
                return message

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        seq = self.send(command, **arguments)
        while True:
            message = self._read()
            if message.get("type") == "response" and message.get("request_seq") == seq:
                assert message["success"], message
                return message


def _attach_and_stop(dap: DapClient, code: Path) -> int:
    """Attach as an IDE does with the README's launch.json, break in the handler; the stopped thread."""
    dap.request("initialize", clientID="lambda-emu-test", adapterID="debugpy", pathFormat="path",
                linesStartAt1=True, columnsStartAt1=True)  # fmt: skip
    # pathMappings: /var/task is the host's code folder.
    attach_seq = dap.send(
        "attach", justMyCode=True, pathMappings=[{"localRoot": str(code), "remoteRoot": "/var/task"}]
    )
    dap.wait_for("event", "initialized")
    placed = dap.request(
        "setBreakpoints", source={"path": str(code / "app.py")}, breakpoints=[{"line": PY_BREAK_LINE}]
    )
    assert placed["body"]["breakpoints"][0]["verified"], placed
    dap.request("configurationDone")
    stopped = dap.wait_for("event", "stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    thread = int(stopped["body"]["threadId"])
    frames = dap.request("stackTrace", threadId=thread, levels=1)["body"]["stackFrames"]
    assert frames[0]["line"] == PY_BREAK_LINE
    assert frames[0]["source"]["path"] == str(code / "app.py")  # mapped back to the host's file
    assert any(m.get("request_seq") == attach_seq for m in dap.seen if m.get("type") == "response")
    return thread


def _python_code(tmp_path: Path) -> Path:
    code = tmp_path / "src"
    code.mkdir()
    (code / "app.py").write_text(PY_HANDLER)
    return code


def test_python_breakpoint_in_the_users_file_is_hit_and_the_invoke_answers(
    tmp_path: Path, start_invoke: Any
) -> None:
    code = _python_code(tmp_path)
    port = _free_port()
    proc = start_invoke("python3.11", "app.handler", code, port, {"n": 21})
    with _connect(port, proc) as conn:
        dap = DapClient(conn)
        thread = _attach_and_stop(dap, code)
        time.sleep(1.5)  # held at the breakpoint past the function's 1 s timeout: lifted while debugging
        dap.send("continue", threadId=thread)
        out, err = _finish(proc)
    assert proc.returncode == 0, err
    answer = json.loads(out)
    assert answer["doubled"] == 42
    assert answer["remaining_ms"] > 1000  # the deadline the runtime sees is lifted too


def test_the_same_debug_port_serves_the_next_run_right_after(tmp_path: Path, start_invoke: Any) -> None:
    code = _python_code(tmp_path)
    port = _free_port()
    for n in (1, 2):  # the first session's socket may linger in TIME_WAIT: the second run still starts
        proc = start_invoke("python3.11", "app.handler", code, port, {"n": n})
        with _connect(port, proc) as conn:
            dap = DapClient(conn)
            dap.send("continue", threadId=_attach_and_stop(dap, code))
            out, err = _finish(proc)
        assert proc.returncode == 0, err
        assert json.loads(out)["doubled"] == 2 * n


TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Handler: app.handler
    Timeout: 1
Resources:
  Debugged:
    Type: AWS::Serverless::Function
  Other:
    Type: AWS::Serverless::Function
"""


def _serve(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LAMBDA_EMU_BASE_IMAGE": "debian"}
    command = ["lambda-emu", "serve", "-t", str(tmp_path / "template.yaml"), "--no-watch", *args]
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_listening(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Poll the endpoint (ListFunctions) until serve answers, bounded."""
    import urllib.request

    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/2015-03-31/functions/", timeout=10):
                return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"serve ended before it listened: {_output(proc)}")
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not listen at {url} within {WAIT_S} s")
            time.sleep(0.2)


def _invoke_api(url: str, name: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    import urllib.request

    request = urllib.request.Request(
        f"{url}/2015-03-31/functions/{name}/invocations", data=json.dumps(payload).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=WAIT_S) as reply:
        return reply.status, json.load(reply)


def test_serve_debugs_the_function_debug_function_names_and_runs_the_others_as_usual(tmp_path: Path) -> None:
    import concurrent.futures

    code = _python_code(tmp_path)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    api_port, port = _free_port(), _free_port()
    proc = _serve(tmp_path, "-p", str(api_port), "-d", str(port), "--debug-function", "Debugged")
    url = f"http://127.0.0.1:{api_port}"
    try:
        _wait_listening(url, proc)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            debugged = pool.submit(_invoke_api, url, "Debugged", {"n": 4})  # waits for the debugger
            with _connect(port, proc) as conn:
                dap = DapClient(conn)
                thread = _attach_and_stop(dap, code)
                # Another function is not under the debugger: it answers while Debugged is held.
                assert _invoke_api(url, "Other", {"n": 1}) == (200, {"doubled": 2, "remaining_ms": ANY_MS})
                time.sleep(1.5)  # past Debugged's 1 s timeout: lifted while debugging
                dap.send("continue", threadId=thread)
                status, answer = debugged.result(timeout=WAIT_S)
        assert status == 200 and answer["doubled"] == 8 and answer["remaining_ms"] > 1000
    finally:
        proc.terminate()  # Ctrl-C's way out: containers removed
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


class _AnyMs:
    """Equal to any remaining time within the function's 1 s timeout."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and 0 <= other <= 1000


ANY_MS = _AnyMs()


def test_serve_refuses_d_when_it_cannot_tell_which_function_to_debug(tmp_path: Path) -> None:
    _python_code(tmp_path)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    proc = _serve(tmp_path, "-p", str(_free_port()), "-d", str(_free_port()))
    out, err = _finish(proc)
    assert proc.returncode == 2, err
    assert "-d/--debug-port debugs one function, and 2 are served" in err
    assert "--debug-function" in err


# ---- Node.js: the inspector's protocol (Chrome DevTools Protocol) over its websocket


class WebSocket:
    """A minimal client of RFC 6455 over a plain socket: text frames out (masked), text frames in."""

    def __init__(self, port: int, path: str) -> None:
        self._conn = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        key = base64.b64encode(os.urandom(16)).decode()
        self._conn.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self._buffer = b""
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _fill(self) -> None:
        chunk = self._conn.recv(65536)
        if not chunk:
            raise AssertionError("the inspector closed the websocket")
        self._buffer += chunk

    def _take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + len(data).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(data).to_bytes(8, "big")
        self._conn.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._take(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self._take(2), "big")
            elif length == 127:
                length = int.from_bytes(self._take(8), "big")
            payload = self._take(length)  # the server's frames are not masked
            opcode = first & 0x0F
            if opcode == 0x8:
                raise AssertionError("the inspector closed the websocket")
            if opcode in (0x9, 0xA):
                continue  # ping / pong: no part of a message
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        self._conn.close()


class CdpClient:
    """Requests with ids, and the events between their answers, of the Chrome DevTools Protocol."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> None:
        """A request without waiting for its answer (the last resume may end the run before it comes)."""
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.send(method, **params)
        while True:
            message = json.loads(self._ws.receive())
            if message.get("id") == self._id:
                assert "error" not in message, message
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            message = json.loads(self._ws.receive())
            if message.get("method") == method:
                return message
            self.events.append(message)


def _inspector_targets(port: int, proc: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    import urllib.request

    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
                targets: list[dict[str, Any]] = json.load(reply)
                if targets:
                    return targets
        except OSError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"invoke ended before the inspector listened: {_output(proc)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no inspector listened on 127.0.0.1:{port} within {WAIT_S} s")
        time.sleep(0.2)


def test_node_breakpoint_in_the_users_file_is_hit_and_the_invoke_answers(
    tmp_path: Path, start_invoke: Any
) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "index.mjs").write_text(NODE_HANDLER)
    port = _free_port()
    proc = start_invoke("nodejs20.x", "index.handler", code, port, {"n": 21})
    target = _inspector_targets(port, proc)[0]
    path = "/" + target["webSocketDebuggerUrl"].split("/", 3)[3]
    ws = WebSocket(port, path)
    try:
        cdp = CdpClient(ws)
        cdp.call("Runtime.enable")
        cdp.call("Debugger.enable")
        # The handler's file as the runtime loads it: /var/task is the host's code folder (README).
        placed = cdp.call(
            "Debugger.setBreakpointByUrl", url="file:///var/task/index.mjs", lineNumber=NODE_BREAK_LINE - 1
        )
        assert placed["breakpointId"]
        cdp.call("Runtime.runIfWaitingForDebugger")
        # --inspect-brk stops first on the runtime client's first line: go on to the user's breakpoint.
        while True:
            paused = cdp.wait_event("Debugger.paused")["params"]
            if paused.get("hitBreakpoints"):
                break
            cdp.call("Debugger.resume")
        assert paused["hitBreakpoints"] == [placed["breakpointId"]]
        frame = paused["callFrames"][0]
        assert frame["location"]["lineNumber"] == NODE_BREAK_LINE - 1
        scripts = {
            e["params"]["scriptId"]: e["params"]["url"]
            for e in cdp.events
            if e.get("method") == "Debugger.scriptParsed"
        }
        assert scripts[frame["location"]["scriptId"]] == "file:///var/task/index.mjs"
        time.sleep(1.5)  # held at the breakpoint past the function's 1 s timeout: lifted while debugging
        cdp.send("Debugger.resume")
        out, err = _finish(proc)
    finally:
        ws.close()
    assert proc.returncode == 0, err
    answer = json.loads(out)
    assert answer["doubled"] == 42
    assert answer["remaining_ms"] > 1000
