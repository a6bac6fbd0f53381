"""Templates: the settings of asynchronous invocation and concurrency (EventInvokeConfig, dead-letter
targets, ReservedConcurrentExecutions)."""

import textwrap
from pathlib import Path

import pytest

from lambda_emu.config import AsyncConfig, EmulatorConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template import load_template


def load(tmp_path: Path, resources: str):
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    body = textwrap.indent(textwrap.dedent(resources), "  ")
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + body)
    return load_template(path, emulator=EmulatorConfig(state_dir=tmp_path / "state"))


SAM_FUNCTION = """
Fn:
  Type: AWS::Serverless::Function
  Properties:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src
"""


def test_defaults_are_lambdas_two_retries_six_hours_and_no_targets(tmp_path):
    function = load(tmp_path, SAM_FUNCTION).function("Fn")
    assert function.async_config == AsyncConfig()
    assert function.async_config.maximum_retry_attempts == 2
    assert function.async_config.maximum_event_age_seconds == 21_600
    assert function.reserved_concurrency is None


def test_sam_event_invoke_config_dead_letter_queue_and_reserved_concurrency(tmp_path):
    loaded = load(
        tmp_path,
        SAM_FUNCTION
        + """    ReservedConcurrentExecutions: 3
    DeadLetterQueue:
      Type: SQS
      TargetArn: !GetAtt Dlq.Arn
    EventInvokeConfig:
      MaximumRetryAttempts: 1
      MaximumEventAgeInSeconds: 120
      DestinationConfig:
        OnSuccess:
          Type: Lambda
          Destination: !GetAtt Other.Arn
        OnFailure:
          Type: SNS
          Destination: !Ref Topic
Other:
  Type: AWS::Serverless::Function
  Properties: {Runtime: python3.11, Handler: app.handler, CodeUri: src, FunctionName: other-fn}
Dlq:
  Type: AWS::SQS::Queue
  Properties: {QueueName: my-dlq}
Topic:
  Type: AWS::SNS::Topic
""",
    )
    function = loaded.function("Fn")
    assert function.reserved_concurrency == 3
    config = function.async_config
    assert config.dead_letter_target == "arn:aws:sqs:us-east-1:123456789012:my-dlq"
    assert config.maximum_retry_attempts == 1
    assert config.maximum_event_age_seconds == 120
    assert config.on_success == "arn:aws:lambda:us-east-1:123456789012:function:other-fn"
    assert config.on_failure == "arn:aws:sns:us-east-1:123456789012:Topic"


def test_cloudformation_dead_letter_config(tmp_path):
    loaded = load(
        tmp_path,
        """
Fn:
  Type: AWS::Lambda::Function
  Properties:
    Runtime: python3.11
    Handler: app.handler
    Code: src
    Role: arn:aws:iam::123456789012:role/x
    DeadLetterConfig: {TargetArn: "arn:aws:sqs:us-east-1:123456789012:q"}
    ReservedConcurrentExecutions: 0
""",
    )
    function = loaded.function("Fn")
    assert function.async_config.dead_letter_target == "arn:aws:sqs:us-east-1:123456789012:q"
    assert function.reserved_concurrency == 0


@pytest.mark.parametrize(
    ("fragment", "words"),
    [
        ("    EventInvokeConfig: {MaximumRetryAttempts: 3}\n", "MaximumRetryAttempts"),
        ("    EventInvokeConfig: {MaximumEventAgeInSeconds: 30}\n", "MaximumEventAgeInSeconds"),
        ("    DeadLetterQueue: {Type: SQS, TargetArn: not-an-arn}\n", "must be an ARN"),
        ("    ReservedConcurrentExecutions: many\n", "whole number"),
    ],
)
def test_out_of_range_or_malformed_values_name_the_property(tmp_path, fragment, words):
    with pytest.raises(TemplateError, match=words):
        load(tmp_path, SAM_FUNCTION + fragment).function("Fn")


def test_a_cloudformation_event_invoke_config_resource_configures_its_function(tmp_path):
    loaded = load(
        tmp_path,
        SAM_FUNCTION
        + """Other:
  Type: AWS::Serverless::Function
  Properties: {Runtime: python3.11, Handler: app.handler, CodeUri: src}
FnAsync:
  Type: AWS::Lambda::EventInvokeConfig
  Properties:
    FunctionName: !Ref Fn
    Qualifier: $LATEST
    MaximumRetryAttempts: 0
    MaximumEventAgeInSeconds: 60
    DestinationConfig:
      OnFailure:
        Destination: !GetAtt Other.Arn
""",
    )
    config = loaded.function("Fn").async_config
    assert (config.maximum_retry_attempts, config.maximum_event_age_seconds) == (0, 60)
    assert config.on_failure is not None and config.on_failure.endswith(":function:Other")
    assert loaded.function("Other").async_config == AsyncConfig()  # only the named function


def test_a_bad_event_invoke_config_resource_breaks_only_its_function(tmp_path):
    resource = "Cfg:\n  Type: AWS::Lambda::EventInvokeConfig\n  Properties:\n    FunctionName: !Ref Fn\n"
    resource += "    MaximumRetryAttempts: 5\n"
    loaded = load(tmp_path, SAM_FUNCTION + resource)
    with pytest.raises(TemplateError, match="MaximumRetryAttempts"):
        loaded.function("Fn")
    assert "Fn" in loaded.broken and "Fn" not in loaded.functions


def test_an_event_invoke_config_for_no_function_of_the_template_is_left_out_with_a_warning(tmp_path):
    resource = "Cfg:\n  Type: AWS::Lambda::EventInvokeConfig\n  Properties:\n    FunctionName: nobody\n"
    loaded = load(tmp_path, SAM_FUNCTION + resource)
    assert loaded.function("Fn").async_config == AsyncConfig()
    assert any("Cfg" in line and "no function of this template" in line for line in loaded.problems())
