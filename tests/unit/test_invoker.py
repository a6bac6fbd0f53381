"""The invoker, pool and environment state machine over a fake container layer (local processes
running our runtime client): deadlines, resets, warm reuse and error mapping, without Docker."""

from __future__ import annotations

import json
import select
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.engine.environment import Environment, EnvState, RuntimeImage
from lambda_emu.engine.invoker import Invoker
from lambda_emu.engine.logstream import KEEP_LOG_BYTES
from lambda_emu.engine.pool import EnvironmentPool
from lambda_emu.models import Invocation, InvocationResult
from tests.bootstraps import late_writer_log
from tests.fakes import ProcessBackend
from tests.timing import SLACK_S

HANDLERS = """
import os, sys, time
CALLS = 0
def echo(event, context):
    global CALLS
    CALLS += 1
    print("echo", CALLS)
    return {"event": event, "calls": CALLS, "remaining": context.get_remaining_time_in_millis()}
def slow(event, context):
    if event.get("flag"):
        open(event["flag"], "w").close()
    time.sleep(event.get("seconds", 10))
    return "done"
def crash(event, context):
    os._exit(event.get("code", 7))
def fail(event, context):
    raise KeyError("missing")
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLERS)
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    return tmp_path


@pytest.fixture
def backend() -> ProcessBackend:
    return ProcessBackend()


@pytest.fixture
def pool(backend: ProcessBackend, code: Path) -> Iterator[EnvironmentPool]:
    config = EmulatorConfig()

    def factory(function: FunctionConfig) -> Environment:
        return Environment(
            function,
            RuntimeImage(image="fake", user=None),
            backend=backend,
            emulator=config,
            code_dir=str(code),
        )

    pool = EnvironmentPool(factory)
    yield pool
    pool.close()


def fn(handler: str, code: Path, timeout: int = 3) -> FunctionConfig:
    return FunctionConfig(name="fn", runtime="python3.11", handler=handler, code_path=code, timeout=timeout)


def call(pool: EnvironmentPool, function: FunctionConfig, event: object = None) -> InvocationResult:
    arn = EmulatorConfig().function_arn(function.name)
    return Invoker(pool).invoke(function, Invocation(json.dumps(event or {}).encode(), arn))


def test_warm_invokes_reuse_one_environment(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.echo", code)
    first, second = call(pool, function), call(pool, function)
    assert json.loads(second.payload)["calls"] == 2
    assert first.init_duration_ms is not None and second.init_duration_ms is None
    assert len(backend.created) == 1 and backend.created[0].starts == 1


def test_remaining_time_starts_at_the_timeout(pool: EnvironmentPool, code: Path) -> None:
    remaining = json.loads(call(pool, fn("app.echo", code, timeout=7)).payload)["remaining"]
    assert 6_000 < remaining <= 7_000


def test_logs_are_framed_per_invocation(pool: EnvironmentPool, code: Path) -> None:
    result = call(pool, fn("app.echo", code))
    lines = result.logs.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[1] == "echo 1"
    assert lines[-2].startswith("END RequestId: ") and lines[-1].startswith("REPORT RequestId: ")


def test_timeout_resets_and_the_next_invoke_re_inits_in_the_same_container(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.slow", code, timeout=1)
    result = call(pool, function, {"seconds": 30})
    assert result.error_type == "Sandbox.Timedout"
    assert 1000 <= result.duration_ms < 1000 + SLACK_S * 1000
    assert json.loads(call(pool, function, {"seconds": 0}).payload) == "done"
    assert len(backend.created) == 1 and backend.created[0].starts == 2


def test_crash_is_an_exit_error_with_lambdas_message(pool: EnvironmentPool, code: Path) -> None:
    result = call(pool, fn("app.crash", code), {"code": 7})
    body = json.loads(result.payload)
    assert body == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 7",
        "errorType": "Runtime.ExitError",
    }
    assert result.logs.rstrip().endswith("Runtime.ExitError")


def test_a_container_removed_from_outside_mid_invoke_is_an_exit_error_and_then_replaced(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path, tmp_path: Path
) -> None:
    function = fn("app.slow", code, timeout=10)
    results: list[InvocationResult] = []
    flag = tmp_path / "running"
    event = {"seconds": 30, "flag": str(flag)}
    caller = threading.Thread(target=lambda: results.append(call(pool, function, event)))
    caller.start()
    deadline = time.monotonic() + 10
    while not flag.exists():
        assert time.monotonic() < deadline, "the invocation never started"
        time.sleep(0.01)
    backend.created[0].remove()  # what `docker rm -f` does: the process is killed, the container is gone
    caller.join(timeout=10)
    assert results and results[0].error_type == "Runtime.ExitError"
    after = call(pool, function, {"seconds": 0})
    assert json.loads(after.payload) == "done" and after.init_duration_ms is not None
    assert len(backend.created) == 2, "a new container for the next invoke"


def test_an_environment_whose_runtime_survives_its_kill_is_replaced_not_reused(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.slow", code, timeout=1)
    call(pool, function, {"seconds": 0})
    backend.created[0].unkillable = True
    assert call(pool, function, {"seconds": 30}).error_type == "Sandbox.Timedout"
    after = call(pool, function, {"seconds": 0})
    assert json.loads(after.payload) == "done" and after.init_duration_ms is not None
    assert len(backend.created) == 2
    deadline = time.monotonic() + 10  # the wedged one is removed off the caller's path
    while not backend.created[0].removed:
        assert time.monotonic() < deadline, "the wedged container was never removed"
        time.sleep(0.01)


def test_a_runtime_that_dies_reports_the_peak_memory_last_read_not_zero(code: Path) -> None:
    backend = ProcessBackend(peak_bytes=42 * 2**20)
    env = Environment(
        fn("app.crash", code),
        RuntimeImage(image="fake", user=None),
        backend=backend,
        emulator=EmulatorConfig(),
        code_dir=str(code),
    )
    pool = EnvironmentPool(lambda function: env)
    try:
        result = call(pool, fn("app.crash", code), {"code": 9})
    finally:
        pool.close()
    assert result.error_type == "Runtime.ExitError"
    assert result.max_memory_used_mb == 42 and "Max Memory Used: 42 MB" in result.logs


def test_function_error_keeps_the_environment(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.fail", code)
    result = call(pool, function)
    assert result.error_type == "KeyError" and result.function_error == "Unhandled"
    call(pool, function)
    assert backend.created[0].starts == 1


def test_the_caller_is_answered_before_the_report_is_written(pool: EnvironmentPool, code: Path) -> None:
    function = fn("app.echo", code)
    arn = EmulatorConfig().function_arn(function.name)
    early: list[tuple[InvocationResult, str]] = []

    def answered(result: InvocationResult) -> None:
        env = pool.environments()[0]
        early.append((result, env.log.log_of(result.request_id)))

    final = Invoker(pool).invoke(function, Invocation(b"{}", arn), answered=answered)
    [(result, log_then)] = early
    assert result.payload == final.payload and result.request_id == final.request_id
    assert result.error_type is None and result.executed_version == final.executed_version
    assert 0 < result.duration_ms <= final.duration_ms + 1
    # The bookkeeping came after the answer: no REPORT yet then, and the memory figure only in the end.
    assert "REPORT RequestId" not in log_then and "REPORT RequestId" in final.logs
    assert result.max_memory_used_mb == 0


def test_a_function_error_is_answered_early_and_a_timeout_only_returned(
    pool: EnvironmentPool, code: Path
) -> None:
    early: list[InvocationResult] = []
    arn = EmulatorConfig().function_arn("fn")
    invoker = Invoker(pool)
    failed = invoker.invoke(fn("app.fail", code), Invocation(b"{}", arn), answered=early.append)
    assert [r.error_type for r in early] == ["KeyError"] and failed.error_type == "KeyError"
    early.clear()
    slow = fn("app.slow", code, timeout=1)
    timed_out = invoker.invoke(slow, Invocation(b'{"seconds": 5}', arn), answered=early.append)
    assert early == [] and timed_out.error_type == "Sandbox.Timedout"


def test_a_caller_that_fails_to_take_its_answer_leaves_the_environment_usable(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.echo", code)
    arn = EmulatorConfig().function_arn(function.name)

    def gone(result: InvocationResult) -> None:
        raise BrokenPipeError("the caller left")

    result = Invoker(pool).invoke(function, Invocation(b"{}", arn), answered=gone)
    assert json.loads(result.payload)["calls"] == 1 and "REPORT RequestId" in result.logs
    assert json.loads(call(pool, function).payload)["calls"] == 2
    assert backend.created[0].starts == 1


def test_a_call_made_as_soon_as_it_is_answered_gets_the_same_environment(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    """A caller that invokes again the moment it has its answer (on another connection, another thread)
    waits for the environment that is finishing, rather than cold-starting a second one."""
    function = fn("app.echo", code)
    arn = EmulatorConfig().function_arn(function.name)
    call(pool, function)  # warm
    second: list[InvocationResult] = []
    threads: list[threading.Thread] = []
    waited: list[bool] = []  # asserted here: the invoker logs what `answered` raises

    def answered(result: InvocationResult) -> None:
        threads.append(threading.Thread(target=lambda: second.append(call(pool, function))))
        threads[0].start()
        deadline = time.monotonic() + 10
        while not pool._released._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.001)  # until the other call waits in the pool while this invocation finishes
        waited.append(bool(pool._released._waiters))  # type: ignore[attr-defined]

    Invoker(pool).invoke(function, Invocation(b"{}", arn), answered=answered)
    threads[0].join(10)
    assert waited == [True], "the second call never waited for this environment"
    assert json.loads(second[0].payload)["calls"] == 3
    assert len(backend.created) == 1 and backend.created[0].starts == 1


def test_init_error_is_retried_once_in_the_invoke_phase_then_returned(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("broken.handler", code)
    result = call(pool, function)
    assert result.error_type == "Runtime.ImportModuleError"
    assert "No module named 'not_a_module_anywhere'" in json.loads(result.payload)["errorMessage"]
    assert backend.created[0].starts == 2, "Lambda re-runs a failed init inside the first invoke"
    assert "INIT_REPORT Init Duration: " in result.init_logs
    assert "Status: error\tError Type: Runtime.ImportModuleError" in result.init_logs
    assert result.init_duration_ms is None, "the retried init is part of the invoke's Duration"
    # The event never went out, yet the invocation's log is framed as Lambda frames it.
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result.request_id}" and lines[-1].startswith("REPORT RequestId: ")
    again = call(pool, function)
    assert again.error_type == "Runtime.ImportModuleError"
    assert backend.created[0].starts == 4


def test_a_flaky_init_succeeds_on_the_retry(pool: EnvironmentPool, code: Path, tmp_path: Path) -> None:
    (code / "flaky.py").write_text(
        "import os\n"
        "if not os.path.exists('/tmp/flaky-' + os.environ['AWS_LAMBDA_LOG_STREAM_NAME'][-8:]):\n"
        "    open('/tmp/flaky-' + os.environ['AWS_LAMBDA_LOG_STREAM_NAME'][-8:], 'w').close()\n"
        "    raise RuntimeError('first init fails')\n"
        "def handler(event, context):\n    return 'second init worked'\n"
    )
    result = call(pool, fn("flaky.handler", code))
    assert json.loads(result.payload) == "second init worked"
    assert "Status: error" in result.init_logs


def test_init_past_ten_seconds_is_cut_and_retried_under_the_function_timeout(
    pool: EnvironmentPool, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_emu import wire

    monkeypatch.setattr(wire, "INIT_TIMEOUT_S", 0.5)  # Lambda's 10 s, shortened for the test
    (code / "hang.py").write_text("import time\ntime.sleep(30)\ndef handler(e, c):\n    return 1\n")
    result = call(pool, fn("hang.handler", code, timeout=1))
    assert "INIT_REPORT Init Duration: 500.00 ms\tPhase: init\tStatus: timeout" in result.init_logs
    assert result.error_type == "Sandbox.Timedout"
    assert 1000 <= result.duration_ms < 1000 + SLACK_S * 1000


def test_different_configurations_get_different_environments(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    call(pool, fn("app.echo", code, timeout=3))
    call(pool, fn("app.echo", code, timeout=4))
    assert len(backend.created) == 2


def test_close_removes_every_container_and_closes_environments(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    call(pool, fn("app.echo", code))
    envs = pool.environments()
    pool.close()
    assert all(c.removed for c in backend.created)
    assert all(env.state is EnvState.CLOSED for env in envs)


def test_retire_stops_idle_environments_and_the_next_invoke_inits_anew(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.echo", code)
    call(pool, function)
    other = FunctionConfig(name="other", runtime="python3.11", handler="app.echo", code_path=code)
    call(pool, other)
    assert pool.retire("fn") == 1
    assert backend.created[0].removed and not backend.created[1].removed
    again = call(pool, function)
    assert again.init_duration_ms is not None and json.loads(again.payload)["calls"] == 1
    assert len(pool.environments()) == 2


def test_a_busy_environment_is_retired_when_its_invocation_ends(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    function = fn("app.echo", code)
    env = pool.acquire(function)
    assert pool.retire("fn") == 1
    assert not backend.created[0].removed  # in use: not cut
    pool.release(env)
    assert pool.environments() == []
    pool.close()  # waits for the retired environment's removal, done off the caller's thread
    assert backend.created[0].removed and env.state is EnvState.CLOSED


def test_direct_output_carries_the_functions_and_its_childrens_lines_in_order(
    backend: ProcessBackend, code: Path
) -> None:
    (code / "talk.py").write_text(
        "import os, sys\n"
        "print('init line')\n"
        "def handler(event, context):\n"
        "    print('before')\n"
        "    os.system('echo from a child')\n"
        "    sys.stderr.write('to stderr\\n')\n"
        "    if event.get('crash'):\n"
        "        print('last words'); os._exit(3)\n"
        "    return 'ok'\n"
    )
    config = EmulatorConfig()

    def factory(function: FunctionConfig) -> Environment:
        image = RuntimeImage(image="fake", user=None, direct_output=True)
        return Environment(function, image, backend=backend, emulator=config, code_dir=str(code))

    pool = EnvironmentPool(factory)
    try:
        function = fn("talk.handler", code)
        first = call(pool, function)
        assert first.init_logs.splitlines() == ["init line"]
        assert first.logs.splitlines()[1:4] == ["before", "from a child", "to stderr"]
        second = call(pool, function)
        assert second.logs.splitlines()[1:4] == ["before", "from a child", "to stderr"]
        crashed = call(pool, function, {"crash": True})
        assert crashed.error_type == "Runtime.ExitError"
        assert "last words" in crashed.logs.splitlines()
        again = call(pool, function)  # the restarted runtime connects again
        assert again.logs.splitlines()[1:4] == ["before", "from a child", "to stderr"]
    finally:
        pool.close()


def test_a_runtime_that_dies_after_answering_gives_the_next_invoke_a_plain_cold_start(code: Path) -> None:
    # Node's uncaught exception in a timer: the answer is posted, then the process ends by itself; the
    # engine tells of the exit late, so the next invoke finds the environment still ready.
    (code / "dying.py").write_text(
        "import os, threading\n"
        "def handler(event, context):\n"
        "    threading.Timer(0.05, os._exit, args=(1,)).start()\n"
        "    return 'answered'\n"
    )
    backend = ProcessBackend(exit_notice_delay=0.5)
    config = EmulatorConfig()
    pool = EnvironmentPool(
        lambda function: Environment(
            function,
            RuntimeImage(image="fake", user=None),
            backend=backend,
            emulator=config,
            code_dir=str(code),
        )
    )
    try:
        function = fn("dying.handler", code)
        for round in range(3):
            result = call(pool, function)
            assert json.loads(result.payload) == "answered"
            assert result.init_duration_ms is not None, "each invoke runs on a freshly started runtime"
            assert "INIT_REPORT" not in result.init_logs, "no init failed"
            deadline = time.monotonic() + 5
            while not backend.created[0].exited() and time.monotonic() < deadline:
                time.sleep(0.01)  # the runtime ends by itself; its exit is noticed 0.5 s later
            assert pool.environments()[0].state is EnvState.READY or round == 2
    finally:
        pool.close()


@pytest.fixture
def direct_pool(backend: ProcessBackend, code: Path) -> Iterator[tuple[EnvironmentPool, list[str]]]:
    """A pool whose runtime sends its output over the direct socket, and every line its sink saw."""
    config = EmulatorConfig()
    seen: list[str] = []

    def factory(function: FunctionConfig) -> Environment:
        image = RuntimeImage(image="fake", user=None, direct_output=True)
        return Environment(
            function, image, backend=backend, emulator=config, code_dir=str(code), sink=seen.append
        )

    pool = EnvironmentPool(factory)
    yield pool, seen
    pool.close()


def _direct_reader(env: Environment) -> str:
    direct = env._direct
    assert direct is not None
    return direct._state


def _warm_until_the_reader_is_away(pool: EnvironmentPool, function: FunctionConfig) -> Environment:
    """Warm calls until the direct output's reader has left it to the calling threads. It leaves after
    its next read, which may take one more call: a call can read the END marker before the reader does."""
    for _ in range(10):
        warm_call(pool, function)
        (env,) = pool.environments()
        deadline = time.monotonic() + 1
        while _direct_reader(env) == "leaving" and time.monotonic() < deadline:
            time.sleep(0.005)
        if _direct_reader(env) == "away":
            return env
    raise AssertionError(f"the reader never left: {_direct_reader(env)}")


def _next_is_in(env: Environment) -> None:
    """Wait until the runtime has asked for its next event, so the next call's event goes out on the
    calling thread (a call that comes first is handed to the connection's own thread, and so is the
    output)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        unread = env.api._unread
        if env.api._parked is not None or (
            unread is not None and select.select([unread.connection], [], [], 0)[0]  # type: ignore[attr-defined]
        ):
            return
        time.sleep(0.005)
    raise AssertionError("the runtime never asked for its next event")


