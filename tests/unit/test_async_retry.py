"""Lambda's retry policy for Event invocations: function errors, throttles, event age, zero concurrency."""

from __future__ import annotations

import pytest

from lambda_emu.async_invoke import retry
from lambda_emu.async_invoke.retry import (
    Deliver,
    Discard,
    EventHistory,
    LastError,
    Outcome,
    Retry,
    RetryDelays,
    before_attempt,
    decide,
)
from lambda_emu.config import AsyncConfig
from lambda_emu.errors import ConfigError

T0 = 1_000_000.0
LAMBDA = RetryDelays()
FAILED = LastError(200, "boom", "Exception", b'{"errorMessage": "boom"}')
THROTTLED = LastError(429, "Rate Exceeded.")


def run_function_errors(config: AsyncConfig, delays: RetryDelays = LAMBDA) -> list[retry.Decision]:
    """Every decision for an event whose function always fails, each attempt made when it is due."""
    history, now, decisions = EventHistory(T0), T0, []
    while True:
        decision = decide(history, Outcome.FUNCTION_ERROR, config, delays, now, error=FAILED)
        decisions.append(decision)
        if not isinstance(decision, Retry):
            return decisions
        history, now = decision.history, decision.at


def test_lambda_defaults_retry_twice_after_one_then_two_minutes() -> None:
    decisions = run_function_errors(AsyncConfig())
    assert [type(d) for d in decisions] == [Retry, Retry, Discard]
    first, second, last = decisions
    assert isinstance(first, Retry) and isinstance(second, Retry) and isinstance(last, Discard)
    assert first.at == T0 + 60
    assert second.at == T0 + 60 + 120
    assert last.condition == retry.RETRIES_EXHAUSTED
    assert last.history.attempts == 3 and last.history.runs == 3
    assert last.error == FAILED


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_maximum_retry_attempts_bounds_the_runs(retries: int) -> None:
    decisions = run_function_errors(AsyncConfig(maximum_retry_attempts=retries))
    assert len(decisions) == retries + 1
    assert all(isinstance(d, Retry) for d in decisions[:-1])
    last = decisions[-1]
    assert isinstance(last, Discard) and last.condition == retry.RETRIES_EXHAUSTED
    assert last.history.attempts == retries + 1


def test_configured_delays_replace_lambdas() -> None:
    decisions = run_function_errors(AsyncConfig(), RetryDelays.parse("0.2,0.4"))
    assert [round(d.at - T0, 6) for d in decisions if isinstance(d, Retry)] == [0.2, 0.6]


def test_a_single_delay_is_used_for_every_retry() -> None:
    decisions = run_function_errors(AsyncConfig(), RetryDelays.parse("5"))
    assert [d.at - T0 for d in decisions if isinstance(d, Retry)] == [5.0, 10.0]


def test_success_is_delivered_with_the_attempt_counted() -> None:
    decision = decide(EventHistory(T0, attempts=2, runs=1), Outcome.SUCCESS, AsyncConfig(), LAMBDA, T0 + 70)
    assert isinstance(decision, Deliver)
    assert decision.history.attempts == 3


def test_throttles_back_off_exponentially_to_five_minutes_without_using_retries() -> None:
    history, now, waits = EventHistory(T0), T0, []
    for _ in range(12):
        decision = decide(history, Outcome.THROTTLED, AsyncConfig(), LAMBDA, now, error=THROTTLED)
        assert isinstance(decision, Retry)
        waits.append(decision.at - now)
        history, now = decision.history, decision.at
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert history.runs == 0 and history.attempts == 12 and history.throttles == 12
    # The function then runs and fails: its first retry is still to come, after the usual minute.
    decision = decide(history, Outcome.FUNCTION_ERROR, AsyncConfig(), LAMBDA, now, error=FAILED)
    assert isinstance(decision, Retry)
    assert decision.at == now + 60
    assert decision.history.runs == 1 and decision.history.throttles == 0


def test_system_errors_back_off_like_throttles() -> None:
    error = LastError(500, "engine down")
    decision = decide(
        EventHistory(T0, throttles=3), Outcome.SYSTEM_ERROR, AsyncConfig(), LAMBDA, T0, error=error
    )
    assert isinstance(decision, Retry)
    assert decision.at == T0 + 8
    assert decision.error == error


