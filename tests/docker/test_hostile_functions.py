"""Hostile functions in real containers, Python and Node.js: each is answered in Lambda's shape within its
Timeout (+ 2 s and CI slack), its runtime is replaced where Lambda resets the environment, the next invoke
of the same function is healthy, and the emulator's containers, threads and file descriptors come back to
where they were. Prints each case's answer and time (a table at the end of the run)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from backends import EMBEDDED, chosen_backend

from lambda_emu import wire
from lambda_emu.cleanup import FUNCTION_LABEL, OWNER_LABEL, owner_token
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.images import DockerImages
from lambda_emu.engine.environment import EnvState
from lambda_emu.engine.logstore import LogStore
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder
from lambda_emu.models import InvocationResult
from tests.timing import SLACK_S, assert_timed_out

HANDLERS = Path(__file__).resolve().parents[1] / "hostile"
# The Node.js runtime the project builds by default beside its Pythons (tests/docker/test_nodejs.py).
RUNTIMES = {"python": ("python3.11", "hostile.handler"), "node": ("nodejs20.x", "hostile.handler")}
MEMORY_MB = 128
# Answered within Timeout + 2 s (the bound), plus a loaded CI machine's slack.
GRACE_S = 2.0 + SLACK_S
# What the emulator may hold more after the matrix than before it (the Docker client's pooled
# connections, a lazily started thread): a leak of one thread or socket per case shows well above it.
THREAD_MARGIN = 3
FD_MARGIN = 8
RSS_MARGIN_MB = 64


@dataclass(frozen=True)
class Case:
    name: str
    timeout: int
    python: str | None  # the errorType Lambda answers for the Python runtime; None: a success
    node: str | None
    message: str | None = None  # what the errorMessage (or, for a success, the payload) contains
    resets: bool = False  # Lambda resets the environment: the next invoke is a cold start
    node_message: str | None = None

    def error_type(self, family: str) -> str | None:
        return self.python if family == "python" else self.node

    def expected_message(self, family: str) -> str | None:
        return self.node_message if family == "node" and self.node_message else self.message


CASES = [
    Case("infinite_loop", 3, wire.E_TIMEOUT, wire.E_TIMEOUT, "Task timed out after", resets=True),
    Case(
        "memory_bomb",
        5,
        wire.E_OUT_OF_MEMORY,
        wire.E_OUT_OF_MEMORY,
        "Runtime exited with error: signal: killed",
        resets=True,
    ),
    Case("fork_bomb", 5, wire.E_TIMEOUT, wire.E_TIMEOUT, "Task timed out after", resets=True),
    # 512 MB written at 128 MB's CPU share (0.07 vCPU) takes 5-10 s on a busy 2-core host: the case is about
    # the ENOSPC answer, so its timeout leaves room for a loaded machine.
    Case(
        "fill_tmp", 30, "OSError", "Error", "No space left on device", node_message="no space left on device"
    ),
    Case("output_100mb", 30, None, None, '"ok": true', node_message='"ok":true'),
    Case("print_few_mb", 5, None, None, '"ok": true', node_message='"ok":true'),
    Case("close_output", 3, None, None, '"closed": true', node_message='"closed":true'),
    Case("kill_self", 3, wire.E_EXIT, wire.E_EXIT, "Runtime exited with error: signal: killed", resets=True),
    Case(
        "exit_runtime", 3, wire.E_EXIT, wire.E_EXIT, "Runtime exited with error: exit status 3", resets=True
    ),
    Case("ignore_sigterm", 3, wire.E_TIMEOUT, wire.E_TIMEOUT, "Task timed out after", resets=True),
    Case(
        "huge_result",
        5,
        wire.E_RESPONSE_TOO_LARGE,
        wire.E_RESPONSE_TOO_LARGE,
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    ),
    Case(
        "not_json",
        3,
        "Runtime.MarshalError",
        "Error",
        "Unable to marshal response",
        node_message="Unable to stringify response body",
    ),
    Case("thread_after_response", 3, None, None, '"ok": true', node_message='"ok":true'),
    # The container removed from outside (`docker rm -f`) while the function runs: the runtime was killed.
    Case("removed_mid_invoke", 10, wire.E_EXIT, wire.E_EXIT, "Runtime exited with error", resets=True),
]

ROWS: list[str] = []


@dataclass
class Counts:
    threads: int
    fds: int
    rss_mb: float
    files: list[str]


def counts() -> Counts:
    gc.collect()
    process = psutil.Process()
    files = open_files()
    return Counts(threading.active_count(), len(files), process.memory_info().rss / 2**20, files)


def open_files() -> list[str]:
    """What this process's descriptors point at (for a leak's message)."""
    kinds = {}
    for table in ("unix", "tcp", "tcp6"):
        with open(f"/proc/net/{table}") as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                inode = fields[6] if table == "unix" else fields[9]
                kinds[inode] = table if table == "unix" else f"{table} {fields[1]} {fields[2]} st={fields[3]}"
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            target = kinds.get(target[8:-1], "?") + " " + target
        found.append(target)
    return found


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def store(config: EmulatorConfig) -> Iterator[LogStore]:
    store = LogStore.of_state_dir(config.state_dir)
    yield store
    store.close()


@pytest.fixture(scope="module")
def emu(config: EmulatorConfig, store: LogStore) -> Iterator[Emulator]:
    with Emulator(
        config, backend=chosen_backend(), images=ImageBuilder(DockerImages()), sink_for=store.sink
    ) as e:
        # Every image the matrix runs is built here, before anything is timed (a new machine has none).
        for runtime in [*(runtime for runtime, _ in RUNTIMES.values()), "provided.al2023"]:
            e.runtime_image(runtime)
        yield e


def function_for(config: EmulatorConfig, family: str, case: str) -> FunctionConfig:
    runtime, handler = RUNTIMES[family]
    folder = "python" if family == "python" else "nodejs"
    timeout = next((c.timeout for c in CASES if c.name == case), 3)
    return FunctionConfig(
        name=f"Hostile-{family}-{case.replace('_', '-')}",
        runtime=runtime,
        handler=handler,
        code_path=HANDLERS / folder,
        memory_size=MEMORY_MB,
        timeout=timeout,
    )


def invoke(emu: Emulator, function: FunctionConfig, case: str) -> tuple[InvocationResult, float]:
    started = time.monotonic()
    result = emu.invoke(function, emu.invocation(function, json.dumps({"case": case}).encode()))
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def baseline(emu: Emulator, config: EmulatorConfig) -> Counts:
    """The emulator's threads, fds and memory once each runtime has run (and closed) one environment."""
    for family in RUNTIMES:
        function = function_for(config, family, "warmup")
        result, _ = invoke(emu, function, "ok")
        assert not result.failed, result.payload
        emu.retire(function.name)
    return counts()


