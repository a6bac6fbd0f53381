"""The user's AWS settings as functions inherit them: environment first, then the profile's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_emu.awsconfig import read_settings
from lambda_emu.config import EmulatorConfig, FunctionConfig, function_environment


def _home(tmp_path: Path) -> Path:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n"
        "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\naws_session_token = t\n"
    )
    (aws / "config").write_text("[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-northeast-1\n")
    return tmp_path


def test_the_profile_gives_region_and_credentials_when_the_environment_has_none(tmp_path: Path) -> None:
    settings = read_settings({"HOME": str(_home(tmp_path)), "AWS_PROFILE": "dev"})
    assert settings.region == "ap-northeast-1"
    assert settings.credentials == {
        "AWS_ACCESS_KEY_ID": "AKIDDEV",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": "t",
    }
    assert read_settings({"HOME": str(tmp_path)}).region == "eu-central-1", "no AWS_PROFILE: default"


def test_the_environment_wins_over_the_files(tmp_path: Path) -> None:
    environ = {
        "HOME": str(_home(tmp_path)),
        "AWS_REGION": "sa-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDENV",
        "AWS_SECRET_ACCESS_KEY": "e",
    }
    settings = read_settings(environ)
    assert settings.region == "sa-east-1"
    assert settings.credentials == {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e"}


def test_endpoints_pass_through_and_the_functions_own_setting_wins(tmp_path: Path) -> None:
    environ = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
        "AWS_ENDPOINT_URLS": "",
        "OTHER": "x",
    }
    emulator = EmulatorConfig.from_environ(environ)
    assert emulator.endpoints == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
    }
    function = FunctionConfig(
        name="f",
        runtime="python3.13",
        handler="a.h",
        code_path=tmp_path,
        environment={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9000"},
    )
    env = function_environment(
        function, emulator, runtime_api="127.0.0.1:1", execution_env=None, log_stream="s"
    )
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:9000", "the function's own value wins"
    assert "OTHER" not in env


def test_profile_and_region_options_choose_what_the_host_environment_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import click
    from click.testing import CliRunner

    from lambda_emu.cli.options import aws_options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_PROFILE", "other")
    monkeypatch.delenv("AWS_REGION", raising=False)  # --region sets it in this process: undone after

    @click.command()
    @aws_options
    def show() -> None:
        names = ("AWS_PROFILE", "AWS_REGION", "AWS_ACCESS_KEY_ID")
        click.echo(" ".join(str(os.environ.get(name)) for name in names))

    result = CliRunner().invoke(show, ["--profile", "dev", "--region", "eu-west-1"])
    assert result.output.strip() == "dev eu-west-1 None", (
        "an explicit --profile wins over keys in the environment"
    )
