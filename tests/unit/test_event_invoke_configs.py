"""EventInvokeConfig per qualifier, as Lambda keeps it: the unqualified function and $LATEST share one, each
version and alias has its own with no fallback between them; set through the routes with Qualifier, listed,
kept in the state directory across a new service, and gone with the function or the alias (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_emu.api import inputs
from lambda_emu.api.http import _find_route
from lambda_emu.api.routes import Reply, Request
from lambda_emu.api.service import LambdaService
from lambda_emu.config import AsyncConfig, EmulatorConfig, FunctionConfig
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.event_configs import EVENT_CONFIG_FILE, EventConfigStore
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.store import FunctionStore, open_store
from lambda_emu.errors import LambdaEmuError, api_code

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
CONFIG_PATH = "/2019-09-25/functions/{}/event-invoke-config"


class FakeEmulator:
    """What LambdaService and its control plane read of the facade when nothing is invoked."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config

    def retire(self, name: str) -> None:
        pass


def new_service(state: Path, code: Path, store: FunctionStore | None = None) -> LambdaService:
    config = EmulatorConfig(state_dir=state)
    own = AsyncConfig(maximum_retry_attempts=1, dead_letter_target=DLQ)  # as a template sets it
    function = FunctionConfig("fn", "python3.13", "app.handler", code, async_config=own)
    registry = FunctionRegistry(config, [function], store)
    return LambdaService(FakeEmulator(config), registry, ConcurrencyLimits())  # type: ignore[arg-type]


@pytest.fixture
def service(tmp_path: Path) -> LambdaService:
    code = tmp_path / "code"  # apart from the state directory: publishing a version zips it
    code.mkdir()
    service = new_service(tmp_path / "state", code)
    service.control.publish_version("fn", {})
    service.control.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    return service


def call(
    service: LambdaService, method: str, url_path: str, query: dict[str, str], body: object = None
) -> Reply:
    """One request through the HTTP API's route table (path, Qualifier in the query), without a server."""
    found = _find_route(method, url_path)
    assert found is not None, (method, url_path)
    route, params, pattern = found
    encoded = json.dumps(body).encode() if body is not None else b""
    inputs.check(method, pattern, url_path, query, "", encoded, {})  # as the server does, before the route
    return route(service, Request(params.get("name", ""), query, {}, encoded, params))


def put(service: LambdaService, qualifier: str | None, retries: int, name: str = "fn") -> dict[str, Any]:
    query = {"Qualifier": qualifier} if qualifier else {}
    reply = call(service, "PUT", CONFIG_PATH.format(name), query, {"MaximumRetryAttempts": retries})
    assert reply.status == 200
    return json.loads(reply.body)


def not_found(call_it) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(LambdaEmuError) as missing:
        call_it()
    assert api_code(missing.value) == "ResourceNotFoundException"
    return missing.value.message


def test_latest_a_version_and_an_alias_each_have_their_own_config(service: LambdaService) -> None:
    assert put(service, None, 0)["FunctionArn"] == f"{ARN}:$LATEST"
    assert put(service, "1", 1)["FunctionArn"] == f"{ARN}:1"
    assert put(service, "live", 2)["FunctionArn"] == f"{ARN}:live"
    for qualifier, retries in ((None, 0), ("$LATEST", 0), ("1", 1), ("live", 2)):
        answer = service.get_event_invoke_config("fn", qualifier)
        assert answer["MaximumRetryAttempts"] == retries
        assert answer["FunctionArn"] == f"{ARN}:{qualifier or '$LATEST'}"
    # Deleting one leaves the others: no qualifier falls back to another's.
    assert call(service, "DELETE", CONFIG_PATH.format("fn"), {"Qualifier": "live"}).status == 204
    message = not_found(lambda: service.get_event_invoke_config("fn", "live"))
    assert message == f"The function {ARN}:live doesn't have an EventInvokeConfig"
    assert service.get_event_invoke_config("fn", "1")["MaximumRetryAttempts"] == 1
    assert service.get_event_invoke_config("fn")["MaximumRetryAttempts"] == 0


