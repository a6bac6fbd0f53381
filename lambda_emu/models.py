"""Pure data passed between the layers: invocations, their results, invocation types."""

from __future__ import annotations

import enum
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from lambda_emu import wire


class InvocationType(enum.Enum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda hands it to the runtime: Root=1-<epoch hex>-<24 hex>;..."""
    random = os.urandom(24).hex()  # one read for the three random parts (a hot path: one per invoke)
    root = f"1-{int(time.time()):08x}-{random[:24]}"
    return f"Root={root};Parent={random[24:40]};Sampled=0;Lineage=1:{random[40:]}:0"


class ResponseStream(Protocol):
    """Where a streamed response goes as the runtime writes it (InvokeWithResponseStream, a Function URL
    in RESPONSE_STREAM mode). Called from whichever thread reads the runtime's POST, in order: `begin`
    once, then `write` per chunk; the invocation's result comes after the last."""

    def begin(self, content_type: str) -> None:
        """The runtime started a streamed response of this Content-Type."""

    def write(self, chunk: bytes) -> None:
        """One chunk of it, as it arrived."""


@dataclass(frozen=True)
class Invocation:
    """One call of a function, as the Runtime API will deliver it."""

    payload: bytes
    invoked_function_arn: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invocation_type: InvocationType = InvocationType.REQUEST_RESPONSE
    client_context: str | None = None  # JSON text, already base64-decoded
    cognito_identity: str | None = None  # JSON text
    trace_id: str = field(default_factory=new_trace_id)
    tenant_id: str | None = None
    content_type: str = "application/json"
    # Where a response the runtime streams is sent as it arrives; None: it is buffered whole, as Invoke
    # answers a streaming function.
    response_stream: ResponseStream | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InvocationResult:
    """What Lambda returns for an invocation, with the figures of its REPORT line."""

    request_id: str
    payload: bytes
    error_type: str | None = None  # set when the function failed (X-Amz-Function-Error: Unhandled)
    content_type: str = "application/json"
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # only on a cold start
    memory_size_mb: int = 128
    max_memory_used_mb: int = 0
    executed_version: str = wire.LATEST
    logs: str = ""  # the function's own output during this invocation
    streamed: bool = False  # the payload went to the invocation's response_stream as it came (not here)
    init_logs: str = ""  # output of the init phase, on a cold start

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def function_error(self) -> str | None:
        """The X-Amz-Function-Error header: always "Unhandled" today (Lambda API Reference: Invoke)."""
        return "Unhandled" if self.failed else None

    @property
    def billed_duration_ms(self) -> int:
        # 1-ms granularity since Dec 2020; since Aug 2025 the init phase is billed too (Lambda's platform
        # log lines).
        total = self.duration_ms + (self.init_duration_ms or 0.0)
        return max(1, int(-(-total // 1)))

    def error_payload(self) -> dict[str, object] | None:
        if not self.failed:
            return None
        try:
            body = json.loads(self.payload)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


def error_body(error_type: str, message: str) -> bytes:
    """A platform error payload in Lambda's shape (errorMessage first, as Lambda serialises it)."""
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()
