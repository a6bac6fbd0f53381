"""One bad resource never blocks the others: broken functions load as `broken`, named when asked for."""

import textwrap
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import ConfigError, FunctionNotFoundError, TemplateError
from lambda_emu.template import load_template

MIXED = """\
Parameters:
  Stage: {Type: String, Default: dev}
  Secret: {Type: String}
Resources:
  Good:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment: {Variables: {STAGE: !Ref Stage}}
  RemoteLayer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: remote-layer-fn
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:shared:3]
  ImageNoUri:
    Type: AWS::Serverless::Function
    Properties: {PackageType: Image}
  NoCode:
    Type: AWS::Lambda::Function
    Properties: {Handler: app.handler, Runtime: python3.12, Role: arn:aws:iam::1:role/r}
  NeedsSecret:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment: {Variables: {SECRET: !Ref Secret}}
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: prod}
  Custom:
    Type: Custom::SomethingElse
    Properties: {ServiceToken: !GetAtt Good.Arn}
  Vendor:
    Type: Vendor::Made::Up
  NotAMapping: just text
"""


def load(tmp_path: Path, text: str = MIXED, **options):
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    config = EmulatorConfig(state_dir=tmp_path / "state")
    return load_template(path, emulator=config, **options)


def test_the_good_function_loads_beside_broken_ones(tmp_path):
    loaded = load(tmp_path)
    assert list(loaded.functions) == ["Good"]
    assert loaded.function("Good").environment == {"STAGE": "dev"}
    assert set(loaded.broken) == {"RemoteLayer", "ImageNoUri", "NoCode", "NeedsSecret"}


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("RemoteLayer", r"resource RemoteLayer, property Layers: arn:aws:lambda:.*:layer:shared:3 is not a "
         "layer of this template", "get-layer-version-by-arn"),
        ("remote-layer-fn", "resource RemoteLayer, property Layers", "LayerVersion"),
        ("ImageNoUri", "resource ImageNoUri, property ImageUri: is required for PackageType Image",
         "docker images"),
        ("NoCode", "resource NoCode, property Code: is required", "local folder or .zip"),
        ("NeedsSecret", r"resource NeedsSecret, property Environment.Variables.SECRET: parameter Secret has "
         "no Default and no value was given", "--parameter-overrides Secret=VALUE"),
    ],
)  # fmt: skip
def test_a_broken_function_raises_its_problem_naming_function_property_and_what_to_do(
    tmp_path, name, message, hint
):
    with pytest.raises(TemplateError, match=message) as info:
        load(tmp_path).function(name)
    assert isinstance(info.value, ConfigError)  # a usage error: exit status 2 on the CLI
    assert hint in (info.value.hint or "")
    assert str(tmp_path / "template.yaml") in info.value.message


def test_problems_list_each_broken_function_once_and_the_malformed_resource(tmp_path):
    problems = load(tmp_path).problems()
    for lid in ("RemoteLayer", "ImageNoUri", "NoCode", "NeedsSecret"):
        assert sum(line.startswith(f"function {lid} is not loaded: ") for line in problems) == 1
    assert any("NotAMapping" in line and "must be a mapping with a Type" in line for line in problems)
    # Resource types lambda-emu does not run are simply ignored: no warning.
    assert not any(word in line for line in problems for word in ("Api", "Custom", "Vendor"))
    assert len(problems) == 5


def test_an_override_mends_the_function_that_needed_it(tmp_path):
    loaded = load(tmp_path, parameter_overrides={"Secret": "s3cret"})
    assert loaded.function("NeedsSecret").environment == {"SECRET": "s3cret"}


def test_a_wrong_override_is_still_an_error_at_once(tmp_path):
    text = MIXED.replace("Stage: {Type: String, Default: dev}", "Stage: {Type: String, AllowedValues: [dev]}")
    with pytest.raises(TemplateError, match="parameter Stage must be one of"):
        load(tmp_path, text, parameter_overrides={"Stage": "qa"})


