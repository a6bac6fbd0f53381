"""Deliver an invocation to an environment, wait for it under the deadline, and release or reset the
environment: the one place timeouts are enforced and platform failures are turned into Lambda's errors."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout

from emulator import wire
from emulator.config import FunctionConfig
from emulator.environment import Environment
from emulator.logstream import end_line, report_line, timeout_line
from emulator.models import Invocation, InvocationResult, error_body
from emulator.pool import EnvironmentPool
from emulator.runtime_api import ReplyKind, RuntimeReply

LOG = logging.getLogger(__name__)

# How long an invocation's output may trail its result through the engine's log stream.
_LOG_GRACE_S = 2.0


class Invoker:
    def __init__(self, pool: EnvironmentPool) -> None:
        self._pool = pool

    def invoke(self, function: FunctionConfig, invocation: Invocation) -> InvocationResult:
        env = self._pool.acquire(function)
        try:
            return self._run(env, function, invocation)
        finally:
            self._pool.release(env)

    def _run(self, env: Environment, function: FunctionConfig, invocation: Invocation) -> InvocationResult:
        request_id = invocation.request_id
        submitted = time.monotonic()
        pending = env.submit(invocation)
        # Init has its own 10 s limit before the invoke phase's clock starts (contract §2).
        pending.wait_started(wire.INIT_TIMEOUT_S + pending.timeout_s)
        start = pending.handed_out_at or submitted
        try:
            reply: RuntimeReply | None = pending.future.result(
                timeout=max(0.0, start + pending.timeout_s - time.monotonic())
            )
        except FutureTimeout:
            reply = None
        memory = env.max_memory_used_mb()  # read before any reset: a killed container's cgroup is gone
        init_ms = env.take_init_duration_ms()

        status: str | None = None
        trailer = ""
        if reply is None:
            elapsed = time.monotonic() - start
            env.reset()
            status = "timeout"
            payload = error_body(
                wire.E_TIMEOUT, f"RequestId: {request_id} Error: Task timed out after {elapsed:.2f} seconds"
            )
            error_type: str | None = wire.E_TIMEOUT
            duration_ms = elapsed * 1000
            env.log.wait_end(request_id, _LOG_GRACE_S)
            env.log.platform(request_id, timeout_line(request_id, elapsed))
        else:
            duration_ms = (reply.received_at - start) * 1000 if pending.handed_out_at else 0.0
            payload, error_type = reply.body, None
            if reply.kind is ReplyKind.RESPONSE:
                env.finished()
            elif reply.kind in (ReplyKind.ERROR, ReplyKind.TOO_LARGE):
                error_type = _error_type(reply)
                env.finished()
            elif reply.kind is ReplyKind.INIT_ERROR:
                error_type = _error_type(reply)
                status = "error"
                env.reset()  # the runtime exits after reporting; the next invoke re-inits
            else:  # EXITED
                env.reset()
                exit_status = env.exit_status
                reason = exit_status.describe() if exit_status else "signal: killed"
                if exit_status is not None and exit_status.code == 0:
                    message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
                else:
                    message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
                oom = exit_status is not None and exit_status.oom_killed
                error_type = wire.E_OUT_OF_MEMORY if oom else wire.E_EXIT
                payload = error_body(error_type, message)
                status = "error"
                trailer = f"{message}\n{error_type}\n"
            env.log.wait_end(request_id, _LOG_GRACE_S)

        result = InvocationResult(
            request_id=request_id,
            payload=payload,
            error_type=error_type,
            content_type=reply.content_type
            if reply and reply.kind is ReplyKind.RESPONSE
            else "application/json",
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
            memory_size_mb=function.memory_size,
            max_memory_used_mb=memory,
            executed_version=env.version,
        )
        env.log.platform(request_id, end_line(request_id) + report_line(result, status=status) + trailer)
        init_logs = env.log.init_output() if init_ms is not None else ""
        return _with_logs(result, env.log.log_of(request_id), init_logs)


def _error_type(reply: RuntimeReply) -> str:
    """The error's type as the body names it (Lambda relays the body verbatim), else the header's."""
    try:
        body = json.loads(reply.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errorType"), str) and body["errorType"]:
        return str(body["errorType"])
    return reply.error_type or "Unhandled"


def _with_logs(result: InvocationResult, logs: str, init_logs: str) -> InvocationResult:
    from dataclasses import replace

    return replace(result, logs=logs, init_logs=init_logs)
