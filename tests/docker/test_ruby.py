"""The ruby3.3 runtime in real containers: our runtime client (runtimes/ruby, Ruby's standard library only)
calls sample_functions/ruby as Lambda's Ruby runtime does (handler(event:, context:)), reports errors in its
shape (Function<Class>, Init<Class>), and the AWS SDK for Ruby inside writes to a local S3."""

from __future__ import annotations

import base64
import json
import re
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from backends import chosen_backend

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.images import DockerImages
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder, get_runtime
from lambda_emu.template import load_template
from tests.docker.test_aws_access import _s3, moto_url
from tests.docker.test_invoke import SAMPLES, body, invoke

__all__ = ["moto_url"]  # the fixture, found by name in this module
TEMPLATE = SAMPLES / "ruby" / "template.yaml"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def functions(config: EmulatorConfig) -> dict[str, FunctionConfig]:
    return dict(load_template(TEMPLATE, emulator=config).functions)


@pytest.fixture(scope="module")
def emu(config: EmulatorConfig) -> Iterator[Emulator]:
    images = ImageBuilder(DockerImages())
    images.ensure(get_runtime("ruby3.3"))  # built here, never inside a test's first invoke
    with Emulator(config, backend=chosen_backend(), images=images) as e:
        yield e


def test_the_handler_gets_the_event_and_lambdas_context(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["RubyFunction"]
    result = invoke(emu, function, {"a": 1})
    assert not result.failed, (result.payload, result.logs)
    answer = body(result)
    remaining = answer.pop("remainingMs")
    assert 0 < remaining <= 3_000, "the deadline header is absolute: Timeout from the start"
    assert answer.pop("traceId").startswith("Root=1-"), "_X_AMZN_TRACE_ID is the invocation's trace header"
    assert answer.pop("ruby").startswith("3.3.")
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", answer.pop("logStreamName"))
    assert answer == {
        "event": {"a": 1},
        "calls": answer["calls"],
        "requestId": result.request_id,
        "functionName": "RubyFunction",
        "functionVersion": "$LATEST",
        "memoryLimitInMb": "256",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:RubyFunction",
        "logGroupName": "/aws/lambda/RubyFunction",
        "executionEnv": "AWS_Lambda_ruby3.3",
        "clientContext": None,
        "shell": "/usr/bin/bash",
    }
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[1] == f"ruby handling {result.request_id}"
    assert lines[-2] == f"END RequestId: {result.request_id}"


def test_remaining_time_follows_the_real_deadline_and_state_lives_on(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["RubyFunction"]
    quick = body(invoke(emu, function))
    slept = invoke(emu, function, {"sleep": 1})
    assert slept.init_duration_ms is None, "a warm invoke"
    assert body(slept)["calls"] == quick["calls"] + 1
    assert quick["remainingMs"] - body(slept)["remainingMs"] >= 800


def test_the_client_context_of_the_invoke_reaches_the_context(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["RubyFunction"]
    sent = {"client": {"installation_id": "i-1"}, "custom": {"k": "v"}, "env": {"platform": "linux"}}
    encoded = base64.b64encode(json.dumps(sent).encode()).decode()
    result = emu.invoke(function, emu.invocation(function, b"{}", client_context_b64=encoded))
    assert body(result)["clientContext"] == sent


def test_a_class_method_of_a_namespaced_class_is_a_handler(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["RubyClassFunction"], {"name": "ruby"})
    greeting = {"greeting": "hello ruby", "via": "Greeter::Handler", "requestId": result.request_id}
    assert body(result) == greeting


def test_a_handler_error_has_lambdas_ruby_shape_and_the_runtime_lives_on(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["RubyFunction"]
    invoke(emu, function)
    result = invoke(emu, function, {"fail": True})
    assert result.function_error == "Unhandled" and result.error_type == "Function<ArgumentError>"
    assert body(result) == {
        "errorMessage": "asked to fail",
        "errorType": "Function<ArgumentError>",
        "stackTrace": ["/var/task/function.rb:9:in `handler'"],
    }
    # Logged as Lambda's Ruby runtime logs it: a line, then the error body as pretty JSON.
    assert "Error raised from handler method\n{\n" in result.logs
    assert '  "errorType": "Function<ArgumentError>",\n' in result.logs
    after = invoke(emu, function)
    assert not after.failed and after.init_duration_ms is None, "a StandardError keeps the environment"


def test_a_missing_handler_method_is_critical_the_runtime_restarts(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = functions["RubyMissingMethodFunction"]
    result = invoke(emu, function)
    assert body(result) == {
        "errorMessage": "undefined method `no_such_method' for main",
        "errorType": "Function<NoMethodError>",
        "stackTrace": [],
    }
    assert "Critical exception from handler" in result.logs
    again = invoke(emu, function)
    assert again.error_type == "Function<NoMethodError>"
    assert again.init_duration_ms is not None, "after a critical exception the runtime exits and re-inits"


@pytest.mark.parametrize(
    ("name", "message", "error_type", "first_frame"),
    [
        ("RubyMissingFileFunction", "cannot load such file -- no_such_file", "Init<LoadError>", None),
        (
            "RubyBrokenInitFunction",
            "cannot start: no configuration",
            "Init<RuntimeError>",
            "/var/task/broken_init.rb:2:in `<top (required)>'",
        ),
    ],
)
def test_init_errors_are_named_as_lambdas_ruby_runtime_names_them(
    emu: Emulator,
    functions: dict[str, FunctionConfig],
    name: str,
    message: str,
    error_type: str,
    first_frame: str | None,
) -> None:
    result = invoke(emu, functions[name])
    assert result.function_error == "Unhandled" and result.error_type == error_type
    answer = body(result)
    assert (answer["errorMessage"], answer["errorType"]) == (message, error_type)
    assert set(answer) == {"errorMessage", "errorType", "stackTrace"}
    if first_frame:
        assert answer["stackTrace"][0] == first_frame
    frames = answer["stackTrace"]
    assert not any("/var/runtime/" in frame for frame in frames), "the runtime's own frames are cut"
    assert f"Init error when loading handler {functions[name].handler}\n{{\n" in result.init_logs


def test_a_file_that_does_not_parse_is_an_init_syntax_error(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    result = invoke(emu, functions["RubySyntaxErrorFunction"])
    answer = body(result)
    assert result.error_type == answer["errorType"] == "Init<SyntaxError>"
    assert "/var/task/syntax_error.rb" in answer["errorMessage"] and "syntax error" in answer["errorMessage"]


def test_a_handler_of_another_shape_is_refused_with_lambdas_message(
    emu: Emulator, functions: dict[str, FunctionConfig]
) -> None:
    function = replace(functions["RubyFunction"], name="RubyBadHandler", handler="a.b.c.d")
    answer = body(invoke(emu, function))
    assert answer["errorType"] == "Init<ArgumentError>"
    assert answer["errorMessage"].startswith(
        'Invalid handler ["a", "b", "c", "d"], must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD '
    )


def test_output_and_stderr_keep_their_order_and_an_unfinished_line_ends_cleanly(
    emu: Emulator, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.rb").write_text(
        textwrap.dedent(
            """
            require 'logger'
            def handler(event:, context:)
              puts 'one'
              warn 'two'
              Logger.new($stdout).info('three')
              print 'no newline'
              'done'
            end
            """
        )
    )
    function = FunctionConfig(name="RubyOutput", runtime="ruby3.3", handler="app.handler", code_path=code)
    result = invoke(emu, function)
    assert result.payload == b'"done"', "a String result is its to_json"
    lines = result.logs.splitlines()
    assert lines[1:3] == ["one", "two"]
    assert lines[3].endswith("INFO -- : three")
    assert lines[4:6] == ["no newline", f"END RequestId: {result.request_id}"]


def test_the_aws_sdk_for_ruby_inside_writes_to_the_s3_the_environment_points_at(
    moto_url: str, tmp_path: Path, functions: dict[str, FunctionConfig]
) -> None:
    bucket = f"lambda-emu-{uuid.uuid4().hex[:8]}"
    _s3(moto_url).create_bucket(Bucket=bucket)
    host = {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "AKIDHOST", "AWS_SECRET_ACCESS_KEY": "secret"}
    config = EmulatorConfig.from_environ(host, state_dir=tmp_path / "state")
    function = replace(functions["RubyS3Function"], timeout=20)
    with Emulator(config, backend=chosen_backend(), images=ImageBuilder(DockerImages())) as emu:
        result = invoke(emu, function, {"bucket": bucket})
    assert not result.failed, (result.payload, result.logs)
    assert body(result) == {"sdk": "1.170.1", "core": "3.212.0"}, "Debian trixie's ruby-aws-sdk-s3 and -core"
    written = _s3(moto_url).get_object(Bucket=bucket, Key="from-ruby.txt")["Body"].read()
    assert written == b"written by RubyS3Function"


def test_a_function_that_bundles_a_newer_sdk_gem_gets_its_own(emu: Emulator, tmp_path: Path) -> None:
    """Lambda's GEM_PATH starts with the function's vendor/bundle: a newer copy of a gem the runtime also
    carries is the one `require` activates."""
    code = tmp_path / "code"
    bundle = code / "vendor" / "bundle" / "ruby" / "3.3.0"
    (bundle / "gems" / "aws-sdk-s3-99.0.0" / "lib").mkdir(parents=True)
    (bundle / "specifications").mkdir()
    (bundle / "specifications" / "aws-sdk-s3-99.0.0.gemspec").write_text(
        "Gem::Specification.new do |s|\n"
        "  s.name = 'aws-sdk-s3'\n  s.version = '99.0.0'\n  s.summary = 'own'\n"
        "  s.files = ['lib/aws-sdk-s3.rb']\n  s.require_paths = ['lib']\n"
        "end\n"
    )
    (bundle / "gems" / "aws-sdk-s3-99.0.0" / "lib" / "aws-sdk-s3.rb").write_text(
        "module Aws; module S3; GEM_VERSION = '99.0.0-own'; end; end\n"
    )
    (code / "app.rb").write_text(
        "def handler(event:, context:)\n"
        "  require 'aws-sdk-s3'\n"
        "  require 'aws-sdk-core'\n"
        "  { s3: Aws::S3::GEM_VERSION, core: Aws::CORE_GEM_VERSION }\n"
        "end\n"
    )
    function = FunctionConfig(name="RubyOwnSdk", runtime="ruby3.3", handler="app.handler", code_path=code)
    result = invoke(emu, function)
    assert body(result) == {"s3": "99.0.0-own", "core": "3.212.0"}, (result.payload, result.logs)


def test_exit_in_the_handler_is_reported_as_lambdas_ruby_runtime_does(emu: Emulator, tmp_path: Path) -> None:
    """Lambda's Ruby runtime rescues SystemExit (outside StandardError: critical): it is posted as the
    handler's error, then the runtime exits, and the next invoke starts a new one."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.rb").write_text("def handler(event:, context:)\n  exit 3\nend\n")
    function = FunctionConfig(name="RubyExit", runtime="ruby3.3", handler="app.handler", code_path=code)
    result = invoke(emu, function)
    assert body(result) == {
        "errorMessage": "exit",
        "errorType": "Function<SystemExit>",
        "stackTrace": ["/var/task/app.rb:2:in `exit'", "/var/task/app.rb:2:in `handler'"],
    }
    assert invoke(emu, function).init_duration_ms is not None, "the runtime exited after posting"
