"""The layers API through boto3 against a live `lambda-emu serve`: publish, get (by name and version, and
by ARN), list, delete, and a function created with the published layer in its Layers importing from /opt;
answers compared whole with the API Reference's shapes."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Served
from tests.e2e.test_api_account_tags import error_of
from tests.e2e.test_api_management import ROLE

LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:{}"
HANDLER = """
import shared
def handler(event, context):
    return {"from_layer": shared.GREETING}
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def publish(client: Any, name: str, greeting: str, **fields: Any) -> dict[str, Any]:
    answer = client.publish_layer_version(
        LayerName=name,
        Content={"ZipFile": zipped({"python/shared.py": f"GREETING = {greeting!r}\n"})},
        **fields,
    )
    answer.pop("ResponseMetadata")
    return answer


def test_a_published_layer_is_answered_whole_and_found_by_name_and_by_arn(served: Served) -> None:
    client = served.client()
    first = publish(
        client,
        "layer-shape",
        "one",
        Description="shared code",
        CompatibleRuntimes=["python3.11", "python3.13"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    content, created = first.pop("Content"), first.pop("CreatedDate")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created)
    assert set(content) == {"Location", "CodeSha256", "CodeSize"} and content["CodeSize"] > 0
    assert first == {
        "LayerArn": LAYER_ARN.format("layer-shape"),
        "LayerVersionArn": LAYER_ARN.format("layer-shape") + ":1",
        "Version": 1,
        "Description": "shared code",
        "CompatibleRuntimes": ["python3.11", "python3.13"],
        "LicenseInfo": "MIT",
        "CompatibleArchitectures": ["x86_64"],
    }
    second = publish(client, "layer-shape", "two")
    assert second["Version"] == 2 and second["Content"]["CodeSha256"] != content["CodeSha256"]

    by_name = client.get_layer_version(LayerName="layer-shape", VersionNumber=1)
    by_arn = client.get_layer_version_by_arn(Arn=LAYER_ARN.format("layer-shape") + ":1")
    for got in (by_name, by_arn):
        got.pop("ResponseMetadata")
        assert got == {**first, "Content": content, "CreatedDate": created}

    versions = client.list_layer_versions(LayerName="layer-shape")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert "Content" not in versions[0] and versions[1]["LicenseInfo"] == "MIT"
    only_313 = client.list_layer_versions(LayerName="layer-shape", CompatibleRuntime="python3.13")
    assert [v["Version"] for v in only_313["LayerVersions"]] == [1]
    layers = {layer["LayerName"]: layer for layer in client.list_layers()["Layers"]}
    assert layers["layer-shape"]["LayerArn"] == LAYER_ARN.format("layer-shape")
    assert layers["layer-shape"]["LatestMatchingVersion"]["Version"] == 2


def test_a_function_runs_with_a_published_layer_at_opt(served: Served) -> None:
    client = served.client()
    layer = publish(client, "layer-used", "hello from the layer")
    client.create_function(
        FunctionName="uses-layer",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
        Layers=[layer["LayerVersionArn"]],
    )
    client.get_waiter("function_active_v2").wait(FunctionName="uses-layer", WaiterConfig={"Delay": 1})
    answer = client.invoke(FunctionName="uses-layer", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"from_layer": "hello from the layer"}
    # Deleting the version leaves the function its copy, as in Lambda; the version itself is gone.
    assert (
        client.delete_layer_version(LayerName="layer-used", VersionNumber=1)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert error_of(client.get_layer_version, LayerName="layer-used", VersionNumber=1) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    client.delete_layer_version(LayerName="layer-used", VersionNumber=1)  # again: 204, idempotent
    client.update_function_configuration(FunctionName="uses-layer", Description="still runs")
    client.get_waiter("function_updated_v2").wait(FunctionName="uses-layer", WaiterConfig={"Delay": 1})
    again = client.invoke(FunctionName="uses-layer", Payload=b"{}")
    assert json.loads(again["Payload"].read()) == {"from_layer": "hello from the layer"}


def test_layer_errors_are_lambdas(served: Served) -> None:
    client = served.client()
    missing = LAYER_ARN.format("never-published") + ":1"
    with pytest.raises(ClientError) as refused:
        client.create_function(
            FunctionName="bad-layer",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zipped({"app.py": HANDLER})},
            Layers=[missing],
        )
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": f"Layer version {missing} does not exist.",
    } | {k: v for k, v in refused.value.response["Error"].items() if k not in ("Code", "Message")}
    # The model's LayerVersionArn and LayerNameOrArn constraints, in today's texts (botocore's current model).
    assert error_of(client.get_layer_version_by_arn, Arn="arn:aws:lambda:nope") == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'arn:aws:lambda:nope' at 'arn' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: ((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}("
        r"(-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::"
        r"awslayer:[a-zA-Z0-9-_]+))",
    )
    bad_name = (
        400,
        "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'layerName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}("
        r"(-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]{1,140}|[a-zA-Z0-9-_]{1,140})",
    )
    assert (
        error_of(client.publish_layer_version, LayerName="bad name!", Content={"ZipFile": b"x"}) == bad_name
    )
    assert error_of(client.list_layer_versions, LayerName="bad name!") == bad_name


def _answer(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply without its metadata, its JSON strings parsed (for comparing whole)."""
    reply = {key: value for key, value in reply.items() if key != "ResponseMetadata"}
    return {
        key: json.loads(value) if key in ("Statement", "Policy") else value for key, value in reply.items()
    }


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_a_layer_versions_permissions_are_added_read_and_removed_as_lambda_answers(served: Served) -> None:
    client = served.client()
    publish(client, "layer-shared", "one")
    arn = LAYER_ARN.format("layer-shared") + ":1"

    account = client.add_layer_version_permission(
        LayerName="layer-shared",
        VersionNumber=1,
        StatementId="xaccount",
        Action="lambda:GetLayerVersion",
        Principal="111122223333",
    )
    assert account["ResponseMetadata"]["HTTPStatusCode"] == 201
    first_revision = account["RevisionId"]
    # "Granting Lambda layer access to other accounts": the statement's keys in Lambda's order, compact.
    assert account["Statement"] == (
        '{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},'
        f'"Action":"lambda:GetLayerVersion","Resource":"{arn}"}}'
    )
    assert UUID.fullmatch(first_revision)
    organization = client.add_layer_version_permission(
        LayerName=LAYER_ARN.format("layer-shared"),  # by the layer's ARN
        VersionNumber=1,
        StatementId="engineering-org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-t194hfs8cz",
        RevisionId=first_revision,
    )
    org_statement = {
        "Sid": "engineering-org",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-t194hfs8cz"}},
    }
    assert _answer(organization) == {"Statement": org_statement, "RevisionId": organization["RevisionId"]}
    assert UUID.fullmatch(organization["RevisionId"]) and organization["RevisionId"] != first_revision

    policy = client.get_layer_version_policy(LayerName="layer-shared", VersionNumber=1)
    assert _answer(policy) == {
        "Policy": {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [json.loads(account["Statement"]), org_statement],
        },
        "RevisionId": organization["RevisionId"],
    }
    assert json.loads(policy["Policy"]) and " " not in policy["Policy"]  # compact, as Lambda writes it

    removed = client.remove_layer_version_permission(
        LayerName="layer-shared",
        VersionNumber=1,
        StatementId="xaccount",
        RevisionId=organization["RevisionId"],
    )
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    left = _answer(client.get_layer_version_policy(LayerName="layer-shared", VersionNumber=1))
    assert left == {
        "Policy": {"Version": "2012-10-17", "Id": "default", "Statement": [org_statement]},
        "RevisionId": left["RevisionId"],
    }
    assert left["RevisionId"] not in (first_revision, organization["RevisionId"])
    client.remove_layer_version_permission(
        LayerName="layer-shared", VersionNumber=1, StatementId="engineering-org"
    )
    # Its last statement gone, the version has no policy.
    assert error_of(client.get_layer_version_policy, LayerName="layer-shared", VersionNumber=1) == (
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )


def test_a_deleted_layer_version_takes_its_policy_with_it(served: Served) -> None:
    client = served.client()
    publish(client, "layer-dropped", "one")
    client.add_layer_version_permission(
        LayerName="layer-dropped",
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert (
        json.loads(client.get_layer_version_policy(LayerName="layer-dropped", VersionNumber=1)["Policy"])[
            "Statement"
        ][0]["Principal"]
        == "*"
    )
    stored = json.loads((served.state_dir / "layers.json").read_text())
    assert "everyone" in json.dumps(stored["layers"]["layer-dropped"]["versions"]["1"])
    client.delete_layer_version(LayerName="layer-dropped", VersionNumber=1)
    missing = f"Layer version {LAYER_ARN.format('layer-dropped')}:1 does not exist."
    assert error_of(client.get_layer_version_policy, LayerName="layer-dropped", VersionNumber=1) == (
        404,
        "ResourceNotFoundException",
        missing,
    )
    stored = json.loads((served.state_dir / "layers.json").read_text())
    assert "everyone" not in json.dumps(stored)


def test_layer_version_permission_errors_are_lambdas(served: Served) -> None:
    client = served.client()
    publish(client, "layer-guarded", "one")
    grant = {"StatementId": "one", "Action": "lambda:GetLayerVersion", "Principal": "111122223333"}
    not_found = (404, "ResourceNotFoundException")
    for name, number in (("layer-guarded", 7), ("never-published", 1)):
        missing = (*not_found, f"Layer version {LAYER_ARN.format(name)}:{number} does not exist.")
        assert error_of(
            client.add_layer_version_permission, LayerName=name, VersionNumber=number, **grant
        ) == (missing)
        assert error_of(client.get_layer_version_policy, LayerName=name, VersionNumber=number) == missing
        assert (
            error_of(
                client.remove_layer_version_permission,
                LayerName=name,
                VersionNumber=number,
                StatementId="one",
            )
            == missing
        )
    assert error_of(client.get_layer_version_policy, LayerName="layer-guarded", VersionNumber=1) == (
        *not_found,
        "No policy is associated with the given resource.",
    )
    assert error_of(
        client.remove_layer_version_permission, LayerName="layer-guarded", VersionNumber=1, StatementId="one"
    ) == (*not_found, "Statement one is not found in resource policy.")

    revision = client.add_layer_version_permission(LayerName="layer-guarded", VersionNumber=1, **grant)[
        "RevisionId"
    ]
    assert error_of(
        client.add_layer_version_permission, LayerName="layer-guarded", VersionNumber=1, **grant
    ) == (
        409,
        "ResourceConflictException",
        "The statement id (one) provided already exists. Please provide a new statement id, or remove the "
        "existing statement.",
    )
    stale = (
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to "
        "retrieve the latest Revision Id",
    )
    wrong = "00000000-0000-0000-0000-000000000000"
    assert (
        error_of(
            client.add_layer_version_permission,
            LayerName="layer-guarded",
            VersionNumber=1,
            **{**grant, "StatementId": "two"},
            RevisionId=wrong,
        )
        == stale
    )
    assert (
        error_of(
            client.remove_layer_version_permission,
            LayerName="layer-guarded",
            VersionNumber=1,
            StatementId="one",
            RevisionId=wrong,
        )
        == stale
    )
    # Refused, nothing changed: the policy keeps its one statement and its revision.
    policy = client.get_layer_version_policy(LayerName="layer-guarded", VersionNumber=1)
    assert policy["RevisionId"] == revision and len(json.loads(policy["Policy"])["Statement"]) == 1

    # The model's constraints (botocore's current model), before any lookup.
    assert error_of(
        client.add_layer_version_permission,
        LayerName="never-published",
        VersionNumber=1,
        **{**grant, "Action": "lambda:InvokeFunction", "Principal": "someone"},
    ) == (
        400,
        "ValidationException",
        "2 validation errors detected: Value 'lambda:InvokeFunction' at 'action' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion; Value "
        "'someone' at 'principal' failed to satisfy constraint: Member must satisfy regular expression "
        r"pattern: \d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root",
    )
