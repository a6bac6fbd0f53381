import base64
import json
import logging
import os
import textwrap
import zipfile
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import ConfigError, FunctionNotFoundError, TemplateError
from lambda_emu.template import (
    Template,
    find_template,
    load_env_vars_file,
    load_template,
    parse_parameter_overrides,
)
from lambda_emu.template.source import read_template


def emulator(tmp_path: Path) -> EmulatorConfig:
    return EmulatorConfig(region="eu-west-1", account_id="111122223333", state_dir=tmp_path / "state")


def write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str, **options) -> Template:
    return load_template(write(tmp_path, text), emulator=emulator(tmp_path), **options)


def template(
    properties: str = "",
    *,
    sections: str = "",
    resources: str = "",
    code_uri: str | None = "src",
    runtime: str = "python3.12",
    condition: str | None = None,
) -> str:
    """A template holding the function `Fn` (with extra properties) and optional sections/resources."""
    body = textwrap.dedent(sections) + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
    body += f"    Condition: {condition}\n" if condition else ""
    body += "    Properties:\n      Handler: app.handler\n" + f"      Runtime: {runtime}\n"
    body += f"      CodeUri: {code_uri}\n" if code_uri else ""
    body += textwrap.indent(textwrap.dedent(properties), "      ")
    return body + textwrap.indent(textwrap.dedent(resources), "  ")


def environment(tmp_path: Path, variables: str, *, sections: str = "", resources: str = "", **options):
    props = "Environment:\n  Variables:\n" + textwrap.indent(textwrap.dedent(variables), "    ")
    loaded = load(tmp_path, template(props, sections=sections, resources=resources), **options)
    return dict(loaded.function("Fn").environment)


# --- finding the template -----------------------------------------------------------------------------


def test_find_template_prefers_yaml_then_yml_then_json(tmp_path):
    (tmp_path / "template.json").write_text("{}")
    assert find_template(tmp_path) == tmp_path / "template.json"
    (tmp_path / "template.yml").write_text("")
    assert find_template(tmp_path) == tmp_path / "template.yml"
    (tmp_path / "template.yaml").write_text("")
    assert find_template(tmp_path) == tmp_path / "template.yaml"


def test_find_template_returns_none_in_a_folder_without_template(tmp_path):
    (tmp_path / "template.yaml").mkdir()  # a folder of that name is not a template
    assert find_template(tmp_path) is None


# --- parameter overrides ------------------------------------------------------------------------------


def test_parameter_overrides_short_form_with_quoted_values():
    overrides = parse_parameter_overrides("Stage=prod Name=\"a b\" Other='c d' Empty= Url=a=b")
    assert overrides == {"Stage": "prod", "Name": "a b", "Other": "c d", "Empty": "", "Url": "a=b"}


def test_parameter_overrides_long_form_keeps_commas_in_values():
    text = 'ParameterKey=Stage,ParameterValue=prod ParameterKey=Subnets,ParameterValue="a, b"'
    assert parse_parameter_overrides(text) == {"Stage": "prod", "Subnets": "a, b"}


def test_parameter_overrides_of_blank_text_are_empty():
    assert parse_parameter_overrides("  \n ") == {}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('Name="unclosed', "unbalanced quote"),
        ("Stage", "Key=Value"),
        ("ParameterKey=Stage", "ParameterValue"),
        ("=value", "no parameter name"),
    ],
)
def test_parameter_overrides_reject_malformed_text(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_parameter_overrides(text)


# --- env-vars file ------------------------------------------------------------------------------------


def test_env_vars_file_converts_numbers_and_booleans_like_sam(tmp_path):
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Parameters": {"A": "x", "N": 5, "F": 1.5, "B": True}, "Fn": {"C": False}}))
    assert load_env_vars_file(path) == {
        "Parameters": {"A": "x", "N": "5", "F": "1.5", "B": "true"},
        "Fn": {"C": "false"},
    }


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"Parameters": {\n  "A": }', "line 2"),
        ('["A"]', "JSON object"),
        ('{"Fn": "A=1"}', "section 'Fn'"),
        ('{"Fn": {"LIST": [1]}}', "variable LIST"),
        ('{"Fn": {"NULL": null}}', "variable NULL"),
    ],
)
def test_env_vars_file_rejects_bad_content_clearly(tmp_path, content, words):
    path = tmp_path / "env.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=words):
        load_env_vars_file(path)


def test_env_vars_file_that_is_missing_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read"):
        load_env_vars_file(tmp_path / "absent.json")


