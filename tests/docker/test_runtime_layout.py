"""Lambda's layout in the offline images, in real containers: /var/lang interpreters (and the paths
tracebacks show), bash as /bin/sh, the SDK at /var/runtime (boto3, SDK for JavaScript v3) behind the
function's own copy, and Node.js 20/22/24 from Node's official builds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import (
    BOTO3_PY39_VERSION,
    BOTO3_VERSION,
    JS_SDK_VERSION,
    NODE_VERSIONS,
    ImageBuilder,
)
from tests.conftest import IN_CI
from tests.docker.test_invoke import body, invoke

PY_LAYOUT = """
import json, os, sys, traceback
import boto3, botocore

def handler(event, context):
    try:
        json.loads("not json")
    except ValueError as exc:
        frames = [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]
    return {
        "prefix": sys.prefix, "executable": sys.executable, "frames": frames,
        "boto3": boto3.__version__, "boto3_file": boto3.__file__, "botocore": botocore.__version__,
        "sh": os.path.realpath("/bin/sh"),
        "pipefail": os.system("set -o pipefail"),
        "version": "%d.%d" % sys.version_info[:2],
    }
"""

NODE_LAYOUT = """
import { S3Client } from "@aws-sdk/client-s3";
import { createRequire } from "node:module";
import { realpathSync } from "node:fs";
const require = createRequire(import.meta.url);

export const handler = async () => {
  const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
  const { DynamoDBDocumentClient } = await import("@aws-sdk/lib-dynamodb");
  const { SQSClient } = require("@aws-sdk/client-sqs");
  const { LambdaClient } = await import("@aws-sdk/client-lambda");
  const pkg = require("@aws-sdk/client-s3/package.json");
  return {
    version: process.version,
    execPath: process.execPath,
    sdk: pkg.version,
    clients: [S3Client, DynamoDBClient, DynamoDBDocumentClient, SQSClient, LambdaClient].map((c) => c.name),
    sh: realpathSync("/bin/sh"),
  };
};
"""

# SAM's own fixture starts this way: with dash as /bin/sh it dies with "Illegal option -o pipefail".
PIPEFAIL_BOOTSTRAP = """#!/bin/sh
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  headers="$(mktemp)"
  event="$(curl -sS -D "$headers" "$API/invocation/next")"
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\\r' | cut -d' ' -f2)"
  size="$(printf '%s' "$event" | wc -c)"
  printf '{"shell":"%s","bash":"%s","size":%s}' "$(readlink -f /bin/sh)" "${BASH_VERSION:-}" "$size" |
    curl -sS -o /dev/null -X POST --data-binary @- "$API/invocation/$id/response"
done
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))
    with Emulator(config, backend=DockerBackend(), images=ImageBuilder(DockerImages())) as e:
        yield e


def _function(folder: Path, runtime: str, handler: str, files: dict[str, str], name: str) -> FunctionConfig:
    folder.mkdir(parents=True)
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        if relative == "bootstrap":
            path.chmod(0o755)
    return FunctionConfig(
        name=name, runtime=runtime, handler=handler, code_path=folder, timeout=10, memory_size=256
    )


@pytest.mark.parametrize("runtime", ["python3.9", "python3.11", "python3.13", "python3.14"])
def test_python_runs_from_var_lang_with_boto3_in_var_runtime(
    emu: Emulator, tmp_path: Path, runtime: str
) -> None:
    version = runtime.removeprefix("python")
    function = _function(tmp_path / "code", runtime, "app.handler", {"app.py": PY_LAYOUT}, "PyLayout")
    result = invoke(emu, function)
    assert not result.failed, result.payload
    answer = body(result)
    assert answer["prefix"] == "/var/lang" and answer["executable"] == "/var/lang/bin/python3"
    assert answer["frames"][-1] == f"/var/lang/lib/python{version}/json/decoder.py", "as Lambda shows it"
    boto3 = BOTO3_PY39_VERSION if runtime == "python3.9" else BOTO3_VERSION  # the last boto3 for 3.9
    assert answer["boto3"] == boto3 and answer["boto3_file"] == "/var/runtime/boto3/__init__.py"
    assert answer["botocore"].split(".")[:2] == boto3.split(".")[:2]
    assert answer["version"] == version, "the interpreter of the runtime's name"
    # bullseye (python3.9) predates merged /usr: its bash is /bin/bash.
    assert answer["sh"] in ("/usr/bin/bash", "/bin/bash") and answer["pipefail"] == 0


def test_a_function_that_vendors_boto3_gets_its_own(emu: Emulator, tmp_path: Path) -> None:
    files = {
        "boto3/__init__.py": "__version__ = 'vendored by the function'\n",
        "app.py": (
            "import boto3\n"
            "def handler(event, context):\n"
            "    return {'boto3': boto3.__version__, 'file': boto3.__file__}\n"
        ),
    }
    result = invoke(emu, _function(tmp_path / "code", "python3.13", "app.handler", files, "PyVendored"))
    assert body(result) == {"boto3": "vendored by the function", "file": "/var/task/boto3/__init__.py"}


