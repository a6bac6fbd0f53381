"""The Event pipeline assembled behind the real LambdaService, with a fake of the facade below it (no Docker):
Invoke with InvocationType Event answers 202, the event runs with the same request id, failures retry and
reach the DLQ; reserved concurrency 0 and PutFunctionEventInvokeConfig are honoured."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambda_emu.api.service import LambdaService
from lambda_emu.async_invoke import (
    QUEUE_FILE,
    EventDispatcher,
    EventQueue,
    Pacing,
    RetryDelays,
    Sinks,
    read_dead_letters,
    read_destination_records,
)
from lambda_emu.config import AsyncConfig, EmulatorConfig, FunctionConfig
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.errors import FunctionNotFoundError
from lambda_emu.models import Invocation, InvocationResult, InvocationType, error_body

DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
WAIT = 30.0


class FakeEmulator:
    """The facade's two calls the service makes; `fn` always fails, `audit` succeeds."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.runs: list[tuple[str, Invocation]] = []
        self.versions: dict[str, str] = {}  # request id → the version that ran
        self._cond = threading.Condition()

    def invocation(
        self,
        function: FunctionConfig,
        payload: bytes,
        *,
        client_context_b64: str | None = None,
        qualifier: str | None = None,
    ) -> Invocation:
        return Invocation(payload or b"{}", self.config.function_arn(function.name, qualifier))

    def invoke(self, function: FunctionConfig, invocation: Invocation) -> InvocationResult:
        with self._cond:
            self.runs.append((function.name, invocation))
            self.versions[invocation.request_id] = function.version
            self._cond.notify_all()
        if function.name == "fn":
            return InvocationResult(
                invocation.request_id,
                error_body("RuntimeError", "no"),
                "RuntimeError",
                executed_version=function.version,
            )
        return InvocationResult(invocation.request_id, b'"done"', executed_version=function.version)

    def close(self) -> None:
        pass

    def wait_runs(self, count: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.runs) >= count, WAIT)


@dataclass
class Stack:
    service: LambdaService
    emulator: FakeEmulator
    limits: ConcurrencyLimits
    events: EventDispatcher
    state: Path


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    config = EmulatorConfig(state_dir=tmp_path)
    code = tmp_path / "code"  # apart from the state directory: publishing a version zips it
    code.mkdir()
    functions = [
        FunctionConfig(
            "fn",
            "python3.13",
            "app.handler",
            code,
            async_config=AsyncConfig(maximum_retry_attempts=1, dead_letter_target=DLQ),
        ),
        FunctionConfig("audit", "python3.13", "app.handler", code),
    ]
    emulator = FakeEmulator(config)
    limits = ConcurrencyLimits()
    service = LambdaService(emulator, FunctionRegistry(config, functions), limits)  # type: ignore[arg-type]
    events = EventDispatcher(
        EventQueue(config.state_dir / QUEUE_FILE),
        service.deliver_event,
        service.async_config,
        Sinks(config.state_dir, region=config.region),
        pacing=Pacing(delays=RetryDelays((0.05, 0.05))),
        reserved_concurrency=limits.reserved,
        function_arn=config.function_arn,
    )
    service.events = events  # type: ignore[assignment]  # EventSink is a class, not a Protocol
    events.start()
    try:
        yield Stack(service, emulator, limits, events, tmp_path)
    finally:
        assert events.close(WAIT)


def test_an_event_invoke_is_answered_202_and_run_with_its_request_id(stack: Stack) -> None:
    outcome = stack.service.invoke("fn", b'{"a": 1}', invocation_type="Event")
    assert outcome.status == 202 and outcome.payload == b""
    assert stack.events.wait_idle(WAIT)
    assert len(stack.emulator.runs) == 2  # MaximumRetryAttempts 1
    for name, invocation in stack.emulator.runs:
        assert name == "fn"
        assert invocation.request_id == outcome.request_id
        assert invocation.invocation_type is InvocationType.EVENT
        assert invocation.payload == b'{"a": 1}'
    (letter,) = read_dead_letters(stack.state, "fn")
    assert letter["requestId"] == outcome.request_id
    assert letter["body"] == '{"a": 1}'
    assert letter["messageAttributes"]["ErrorMessage"]["StringValue"] == "no"