# --- reading YAML and JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_value", "long_form"),
    [
        ("!Ref Name", {"Ref": "Name"}),
        ("!Condition IsProd", {"Condition": "IsProd"}),
        ("!Sub '${A}-x'", {"Fn::Sub": "${A}-x"}),
        ("!Sub ['${A}', {A: b}]", {"Fn::Sub": ["${A}", {"A": "b"}]}),
        ("!GetAtt Fn.Arn", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Fn, Arn]", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
        ("!Select [0, !Split [',', 'a,b']]", {"Fn::Select": ["0", {"Fn::Split": [",", "a,b"]}]}),
        ("!If [C, a, b]", {"Fn::If": ["C", "a", "b"]}),
        ("!Equals [a, b]", {"Fn::Equals": ["a", "b"]}),
        ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        ("!And [!Condition C, !Condition D]", {"Fn::And": [{"Condition": "C"}, {"Condition": "D"}]}),
        ("!Or [!Condition C, !Condition D]", {"Fn::Or": [{"Condition": "C"}, {"Condition": "D"}]}),
        ("!FindInMap [M, a, b]", {"Fn::FindInMap": ["M", "a", "b"]}),
        ("!Base64 text", {"Fn::Base64": "text"}),
        ("!Cidr [10.0.0.0/16, 2, 8]", {"Fn::Cidr": ["10.0.0.0/16", "2", "8"]}),
        ("!ImportValue Shared", {"Fn::ImportValue": "Shared"}),
        ("!GetAZs ''", {"Fn::GetAZs": ""}),
        ("!Base64 {'Fn::Sub': x}", {"Fn::Base64": {"Fn::Sub": "x"}}),
    ],
)
def test_short_form_tags_read_as_long_form(tmp_path, yaml_value, long_form):
    path = tmp_path / "t.yaml"
    path.write_text(f"Value: {yaml_value}\n")
    assert read_template(path)["Value"] == long_form


def test_yaml_1_1_surprises_stay_strings_in_environment(tmp_path):
    env = environment(
        tmp_path,
        """\
        ON: on
        YES: yes
        TIME: 12:30
        ZIP: 01234
        VERSION: 1.10
        DATE: 2012-10-17
        COUNT: 42
        FLAG: true
        OFF: False
        EMPTY:
        """,
    )
    assert env == {
        "ON": "on",
        "YES": "yes",
        "TIME": "12:30",
        "ZIP": "01234",
        "VERSION": "1.10",
        "DATE": "2012-10-17",
        "COUNT": "42",
        "FLAG": "true",
        "OFF": "false",
        "EMPTY": "",
    }


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(TemplateError, match="YAML syntax error at line 3"):
        load(tmp_path, "Resources:\n  Fn:\n\tType: tab-indented\n")


def test_unknown_yaml_tag_is_a_template_error_with_its_line(tmp_path):
    with pytest.raises(TemplateError, match=r"line 2.*!Reff"):
        load(tmp_path, "Resources:\n  Fn: !Reff x\n")


def test_json_template_loads_like_yaml(tmp_path):
    data = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "src", "Handler": "app.handler", "Runtime": "python3.12",
                               "MemorySize": 256,
                               "Environment": {"Variables": {"R": {"Ref": "AWS::Region"}}}},
            }
        }
    }  # fmt: skip
    path = write(tmp_path, json.dumps(data), "template.json")
    function = load_template(path, emulator=emulator(tmp_path)).function("Fn")
    assert (function.memory_size, dict(function.environment)) == (256, {"R": "eu-west-1"})


def test_json_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, '{\n  "Resources": {,\n}', "template.json")
    with pytest.raises(TemplateError, match="JSON syntax error at line 2"):
        load_template(path, emulator=emulator(tmp_path))


def test_missing_template_file_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="Cannot read template"):
        load_template(tmp_path / "template.yaml", emulator=emulator(tmp_path))


@pytest.mark.parametrize("text", ["AWSTemplateFormatVersion: '2010-09-09'\n", "Resources: {}\n"])
def test_template_without_resources_is_a_template_error(tmp_path, text):
    with pytest.raises(TemplateError, match="no Resources"):
        load(tmp_path, text)


def test_template_that_is_not_a_mapping_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="top level must be a mapping"):
        load(tmp_path, "- a\n- b\n")


# --- functions ----------------------------------------------------------------------------------------


def test_serverless_function_reads_every_property(tmp_path):
    loaded = load(
        tmp_path,
        template(
            """\
            MemorySize: 512
            Timeout: 30
            EphemeralStorage: {Size: 1024}
            Architectures: [arm64]
            Description: Says hello
            Environment: {Variables: {GREETING: hi}}
            """
        ),
    )
    function = loaded.function("Fn")
    assert function.name == "Fn"
    assert function.logical_id == "Fn"
    assert (function.runtime, function.handler) == ("python3.12", "app.handler")
    assert function.code_path == (tmp_path / "src").resolve()
    assert (function.memory_size, function.timeout, function.ephemeral_storage) == (512, 30, 1024)
    assert function.architectures == ("arm64",)
    assert function.description == "Says hello"
    assert dict(function.environment) == {"GREETING": "hi"}


def test_defaults_match_lambda_when_properties_are_absent(tmp_path):
    function = load(tmp_path, template()).function("Fn")
    assert (function.memory_size, function.timeout, function.ephemeral_storage) == (128, 3, 512)
    assert (function.architectures, function.description, dict(function.environment)) == (("x86_64",), "", {})


def test_function_name_property_names_the_function_found_by_either_name(tmp_path):
    loaded = load(tmp_path, template("FunctionName: hello-world\n"))
    assert loaded.function("Fn").name == "hello-world"
    assert loaded.function("hello-world") is loaded.function("Fn")


def test_unknown_function_lists_the_available_names(tmp_path):
    loaded = load(tmp_path, template("FunctionName: hello-world\n"))
    with pytest.raises(FunctionNotFoundError, match=r"'Nope'.*Fn \(hello-world\)"):
        loaded.function("Nope")


