"""The durable event queue: claims, schedules, and events that outlive a crash of the emulator."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from queue import Empty, Queue

from lambda_emu.async_invoke.queue import EventQueue
from lambda_emu.async_invoke.retry import EventHistory, LastError
from lambda_emu.errors import ClosedError

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_000_000.0


def test_an_accepted_event_is_claimed_once(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "events.sqlite3") as queue:
        queue.put("fn", "req-1", b'{"n": 1}', now=T0)
        event = queue.claim_due(T0)
        assert event is not None
        assert (event.function_name, event.request_id, event.payload) == ("fn", "req-1", b'{"n": 1}')
        assert event.history == EventHistory(T0)
        assert event.last_error is None
        assert queue.claim_due(T0 + 1) is None  # claimed: no one else gets it
        assert queue.pending() == 1
        assert queue.finish(event.id)
        assert queue.pending() == 0
        assert not queue.finish(event.id)


def test_a_queue_scoped_by_a_source_follows_it(tmp_path: Path) -> None:
    known = ["a"]
    with EventQueue(tmp_path / "q.sqlite3", functions=lambda: known) as queue:
        queue.put("b", "req-b", b"{}", now=T0)
        assert queue.claim_due(T0) is None and queue.pending() == 0
        known.append("b")  # created after the queue opened
        assert queue.functions == ("a", "b")
        claimed = queue.claim_due(T0)
        assert claimed is not None and claimed.request_id == "req-b"


def test_discarding_a_functions_events_leaves_the_others(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "q.sqlite3") as queue:
        queue.put("a", "1", b"{}", now=T0)
        queue.put("a", "2", b"{}", now=T0)
        queue.put("b", "3", b"{}", now=T0)
        claimed = queue.claim_due(T0)
        assert claimed is not None and claimed.function_name == "a"
        assert queue.discard("a") == 2
        assert not queue.finish(claimed.id)  # the claim went with its event
        assert queue.counts() == {"b": 1}


def test_an_event_keeps_the_qualifier_it_was_invoked_with(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "events.sqlite3") as queue:
        queue.put("fn", "req-1", b"{}", qualifier="live", now=T0)
        queue.put("fn", "req-2", b"{}", now=T0 + 1)
        first = queue.claim_due(T0 + 1)
        assert first is not None and first.qualifier == "live"
        assert queue.reschedule(first.id, T0 + 5, EventHistory(T0, attempts=1))
        second = queue.claim_due(T0 + 1)
        assert second is not None and second.qualifier is None
        again = queue.claim_due(T0 + 5)
        assert again is not None and (again.request_id, again.qualifier) == ("req-1", "live")


# The events table as the first released emulator wrote it, before events kept their qualifier.
_FIRST_SCHEMA = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, function_name TEXT NOT NULL, request_id TEXT NOT NULL,
    payload BLOB NOT NULL, accepted_at REAL NOT NULL, due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, runs INTEGER NOT NULL DEFAULT 0,
    throttles INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER, last_message TEXT, last_error_type TEXT, last_response BLOB, last_version TEXT,
    claimed_by TEXT, claimed_at REAL
);
CREATE INDEX events_due ON events (claimed_by, due_at);
INSERT INTO events (function_name, request_id, payload, accepted_at, due_at)
    VALUES ('fn', 'req-old', X'7B7D', 1000000.0, 1000000.0);
"""


def test_a_queue_file_of_an_older_emulator_opens_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(_FIRST_SCHEMA)
    old.close()
    with EventQueue(path) as queue, EventQueue(path) as second:  # a second opener finds it migrated
        queue.put("fn", "req-new", b"{}", qualifier="2", now=T0 + 1)
        kept = queue.claim_due(T0 + 1)
        assert kept is not None
        assert (kept.request_id, kept.qualifier, kept.payload) == ("req-old", None, b"{}")
        new = second.claim_due(T0 + 1)
        assert new is not None and (new.request_id, new.qualifier) == ("req-new", "2")


def test_events_come_out_in_due_order(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "q.sqlite3") as queue:
        for n in range(3):
            queue.put("fn", f"req-{n}", b"{}", now=T0 + n)
        assert queue.claim_due(T0 - 1) is None
        assert [queue.claim_due(T0 + 10).request_id for _ in range(3)] == ["req-0", "req-1", "req-2"]  # type: ignore[union-attr]


def test_a_rescheduled_event_waits_for_its_time_and_keeps_its_history(tmp_path: Path) -> None:
    error = LastError(200, "boom", "Exception", b'{"errorMessage": "boom"}', "$LATEST")
    with EventQueue(tmp_path / "q.sqlite3") as queue:
        queue.put("fn", "req-1", b"{}", now=T0)
        event = queue.claim_due(T0)
        assert event is not None
        history = EventHistory(T0, attempts=2, runs=1, throttles=1)
        assert queue.reschedule(event.id, T0 + 60, history, error)
        assert queue.next_due() == T0 + 60
        assert queue.claim_due(T0 + 59.9) is None
        again = queue.claim_due(T0 + 60)
        assert again is not None
        assert again.history == history
        assert again.last_error == error
        assert again.due_at == T0 + 60


