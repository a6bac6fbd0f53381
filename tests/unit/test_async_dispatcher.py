"""The event dispatcher with a fake `deliver`: retries at the configured delays, dead letters and destination
records in Lambda's shape, throttles, clean stops and nothing lost."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lambda_emu.async_invoke import (
    EventDispatcher,
    EventQueue,
    Pacing,
    RetryDelays,
    Sinks,
    read_dead_letters,
    read_destination_records,
)
from lambda_emu.async_invoke.queue import QueuedEvent
from lambda_emu.config import AsyncConfig
from lambda_emu.errors import ConfigError, ContainerError, FunctionNotFoundError, ThrottledError
from lambda_emu.models import InvocationResult, error_body

FAST = RetryDelays((0.2, 0.4), backoff_first=0.05, backoff_max=0.2)
DLQ = "arn:aws:sqs:us-east-1:123456789012:dead-letters"
ON_FAILURE = "arn:aws:sqs:us-east-1:123456789012:failures"
ON_SUCCESS = "arn:aws:sns:us-east-1:123456789012:successes"
WAIT = 30.0  # generous: a noisy machine is slow, never wrong
SLACK = 0.02  # time.time() (due times) against time.monotonic() (the fake's stamps)


class FakeFunction:
    """Plays a script of outcomes, one per attempt, repeating the last: ok, error, throttle, system, gone."""

    def __init__(self, *script: str, block: threading.Event | None = None) -> None:
        self.script = list(script)
        self.block = block
        self.calls: list[tuple[float, str, str, bytes, str | None]] = []  # ..., the qualifier last
        self._cond = threading.Condition()

    def __call__(self, name: str, qualifier: str | None, payload: bytes, request_id: str) -> InvocationResult:
        with self._cond:
            step = self.script[min(len(self.calls), len(self.script) - 1)]
            self.calls.append((time.monotonic(), name, request_id, payload, qualifier))
            self._cond.notify_all()
        if self.block is not None:
            self.block.wait(WAIT)
        if step == "throttle":
            raise ThrottledError("ReservedFunctionConcurrentInvocationLimitExceeded")
        if step == "system":
            raise ContainerError("the container engine went away")
        if step == "gone":
            raise FunctionNotFoundError(f"Function not found: {name}")
        if step == "invalid":
            raise ConfigError("MemorySize must be a whole number from 128 to 10240; got 64.")
        if step == "error":
            return InvocationResult(
                request_id, error_body("ValueError", f"bad input {len(self.calls)}"), "ValueError"
            )
        return InvocationResult(request_id, json.dumps({"echo": json.loads(payload)}).encode())

    def wait_calls(self, count: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= count, timeout)

    def gaps(self) -> list[float]:
        stamps = [call[0] for call in self.calls]
        return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


@contextmanager
def dispatcher(
    state: Path,
    deliver: Callable[[str, str | None, bytes, str], InvocationResult],
    config: AsyncConfig | Callable[[str, str | None], AsyncConfig] | None = None,
    **options: object,
) -> Iterator[EventDispatcher]:
    fixed = config or AsyncConfig()
    config_for = fixed if callable(fixed) else (lambda name, qualifier: fixed)
    queue = EventQueue(state / "events.sqlite3")
    options.setdefault("delays", FAST)
    pacing = Pacing(
        **{key: options.pop(key) for key in ("workers", "delays", "idle_wait", "clock") if key in options}
    )  # type: ignore[arg-type]
    engine = EventDispatcher(queue, deliver, config_for, Sinks(state), pacing=pacing, **options)  # type: ignore[arg-type]
    engine.start()
    try:
        yield engine
    finally:
        assert engine.stop(WAIT)
        queue.close()


def test_a_successful_event_sends_its_record_to_the_on_success_destination(tmp_path: Path) -> None:
    fn = FakeFunction("ok")
    with dispatcher(tmp_path, fn, AsyncConfig(on_success=ON_SUCCESS, dead_letter_target=DLQ)) as engine:
        engine.accept("fn", None, b'{"n": 1}', "req-1")
        assert engine.wait_idle(WAIT)
    assert [(c[1], c[2], c[3]) for c in fn.calls] == [("fn", "req-1", b'{"n": 1}')]
    (entry,) = read_destination_records(tmp_path, "fn")
    assert entry["target"] == ON_SUCCESS
    record = entry["record"]
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and "T" in record["timestamp"]
    assert record["requestContext"] == {
        "requestId": "req-1",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 1}}
    assert read_dead_letters(tmp_path) == []


def test_function_errors_are_retried_at_the_configured_delays_then_dead_lettered(tmp_path: Path) -> None:
    fn = FakeFunction("error")
    config = AsyncConfig(dead_letter_target=DLQ, on_failure=ON_FAILURE, on_success=ON_SUCCESS)
    with dispatcher(tmp_path, fn, config) as engine:
        engine.accept("fn", None, b'{"order": 7}', "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 3  # the attempt and MaximumRetryAttempts (2) retries
    first_gap, second_gap = fn.gaps()
    assert 0.2 - SLACK <= first_gap < 0.2 + 10
    assert 0.4 - SLACK <= second_gap < 0.4 + 10

    (letter,) = read_dead_letters(tmp_path, "fn")
    assert letter["target"] == DLQ
    assert letter["body"] == '{"order": 7}'  # the original event, unchanged
    assert letter["messageAttributes"] == {
        "RequestID": {"DataType": "String", "StringValue": "req-1"},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "bad input 3"},
    }
    assert letter["deliveredTo"] is None  # no AWS endpoint: kept locally

    (entry,) = read_destination_records(tmp_path, "fn")
    assert entry["target"] == ON_FAILURE
    record = entry["record"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"] == {"errorMessage": "bad input 3", "errorType": "ValueError"}


def test_an_event_that_fails_once_succeeds_on_its_retry(tmp_path: Path) -> None:
    fn = FakeFunction("error", "ok")
    with dispatcher(tmp_path, fn, AsyncConfig(dead_letter_target=DLQ, on_success=ON_SUCCESS)) as engine:
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 2
    assert read_dead_letters(tmp_path) == []
    (entry,) = read_destination_records(tmp_path, "fn")
    assert entry["record"]["requestContext"]["approximateInvokeCount"] == 2


def test_zero_retry_attempts_dead_letters_after_one_run(tmp_path: Path) -> None:
    fn = FakeFunction("error")
    with dispatcher(tmp_path, fn, AsyncConfig(maximum_retry_attempts=0, dead_letter_target=DLQ)) as engine:
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 1
    assert len(read_dead_letters(tmp_path, "fn")) == 1


def test_throttles_back_off_without_using_up_retries(tmp_path: Path) -> None:
    fn = FakeFunction("throttle", "throttle", "throttle", "system", "error")
    with dispatcher(tmp_path, fn, AsyncConfig(maximum_retry_attempts=1, dead_letter_target=DLQ)) as engine:
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    # Three throttles and a system error, then the attempt and its one retry.
    assert len(fn.calls) == 6
    gaps = fn.gaps()
    for gap, backoff in zip(gaps[:4], [0.05, 0.1, 0.2, 0.2], strict=True):
        assert gap >= backoff - SLACK
    assert gaps[4] >= 0.2 - SLACK  # the first retry of a function error
    (letter,) = read_dead_letters(tmp_path, "fn")
    assert letter["messageAttributes"]["ErrorCode"]["StringValue"] == "200"


def test_zero_reserved_concurrency_sends_events_to_the_dlq_without_retries(tmp_path: Path) -> None:
    fn = FakeFunction("throttle")
    config = AsyncConfig(dead_letter_target=DLQ, on_failure=ON_FAILURE)
    with dispatcher(tmp_path, fn, config, reserved_concurrency=lambda name: 0) as engine:
        engine.accept("fn", None, b'{"n": 1}', "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 1
    (letter,) = read_dead_letters(tmp_path, "fn")
    attributes = letter["messageAttributes"]
    assert attributes["ErrorCode"]["StringValue"] == "429"
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in attributes["ErrorMessage"]["StringValue"]
    (entry,) = read_destination_records(tmp_path, "fn")
    assert entry["record"]["responseContext"]["statusCode"] == 429
    assert "responsePayload" not in entry["record"]  # the function never ran


def test_an_event_too_old_is_discarded_with_event_age_exceeded(tmp_path: Path) -> None:
    fn = FakeFunction("throttle")
    delays = RetryDelays((0.2, 0.4), backoff_first=0.05, backoff_max=0.1, max_event_age=1.0)
    with dispatcher(tmp_path, fn, AsyncConfig(on_failure=ON_FAILURE), delays=delays) as engine:
        started = time.monotonic()
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0 - SLACK
    assert (
        len(fn.calls) >= 2
    )  # throttled again and again while young enough (about 10 times on an idle machine)
    (entry,) = read_destination_records(tmp_path, "fn")
    assert entry["record"]["requestContext"]["condition"] == "EventAgeExceeded"
    assert entry["record"]["requestContext"]["approximateInvokeCount"] == len(fn.calls)


def test_an_event_of_a_deleted_function_is_dropped(tmp_path: Path) -> None:
    fn = FakeFunction("ok")

    def config_for(name: str, qualifier: str | None) -> AsyncConfig:
        raise FunctionNotFoundError(f"Function not found: {name}")

    with dispatcher(tmp_path, fn, config_for) as engine:
        engine.accept("gone", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    assert fn.calls == []
    assert read_dead_letters(tmp_path) == [] and read_destination_records(tmp_path) == []


def test_an_attempt_refused_as_invalid_goes_to_the_dlq_at_once(tmp_path: Path) -> None:
    fn = FakeFunction("invalid")
    with dispatcher(tmp_path, fn, AsyncConfig(dead_letter_target=DLQ)) as engine:
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 1
    (letter,) = read_dead_letters(tmp_path, "fn")
    assert letter["messageAttributes"]["ErrorCode"]["StringValue"] == "400"
    assert "MemorySize" in letter["messageAttributes"]["ErrorMessage"]["StringValue"]


def test_a_function_deleted_after_its_config_was_read_is_dead_lettered(tmp_path: Path) -> None:
    fn = FakeFunction("gone")
    with dispatcher(tmp_path, fn, AsyncConfig(dead_letter_target=DLQ)) as engine:
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 1
    (letter,) = read_dead_letters(tmp_path, "fn")
    assert letter["messageAttributes"]["ErrorCode"]["StringValue"] == "404"


def test_a_discarded_event_without_dlq_or_destination_leaves_nothing(tmp_path: Path) -> None:
    fn = FakeFunction("error")
    with dispatcher(tmp_path, fn, AsyncConfig(maximum_retry_attempts=0)) as engine:
        engine.accept("fn", None, b"{}", "req-1")
        assert engine.wait_idle(WAIT)
    assert len(fn.calls) == 1
    assert read_dead_letters(tmp_path) == [] and read_destination_records(tmp_path) == []


def test_a_lambda_destination_is_an_event_invocation_of_that_function(tmp_path: Path) -> None:
    fn = FakeFunction("error", "ok")  # "fn" fails; "audit", its destination, then succeeds
    configs = {  # by (name, qualifier): the audit:live event asks for its alias's config
        ("fn", None): AsyncConfig(
            maximum_retry_attempts=0, on_failure="arn:aws:lambda:us-east-1:123456789012:function:audit:live"
        ),
        ("audit", "live"): AsyncConfig(),
    }
    with dispatcher(tmp_path, fn, lambda name, qualifier: configs[name, qualifier]) as engine:
        engine.accept("fn", None, b'{"n": 1}', "req-1")
        assert fn.wait_calls(2)
        assert engine.wait_idle(WAIT)
    name, request_id, payload, qualifier = fn.calls[1][1:]
    assert name == "audit" and request_id != "req-1"
    assert qualifier == "live"  # the destination ARN's alias is the one invoked
    record = json.loads(payload)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"n": 1}
    (entry,) = read_destination_records(tmp_path, "fn")
    assert entry["deliveredTo"] == "lambda"


def test_workers_sleep_until_woken_by_an_accept(tmp_path: Path) -> None:
    claims: list[float] = []

    class CountingQueue(EventQueue):
        def claim_due(self, now: float) -> QueuedEvent | None:
            claims.append(now)
            return super().claim_due(now)

    fn = FakeFunction("ok")
    queue = CountingQueue(tmp_path / "events.sqlite3")
    engine = EventDispatcher(
        queue,
        fn,
        lambda name, qualifier: AsyncConfig(),
        Sinks(tmp_path),
        pacing=Pacing(delays=FAST, idle_wait=60),
    )
    engine.start()
    try:
        time.sleep(0.3)  # idle on purpose: this is the time in which no polling must happen
        assert len(claims) <= 2 * engine.workers, f"{len(claims)} claims while idle"
        started = time.monotonic()
        engine.accept("fn", None, b"{}", "req-1")
        assert fn.wait_calls(1)
        assert time.monotonic() - started < 10  # woken, not waiting out idle_wait (60 s)
    finally:
        assert engine.stop(WAIT)
        queue.close()


def test_stop_joins_the_workers_and_keeps_later_events_for_the_next_start(tmp_path: Path) -> None:
    fn = FakeFunction("ok")
    queue = EventQueue(tmp_path / "events.sqlite3")
    engine = EventDispatcher(
        queue, fn, lambda name, qualifier: AsyncConfig(), Sinks(tmp_path), pacing=Pacing(delays=FAST)
    )
    engine.start()
    assert sum(t.name.startswith("lambda-emu-events-") for t in threading.enumerate()) == engine.workers
    assert engine.stop(WAIT)
    assert not [t for t in threading.enumerate() if t.name.startswith("lambda-emu-events-")]

    engine.accept("fn", None, b'{"late": true}', "req-late")  # accepted while stopped: kept, not run
    assert queue.pending() == 1 and fn.calls == []
    queue.close()

    with dispatcher(tmp_path, fn) as again:
        assert again.wait_idle(WAIT)
    assert [c[2] for c in fn.calls] == ["req-late"]


def test_an_event_in_flight_at_stop_is_delivered_again_after_a_restart(tmp_path: Path) -> None:
    release = threading.Event()
    stuck = FakeFunction("ok", block=release)
    queue = EventQueue(tmp_path / "events.sqlite3")
    engine = EventDispatcher(
        queue, stuck, lambda name, qualifier: AsyncConfig(), Sinks(tmp_path), pacing=Pacing(workers=1)
    )
    engine.start()
    engine.accept("fn", None, b"{}", "req-1")
    assert stuck.wait_calls(1)
    assert not engine.stop(0.1)  # the attempt is still running
    queue.close()  # the emulator goes away before the attempt ends
    release.set()

    fn = FakeFunction("ok")
    with dispatcher(tmp_path, fn) as again:
        assert fn.wait_calls(1)
        assert again.wait_idle(WAIT)
    assert [c[2] for c in fn.calls] == ["req-1"]