@pytest.mark.parametrize("major", sorted(NODE_VERSIONS))
def test_node_is_the_official_build_in_var_lang_with_the_sdk(
    emu: Emulator, tmp_path: Path, major: str
) -> None:
    function = _function(
        tmp_path / "code", f"nodejs{major}.x", "index.handler", {"index.mjs": NODE_LAYOUT}, "NodeSdk"
    )
    result = invoke(emu, function)
    assert not result.failed, result.payload
    answer = body(result)
    assert answer["version"] == f"v{NODE_VERSIONS[major]}" and answer["execPath"] == "/var/lang/bin/node"
    assert answer["sdk"] == JS_SDK_VERSION
    assert answer["clients"] == [
        "S3Client",
        "DynamoDBClient",
        "DynamoDBDocumentClient",
        "SQSClient",
        "LambdaClient",
    ]
    assert answer["sh"] == "/usr/bin/bash"


def test_a_node_function_that_bundles_a_package_of_the_sdk_gets_its_own(
    emu: Emulator, tmp_path: Path
) -> None:
    files = {
        "node_modules/@aws-sdk/client-s3/package.json": json.dumps(
            {"name": "@aws-sdk/client-s3", "version": "0.0.1-own", "main": "index.js", "type": "commonjs"}
        ),
        "node_modules/@aws-sdk/client-s3/index.js": "exports.S3Client = class Own {};\n",
        "index.mjs": (
            'import { S3Client } from "@aws-sdk/client-s3";\n'
            "export const handler = async () => ({ client: S3Client.name });\n"
        ),
    }
    result = invoke(emu, _function(tmp_path / "code", "nodejs22.x", "index.handler", files, "NodeOwnSdk"))
    assert body(result) == {"client": "Own"}


@pytest.mark.parametrize("runtime", ["provided", "provided.al2"])
def test_a_bash_bootstrap_with_pipefail_runs_on_the_os_only_runtimes(
    emu: Emulator, tmp_path: Path, runtime: str
) -> None:
    function = _function(tmp_path / "code", runtime, "unused", {"bootstrap": PIPEFAIL_BOOTSTRAP}, "Pipefail")
    result = invoke(emu, function, {"say": "hello"})
    assert not result.failed, (result.payload, result.logs)
    answer = body(result)
    assert answer["shell"] == "/usr/bin/bash" and answer["bash"], "/bin/sh is bash, as in Lambda's images"
    assert answer["size"] == len(json.dumps({"say": "hello"})), "the pipeline under pipefail ran"
    assert "Illegal option" not in result.logs


# A Go custom runtime on the standard library alone (no module downloads): the Runtime API loop that
# aws-lambda-go runs, built by the test with Debian's golang (static, as `GOOS=linux CGO_ENABLED=0`
# builds for provided.al2023 are).
GO_BOOTSTRAP = """package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		next, err := http.Get(api + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		event, _ := io.ReadAll(next.Body)
		next.Body.Close()
		id := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		fmt.Println("go handling", id)
		answer := fmt.Sprintf(`{"go":%q,"event":%s}`, runtime.Version(), event)
		posted, err := http.Post(api+id+"/response", "application/json", bytes.NewBufferString(answer))
		if err == nil {
			posted.Body.Close()
		}
	}
}
"""


def test_a_go_binary_is_the_bootstrap_of_provided_al2023(emu: Emulator, tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Debian's golang-go is not installed (.ci/run installs it)")
    source = tmp_path / "src"
    source.mkdir()
    (source / "main.go").write_text(GO_BOOTSTRAP)
    (source / "go.mod").write_text("module bootstrap\n\ngo 1.19\n")
    code = tmp_path / "code"
    code.mkdir()
    subprocess.run(
        [go, "build", "-o", str(code / "bootstrap"), "."],
        cwd=source,
        check=True,
        timeout=300,
        env={**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOCACHE": str(tmp_path / "gocache")},
    )
    function = FunctionConfig(
        name="GoFunction", runtime="provided.al2023", handler="bootstrap", code_path=code
    )
    result = invoke(emu, function, {"n": 42})
    assert not result.failed, (result.payload, result.logs)
    answer = body(result)
    assert answer["event"] == {"n": 42} and answer["go"].startswith("go")
    assert f"go handling {result.request_id}" in result.logs


C_BOOTSTRAP = Path(__file__).resolve().parents[2] / "sample_functions" / "provided_c" / "bootstrap.c"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"Debian's {package} is not installed (.ci/run installs it: apt-get install -y {package})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_a_static_c_binary_is_the_bootstrap_of_provided_al2(emu: Emulator, tmp_path: Path) -> None:
    """A custom runtime in C (sample_functions/provided_c), built with Debian's gcc: provided.al2 runs a
    native executable as Lambda does, and its error posts reach the caller."""
    code = tmp_path / "code"
    code.mkdir()
    subprocess.run(
        [_tool("gcc", "gcc"), "-O2", "-static", "-o", str(code / "bootstrap"), str(C_BOOTSTRAP)],
        check=True,
        timeout=300,
    )
    function = FunctionConfig(name="CFunction", runtime="provided.al2", handler="bootstrap", code_path=code)
    result = invoke(emu, function, {"n": 7})
    assert not result.failed, (result.payload, result.logs)
    answer = body(result)
    assert answer.pop("remainingMs") in range(1, 3_001), "from the absolute deadline header"
    assert answer == {"runtime": "c", "requestId": result.request_id, "event": {"n": 7}}
    assert f"c handling {result.request_id}" in result.logs.splitlines()
    failed = invoke(emu, function, {"fail": True})
    assert failed.function_error == "Unhandled" and failed.error_type == "CFailure"
    assert body(failed) == {"errorMessage": "asked to fail", "errorType": "CFailure", "stackTrace": []}
    assert failed.init_duration_ms is None, "the same runtime process answers after its /error post"