def test_functions_keep_template_order_and_ignore_other_resources(tmp_path):
    text = template(
        resources="""\
        Table:
          Type: AWS::DynamoDB::Table
        Alpha:
          Type: AWS::Lambda::Function
          Properties: {Code: src, Handler: a.h, Runtime: python3.12}
        """
    )
    assert list(load(tmp_path, text).functions) == ["Fn", "Alpha"]


def test_invalid_values_load_unvalidated_so_other_functions_still_run(tmp_path):
    text = template(
        "MemorySize: 99999\n",
        resources="""\
        Good:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12}
        """,
    )
    loaded = load(tmp_path, text)
    assert loaded.function("Good").validate().name == "Good"
    with pytest.raises(ConfigError, match="MemorySize"):
        loaded.function("Fn").validate()


@pytest.mark.parametrize("missing", ["Runtime", "Handler"])
def test_function_without_runtime_or_handler_is_a_template_error(tmp_path, missing):
    text = template().replace(f"    {missing}:", "    Unused:")
    with pytest.raises(TemplateError, match=rf"resource Fn, property {missing}: is required"):
        load(tmp_path, text).function("Fn")


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ("MemorySize: lots\n", "MemorySize"),
        ("Timeout: 2.5\n", "Timeout"),
        ("MemorySize: true\n", "MemorySize"),
        ("EphemeralStorage: {Size: big}\n", "EphemeralStorage.Size"),
        ("EphemeralStorage: 1024\n", "EphemeralStorage"),
        ("Architectures: arm64\n", "Architectures"),
        ("Handler: [a, b]\n", "Handler"),
    ],
)
def test_wrong_property_types_are_template_errors_naming_the_property(tmp_path, properties, named):
    text = template(properties)
    if properties.startswith("Handler"):
        text = text.replace("      Handler: app.handler\n", "")
    with pytest.raises(TemplateError, match=rf"resource Fn, property {named}:"):
        load(tmp_path, text).function("Fn")


# --- code location ------------------------------------------------------------------------------------


def test_code_uri_defaults_to_the_template_folder_as_in_sam(tmp_path):
    function = load(tmp_path, template(code_uri=None)).function("Fn")
    assert function.code_path == tmp_path.resolve()


def test_code_uri_may_be_a_zip_file(tmp_path):
    with zipfile.ZipFile(tmp_path / "code.zip", "w") as archive:
        archive.writestr("app.py", "def handler(e, c): return 1\n")
    function = load(tmp_path, template(code_uri="code.zip")).function("Fn")
    assert function.code_path == (tmp_path / "code.zip").resolve()


def test_code_uri_file_that_is_not_a_zip_is_a_template_error(tmp_path):
    (tmp_path / "app.py").write_text("")
    with pytest.raises(TemplateError, match=r"property CodeUri: .*app\.py is neither a folder nor a \.zip"):
        load(tmp_path, template(code_uri="app.py")).function("Fn")


def test_code_uri_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(TemplateError, match=r"property CodeUri: .*missing_dir does not exist"):
        load(tmp_path, template(code_uri="missing_dir")).function("Fn")


@pytest.mark.parametrize("uri", ["s3://bucket/code.zip", "{Bucket: b, Key: code.zip}"])
def test_code_uri_on_s3_is_refused_saying_only_local_code_runs(tmp_path, uri):
    with pytest.raises(TemplateError, match=r"property CodeUri: points to S3.*only local folders and \.zip"):
        load(tmp_path, template(code_uri=uri)).function("Fn")


def test_globals_code_uri_is_relative_to_the_template(tmp_path):
    (tmp_path / "shared").mkdir()
    text = template(sections="Globals:\n  Function:\n    CodeUri: shared\n", code_uri=None)
    assert load(tmp_path, text).function("Fn").code_path == (tmp_path / "shared").resolve()


def test_inline_code_is_written_to_the_state_dir_as_index_py(tmp_path):
    text = template("InlineCode: |\n  def handler(e, c):\n      return 1\n", code_uri=None)
    function = load(tmp_path, text).function("Fn")
    assert function.code_path == (tmp_path / "state" / "inline" / "Fn").resolve()
    assert (function.code_path / "index.py").read_text() == "def handler(e, c):\n    return 1\n"


def test_inline_code_for_nodejs_is_index_js(tmp_path):
    text = template("InlineCode: exports.handler = async () => 1;\n", code_uri=None, runtime="nodejs20.x")
    function = load(tmp_path, text).function("Fn")
    assert (function.code_path / "index.js").read_text() == "exports.handler = async () => 1;"


def test_unchanged_inline_code_is_not_rewritten(tmp_path):
    text = template("InlineCode: x = 1\n", code_uri=None)
    file = load(tmp_path, text).function("Fn").code_path / "index.py"
    os.utime(file, (1_000_000, 1_000_000))
    load(tmp_path, text)
    assert file.stat().st_mtime == 1_000_000


def test_inline_code_on_another_runtime_is_a_template_error(tmp_path):
    text = template("InlineCode: class X {}\n", code_uri=None, runtime="java21")
    with pytest.raises(TemplateError, match="property InlineCode: .*Python and Node.js"):
        load(tmp_path, text).function("Fn")


def test_inline_code_and_code_uri_together_are_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="property InlineCode: give either CodeUri or InlineCode"):
        load(tmp_path, template("InlineCode: x = 1\n")).function("Fn")


LAMBDA_FUNCTION = """\
Resources:
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      Code: {code}
"""


