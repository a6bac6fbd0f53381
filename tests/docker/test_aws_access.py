"""Functions that call AWS reach what the user points them at: a boto3 call from inside a function to a
moto server started here, through AWS_ENDPOINT_URL and the credentials of the user's environment or
profile (lambda_emu/awsconfig.py)."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder
from tests.docker.test_invoke import body, invoke

WRITER = """
import os
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    body = b"written by " + context.function_name.encode()
    s3.put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=body)
    return {
        "key_id": os.environ.get("AWS_ACCESS_KEY_ID"),
        "region": os.environ["AWS_REGION"],
        "endpoint": s3.meta.endpoint_url,
    }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _s3(url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def _run_writer(config: EmulatorConfig, code: Path, bucket: str) -> dict:  # type: ignore[type-arg]
    code.mkdir()
    (code / "app.py").write_text(WRITER)
    function = FunctionConfig(
        name="S3Writer", runtime="python3.13", handler="app.handler", code_path=code, timeout=20
    )
    with Emulator(config, backend=DockerBackend(), images=ImageBuilder(DockerImages())) as emu:
        result = invoke(emu, function, {"bucket": bucket})
    assert not result.failed, (result.payload, result.logs)
    return body(result)


def test_a_function_writes_to_the_s3_the_environment_points_at(moto_url: str, tmp_path: Path) -> None:
    bucket = f"lambda-emu-{uuid.uuid4().hex[:8]}"
    _s3(moto_url).create_bucket(Bucket=bucket)
    host = {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "AKIDHOST", "AWS_SECRET_ACCESS_KEY": "secret"}
    config = EmulatorConfig.from_environ(host, state_dir=tmp_path / "state")
    answer = _run_writer(config, tmp_path / "code", bucket)
    assert answer == {"key_id": "AKIDHOST", "region": "us-east-1", "endpoint": moto_url}
    written = _s3(moto_url).get_object(Bucket=bucket, Key="from-lambda.txt")["Body"].read()
    assert written == b"written by S3Writer"


def test_the_service_endpoint_and_a_profile_of_the_users_files_reach_the_function(
    moto_url: str, tmp_path: Path
) -> None:
    bucket = f"lambda-emu-{uuid.uuid4().hex[:8]}"
    _s3(moto_url).create_bucket(Bucket=bucket)
    aws = tmp_path / "home" / ".aws"
    aws.mkdir(parents=True)
    (aws / "credentials").write_text("[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n")
    (aws / "config").write_text("[profile dev]\nregion = eu-west-3\n")
    host = {
        "HOME": str(tmp_path / "home"),
        "AWS_PROFILE": "dev",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # the S3-specific one wins for S3, as in the SDKs
        "AWS_ENDPOINT_URL_S3": moto_url,
    }
    config = EmulatorConfig.from_environ(host, state_dir=tmp_path / "state")
    answer = _run_writer(config, tmp_path / "code", bucket)
    assert answer == {"key_id": "AKIDPROFILE", "region": "eu-west-3", "endpoint": moto_url}
    assert (
        _s3(moto_url).get_object(Bucket=bucket, Key="from-lambda.txt")["Body"].read()
        == b"written by S3Writer"
    )
