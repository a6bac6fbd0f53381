"""Function configuration: Lambda's validation rules and the environment a function starts with."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig, function_environment, validate_environment
from lambda_emu.errors import ConfigError


def function(**changes: object) -> FunctionConfig:
    base: dict[str, object] = dict(
        name="fn", runtime="python3.11", handler="app.handler", code_path=Path(".")
    )
    base.update(changes)
    return FunctionConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("memory_size", 127, "MemorySize"),
        ("memory_size", 10_241, "MemorySize"),
        ("timeout", 0, "Timeout"),
        ("timeout", 901, "Timeout"),
        ("ephemeral_storage", 511, "EphemeralStorage"),
        ("handler", "app handler", "Handler"),
        ("name", "bad name!", "Function name"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_field(field: str, value: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        function(**{field: value}).validate()


def test_valid_settings_pass() -> None:
    assert function(memory_size=10_240, timeout=900, ephemeral_storage=10_240).validate().timeout == 900


def test_reserved_variables_are_refused_with_lambdas_message() -> None:
    with pytest.raises(ConfigError, match="Reserved keys used in this request: AWS_REGION"):
        validate_environment({"AWS_REGION": "eu-west-1", "OK_KEY": "x"})


def test_variable_names_follow_lambdas_pattern() -> None:
    with pytest.raises(ConfigError, match="invalid"):
        validate_environment({"1BAD": "x"})


def test_environment_over_4_kb_is_refused() -> None:
    with pytest.raises(ConfigError, match="4KB"):
        validate_environment({"BIG": "x" * 4200})


def environment(**kwargs: object) -> dict[str, str]:
    return function_environment(
        function(environment={"USER_VAR": "1", "PATH": "/custom"}, memory_size=256),
        EmulatorConfig(region="eu-west-1", credentials={"AWS_ACCESS_KEY_ID": "AKIA"}),
        runtime_api="127.0.0.1:9001",
        execution_env="AWS_Lambda_python3.11",
        log_stream="2024/01/01/[$LATEST]abc",
        **kwargs,  # type: ignore[arg-type]
    )


def test_function_environment_has_lambdas_reserved_variables() -> None:
    env = environment()
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == "2024/01/01/[$LATEST]abc"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["TZ"] == ":UTC"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIA"


def test_user_variables_are_kept_and_may_override_unreserved_ones() -> None:
    env = environment()
    assert env["USER_VAR"] == "1"
    assert env["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"  # runtime wins over user


def test_runtime_variables_are_added() -> None:
    assert environment(runtime_vars={"PYTHONPATH": "/var/runtime"})["PYTHONPATH"] == "/var/runtime"


def test_nothing_of_the_host_environment_leaks_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_SECRET_MARKER", "leak")
    assert "HOST_SECRET_MARKER" not in environment()
    assert "HOME" not in environment()


def test_emulator_config_takes_region_and_credentials_from_the_host() -> None:
    config = EmulatorConfig.from_environ(
        {"AWS_DEFAULT_REGION": "ap-south-1", "AWS_SECRET_ACCESS_KEY": "s", "OTHER": "x"}
    )
    assert config.region == "ap-south-1"
    assert dict(config.credentials) == {"AWS_SECRET_ACCESS_KEY": "s"}
    assert config.function_arn("fn", "live") == "arn:aws:lambda:ap-south-1:123456789012:function:fn:live"


@pytest.mark.parametrize("architectures", [(), ("x86_64", "arm64"), ("sparc",)])
def test_architectures_must_be_exactly_one_known_value(architectures: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match="Architectures"):
        function(architectures=architectures).validate()


def test_arns_follow_the_regions_partition() -> None:
    from lambda_emu import arns

    assert EmulatorConfig(region="cn-north-1").function_arn("fn", "live") == (
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:fn:live"
    )
    assert arns.function_arn("us-gov-west-1", "123456789012", "fn").startswith("arn:aws-us-gov:lambda:")
    assert arns.parse("arn:aws:sqs:eu-west-1:111122223333:q") == arns.Arn(
        "aws", "sqs", "eu-west-1", "111122223333", "q"
    )
    assert arns.parse("not-an-arn") is None
