"""Nested applications and stacks with local templates: parameters passed down, functions as Child/Fn."""

import textwrap
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template import load_template

PARENT = """\
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.13}
  Child:
    Type: AWS::Serverless::Application
    Properties:
      Location: child/template.yaml
      Parameters: {Stage: !Ref Stage, Tags: [a, b], Opaque: !ImportValue Elsewhere}
  Legacy:
    Type: AWS::CloudFormation::Stack
    Properties: {TemplateURL: legacy}
  FromRepository:
    Type: AWS::Serverless::Application
    Properties:
      Location: {ApplicationId: arn:aws:serverlessrepo:us-east-1:1:applications/x, SemanticVersion: 1.0.0}
  OnS3:
    Type: AWS::CloudFormation::Stack
    Properties: {TemplateURL: https://s3.amazonaws.com/bucket/stack.yaml}
"""

CHILD = """\
Parameters:
  Stage: {Type: String}
  Tags: {Type: CommaDelimitedList}
  Opaque: {Type: String}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: python3.13
      InlineCode: "def handler(e, c): return 1"
      Environment: {Variables: {STAGE: !Ref Stage, TAGS: !Join [",", !Ref Tags], OTHER: !Ref Named}}
  Named:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: child-named, CodeUri: ../src, Handler: app.handler, Runtime: python3.13}
  NeedsOpaque:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../src
      Handler: app.handler
      Runtime: python3.13
      Environment: {Variables: {X_VALUE: !Ref Opaque}}
  Grandchild:
    Type: AWS::Serverless::Application
    Properties: {Location: grandchild.yaml}
"""

GRANDCHILD = """\
Resources:
  Deep:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ../src, Handler: app.handler, Runtime: python3.13}
"""


def project(root: Path, child: str = CHILD) -> Path:
    for folder in ("src", "child", "legacy"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "template.yaml").write_text(textwrap.dedent(PARENT))
    (root / "child" / "template.yaml").write_text(textwrap.dedent(child))
    (root / "child" / "grandchild.yaml").write_text(GRANDCHILD)
    (root / "legacy" / "template.yaml").write_text(GRANDCHILD.replace("Deep", "Old"))
    return root / "template.yaml"


def load(root: Path, **options):
    return load_template(project(root), emulator=EmulatorConfig(state_dir=root / "state"), **options)


def test_nested_functions_are_addressed_as_child_slash_function(tmp_path):
    loaded = load(tmp_path)
    assert {"Fn", "Child/Fn", "Child/Named", "Child/Grandchild/Deep", "Legacy/Old"} <= set(loaded.functions)
    child = loaded.function("Child/Fn")
    assert child.logical_id == "Child/Fn"
    # Named apart from the parent's Fn; a FunctionName is kept as written.
    assert (child.name, loaded.function("Child/Named").name) == ("Child-Fn", "child-named")
    assert loaded.function("Child/Grandchild/Deep").name == "Child-Grandchild-Deep"
    assert loaded.function("Fn").name == "Fn"


def test_parameters_are_passed_down_lists_comma_separated(tmp_path):
    environment = load(tmp_path, parameter_overrides={"Stage": "prod"}).function("Child/Fn").environment
    assert environment == {"STAGE": "prod", "TAGS": "a,b", "OTHER": "child-named"}


def test_inline_code_of_a_nested_function_has_a_folder_of_its_own(tmp_path):
    loaded = load(tmp_path)
    assert loaded.function("Child/Fn").code_path == (tmp_path / "state" / "inline" / "Child" / "Fn").resolve()


def test_a_parameter_the_parent_cannot_resolve_breaks_only_what_uses_it(tmp_path):
    loaded = load(tmp_path)
    with pytest.raises(TemplateError, match="parameter Opaque has no Default"):
        loaded.function("Child/NeedsOpaque")
    assert any("gets no value for parameter Opaque" in line for line in loaded.problems())


def test_applications_that_are_not_local_templates_are_left_out_with_a_warning(tmp_path):
    problems = load(tmp_path).problems()
    assert any("FromRepository" in line and "Serverless Application Repository" in line for line in problems)
    assert any("OnS3" in line and "only local templates" in line for line in problems)


def test_a_template_that_includes_itself_stops_with_a_warning(tmp_path):
    path = project(tmp_path)
    (tmp_path / "child" / "grandchild.yaml").write_text(
        "Resources:\n  Again:\n    Type: AWS::Serverless::Application\n"
        "    Properties: {Location: ../template.yaml}\n"
    )
    loaded = load_template(path, emulator=EmulatorConfig(state_dir=tmp_path / "state"))
    assert "Child/Fn" in loaded.functions
    assert any("includes itself" in line for line in loaded.problems())


def test_env_vars_sections_name_nested_functions_by_their_path(tmp_path):
    loaded = load(tmp_path, env_vars={"Child/Named": {"EXTRA": "1"}})
    assert loaded.function("Child/Named").environment["EXTRA"] == "1"


def test_the_nested_templates_read_are_listed_for_the_reloader_to_watch(tmp_path):
    assert set(load(tmp_path).nested_templates) == {
        (tmp_path / "child" / "template.yaml").resolve(),
        (tmp_path / "child" / "grandchild.yaml").resolve(),
        (tmp_path / "legacy" / "template.yaml").resolve(),
    }
