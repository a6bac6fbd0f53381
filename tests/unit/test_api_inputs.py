"""api/inputs.py: each route's operation found from the model's HTTP routes, and its path, query and body
members checked against the model's input shape (in AWS's words, members named as AWS names them) before the
route runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_emu import service_model, wire
from lambda_emu.api import http, inputs
from lambda_emu.errors import ApiError

ONE = "1 validation error detected: "
NAMESPACED = service_model.SHAPES["NamespacedFunctionName"]["pattern"]
FUNCTION_NAME = service_model.SHAPES["FunctionName"]["pattern"]
TAGGED = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn"  # a function's ARN, quoted


def _check(
    method: str,
    url_path: str,
    query: dict[str, str] | None = None,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> None:
    found = http._find_route(method, url_path.split("?")[0])
    assert found is not None, (method, url_path)
    query_string = url_path.partition("?")[2]
    encoded = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    inputs.check(method, found[2], url_path.split("?")[0], query or {}, query_string, encoded, headers or {})


def _refusal(method: str, url_path: str, query: dict[str, str] | None = None, **parts: Any) -> str:
    """The message of the ValidationException `_check` raises (body=, headers= as _check takes them)."""
    with pytest.raises(ApiError) as caught:
        _check(method, url_path, query, **parts)
    assert caught.value.code == "ValidationException"
    return caught.value.message


def test_every_route_but_ours_serves_one_operation_of_the_model() -> None:
    served: set[str] = set()
    for verb, pattern, _route in http._ROUTES:
        operations = inputs.operations_of(verb, pattern)
        if pattern.match(wire.LOCAL_INVOKE_PATH.format(name="fn")):
            assert operations == ()  # ours: no operation of the model
            continue
        names = [operation.name for operation in operations]
        # Two operations share a route only where a fixed query pair tells them apart, and that one is first.
        assert len(names) == 1 or (len(names) == 2 and operations[0].fixed and not operations[1].fixed), names
        served.update(names)
    assert {"Invoke", "GetFunction", "GetAlias", "ListFunctions", "PutFunctionConcurrency"} <= served
    assert {"GetLayerVersionByArn", "ListLayers", "ListProvisionedConcurrencyConfigs"} <= served


def test_a_query_pair_of_the_model_selects_the_operation() -> None:
    layers = http._find_route("GET", "/2018-10-31/layers")
    assert layers is not None
    assert inputs.operation_for("GET", layers[2], {"find": "LayerVersion"}).name == "GetLayerVersionByArn"  # type: ignore[union-attr]
    assert inputs.operation_for("GET", layers[2], {}).name == "ListLayers"  # type: ignore[union-attr]
    assert _refusal("GET", "/2018-10-31/layers", {"find": "LayerVersion", "Arn": "nope"}).startswith(
        ONE + "Value 'nope' at 'arn' failed to satisfy constraint: Member must satisfy regular expression"
    )


def test_a_malformed_function_name_is_refused_with_the_operations_own_pattern() -> None:
    # GetFunction takes a NamespacedFunctionName (256), GetAlias a FunctionName (140): each its model's.
    assert _refusal("GET", "/2015-03-31/functions/bad%20name!") == (
        ONE + "Value 'bad name!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAMESPACED}"
    )
    assert _refusal("GET", "/2015-03-31/functions/bad%20name!/aliases/live") == (
        ONE + "Value 'bad name!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {FUNCTION_NAME}"
    )
    long_name = "f" * 141
    assert _refusal("GET", f"/2015-03-31/functions/{long_name}/aliases/live") == (
        ONE + f"Value '{long_name}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 140"
    )
    _check("GET", f"/2015-03-31/functions/{long_name}")  # 256 for GetFunction: well formed


def test_every_violation_of_path_and_query_is_named_in_one_answer_in_the_models_order() -> None:
    assert _refusal("GET", "/2015-03-31/functions/a%20b", {"Qualifier": "q" * 129}) == (
        "2 validation errors detected: Value 'a b' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAMESPACED}; Value '{'q' * 129}' at 'qualifier' "
        "failed to satisfy constraint: Member must have length less than or equal to 128"
    )


def test_a_well_formed_request_passes_whatever_it_names() -> None:
    _check("GET", "/2015-03-31/functions/no-such-function", {"Qualifier": "live"})
    _check("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn%3A1")
    _check("GET", "/2015-03-31/functions/", {"MaxItems": "10000", "Marker": "anything"})
    _check("DELETE", f"/2017-03-31/tags/{TAGGED}?tagKeys=a&tagKeys=b")


def test_query_members_are_typed_as_the_model_types_them() -> None:
    assert _refusal("GET", "/2015-03-31/functions/", {"MaxItems": "0"}) == (
        ONE + "Value '0' at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert _refusal("GET", "/2015-03-31/functions/", {"MaxItems": "10001"}) == (
        ONE + "Value '10001' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000"
    )
    # Not a number at all: left to the route, which answers it in its own words.
    _check("GET", "/2015-03-31/functions/", {"MaxItems": "many"})
    _check("GET", "/2018-10-31/layers/layer/versions/abc")
    # A repeated member (UntagResource's tagKeys) is a list: each key is checked.
    message = _refusal("DELETE", f"/2017-03-31/tags/{TAGGED}?tagKeys=a&tagKeys={'k' * 129}")
    assert message.startswith(ONE + f"Value '[a, {'k' * 129}]' at 'tagKeys' failed to satisfy constraint: ")


def test_the_body_is_checked_with_the_path_unless_it_is_a_payload() -> None:
    assert _refusal(
        "PUT", "/2017-10-31/functions/fn/concurrency", body={"ReservedConcurrentExecutions": -1}
    ) == (
        ONE + "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0"
    )
    assert _refusal("PUT", "/2017-10-31/functions/fn/concurrency", body={}) == (
        ONE + "Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: "
        "Member must not be null"
    )
    # Invoke's body is the function's event, whatever it holds; unreadable JSON is the route's to answer.
    _check("POST", "/2015-03-31/functions/fn/invocations", body={"FunctionName": "a b", "Qualifier": ""})
    _check("POST", "/2015-03-31/functions/fn/invocations", body=b"not json")
    _check("PUT", "/2017-10-31/functions/fn/concurrency", body=b"{not json")
    assert _refusal("POST", "/2015-03-31/functions/fn/invocations", {"Qualifier": "a b"}).startswith(
        ONE + "Value 'a b' at 'qualifier' failed to satisfy constraint: Member must satisfy regular"
    )


def test_header_members_are_checked_with_the_path_in_the_models_order() -> None:
    invoke = "/2015-03-31/functions/fn/invocations"
    headers = {"x-amz-invocation-type": "Later", "x-amz-log-type": "Tail", "x-amz-tenant-id": "no#hash"}
    assert _refusal("POST", invoke, headers=headers) == (
        "2 validation errors detected: Value 'Later' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]; Value 'no#hash' at "
        "'tenantId' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        r"[a-zA-Z0-9\._:\/=+\-@ ]+"
    )
    # InvokeWithResponseStream's own InvocationType: no Event.
    streaming = "/2021-11-15/functions/fn/response-streaming-invocations"
    assert _refusal("POST", streaming, headers={"x-amz-invocation-type": "Event"}) == (
        ONE + "Value 'Event' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [RequestResponse, DryRun]"
    )
    _check("POST", invoke, headers={"x-amz-invocation-type": "Event", "x-amz-client-context": "e30="})