def warm_call(pool: EnvironmentPool, function: FunctionConfig, event: object = None) -> InvocationResult:
    for env in pool.environments():
        _next_is_in(env)
    return call(pool, function, event)


def test_warm_output_is_read_by_the_waiting_thread_and_stays_whole_and_in_order(
    direct_pool: tuple[EnvironmentPool, list[str]], code: Path
) -> None:
    """Once warm, the reader thread leaves the output to the thread waiting for the reply (no thread
    switch per invoke). Output larger than any socket buffer must still flow while the function runs."""
    (code / "loud.py").write_text(
        "import sys\n"
        "def handler(event, context):\n"
        "    for i in range(event.get('lines', 3)):\n"
        "        print(f'line {i} ' + 'x' * 200)\n"
        "    return event.get('lines', 3)\n"
    )
    pool, seen = direct_pool
    function = fn("loud.handler", code)
    call(pool, function)
    _warm_until_the_reader_is_away(pool, function)
    for _ in range(3):
        result = warm_call(pool, function)
        assert [line.split()[:2] for line in result.logs.splitlines()[1:4]] == [
            ["line", "0"],
            ["line", "1"],
            ["line", "2"],
        ]
    seen.clear()
    big = warm_call(pool, function, {"lines": 20_000})  # ~4 MB: read while the function writes, or it blocks
    assert big.error_type is None and json.loads(big.payload) == 20_000
    # The sink (the log store) gets every line; the result keeps START and the newest KEEP_LOG_BYTES.
    lines = [line for line in "".join(seen).splitlines() if line.startswith("line ")]
    assert [int(line.split()[1]) for line in lines] == list(range(20_000))
    kept = [int(line.split()[1]) for line in big.logs.splitlines() if line.startswith("line ")]
    assert kept == list(range(20_000 - len(kept), 20_000)) and 0 < len(big.logs) < 2 * KEEP_LOG_BYTES
    assert big.logs.startswith("START RequestId") and "characters of this invocation's output" in big.logs
    assert big.logs.splitlines()[-2].startswith("END RequestId")