def test_counts_per_function(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "q.sqlite3") as queue:
        queue.put("a", "1", b"{}", now=T0)
        queue.put("a", "2", b"{}", now=T0)
        queue.put("b", "3", b"{}", now=T0)
        assert queue.counts() == {"a": 2, "b": 1}
        assert queue.pending("a") == 2
        assert queue.next_due() == T0


def test_a_claim_left_by_a_queue_closed_without_finishing_is_due_again(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    queue = EventQueue(path)
    queue.put("fn", "req-1", b'{"n": 1}', now=T0)
    assert queue.claim_due(T0) is not None
    queue.close()  # as if the emulator died mid-delivery

    with EventQueue(path) as reopened:
        event = reopened.claim_due(T0)
        assert event is not None and event.request_id == "req-1"
        assert event.payload == b'{"n": 1}'


def test_an_open_queue_keeps_its_claims_from_another(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with EventQueue(path) as first:
        first.put("fn", "req-1", b"{}", now=T0)
        event = first.claim_due(T0)
        assert event is not None
        with EventQueue(path) as second:
            assert second.claim_due(T0 + 1) is None
            assert not second.finish(event.id)
        assert first.finish(event.id)


def test_a_stale_claim_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with EventQueue(path, stale_after=30) as first, EventQueue(path, stale_after=30) as second:
        first.put("fn", "req-1", b"{}", now=T0)
        assert first.claim_due(T0) is not None
        assert second.claim_due(T0 + 29) is None
        event = second.claim_due(T0 + 31)
        assert event is not None and event.request_id == "req-1"


def test_concurrent_workers_never_claim_the_same_event(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "q.sqlite3") as queue:
        for n in range(200):
            queue.put("fn", f"req-{n}", b"{}", now=T0)
        claimed: list[str] = []
        lock = threading.Lock()

        def work() -> None:
            while (event := queue.claim_due(T0)) is not None:
                with lock:
                    claimed.append(event.request_id)
                queue.finish(event.id)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(claimed) == sorted(f"req-{n}" for n in range(200))
        assert queue.pending() == 0


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with EventQueue(path):
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_closed_queue_refuses_work(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3")
    queue.close()
    try:
        queue.put("fn", "req", b"{}")
    except ClosedError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed queue accepted an event")


# A real emulator-like process: accepts two events, starts delivering the first, and hangs there.
CRASHING_PROCESS = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from lambda_emu.async_invoke import EventDispatcher, EventQueue, Pacing, Sinks
    from lambda_emu.config import AsyncConfig

    state = Path(sys.argv[1])

    def deliver(name, qualifier, payload, request_id):
        print("delivering", request_id, flush=True)
        threading.Event().wait()  # in flight until the kill

    def config_for(name, qualifier):
        return AsyncConfig()

    dispatcher = EventDispatcher(
        EventQueue(state / "events.sqlite3"), deliver, config_for, Sinks(state), pacing=Pacing(workers=1)
    )
    dispatcher.start()
    dispatcher.accept("fn", None, b'{"n": 1}', "req-1")
    dispatcher.accept("fn", None, b'{"n": 2}', "req-2")
    print("accepted", flush=True)
    threading.Event().wait()
    """
)


def _read_lines_until(proc: subprocess.Popen[str], wanted: set[str], timeout: float) -> set[str]:
    # A reader thread rather than select(): a buffered readline may take two lines off the pipe at once.
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: Queue[str | None] = Queue()

    def read() -> None:
        for line in stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=read, name="test-reader", daemon=True).start()
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except Empty:
            break
        if line is None:
            break
        seen.add(line)
    return seen


def test_events_survive_a_kill_9_of_the_process_that_accepted_them(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_PROCESS, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        wanted = {"accepted", "delivering req-1"}
        seen = _read_lines_until(proc, wanted, timeout=60)
        assert wanted <= seen, f"the process said only {seen}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    with EventQueue(tmp_path / "events.sqlite3") as events:
        assert events.pending() == 2
        found = [events.claim_due(time.time()) for _ in range(2)]
        assert sorted((e.request_id, e.payload) for e in found if e) == [
            ("req-1", b'{"n": 1}'),  # was in flight when the process died
            ("req-2", b'{"n": 2}'),  # was still waiting
        ]


def test_a_queue_scoped_to_some_functions_leaves_the_others_events_alone(tmp_path):
    path = tmp_path / "events.sqlite3"
    with EventQueue(path) as everything:
        everything.put("server-fn", "r-server", b"{}", now=100.0)
        everything.put("cli-fn", "r-cli", b"{}", now=101.0)
    with EventQueue(path, functions=["cli-fn"]) as scoped:
        assert scoped.pending() == 1
        assert scoped.next_due() == 101.0
        claimed = scoped.claim_due(200.0)
        assert claimed is not None and claimed.request_id == "r-cli"
        assert scoped.claim_due(200.0) is None  # the server's event is not this queue's
        scoped.finish(claimed.id)
    with EventQueue(path) as everything:
        left = everything.claim_due(200.0)
        assert left is not None and left.request_id == "r-server"