def test_reserved_concurrency_zero_dead_letters_without_running(stack: Stack) -> None:
    stack.service.put_concurrency("fn", b'{"ReservedConcurrentExecutions": 0}')
    outcome = stack.service.invoke("fn", b"{}", invocation_type="Event")
    assert outcome.status == 202
    assert stack.events.wait_idle(WAIT)
    assert stack.emulator.runs == []
    (letter,) = read_dead_letters(stack.state, "fn")
    assert letter["messageAttributes"]["ErrorCode"]["StringValue"] == "429"


def test_the_event_invoke_config_set_through_the_api_is_honoured(stack: Stack) -> None:
    audit_arn = stack.emulator.config.function_arn("audit")
    body = {"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {"Destination": audit_arn}}}
    stack.service.put_event_invoke_config("fn", json.dumps(body).encode(), merge=False)
    stack.service.invoke("fn", b'{"b": 2}', invocation_type="Event")
    assert stack.emulator.wait_runs(2)
    assert stack.events.wait_idle(WAIT)
    assert [name for name, _ in stack.emulator.runs] == ["fn", "audit"]
    record = json.loads(stack.emulator.runs[1][1].payload)
    assert (
        record["requestContext"]["functionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST"
    )
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"b": 2}
    # The DLQ is the function's configuration, not the EventInvokeConfig that PUT replaced: it still gets one.
    assert len(read_dead_letters(stack.state, "fn")) == 1
    assert [entry["deliveredTo"] for entry in read_destination_records(stack.state, "fn")] == ["lambda"]


def test_an_event_invoke_of_a_version_or_an_alias_runs_that_version(stack: Stack) -> None:
    stack.service.control.publish_version("audit", {})
    stack.service.control.create_alias("audit", {"Name": "live", "FunctionVersion": "1"})
    by_qualifier = stack.service.invoke("audit", b"{}", qualifier="1", invocation_type="Event")
    by_alias = stack.service.invoke("audit:live", b"{}", invocation_type="Event")
    unqualified = stack.service.invoke("audit", b"{}", invocation_type="Event")
    assert stack.emulator.wait_runs(3)
    assert stack.events.wait_idle(WAIT)
    arn = stack.emulator.config.function_arn("audit")
    ran = {
        inv.request_id: (stack.emulator.versions[inv.request_id], inv.invoked_function_arn)
        for _, inv in stack.emulator.runs
    }
    assert ran == {
        by_qualifier.request_id: ("1", f"{arn}:1"),
        by_alias.request_id: ("1", f"{arn}:live"),
        unqualified.request_id: ("$LATEST", arn),
    }


def test_the_records_of_an_aliased_event_name_the_alias(stack: Stack) -> None:
    for name in ("fn", "audit"):
        stack.service.control.publish_version(name, {})
        stack.service.control.create_alias(name, {"Name": "live", "FunctionVersion": "1"})
    outcomes = "arn:aws:sqs:us-east-1:123456789012:outcomes"  # kept locally: no endpoint configured
    # Set on the alias: an event invoked through it uses the alias's EventInvokeConfig, not $LATEST's.
    body = {"DestinationConfig": {"OnSuccess": {"Destination": outcomes}}}
    stack.service.put_event_invoke_config("audit", json.dumps(body).encode(), qualifier="live", merge=False)
    body = {"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {"Destination": outcomes}}}
    stack.service.put_event_invoke_config("fn:live", json.dumps(body).encode(), merge=False)
    stack.service.invoke("audit", b"{}", qualifier="live", invocation_type="Event")
    stack.service.invoke("fn:live", b"{}", invocation_type="Event")
    assert stack.events.wait_idle(WAIT)
    for name in ("fn", "audit"):
        (entry,) = read_destination_records(stack.state, name)
        context = entry["record"]["requestContext"]
        assert context["functionArn"] == stack.emulator.config.function_arn(name, "live")
        assert entry["record"]["responseContext"]["executedVersion"] == "1"
    assert len(read_dead_letters(stack.state, "fn")) == 1


def test_an_event_is_retried_as_the_qualifier_it_was_invoked_with_is_configured(stack: Stack) -> None:
    stack.service.control.publish_version("fn", {})
    stack.service.control.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    # The alias and the version run the same code, but each has its own EventInvokeConfig.
    stack.service.put_event_invoke_config("fn:live", b'{"MaximumRetryAttempts": 0}', merge=False)
    stack.service.put_event_invoke_config("fn", b'{"MaximumRetryAttempts": 2}', qualifier="1", merge=False)
    by_alias = stack.service.invoke("fn", b"{}", qualifier="live", invocation_type="Event")
    by_version = stack.service.invoke("fn:1", b"{}", invocation_type="Event")
    unqualified = stack.service.invoke("fn", b"{}", invocation_type="Event")
    assert stack.emulator.wait_runs(6)
    assert stack.events.wait_idle(WAIT)
    attempts = Counter(invocation.request_id for _, invocation in stack.emulator.runs)
    # $LATEST has none set through the API: the function's own MaximumRetryAttempts 1 holds.
    assert attempts == {by_alias.request_id: 1, by_version.request_id: 3, unqualified.request_id: 2}
    assert len(read_dead_letters(stack.state, "fn")) == 3  # the DLQ is the function's, whatever the qualifier


def test_an_event_invoke_of_a_missing_version_is_refused_before_it_is_queued(stack: Stack) -> None:
    with pytest.raises(FunctionNotFoundError):
        stack.service.invoke("audit", b"{}", qualifier="7", invocation_type="Event")
    with pytest.raises(FunctionNotFoundError):
        stack.service.invoke("audit:nope", b"{}", invocation_type="Event")
    assert stack.events.queue.pending() == 0


def test_a_template_function_gone_since_the_last_serve_keeps_no_reserved_concurrency(tmp_path: Path) -> None:
    from lambda_emu.control.store import open_store
    from lambda_emu.server import ServeConfig, lambda_service

    config = EmulatorConfig(state_dir=tmp_path)
    emulator = FakeEmulator(config)
    old = FunctionConfig("old", "python3.13", "app.handler", tmp_path, reserved_concurrency=900)
    store = open_store(tmp_path)
    lambda_service(emulator, [old], ServeConfig(), store=store)  # type: ignore[arg-type]
    # The template now has `new` instead, with the same reservation: both would leave too little unreserved.
    new = FunctionConfig("new", "python3.13", "app.handler", tmp_path, reserved_concurrency=900)
    service = lambda_service(emulator, [new], ServeConfig(), store=store)  # type: ignore[arg-type]
    assert service.registry.names() == ["new"]
    assert service.limits.reserved("old") is None
    assert service.limits.reserved("new") == 900
    store.close()


def test_a_server_delivers_the_events_of_a_function_added_after_it_started(tmp_path: Path) -> None:
    from lambda_emu.server import LambdaServer, ServeConfig

    emulator = FakeEmulator(EmulatorConfig(state_dir=tmp_path / "state"))
    code = tmp_path / "code"
    code.mkdir()
    server = LambdaServer(emulator, [], ServeConfig(retry_delays=(0.05, 0.05)))  # type: ignore[arg-type]
    server.events.start()
    try:
        # As CreateFunction (or a template reload) adds one while the server runs.
        server.service.registry.put(FunctionConfig("later", "python3.13", "app.handler", code))
        server.service.invoke("later", b"{}", invocation_type="Event")
        assert emulator.wait_runs(1)
        assert server.events.wait_idle(WAIT)
        assert [name for name, _ in emulator.runs] == ["later"]
    finally:
        server.close(grace=WAIT)


def test_a_deleted_functions_queued_events_go_with_it(tmp_path: Path) -> None:
    from lambda_emu.server import LambdaServer, ServeConfig

    emulator = FakeEmulator(EmulatorConfig(state_dir=tmp_path / "state"))
    (tmp_path / "code").mkdir()
    function = FunctionConfig("gone", "python3.13", "app.handler", tmp_path / "code")
    server = LambdaServer(emulator, [function], ServeConfig())  # type: ignore[arg-type]
    try:
        server.service.invoke("gone", b"{}", invocation_type="Event")  # no worker runs: it stays queued
        assert server.events.queue.pending("gone") == 1
        server.service.registry.remove("gone")
        server.service.forget("gone")
        # A function created again under the name must not receive them.
        server.service.registry.put(function)
        assert server.events.queue.pending("gone") == 0
    finally:
        server.close(grace=WAIT)
    assert emulator.runs == []
