"""Deliver an invocation to an environment, wait for it under the deadline, and release or reset the
environment: the one place timeouts are enforced and platform failures are turned into Lambda's errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lambda_emu import wire
from lambda_emu.config import FunctionConfig
from lambda_emu.containers import ExitStatus
from lambda_emu.engine.environment import Environment
from lambda_emu.engine.logstream import end_line, init_report_line, report_line, timeout_line
from lambda_emu.engine.pool import EnvironmentPool
from lambda_emu.engine.runtime_api import PendingInvocation, ReplyKind, RuntimeReply
from lambda_emu.models import Invocation, InvocationResult, error_body

LOG = logging.getLogger(__name__)

# How long an invocation's output may trail its result through the engine's log stream (and how long a
# runtime without log markers may take to ask for its next event, which ends its invocation's output).
_LOG_GRACE_S = 2.0
# An invocation still running after this long has its START written to the log sinks; a quicker, quiet
# one's START goes out with its END and REPORT, in one write.
_LIVE_START_S = 0.1
# How often a running invocation's peak memory is read (see _wait_reply).
_MEMORY_SAMPLE_S = 0.25


# Replies the runtime posted (a response, or a function error it reported): the environment lives on.
_POSTED = (ReplyKind.RESPONSE, ReplyKind.ERROR, ReplyKind.TOO_LARGE)


class EnvironmentSource(Protocol):
    """Where an invocation's environment comes from and goes back to: the pool, or a version's provisioned
    environments (whose `acquire` takes no function: they are all of one)."""

    def answered(self, env: Environment) -> None: ...

    def release(self, env: Environment) -> None: ...


class ProvisionedSource(EnvironmentSource, Protocol):
    def acquire(self) -> Environment | None: ...


# Told the caller's answer before the invocation's bookkeeping is done (see Invoker.invoke).
Answered = Callable[[InvocationResult], None]
# A debug run waits on a person: for the IDE to attach before init, at a breakpoint in the handler. Its init
# limit and the function's timeout are lifted then, as SAM CLI lifts the timeout with --debug-port; a day
# still bounds every wait.
DEBUG_TIMEOUT_S = 24 * 3600.0


class Invoker:
    def __init__(
        self, pool: EnvironmentPool, *, debugged: Callable[[FunctionConfig], bool] | None = None
    ) -> None:
        self._pool = pool
        self._debugged = debugged  # which functions run under a debugger (None: none)

    def invoke(
        self,
        function: FunctionConfig,
        invocation: Invocation,
        *,
        answered: Answered | None = None,
        provisioned: ProvisionedSource | None = None,
    ) -> InvocationResult:
        """Run the invocation and return its whole result (REPORT figures and logs included).

        `answered`, when given, is called with the result as soon as the runtime has posted its response or
        function error: payload, error, Duration and version, but no memory figure and no logs yet. A caller
        that answers from it (the Invoke API without LogType=Tail) does not wait for the bookkeeping that
        follows: reading the cgroup, writing END and REPORT, and taking the runtime's next /next. Lambda too
        returns the response before it writes the REPORT line. Timeouts, crashes and init failures are only
        returned.

        `provisioned`: the environments initialised ahead for this version (provisioned concurrency), which
        serve the call when one is free; else it spills over to the pool's on-demand environments."""
        env = provisioned.acquire() if provisioned is not None else None
        source: EnvironmentSource = self._pool
        if env is None:
            env = self._pool.acquire(function)
        else:
            assert provisioned is not None
            source = provisioned
        try:
            return self._run(env, function, invocation, answered, source)
        finally:
            try:
                env.settle()  # the runtime connection the reply came on is read again
            finally:
                source.release(env)

    def _run(
        self,
        env: Environment,
        function: FunctionConfig,
        invocation: Invocation,
        answered: Answered | None,
        source: EnvironmentSource,
    ) -> InvocationResult:
        """One invocation in named steps: the event out (with init and its retry), the reply waited for,
        the caller answered early, the outcome read, END and REPORT written."""
        request_id = invocation.request_id
        pending, init_report = self._hand_out(env, function, invocation)
        start = pending.invoke_started or time.monotonic()
        reply = _wait_reply(env, pending, start + pending.timeout_s)
        # A reply the runtime posted (its event went out, so `start` is the hand-out): the caller's answer,
        # complete but for the REPORT figures read below.
        posted = _posted_result(reply, request_id, start, function, env.version)
        if answered is not None and posted is not None:
            self._answer_early(env, posted, answered, source)
        memory = env.max_memory_used_mb()  # read before any reset: a killed container's cgroup is gone
        init_ms = env.take_init_duration_ms()
        if init_report:
            init_ms = None  # the retried init ran inside the invoke phase: it is part of Duration
        outcome = _outcome(env, request_id, reply, pending, start, posted)
        result = InvocationResult(
            request_id=request_id,
            payload=outcome.payload,
            error_type=outcome.error_type,
            content_type=_content_type(reply),
            duration_ms=outcome.duration_ms,
            init_duration_ms=init_ms,
            memory_size_mb=function.memory_size,
            max_memory_used_mb=memory,
            executed_version=env.version,
            streamed=reply is not None and reply.streamed,
        )
        if pending.handed_out_at is None:
            env.log.begin_unsent(request_id, env.version)
        report = report_line(result, status=outcome.status)
        env.log.platform(request_id, end_line(request_id) + report + outcome.trailer)
        init_logs = init_report + (env.log.init_output() if init_ms is not None or init_report else "")
        return _with_logs(result, env.log.log_of(request_id), init_logs)

    def _hand_out(
        self, env: Environment, function: FunctionConfig, invocation: Invocation
    ) -> tuple[PendingInvocation, str]:
        """The invocation submitted and, on a cold start, the init phase through: the pending invocation
        and the INIT_REPORT of a failed init ("" when init succeeded)."""
        warm = env.warm
        debugging = self._debugged is not None and self._debugged(function)
        init_limit = DEBUG_TIMEOUT_S if debugging else wire.INIT_TIMEOUT_S
        timeout_s = DEBUG_TIMEOUT_S if debugging else None  # None: the function's own
        pending = env.submit(invocation, timeout_s=timeout_s)
        started = pending.wait_started(init_limit)
        unsent = _unsent_reply(pending) if warm and started else None
        if unsent is not None and unsent.kind is ReplyKind.EXITED:
            # The runtime exited right after answering its last invocation (e.g. Node's uncaught exception
            # in a timer), before it took this one: no init failed, so this is a plain cold start on a
            # fresh runtime, with its own Init Duration, as Lambda starts the next invoke.
            env.reset()
            env.log.wait_eof(_LOG_GRACE_S)
            env.start()
            pending = env.submit(invocation, timeout_s=timeout_s)
            started = pending.wait_started(init_limit)
        init_report = self._init_failure(env, pending, started)
        if init_report:
            # Lambda retries a failed or timed-out init once, inside the invoke phase and under the
            # function's own timeout ("suppressed init"), so an init error shows twice in the log.
            env.log.note(init_report)
            invoke_started = time.monotonic()
            env.reset()
            env.log.wait_eof(_LOG_GRACE_S)
            init_report = env.log.init_output() + init_report  # the failed init's own output first
            env.start()
            pending = env.submit(invocation, invoke_started=invoke_started, timeout_s=timeout_s)
            pending.wait_started(pending.timeout_s)
        return pending, init_report

    @staticmethod
    def _answer_early(
        env: Environment, posted: InvocationResult, answered: Answered, source: EnvironmentSource
    ) -> None:
        source.answered(env)  # a call arriving now waits for this environment, not a cold start
        try:
            answered(posted)
        except Exception:  # the caller's trouble: this invocation's bookkeeping still has to finish
            LOG.exception("answering invocation %s failed", posted.request_id)

    @staticmethod
    def _init_failure(env: Environment, pending: PendingInvocation, started: bool) -> str:
        """INIT_REPORT text when the init phase failed or passed its 10 s limit (`started` is False); ""
        when it succeeded."""
        if not started:
            return init_report_line(wire.INIT_TIMEOUT_S * 1000, "timeout")
        reply = _unsent_reply(pending)
        if reply is None:
            return ""
        if reply.kind is ReplyKind.INIT_ERROR:
            return init_report_line(env.init_elapsed_ms(), "error", _error_type(reply))
        if reply.kind is ReplyKind.EXITED:
            return init_report_line(env.init_elapsed_ms(), "error", wire.E_EXIT)
        return ""


