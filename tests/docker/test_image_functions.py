"""Container-image functions in real containers: sample_functions/images/, an image whose entry point is
AWS's own runtime interface client (awslambdaric from PyPI, unmodified), built by lambda-emu from the
template's Metadata and run against our Runtime API."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from invocations import answer, invoke

from lambda_emu.config import EmulatorConfig, FunctionConfig, ImageConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.errors import ImageError
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder, get_runtime
from lambda_emu.template import Template, load_template

SAMPLE = Path(__file__).resolve().parents[2] / "sample_functions" / "images"
SAMPLE_FILES = ("Dockerfile", "app.py", "template.yaml")


@pytest.fixture(scope="session")
def ric_wheels(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """awslambdaric and its dependencies as wheels for Python 3.11, fetched on the host once: the
    folder lives in pytest's cache, so reruns need no network."""
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("awslambdaric-wheels") if cache is not None else tmp_path_factory.mktemp("wheels")
    wheels = root / "py311"
    if not list(wheels.glob("awslambdaric-*.whl")):
        staging = root / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
            + ["--platform", "manylinux2014_x86_64", "--python-version", "3.11", "awslambdaric"]
            + ["--dest", str(staging)],
            check=True,
            timeout=300,
        )
        shutil.rmtree(wheels, ignore_errors=True)
        staging.rename(wheels)
    return wheels


@pytest.fixture(scope="session")
def base_image() -> str:
    """The Debian base with Python 3.11 that lambda-emu builds for its own python3.11 runtime."""
    builder = ImageBuilder(DockerImages())
    spec = get_runtime("python3.11")
    builder.ensure(spec)
    return builder.base_image(spec)


@pytest.fixture(scope="session")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="session")
def template(
    ric_wheels: Path, base_image: str, config: EmulatorConfig, tmp_path_factory: pytest.TempPathFactory
) -> Template:
    """The sample with the wheels in its build context, tagged by a hash of everything that goes into
    the image: lambda-emu builds it on first use and later runs reuse it."""
    context = tmp_path_factory.mktemp("image-context")
    digest = hashlib.sha256(base_image.encode())
    for name in SAMPLE_FILES:
        shutil.copy(SAMPLE / name, context / name)
        digest.update(name.encode() + (SAMPLE / name).read_bytes())
    shutil.copytree(ric_wheels, context / "wheels")
    for wheel in sorted(ric_wheels.glob("*.whl")):
        digest.update(wheel.name.encode())
    return load_template(
        context / "template.yaml",
        emulator=config,
        parameter_overrides={"BaseImage": base_image, "ImageTag": f"test-{digest.hexdigest()[:12]}"},
    )


@pytest.fixture(scope="session")
def emu(config: EmulatorConfig) -> Iterator[Emulator]:
    with Emulator(config, backend=DockerBackend(), images=ImageBuilder(DockerImages())) as e:
        yield e


@pytest.fixture(scope="session")
def image_app(template: Template, emu: Emulator) -> FunctionConfig:
    function = template.functions["ImageFunction"]
    emu.function_image(function)  # built here, so the invocations below time only running
    return function


def test_awslambdaric_image_returns_the_handlers_result(emu: Emulator, image_app: FunctionConfig) -> None:
    seen = answer(invoke(emu, image_app, {"hello": "image"}))
    assert seen["handler"] == "app.handler"
    assert seen["event"] == {"hello": "image"}


def test_context_in_the_image_comes_from_our_runtime_api_and_environment(
    emu: Emulator, image_app: FunctionConfig, config: EmulatorConfig
) -> None:
    result = invoke(emu, image_app, {})
    seen = answer(result)
    assert seen["function_name"] == "image-app"
    assert seen["function_version"] == "$LATEST"
    assert seen["memory_limit_in_mb"] == "256"  # awslambdaric hands the variable on as a string
    assert seen["aws_request_id"] == result.request_id
    assert seen["invoked_function_arn"] == config.function_arn("image-app", None)
    assert seen["log_group_name"] == "/aws/lambda/image-app"
    # The deadline header is real: Timeout 10 s, minus what the call took so far.
    assert 8_000 < seen["remaining_ms"] <= 10_000
    assert seen["cwd"] == "/var/task"  # the image's WORKDIR
    assert seen["uid"] == 993  # Lambda's user, not the image's root


