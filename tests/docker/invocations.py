"""Invoking through the facade in Docker tests: one JSON event in, the result or its JSON answer out."""

from __future__ import annotations

import json

from lambda_emu.config import FunctionConfig
from lambda_emu.facade import Emulator
from lambda_emu.models import InvocationResult


def invoke(emu: Emulator, function: FunctionConfig, event: object) -> InvocationResult:
    return emu.invoke(function, emu.invocation(function, json.dumps(event).encode()))


def answer(result: InvocationResult) -> dict:  # type: ignore[type-arg]
    """The successful result's JSON object (the failure's payload in the assertion message)."""
    assert not result.failed, result.payload
    value = json.loads(result.payload)
    assert isinstance(value, dict)
    return value