def test_lambda_function_zip_file_code_is_written_inline(tmp_path):
    loaded = load(tmp_path, LAMBDA_FUNCTION.format(code="{ZipFile: 'x = 1'}"))
    assert (loaded.function("Plain").code_path / "index.py").read_text() == "x = 1"


def test_lambda_function_code_may_be_a_local_path(tmp_path):
    assert (
        load(tmp_path, LAMBDA_FUNCTION.format(code="src")).function("Plain").code_path
        == (tmp_path / "src").resolve()
    )


def test_lambda_function_code_on_s3_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="resource Plain, property Code: points to S3"):
        load(tmp_path, LAMBDA_FUNCTION.format(code="{S3Bucket: b, S3Key: k}")).function("Plain")


def test_lambda_function_without_code_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="property Code: is required"):
        load(tmp_path, LAMBDA_FUNCTION.replace("      Code: {code}\n", "")).function("Plain")


def test_image_function_without_image_uri_or_metadata_is_a_template_error(tmp_path):
    text = template(resources="Img:\n  Type: AWS::Serverless::Function\n  Properties: {PackageType: Image}\n")
    with pytest.raises(
        TemplateError, match="resource Img, property ImageUri: is required for PackageType Image"
    ):
        load(tmp_path, text).function("Img")


def test_layer_content_uri_that_does_not_exist_is_named_by_the_functions_using_it(tmp_path):
    text = template(
        "Layers: [!Ref Deps]\n",
        resources="Deps:\n  Type: AWS::Serverless::LayerVersion\n  Properties: {ContentUri: nolayer}\n"
        "Other:\n  Type: AWS::Serverless::Function\n"
        "  Properties: {CodeUri: src, Handler: a.h, Runtime: python3.12}\n",
    )
    loaded = load(tmp_path, text)
    assert loaded.function("Other").name == "Other"  # a function without the layer runs
    with pytest.raises(
        TemplateError,
        match=r"resource Fn, property Layers: layer Deps cannot be loaded: resource Deps, property "
        r"ContentUri: .*nolayer does not exist",
    ):
        loaded.function("Fn")


def test_two_functions_with_one_name_are_a_template_error(tmp_path):
    text = template(
        "FunctionName: same\n",
        resources="""\
        Other:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: src, Handler: a.h, Runtime: python3.12, FunctionName: same}
        """,
    )
    loaded = load(tmp_path, text)
    for lid in ("Fn", "Other"):
        with pytest.raises(TemplateError, match="Fn and Other are both named same"):
            loaded.function(lid)
    with pytest.raises(TemplateError, match="both named same"):
        loaded.function("same")


# --- Globals ------------------------------------------------------------------------------------------


def test_globals_memory_applies_unless_function_overrides(tmp_path):
    text = template(
        sections="Globals:\n  Function:\n    MemorySize: 1024\n    Timeout: 20\n",
        resources="""\
        Small:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: src, Handler: a.h, Runtime: python3.12, MemorySize: 256}
        """,
    )
    loaded = load(tmp_path, text)
    assert (loaded.function("Fn").memory_size, loaded.function("Small").memory_size) == (1024, 256)
    assert loaded.function("Small").timeout == 20


def test_globals_environment_variables_merge_key_by_key_function_wins(tmp_path):
    sections = "Globals:\n  Function:\n    Environment:\n      Variables: {SHARED: g, BOTH: g}\n"
    assert environment(tmp_path, "BOTH: f\nOWN: f\n", sections=sections) == {
        "SHARED": "g",
        "BOTH": "f",
        "OWN": "f",
    }


def test_globals_do_not_apply_to_plain_lambda_functions(tmp_path):
    text = "Globals:\n  Function:\n    Timeout: 60\n" + LAMBDA_FUNCTION.format(code="src")
    assert load(tmp_path, text).function("Plain").timeout == 3


# --- parameters ---------------------------------------------------------------------------------------

PARAMETERS = """\
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Memory: {Type: Number, Default: 256}
  Names: {Type: CommaDelimitedList, Default: "a, b,c"}
"""


def test_parameter_defaults_are_used_by_ref(tmp_path):
    text = template(
        "MemorySize: !Ref Memory\nEnvironment: {Variables: {STAGE: !Ref Stage}}\n", sections=PARAMETERS
    )
    function = load(tmp_path, text).function("Fn")
    assert (function.memory_size, dict(function.environment)) == (256, {"STAGE": "dev"})


def test_parameter_overrides_replace_defaults(tmp_path):
    text = template(
        "MemorySize: !Ref Memory\nEnvironment: {Variables: {STAGE: !Ref Stage}}\n", sections=PARAMETERS
    )
    function = load(tmp_path, text, parameter_overrides={"Stage": "prod", "Memory": "2048"}).function("Fn")
    assert (function.memory_size, dict(function.environment)) == (2048, {"STAGE": "prod"})


def test_parameter_without_default_or_override_is_named_by_the_functions_using_it(tmp_path):
    text = template(
        "Environment: {Variables: {SECRET: !Ref Secret}}\n",
        sections="Parameters:\n  Secret: {Type: String}\n",
        resources="Other:\n  Type: AWS::Serverless::Function\n"
        "  Properties: {CodeUri: src, Handler: a.h, Runtime: python3.12}\n",
    )
    loaded = load(tmp_path, text)
    assert loaded.function("Other").name == "Other"
    with pytest.raises(
        TemplateError,
        match=r"resource Fn, property Environment.Variables.SECRET: parameter Secret has no Default",
    ) as info:
        loaded.function("Fn")
    assert "--parameter-overrides Secret=VALUE" in (info.value.hint or "")
    assert (
        load(tmp_path, text, parameter_overrides={"Secret": "s"}).function("Fn").environment["SECRET"] == "s"
    )


