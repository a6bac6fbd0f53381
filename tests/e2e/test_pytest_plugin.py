"""The pytest plugin as users meet it: pytest (in a subprocess, the plugin loaded by its pytest11 entry point)
running a user's test file against a small template; and the sample app's own tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample_functions" / "app"

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Environment:
      Variables:
        COLOUR: blue
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
  NoisyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.noisy
  BoomFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.boom
"""

HANDLERS = """
import os

def echo(event, context):
    return {
        "event": event,
        "colour": os.environ.get("COLOUR"),
        "extra": os.environ.get("EXTRA"),
        "memory": int(context.memory_limit_in_mb),
        "client": context.client_context.custom if context.client_context else None,
    }

def noisy(event, context):
    print("noisy-function-was-here", event.get("n"))
    return {"n": event.get("n")}

def boom(event, context):
    print("about to fail")
    raise RuntimeError("kaboom")
"""

# Every user test file of these tests first records the session's owner token, so the outer test can
# look for containers that session left behind.
PREAMBLE = """
import pathlib
import pytest
from lambda_emu.cleanup import owner_token

pathlib.Path("owner.txt").write_text(owner_token())
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: a template, its code, and an ini file (CPU share off: these tests are about the
    plugin, not about Lambda's CPU)."""
    pytester.makefile(".yaml", template=TEMPLATE)
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "app.py").write_text(HANDLERS)
    pytester.makeini("[pytest]\nlambda_emu_cpu_limit = false\n")
    return pytester


def run(project: pytest.Pytester, tests: str, *args: str) -> pytest.RunResult:
    project.makepyfile(test_user=PREAMBLE + tests)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=600)
    assert_no_containers_left(project.path / "owner.txt")
    return result


def assert_no_containers_left(owner_file: Path) -> None:
    from lambda_emu.cleanup import OWNER_LABEL

    token = owner_file.read_text()
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={OWNER_LABEL}={token}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert left == [], f"the test session {token} left containers behind: {left}"


def test_an_invocation_returns_the_functions_result(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_echo(lambda_invoke, lambda_emulator):
    assert lambda_emulator.function("EchoFunction").handler == "app.echo"
    result = lambda_invoke("EchoFunction", {"hello": "world"}, client_context={"custom": {"k": "v"}})
    result.assert_ok()
    assert result.payload["event"] == {"hello": "world"}
    assert result.payload["colour"] == "blue"
    assert result.payload["client"] == {"k": "v"}
    assert result.raw.startswith(b"{")
    assert result.status_code == 200 and result.executed_version == "$LATEST"
    assert result.error_type is None and result.error_message is None and result.function_error is None
    assert result.request_id in result.logs and "REPORT RequestId" in result.logs
    assert result.duration_ms >= 0 and result.billed_duration_ms >= 1 and result.max_memory_used_mb > 0
""",
    )
    result.assert_outcomes(passed=1)
    # Kept in the log store as every invocation is: `lambda-emu logs` shows the tests' invocations too.
    streams = list((project.path / ".lambda-emu" / "logs").rglob("*.jsonl"))
    assert streams and any("REPORT RequestId" in stream.read_text() for stream in streams)


def test_a_failing_assertion_shows_the_functions_logs(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_wrong_expectation(lambda_invoke):
    result = lambda_invoke("NoisyFunction", {"n": 7})
    assert result.payload == {"n": 8}

def test_passing_tests_show_no_logs(lambda_invoke):
    lambda_invoke("NoisyFunction", {"n": "quiet-pass"})
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Captured lambda-emu logs call*",
            "--- NoisyFunction (RequestId: *) succeeded",
            "START RequestId: * Version: $LATEST",
            "noisy-function-was-here 7",
            "END RequestId: *",
            "REPORT RequestId: *",
        ]
    )
    assert "quiet-pass" not in result.stdout.str()


def test_assert_ok_fails_with_the_functions_error_and_logs(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_boom_is_not_ok(lambda_invoke):
    lambda_invoke("BoomFunction").assert_ok()

def test_boom_is_the_expected_error(lambda_invoke):
    result = lambda_invoke("BoomFunction").assert_error("RuntimeError", "kaboom")
    assert result.error_message == "kaboom" and result.function_error == "Unhandled"
    assert result.payload["errorType"] == "RuntimeError" and result.status_code == 200
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*AssertionError: BoomFunction (RequestId: *) failed with RuntimeError: kaboom*", "*about to fail*"]
    )


def test_env_overrides_reach_the_function(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_call_env(lambda_invoke):
    result = lambda_invoke("EchoFunction", env={"EXTRA": "x1", "COLOUR": None})
    assert (result.payload["extra"], result.payload["colour"]) == ("x1", None)

@pytest.mark.lambda_emu(env={"EXTRA": "from-marker", "COLOUR": "red"})
def test_marker_env_and_call_env_merge(lambda_invoke):
    result = lambda_invoke("EchoFunction", env={"EXTRA": "from-call"})
    assert (result.payload["extra"], result.payload["colour"]) == ("from-call", "red")

def test_without_overrides_the_template_holds(lambda_invoke):
    result = lambda_invoke("EchoFunction")
    assert (result.payload["extra"], result.payload["colour"]) == (None, "blue")
""",
    )
    result.assert_outcomes(passed=3)