def test_output_written_between_invocations_shows_in_the_next_one_as_after_a_thaw(
    direct_pool: tuple[EnvironmentPool, list[str]], code: Path
) -> None:
    """Lambda freezes an idle environment: what a background thread writes after the response shows in
    the next invocation's log."""
    (code / "later.py").write_text(
        "import threading, time\n"
        "def handler(event, context):\n"
        "    if event.get('later'):\n"
        "        threading.Timer(0.1, print, args=('written later',)).start()\n"
        "    return 'ok'\n"
    )
    pool, _ = direct_pool
    function = fn("later.handler", code)
    call(pool, function)
    _warm_until_the_reader_is_away(pool, function)
    first = warm_call(pool, function, {"later": True})
    assert "written later" not in first.logs
    time.sleep(0.4)
    second = warm_call(pool, function)
    assert "written later" in second.logs.splitlines()


def test_a_runtime_that_exits_while_idle_has_its_last_output_read_and_its_reader_ended(
    direct_pool: tuple[EnvironmentPool, list[str]], code: Path
) -> None:
    (code / "leaving.py").write_text(
        "import os, sys, threading\n"
        "def bye():\n"
        "    print('last words', flush=True)\n"
        "    os._exit(0)\n"
        "def handler(event, context):\n"
        "    if event.get('leave'):\n"
        "        threading.Timer(0.1, bye).start()\n"
        "    return 'ok'\n"
    )
    pool, seen = direct_pool
    function = fn("leaving.handler", code)
    call(pool, function)
    env = _warm_until_the_reader_is_away(pool, function)
    warm_call(pool, function, {"leave": True})
    deadline = time.monotonic() + 5
    while env.state is not EnvState.DEAD and time.monotonic() < deadline:
        time.sleep(0.01)
    readers = [thread for thread in env._threads if thread.name.startswith("env-direct")]
    for thread in readers:
        thread.join(2)
    assert readers and not any(thread.is_alive() for thread in readers), "the reader read to the end"
    assert any("last words" in text for text in seen)
    again = call(pool, function)  # a new runtime, whose output is read again
    assert again.error_type is None and again.init_duration_ms is not None


