"""Function URL configs made through the API: the store (one per function and qualifier, a conflict for a
second, found by url-id, kept across a reopen), how each operation renders one, and the front that routes a
request by the url-id in its Host."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.control.function_urls import FunctionUrlStore, UrlConfig, new_url_id, rendered
from lambda_emu.errors import ApiError
from lambda_emu.gateway.managed_urls import UrlGateway, url_id_of
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.template.apis import URL, TemplateApi, TemplateRoute
from tests.unit.test_gateway import Functions

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def _config(qualifier: str = "$LATEST", url_id: str = "a" * 32) -> UrlConfig:
    return UrlConfig("fn", qualifier, url_id, "NONE", "BUFFERED", None, "t0", "t0")


def test_one_config_per_qualifier_kept_across_a_reopen(tmp_path: Path) -> None:
    store = FunctionUrlStore(tmp_path / "urls.json")
    store.create(_config(), ARN)
    store.create(_config("live", "b" * 32), ARN + ":live")
    with pytest.raises(ApiError) as caught:
        store.create(_config(url_id="c" * 32), ARN)
    assert caught.value.code == "ResourceConflictException"
    again = FunctionUrlStore(tmp_path / "urls.json")
    assert [c.qualifier for c in again.all("fn")] == ["$LATEST", "live"]
    assert again.by_url_id("b" * 32) == _config("live", "b" * 32)
    assert again.get("fn", None) == _config()
    again.forget("fn", "live")
    assert again.by_url_id("b" * 32) is None and again.delete("fn", None)
    assert again.all("fn") == [] and not again.delete("fn", None)


def test_each_operation_renders_lambdas_members_in_order() -> None:
    config = UrlConfig("fn", "$LATEST", "a" * 32, "NONE", "BUFFERED", {"MaxAge": 5}, "t0", "t1")
    create = rendered(config, url="u", arn=ARN, operation="CreateFunctionUrlConfig")
    assert list(create.items()) == [
        ("FunctionUrl", "u"),
        ("FunctionArn", ARN),
        ("AuthType", "NONE"),
        ("Cors", {"MaxAge": 5}),
        ("CreationTime", "t0"),
        ("InvokeMode", "BUFFERED"),
    ]
    get = rendered(config, url="u", arn=ARN, operation="GetFunctionUrlConfig")
    assert (
        list(get) == "FunctionUrl FunctionArn AuthType Cors CreationTime LastModifiedTime InvokeMode".split()
    )
    listed = rendered(config, url="u", arn=ARN, operation="ListFunctionUrlConfigs")
    assert (
        list(listed)
        == "FunctionUrl FunctionArn CreationTime LastModifiedTime Cors AuthType InvokeMode".split()
    )


def test_url_ids_are_32_lower_case_letters_and_digits() -> None:
    ids = {new_url_id() for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == 32 and i.isalnum() and i == i.lower() for i in ids)


def test_the_host_names_the_url_a_request_goes_to() -> None:
    assert url_id_of("abc.lambda-url.us-east-1.localhost:9000") == "abc"
    assert url_id_of("ABC.lambda-url.us-east-1.localhost") == "abc"
    assert url_id_of("127.0.0.1:9000") == "" and url_id_of("") == ""
    functions = Functions()
    route = TemplateRoute("ANY", "$default", "fn:live", "2.0", 4_000, "FunctionUrl")
    apis = {"abc": TemplateApi("abc", URL, "$default", (route,))}
    gateway = UrlGateway(apis.get, functions, account_id="123456789012")
    answer = gateway.handle(HttpRequest("GET", "/p", (("Host", "abc.lambda-url.us-east-1.localhost:1"),)))
    assert answer.status == 200 and functions.events[0][0] == "fn:live"
    nowhere = gateway.handle(HttpRequest("GET", "/p", (("Host", "zzz.lambda-url.us-east-1.localhost:1"),)))
    assert (nowhere.status, nowhere.body) == (404, b'{"message":"Not Found"}')
    assert len(functions.events) == 1


def test_a_template_s_cors_renders_as_the_api_s_with_only_what_is_set() -> None:
    from lambda_emu.control.function_urls import cors_fields
    from lambda_emu.template.apis import Cors

    assert cors_fields(Cors()) == {}
    assert cors_fields(Cors(allow_origins=("*",), max_age=0, allow_credentials=True)) == {
        "AllowCredentials": True,
        "AllowOrigins": ["*"],
        "MaxAge": 0,
    }