@dataclass(frozen=True)
class _Outcome:
    """What the invocation came to: the caller's payload and error type, Duration, and for REPORT its
    status ("timeout", "error") and the lines Lambda's platform writes after it."""

    payload: bytes
    error_type: str | None
    duration_ms: float
    status: str | None = None
    trailer: str = ""


def _outcome(
    env: Environment,
    request_id: str,
    reply: RuntimeReply | None,
    pending: PendingInvocation,
    start: float,
    posted: InvocationResult | None,
) -> _Outcome:
    """The invocation's outcome once its reply came (or did not): a timeout, a posted response or function
    error, an init error, or the runtime's exit. A runtime that cannot go on is reset here."""
    if reply is None:
        elapsed = time.monotonic() - start
        env.reset()
        message = f"RequestId: {request_id} Error: Task timed out after {elapsed:.2f} seconds"
        env.wait_log_end(request_id, _LOG_GRACE_S)
        env.log.platform(request_id, timeout_line(request_id, elapsed))
        return _Outcome(error_body(wire.E_TIMEOUT, message), wire.E_TIMEOUT, elapsed * 1000, "timeout")
    duration_ms = (reply.received_at - start) * 1000 if pending.invoke_started else 0.0
    if posted is not None:
        env.finished()
        env.wait_log_end(request_id, _LOG_GRACE_S, answered=True)
        return _Outcome(reply.body, posted.error_type, duration_ms)
    if reply.kind is ReplyKind.INIT_ERROR:
        outcome = _init_error_outcome(request_id, reply, duration_ms)
        env.reset()  # the runtime exits after reporting; the next invoke re-inits
    else:  # EXITED
        env.reset()
        outcome = _exit_outcome(request_id, env.exit_status, duration_ms)
    env.wait_log_end(request_id, _LOG_GRACE_S)
    return outcome


