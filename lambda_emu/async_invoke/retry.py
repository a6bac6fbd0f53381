"""Lambda's retry policy for Event invocations as a pure function: an event's history, the outcome of one
attempt and the function's AsyncConfig in, a decision out. No I/O and no clock reads (`now` is passed)."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from lambda_emu import wire
from lambda_emu.config import AsyncConfig
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

# Lambda waits 1 min before the first retry of a function error and 2 min before the second; throttles
# and system errors back off exponentially from 1 s to 5 min (Lambda's asynchronous invocation).
LAMBDA_RETRY_DELAYS = (60.0, 120.0)
LAMBDA_BACKOFF_FIRST = 1.0
LAMBDA_BACKOFF_MAX = 300.0

# Discard conditions, as the on-failure record's requestContext.condition names them.
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
SUCCESS = "Success"

# ErrorCode of a dead letter is the HTTP status of the last attempt: a function error is answered with 200.
STATUS_OK = 200
STATUS_BAD_REQUEST = 400
STATUS_NOT_FOUND = 404
STATUS_THROTTLED = 429
STATUS_SERVICE_ERROR = 500


class Outcome(enum.Enum):
    """What one attempt at delivering an event came to."""

    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"  # the code ran and failed: exception, timeout, crash
    THROTTLED = "throttled"  # 429: no concurrency available
    SYSTEM_ERROR = "system-error"  # 5xx-like: the emulator could not run the function
    FUNCTION_GONE = "function-gone"  # the function no longer exists
    INVALID = "invalid"  # 4xx-like: the request or the function's configuration is refused as it stands


@dataclass(frozen=True)
class RetryDelays:
    """The waits of the policy, in seconds. Lambda's by default; shrink them for tests or quick feedback
    (`RetryDelays.parse("0.2,0.4")`). `max_event_age` caps every function's MaximumEventAgeInSeconds
    (whose minimum, 60 s, is otherwise too long for a test to wait)."""

    function_errors: tuple[float, ...] = LAMBDA_RETRY_DELAYS
    backoff_first: float = LAMBDA_BACKOFF_FIRST
    backoff_max: float = LAMBDA_BACKOFF_MAX
    max_event_age: float | None = None

    def __post_init__(self) -> None:
        values = (*self.function_errors, self.backoff_first, self.backoff_max)
        if not self.function_errors or any(v < 0 for v in values):
            raise ConfigError("Async retry delays must be one or more seconds of zero or more.")
        if self.backoff_max < self.backoff_first:
            raise ConfigError("The longest throttle backoff must not be shorter than the first.")
        if self.max_event_age is not None and self.max_event_age <= 0:
            raise ConfigError("The maximum event age must be more than zero seconds.")

    @classmethod
    def parse(cls, text: str, **options: float | None) -> RetryDelays:
        """`"60,120"`: the waits before retry 1 and retry 2 (the last repeats if there are more retries)."""
        try:
            delays = tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise ConfigError(
                f"Async retry delays must be seconds separated by commas, such as 60,120; got {text!r}."
            ) from None
        return cls(delays, **options)  # type: ignore[arg-type]

    def before_retry(self, retry: int) -> float:
        """The wait before retry number `retry` (1-based) of a function error."""
        return self.function_errors[min(retry, len(self.function_errors)) - 1]

    def backoff(self, throttles: int) -> float:
        """The wait after the `throttles`-th throttle or system error in a row: doubling, capped."""
        return min(self.backoff_max, self.backoff_first * 2 ** max(0, throttles - 1))

    def event_age(self, config: AsyncConfig) -> float:
        age = float(config.maximum_event_age_seconds)
        return age if self.max_event_age is None else min(age, self.max_event_age)


@dataclass(frozen=True)
class LastError:
    """Why the latest attempt failed: what a dead letter and an on-failure record report."""

    status: int  # HTTP status of the attempt: 200 for a function error, 429 throttled, 5xx system
    message: str
    error_type: str | None = None
    response: bytes | None = None  # the function's error payload, when the function ran
    executed_version: str = wire.LATEST


@dataclass(frozen=True)
class EventHistory:
    """What the policy needs to know of an event's past."""

    accepted_at: float
    attempts: int = 0  # every delivery attempt so far, throttled ones included (approximateInvokeCount)
    runs: int = 0  # attempts in which the function ran and failed
    throttles: int = 0  # throttles and system errors since the function last ran


@dataclass(frozen=True)
class Retry:
    """Put the event back, due at `at`, with its updated history."""

    at: float
    history: EventHistory
    error: LastError


@dataclass(frozen=True)
class Deliver:
    """The function succeeded: the event is done; the on-success destination gets a record."""

    history: EventHistory


@dataclass(frozen=True)
class Discard:
    """The event is done with: to the dead-letter queue and the on-failure destination, if configured."""

    condition: str  # RetriesExhausted | EventAgeExceeded
    history: EventHistory
    error: LastError | None


Decision = Retry | Deliver | Discard


def expiry(history: EventHistory, config: AsyncConfig, delays: RetryDelays) -> float:
    """When the event gets too old to be delivered."""
    return history.accepted_at + delays.event_age(config)


def before_attempt(
    history: EventHistory, config: AsyncConfig, delays: RetryDelays, now: float, last: LastError | None
) -> Discard | None:
    """Events older than MaximumEventAgeInSeconds are discarded instead of delivered."""
    if now >= expiry(history, config, delays):
        return Discard(EVENT_AGE_EXCEEDED, history, last)
    return None


def decide(
    history: EventHistory,
    outcome: Outcome,
    config: AsyncConfig,
    delays: RetryDelays,
    now: float,
    *,
    error: LastError | None = None,
    reserved_concurrency: int | None = None,
) -> Decision:
    """What to do with an event after one attempt. `error` describes a failed attempt."""
    tried = EventHistory(history.accepted_at, history.attempts + 1, history.runs, history.throttles)
    if outcome is Outcome.SUCCESS:
        return Deliver(tried)
    if error is None:
        error = LastError(STATUS_SERVICE_ERROR, outcome.value)
    if outcome in (Outcome.FUNCTION_GONE, Outcome.INVALID):
        # Lambda retries only function errors, throttles and 5xx; a refusal would only be refused again.
        return Discard(RETRIES_EXHAUSTED, tried, error)
    if outcome is Outcome.FUNCTION_ERROR:
        ran = EventHistory(tried.accepted_at, tried.attempts, tried.runs + 1, throttles=0)
        if ran.runs > config.maximum_retry_attempts:
            return Discard(RETRIES_EXHAUSTED, ran, error)
        wait = delays.before_retry(ran.runs)
        return _retry_or_expire(ran, now + wait, config, delays, error)
    if outcome is Outcome.THROTTLED and reserved_concurrency == 0:
        # Reserved concurrency 0 sends new events to the DLQ / on-failure destination without any retries.
        return Discard(RETRIES_EXHAUSTED, tried, error)
    # Throttles and system errors go back to the queue without using up a retry attempt.
    backed = EventHistory(tried.accepted_at, tried.attempts, tried.runs, tried.throttles + 1)
    return _retry_or_expire(backed, now + delays.backoff(backed.throttles), config, delays, error)


def _retry_or_expire(
    history: EventHistory, at: float, config: AsyncConfig, delays: RetryDelays, error: LastError
) -> Retry:
    # An event that will be too old by the time of its retry is due at its expiry instead, so that it
    # reaches the DLQ when it ages out rather than minutes later.
    return Retry(min(at, expiry(history, config, delays)), history, error)