def test_parameter_override_outside_allowed_values_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="parameter Stage must be one of"):
        load(tmp_path, template(sections=PARAMETERS), parameter_overrides={"Stage": "qa"})


def test_number_parameter_that_is_not_a_number_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="parameter Memory is a Number"):
        load(tmp_path, template(sections=PARAMETERS), parameter_overrides={"Memory": "lots"})


def test_comma_delimited_list_parameter_is_a_list_for_join_and_select(tmp_path):
    env = environment(
        tmp_path, "J: !Join ['|', !Ref Names]\nS: !Select [1, !Ref Names]\n", sections=PARAMETERS
    )
    assert env == {"J": "a|b|c", "S": "b"}


def test_override_of_an_undeclared_parameter_is_ignored_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        load(tmp_path, template(), parameter_overrides={"Ghost": "x"})
    assert "Ghost" in caplog.text


def test_ssm_parameter_type_needs_an_override_to_resolve(tmp_path):
    sections = "Parameters:\n  Key: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /app/key}\n"
    assert environment(tmp_path, "KEY: !Ref Key\n", sections=sections) == {"KEY": ""}
    overridden = environment(tmp_path, "KEY: !Ref Key\n", sections=sections, parameter_overrides={"Key": "v"})
    assert overridden == {"KEY": "v"}


# --- intrinsic functions ------------------------------------------------------------------------------


def test_pseudo_parameters_resolve_to_the_emulator_settings(tmp_path):
    env = environment(
        tmp_path,
        """\
        REGION: !Ref AWS::Region
        ACCOUNT: !Ref AWS::AccountId
        STACK: !Ref AWS::StackName
        PARTITION: !Ref AWS::Partition
        SUFFIX: !Ref AWS::URLSuffix
        STACK_ID: !Ref AWS::StackId
        """,
    )
    assert env["REGION"] == "eu-west-1"
    assert env["ACCOUNT"] == "111122223333"
    assert (env["STACK"], env["PARTITION"], env["SUFFIX"]) == ("lambda-emu", "aws", "amazonaws.com")
    assert env["STACK_ID"].startswith("arn:aws:cloudformation:eu-west-1:111122223333:stack/lambda-emu/")


def test_no_value_removes_the_variable_and_the_property(tmp_path):
    text = template(
        """\
        MemorySize: !If [IsProd, 1024, !Ref AWS::NoValue]
        Environment:
          Variables:
            KEPT: x
            GONE: !Ref AWS::NoValue
        """,
        sections="Conditions:\n  IsProd: !Equals [a, b]\n",
    )
    function = load(tmp_path, text).function("Fn")
    assert (function.memory_size, dict(function.environment)) == (128, {"KEPT": "x"})


def test_ref_and_arn_of_a_function_use_its_name(tmp_path):
    env = environment(
        tmp_path,
        "NAME: !Ref Other\nARN: !GetAtt Other.Arn\nSELF: !Ref Fn\n",
        resources="""\
        Other:
          Type: AWS::Lambda::Function
          Properties:
            {Code: src, Handler: a.h, Runtime: python3.12, FunctionName: !Sub '${AWS::StackName}-other'}
        """,
    )
    assert env == {
        "NAME": "lambda-emu-other",
        "ARN": "arn:aws:lambda:eu-west-1:111122223333:function:lambda-emu-other",
        "SELF": "Fn",
    }


def test_sub_replaces_parameters_pseudo_parameters_attributes_and_keeps_escapes(tmp_path):
    env = environment(
        tmp_path,
        """\
        TEXT: !Sub '${Stage}/${AWS::Region}/${Fn.Arn}/${!Literal}'
        MAPPED: !Sub ['${Name}-${Stage}', {Name: !Ref AWS::AccountId}]
        """,
        sections=PARAMETERS,
    )
    assert env == {
        "TEXT": "dev/eu-west-1/arn:aws:lambda:eu-west-1:111122223333:function:Fn/${Literal}",
        "MAPPED": "111122223333-dev",
    }


def test_join_select_split_base64_and_cidr(tmp_path):
    env = environment(
        tmp_path,
        """\
        JOIN: !Join ['-', [a, !Ref AWS::Region]]
        SELECT: !Select [2, !Split [',', 'x,y,z']]
        B64: !Base64 hello
        CIDR: !Select [1, !Cidr [10.0.0.0/16, 3, 8]]
        """,
    )
    assert env == {
        "JOIN": "a-eu-west-1",
        "SELECT": "z",
        "B64": base64.b64encode(b"hello").decode(),
        "CIDR": "10.0.1.0/24",
    }