def test_a_default_outside_its_allowed_values_breaks_only_the_functions_using_it(tmp_path):
    text = MIXED.replace("Default: dev}", "Default: qa, AllowedValues: [dev, prod]}")
    loaded = load(tmp_path, text)
    assert "Good" in loaded.broken and "Good" not in loaded.functions
    with pytest.raises(TemplateError, match="parameter Stage must be one of"):
        loaded.function("Good")


def test_a_condition_on_a_missing_parameter_breaks_only_its_function(tmp_path):
    text = MIXED.replace(
        "Resources:\n", "Conditions:\n  IsProd: !Equals [!Ref Secret, prod]\nResources:\n"
    ).replace("  NoCode:\n", "  NoCode:\n    Condition: IsProd\n")
    loaded = load(tmp_path, text)
    assert "Good" in loaded.functions
    with pytest.raises(TemplateError, match="resource NoCode, Condition: parameter Secret has no Default"):
        loaded.function("NoCode")


def test_asking_for_no_such_function_lists_the_broken_ones_as_not_loaded(tmp_path):
    with pytest.raises(FunctionNotFoundError, match=r"available: Good, RemoteLayer \(not loaded\)"):
        load(tmp_path).function("Nope")


def test_an_event_source_mapping_that_cannot_be_read_is_left_out_with_a_warning(tmp_path):
    text = MIXED + textwrap.indent(
        textwrap.dedent("""\
        Mapping:
          Type: AWS::Lambda::EventSourceMapping
          Properties: {FunctionName: !Ref Good, EventSourceArn: !ImportValue SharedQueue}
        """),
        "  ",
    )
    loaded = load(tmp_path, text)
    assert loaded.event_sources == ()
    assert any("Mapping" in line and "ImportValue" in line for line in loaded.problems())
    assert "Good" in loaded.functions


def test_only_keeps_the_functions_named_and_refuses_a_broken_or_unknown_one(tmp_path):
    loaded = load(
        tmp_path,
        MIXED.replace(
            "  Api:\n",
            "  Second:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12}\n  Api:\n",
        ),
    )
    assert list(loaded.only(["Second"]).functions) == ["Second"]
    assert loaded.only(["Second"]).problems() == loaded.only(["Good"]).problems()  # resource warnings only
    with pytest.raises(TemplateError, match="property Code: is required"):
        loaded.only(["Good", "NoCode"])
    with pytest.raises(FunctionNotFoundError):
        loaded.only(["Nope"])


def test_code_the_sandbox_user_cannot_read_is_warned_of_naming_what_and_the_fix(tmp_path, caplog):
    import os

    from lambda_emu.template.reader import unreadable_by_sandbox

    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "mod.py").write_text("def handler(e, c): pass\n")
    (code / "index.mjs").write_text("export const handler = async () => 1;\n")
    os.chmod(code, 0o755)
    assert unreadable_by_sandbox(code, "pkg.mod.handler") is None
    os.chmod(code / "pkg" / "mod.py", 0o600)
    assert unreadable_by_sandbox(code, "pkg.mod.handler") == code / "pkg" / "mod.py"
    assert unreadable_by_sandbox(code, "index.handler") is None
    os.chmod(code / "index.mjs", 0o640)
    assert unreadable_by_sandbox(code, "index.handler") == code / "index.mjs"
    os.chmod(code, 0o700)
    assert unreadable_by_sandbox(code, "other.handler") == code

    text = "Resources:\n  Good:\n    Type: AWS::Serverless::Function\n"
    text += "    Properties: {CodeUri: code, Handler: app.handler, Runtime: python3.12}\n"
    loaded = load(tmp_path, text)
    assert "Good" in loaded.functions  # warned of, not refused: an engine may map ownership
    assert f"Function Good: {code.resolve()} is not readable by the sandbox user" in caplog.text
    assert f"chmod -R o+rX {code.resolve()}" in caplog.text
