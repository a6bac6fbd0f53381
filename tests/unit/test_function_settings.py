"""Code signing configs, runtime management and recursion configs in the control plane (no Docker): Lambda's
defaults, what a Put keeps, the rules between a function and its code signing config, and the state directory
that outlives the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control.code_signing import CodeSigningConfigs
from lambda_emu.control.function_settings import FunctionSettings
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.store import open_store
from lambda_emu.errors import LambdaEmuError, api_code

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/abcdef1234"


def settings_in(root: Path) -> tuple[FunctionSettings, CodeSigningConfigs]:
    config = EmulatorConfig(state_dir=root / "state")
    code = root / "code"
    code.mkdir(exist_ok=True)
    function = FunctionConfig("fn", "python3.13", "app.handler", code)
    registry = FunctionRegistry(config, [function], open_store(config.state_dir))
    signing = CodeSigningConfigs(config, config.state_dir)
    settings = FunctionSettings(registry, signing, config, config.state_dir)
    signing.users = settings.uses
    return settings, signing


def error(call: object, *args: object) -> tuple[str, str]:
    with pytest.raises(LambdaEmuError) as raised:
        call(*args)  # type: ignore[operator]
    return api_code(raised.value), raised.value.message


def test_defaults_then_what_was_put_kept_for_the_next_server(tmp_path: Path) -> None:
    settings, signing = settings_in(tmp_path)
    assert settings.get_recursion("fn") == {"RecursiveLoop": "Terminate"}
    assert settings.get_runtime("fn", None) == {
        "UpdateRuntimeOn": "Auto",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
    }
    assert settings.get_code_signing("fn") == {}
    settings.put_recursion("fn", {"RecursiveLoop": "Allow"})
    settings.put_runtime("fn", "$LATEST", {"UpdateRuntimeOn": "FunctionUpdate"})
    arn = signing.create({"AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]}})[
        "CodeSigningConfig"
    ]["CodeSigningConfigArn"]
    settings.put_code_signing("fn", {"CodeSigningConfigArn": arn})

    again, signing_again = settings_in(tmp_path)
    assert again.get_recursion("fn") == {"RecursiveLoop": "Allow"}
    assert again.get_runtime("fn", "$LATEST") == {
        "UpdateRuntimeOn": "FunctionUpdate",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
    }
    assert again.get_code_signing("fn") == {"CodeSigningConfigArn": arn, "FunctionName": "fn"}
    assert signing_again.get(arn)["CodeSigningConfig"]["CodeSigningPolicies"] == {
        "UntrustedArtifactOnDeployment": "Warn"
    }
    again.forget("fn")  # the function was deleted
    assert again.get_recursion("fn") == {"RecursiveLoop": "Terminate"}
    assert again.functions_signed_by(arn, {}) == {"FunctionArns": []}


def test_manual_needs_a_runtime_version_and_only_manual_takes_one(tmp_path: Path) -> None:
    settings, _ = settings_in(tmp_path)
    version = "arn:aws:lambda:us-east-1::runtime:" + "b" * 64
    assert error(settings.put_runtime, "fn", None, {"UpdateRuntimeOn": "Manual"})[0] == (
        "InvalidParameterValueException"
    )
    assert error(settings.put_runtime, "fn", None, {"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": version})[
        0
    ] == ("InvalidParameterValueException")
    assert settings.put_runtime("fn", None, {"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": version}) == {
        "UpdateRuntimeOn": "Manual",
        "RuntimeVersionArn": version,
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
    }


def test_a_config_in_use_is_not_deleted_and_a_missing_one_is_not_used(tmp_path: Path) -> None:
    settings, signing = settings_in(tmp_path)
    arn = signing.create({"AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]}})[
        "CodeSigningConfig"
    ]["CodeSigningConfigArn"]
    settings.put_code_signing("fn", {"CodeSigningConfigArn": arn})
    assert error(signing.delete, arn)[0] == "ResourceConflictException"
    settings.delete_code_signing("fn")
    signing.delete(arn)
    assert error(signing.get, arn) == (
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {arn} can not be found.",
    )
    assert error(settings.put_code_signing, "fn", {"CodeSigningConfigArn": arn}) == (
        "CodeSigningConfigNotFoundException",
        "The code signing configuration cannot be found. Check that the provided configuration is not "
        f"deleted: {arn}.",
    )