def test_conditions_drive_fn_if(tmp_path):
    sections = PARAMETERS + textwrap.dedent(
        """\
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          IsDev: !Not [!Condition IsProd]
          Both: !And [!Condition IsDev, !Equals ['256', !Ref Memory]]
          Either: !Or [!Condition IsProd, !Equals [a, b]]
        """
    )
    variables = "P: !If [IsProd, y, n]\nD: !If [IsDev, y, n]\nB: !If [Both, y, n]\nE: !If [Either, y, n]\n"
    assert environment(tmp_path, variables, sections=sections) == {"P": "n", "D": "y", "B": "y", "E": "n"}
    overridden = environment(tmp_path, variables, sections=sections, parameter_overrides={"Stage": "prod"})
    assert overridden == {"P": "y", "D": "n", "B": "n", "E": "y"}


def test_find_in_map_reads_mappings(tmp_path):
    sections = PARAMETERS + "Mappings:\n  Sizes:\n    dev: {Memory: 512}\n    prod: {Memory: 4096}\n"
    text = template("MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]\n", sections=sections)
    assert load(tmp_path, text).function("Fn").memory_size == 512


def test_find_in_map_with_a_missing_key_names_the_property(tmp_path):
    text = template(
        "Timeout: !FindInMap [Sizes, qa, Memory]\n", sections="Mappings:\n  Sizes: {dev: {Memory: 1}}\n"
    )
    with pytest.raises(TemplateError, match=r"property Timeout: Fn::FindInMap: Sizes\.qa\.Memory is not in"):
        load(tmp_path, text).function("Fn")


def test_refs_to_named_resources_resolve_to_their_names_and_arns(tmp_path):
    env = environment(
        tmp_path,
        """\
        TABLE: !Ref Table
        TABLE_ARN: !GetAtt Table.Arn
        UNNAMED: !Ref Unnamed
        QUEUE_URL: !Ref Queue
        """,
        resources="""\
        Table: {Type: 'AWS::DynamoDB::Table', Properties: {TableName: !Sub '${AWS::StackName}-items'}}
        Unnamed: {Type: 'AWS::S3::Bucket'}
        Queue: {Type: 'AWS::SQS::Queue', Properties: {QueueName: jobs}}
        """,
    )
    assert env == {
        "TABLE": "lambda-emu-items",
        "TABLE_ARN": "arn:aws:dynamodb:eu-west-1:111122223333:table/lambda-emu-items",
        "UNNAMED": "Unnamed",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs",
    }


def test_environment_values_that_cannot_be_resolved_locally_become_empty_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        env = environment(
            tmp_path,
            """\
            IMPORTED: !ImportValue SharedVpc
            ATTRIBUTE: !GetAtt Key.Arn
            ROLE: !GetAtt FnRole.Arn
            PLAIN: kept
            """,
            resources="Key: {Type: 'AWS::KMS::Key'}\n",
        )
    assert env == {"IMPORTED": "", "ATTRIBUTE": "", "ROLE": "", "PLAIN": "kept"}
    assert "Environment.Variables.IMPORTED" in caplog.text and "cannot be resolved locally" in caplog.text


def test_unresolvable_value_in_a_property_read_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="Description: Fn::ImportValue Shared cannot be resolved locally"):
        load(tmp_path, template("Description: !ImportValue Shared\n")).function("Fn")


def test_unresolvable_values_in_properties_not_read_do_not_matter(tmp_path):
    text = template(
        "Role: !ImportValue SharedRole\nPolicies: [!GetAtt Key.Arn]\n", resources="Key: {Type: X}\n"
    )
    assert load(tmp_path, text).function("Fn").name == "Fn"


def test_ref_to_an_undefined_name_is_a_template_error_even_in_environment(tmp_path):
    with pytest.raises(TemplateError, match=r"Environment\.Variables\.X: Ref Nowhere names 'Nowhere'"):
        environment(tmp_path, "X: !Ref Nowhere\n")


def test_circular_function_names_are_a_template_error(tmp_path):
    text = template(
        "FunctionName: !Sub '${Other}-a'\n",
        resources="""\
        Other:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: src, Handler: a.h, Runtime: python3.12, FunctionName: !Sub '${Fn}-b'}
        """,
    )
    with pytest.raises(TemplateError, match="property FunctionName: circular reference"):
        load(tmp_path, text).function("Fn")


def test_environment_value_that_is_a_list_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match=r"Environment\.Variables\.X: the value must be a string"):
        environment(tmp_path, "X: [a, b]\n")


def test_resource_with_a_false_condition_is_not_loaded(tmp_path):
    sections = PARAMETERS + "Conditions:\n  IsProd: !Equals [!Ref Stage, prod]\n"
    text = template(sections=sections, condition="IsProd")
    assert "Fn" not in load(tmp_path, text).functions
    with pytest.raises(FunctionNotFoundError, match="Condition IsProd is false"):
        load(tmp_path, text).function("Fn")
    assert "Fn" in load(tmp_path, text, parameter_overrides={"Stage": "prod"}).functions


def test_undefined_condition_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="condition 'Missing' is not defined"):
        environment(tmp_path, "X: !If [Missing, a, b]\n")


# --- env vars from a file -----------------------------------------------------------------------------


def test_env_vars_parameters_apply_to_all_and_function_sections_win(tmp_path):
    text = template(
        "Environment: {Variables: {A: template, B: template}}\n",
        resources="""\
        Named:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: src, Handler: a.h, Runtime: python3.12, FunctionName: named-fn}
        """,
    )
    env_vars = {"Parameters": {"A": "all", "NEW": "all"}, "Fn": {"B": "fn"}, "named-fn": {"NEW": "named"}}
    loaded = load(tmp_path, text, env_vars=env_vars)
    assert dict(loaded.function("Fn").environment) == {"A": "all", "B": "fn", "NEW": "all"}
    assert dict(loaded.function("Named").environment) == {"A": "all", "NEW": "named"}


