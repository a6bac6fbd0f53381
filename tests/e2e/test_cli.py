"""The installed `lambda-emu` command, as a user runs it against the sample template."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import leftovers_of
from tests.timing import assert_timed_out

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"


def run(
    *args: str,
    cwd: Path = SAMPLES,
    stdin: str | None = None,
    timeout: float = 120,
    backend: str | None = None,
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    chosen = ("--backend", backend) if backend else ()
    return subprocess.run(
        [exe, *chosen, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout
    )


def test_invoke_prints_the_response_on_stdout_and_framed_logs_on_stderr(backend: str) -> None:
    done = run("invoke", "HelloFunction", "-e", "events/hello.json", backend=backend)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"message": "Hello, lambda-emu!"}
    lines = done.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
    request_id = lines[start].split()[2]
    assert lines[start] == f"START RequestId: {request_id} Version: $LATEST"
    assert "saying hello to lambda-emu" in lines[start + 1]
    end = lines.index(f"END RequestId: {request_id}")
    report = lines[end + 1]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    for field in ("Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ", "Init Duration: "):
        assert field in report


def test_event_from_stdin() -> None:
    done = run("invoke", "EchoFunction", "-e", "-", stdin='{"from": "stdin"}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["event"] == {"from": "stdin"}


def test_no_event_means_an_empty_object() -> None:
    done = run("invoke", "EchoFunction")
    assert json.loads(done.stdout)["event"] == {}


def test_function_error_exits_1_and_still_prints_the_error_payload(backend: str) -> None:
    done = run("invoke", "RaiseFunction", "--payload", '{"amount": 3}', backend=backend)
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert (error["errorType"], error["errorMessage"]) == ("PaymentDeclined", "card declined for 3")
    assert "[ERROR] PaymentDeclined: card declined for 3" in done.stderr


def test_timeout_exits_1_with_sandbox_timedout(backend: str) -> None:
    done = run("invoke", "TimeoutFunction", backend=backend)
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "Sandbox.Timedout"
    assert_timed_out(done.stderr, 1)


def test_memory_is_a_hard_limit_and_its_kill_is_runtime_out_of_memory(backend: str) -> None:
    fits = run("invoke", "MemoryFunction", "--payload", '{"mb": 40}', backend=backend)
    assert (fits.returncode, json.loads(fits.stdout)) == (0, {"allocated_mb": 40}), fits.stderr
    done = run("invoke", "MemoryFunction", "--payload", '{"mb": 400}', backend=backend)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)
    assert error["errorType"] == "Runtime.OutOfMemory", error
    assert error["errorMessage"].endswith("Runtime exited with error: signal: killed"), error


def test_tmp_holds_the_ephemeral_storage_and_no_more(backend: str) -> None:
    done = run("invoke", "TmpFillFunction", "--payload", '{"mb": 600, "name": "big"}', backend=backend)
    assert done.returncode == 0, done.stderr
    full = json.loads(done.stdout)
    assert full["outcome"] == "No space left on device", full
    assert 480 <= full["written_mb"] < 530, full  # EphemeralStorage: 512, less the file system's own


# Values that differ between any two invokes (ids, the Runtime API's secret host name and port).
PER_INVOKE = ("AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID")


def test_both_backends_give_a_function_the_same_sandbox_and_environment(embedded_host: None) -> None:
    seen = {}
    for name in ("docker", "embedded"):
        probe = run("invoke", "SandboxProbeFunction", backend=name)
        env = run("invoke", "EnvFunction", backend=name)
        assert probe.returncode == env.returncode == 0, probe.stderr + env.stderr
        variables = {k: v for k, v in json.loads(env.stdout).items() if k not in PER_INVOKE}
        # Docker sets HOSTNAME (the host's name, under host networking); Lambda's documented variables do
        # not include it, nor does the embedded backend (README: differences between the backends).
        variables.pop("HOSTNAME", None)
        seen[name] = (json.loads(probe.stdout), variables)
    assert seen["embedded"] == seen["docker"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("invoke", "NoSuchFunction"), "NoSuchFunction"),
        (("invoke", "EchoFunction", "--payload", "{not json"), "Could not parse request body into json"),
        (("invoke", "EchoFunction", "--memory-size", "64"), "MemorySize"),
        (("invoke", "EchoFunction", "--env", "AWS_REGION=eu-west-1"), "Reserved keys"),
        (("invoke", "EchoFunction", "-e", "missing.json"), "missing.json"),
        (("invoke", "--runtime", "cobol85", "--handler", "a.b", "--code", "python"), "cobol85"),
    ],
)
def test_bad_usage_exits_2_with_a_one_line_reason(args: tuple[str, ...], words: str) -> None:
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_template_is_found_in_the_current_folder_and_named_with_t_elsewhere(tmp_path: Path) -> None:
    assert run("invoke", "EchoFunction", cwd=SAMPLES).returncode == 0
    elsewhere = run("invoke", "EchoFunction", "-t", str(SAMPLES / "template.yaml"), cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    missing = run("invoke", "EchoFunction", cwd=tmp_path)
    assert missing.returncode == 2 and "template" in missing.stderr


def test_function_named_by_its_function_name() -> None:
    done = run("invoke", "echo-python313", "--payload", "{}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["python"] == "3.13"


def test_parameter_overrides_and_env_flags_reach_the_function(backend: str) -> None:
    done = run(
        "invoke", "EnvFunction", "--parameter-overrides", "Stage=prod", "--env", "EXTRA=1", backend=backend
    )
    env = json.loads(done.stdout)
    assert (env["STAGE"], env["EXTRA"], env["GREETING"]) == ("prod", "1", "hello")


def test_env_vars_file_overrides_and_adds(tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps({"Parameters": {"SHARED": "all"}, "EnvFunction": {"GREETING": "hi", "NEW_ONE": "x"}})
    )
    env = json.loads(run("invoke", "EnvFunction", "--env-vars", str(env_file)).stdout)
    assert (env["GREETING"], env["NEW_ONE"], env["SHARED"]) == ("hi", "x", "all")


def test_invoke_without_a_template_from_flags(tmp_path: Path) -> None:
    done = run(
        "invoke",
        "--runtime",
        "python3.13",
        "--handler",
        "echo.handler",
        "--code",
        str(SAMPLES / "python"),
        "--memory-size",
        "256",
        "--timeout",
        "5",
        "--env",
        "AB=1",
        "--payload",
        '{"x": 1}',
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["event"] == {"x": 1}
    assert "Memory Size: 256 MB" in done.stderr


def test_code_uri_may_be_a_zip(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "code.zip", "w") as archive:
        archive.write(SAMPLES / "python" / "hello.py", "hello.py")
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Zipped:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: code.zip\n      Handler: hello.handler\n      Runtime: python3.11\n"
    )
    done = run("invoke", "--payload", '{"name": "zip"}', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"message": "Hello, zip!"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_remove_the_container(signum: int, backend: str) -> None:
    exe = shutil.which("lambda-emu")
    assert exe
    proc = subprocess.Popen(
        [
            exe,
            "--backend",
            backend,
            "invoke",
            "TimeoutFunction",
            "--timeout",
            "60",
            "--payload",
            '{"seconds": 50}',
        ],
        cwd=SAMPLES,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:  # wait until the function is really running
            if "going to sleep" in line:
                break
        assert leftovers_of(proc.pid, backend), "the invocation's container should exist while it runs"
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 130
        assert leftovers_of(proc.pid, backend) == []
    finally:
        proc.kill()
        proc.wait()


def test_a_finished_invoke_hands_its_container_and_tmp_disk_over_and_both_go(backend: str) -> None:
    # The command ends right after its answer; the engine (or a shell of its own) finishes the removal.
    exe = shutil.which("lambda-emu")
    assert exe
    proc = subprocess.Popen(
        [exe, "--backend", backend, "invoke", "HelloFunction", "-e", "events/hello.json"],
        cwd=SAMPLES,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"message": "Hello, lambda-emu!"}
    assert "saying hello to lambda-emu" in err
    deadline = time.monotonic() + 30
    while leftovers_of(proc.pid, backend) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers_of(proc.pid, backend) == []
    mounts = Path("/proc/mounts").read_text()
    assert f"/{proc.pid}_" not in mounts, "its /tmp disk is unmounted"


def test_runtimes_list_shows_built_images() -> None:
    done = run("runtimes", "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["RUNTIME", "SOURCE", "BUILT"]
    rows = {line.split()[0]: line.split()[1:3] for line in done.stdout.splitlines()[1:]}
    assert rows["python3.11"] == ["lambda-emu", "yes"] and rows["python3.13"] == ["lambda-emu", "yes"]
    assert "the engine lacks public.ecr.aws/lambda/python:3.11" in done.stdout, "it says why"


def test_runtimes_build_is_cached() -> None:
    done = run("runtimes", "build", "python3.11")
    assert done.returncode == 0, done.stderr
    assert "python3.11" in done.stdout
    assert "mmdebstrap" not in done.stderr, "nothing is rebuilt when nothing changed"


def test_help_explains_options_with_examples() -> None:
    done = run("invoke", "--help")
    assert done.returncode == 0
    for words in ("--event", "--payload", "--parameter-overrides", "--env-vars", "Examples:", "Exit status"):
        assert words in done.stdout


def test_cpu_limit_is_on_by_default_and_the_switch_turns_it_off() -> None:
    limited = json.loads(run("invoke", "SandboxProbeFunction").stdout)
    assert int(limited["cpu_quota_us"]) == int(128 / 1769 * 100_000)
    free = json.loads(run("invoke", "SandboxProbeFunction", "--no-cpu-limit").stdout)
    assert free["cpu_quota_us"] == "-1"


def test_layer_cache_basedir_is_where_the_layers_are_extracted(tmp_path: Path) -> None:
    cache = tmp_path / "layer-cache"
    done = run(
        "invoke",
        "LayeredFunction",
        "-t",
        "layers/template.yaml",
        "--no-server",
        "--layer-cache-basedir",
        str(cache),
    )
    assert done.returncode == 0, done.stderr
    extracted = [p for p in cache.iterdir() if p.is_dir()]
    assert len(extracted) == 1 and any(extracted[0].iterdir())  # the function's /opt, built there
