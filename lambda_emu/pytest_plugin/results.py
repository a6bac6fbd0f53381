"""What a test gets back from lambda_invoke: one invocation's outcome, with assertion helpers that show the
function's error and log."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_emu.models import InvocationResult

LOG = logging.getLogger(__name__)

# The Invoke API answers a RequestResponse call with 200, a function error included (X-Amz-Function-Error
# tells them apart): AWS docs, Lambda API reference, Invoke, Response syntax.
INVOKE_STATUS = 200


@dataclass(frozen=True)
class LambdaResult:
    """One invocation's outcome, as the Invoke API and the REPORT line give it."""

    function_name: str
    raw: bytes  # the response body, as Invoke returns it
    error_type: str | None
    error_message: str | None
    logs: str  # the init output on a cold start, then START … END, REPORT
    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None  # None when a warm environment served it
    executed_version: str
    status_code: int = INVOKE_STATUS

    @classmethod
    def of(cls, function_name: str, result: InvocationResult) -> LambdaResult:
        error = result.error_payload() or {}
        message = error.get("errorMessage")
        return cls(
            function_name=function_name,
            raw=result.payload,
            error_type=result.error_type,
            error_message=str(message) if message is not None and result.failed else None,
            logs=result.init_logs + result.logs,
            request_id=result.request_id,
            duration_ms=result.duration_ms,
            billed_duration_ms=result.billed_duration_ms,
            memory_size_mb=result.memory_size_mb,
            max_memory_used_mb=result.max_memory_used_mb,
            init_duration_ms=result.init_duration_ms,
            executed_version=result.executed_version,
        )

    @property
    def payload(self) -> Any:
        """The response parsed as JSON (None when empty; the text itself when it is not JSON)."""
        if not self.raw:
            return None
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw.decode(errors="replace")

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def function_error(self) -> str | None:
        """The X-Amz-Function-Error header: "Unhandled" for every function error (Lambda API, Invoke)."""
        return "Unhandled" if self.failed else None

    def describe(self) -> str:
        outcome = f"failed with {self.error_type}: {self.error_message}" if self.failed else "succeeded"
        return f"{self.function_name} (RequestId: {self.request_id}) {outcome}"

    def assert_ok(self) -> LambdaResult:
        """Fail the test, with the function's error and log, unless the invocation succeeded."""
        if self.failed:
            raise AssertionError(f"{self.describe()}\n{self.logs}")
        return self

    def assert_error(self, error_type: str | None = None, message: str | None = None) -> LambdaResult:
        """Fail the test unless the function failed (with `error_type`, and `message` in its message)."""
        if not self.failed:
            raise AssertionError(f"{self.describe()}, an error was expected: {self.raw!r}\n{self.logs}")
        if error_type is not None and self.error_type != error_type:
            raise AssertionError(f"{self.describe()}, {error_type} was expected\n{self.logs}")
        if message is not None and message not in (self.error_message or ""):
            raise AssertionError(f"{self.describe()}, a message with {message!r} was expected\n{self.logs}")
        return self
