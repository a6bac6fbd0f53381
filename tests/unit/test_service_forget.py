"""A function that goes, however it goes (DeleteFunction, a template reload, a template that no longer has it
when serve starts), takes its reserved concurrency, EventInvokeConfig and resource policies with it: a
function created again under the name inherits none of them (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.api.service import LambdaService
from lambda_emu.async_invoke import EventQueue
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.policy import Permission, PolicyStore
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.store import open_store
from lambda_emu.errors import LambdaEmuError, api_code
from lambda_emu.server import ServeConfig, _ReloadedFunctions, lambda_service


class FakeEmulator:
    """What LambdaService and its control plane read of the facade when nothing is invoked."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config

    def retire(self, name: str) -> None:
        pass


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"  # apart from the state directory: publishing a version zips it
    folder.mkdir()
    return folder


def function(name: str, code: Path) -> FunctionConfig:
    return FunctionConfig(name, "python3.13", "app.handler", code)


def permit(service: LambdaService, name: str, qualifier: str | None = None) -> None:
    arn = service.emulator.config.function_arn(name, qualifier)
    statement = Permission("s3", "lambda:InvokeFunction", "s3.amazonaws.com").statement(arn)
    service.policies.add(name, qualifier, statement, revision_id=None)


def configure(service: LambdaService, name: str) -> None:
    """The settings a deleted function must not leave behind."""
    permit(service, name)
    service.put_concurrency(name, b'{"ReservedConcurrentExecutions": 3}')
    service.put_event_invoke_config(name, b'{"MaximumRetryAttempts": 0}', merge=False)


def assert_unconfigured(service: LambdaService, name: str) -> None:
    assert service.limits.reserved(name) is None
    assert service.policies.statements(name, None) == []
    with pytest.raises(LambdaEmuError) as missing:
        service.get_event_invoke_config(name)
    assert api_code(missing.value) == "ResourceNotFoundException"


def test_forget_clears_reservation_event_invoke_config_and_the_policies_of_every_qualifier(
    tmp_path: Path, code: Path
) -> None:
    config = EmulatorConfig(state_dir=tmp_path / "state")
    registry = FunctionRegistry(config, [function("fn", code), function("other", code)])
    service = LambdaService(FakeEmulator(config), registry, ConcurrencyLimits())  # type: ignore[arg-type]
    service.control.publish_version("fn", {})
    configure(service, "fn")
    permit(service, "fn", "1")
    permit(service, "other")

    service.forget("fn")

    assert_unconfigured(service, "fn")
    assert service.policies.statements("fn", "1") == []
    # Kept on disk without them, and the other function's policy stays.
    stored = PolicyStore(config.state_dir / "policies.json")
    assert stored.statements("fn", None) == [] and stored.statements("fn", "1") == []
    assert len(stored.statements("other", None)) == 1


def test_a_function_removed_by_a_template_reload_leaves_nothing_behind(tmp_path: Path, code: Path) -> None:
    config = EmulatorConfig(state_dir=tmp_path / "state")
    service = LambdaService(
        FakeEmulator(config), FunctionRegistry(config, [function("A", code)]), ConcurrencyLimits()
    )  # type: ignore[arg-type]
    queue = EventQueue(tmp_path / "events.sqlite3", functions=service.registry.names)
    table = _ReloadedFunctions(service)
    table.put(function("B", code))
    configure(service, "B")
    table.remove("B")  # the saved template no longer has it
    table.put(function("B", code))  # and a later save brings it back
    assert_unconfigured(service, "B")
    queue.close()


def test_a_template_function_gone_since_the_last_serve_keeps_no_policy(tmp_path: Path, code: Path) -> None:
    config = EmulatorConfig(state_dir=tmp_path / "state")
    emulator = FakeEmulator(config)
    store = open_store(config.state_dir)
    try:
        first = lambda_service(emulator, [function("old", code)], ServeConfig(), store=store)  # type: ignore[arg-type]
        permit(first, "old")
        lambda_service(emulator, [function("new", code)], ServeConfig(), store=store)  # type: ignore[arg-type]
        # The template that brings it back again gets a function without the old one's permissions.
        again = lambda_service(emulator, [function("old", code)], ServeConfig(), store=store)  # type: ignore[arg-type]
        assert_unconfigured(again, "old")
    finally:
        store.close()


def test_a_template_function_gone_since_the_last_serve_leaves_no_queued_events(
    tmp_path: Path, code: Path
) -> None:
    from lambda_emu.server import event_pipeline

    config = EmulatorConfig(state_dir=tmp_path / "state")
    emulator = FakeEmulator(config)
    serve = ServeConfig()
    store = open_store(config.state_dir)
    pipelines = []

    def events(service: LambdaService):  # type: ignore[no-untyped-def]
        pipelines.append(event_pipeline(service, config.state_dir, serve, functions=service.registry.names))
        return pipelines[-1]

    try:
        first = lambda_service(emulator, [function("old", code)], serve, store=store, events=events)  # type: ignore[arg-type]
        first.events.accept("old", None, b"{}", "request-1")  # type: ignore[union-attr]
        lambda_service(emulator, [function("new", code)], serve, store=store, events=events)  # type: ignore[arg-type]
        assert pipelines[-1].queue.counts() == {}  # a later "old" must not receive the old one's event
    finally:
        for pipeline in pipelines:
            pipeline.queue.close()
        store.close()