def test_handler_exception_has_awslambdarics_error_shape(emu: Emulator, image_app: FunctionConfig) -> None:
    result = invoke(emu, image_app, {"fail": "boom"})
    assert result.function_error == "Unhandled"
    error = result.error_payload()
    assert error is not None
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail: boom"
    assert error["requestId"] == result.request_id
    assert any('raise ValueError(f"asked to fail' in line for line in error["stackTrace"])  # type: ignore[union-attr]


def test_log_is_framed_by_lambdas_platform_lines(emu: Emulator, image_app: FunctionConfig) -> None:
    result = invoke(emu, image_app, {"n": 1})
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")


def test_warm_invoke_log_keeps_the_handlers_output(emu: Emulator, image_app: FunctionConfig) -> None:
    invoke(emu, image_app, {})
    time.sleep(0.2)  # the environment's output has been quiet for a while when the next event goes out
    printed = invoke(emu, image_app, {"warm": True})
    assert "image handler got {'warm': True}" in printed.logs.splitlines()
    time.sleep(0.2)
    failed = invoke(emu, image_app, {"fail": "boom"})
    # awslambdaric joins an error's lines with carriage returns, so they stay one CloudWatch event.
    assert "[ERROR] ValueError: asked to fail: boom" in failed.logs.splitlines()


def test_warm_invoke_reuses_the_environment(emu: Emulator, image_app: FunctionConfig) -> None:
    invoke(emu, image_app, {})
    result = invoke(emu, image_app, {})  # how fast is for make bench, not for a test on a busy machine
    assert result.init_duration_ms is None and not result.failed


def test_image_config_command_picks_another_handler(emu: Emulator, template: Template) -> None:
    seen = answer(invoke(emu, template.functions["ShoutFunction"], {"text": "hi"}))
    assert seen == {"handler": "app.shout", "text": "HI"}


def test_image_config_entry_point_and_working_directory_replace_the_images(
    emu: Emulator, image_app: FunctionConfig
) -> None:
    moved = dataclasses.replace(
        image_app,
        name="image-moved",
        image_config=ImageConfig(
            entry_point=("python3", "-m", "awslambdaric"), command=("app.handler",), working_directory="/tmp"
        ),
        # From /tmp, app.py is found only through the path.
        environment={"PYTHONPATH": "/var/lang/ric:/var/task"},
    )
    assert answer(invoke(emu, moved, {}))["cwd"] == "/tmp"


def test_image_config_entry_point_alone_keeps_the_images_command(
    emu: Emulator, image_app: FunctionConfig
) -> None:
    entry_only = dataclasses.replace(
        image_app,
        name="image-entry-only",
        image_config=ImageConfig(entry_point=("python3", "-m", "awslambdaric")),
    )
    assert answer(invoke(emu, entry_only, {}))["handler"] == "app.handler"


def test_handler_that_does_not_import_is_an_init_error_from_awslambdaric(
    emu: Emulator, image_app: FunctionConfig
) -> None:
    broken = dataclasses.replace(
        image_app, name="image-broken", image_config=ImageConfig(command=("missing_module.handler",))
    )
    result = invoke(emu, broken, {})
    error = result.error_payload()
    assert error is not None
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'missing_module'" in str(error["errorMessage"])


def test_missing_image_without_a_recipe_is_a_clear_image_error(emu: Emulator, tmp_path: Path) -> None:
    missing = FunctionConfig(
        name="image-missing",
        runtime="",
        handler="",
        code_path=tmp_path,
        package_type="Image",
        image_uri="lambda-emu-test/never-built:none",
    )
    with pytest.raises(
        ImageError, match="lambda-emu-test/never-built:none .* is not in the local Docker"
    ) as info:
        invoke(emu, missing, {})
    assert "docker build -t lambda-emu-test/never-built:none" in (info.value.hint or "")