def containers_of(function_name: str) -> list[str]:
    return subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--filter",
            f"label={OWNER_LABEL}={owner_token()}",
            "--filter",
            f"label={FUNCTION_LABEL}={function_name}",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()


def remove_once_running(emu: Emulator, function: FunctionConfig) -> Callable[[], None]:
    """Starts a thread that `docker rm -f`s the function's container once its invocation is running;
    returns its join."""

    def remover() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            env = next((e for e in emu.environments() if e.function.name == function.name), None)
            # READY or BUSY: the runtime has asked for its event (a cold start's stays READY meanwhile).
            if env is not None and env.state in (EnvState.READY, EnvState.BUSY) and env.container_id:
                time.sleep(1.0)  # the handler is sleeping by now
                subprocess.run(["docker", "rm", "-f", env.container_id], capture_output=True, check=False)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=remover, name="hostile-remover", daemon=True)
    thread.start()
    return lambda: thread.join(timeout=30)


def memory_used(result: InvocationResult) -> int:
    for field in result.logs.split("\t"):
        if field.startswith("Max Memory Used: "):
            return int(field.split()[3])
    raise AssertionError(f"no Max Memory Used in {result.logs[-500:]!r}")


@pytest.mark.parametrize("family", list(RUNTIMES))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_function_is_answered_in_lambdas_shape_and_the_next_invoke_is_healthy(
    emu: Emulator, config: EmulatorConfig, store: LogStore, baseline: Counts, case: Case, family: str
) -> None:
    if case.name == "removed_mid_invoke" and EMBEDDED:
        pytest.skip("`docker rm -f` of a container: Docker's own")
    function = function_for(config, family, case.name)
    rss_before = counts().rss_mb
    joined = remove_once_running(emu, function) if case.name == "removed_mid_invoke" else None
    event = "sleep_long" if case.name == "removed_mid_invoke" else case.name
    result, elapsed = invoke(emu, function, event)
    if joined is not None:
        joined()
    payload = result.payload.decode(errors="replace")
    ROWS.append(f"{family:6} {case.name:22} {elapsed:6.2f} s  {result.error_type or 'ok':32} {payload[:90]}")
    try:
        assert elapsed < case.timeout + GRACE_S, f"answered after {elapsed:.2f} s"
        expected = case.error_type(family)
        message = case.expected_message(family)
        assert result.error_type == expected, (payload[:500], result.logs[-2000:])
        if expected is not None:
            body = json.loads(result.payload)
            assert body["errorType"] == expected, body
            if message:
                assert message.lower() in body["errorMessage"].lower(), body
            if case.resets:
                assert body["errorMessage"].startswith(f"RequestId: {result.request_id} Error: "), body
            if expected == wire.E_TIMEOUT:
                assert_timed_out(body["errorMessage"], case.timeout, result.request_id)
        elif message:
            assert message in payload, payload[:500]
        if case.resets and case.name != "removed_mid_invoke":
            assert memory_used(result) > 0, "the peak is read before the runtime's cgroup goes"
        if case.name == "output_100mb":
            # All of it reaches the log store, as CloudWatch keeps it; the result carries a bounded log.
            assert len(result.logs) < 8 * 2**20, len(result.logs)
            assert "last line of the flood" in result.logs
            del result
            assert counts().rss_mb - rss_before < RSS_MARGIN_MB, "the flood is not held in memory"
            kept = [e.message for e in store.events(function.log_group_name)]
            assert any(message.endswith("last line of the flood") for message in kept)
            assert sum(len(message) >= 2**17 - 1 for message in kept) == 800, "every line of the flood"
            del kept

        healthy, healthy_s = invoke(emu, function, "ok")
        ROWS.append(f"{family:6} {'  then ok':22} {healthy_s:6.2f} s  {healthy.error_type or 'ok'}")
        assert not healthy.failed, (healthy.payload[:500], healthy.logs[-2000:])
        assert json.loads(healthy.payload)["ok"] is True
        assert healthy_s < function.timeout + GRACE_S
        if case.resets:
            assert healthy.init_duration_ms is not None, "the runtime was replaced: a cold start"
        if case.name == "thread_after_response":
            # What runs on after the response still reaches the function's log (the README's "idle" row:
            # in a later invocation's log, as after Lambda's thaw), every line of it.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                kept = [e.message for e in store.events(function.log_group_name)]
                if sum("background line" in message for message in kept) == 20:
                    break
                time.sleep(0.1)
                assert not invoke(emu, function, "ok")[0].failed
            assert sum("background line" in message for message in kept) == 20, kept[-30:]
            assert "background line" not in result.logs.split("END RequestId")[-1]
    finally:
        emu.retire(function.name)
    assert not containers_of(function.name), "no container of the function is left"


