"""The Lambda API's operations, apart from HTTP: Invoke (RequestResponse, Event, DryRun) and the
concurrency and event-invoke configuration calls, with Lambda's validation and throttling."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from lambda_emu import wire
from lambda_emu.config import AsyncConfig
from lambda_emu.control import bodies, event_configs, tenancy
from lambda_emu.control.code_signing import CodeSigningConfigs
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.event_configs import EVENT_CONFIG_FILE, EventConfigStore
from lambda_emu.control.function_settings import FunctionSettings
from lambda_emu.control.function_urls import FUNCTION_URL_FILE, FunctionUrlStore
from lambda_emu.control.layer_versions import LayerStore
from lambda_emu.control.plane import ControlPlane
from lambda_emu.control.policy import POLICY_FILE, PolicyStore
from lambda_emu.control.provisioned import ProvisionedConcurrencyConfigs
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.request_shapes import OPERATIONS
from lambda_emu.control.validation import check_request
from lambda_emu.errors import ApiError
from lambda_emu.models import InvocationResult, InvocationType, ResponseStream

if TYPE_CHECKING:
    from lambda_emu.event_sources.pollers import EventSources
    from lambda_emu.facade import Emulator

LOG = logging.getLogger(__name__)
_INVOKE = OPERATIONS["Invoke"]

MAX_EVENT_REQUEST_BYTES = 1024 * 1024  # Event invocations: 1 MB (Lambda's Runtime API)
TAIL_BYTES = 4096


class EventSink(Protocol):
    """Where accepted Event invocations go (the durable event queue): kept on disk before it returns.
    `qualifier` is the alias or version invoked; None (or $LATEST) when unqualified."""

    def accept(
        self,
        function_name: str,
        qualifier: str | None,
        payload: bytes,
        request_id: str,
        *,
        tenant_id: str | None = None,
    ) -> None: ...

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
    """Lambda's API operations (Invoke in its three types, the control plane's operations) over an
    Emulator, the registry of functions and the concurrency limits: what the HTTP layer (api/http.py)
    calls, with no HTTP of its own. Built by LambdaServer (server.py)."""

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
        self.event_sources: EventSources | None = None  # serve attaches its event source mappings
        # Both read on first use, kept in the state directory: a restart of serve keeps them, as Lambda does.
        self.event_configs = EventConfigStore(emulator.config.state_dir / EVENT_CONFIG_FILE)
        self.policies = PolicyStore(emulator.config.state_dir / POLICY_FILE)
        self.function_urls = FunctionUrlStore(emulator.config.state_dir / FUNCTION_URL_FILE)
        self.function_url_port: int | None = None  # where serve's Function URL front listens, once it does
        # Function management; retire is looked up per call (the emulator's warm environments at that time).
        self.layers = LayerStore(emulator.config.state_dir, emulator.config)
        self.control = ControlPlane(
            registry, lambda name: emulator.retire(name), emulator.config, layers=self.layers.content_of
        )
        self.provisioned = ProvisionedConcurrencyConfigs(
            registry, limits, emulator, emulator.config, emulator.config.state_dir
        )
        # Stored and answered, not acted on: code signing configs, runtime management and recursion configs.
        self.code_signing = CodeSigningConfigs(emulator.config, emulator.config.state_dir)
        self.settings = FunctionSettings(
            registry, self.code_signing, emulator.config, emulator.config.state_dir
        )
        self.code_signing.users = self.settings.uses

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
        tenant_id: str | None = None,  # X-Amz-Tenant-Id: a function in tenant isolation mode needs one
        stream: Callable[[str, str], ResponseStream] | None = None,
    ) -> InvokeOutcome:
        """One Invoke. `respond`, when given, gets a RequestResponse call's outcome as soon as the function
        has answered (not for LogType=Tail, whose log is complete only after); the call then goes on with
        the invocation's bookkeeping and returns the same outcome. `stream`, when given, makes (from the
        request id and the executed version) where a response the function streams goes as it comes
        (InvokeWithResponseStream); the result then says it was streamed."""
        # Over HTTP the request was checked against the model already (api/inputs.py); in-process calls are
        # answered the same way.
        check_request(_INVOKE, {"InvocationType": invocation_type, "LogType": log_type})
        kind = InvocationType(invocation_type or InvocationType.REQUEST_RESPONSE.value)
        ref = self.registry.resolve(function_name, qualifier)
        tenancy.check(self.registry.store.latest(ref.function.name), tenant_id)
        if kind is InvocationType.EVENT and len(payload) > MAX_EVENT_REQUEST_BYTES:
            raise ApiError(
                "RequestEntityTooLargeException",
                f"{len(payload)} byte payload is too large for the Event invocation type "
                f"(limit {MAX_EVENT_REQUEST_BYTES} bytes)",
            )
        invocation = self.emulator.invocation(
            ref.function,
            payload,
            client_context_b64=client_context if kind is InvocationType.REQUEST_RESPONSE else None,
            qualifier=ref.qualifier,
        )
        if tenant_id is not None:
            invocation = replace(invocation, tenant_id=tenant_id)
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
                raise ApiError("ServiceException", "This emulator accepts no Event invocations.")
            # The qualifier, not the version resolved now: each attempt resolves it again (an alias may
            # have moved, or pick another version by weight), as Lambda runs an alias per attempt.
            self.events.accept(
                ref.function.name,
                ref.qualifier,
                invocation.payload,
                invocation.request_id,
                **({"tenant_id": tenant_id} if tenant_id is not None else {}),
            )
            return InvokeOutcome(202, invocation.request_id)
        if stream is not None:
            out = stream(invocation.request_id, ref.executed_version)
            invocation = replace(invocation, response_stream=out)
        answered: Callable[[InvocationResult], None] | None = None
        with self.limits.slot(ref.function.name) as slot:
            if respond is not None and log_type != "Tail":

                def answered(early: InvocationResult) -> None:
                    slot.release()  # answered: the caller may invoke again at once, unthrottled
                    respond(_invoked(early, version))

            result = self.emulator.invoke(
                ref.function,
                invocation,
                answered=answered,
                provisioned=self.provisioned.target(ref.function.name, ref.executed_version),
            )
        outcome = _invoked(result, version)
        if log_type == "Tail":
            tail = result.logs.encode()[-TAIL_BYTES:]
            outcome.headers[wire.X_LOG_RESULT] = base64.b64encode(tail).decode()
        return outcome

    def deliver_event(
        self,
        function_name: str,
        qualifier: str | None,
        payload: bytes,
        request_id: str,
        *,
        tenant_id: str | None = None,
    ) -> InvocationResult:
        """One attempt at an accepted Event invocation of `function_name` at `qualifier` (alias, version,
        or None for $LATEST) for `tenant_id` (tenant isolation mode), called by the event queue."""
        ref = self.registry.resolve(function_name, qualifier)
        invocation = replace(
            self.emulator.invocation(ref.function, payload, qualifier=ref.qualifier),
            request_id=request_id,
            invocation_type=InvocationType.EVENT,
            tenant_id=tenant_id,
        )
        with self.limits.slot(ref.function.name):
            target = self.provisioned.target(ref.function.name, ref.executed_version)
            return self.emulator.invoke(ref.function, invocation, provisioned=target)

    # ---- PutFunctionConcurrency / GetFunctionConcurrency / DeleteFunctionConcurrency
    def put_concurrency(self, function_name: str, body: bytes) -> dict[str, int]:
        name = self._function_name(function_name)
        amount = json_object(body).get("ReservedConcurrentExecutions")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value at 'reservedConcurrentExecutions' failed to satisfy "
                "constraint: Member must have value greater than or equal to 0",
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
        reserved concurrency, the provisioned concurrency, EventInvokeConfigs and resource policies of every
        qualifier and its queued events. A function created again under the name starts without them, as in
        Lambda."""
        self.limits.unreserve(name)
        self.provisioned.forget(name)
        self.settings.forget(name)
        self.event_configs.forget(name)
        self.policies.forget(name)
        self.function_urls.forget(name)
        if self.events is not None:
            self.events.forget(name)
        if self.event_sources is not None:  # a deleted function's mappings go with it
            self.event_sources.forget_function(self.emulator.config.function_arn(name))

    def forget_qualifier(self, name: str, qualifier: str) -> None:
        """What is kept about one version or alias goes when it does (DeleteFunction with a version,
        DeleteAlias): its resource policy, EventInvokeConfig and provisioned concurrency, attached to its
        ARN. The function's own settings stay; an alias created again under the name starts without them."""
        self.policies.forget(name, qualifier, every_qualifier=False)
        self.event_configs.delete(name, qualifier)
        self.provisioned.forget(name, qualifier)
        self.settings.forget(name, qualifier)
        self.function_urls.forget(name, qualifier)

    # ---- Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s)
    def async_config(self, function_name: str, qualifier: str | None = None) -> AsyncConfig:
        """How Event invocations of the function at `qualifier` (alias or version; None or $LATEST:
        unqualified) are retried and where they go: that qualifier's EventInvokeConfig set through the API,
        else the function's configuration. The DLQ is always the function's DeadLetterConfig."""
        own = self.registry.get(function_name).async_config
        stored = self.event_configs.get(function_name, qualifier)
        return replace(stored[0], dead_letter_target=own.dead_letter_target) if stored else own

    def put_event_invoke_config(
        self, function_name: str, body: bytes, *, qualifier: str | None = None, merge: bool
    ) -> dict[str, object]:
        name, qualifier = self._event_config_target(function_name, qualifier)
        config = event_configs.updated(self.async_config(name, qualifier), json_object(body), merge=merge)
        modified = round(time.time(), 3)  # epoch seconds, as Lambda answers
        self.event_configs.put(name, qualifier, config, modified)
        return event_configs.render(config, modified, self.emulator.config.function_arn(name, qualifier))

    def get_event_invoke_config(self, function_name: str, qualifier: str | None = None) -> dict[str, object]:
        name, qualifier = self._event_config_target(function_name, qualifier)
        stored = self.event_configs.get(name, qualifier)
        if stored is None:
            raise self._no_event_config(name, qualifier)
        return event_configs.render(*stored, self.emulator.config.function_arn(name, qualifier))

    def delete_event_invoke_config(self, function_name: str, qualifier: str | None = None) -> None:
        name, qualifier = self._event_config_target(function_name, qualifier)
        if not self.event_configs.delete(name, qualifier):
            raise self._no_event_config(name, qualifier)

    def list_event_invoke_configs(self, function_name: str, query: Mapping[str, str]) -> dict[str, object]:
        """Every qualifier's EventInvokeConfig of the function, a page at a time (Marker, MaxItems)."""
        name = self._function_name(function_name)
        arn = self.emulator.config.function_arn
        configs = [event_configs.render(c, m, arn(name, q)) for q, c, m in self.event_configs.all(name)]
        page, marker = bodies.page(configs, query)
        return {"FunctionEventInvokeConfigs": list(page), **marker}

    def _event_config_target(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """The function and qualifier whose EventInvokeConfig a call names ($LATEST when unqualified: the
        same config), found as GetFunction finds them: 404 for an unknown function, version or alias."""
        name, qualifier = self.registry.parse(function_name, qualifier)
        self.registry.record(name, qualifier)
        return name, qualifier or wire.LATEST

    def _no_event_config(self, name: str, qualifier: str) -> ApiError:
        arn = self.emulator.config.function_arn(name, qualifier)
        return ApiError("ResourceNotFoundException", f"The function {arn} doesn't have an EventInvokeConfig")

    def _function_name(self, function_name: str) -> str:
        """The function a configuration call names (name, partial or full ARN), looked up as GetFunction
        looks it up rather than as Invoke resolves it: these calls run nothing, so neither Invoke's check
        that the function is Active nor an alias's weighted pick of a version applies."""
        return self.registry.record(function_name).name


def _invoked(result: InvocationResult, version: dict[str, str]) -> InvokeOutcome:
    """A RequestResponse call's outcome: the payload, with Lambda's headers."""
    headers = dict(version, **{"Content-Type": result.content_type})
    if result.function_error:
        headers[wire.X_FUNCTION_ERROR] = result.function_error
    return InvokeOutcome(200, result.request_id, result.payload, headers, result)


def json_object(body: bytes) -> dict[str, Any]:  # values checked by the callers
    try:
        value = wire.loads_json(body or b"{}")
    except ValueError as exc:
        raise ApiError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc
    if not isinstance(value, dict):
        raise ApiError("InvalidRequestContentException", "The request body must be a JSON object.")
    return value
