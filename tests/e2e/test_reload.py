"""Hot reload end to end: a live `lambda-emu serve` of a template in tmp_path sees a saved handler and a saved
template on the next invoke, as a new environment; `invoke --watch` prints the new result after a save."""

from __future__ import annotations

import base64
import json
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Served, containers_of, start_server

DEADLINE = 60.0  # seconds to wait for a reload on a busy machine before failing

TEMPLATE = """\
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          GREETING: {greeting}
"""
HANDLER = """\
import os

def handler(event, context):
    return {{"version": "{version}", "greeting": os.environ["GREETING"]}}
"""


def write_app(root: Path, version: str = "v1", greeting: str = "hello") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app.py").write_text(HANDLER.format(version=version))
    template = root / "template.yaml"
    template.write_text(TEMPLATE.format(greeting=greeting))
    return template


def invoke(served: Served) -> tuple[dict[str, Any], str]:
    """(payload, log tail) of one invocation of HelloFunction."""
    answer = served.client().invoke(FunctionName="HelloFunction", LogType="Tail")
    return json.loads(answer["Payload"].read()), base64.b64decode(answer["LogResult"]).decode()


def invoke_until(served: Served, **expected: str) -> str:
    """The log of the first invocation whose payload has `expected` fields, invoking until one does."""
    deadline = time.monotonic() + DEADLINE
    while True:
        payload, log = invoke(served)
        if all(payload.get(key) == value for key, value in expected.items()):
            return log
        assert time.monotonic() < deadline, f"still {payload} after {DEADLINE} s"
        time.sleep(0.05)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "project")


@pytest.fixture
def served_app(tmp_path: Path, app: Path) -> Iterator[Served]:
    server = start_server(tmp_path / "state", "--keep-alive", "120", template=app)
    yield server
    pid = server.process.pid
    assert server.stop() == 0, server.log()
    assert containers_of(pid) == [], "serve left containers behind"


def test_a_saved_handler_is_the_next_invoke_in_a_new_environment(app: Path, served_app: Served) -> None:
    payload, log = invoke(served_app)
    assert payload == {"version": "v1", "greeting": "hello"}
    assert "Init Duration" in log
    assert "Init Duration" not in invoke(served_app)[1]  # warm: reading the code does not count as a change

    (app.parent / "src" / "app.py").write_text(HANDLER.format(version="v2"))
    log = invoke_until(served_app, version="v2")
    assert "Init Duration" in log  # a new environment ran a new Init phase with the new code
    assert "Init Duration" not in invoke(served_app)[1]
    assert "reloaded HelloFunction: code changed" in served_app.log()


def test_a_saved_template_changes_the_next_invoke(app: Path, served_app: Served) -> None:
    assert invoke(served_app)[0]["greeting"] == "hello"
    app.write_text(TEMPLATE.format(greeting="bonjour"))
    assert "Init Duration" in invoke_until(served_app, greeting="bonjour")
    assert "reloaded HelloFunction: configuration changed" in served_app.log()

    app.write_text("Resources: [not yaml")  # a broken save: the function keeps serving as it was
    deadline = time.monotonic() + DEADLINE
    while "template not reloaded" not in served_app.log():
        assert time.monotonic() < deadline, served_app.log()
        time.sleep(0.05)
    assert invoke(served_app)[0] == {"version": "v1", "greeting": "bonjour"}


def test_no_watch_keeps_the_running_code(tmp_path: Path, app: Path) -> None:
    server = start_server(tmp_path / "state", "--no-watch", template=app)
    try:
        assert invoke(server)[0]["version"] == "v1"
        (app.parent / "src" / "app.py").write_text(HANDLER.format(version="v2"))
        payload, log = invoke(server)
        assert payload["version"] == "v1" and "Init Duration" not in log  # the warm environment answers
        assert "reloaded" not in server.log()
    finally:
        assert server.stop() == 0, server.log()


class Lines:
    """A process's stdout lines, read by a thread so the test can wait for one with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process,), name="stdout", daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._lines.put(line)

    def next(self) -> str:
        try:
            return self._lines.get(timeout=DEADLINE)
        except queue.Empty:
            raise AssertionError(f"no output within {DEADLINE} s") from None


def test_invoke_watch_prints_the_new_result_after_each_save(tmp_path: Path, app: Path) -> None:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    stderr = (tmp_path / "watch.err").open("w")
    process = subprocess.Popen(
        [exe, "--state-dir", str(tmp_path / "state"), "invoke", "HelloFunction", "-t", str(app), "--watch"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        lines = Lines(process)
        assert json.loads(lines.next()) == {"version": "v1", "greeting": "hello"}
        (app.parent / "src" / "app.py").write_text(HANDLER.format(version="v2"))
        assert json.loads(lines.next()) == {"version": "v2", "greeting": "hello"}
        app.write_text(TEMPLATE.format(greeting="hallo"))
        assert json.loads(lines.next()) == {"version": "v2", "greeting": "hallo"}
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
        stderr.close()
    err = (tmp_path / "watch.err").read_text()
    assert "reloaded HelloFunction: code changed" in err
    assert err.count("Init Duration") == 3  # every run after a change is a cold start
    assert containers_of(process.pid) == []
