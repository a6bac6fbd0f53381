"""Code signing configs, runtime management configs and recursion configs through boto3 against a live
`lambda-emu serve`: stored, returned whole and validated as AWS answers them (Lambda API Reference), and kept
across a restart of serve."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Served, start_server
from tests.e2e.test_api_account_tags import error_of
from tests.e2e.test_api_management import ROLE, create, package, updated
from tests.e2e.test_api_provisioned import TIMESTAMP, answer_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/lambda_emu/abcdef1234"
CSC = re.compile(r"^arn:aws:lambda:us-east-1:123456789012:code-signing-config:(csc-[a-z0-9]{17})$")
MISSING_CSC = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0"
RUNTIME_VERSION = "arn:aws:lambda:us-east-1::runtime:" + "a" * 64


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("settings") / "state")
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def test_recursion_config_defaults_to_terminate_and_keeps_what_was_put(served: Served) -> None:
    client = served.client()
    create(client, "set-recursion")
    assert answer_of(client.get_function_recursion_config(FunctionName="set-recursion")) == (
        200,
        {"RecursiveLoop": "Terminate"},
    )
    assert answer_of(
        client.put_function_recursion_config(FunctionName="set-recursion", RecursiveLoop="Allow")
    ) == (
        200,
        {"RecursiveLoop": "Allow"},
    )
    assert answer_of(client.get_function_recursion_config(FunctionName=ARN.format("set-recursion"))) == (
        200,
        {"RecursiveLoop": "Allow"},
    )
    raw = served.client(parameter_validation=False)
    assert error_of(
        raw.put_function_recursion_config, FunctionName="set-recursion", RecursiveLoop="Sometimes"
    ) == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'Sometimes' at 'recursiveLoop' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Allow, Terminate]",
    )
    assert error_of(client.get_function_recursion_config, FunctionName="set-none") == (
        404,
        "ResourceNotFoundException",
        "Function not found: " + ARN.format("set-none"),
    )


def test_runtime_management_config_is_auto_until_put_per_version(served: Served) -> None:
    client = served.client()
    create(client, "set-runtime")
    assert answer_of(client.get_runtime_management_config(FunctionName="set-runtime")) == (
        200,
        {"UpdateRuntimeOn": "Auto", "FunctionArn": ARN.format("set-runtime")},
    )
    client.publish_version(FunctionName="set-runtime")
    put = client.put_runtime_management_config(
        FunctionName="set-runtime", Qualifier="1", UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION
    )
    manual = {
        "UpdateRuntimeOn": "Manual",
        "RuntimeVersionArn": RUNTIME_VERSION,
        "FunctionArn": ARN.format("set-runtime:1"),
    }
    assert answer_of(put) == (200, manual)
    assert answer_of(client.get_runtime_management_config(FunctionName="set-runtime", Qualifier="1")) == (
        200,
        manual,
    )
    # $LATEST keeps its own.
    assert client.get_runtime_management_config(FunctionName="set-runtime")["UpdateRuntimeOn"] == "Auto"
    put = client.put_runtime_management_config(FunctionName="set-runtime", UpdateRuntimeOn="FunctionUpdate")
    assert answer_of(put) == (
        200,
        {"UpdateRuntimeOn": "FunctionUpdate", "FunctionArn": ARN.format("set-runtime")},
    )
    status, code, _ = error_of(
        client.put_runtime_management_config, FunctionName="set-runtime", UpdateRuntimeOn="Manual"
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    raw = served.client(parameter_validation=False)
    assert error_of(
        raw.put_runtime_management_config,
        FunctionName="set-runtime",
        UpdateRuntimeOn="Manual",
        RuntimeVersionArn="arn:aws:lambda:us-east-1::layer:x",
    ) == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'arn:aws:lambda:us-east-1::layer:x' at 'runtimeVersionArn' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        # The pattern of botocore's current model (RuntimeVersionArn).
        r"((arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}::runtime:.+)|"
        r"(arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
        r"runtime/[A-Za-z0-9_.-]{1,128}/version/[A-Za-z0-9_.-]{1,128}))",
    )
    assert error_of(client.get_runtime_management_config, FunctionName="set-runtime", Qualifier="7") == (
        404,
        "ResourceNotFoundException",
        "Function not found: " + ARN.format("set-runtime:7"),
    )


def test_code_signing_configs_are_created_got_updated_listed_used_and_deleted(served: Served) -> None:
    client = served.client()
    status, created = answer_of(
        client.create_code_signing_config(
            Description="signed", AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}
        )
    )
    config = created["CodeSigningConfig"]
    match = CSC.match(config["CodeSigningConfigArn"])
    assert match and TIMESTAMP.match(config["LastModified"]), config
    arn = config["CodeSigningConfigArn"]
    assert (status, created) == (
        201,
        {
            "CodeSigningConfig": {
                "CodeSigningConfigId": match.group(1),
                "CodeSigningConfigArn": arn,
                "Description": "signed",
                "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]},
                "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Warn"},
                "LastModified": config["LastModified"],
            }
        },
    )
    assert answer_of(client.get_code_signing_config(CodeSigningConfigArn=arn)) == (200, created)
    status, changed = answer_of(
        client.update_code_signing_config(
            CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"}
        )
    )
    modified = changed["CodeSigningConfig"]["LastModified"]
    expected = {
        "CodeSigningConfig": {
            **config,
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
            "LastModified": modified,
        }
    }
    assert (status, changed) == (200, expected)
    listed = client.list_code_signing_configs()["CodeSigningConfigs"]
    assert expected["CodeSigningConfig"] in listed

    # A function uses it: put, got, listed by the config, and given at CreateFunction too.
    create(client, "set-signed")
    assert answer_of(
        client.put_function_code_signing_config(FunctionName="set-signed", CodeSigningConfigArn=arn)
    ) == (
        200,
        {"CodeSigningConfigArn": arn, "FunctionName": "set-signed"},
    )
    assert answer_of(client.get_function_code_signing_config(FunctionName="set-signed")) == (
        200,
        {"CodeSigningConfigArn": arn, "FunctionName": "set-signed"},
    )
    client.create_function(
        FunctionName="set-signed-too",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package()},
        CodeSigningConfigArn=arn,
    )
    assert answer_of(client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)) == (
        200,
        {"FunctionArns": [ARN.format("set-signed"), ARN.format("set-signed-too")]},
    )
    status, code, _ = error_of(client.delete_code_signing_config, CodeSigningConfigArn=arn)
    assert (status, code) == (409, "ResourceConflictException")
    assert answer_of(client.delete_function_code_signing_config(FunctionName="set-signed")) == (204, {})
    assert answer_of(client.get_function_code_signing_config(FunctionName="set-signed")) == (200, {})
    client.delete_function(FunctionName="set-signed-too")
    assert answer_of(client.delete_code_signing_config(CodeSigningConfigArn=arn)) == (204, {})
    gone = f"The Lambda code signing configuration {arn} can not be found."
    assert error_of(client.get_code_signing_config, CodeSigningConfigArn=arn) == (
        404,
        "ResourceNotFoundException",
        gone,
    )
    assert error_of(client.list_functions_by_code_signing_config, CodeSigningConfigArn=arn) == (
        404,
        "ResourceNotFoundException",
        gone,
    )


def test_a_code_signing_config_is_tagged_at_create_and_by_its_arn(served: Served) -> None:
    client = served.client()
    arn = client.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, Tags={"team": "sec"}
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    assert answer_of(client.list_tags(Resource=arn)) == (200, {"Tags": {"team": "sec"}})
    assert answer_of(client.tag_resource(Resource=arn, Tags={"stage": "dev"})) == (204, {})
    assert client.list_tags(Resource=arn)["Tags"] == {"team": "sec", "stage": "dev"}
    assert answer_of(client.untag_resource(Resource=arn, TagKeys=["team"])) == (204, {})
    assert client.list_tags(Resource=arn)["Tags"] == {"stage": "dev"}
    # Tags are no part of the config's answer.
    assert "Tags" not in client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert error_of(client.list_tags, Resource=MISSING_CSC) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )


def test_code_signing_errors_are_lambdas(served: Served) -> None:
    client = served.client()
    create(client, "set-unsigned")
    missing = (
        404,
        "CodeSigningConfigNotFoundException",
        "The code signing configuration cannot be found. Check that the provided configuration is not "
        f"deleted: {MISSING_CSC}.",
    )
    assert (
        error_of(
            client.put_function_code_signing_config,
            FunctionName="set-unsigned",
            CodeSigningConfigArn=MISSING_CSC,
        )
        == missing
    )
    assert (
        error_of(
            client.create_function,
            FunctionName="set-never",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package()},
            CodeSigningConfigArn=MISSING_CSC,
        )
        == missing
    )
    assert "set-never" not in [f["FunctionName"] for f in client.list_functions()["Functions"]]
    raw = served.client(parameter_validation=False)
    status, code, message = error_of(
        raw.create_code_signing_config, AllowedPublishers={"SigningProfileVersionArns": []}
    )
    assert (status, code, message) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '[]' at 'allowedPublishers.signingProfileVersionArns' failed to "
        "satisfy constraint: Member must have length greater than or equal to 1",
    )
    assert error_of(client.update_code_signing_config, CodeSigningConfigArn=MISSING_CSC, Description="x") == (
        404,
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {MISSING_CSC} can not be found.",
    )


def test_settings_survive_a_restart_of_serve(tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = start_server(state)
    try:
        client = server.client()
        create(client, "set-kept")
        client.put_function_recursion_config(FunctionName="set-kept", RecursiveLoop="Allow")
        client.put_runtime_management_config(FunctionName="set-kept", UpdateRuntimeOn="FunctionUpdate")
        arn = client.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})[
            "CodeSigningConfig"
        ]["CodeSigningConfigArn"]
        client.put_function_code_signing_config(FunctionName="set-kept", CodeSigningConfigArn=arn)
    finally:
        assert server.stop() == 0, server.log()
    again = start_server(state)
    try:
        client = again.client()
        assert client.get_function_recursion_config(FunctionName="set-kept")["RecursiveLoop"] == "Allow"
        assert (
            client.get_runtime_management_config(FunctionName="set-kept")["UpdateRuntimeOn"]
            == "FunctionUpdate"
        )
        assert client.get_function_code_signing_config(FunctionName="set-kept")["CodeSigningConfigArn"] == arn
        # Deleting the function drops its settings: created again, it starts with Lambda's defaults.
        client.delete_function(FunctionName="set-kept")
        create(client, "set-kept")
        updated(client, "set-kept")
        assert client.get_function_recursion_config(FunctionName="set-kept")["RecursiveLoop"] == "Terminate"
        assert answer_of(client.get_function_code_signing_config(FunctionName="set-kept")) == (200, {})
    finally:
        assert again.stop() == 0, again.log()