def test_init_runs_at_the_default_weight_and_the_memory_share_applies_once_it_is_done(
    pool: EnvironmentPool, backend: ProcessBackend, code: Path
) -> None:
    call(pool, fn("app.echo", code))  # 128 MB
    container = backend.created[0]
    assert container.spec.cpu_shares is None, "created at the default weight: init is not starved"
    assert (container.cpu_quota, container.cpu_shares) == (128 / 1769, round(1024 * 128 / 1769))


# A custom runtime without log markers (as a user's bootstrap on provided.al2023), in Python for the fake
# backend's local processes: tests/bootstraps.py's LATE_WRITER. `keep_alive`: one connection for every
# request (as Go's and Rust's runtime clients), else a connection per request (as curl in a shell
# bootstrap).
CUSTOM_BOOTSTRAP = """
import http.client, os, sys, time
host = os.environ["AWS_LAMBDA_RUNTIME_API"]
keep_alive = sys.argv[1] == "keep-alive"
conn = None
def call(method, path, body=None):
    global conn
    if conn is None or not keep_alive:
        conn = http.client.HTTPConnection(host)
    conn.request(method, "/2018-06-01/runtime/" + path, body)
    reply = conn.getresponse()
    return reply.getheader("Lambda-Runtime-Aws-Request-Id"), reply.read()
while True:
    request_id, event = call("GET", "invocation/next")
    print("handling", request_id, flush=True)
    call("POST", "invocation/" + request_id + "/response", event)
    time.sleep(0.2)  # four times the quiet time that used to end a marker-less invocation's output
    print("after the response", request_id, flush=True)
    if b"exit" in event:
        sys.exit(0)
"""


