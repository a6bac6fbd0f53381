"""Lambda's code size limits through a live `serve` and boto3, answered as AWS answers them: a request
carrying a zip may be 70,167,211 bytes (not an Invoke's 6 MB), the zip itself 50 MB, its content unzipped
250 MB; each refusal is the exception and text AWS sends."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from botocore.exceptions import ClientError
from conftest import Served

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _create(served: Served, name: str, code: bytes) -> dict:
    return served.client().create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Code={"ZipFile": code}
    )


def _refusal(served: Served, name: str, code: bytes) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        _create(served, name, code)
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_a_5_mb_zip_is_taken_though_its_request_is_over_an_invokes_limit(served: Served) -> None:
    code = _zip({"app.py": b"def handler(event, context):\n    return 5\n", "blob.bin": os.urandom(5 << 20)})
    answer = _create(served, "five-mb", code)
    assert answer["CodeSize"] == len(code) and answer["State"] in ("Pending", "Active")
    served.client().delete_function(FunctionName="five-mb")


def test_a_zip_over_50_mb_is_refused_with_lambdas_text(served: Served) -> None:
    code = _zip(
        {"app.py": b"def handler(e, c):\n    return 1\n", "blob.bin": os.urandom(52_428_800 + 20_000)}
    )
    assert len(code) > 52_428_800 and len(code) * 4 // 3 < 70_000_000  # over the zip limit, not the request
    assert _refusal(served, "too-zipped", code) == (
        413,
        "RequestEntityTooLargeException",
        "Zipped size must be smaller than 52428800 bytes",
    )


def test_a_request_over_the_code_limit_is_refused_naming_the_operation(served: Served) -> None:
    code = _zip({"blob.bin": os.urandom(53 << 20)})  # 70.7 MB of base64 in the request body
    assert _refusal(served, "too-big", code) == (
        413,
        "RequestEntityTooLargeException",
        "Request must be smaller than 70167211 bytes for the CreateFunction operation",
    )


def test_content_over_250_mb_unzipped_is_refused_with_lambdas_text(served: Served) -> None:
    code = _zip({"zeros.bin": b"\0" * (251 << 20)}, zipfile.ZIP_DEFLATED)  # a few hundred KB zipped
    assert _refusal(served, "too-unzipped", code) == (
        400,
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
    )