def _init_error_outcome(request_id: str, reply: RuntimeReply, duration_ms: float) -> _Outcome:
    error_type = _error_type(reply)
    if error_type != wire.E_INVALID_ENTRYPOINT:
        return _Outcome(reply.body, error_type, duration_ms, "error")
    # Lambda's platform (not a runtime) reports a bootstrap it cannot run, in its own form:
    # "RequestId: <id> Error: Couldn't find valid bootstrap(s): [...]", also after REPORT.
    message = f"RequestId: {request_id} Error: {_error_message(reply)}"
    return _Outcome(
        error_body(error_type, message), error_type, duration_ms, "error", f"{message}\n{error_type}\n"
    )


def _exit_outcome(request_id: str, exit_status: ExitStatus | None, duration_ms: float) -> _Outcome:
    """The runtime process ended before it answered, as Lambda words it."""
    reason = exit_status.describe() if exit_status else "signal: killed"
    if exit_status is not None and exit_status.code == 0:
        message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
    else:
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
    oom = exit_status is not None and exit_status.oom_killed
    error_type = wire.E_OUT_OF_MEMORY if oom else wire.E_EXIT
    return _Outcome(
        error_body(error_type, message), error_type, duration_ms, "error", f"{message}\n{error_type}\n"
    )


def _posted_result(
    reply: RuntimeReply | None, request_id: str, start: float, function: FunctionConfig, version: str
) -> InvocationResult | None:
    """The result of a reply the runtime posted (a response or a function error), as the caller sees it
    before the REPORT figures are read; None for any other outcome."""
    if reply is None or reply.kind not in _POSTED:
        return None
    return InvocationResult(
        request_id=request_id,
        payload=reply.body,
        error_type=None if reply.kind is ReplyKind.RESPONSE else _error_type(reply),
        content_type=_content_type(reply),
        duration_ms=(reply.received_at - start) * 1000,
        memory_size_mb=function.memory_size,
        executed_version=version,
        streamed=reply.streamed,
    )


def _content_type(reply: RuntimeReply | None) -> str:
    """A response's own Content-Type; errors, timeouts and crashes answer JSON."""
    if reply is not None and reply.kind is ReplyKind.RESPONSE:
        return reply.content_type
    return "application/json"


def _wait_reply(env: Environment, pending: PendingInvocation, deadline: float) -> RuntimeReply | None:
    """The runtime's reply, or None when the (monotonic) deadline passes first. A long invocation's peak
    memory is read now and then meanwhile: if the runtime dies, its cgroup's figure goes with it."""
    first = min(deadline, time.monotonic() + _LIVE_START_S)
    reply = pending.wait_reply(max(0.0, first - time.monotonic()))
    if reply is None and first < deadline:
        env.log.flush_start()
        while reply is None and (remaining := deadline - time.monotonic()) > 0:
            env.sample_memory()
            reply = pending.wait_reply(min(remaining, _MEMORY_SAMPLE_S))
    return reply


def _unsent_reply(pending: PendingInvocation) -> RuntimeReply | None:
    """Once `wait_started` returned True: the reply of an invocation that ended before its event went out
    (a failed init, a runtime that exited first), else None."""
    if pending.handed_out_at is not None or not pending.future.done():
        return None
    return pending.future.result()


def _error_type(reply: RuntimeReply) -> str:
    """The error's type as the body names it (Lambda relays the body verbatim), else the header's."""
    error_type = _error_field(reply, "errorType")
    return error_type or reply.error_type or "Unhandled"


def _error_message(reply: RuntimeReply) -> str:
    message = _error_field(reply, "errorMessage")
    return message if message is not None else reply.body.decode(errors="replace")


def _error_field(reply: RuntimeReply, name: str) -> str | None:
    """A string member of the runtime's JSON error body, when it has one."""
    try:
        body = wire.loads_json(reply.body)
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _with_logs(result: InvocationResult, logs: str, init_logs: str) -> InvocationResult:
    # Not dataclasses.replace: this runs once per invoke, and replace inspects every field each time.
    return InvocationResult(**{**vars(result), "logs": logs, "init_logs": init_logs})