def test_a_config_on_an_alias_or_a_version_is_not_the_unqualified_functions(service: LambdaService) -> None:
    put(service, "live", 0)
    message = not_found(lambda: service.get_event_invoke_config("fn"))
    assert message == f"The function {ARN}:$LATEST doesn't have an EventInvokeConfig"
    assert not_found(lambda: service.get_event_invoke_config("fn", "1")).endswith(
        ":1 doesn't have an EventInvokeConfig"
    )
    assert not_found(lambda: service.delete_event_invoke_config("fn", "1")).startswith(
        f"The function {ARN}:1 "
    )


def test_the_unqualified_function_and_latest_are_one_config(service: LambdaService) -> None:
    put(service, "$LATEST", 1)
    reply = call(service, "GET", CONFIG_PATH.format("fn"), {})
    assert json.loads(reply.body)["FunctionArn"] == f"{ARN}:$LATEST"
    service.delete_event_invoke_config(ARN)
    assert not_found(lambda: service.get_event_invoke_config("fn", "$LATEST"))


def test_the_qualifier_may_come_with_the_name_and_must_agree_with_the_query(service: LambdaService) -> None:
    assert put(service, None, 0, name="fn:live")["FunctionArn"] == f"{ARN}:live"
    assert service.get_event_invoke_config(f"{ARN}:live", "live")["MaximumRetryAttempts"] == 0
    with pytest.raises(LambdaEmuError) as conflict:
        service.get_event_invoke_config("fn:live", "1")
    assert api_code(conflict.value) == "InvalidParameterValueException"
    assert "derived qualifier" in conflict.value.message


@pytest.mark.parametrize("name, qualifier", [("fn", "7"), ("fn", "nope"), ("fn:nope", None), ("other", None)])
def test_a_missing_version_alias_or_function_is_resource_not_found(
    service: LambdaService, name: str, qualifier: str | None
) -> None:
    for call_it in (
        lambda: service.put_event_invoke_config(name, b"{}", qualifier=qualifier, merge=False),
        lambda: service.get_event_invoke_config(name, qualifier),
        lambda: service.delete_event_invoke_config(name, qualifier),
    ):
        assert not_found(call_it).startswith("Function not found: arn:aws:lambda:us-east-1:123456789012")


def test_update_merges_into_the_qualifiers_config_and_put_replaces_it(service: LambdaService) -> None:
    body = {"MaximumEventAgeInSeconds": 600, "DestinationConfig": {"OnFailure": {"Destination": DLQ}}}
    service.put_event_invoke_config("fn", json.dumps(body).encode(), qualifier="live", merge=False)
    reply = call(
        service, "POST", CONFIG_PATH.format("fn"), {"Qualifier": "live"}, {"MaximumRetryAttempts": 0}
    )
    merged = json.loads(reply.body)
    assert merged["MaximumEventAgeInSeconds"] == 600 and merged["MaximumRetryAttempts"] == 0
    assert merged["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": DLQ}}
    replaced = put(service, "live", 1)
    assert replaced["MaximumEventAgeInSeconds"] == 21_600 and replaced["DestinationConfig"]["OnFailure"] == {}


def test_list_answers_every_qualifiers_config_a_page_at_a_time(service: LambdaService) -> None:
    list_path = CONFIG_PATH.format("fn") + "/list"
    assert json.loads(call(service, "GET", list_path, {}).body) == {"FunctionEventInvokeConfigs": []}
    expected = [put(service, "live", 0), put(service, None, 2), put(service, "1", 1)]
    assert json.loads(call(service, "GET", list_path, {}).body) == {"FunctionEventInvokeConfigs": expected}
    first = json.loads(call(service, "GET", list_path, {"MaxItems": "2"}).body)
    assert first["FunctionEventInvokeConfigs"] == expected[:2]
    rest = json.loads(call(service, "GET", list_path, {"MaxItems": "2", "Marker": first["NextMarker"]}).body)
    assert rest == {"FunctionEventInvokeConfigs": expected[2:]}
    assert not_found(lambda: service.list_event_invoke_configs("other", {})).startswith("Function not found")


