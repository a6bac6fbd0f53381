"""A handler in a real container receives generated sample events and reads them as it would in Lambda."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu import events
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.facade import Emulator
from lambda_emu.images.runtimes import ImageBuilder
from tests.docker.invocations import answer, invoke

HANDLER = """
from urllib.parse import unquote_plus


def s3(event, context):
    record = event["Records"][0]
    # What S3 handlers do: the key arrives URL-encoded
    return {"bucket": record["s3"]["bucket"]["name"], "key": unquote_plus(record["s3"]["object"]["key"]),
            "region": record["awsRegion"]}


def http(event, context):
    return {"statusCode": 200, "body": event["httpMethod"] + " " + event["path"] + " " + event["body"]}
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))
    with Emulator(
        config, backend=DockerBackend(), images=ImageBuilder(DockerImages()), sink=lambda _: None
    ) as e:
        yield e


def _function(tmp: Path, handler: str) -> FunctionConfig:
    (tmp / "app.py").write_text(textwrap.dedent(HANDLER))
    tmp.chmod(0o755)  # pytest makes it 0700; the function runs as sbx_user1051
    return FunctionConfig(
        name=f"events-{handler}", runtime="python3.11", handler=f"app.{handler}", code_path=tmp
    )


def test_handler_reads_bucket_and_key_of_a_generated_s3_put(emu: Emulator, tmp_path: Path) -> None:
    function = _function(tmp_path, "s3")
    event = events.generate("s3", "put", bucket="photos", key="2024/cat 1+2.jpg")
    assert answer(invoke(emu, function, event)) == {
        "bucket": "photos",
        "key": "2024/cat 1+2.jpg",
        "region": event["Records"][0]["awsRegion"],
    }


def test_handler_answers_a_generated_rest_proxy_request(emu: Emulator, tmp_path: Path) -> None:
    function = _function(tmp_path, "http")
    event = events.api_gateway_proxy(method="POST", path="/orders", body='{"id": 1}')
    assert answer(invoke(emu, function, event)) == {"statusCode": 200, "body": 'POST /orders {"id": 1}'}