def test_cold_forces_an_init_phase_and_warm_calls_report_none(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_first(lambda_invoke):
    first = lambda_invoke("NoisyFunction", {"n": 1})
    assert first.init_duration_ms is not None  # the session's first call of the function

def test_warm_across_tests_then_cold(lambda_invoke):
    warm = lambda_invoke("NoisyFunction", {"n": 2})
    assert warm.init_duration_ms is None
    cold = lambda_invoke("NoisyFunction", {"n": 3}, cold=True)
    assert cold.init_duration_ms is not None and cold.init_duration_ms > 0
    again = lambda_invoke("NoisyFunction", {"n": 4})
    assert again.init_duration_ms is None
""",
    )
    result.assert_outcomes(passed=2)


def test_memory_overrides_are_seen_in_the_context(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_call_option(lambda_invoke):
    result = lambda_invoke("EchoFunction", memory_size=512)
    assert result.payload["memory"] == 512 and result.memory_size_mb == 512

@pytest.mark.lambda_emu(memory_size=256, timeout=10)
class TestMarked:
    def test_marker(self, lambda_invoke):
        assert lambda_invoke("EchoFunction").payload["memory"] == 256

    @pytest.mark.lambda_emu(memory_size=384)
    def test_closest_marker_wins(self, lambda_invoke):
        assert lambda_invoke("EchoFunction").payload["memory"] == 384

def test_template_value(lambda_invoke):
    assert lambda_invoke("EchoFunction").payload["memory"] == 128

def test_an_invalid_override_is_refused_as_lambda_refuses_it(lambda_invoke):
    from lambda_emu.errors import ConfigError
    with pytest.raises(ConfigError, match="MemorySize"):
        lambda_invoke("EchoFunction", memory_size=64)
""",
    )
    result.assert_outcomes(passed=5)


def test_ctrl_c_removes_the_sessions_containers(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_interrupted(lambda_invoke):
    lambda_invoke("EchoFunction")
    raise KeyboardInterrupt
""",
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # run() checked that no container of the session is left


def test_sigterm_removes_the_sessions_containers(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_user=PREAMBLE
        + """
def test_waits_for_sigterm(lambda_invoke):
    lambda_invoke("EchoFunction")
    pathlib.Path("invoked").touch()
    import time
    time.sleep(300)
"""
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (project.path / "invoked").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert (project.path / "invoked").exists(), output
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert_no_containers_left(project.path / "owner.txt")


def test_a_missing_template_fails_with_a_hint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_needs_a_function(lambda_invoke):
    lambda_invoke("AnyFunction")

def test_unaffected():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*lambda-emu cannot start: No template (template.yaml, template.yml or template.json) in *",
            "*hint: Set lambda_emu_template in your pytest ini file, or pass --lambda-emu-template FILE.",
        ]
    )


def test_settings_come_from_the_ini_file_and_the_command_line(pytester: pytest.Pytester) -> None:
    from lambda_emu.pytest_plugin import PluginSettings

    (pytester.path / "infra").mkdir()
    pytester.makeini(
        "[pytest]\nlambda_emu_template = infra/stack.yaml\nlambda_emu_parameter_overrides = Stage=test\n"
    )
    config = pytester.parseconfigure()
    settings = PluginSettings.from_config(config)
    assert settings.template == pytester.path / "infra" / "stack.yaml"
    assert settings.state_dir == pytester.path / "infra" / ".lambda-emu"
    assert (settings.parameter_overrides, settings.cpu_limit) == ("Stage=test", True)

    config = pytester.parseconfigure("--lambda-emu-template", "other.yaml", "--lambda-emu-no-cpu-limit")
    settings = PluginSettings.from_config(config)
    assert (settings.template, settings.cpu_limit) == (pytester.path / "other.yaml", False)


def test_the_sample_apps_own_tests_pass() -> None:
    """sample_functions/app is a project of its own (its pytest.ini names its template): run its tests as
    its users would, from its folder."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=SAMPLE_APP,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTEST_ADDOPTS": ""},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout and "failed" not in completed.stdout
