"""Hostile functions against a live `lambda-emu serve`, through boto3: each answered in Lambda's shape within
its Timeout (+ 2 s and CI slack), the next call healthy, and serve's threads, file descriptors and memory
back to where they were afterwards (the engine-level matrix is tests/docker/test_hostile_functions.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import BACKENDS, Served, serving
from tests.timing import SLACK_S

TEMPLATE = Path(__file__).resolve().parents[1] / "hostile" / "template.yaml"
TIMEOUT_S = 8  # the template's
FLOOD_TIMEOUT_S = 30  # the template's *Flood functions
FUNCTIONS = ("HostilePython", "HostileNode")
# case → the errorType Lambda answers (None: a success)
CASES = {
    "fork_bomb": "Sandbox.Timedout",
    "memory_bomb": "Runtime.OutOfMemory",
    "output_100mb": None,
    "print_few_mb": None,
    "close_output": None,
    "kill_self": "Runtime.ExitError",
    "huge_result": "Function.ResponseSizeTooLarge",
    "thread_after_response": None,
}
THREAD_MARGIN = 3
# The Docker client's connection pool (docker-py keeps up to 10 idle connections) fills as engine calls
# overlap during resets, and a replaced runtime's Runtime API and output connections come and go: measured,
# serve's descriptors settle within 16 of the first count and stay there over three rounds of the cases,
# while a leak of one descriptor per case grows past it in the first.
FD_MARGIN = 16
RSS_MARGIN_MB = 64


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """serve on each backend in turn: the sandbox's limits are the backend's to enforce."""
    if request.param == "embedded":
        request.getfixturevalue("embedded_host")
    yield from serving(tmp_path_factory.mktemp("hostile"), TEMPLATE, backend=request.param)


def call(client: object, name: str, case: str) -> tuple[dict, str | None, float]:
    started = time.monotonic()
    reply = client.invoke(FunctionName=name, Payload=json.dumps({"case": case}))  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started
    return json.loads(reply["Payload"].read()), reply.get("FunctionError"), elapsed


def usage(pid: int) -> tuple[int, int, float]:
    process = psutil.Process(pid)
    return process.num_threads(), process.num_fds(), process.memory_info().rss / 2**20


def descriptors(pid: int) -> list[str]:
    """What serve's descriptors point at (for a leak's message)."""
    kinds = {}
    for table in ("unix", "tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                inode = fields[6] if table == "unix" else fields[9]
                kinds[inode] = table if table == "unix" else f"{table} {fields[1]} {fields[2]} st={fields[3]}"
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            target = kinds.get(target[8:-1], "?") + " " + target
        found.append(target)
    return found


def test_hostile_functions_leave_serve_as_they_found_it(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    client = served.client()
    for name in FUNCTIONS + tuple(f"{name}Flood" for name in FUNCTIONS):  # environments exist before
        body, error, _ = call(client, name, "ok")
        assert error is None and body["ok"] is True, body
    before = usage(served.process.pid)
    files_before = descriptors(served.process.pid)
    rows = []
    for family in FUNCTIONS:
        for case, expected in CASES.items():
            name = f"{family}Flood" if case == "output_100mb" else family
            timeout = FLOOD_TIMEOUT_S if case == "output_100mb" else TIMEOUT_S
            body, error, elapsed = call(client, name, case)
            answer = body.get("errorType") if error else "ok"
            rows.append(
                f"{name:14} {case:22} {elapsed:6.2f} s  {answer:30} fds {usage(served.process.pid)[1]}"
            )
            assert elapsed < timeout + 2 + SLACK_S, f"{name} {case}: answered after {elapsed:.2f} s"
            if expected is None:
                assert error is None, (case, body)
            else:
                assert error == "Unhandled" and body["errorType"] == expected, (case, body)
            healthy, healthy_error, _ = call(client, name, "ok")
            assert healthy_error is None and healthy["ok"] is True, (case, healthy)
    deadline = time.monotonic() + 10  # threads of the replaced runtimes end within moments
    after = usage(served.process.pid)
    while time.monotonic() < deadline and (
        after[0] > before[0] + THREAD_MARGIN or after[1] > before[1] + FD_MARGIN
    ):
        time.sleep(0.2)
        after = usage(served.process.pid)
    with capsys.disabled():
        print("\nhostile functions against serve: function, case, time, answer")
        print("\n".join(rows))
        print(
            f"serve: threads {before[0]} -> {after[0]}, fds {before[1]} -> {after[1]}, "
            f"rss {before[2]:.0f} -> {after[2]:.0f} MB"
        )
    assert after[0] <= before[0] + THREAD_MARGIN, "serve's threads came back"
    opened = [name for name in descriptors(served.process.pid) if name not in files_before]
    assert after[1] <= before[1] + FD_MARGIN, f"serve's file descriptors came back: {sorted(opened)}"
    assert after[2] <= before[2] + RSS_MARGIN_MB, "serve's memory came back"
