"""Real SAM projects as they are: a template mixing broken and working functions runs the working ones,
through the installed CLI and through `serve` with boto3."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Served, containers_of, start_server

MIXED = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Secret: {Type: String}
Resources:
  Good:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: good-fn
      CodeUri: src
      Handler: app.handler
      Runtime: python3.13
  RemoteLayer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.13
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:shared:3]
  ImageNoUri:
    Type: AWS::Serverless::Function
    Properties: {PackageType: Image}
  NoCode:
    Type: AWS::Lambda::Function
    Properties: {Handler: app.handler, Runtime: python3.13, Role: arn:aws:iam::123456789012:role/r}
  NeedsSecret:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.13
      Environment: {Variables: {SECRET: !Ref Secret}}
  Bucket:
    Type: AWS::S3::Bucket
  Odd:
    Type: Vendor::Made::Up
"""

APP = """\
def handler(event, context):
    return {"ok": True, "event": event, "name": context.function_name}
"""


def project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(APP)
    template = root / "template.yaml"
    template.write_text(textwrap.dedent(MIXED))
    return template


def run(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_the_working_function_runs_beside_broken_ones_and_a_broken_one_says_why(tmp_path: Path) -> None:
    project(tmp_path)
    done = run("invoke", "Good", "--payload", '{"n": 1}', "--no-server", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "event": {"n": 1}, "name": "good-fn"}

    broken = run("invoke", "RemoteLayer", "--no-server", cwd=tmp_path)
    assert broken.returncode == 2, broken.stderr
    assert "resource RemoteLayer, property Layers:" in broken.stderr
    assert "layer:shared:3 is not a layer of this template" in broken.stderr
    assert "hint: Download the layer's content" in broken.stderr

    secret = run("invoke", "NeedsSecret", "--no-server", cwd=tmp_path)
    assert secret.returncode == 2
    assert "parameter Secret has no Default" in secret.stderr
    assert "--parameter-overrides Secret=VALUE" in secret.stderr
    mended = run("invoke", "NeedsSecret", "--parameter-overrides", "Secret=s", "--no-server", cwd=tmp_path)
    assert mended.returncode == 0, mended.stderr


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("mixed")
    server = start_server(root / "state", template=project(root / "project"))
    yield server
    pid = server.process.pid
    assert server.stop() == 0, server.log()
    assert containers_of(pid) == []


def test_serve_warns_of_each_broken_function_at_start(mixed: Served) -> None:
    log = mixed.log()
    for lid, words in [
        ("RemoteLayer", "property Layers"),
        ("ImageNoUri", "property ImageUri: is required"),
        ("NoCode", "property Code: is required"),
        ("NeedsSecret", "parameter Secret has no Default"),
    ]:
        line = next(line for line in log.splitlines() if f"warning: function {lid} is not loaded" in line)
        assert words in line
    assert "Odd" not in log and "Bucket" not in log  # other resource types are simply ignored


def test_serve_runs_the_working_function_and_answers_lambda_not_found_with_why(mixed: Served) -> None:
    client = mixed.client()
    answer = client.invoke(FunctionName="good-fn", Payload=b'{"a": 1}')
    assert json.loads(answer["Payload"].read())["event"] == {"a": 1}
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.invoke(FunctionName="NoCode", Payload=b"{}")
    message = info.value.response["Error"]["Message"]
    assert "lambda-emu did not load it" in message and "property Code: is required" in message
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert names == ["good-fn"]


def test_a_port_in_use_says_so_and_names_the_option_to_change_it(tmp_path: Path) -> None:
    import socket

    project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(
            "--state-dir", str(tmp_path / "state"), "serve", "-p", str(port), "--no-watch", cwd=tmp_path
        )
    assert done.returncode == 2, done.stderr
    assert f"Port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "-p/--port" in done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "named"),
    [
        (("--payload", "{oops"), None, "--payload is not valid JSON"),
        (("-e", "bad.json"), None, "the event file bad.json (-e) is not valid JSON (line 2"),
        (("-e", "-"), "[1,", "the event read from stdin (-e -) is not valid JSON"),
    ],
)
def test_invalid_json_names_the_input_it_came_from(
    tmp_path: Path, args: tuple[str, ...], stdin: str | None, named: str
) -> None:
    project(tmp_path)
    (tmp_path / "bad.json").write_text('{"a": 1,\n  "b": }\n')
    exe = shutil.which("lambda-emu")
    assert exe
    done = subprocess.run(
        [exe, "invoke", "Good", "--no-server", *args],
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "START RequestId" not in done.stderr  # refused before anything ran


def test_an_unsupported_runtime_fails_on_invoke_only_and_suggests_the_nearest(tmp_path: Path) -> None:
    template = project(tmp_path)
    template.write_text(
        template.read_text()
        + "  Legacy:\n    Type: AWS::Serverless::Function\n"
        + "    Properties: {CodeUri: src, Handler: app.handler, Runtime: nodejs16}\n"
    )
    assert run("invoke", "Good", "--no-server", cwd=tmp_path).returncode == 0
    done = run("invoke", "Legacy", "--no-server", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Function Legacy: unsupported runtime 'nodejs16'" in done.stderr
    assert "Did you mean nodejs18.x?" in done.stderr


SECRET_APP = """\
import os


def handler(event, context):
    return {"secret": os.environ.get("SECRET"), "extra": os.environ.get("EXTRA")}
"""


def test_sam_cli_options_are_accepted_as_sam_takes_them(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "src" / "app.py").write_text(SECRET_APP)
    (tmp_path / "env.json").write_text(json.dumps({"NeedsSecret": {"EXTRA": "from-env-vars"}}))
    done = run(
        "invoke", "NeedsSecret", "--no-server", "--skip-pull-image", "--no-event", "-n", "env.json",
        "--parameter-overrides", "Other=1", "--parameter-overrides", "ParameterKey=Secret,ParameterValue=s1",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"secret": "s1", "extra": "from-env-vars"}


def test_samconfig_toml_gives_invoke_its_defaults_and_flags_win(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "src" / "app.py").write_text(SECRET_APP)
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[default.local_invoke.parameters]\nparameter_overrides = "Secret=from-samconfig"\n'
    )
    done = run("invoke", "NeedsSecret", "--no-server", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["secret"] == "from-samconfig"
    flagged = run(
        "invoke", "NeedsSecret", "--no-server", "--parameter-overrides", "Secret=flag", cwd=tmp_path
    )
    assert json.loads(flagged.stdout)["secret"] == "flag"


def test_serve_reads_local_start_lambda_from_samconfig_and_warms_eagerly(tmp_path: Path) -> None:
    template = project(tmp_path / "project")
    (tmp_path / "project" / "src" / "app.py").write_text(SECRET_APP)
    (tmp_path / "project" / "samconfig.toml").write_text(
        "[default.local_start_lambda.parameters]\n"
        'parameter_overrides = ["Secret=served-secret"]\nwarm_containers = "EAGER"\n'
    )
    server = start_server(tmp_path / "state", "--no-watch", template=template)
    try:
        deadline = time.monotonic() + 120
        while "environment(s) started" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "--warm-containers EAGER: starting every function's environment" in server.log()
        warm = set(containers_of(server.process.pid))
        assert warm, "EAGER started no environment before the first invoke"
        answer = server.client().invoke(FunctionName="NeedsSecret", Payload=b"{}")
        assert json.loads(answer["Payload"].read())["secret"] == "served-secret"
        assert set(containers_of(server.process.pid)) == warm  # the first invoke took a started one
        assert "NeedsSecret is not loaded" not in server.log()
    finally:
        pid = server.process.pid
        assert server.stop() == 0, server.log()
        assert containers_of(pid) == []


def test_serve_invokes_a_function_by_its_logical_id_and_management_keeps_lambdas_names(mixed: Served) -> None:
    client = mixed.client()
    answer = client.invoke(FunctionName="Good", Payload=b'{"by": "logical id"}')
    body = json.loads(answer["Payload"].read())
    assert body == {"ok": True, "event": {"by": "logical id"}, "name": "good-fn"}  # the function's own name
    assert answer["ExecutedVersion"] == "$LATEST"
    qualified = client.invoke(FunctionName="Good", Qualifier="$LATEST", Payload=b"{}")
    assert qualified["StatusCode"] == 200
    assert client.invoke(FunctionName="Good", InvocationType="DryRun")["StatusCode"] == 204
    assert client.invoke(FunctionName="Good", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    tail = client.invoke(FunctionName="Good", LogType="Tail", Payload=b"{}")
    assert "LogResult" in tail
    # The management API speaks Lambda's names only.
    assert client.get_function(FunctionName="good-fn")["Configuration"]["FunctionName"] == "good-fn"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="Good")
    assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == ["good-fn"]


def test_the_cli_invokes_by_logical_id_through_a_running_serve(mixed: Served, tmp_path: Path) -> None:
    template = Path(mixed.log_path).parent.parent / "project" / "template.yaml"
    done = run("--state-dir", str(mixed.state_dir), "invoke", "Good", "-t", str(template), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "invoking through the server" in done.stderr
    assert json.loads(done.stdout)["name"] == "good-fn"


def test_cdk_synth_output_runs_from_its_assets(tmp_path: Path) -> None:
    """A cdk.out as `cdk synth` writes it: the function's code and its layer are assets beside the template,
    their S3 locations never resolved."""
    cdk_out = tmp_path / "cdk.out"
    code, layer = cdk_out / "asset.aaaa1111", cdk_out / "asset.bbbb2222"
    code.mkdir(parents=True)
    (code / "index.py").write_text(
        "import greeting\n\n\ndef handler(event, context):\n    return {'greeting': greeting.WORD}\n"
    )
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "greeting.py").write_text("WORD = 'from the layer asset'\n")
    bucket = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    template = {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
        "Resources": {
            "GreetingLayer1A2B": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": bucket, "S3Key": "bbbb2222.zip"}},
                "Metadata": {"aws:asset:path": "asset.bbbb2222", "aws:asset:property": "Content"},
            },
            "GreeterFnC3D4": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": bucket, "S3Key": "aaaa1111.zip"},
                    "Handler": "index.handler",
                    "Runtime": "python3.13",
                    "Role": {"Fn::GetAtt": ["GreeterFnServiceRole", "Arn"]},
                    "Layers": [{"Ref": "GreetingLayer1A2B"}],
                },
                "Metadata": {"aws:asset:path": "asset.aaaa1111", "aws:asset:property": "Code"},
            },
            "GreeterFnServiceRole": {"Type": "AWS::IAM::Role", "Properties": {}},
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:H4s"}},
        },
    }
    path = cdk_out / "Stack.template.json"
    path.write_text(json.dumps(template))
    done = run("invoke", "GreeterFnC3D4", "-t", str(path), "--no-server", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"greeting": "from the layer asset"}