def test_throttles_go_on_until_the_event_is_too_old() -> None:
    config = AsyncConfig(maximum_event_age_seconds=60)
    history, now = EventHistory(T0), T0
    for _ in range(100):
        expired = before_attempt(history, config, LAMBDA, now, THROTTLED)
        if expired is not None:
            break
        decision = decide(history, Outcome.THROTTLED, config, LAMBDA, now, error=THROTTLED)
        assert isinstance(decision, Retry)
        history, now = decision.history, decision.at
    else:
        pytest.fail("the event never aged out")
    # Backoff 1+2+4+8+16 = 31 s, then the next (32 s) would pass 60 s: due at the expiry instead.
    assert now == T0 + 60
    assert expired.condition == retry.EVENT_AGE_EXCEEDED
    assert expired.error == THROTTLED
    assert expired.history.attempts == 6


def test_six_hours_is_the_default_event_age() -> None:
    history = EventHistory(T0, attempts=80, throttles=80)
    assert before_attempt(history, AsyncConfig(), LAMBDA, T0 + 21_599, None) is None
    expired = before_attempt(history, AsyncConfig(), LAMBDA, T0 + 21_600, None)
    assert isinstance(expired, Discard) and expired.condition == retry.EVENT_AGE_EXCEEDED


def test_a_retry_past_the_event_age_is_due_at_the_expiry() -> None:
    config = AsyncConfig(maximum_event_age_seconds=90)
    first = decide(EventHistory(T0), Outcome.FUNCTION_ERROR, config, LAMBDA, T0, error=FAILED)
    assert isinstance(first, Retry) and first.at == T0 + 60
    second = decide(first.history, Outcome.FUNCTION_ERROR, config, LAMBDA, first.at, error=FAILED)
    assert isinstance(second, Retry) and second.at == T0 + 90  # not T0 + 180
    expired = before_attempt(second.history, config, LAMBDA, second.at, second.error)
    assert isinstance(expired, Discard)
    assert expired.condition == retry.EVENT_AGE_EXCEEDED
    assert expired.history.runs == 2 and expired.error == FAILED


def test_delays_can_cap_the_event_age_below_lambdas_minimum() -> None:
    delays = RetryDelays(max_event_age=0.5)
    assert before_attempt(EventHistory(T0), AsyncConfig(), delays, T0 + 0.49, None) is None
    assert isinstance(before_attempt(EventHistory(T0), AsyncConfig(), delays, T0 + 0.5, None), Discard)


def test_zero_reserved_concurrency_discards_at_once() -> None:
    decision = decide(
        EventHistory(T0),
        Outcome.THROTTLED,
        AsyncConfig(),
        LAMBDA,
        T0,
        error=THROTTLED,
        reserved_concurrency=0,
    )
    assert isinstance(decision, Discard)
    assert decision.condition == retry.RETRIES_EXHAUSTED
    assert decision.error == THROTTLED
    assert decision.history.attempts == 1 and decision.history.runs == 0


@pytest.mark.parametrize("reserved", [None, 1, 5])
def test_a_throttle_under_some_reserved_concurrency_is_retried(reserved: int | None) -> None:
    decision = decide(
        EventHistory(T0),
        Outcome.THROTTLED,
        AsyncConfig(),
        LAMBDA,
        T0,
        error=THROTTLED,
        reserved_concurrency=reserved,
    )
    assert isinstance(decision, Retry) and decision.at == T0 + 1


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (Outcome.FUNCTION_GONE, LastError(404, "Function not found")),
        (Outcome.INVALID, LastError(400, "Handler 'x y' must be 1-128 characters without spaces.")),
    ],
)
def test_a_gone_function_or_a_refused_request_is_not_retried(outcome: Outcome, error: LastError) -> None:
    decision = decide(EventHistory(T0), outcome, AsyncConfig(), LAMBDA, T0, error=error)
    assert isinstance(decision, Discard) and decision.error == error
    assert decision.condition == retry.RETRIES_EXHAUSTED


def test_an_error_without_details_still_reports_a_status() -> None:
    decision = decide(EventHistory(T0), Outcome.SYSTEM_ERROR, AsyncConfig(), LAMBDA, T0)
    assert isinstance(decision, Retry)
    assert decision.error.status == 500


@pytest.mark.parametrize("text", ["", "a,b", "-1", "1,-2"])
def test_bad_delays_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        RetryDelays.parse(text)


def test_backoff_bounds_are_checked() -> None:
    with pytest.raises(ConfigError):
        RetryDelays(backoff_first=10, backoff_max=1)
    with pytest.raises(ConfigError):
        RetryDelays(max_event_age=0)


def test_shrunk_backoff_doubles_from_its_first_wait() -> None:
    delays = RetryDelays(backoff_first=0.05, backoff_max=0.3)
    assert [delays.backoff(n) for n in range(1, 6)] == [0.05, 0.1, 0.2, 0.3, 0.3]
