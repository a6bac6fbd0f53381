"""The Lambda API's operations, apart from HTTP: Invoke (RequestResponse, Event, DryRun) and the
concurrency and event-invoke configuration calls, with Lambda's validation and throttling."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from emulator import wire
from emulator.concurrency import ConcurrencyLimits
from emulator.config import AsyncConfig
from emulator.control.plane import ControlPlane
from emulator.control.policy import POLICY_FILE, PolicyStore
from emulator.errors import ConfigError
from emulator.models import InvocationResult, InvocationType
from emulator.registry import FunctionRegistry

if TYPE_CHECKING:
    from emulator.facade import Emulator

LOG = logging.getLogger(__name__)

MAX_EVENT_REQUEST_BYTES = 1024 * 1024  # Event invocations: 1 MB (contract §1)
TAIL_BYTES = 4096


class EventSink(Protocol):
    """Where accepted Event invocations go (the durable event queue): kept on disk before it returns.
    `qualifier` is the alias or version invoked; None (or $LATEST) when unqualified."""

    def accept(self, function_name: str, qualifier: str | None, payload: bytes, request_id: str) -> None: ...

    def forget(self, function_name: str) -> None:
        """Drop the queued events of a deleted function."""


@dataclass(frozen=True)
class InvokeOutcome:
    """What Invoke answers: status, the payload, and the headers Lambda sets."""

    status: int
    request_id: str
    payload: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    result: InvocationResult | None = None


class LambdaService:
    def __init__(
        self,
        emulator: Emulator,
        registry: FunctionRegistry,
        limits: ConcurrencyLimits,
        events: EventSink | None = None,
    ) -> None:
        self.emulator = emulator
        self.registry = registry
        self.limits = limits
        self.events = events
        self._event_configs: dict[str, tuple[AsyncConfig, float]] = {}  # name → (config, LastModified)
        self.policies = PolicyStore(emulator.config.state_dir / POLICY_FILE)  # read on first use
        # Function management; retire is looked up per call (the emulator's warm environments at that time).
        self.control = ControlPlane(registry, lambda name: emulator.retire(name), emulator.config)

    # ---- Invoke
    def invoke(
        self,
        function_name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str | None = None,
        log_type: str | None = None,
        client_context: str | None = None,
        caller: str | None = None,  # who signed a DryRun (an IAM ARN): checked against the function's policy
        respond: Callable[[InvokeOutcome], None] | None = None,
    ) -> InvokeOutcome:
        """One Invoke. `respond`, when given, gets a RequestResponse call's outcome as soon as the function
        has answered (not for LogType=Tail, whose log is complete only after); the call then goes on with
        the invocation's bookkeeping and returns the same outcome."""
        kind = _invocation_type(invocation_type)
        if log_type not in (None, "None", "Tail"):
            raise ConfigError(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Tail, None]",
                error_code="ValidationException",
            )
        ref = self.registry.resolve(function_name, qualifier)
        if kind is InvocationType.EVENT and len(payload) > MAX_EVENT_REQUEST_BYTES:
            raise ConfigError(
                f"{len(payload)} byte payload is too large for the Event invocation type "
                f"(limit {MAX_EVENT_REQUEST_BYTES} bytes)",
                error_code="RequestEntityTooLargeException",
            )
        invocation = self.emulator.invocation(
            ref.function,
            payload,
            client_context_b64=client_context if kind is InvocationType.REQUEST_RESPONSE else None,
            qualifier=ref.qualifier,
        )
        version = {wire.X_EXECUTED_VERSION: ref.executed_version}
        if kind is InvocationType.DRY_RUN:
            if caller is not None:
                # $LATEST has no policy of its own: the unqualified function's governs it.
                qualifier = None if ref.qualifier == wire.LATEST else ref.qualifier
                arn = self.emulator.config.function_arn(ref.function.name, qualifier)
                self.policies.check_invoke(caller, ref.function.name, qualifier, arn)
            return InvokeOutcome(204, invocation.request_id, headers=version)
        if kind is InvocationType.EVENT:
            if self.events is None:
                raise ConfigError(
                    "This emulator accepts no Event invocations.", error_code="ServiceException"
                )
            # The qualifier, not the version resolved now: each attempt resolves it again (an alias may
            # have moved, or pick another version by weight), as Lambda runs an alias per attempt.
            self.events.accept(ref.function.name, ref.qualifier, invocation.payload, invocation.request_id)
            return InvokeOutcome(202, invocation.request_id)
        answered: Callable[[InvocationResult], None] | None = None
        with self.limits.slot(ref.function.name) as slot:
            if respond is not None and log_type != "Tail":

                def answered(early: InvocationResult) -> None:
                    slot.release()  # answered: the caller may invoke again at once, unthrottled
                    respond(_invoked(early, version))

            result = self.emulator.invoke(ref.function, invocation, answered=answered)
        outcome = _invoked(result, version)
        if log_type == "Tail":
            tail = result.logs.encode()[-TAIL_BYTES:]
            outcome.headers[wire.X_LOG_RESULT] = base64.b64encode(tail).decode()
        return outcome

    def deliver_event(
        self, function_name: str, qualifier: str | None, payload: bytes, request_id: str
    ) -> InvocationResult:
        """One attempt at an accepted Event invocation of `function_name` at `qualifier` (alias, version,
        or None for $LATEST), called by the event queue."""
        ref = self.registry.resolve(function_name, qualifier)
        invocation = replace(
            self.emulator.invocation(ref.function, payload, qualifier=ref.qualifier),
            request_id=request_id,
            invocation_type=InvocationType.EVENT,
        )
        with self.limits.slot(ref.function.name):
            return self.emulator.invoke(ref.function, invocation)

    # ---- PutFunctionConcurrency / GetFunctionConcurrency / DeleteFunctionConcurrency
    def put_concurrency(self, function_name: str, body: bytes) -> dict[str, int]:
        name = self._function_name(function_name)
        amount = json_object(body).get("ReservedConcurrentExecutions")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ConfigError(
                "1 validation error detected: Value at 'reservedConcurrentExecutions' failed to satisfy "
                "constraint: Member must have value greater than or equal to 0",
                error_code="ValidationException",
            )
        self.limits.reserve(name, amount)
        return {"ReservedConcurrentExecutions": amount}

    def get_concurrency(self, function_name: str) -> dict[str, int]:
        name = self._function_name(function_name)
        amount = self.limits.reserved(name)
        return {} if amount is None else {"ReservedConcurrentExecutions": amount}

    def delete_concurrency(self, function_name: str) -> None:
        self.limits.unreserve(self._function_name(function_name))

    def forget(self, name: str) -> None:
        """Everything kept about a function apart from the function store goes when the function does,
        however it went (DeleteFunction, a template reload, a template that no longer has it at start):
        reserved concurrency, EventInvokeConfig, the resource policies of every qualifier and its queued
        events. A function created again under the name starts without them, as in Lambda."""
        self.limits.unreserve(name)
        self._event_configs.pop(name, None)
        self.policies.forget(name)
        if self.events is not None:
            self.events.forget(name)

    # ---- Put/Update/Get/DeleteFunctionEventInvokeConfig
    def async_config(self, function_name: str) -> AsyncConfig:
        """The function's EventInvokeConfig as set through the API, else as its configuration has it."""
        stored = self._event_configs.get(function_name)
        return stored[0] if stored else self.registry.get(function_name).async_config

    def put_event_invoke_config(self, function_name: str, body: bytes, *, merge: bool) -> dict[str, object]:
        name = self._function_name(function_name)
        fields = json_object(body)
        current = self.async_config(name)
        # PUT replaces the whole EventInvokeConfig; POST (Update) merges into it. The DLQ is not part of it.
        base = current if merge else AsyncConfig(dead_letter_target=current.dead_letter_target)
        destinations = fields.get("DestinationConfig") or {}
        if not isinstance(destinations, dict):
            raise ConfigError("DestinationConfig must be an object.")
        config = replace(
            base,
            maximum_retry_attempts=fields.get("MaximumRetryAttempts", base.maximum_retry_attempts),
            maximum_event_age_seconds=fields.get("MaximumEventAgeInSeconds", base.maximum_event_age_seconds),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination", base.on_success),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination", base.on_failure),
        )
        try:
            config.validate()
        except ConfigError as exc:
            raise ConfigError(exc.message, error_code="ValidationException") from exc
        self._event_configs[name] = (config, round(time.time(), 3))  # epoch seconds, as Lambda answers
        return self._render_event_config(name)

    def get_event_invoke_config(self, function_name: str) -> dict[str, object]:
        return self._render_event_config(self._configured(function_name))

    def delete_event_invoke_config(self, function_name: str) -> None:
        del self._event_configs[self._configured(function_name)]

    def _configured(self, function_name: str) -> str:
        """The name of a function that has an EventInvokeConfig set through the API."""
        name = self._function_name(function_name)
        if name not in self._event_configs:
            raise ConfigError(
                f"The function {self.emulator.config.function_arn(name)} doesn't have an EventInvokeConfig",
                error_code="ResourceNotFoundException",
            )
        return name

    def _function_name(self, function_name: str) -> str:
        """The function a configuration call names (name, partial or full ARN), looked up as GetFunction
        looks it up rather than as Invoke resolves it: these calls run nothing, so neither Invoke's check
        that the function is Active nor an alias's weighted pick of a version applies."""
        return self.registry.record(function_name).name

    def _render_event_config(self, name: str) -> dict[str, object]:
        config, modified = self._event_configs[name]
        return {
            "LastModified": modified,
            "FunctionArn": self.emulator.config.function_arn(name, wire.LATEST),
            "MaximumRetryAttempts": config.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": config.maximum_event_age_seconds,
            "DestinationConfig": {
                "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
                "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
            },
        }


def _invoked(result: InvocationResult, version: dict[str, str]) -> InvokeOutcome:
    """A RequestResponse call's outcome: the payload, with Lambda's headers."""
    headers = dict(version, **{"Content-Type": result.content_type})
    if result.function_error:
        headers[wire.X_FUNCTION_ERROR] = result.function_error
    return InvokeOutcome(200, result.request_id, result.payload, headers, result)


def _invocation_type(value: str | None) -> InvocationType:
    try:
        return InvocationType(value or InvocationType.REQUEST_RESPONSE.value)
    except ValueError:
        raise ConfigError(
            f"1 validation error detected: Value '{value}' at 'invocationType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            error_code="ValidationException",
        ) from None


def json_object(body: bytes) -> dict[str, Any]:  # values checked by the callers
    try:
        value = json.loads(body or b"{}")
    except ValueError as exc:
        raise ConfigError(
            f"Could not parse request body into json: {exc}", error_code="InvalidRequestContentException"
        ) from exc
    if not isinstance(value, dict):
        raise ConfigError(
            "The request body must be a JSON object.", error_code="InvalidRequestContentException"
        )
    return value
