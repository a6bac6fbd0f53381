"""GetAccountSettings and the tagging operations through boto3 against a live `lambda-emu serve`, each
answer compared whole with the one AWS documents (API Reference: GetAccountSettings, TagResource,
UntagResource, ListTags)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Served, start_server
from tests.e2e.test_api_management import create

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("account") / "state")
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def error_of(call: Any, **fields: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call(**fields)
    answer = raised.value.response
    return answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"], answer["Error"]["Message"]


def test_account_settings_are_lambdas_default_quotas_and_the_usage_of_this_server(served: Served) -> None:
    client = served.client()
    reserved = sum(
        client.get_function_concurrency(FunctionName=f["FunctionName"]).get("ReservedConcurrentExecutions", 0)
        for f in client.list_functions()["Functions"]
    )
    before = client.get_account_settings()
    before.pop("ResponseMetadata")
    usage = before.pop("AccountUsage")
    assert before == {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": 1000,
            "UnreservedConcurrentExecutions": 1000 - reserved,
        }
    }
    assert set(usage) == {"TotalCodeSize", "FunctionCount"} and usage["FunctionCount"] >= 1
    created = create(client, "acct-usage")
    client.put_function_concurrency(FunctionName="acct-usage", ReservedConcurrentExecutions=7)
    after = client.get_account_settings()
    assert after["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000 - reserved - 7
    assert after["AccountUsage"] == {
        "TotalCodeSize": usage["TotalCodeSize"] + created["CodeSize"],
        "FunctionCount": usage["FunctionCount"] + 1,
    }
    client.delete_function_concurrency(FunctionName="acct-usage")


def test_tags_given_at_create_are_listed_added_removed_and_shown_by_get_function(served: Served) -> None:
    client = served.client()
    create(client, "tagged-fn", Tags={"team": "payments", "stage": "dev"})
    arn = ARN.format("tagged-fn")
    listed = client.list_tags(Resource=arn)
    listed.pop("ResponseMetadata")
    assert listed == {"Tags": {"team": "payments", "stage": "dev"}}
    revision = client.get_function_configuration(FunctionName="tagged-fn")["RevisionId"]

    answer = client.tag_resource(Resource=arn, Tags={"stage": "prod", "owner": "ana"})
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert client.list_tags(Resource=arn)["Tags"] == {"team": "payments", "stage": "prod", "owner": "ana"}
    answer = client.untag_resource(Resource=arn, TagKeys=["team", "owner", "never-set"])
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert client.list_tags(Resource=arn)["Tags"] == {"stage": "prod"}

    assert client.get_function(FunctionName="tagged-fn")["Tags"] == {"stage": "prod"}
    # Tags are not configuration: the function's RevisionId is unchanged.
    assert client.get_function_configuration(FunctionName="tagged-fn")["RevisionId"] == revision


def test_tags_survive_a_restart_of_serve(tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = start_server(state)
    try:
        create(server.client(), "kept-tags", Tags={"a": "1"})
        server.client().tag_resource(Resource=ARN.format("kept-tags"), Tags={"b": "2"})
    finally:
        assert server.stop() == 0, server.log()
    again = start_server(state)
    try:
        assert again.client().list_tags(Resource=ARN.format("kept-tags"))["Tags"] == {"a": "1", "b": "2"}
    finally:
        assert again.stop() == 0, again.log()


def test_tagging_errors_are_lambdas(served: Served) -> None:
    client = served.client()
    assert error_of(client.list_tags, Resource=ARN.format("no-such-fn")) == (
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-fn",
    )
    status, code, message = error_of(client.tag_resource, Resource="not-an-arn", Tags={"a": "b"})
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'not-an-arn' at 'resource' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:"
    )
    create(client, "tag-errors")
    assert error_of(client.tag_resource, Resource=ARN.format("tag-errors") + ":1", Tags={"a": "b"}) == (
        400,
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.",
    )
    assert error_of(
        client.list_tags,
        Resource="arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0",
    ) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")