def test_language_extensions_length_to_json_string_and_find_in_map_default(tmp_path):
    env = environment(
        tmp_path,
        """\
        LENGTH: !Length [a, b, c]
        JSON: !ToJsonString {a: [1, true]}
        DEFAULT: !FindInMap [Sizes, qa, Memory, {DefaultValue: fallback}]
        """,
        sections="Mappings:\n  Sizes: {dev: {Memory: 1}}\n",
    )
    assert env == {"LENGTH": "3", "JSON": '{"a":["1",true]}', "DEFAULT": "fallback"}


def test_numbers_written_as_text_convert_for_integer_properties(tmp_path):
    function = load(tmp_path, template("MemorySize: '1024'\nTimeout: -5\n")).function("Fn")
    assert (function.memory_size, function.timeout) == (1024, -5)  # the range is validate()'s to check


# ---- layers ------------------------------------------------------------------------------------------
LAYERED = """\
Globals:
  Function:
    Layers: [!Ref Shared]
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {LayerName: shared, ContentUri: layers/shared}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Layers: [!Ref Zipped, !GetAtt Plain.LayerVersionArn]
  Zipped:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layers/zipped.zip}
  Plain:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: layers/plain}
"""


def layer_folders(tmp_path: Path) -> None:
    for name in ("shared", "plain"):
        (tmp_path / "layers" / name / "python").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "layers" / "zipped.zip", "w") as archive:
        archive.writestr("python/zipped.py", "X = 1\n")


def test_layers_load_in_order_globals_first_from_both_layer_types(tmp_path):
    layer_folders(tmp_path)
    function = load(tmp_path, LAYERED).function("Fn")
    assert function.layers == (
        (tmp_path / "layers" / "shared").resolve(),
        (tmp_path / "layers" / "zipped.zip").resolve(),
        (tmp_path / "layers" / "plain").resolve(),
    )


def test_ref_to_a_layer_is_its_arn(tmp_path):
    layer_folders(tmp_path)
    text = LAYERED.replace(
        "      Layers: [!Ref Zipped, !GetAtt Plain.LayerVersionArn]\n",
        "      Layers: []\n      Environment: {Variables: {ARN: !Ref Shared, PLAIN: !Ref Plain}}\n",
    )
    env = load(tmp_path, text).function("Fn").environment
    assert env["ARN"] == "arn:aws:lambda:eu-west-1:111122223333:layer:shared:1"
    assert env["PLAIN"] == "arn:aws:lambda:eu-west-1:111122223333:layer:Plain:1"


def test_function_without_layers_has_none(tmp_path):
    assert load(tmp_path, template()).function("Fn").layers == ()


@pytest.mark.parametrize(
    "layer",
    [
        "arn:aws:lambda:us-east-1:123456789012:layer:remote:3",
        "!Sub 'arn:aws:lambda:${AWS::Region}:1:layer:x:1'",
    ],
)
def test_remote_layer_arn_is_a_template_error_saying_only_local_layers_run(tmp_path, layer):
    with pytest.raises(
        TemplateError, match="property Layers: .* lambda-emu supports only local layers"
    ) as info:
        load(tmp_path, template(f"Layers: [{layer}]\n")).function("Fn")
    assert "LayerVersion" in (info.value.hint or "")


def test_layer_with_a_false_condition_is_named_when_a_function_uses_it(tmp_path):
    (tmp_path / "dep").mkdir()
    text = template(
        "Layers: [!Ref Dep]\n",
        sections="Conditions:\n  Never: !Equals [a, b]\n",
        resources="Dep:\n  Type: AWS::Serverless::LayerVersion\n  Condition: Never\n"
        "  Properties: {ContentUri: dep}\n",
    )
    with pytest.raises(TemplateError, match="layer Dep is not loaded: its Condition is false"):
        load(tmp_path, text).function("Fn")


def test_layer_content_on_s3_is_a_template_error(tmp_path):
    text = template(
        resources="Dep:\n  Type: AWS::Lambda::LayerVersion\n"
        "  Properties: {Content: {S3Bucket: b, S3Key: k}}\n"
    )
    with pytest.raises(TemplateError, match="resource Dep, property Content: points to S3"):
        load(
            tmp_path, text.replace("Handler: app.handler", "Handler: app.handler\n      Layers: [!Ref Dep]")
        ).function("Fn")


def test_layer_without_content_is_a_template_error(tmp_path):
    text = template(resources="Dep:\n  Type: AWS::Serverless::LayerVersion\n  Properties: {LayerName: d}\n")
    with pytest.raises(TemplateError, match="resource Dep, property ContentUri: is required"):
        load(
            tmp_path, text.replace("Handler: app.handler", "Handler: app.handler\n      Layers: [!Ref Dep]")
        ).function("Fn")


def test_more_than_five_layers_are_a_template_error_as_lambda_refuses_them_at_deployment(tmp_path):
    layer_folders(tmp_path)
    text = LAYERED.replace(
        "      Layers: [!Ref Zipped, !GetAtt Plain.LayerVersionArn]\n",
        "      Layers: [!Ref Zipped, !Ref Zipped, !Ref Plain, !Ref Plain, !Ref Zipped]\n",
    )
    with pytest.raises(TemplateError, match="property Layers: cannot reference more than 5 layers; got 6"):
        load(tmp_path, text).function("Fn")


