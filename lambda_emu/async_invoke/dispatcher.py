"""The workers that drain the event queue: one attempt per claimed event through `deliver`, the retry
policy's decision applied to the queue, dead letters and destination records handed to the sinks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lambda_emu import wire
from lambda_emu.async_invoke import records, retry
from lambda_emu.async_invoke.queue import EventQueue, QueuedEvent
from lambda_emu.async_invoke.retry import LastError, Outcome, RetryDelays
from lambda_emu.async_invoke.sinks import Sinks
from lambda_emu.config import AsyncConfig, EmulatorConfig
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError, LambdaEmuError, ThrottledError
from lambda_emu.models import InvocationResult

LOG = logging.getLogger(__name__)

# One attempt at an Event invocation of (function name, qualifier, payload, request id): raises
# ThrottledError / FunctionNotFoundError when it cannot run.
DeliverEvent = Callable[[str, str | None, bytes, str], InvocationResult]
# The AsyncConfig of (function name, qualifier invoked: alias, version or None for $LATEST).
ConfigFor = Callable[[str, str | None], AsyncConfig]
ReservedFor = Callable[[str], int | None]
FunctionArn = Callable[[str, str | None], str]

# The longest a worker sleeps without looking at the queue: it also picks up claims gone stale.
IDLE_WAIT = 30.0
# A floor under a wait for an event already due that another worker took: no hot loop on a race.
MIN_WAIT = 0.005


@dataclass(frozen=True)
class Pacing:
    """How the dispatcher works through its queue: its worker threads, Lambda's retry waits, the longest a
    worker sleeps without looking, and the wall clock due times are kept in (they outlive the process)."""

    workers: int = 2
    delays: RetryDelays = field(default_factory=RetryDelays)
    idle_wait: float = IDLE_WAIT
    clock: Callable[[], float] = time.time


class EventDispatcher:
    """Accepts Event invocations (the API's EventSink) and delivers them with Lambda's retries.

    `deliver` runs one attempt, `config_for(name, qualifier)` the AsyncConfig of the function as invoked
    (each version and alias has its own EventInvokeConfig), `reserved_concurrency` the function's
    ReservedConcurrentExecutions (0 sends events straight to the DLQ), `function_arn(name, qualifier)`
    the ARN the records name; `pacing` its workers, retry waits and clock."""

    def __init__(
        self,
        queue: EventQueue,
        deliver: DeliverEvent,
        config_for: ConfigFor,
        sinks: Sinks,
        *,
        pacing: Pacing | None = None,
        reserved_concurrency: ReservedFor | None = None,
        function_arn: FunctionArn | None = None,
    ) -> None:
        pacing = pacing or Pacing()
        if pacing.workers < 1:
            raise ValueError("an event dispatcher needs at least one worker")
        self.queue = queue
        self.deliver = deliver
        self.config_for = config_for
        self.sinks = sinks
        self.workers = pacing.workers
        self.delays = pacing.delays
        self.reserved_concurrency = reserved_concurrency or (lambda name: None)
        self.function_arn = function_arn or EmulatorConfig().function_arn  # the default region's
        self.idle_wait = pacing.idle_wait
        self._clock = pacing.clock
        self._cond = threading.Condition()
        self._generation = 0  # bumped on every queue change a sleeping worker should look at
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._settled = threading.Condition()  # notified whenever an event is finished or put back
        if sinks.accept is None:
            # Lambda destinations are Event invocations of local functions: through this dispatcher.
            sinks.accept = self.accept

    # ---- the EventSink the Lambda API calls
    def accept(self, function_name: str, qualifier: str | None, payload: bytes, request_id: str) -> None:
        """Keep the event durably (the 202 follows), then wake a worker. `qualifier` is the alias or
        version invoked (None or $LATEST: unqualified): every attempt resolves it again, as Lambda does."""
        if qualifier == wire.LATEST:
            qualifier = None  # one spelling of "unqualified" in the queue
        self.queue.put(function_name, request_id, payload, qualifier=qualifier, now=self._clock())
        LOG.debug("accepted event %s for %s (%s)", request_id, function_name, qualifier or wire.LATEST)
        self._wake()

    def forget(self, function_name: str) -> None:
        """A deleted function's queued events go with it: Lambda has nothing left to run them on, and a
        function created again under the name must not receive them."""
        dropped = self.queue.discard(function_name)
        if dropped:
            LOG.info("dropped %d queued event(s) of deleted function %s", dropped, function_name)
        self._settle()

    # ---- lifecycle
    def start(self) -> None:
        with self._cond:
            if self._threads:
                raise LambdaEmuError("the event dispatcher is already running")
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._run, name=f"lambda-emu-events-{n}", daemon=True)
                for n in range(1, self.workers + 1)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop taking events and join the workers. An attempt still running after `timeout` keeps its
        event claimed: it is finished if the attempt ends while the queue is open, else due again on the
        next start. True when every worker has ended."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            LOG.warning("event workers still delivering after %.1f s: %s", timeout, ", ".join(alive))
        return not alive

    def close(self, timeout: float = 10.0) -> bool:
        """Stop, then close the queue: for an owner that handed the queue over for good."""
        stopped = self.stop(timeout)
        self.queue.close()
        return stopped

    def __enter__(self) -> EventDispatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no event is left in the queue (delivered or discarded); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._settled:
            while self.queue.pending() > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(min(remaining, 0.5))
        return True

    # ---- workers
    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                seen = self._generation
            event = None
            try:
                event = self.queue.claim_due(self._clock())
            except Exception:
                LOG.exception("could not read the event queue")
            if event is not None:
                self._handle(event)
                continue
            try:
                next_due = self.queue.next_due()
            except Exception:
                next_due = None
            with self._cond:
                if self._stopping:
                    return
                if self._generation != seen:
                    continue  # the queue changed while we looked: look again before sleeping
                wait = self.idle_wait
                if next_due is not None:
                    wait = min(wait, max(MIN_WAIT, next_due - self._clock()))
                self._cond.wait(wait)

    def _wake(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify()

    def _settle(self) -> None:
        with self._settled:
            self._settled.notify_all()

    def _handle(self, event: QueuedEvent) -> None:
        try:
            self._process(event)
        except Exception:
            # A bug of ours must not lose the event nor kill the worker: try it again later.
            LOG.exception("event %s of %s failed unexpectedly", event.request_id, event.function_name)
            try:
                later = self._clock() + self.delays.backoff(event.history.throttles + 1)
                self.queue.reschedule(event.id, later, event.history, event.last_error)
            except Exception:
                LOG.exception("event %s stays claimed until it goes stale", event.request_id)
        finally:
            self._settle()

    def _process(self, event: QueuedEvent) -> None:
        name = event.function_name
        try:
            config = self.config_for(name, event.qualifier)
        except FunctionNotFoundError:
            # Its DLQ and destinations went with the function: nowhere to send the event.
            LOG.warning("event %s dropped: function %s no longer exists", event.request_id, name)
            self.queue.finish(event.id)
            return
        expired = retry.before_attempt(event.history, config, self.delays, self._clock(), event.last_error)
        if expired is not None:
            self._discard(event, config, expired)
            return
        outcome, error, result = self._attempt(event)
        reserved = self.reserved_concurrency(name) if outcome is Outcome.THROTTLED else None
        decision = retry.decide(
            event.history,
            outcome,
            config,
            self.delays,
            self._clock(),
            error=error,
            reserved_concurrency=reserved,
        )
        if isinstance(decision, retry.Retry):
            LOG.info(
                "event %s of %s: %s, retry in %.2f s",
                event.request_id,
                name,
                outcome.value,
                decision.at - self._clock(),
            )
            self.queue.reschedule(event.id, decision.at, decision.history, decision.error)
            self._wake()
        elif isinstance(decision, retry.Deliver):
            assert result is not None
            self._succeeded(event, config, decision, result)
        else:
            self._discard(event, config, decision)

    def _attempt(self, event: QueuedEvent) -> tuple[Outcome, LastError | None, InvocationResult | None]:
        try:
            result = self.deliver(event.function_name, event.qualifier, event.payload, event.request_id)
        except ThrottledError as exc:
            return Outcome.THROTTLED, LastError(retry.STATUS_THROTTLED, f"{exc.message} ({exc.reason})"), None
        except FunctionNotFoundError as exc:
            return Outcome.FUNCTION_GONE, LastError(retry.STATUS_NOT_FOUND, exc.message), None
        except (ConfigError, ApiError) as exc:
            if isinstance(exc, ApiError) and not exc.is_usage:
                return self._system_error(event, exc)
            LOG.warning("event %s of %s refused: %s", event.request_id, event.function_name, exc.message)
            return Outcome.INVALID, LastError(retry.STATUS_BAD_REQUEST, exc.message), None
        except LambdaEmuError as exc:
            return self._system_error(event, exc)
        except Exception as exc:
            LOG.exception("event %s of %s could not run", event.request_id, event.function_name)
            return (
                Outcome.SYSTEM_ERROR,
                LastError(retry.STATUS_SERVICE_ERROR, str(exc) or type(exc).__name__),
                None,
            )
        if result.failed:
            error = LastError(
                retry.STATUS_OK,
                records.error_message(result.payload),
                result.error_type,
                result.payload,
                result.executed_version,
            )
            return Outcome.FUNCTION_ERROR, error, result
        return Outcome.SUCCESS, None, result

    @staticmethod
    def _system_error(event: QueuedEvent, exc: LambdaEmuError) -> tuple[Outcome, LastError, None]:
        LOG.warning("event %s of %s could not run: %s", event.request_id, event.function_name, exc.message)
        return Outcome.SYSTEM_ERROR, LastError(retry.STATUS_SERVICE_ERROR, exc.message), None

    def _succeeded(
        self, event: QueuedEvent, config: AsyncConfig, decision: retry.Deliver, result: InvocationResult
    ) -> None:
        if config.on_success:
            record = records.invocation_record(
                request_id=event.request_id,
                function_arn=self._invoked_arn(event),
                condition=retry.SUCCESS,
                invoke_count=decision.history.attempts,
                request_payload=event.payload,
                status=retry.STATUS_OK,
                executed_version=result.executed_version,
                response_payload=result.payload,
                now=self._clock(),
            )
            self.sinks.destination(event.function_name, config.on_success, record)
        self.queue.finish(event.id)

    def _discard(self, event: QueuedEvent, config: AsyncConfig, decision: retry.Discard) -> None:
        name = event.function_name
        LOG.warning(
            "event %s of %s discarded (%s) after %d attempt(s)",
            event.request_id,
            name,
            decision.condition,
            decision.history.attempts,
        )
        if config.dead_letter_target:
            attributes = records.dead_letter_attributes(event.request_id, decision.error)
            self.sinks.dead_letter(name, config.dead_letter_target, event.payload, attributes)
        if config.on_failure:
            record = records.failure_record(
                request_id=event.request_id,
                function_arn=self._invoked_arn(event),
                condition=decision.condition,
                invoke_count=decision.history.attempts,
                request_payload=event.payload,
                error=decision.error,
                now=self._clock(),
            )
            self.sinks.destination(name, config.on_failure, record)
        # Sent first, finished after: a crash in between repeats the dead letter rather than lose it.
        self.queue.finish(event.id)

    def _invoked_arn(self, event: QueuedEvent) -> str:
        # A record names the function as invoked (alias or version, $LATEST when unqualified; Lambda's
        # asynchronous invocation);
        # the version an alias picked is its responseContext.executedVersion.
        return self.function_arn(event.function_name, event.qualifier or wire.LATEST)
