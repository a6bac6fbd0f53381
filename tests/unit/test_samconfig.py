"""samconfig.toml / .yaml defaults for invoke and serve, under the flags given (as SAM CLI applies them)."""

import ast
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lambda_emu.cli.samconfig import SamConfigCommand, find_samconfig, samconfig_defaults
from lambda_emu.template.overrides import parse_parameter_overrides

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="samconfig.toml needs tomllib (3.11+)")

CONFIG = """\
version = 0.1
[default.global.parameters]
stack_name = "app"
region = "eu-west-1"
[default.local_invoke.parameters]
template_file = "build/template.yaml"
parameter_overrides = ["Stage=dev", "ParameterKey=Size,ParameterValue=2"]
env_vars = "env.json"
region = "eu-west-3"
docker_network = "lambda-net"
[default.local_start_lambda.parameters]
port = 4001
warm_containers = "EAGER"
parameter_overrides = "Stage=served"
[prod.local_invoke.parameters]
parameter_overrides = "Stage=prod"
"""


def write(folder: Path, text: str = CONFIG, name: str = "samconfig.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def command(section: str) -> click.Command:
    """A command with invoke's and serve's option names, printing what it got."""

    @click.command(cls=SamConfigCommand, sam_section=section)
    @click.option("-t", "--template", "--template-file", "template")
    @click.option("--parameter-overrides", multiple=True)
    @click.option("-n", "--env-vars", "env_vars_file")
    @click.option("--region")
    @click.option("-p", "--port", type=int, default=3001)
    @click.option("--warm-containers", default="LAZY")
    def run(**values: object) -> None:
        click.echo(repr(sorted(values.items())))

    return run


def invoked(section: str, *args: str, cwd: Path) -> dict[str, object]:
    import os

    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(command(section), list(args), catch_exceptions=False)
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    return dict(ast.literal_eval(result.output.strip().splitlines()[-1]))


def test_invoke_takes_its_section_over_the_global_one_with_paths_relative_to_the_file(tmp_path):
    path = write(tmp_path)
    values = invoked("local_invoke", cwd=tmp_path)
    assert values["template"] == str(tmp_path / "build/template.yaml")
    assert values["env_vars_file"] == str(tmp_path / "env.json")
    assert values["region"] == "eu-west-3"  # the command's section wins over the global one
    assert values["parameter_overrides"] == ("Stage=dev", "ParameterKey=Size,ParameterValue=2")
    assert parse_parameter_overrides(values["parameter_overrides"]) == {"Stage": "dev", "Size": "2"}
    assert path.is_file()


def test_serve_reads_local_start_lambda_and_the_global_section(tmp_path):
    write(tmp_path)
    values = invoked("local_start_lambda", cwd=tmp_path)
    assert (values["port"], values["warm_containers"], values["region"]) == (4001, "EAGER", "eu-west-1")
    assert values["parameter_overrides"] == ("Stage=served",)  # one text becomes the one repeated value


def test_flags_given_win_over_samconfig(tmp_path):
    write(tmp_path)
    values = invoked(
        "local_start_lambda", "-p", "5000", "--parameter-overrides", "Stage=flag", "--region", "us-west-2",
        cwd=tmp_path,
    )  # fmt: skip
    assert (values["port"], values["parameter_overrides"], values["region"]) == (
        5000,
        ("Stage=flag",),
        "us-west-2",
    )


def test_samconfig_is_read_beside_the_template_named_with_t(tmp_path):
    write(tmp_path / "project", "[default.local_invoke.parameters]\nregion = 'ap-south-1'\n")
    template = tmp_path / "project" / "template.yaml"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert invoked("local_invoke", "-t", str(template), cwd=elsewhere)["region"] == "ap-south-1"
    assert invoked("local_invoke", f"--template-file={template}", cwd=elsewhere)["region"] == "ap-south-1"
    assert invoked("local_invoke", cwd=elsewhere)["region"] is None  # no samconfig here


def test_config_env_and_config_file_choose_what_is_read(tmp_path):
    write(tmp_path)
    assert invoked("local_invoke", "--config-env", "prod", cwd=tmp_path)["parameter_overrides"] == (
        "Stage=prod",
    )
    other = write(tmp_path / "conf", "[default.local_invoke.parameters]\nregion = 'sa-east-1'\n", "my.toml")
    assert invoked("local_invoke", "--config-file", str(other), cwd=tmp_path)["region"] == "sa-east-1"


def test_samconfig_yaml_is_read_too(tmp_path):
    write(
        tmp_path, "default:\n  local_invoke:\n    parameters:\n      region: ca-central-1\n", "samconfig.yaml"
    )
    assert invoked("local_invoke", cwd=tmp_path)["region"] == "ca-central-1"


def test_keys_lambda_emu_does_not_use_are_reported_and_left_out(tmp_path, caplog):
    path = write(tmp_path)
    defaults = samconfig_defaults(path, "local_invoke", "default", {"region", "template"}, set())
    assert "docker_network" not in defaults and "stack_name" not in defaults
    assert "local_invoke key docker_network is not used by lambda-emu" in caplog.text
    assert "stack_name" not in caplog.text  # the global section holds other commands' keys


def test_invalid_toml_is_a_usage_error_naming_the_file(tmp_path):
    write(tmp_path, "[default.local_invoke.parameters\n")
    result = CliRunner().invoke(command("local_invoke"), ["-t", str(tmp_path / "template.yaml")])
    assert result.exit_code == 2
    assert "samconfig.toml is not valid TOML" in result.output


def test_a_config_file_that_is_not_there_is_a_usage_error(tmp_path):
    with pytest.raises(click.UsageError, match="no such file"):
        find_samconfig(tmp_path / "nope.toml", None)
