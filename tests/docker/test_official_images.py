"""AWS's base images as the first image source, with stand-ins: nothing can be pulled here, so the test
builds images with the official layout and tags (public.ecr.aws/lambda/python:3.12, .../nodejs:22):
ENTRYPOINT /lambda-entrypoint.sh taking the handler, which execs /var/runtime/bootstrap as AWS's does
when AWS_LAMBDA_RUNTIME_API is set, /var/lang, LAMBDA_TASK_ROOT. Their interpreters are not AWS's: they
are FROM lambda-emu's own python3.13 and nodejs22.x images (Debian's Python 3.13, Node's official 22), so
a stand-in proves the path (entry point, code at /var/task, our Runtime API and limits), not the runtime."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder, get_runtime, official_image
from tests.docker.test_invoke import body, invoke

ENTRYPOINT = """#!/bin/sh
# The official entry point's contract: the handler is the one argument; with AWS_LAMBDA_RUNTIME_API set
# it execs the runtime's bootstrap (without, it would start the runtime interface emulator).
if [ $# -ne 1 ]; then echo "entrypoint requires the handler name to be the first argument" >&2; exit 142; fi
export _HANDLER="$1"
[ -n "${AWS_LAMBDA_RUNTIME_API:-}" ] || { echo "no AWS_LAMBDA_RUNTIME_API" >&2; exit 1; }
export STAND_IN_ENTRYPOINT=yes
exec /var/runtime/bootstrap
"""

DOCKERFILE = """FROM {base}
COPY lambda-entrypoint.sh /lambda-entrypoint.sh
RUN chmod 0755 /lambda-entrypoint.sh
ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
ENTRYPOINT ["/lambda-entrypoint.sh"]
CMD ["app.handler"]
"""


def _build_stand_in(client: docker.DockerClient, base: str, tag: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in (
            ("Dockerfile", DOCKERFILE.format(base=base)),
            ("lambda-entrypoint.sh", ENTRYPOINT),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    client.images.build(fileobj=buffer, custom_context=True, tag=tag, network_mode="host", rm=True)


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, str]]:
    client = docker.from_env()
    ours = ImageBuilder(DockerImages())
    made = {}
    try:
        for runtime, like in (("python3.12", "python3.13"), ("nodejs22.x", "nodejs22.x")):
            tag = official_image(runtime)
            assert tag
            _build_stand_in(client, ours.ensure(get_runtime(like)), tag)
            made[runtime] = tag
        yield made
    finally:
        # Only the tags go: other runs on this engine must not find a stand-in for AWS's image.
        for tag in made.values():
            client.images.remove(tag, noprune=False)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory, stand_ins: dict[str, str]) -> Iterator[Emulator]:
    config = EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))
    with Emulator(config, backend=DockerBackend(), images=ImageBuilder(DockerImages(), official="auto")) as e:
        yield e


def _code(folder: Path, name: str, text: str) -> Path:
    folder.mkdir()
    (folder / name).write_text(text)
    return folder


PY = """
import os, sys
def handler(event, context):
    return {"stand_in": os.environ.get("STAND_IN_ENTRYPOINT"), "handler": os.environ["_HANDLER"],
            "cwd": os.getcwd(), "file": __file__, "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
            "event": event, "memory": context.memory_limit_in_mb}
"""

NODE = """
export const handler = async (event, context) => ({
  stand_in: process.env.STAND_IN_ENTRYPOINT, handler: process.env._HANDLER, cwd: process.cwd(),
  exec_env: process.env.AWS_EXECUTION_ENV, event, memory: context.memoryLimitInMB,
});
"""


def test_python312_runs_on_the_official_image_with_its_own_entrypoint(emu: Emulator, tmp_path: Path) -> None:
    function = FunctionConfig(
        name="OfficialPy",
        runtime="python3.12",
        handler="app.handler",
        code_path=_code(tmp_path / "c", "app.py", PY),
    )
    result = invoke(emu, function, {"n": 1})
    assert not result.failed, (result.payload, result.logs)
    assert body(result) == {
        "stand_in": "yes",
        "handler": "app.handler",
        "cwd": "/var/task",
        "file": "/var/task/app.py",
        "exec_env": "AWS_Lambda_python3.12",
        "event": {"n": 1},
        "memory": "128",
    }
    assert result.logs.splitlines()[-1].startswith(f"REPORT RequestId: {result.request_id}")


def test_nodejs22_runs_on_the_official_image_and_keeps_our_limits(emu: Emulator, tmp_path: Path) -> None:
    function = FunctionConfig(
        name="OfficialNode",
        runtime="nodejs22.x",
        handler="index.handler",
        code_path=_code(tmp_path / "c", "index.mjs", NODE),
        memory_size=256,
    )
    result = invoke(emu, function, {"n": 2})
    assert not result.failed, (result.payload, result.logs)
    answer = body(result)
    assert answer["stand_in"] == "yes" and answer["handler"] == "index.handler"
    assert answer["exec_env"] == "AWS_Lambda_nodejs22.x" and answer["event"] == {"n": 2}
    assert answer["memory"] == "256"
    (environment,) = [e for e in emu.environments() if e.function.name == "OfficialNode"]
    assert environment.container_id is not None
    limits = docker.from_env().api.inspect_container(environment.container_id)["HostConfig"]
    assert limits["Memory"] == 256 * 2**20, "our memory limit holds on AWS's image too"


def test_runtimes_list_says_which_source_serves_a_runtime_and_why(stand_ins: dict[str, str]) -> None:
    rows = {row.id: row for row in ImageBuilder(DockerImages(), official="auto").list()}
    assert rows["nodejs22.x"].source == "official" and rows["nodejs22.x"].tag == stand_ins["nodejs22.x"]
    assert rows["nodejs22.x"].reason == "the engine has AWS's base image"
    assert rows["python3.13"].source == "lambda-emu"
    assert rows["python3.13"].reason == "the engine lacks public.ecr.aws/lambda/python:3.13"
    never = {row.id: row for row in ImageBuilder(DockerImages()).list()}
    assert never["nodejs22.x"].source == "lambda-emu", "a chosen build base never uses AWS's image"


def test_invoke_image_runs_a_zip_function_on_the_image_named(
    tmp_path: Path, stand_ins: dict[str, str]
) -> None:
    """SAM's --invoke-image: a python3.11 function run on the image the user names (here the python3.12
    stand-in of AWS's base image), through its own entry point, on the CLI as users type it."""
    import json
    import shutil
    import subprocess

    code = _code(tmp_path / "code", "app.py", PY)
    exe = shutil.which("lambda-emu")
    assert exe
    done = subprocess.run(
        [
            exe,
            "--state-dir",
            str(tmp_path / "state"),
            "invoke",
            "--no-server",
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
            "--code",
            str(code),
            "--payload",
            '{"n": 1}',
            "--invoke-image",
            stand_ins["python3.12"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["stand_in"] == "yes" and answer["event"] == {"n": 1}  # the named image's entry point ran it
    assert answer["exec_env"] == "AWS_Lambda_python3.11"
