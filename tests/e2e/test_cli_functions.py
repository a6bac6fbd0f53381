"""`lambda-emu functions list | show | update` against a live `lambda-emu serve`, as a user runs them; an
update is seen by the next invoke."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from conftest import API_SAMPLES

TEMPLATE = API_SAMPLES / "template.yaml"


def run(state_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    return subprocess.run(
        [exe, "--state-dir", str(state_dir), "functions", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def fields_of(shown: str) -> dict[str, str]:
    """`functions show`'s "Key  value" lines (indented lines are environment variables)."""
    pairs = (line.split(None, 1) for line in shown.splitlines() if line and not line.startswith(" "))
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def test_without_a_running_server_it_exits_2_with_a_hint(tmp_path):
    done = run(tmp_path / "state", "list", "-t", str(TEMPLATE))
    assert done.returncode == 2
    assert "lambda-emu: error: No `lambda-emu serve` is running" in done.stderr
    assert "lambda-emu: hint: Start one" in done.stderr


def test_list_prints_a_table_of_the_servers_functions(served):
    done = run(served.state_dir, "list", "-t", str(TEMPLATE))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "RUNTIME", "MEMORY", "TIMEOUT", "HANDLER", "LAST", "MODIFIED"]
    names = [line.split()[0] for line in lines[1:]]
    assert {"NoOpFunction", "AttemptsFunction", "SleeperFunction"} <= set(names)
    row = next(line.split() for line in lines[1:] if line.startswith("SleeperFunction "))
    assert row[1].startswith("python3")


def test_show_prints_the_configuration_with_values_hidden_unless_asked(served):
    done = run(served.state_dir, "show", "AttemptsFunction", "-t", str(TEMPLATE))
    assert done.returncode == 0, done.stderr
    fields = fields_of(done.stdout)
    assert fields["FunctionName"] == "AttemptsFunction"
    assert fields["FunctionArn"].startswith("arn:aws:lambda:us-east-1:123456789012:function:AttemptsFunction")
    assert fields["MemorySize"].isdigit()


def test_an_unknown_function_is_lambdas_error_with_exit_2(served):
    done = run(served.state_dir, "show", "NoSuchFunction", "-t", str(TEMPLATE))
    assert done.returncode == 2
    assert done.stderr.startswith("lambda-emu: error: ResourceNotFoundException: Function not found: ")


def test_a_bad_value_is_refused_with_lambdas_validation_error(served):
    done = run(served.state_dir, "update", "SleeperFunction", "--memory-size", "64", "-t", str(TEMPLATE))
    assert done.returncode == 2
    assert done.stderr.startswith(
        "lambda-emu: error: ValidationException: 'MemorySize' value failed to satisfy constraint: "
        "Member must have value greater than or equal to 128"
    )


def test_update_changes_the_configuration_and_the_next_invoke_uses_it(served):
    done = run(
        served.state_dir,
        "update",
        "NoOpFunction",
        "--memory-size",
        "256",
        "--timeout",
        "7",
        "--env",
        "GREETING=hi",
        "--description",
        "changed from the terminal",
        "-t",
        str(TEMPLATE),
    )
    assert done.returncode == 0, done.stderr
    assert "MemorySize" in done.stdout and "256" in done.stdout
    assert "  GREETING=****" in done.stdout  # a value is shown only with --show-values
    assert "GREETING=hi" not in done.stdout

    shown = run(served.state_dir, "show", "NoOpFunction", "--show-values", "-t", str(TEMPLATE))
    assert "  GREETING=hi" in shown.stdout
    fields = fields_of(shown.stdout)
    assert (fields["MemorySize"], fields["Timeout"]) == ("256", "7")
    assert fields["Description"] == "changed from the terminal"

    answer = served.client().invoke(FunctionName="NoOpFunction", LogType="Tail")
    assert answer["StatusCode"] == 200
    report = base64.b64decode(answer["LogResult"]).decode().rstrip().splitlines()[-1]
    assert "\tMemory Size: 256 MB\t" in report

    # --unset-env removes one variable and keeps the others.
    run(served.state_dir, "update", "NoOpFunction", "--env", "OTHER=x", "-t", str(TEMPLATE))
    # As in Lambda, an update while the last one is InProgress is a 409: wait for it as users do.
    served.client().get_waiter("function_updated_v2").wait(
        FunctionName="NoOpFunction", WaiterConfig={"Delay": 1}
    )
    done = run(served.state_dir, "update", "NoOpFunction", "--unset-env", "GREETING", "-t", str(TEMPLATE))
    assert done.returncode == 0, done.stderr
    assert "  OTHER=****" in done.stdout and "GREETING" not in done.stdout