NESTED_PARENT = """\
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Api:
    Type: AWS::Serverless::Application
    Properties:
      Location: api/template.yaml
      Parameters: {Stage: !Ref Stage}
"""

NESTED_CHILD = """\
Parameters:
  Stage: {Type: String}
Resources:
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../src
      Handler: app.handler
      Runtime: python3.13
      Environment: {Variables: {SECRET: !Ref Stage}}
"""


def nested_project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(SECRET_APP)
    (root / "api").mkdir()
    (root / "api" / "template.yaml").write_text(NESTED_CHILD)
    (root / "template.yaml").write_text(NESTED_PARENT)
    return root / "template.yaml"


def test_a_nested_application_function_runs_as_child_slash_function(tmp_path: Path) -> None:
    nested_project(tmp_path)
    done = run(
        "invoke", "Api/Handler", "--parameter-overrides", "Stage=passed-down", "--no-server", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["secret"] == "passed-down"


def test_serve_invokes_a_nested_function_by_child_slash_function(tmp_path: Path) -> None:
    server = start_server(tmp_path / "state", "--no-watch", template=nested_project(tmp_path / "project"))
    try:
        client = server.client()
        answer = client.invoke(FunctionName="Api/Handler", Payload=b"{}")
        assert json.loads(answer["Payload"].read())["secret"] == "dev"
        assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == ["Api-Handler"]
        assert "Api/Handler" in server.log()  # the banner lists it by its path
    finally:
        pid = server.process.pid
        assert server.stop() == 0, server.log()
        assert containers_of(pid) == []


def test_serve_with_a_function_list_serves_only_those(tmp_path: Path) -> None:
    template = project(tmp_path / "project")
    server = start_server(tmp_path / "state", "--no-watch", "Good", template=template)
    try:
        client = server.client()
        assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == ["good-fn"]
        assert json.loads(client.invoke(FunctionName="Good", Payload=b"{}")["Payload"].read())["ok"] is True
        assert "warning: function" not in server.log()  # the others are not served, so not warned of
    finally:
        pid = server.process.pid
        assert server.stop() == 0, server.log()
        assert containers_of(pid) == []
    refused = run("--state-dir", str(tmp_path / "s2"), "serve", "-t", str(template), "NoCode", cwd=tmp_path)
    assert refused.returncode == 2 and "property Code: is required" in refused.stderr
