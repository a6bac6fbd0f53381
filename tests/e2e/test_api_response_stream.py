"""InvokeWithResponseStream through a live `serve` with boto3's own event stream reader: the answer as
PayloadChunk events then InvokeComplete, a function error in InvokeComplete, the log's tail with
LogType=Tail, DryRun's 204, and an invocation type the operation does not take refused as Lambda does."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError
from conftest import Served


def _events(answer: dict) -> list[dict]:
    return list(answer["EventStream"])


def test_the_answer_comes_as_payload_chunks_then_invoke_complete(served: Served) -> None:
    answer = served.client().invoke_with_response_stream(
        FunctionName="AttemptsFunction", Payload=json.dumps({"id": "s1"}).encode()
    )
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    events = _events(answer)
    payload = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert json.loads(payload)["id"] == "s1"
    assert "InvokeComplete" in events[-1] and "ErrorCode" not in events[-1]["InvokeComplete"]


def test_a_function_error_is_told_in_invoke_complete_with_the_log_tail(served: Served) -> None:
    answer = served.client().invoke_with_response_stream(
        FunctionName="AttemptsFunction",
        LogType="Tail",
        Payload=json.dumps({"fail": True, "id": "s2"}).encode(),
    )
    events = _events(answer)
    assert not any("PayloadChunk" in e for e in events)
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "RuntimeError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "failing on purpose: s2"
    assert "failing on purpose: s2" in base64.b64decode(complete["LogResult"]).decode()


def test_dry_run_and_the_invocation_types_it_does_not_take(served: Served) -> None:
    client = served.client()
    dry = client.invoke_with_response_stream(FunctionName="AttemptsFunction", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        client.invoke_with_response_stream(FunctionName="AttemptsFunction", InvocationType="Event")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "[RequestResponse, DryRun]" in caught.value.response["Error"]["Message"]
