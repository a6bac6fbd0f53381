"""`lambda-emu logs` and the server's live output, as a user runs them: invocations' logs kept per function,
filtered, since a time, followed; `serve` prefixing each line with the function's name."""

from __future__ import annotations

import base64
import datetime
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.bootstraps import late_writer_code, late_writer_log
from tests.e2e.conftest import API_SAMPLES, start_server

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"
EVENT_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}) (.*)$"
)


def lambda_emu(
    state_dir: Path, *args: str, cwd: Path = SAMPLES, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    return subprocess.run(
        [exe, "--state-dir", str(state_dir), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def request_id_of(stderr: str) -> str:
    match = re.search(r"^START RequestId: (\S+) ", stderr, re.MULTILINE)
    assert match, stderr
    return match.group(1)


@pytest.fixture(scope="module")
def invoked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A state directory holding one invocation of HelloFunction, and that invocation's request id."""
    state_dir = tmp_path_factory.mktemp("logs")
    done = lambda_emu(state_dir, "invoke", "HelloFunction", "-e", "events/hello.json", "--no-server")
    assert done.returncode == 0, done.stderr
    return state_dir, request_id_of(done.stderr)


def test_logs_shows_the_invocations_output_framed_by_its_platform_lines(invoked: tuple[Path, str]) -> None:
    state_dir, request_id = invoked
    done = lambda_emu(state_dir, "logs", "HelloFunction")
    assert done.returncode == 0, done.stderr
    events = [EVENT_LINE.match(line) for line in done.stdout.splitlines()]
    assert all(events), done.stdout
    messages = [m.group(3) for m in events if m]
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert messages[start + 1] == "saying hello to lambda-emu"
    assert messages[start + 2] == f"END RequestId: {request_id}"
    assert messages[start + 3].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert len({m.group(2) for m in events if m}) == 1  # one environment, one stream
    stamps = [m.group(1) for m in events if m]
    assert stamps == sorted(stamps)


def test_filter_keeps_only_matching_events(invoked: tuple[Path, str]) -> None:
    state_dir, request_id = invoked
    done = lambda_emu(state_dir, "logs", "HelloFunction", "--filter", f"REPORT {request_id}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and f"REPORT RequestId: {request_id}" in lines[0]
    nothing = lambda_emu(state_dir, "logs", "HelloFunction", "--filter", "no such text anywhere")
    assert nothing.returncode == 0 and nothing.stdout == ""


def test_since_keeps_events_from_that_time_on(invoked: tuple[Path, str]) -> None:
    state_dir, request_id = invoked
    # The README's example: the module's one invocation was made seconds ago.
    recent = lambda_emu(state_dir, "logs", "HelloFunction", "--since", "10m", "--filter", "REPORT")
    lines = recent.stdout.splitlines()
    assert recent.returncode == 0 and len(lines) == 1 and f"REPORT RequestId: {request_id}" in lines[0]
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    future = lambda_emu(state_dir, "logs", "HelloFunction", "--since", later.strftime("%Y-%m-%dT%H:%M"))
    assert future.returncode == 0 and future.stdout == ""
    bad = lambda_emu(state_dir, "logs", "HelloFunction", "--since", "last tuesday")
    assert bad.returncode == 2 and "hint:" in bad.stderr


def test_a_function_without_logs_is_an_error_with_a_hint(invoked: tuple[Path, str]) -> None:
    state_dir, _ = invoked
    done = lambda_emu(state_dir, "logs", "EchoFunction")
    assert done.returncode == 2
    assert "No logs of function EchoFunction" in done.stderr
    assert "hint: Invoke it first" in done.stderr and "HelloFunction" in done.stderr


def test_follow_prints_an_invocation_made_after_it_started_and_ctrl_c_ends_it(tmp_path: Path) -> None:
    exe = shutil.which("lambda-emu")
    assert exe
    # EchoFunction has no logs yet: a function of the template is waited for, not refused.
    follower = subprocess.Popen(
        [exe, "--state-dir", str(tmp_path), "logs", "EchoFunction", "--follow"],
        cwd=SAMPLES,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None
        assert (
            "waiting for the first log of function EchoFunction" in follower.stderr.readline()
        )  # it is following
        done = lambda_emu(tmp_path, "invoke", "EchoFunction", "--payload", '{"follow": 1}', "--no-server")
        assert done.returncode == 0, done.stderr
        request_id = request_id_of(done.stderr)
        report = f"REPORT RequestId: {request_id}"
        seen = ""
        deadline = time.monotonic() + 60
        assert follower.stdout is not None
        while report not in seen and time.monotonic() < deadline:
            seen += follower.stdout.readline()
        assert f"START RequestId: {request_id}" in seen and report in seen
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_serve_prefixes_each_line_with_the_function_name_and_keeps_the_logs(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        done = lambda_emu(tmp_path, "invoke", "NoOpFunction", "-t", str(API_SAMPLES / "template.yaml"))
        assert done.returncode == 0, done.stderr
        request_id = request_id_of(done.stderr)
    finally:
        assert server.stop() == 0, server.log()
    served = server.log()
    width = len("OneAtATimeFunction")  # the longest name in the template: every prefix is padded to it
    assert f"{'NoOpFunction':<{width}} | START RequestId: {request_id} Version: $LATEST\n" in served
    assert f"{'NoOpFunction':<{width}} | END RequestId: {request_id}\n" in served
    assert "\x1b[" not in served  # not a terminal: no colour
    kept = lambda_emu(tmp_path, "logs", "NoOpFunction", "-t", str(API_SAMPLES / "template.yaml"))
    assert kept.returncode == 0 and f"REPORT RequestId: {request_id}" in kept.stdout


def test_a_logical_id_finds_the_log_group_of_its_function_name(tmp_path: Path) -> None:
    done = lambda_emu(tmp_path, "invoke", "Python313Function", "--payload", "{}", "--no-server")
    assert done.returncode == 0, done.stderr
    request_id = request_id_of(done.stderr)
    assert (tmp_path / "logs" / "aws" / "lambda" / "echo-python313").is_dir()  # /aws/lambda/<FunctionName>
    for name in ("Python313Function", "echo-python313"):
        shown = lambda_emu(tmp_path, "logs", name)
        assert shown.returncode == 0 and f"END RequestId: {request_id}" in shown.stdout, shown.stderr


LATE_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  LateWriterFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      CodeUri: code/
      Handler: bootstrap
      Timeout: 5
"""


def test_a_custom_runtimes_tail_holds_what_it_wrote_after_its_response(tmp_path: Path) -> None:
    """LogType=Tail through `serve`: the log of a runtime without our markers is complete (its output
    up to its next GET /next, then END and REPORT), and a plain invoke still answers."""
    project = tmp_path / "project"
    late_writer_code(project / "code")
    (project / "template.yaml").write_text(LATE_TEMPLATE)
    server = start_server(tmp_path / "state", template=project / "template.yaml")
    try:
        client = server.client()
        assert client.invoke(FunctionName="LateWriterFunction", Payload=b'{"n": 0}')["Payload"].read() == (
            b'{"n": 0}'
        )
        for n in (1, 2):
            answer = client.invoke(FunctionName="LateWriterFunction", LogType="Tail", Payload=b"{}")
            rid = answer["ResponseMetadata"]["RequestId"]
            lines = base64.b64decode(answer["LogResult"]).decode().splitlines()
            assert lines[:-1] == late_writer_log(rid), n
            assert lines[-1].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    finally:
        assert server.stop() == 0, server.log()