# A custom runtime (tests/hostile/provided/bootstrap) misusing the Runtime API: case, errorType, what the
# answer contains.
MISUSES = [
    # An unknown request id and a late init error are refused; its first response is the answer.
    ("misuse", None, '"attempt":"first"'),
    ("exit_early", wire.E_EXIT, "Runtime exited without providing a reason"),
]


@pytest.mark.parametrize(("case", "expected", "message"), MISUSES, ids=[m[0] for m in MISUSES])
def test_a_custom_runtime_misusing_the_runtime_api_changes_nothing_but_its_own_answer(
    emu: Emulator, baseline: Counts, case: str, expected: str | None, message: str
) -> None:
    function = FunctionConfig(
        name=f"Hostile-provided-{case.replace('_', '-')}",
        runtime="provided.al2023",
        handler="misuse.handler",
        code_path=HANDLERS / "provided",
        memory_size=MEMORY_MB,
        timeout=3,
    )
    result, elapsed = invoke(emu, function, case)
    payload = result.payload.decode(errors="replace")
    ROWS.append(f"{'custom':6} {case:22} {elapsed:6.2f} s  {result.error_type or 'ok':32} {payload[:90]}")
    try:
        assert elapsed < function.timeout + GRACE_S
        assert result.error_type == expected, (payload, result.logs)
        assert message in payload, payload
        if case == "misuse":  # refused as Lambda's Runtime API refuses them
            assert "POST /invocation/not-a-request-id/response: 400" in result.logs, result.logs
            assert "POST /init/error: 403" in result.logs, result.logs
        healthy, _ = invoke(emu, function, "ok")
        assert not healthy.failed and json.loads(healthy.payload) == {"ok": True}, healthy.payload
    finally:
        emu.retire(function.name)
    assert not containers_of(function.name)


def test_the_matrix_leaves_no_threads_fds_or_containers_behind(
    emu: Emulator, baseline: Counts, request: pytest.FixtureRequest
) -> None:
    # The environments' threads end within moments of their close: poll rather than sleep.
    deadline = time.monotonic() + 10
    after = counts()
    while time.monotonic() < deadline and (
        after.threads > baseline.threads + THREAD_MARGIN or after.fds > baseline.fds + FD_MARGIN
    ):
        time.sleep(0.2)
        after = counts()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        "hostile matrix: runtime, case, time, answer",
        *ROWS,
        f"threads {baseline.threads} -> {after.threads}, fds {baseline.fds} -> {after.fds}, "
        f"rss {baseline.rss_mb:.0f} -> {after.rss_mb:.0f} MB",
    ]
    if reporter is not None:
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines))
    leftover = [t.name for t in threading.enumerate() if t.name.startswith(("env-", "runtime-api-"))]
    assert after.threads <= baseline.threads + THREAD_MARGIN, leftover
    opened = [name for name in after.files if name not in baseline.files]
    assert after.fds <= baseline.fds + FD_MARGIN, "\n".join(sorted(opened))
    assert not [e for e in emu.environments() if e.function.name.startswith("Hostile-")]