def test_layers_that_are_not_a_list_are_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="property Layers: must be a list"):
        load(tmp_path, template("Layers: just-one\n")).function("Fn")


# ---- container-image functions -----------------------------------------------------------------------
IMAGE = """\
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: src
    Timeout: 9
    Environment: {Variables: {STAGE: dev}}
Resources:
  Img:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1
      MemorySize: 512
      ImageConfig:
        EntryPoint: [python3, -m, awslambdaric]
        Command: [app.other]
        WorkingDirectory: /app
"""


def test_image_function_reads_image_uri_and_image_config_and_takes_no_zip_globals(tmp_path):
    function = load(tmp_path, IMAGE).function("Img")
    assert function.package_type == "Image"
    assert function.image_uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"
    assert function.image_config is not None
    assert function.image_config.entry_point == ("python3", "-m", "awslambdaric")
    assert function.image_config.command == ("app.other",)
    assert function.image_config.working_directory == "/app"
    assert (function.runtime, function.handler, function.layers) == ("", "", ())
    assert (function.memory_size, function.timeout) == (512, 9)
    assert function.environment == {"STAGE": "dev"}
    function.validate()


def test_image_function_without_image_config_keeps_the_images_own(tmp_path):
    text = IMAGE[: IMAGE.index("      ImageConfig:")]
    assert load(tmp_path, text).function("Img").image_config is None


def test_ignore_globals_drops_all_or_the_named_globals(tmp_path):
    everything = IMAGE.replace("  Img:\n", "  Img:\n    IgnoreGlobals: '*'\n")
    assert load(tmp_path, everything).function("Img").timeout == 3
    some = IMAGE.replace("  Img:\n", "  Img:\n    IgnoreGlobals: [Environment]\n")
    loaded = load(tmp_path, some).function("Img")
    assert (loaded.timeout, dict(loaded.environment)) == (9, {})


def test_ignore_globals_naming_a_property_globals_lack_is_a_template_error(tmp_path):
    text = IMAGE.replace("  Img:\n", "  Img:\n    IgnoreGlobals: [MemorySize]\n")
    with pytest.raises(TemplateError, match="IgnoreGlobals names MemorySize"):
        load(tmp_path, text).function("Img")


@pytest.mark.parametrize("key", ["Runtime: python3.12", "Handler: app.handler", "Layers: []"])
def test_image_function_with_its_own_zip_properties_is_a_template_error(tmp_path, key):
    text = IMAGE.replace("      MemorySize: 512\n", f"      MemorySize: 512\n      {key}\n")
    with pytest.raises(TemplateError, match=f"property {key.split(':')[0]}: .*PackageType is Image"):
        load(tmp_path, text).function("Img")


def test_image_function_built_from_metadata_is_tagged_as_sam_build_tags_it(tmp_path):
    (tmp_path / "img").mkdir()
    text = """\
    Resources:
      MyImage:
        Type: AWS::Serverless::Function
        Properties: {PackageType: Image}
        Metadata:
          DockerContext: img
          Dockerfile: Dockerfile
          DockerTag: v2
          DockerBuildArgs: {BASE: !Ref AWS::Region}
    """
    function = load(tmp_path, text).function("MyImage")
    assert function.image_uri == "myimage:v2"
    recipe = function.recipe  # type: ignore[attr-defined]
    assert recipe.context_dir == (tmp_path / "img").resolve()
    assert (recipe.dockerfile, dict(recipe.build_args), recipe.target) == (
        "Dockerfile",
        {"BASE": "eu-west-1"},
        None,
    )


def test_image_uri_wins_over_the_metadata_tag_and_keeps_the_recipe(tmp_path):
    (tmp_path / "img").mkdir()
    text = IMAGE + "    Metadata: {DockerContext: img}\n"
    function = load(tmp_path, text).function("Img")
    assert function.image_uri.endswith("/app:v1")
    assert function.recipe.context_dir == (tmp_path / "img").resolve()  # type: ignore[attr-defined]


def test_metadata_docker_context_that_is_missing_is_a_template_error(tmp_path):
    text = IMAGE + "    Metadata: {DockerContext: nowhere, Dockerfile: Dockerfile}\n"
    with pytest.raises(TemplateError, match="Metadata.DockerContext: .*nowhere is not a folder"):
        load(tmp_path, text).function("Img")


def test_lambda_function_image_from_code_image_uri(tmp_path):
    text = """\
    Resources:
      Plain:
        Type: AWS::Lambda::Function
        Properties:
          PackageType: Image
          Code: {ImageUri: local/app:latest}
          ImageConfig: {Command: [app.handler]}
    """
    function = load(tmp_path, text).function("Plain")
    assert (function.package_type, function.image_uri) == ("Image", "local/app:latest")
    assert function.image_config is not None and function.image_config.command == ("app.handler",)


def test_image_config_with_wrong_types_is_a_template_error(tmp_path):
    text = IMAGE.replace("Command: [app.other]", "Command: app.other")
    with pytest.raises(TemplateError, match="property ImageConfig.Command: must be a list of strings"):
        load(tmp_path, text).function("Img")