def test_the_configs_survive_a_restart_on_the_same_state_directory(tmp_path: Path) -> None:
    state, code = tmp_path / "state", tmp_path / "code"
    code.mkdir()
    store = open_store(state)  # as serve keeps its functions: the versions and aliases outlive it too
    first = new_service(state, code, store)
    first.control.publish_version("fn", {})
    first.control.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    put(first, None, 0)
    put(first, "live", 1)
    first.delete_event_invoke_config("fn", "live")
    put(first, "1", 2)
    store.close()
    store = open_store(state)
    try:
        again = new_service(state, code, store)
        assert again.get_event_invoke_config("fn") == first.get_event_invoke_config("fn")
        assert again.get_event_invoke_config("fn", "1")["MaximumRetryAttempts"] == 2
        assert not_found(lambda: again.get_event_invoke_config("fn", "live"))
        assert again.async_config("fn", "1").maximum_retry_attempts == 2
    finally:
        store.close()


def test_the_dispatcher_gets_the_config_of_the_qualifier_invoked(service: LambdaService) -> None:
    put(service, "live", 0)
    # No config of its own: the function's (the template's), with its DLQ.
    assert service.async_config("fn") == AsyncConfig(maximum_retry_attempts=1, dead_letter_target=DLQ)
    assert service.async_config("fn", "1") == service.async_config("fn", "$LATEST")
    # The alias's own, with the function's DLQ (not part of an EventInvokeConfig).
    assert service.async_config("fn", "live") == AsyncConfig(maximum_retry_attempts=0, dead_letter_target=DLQ)


def test_forget_drops_every_qualifiers_config(service: LambdaService, tmp_path: Path) -> None:
    for qualifier in (None, "1", "live"):
        put(service, qualifier, 0)
    service.forget("fn")
    for qualifier in (None, "1", "live"):
        assert not_found(lambda q=qualifier: service.get_event_invoke_config("fn", q))  # type: ignore[misc]
    # Gone from the state directory too: a new service on it finds none.
    assert new_service(tmp_path / "state", tmp_path / "code").list_event_invoke_configs("fn", {}) == {
        "FunctionEventInvokeConfigs": []
    }


def test_a_deleted_alias_or_version_takes_its_config_with_it(service: LambdaService) -> None:
    for qualifier in (None, "1", "live"):
        put(service, qualifier, 0)
    assert call(service, "DELETE", "/2015-03-31/functions/fn/aliases/live", {}).status == 204
    assert call(service, "DELETE", "/2015-03-31/functions/fn", {"Qualifier": "1"}).status == 204  # unused now
    service.control.create_alias("fn", {"Name": "live", "FunctionVersion": "$LATEST"})
    assert not_found(lambda: service.get_event_invoke_config("fn", "live"))  # a new alias starts without one
    listed = json.loads(call(service, "GET", CONFIG_PATH.format("fn") + "/list", {}).body)
    assert [config["FunctionArn"] for config in listed["FunctionEventInvokeConfigs"]] == [f"{ARN}:$LATEST"]


def test_an_unreadable_config_file_is_a_config_error_with_a_hint(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / EVENT_CONFIG_FILE).write_text("{not json")
    store = EventConfigStore(state / EVENT_CONFIG_FILE)
    with pytest.raises(LambdaEmuError) as unreadable:
        store.get("fn", None)
    assert str(state / EVENT_CONFIG_FILE) in unreadable.value.message
    assert unreadable.value.hint
