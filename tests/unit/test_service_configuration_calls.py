"""The calls that configure a function rather than run it (concurrency, EventInvokeConfig, permissions) find
it as GetFunction does: whatever its state, by name, partial or full ARN, with Lambda's 404 for an unknown
one (no Docker)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_emu.api import permissions
from lambda_emu.api.routes import Request
from lambda_emu.api.service import LambdaService
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.model import FAILED, PENDING
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.errors import LambdaEmuError, api_code

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
PARTIAL = "123456789012:function:fn"


class FakeEmulator:
    """What LambdaService and its control plane read of the facade when nothing is invoked."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config

    def invocation(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a configuration call must not prepare an invocation")

    def retire(self, name: str) -> None:
        pass


@pytest.fixture
def service(tmp_path: Path) -> LambdaService:
    config = EmulatorConfig(state_dir=tmp_path / "state")
    missing_code = tmp_path / "gone"
    registry = FunctionRegistry(config, [FunctionConfig("fn", "python3.13", "app.handler", missing_code)])
    # Created (Pending) with code that is not there: settling it leaves it Failed, which Invoke refuses.
    latest = registry.store.latest("fn")
    assert latest is not None
    registry.store.put_latest(replace(latest, state=PENDING))
    service = LambdaService(FakeEmulator(config), registry, ConcurrencyLimits())  # type: ignore[arg-type]
    assert service.control.wait_settled("fn", 30)
    assert registry.store.latest("fn").state == FAILED  # type: ignore[union-attr]
    return service


def request(function_name: str, body: object = None, **params: str) -> Request:
    encoded = json.dumps(body).encode() if body is not None else b""
    return Request(function_name, {}, {}, encoded, params)


def test_invoke_refuses_a_failed_function(service: LambdaService) -> None:
    with pytest.raises(LambdaEmuError) as refused:
        service.invoke("fn", b"{}")
    assert api_code(refused.value) == "ResourceConflictException"


def test_concurrency_of_a_failed_function_by_name_and_arns(service: LambdaService) -> None:
    assert service.put_concurrency(ARN, b'{"ReservedConcurrentExecutions": 2}') == {
        "ReservedConcurrentExecutions": 2
    }
    assert service.get_concurrency(PARTIAL) == {"ReservedConcurrentExecutions": 2}
    service.delete_concurrency("fn")
    assert service.get_concurrency("fn") == {}


def test_event_invoke_config_of_a_failed_function(service: LambdaService) -> None:
    answer = service.put_event_invoke_config(PARTIAL, b'{"MaximumRetryAttempts": 1}', merge=False)
    assert answer["FunctionArn"] == f"{ARN}:$LATEST"
    assert service.get_event_invoke_config(ARN)["MaximumRetryAttempts"] == 1
    service.delete_event_invoke_config("fn")
    with pytest.raises(LambdaEmuError) as missing:
        service.get_event_invoke_config("fn")
    assert api_code(missing.value) == "ResourceNotFoundException"


def test_permissions_of_a_failed_function(service: LambdaService) -> None:
    body = {"StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}
    assert permissions.add_permission(service, request(ARN, body)).status == 201
    policy = json.loads(permissions.get_policy(service, request(PARTIAL)).body)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s3"]
    assert permissions.remove_permission(service, request("fn", sid="s3")).status == 204


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put_concurrency("nope", b'{"ReservedConcurrentExecutions": 1}'),
        lambda s: s.get_concurrency(f"{ARN}x"),
        lambda s: s.delete_concurrency("nope"),
        lambda s: s.put_event_invoke_config("nope", b"{}", merge=True),
        lambda s: s.get_event_invoke_config("nope"),
        lambda s: s.delete_event_invoke_config("nope"),
        lambda s: permissions.get_policy(s, request("fn:missing-alias")),
    ],
)
def test_an_unknown_function_is_resource_not_found(service: LambdaService, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LambdaEmuError) as missing:
        call(service)
    assert api_code(missing.value) == "ResourceNotFoundException"
    assert missing.value.message.startswith("Function not found: arn:aws:lambda:us-east-1:123456789012")