@pytest.fixture(params=["keep-alive", "per-request"])
def custom_pool(
    request: pytest.FixtureRequest, backend: ProcessBackend, code: Path
) -> Iterator[tuple[EnvironmentPool, list[str]]]:
    (code / "bootstrap.py").write_text(CUSTOM_BOOTSTRAP)
    lines: list[str] = []
    config = EmulatorConfig()
    runtime = RuntimeImage(
        image="fake",
        user=None,
        log_markers=False,
        entrypoint=(sys.executable, str(code / "bootstrap.py"), request.param),
    )
    pool = EnvironmentPool(
        lambda function: Environment(
            function, runtime, backend=backend, emulator=config, code_dir=str(code), sink=lines.append
        )
    )
    yield pool, lines
    pool.close()


def test_a_marker_less_runtimes_output_after_its_response_is_in_that_invocations_log(
    custom_pool: tuple[EnvironmentPool, list[str]], backend: ProcessBackend, code: Path
) -> None:
    """Its invocation ends when it asks for its next event, as Lambda's invoke phase does: what it wrote
    after the response and before that GET /next is this invocation's, in order, and not the next one's."""
    pool, lines = custom_pool
    function = FunctionConfig(name="custom", runtime="provided.al2023", handler="x", code_path=code)
    early: list[InvocationResult] = []
    arn = EmulatorConfig().function_arn(function.name)
    results = [
        Invoker(pool).invoke(function, Invocation(b'{"n": 1}', arn), answered=early.append),
        call(pool, function, {"n": 2}),
    ]
    assert [json.loads(r.payload) for r in early] == [{"n": 1}], "answered before its log was complete"
    for result in results:
        assert result.logs.splitlines()[:-1] == late_writer_log(result.request_id)
        assert result.logs.splitlines()[-1].startswith(f"REPORT RequestId: {result.request_id}\t")
    assert "".join(lines).count("after the response") == 2 and "".join(lines).endswith(results[1].logs)
    assert len(backend.created) == 1 and backend.created[0].starts == 1


def test_a_marker_less_runtime_that_exits_after_its_response_has_its_last_output_in_the_log(
    custom_pool: tuple[EnvironmentPool, list[str]], code: Path
) -> None:
    pool, _ = custom_pool
    function = FunctionConfig(name="custom", runtime="provided.al2023", handler="x", code_path=code)
    result = call(pool, function, {"exit": True})
    assert json.loads(result.payload) == {"exit": True}
    assert f"after the response {result.request_id}\nEND RequestId: {result.request_id}\n" in result.logs
    after = call(pool, function)
    assert not after.failed and after.init_duration_ms is not None, "a plain cold start follows"
