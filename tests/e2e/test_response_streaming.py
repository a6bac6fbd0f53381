"""Response streaming end to end with a Node.js handler wrapped in awslambda.streamifyResponse
(sample_functions/streaming): boto3's invoke_with_response_stream through `serve` receiving PayloadChunk
events while the handler still runs, an error mid-stream in InvokeComplete, Invoke answering the whole
stream, and a Function URL in RESPONSE_STREAM mode sending its prelude's status, headers and cookies,
then chunks as they are written.

"While the handler still runs" is proven by order, not by time: after its first chunk the handler waits
for a gate this test opens only once that chunk has arrived, so without streaming the call could not end
(the handler would time out)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Served, containers_of, serving
from tests.e2e.test_start_api import start_api
from tests.gate import Gate

TEMPLATE = Path(__file__).resolve().parents[2] / "sample_functions" / "streaming" / "template.yaml"


@pytest.fixture
def gate() -> Iterator[Gate]:
    opened = Gate()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serving(tmp_path_factory.mktemp("serve-streaming"), TEMPLATE)


def test_payload_chunks_arrive_while_the_handler_still_runs(streaming: Served, gate: Gate) -> None:
    payload = {"chunks": ["first ", "second ", "third"], "gate": gate.url}
    answer = streaming.client().invoke_with_response_stream(
        FunctionName="StreamFunction", Payload=json.dumps(payload).encode(), LogType="Tail"
    )
    assert (answer["StatusCode"], answer["ExecutedVersion"]) == (200, "$LATEST")
    assert answer["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = []
    for event in answer["EventStream"]:
        if not events:
            assert "PayloadChunk" in event
            assert not gate.opened  # the handler is held after its first write
            gate.open()
        events.append(event)
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert chunks == [b"first ", b"second ", b"third"]
    complete = events[-1]["InvokeComplete"]
    assert set(complete) == {"LogResult"}  # no ErrorCode: it succeeded
    assert gate.asked.is_set()


def test_an_error_after_the_first_chunk_comes_in_invoke_complete(streaming: Served) -> None:
    payload = {"chunks": ["partial"], "fail": "broke mid-stream"}
    answer = streaming.client().invoke_with_response_stream(
        FunctionName="StreamFunction", Payload=json.dumps(payload).encode()
    )
    events = list(answer["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b"partial"}}
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Error"
    details = json.loads(complete["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("Error", "broke mid-stream")


def test_a_stream_cut_by_the_timeout_ends_with_sandbox_timedout(streaming: Served) -> None:
    never = socket.create_server(("127.0.0.1", 0))  # accepts connections, answers none: the handler waits
    try:
        gate = f"http://127.0.0.1:{never.getsockname()[1]}/"
        payload = {"chunks": ["before the timeout", "never sent"], "gate": gate}
        answer = streaming.client().invoke_with_response_stream(
            FunctionName="ShortStreamFunction", Payload=json.dumps(payload).encode()
        )
        events = list(answer["EventStream"])
    finally:
        never.close()
    assert events[0] == {"PayloadChunk": {"Payload": b"before the timeout"}}
    assert len(events) == 2
    complete = events[1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert re.search(
        r"Task timed out after 2\.\d\d seconds$", json.loads(complete["ErrorDetails"])["errorMessage"]
    )


def test_invoke_of_a_streaming_function_answers_the_whole_stream(streaming: Served) -> None:
    answer = streaming.client().invoke(
        FunctionName="StreamFunction", Payload=json.dumps({"chunks": ["a", "b", "c"]}).encode()
    )
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["Payload"].read() == b"abc"


def _read_chunks(response: http.client.HTTPResponse, on_first: object) -> list[bytes]:
    chunks = []
    while data := response.read1(65536):
        if not chunks:
            on_first()  # type: ignore[operator]
        chunks.append(data)
    return chunks


def test_a_function_url_in_response_stream_mode_streams_its_answer(tmp_path: Path, gate: Gate) -> None:
    api = start_api(tmp_path / "state", TEMPLATE, "--no-watch", "--function-url-port", "0")
    try:
        deadline = time.monotonic() + 60
        while not (
            found := re.search(
                r"Function URL of PageFunction \(AuthType NONE\): http://([\d.]+):(\d+)/", api.log()
            )
        ):
            assert time.monotonic() < deadline, api.log()
            time.sleep(0.05)
        connection = http.client.HTTPConnection(found.group(1), int(found.group(2)), timeout=120)
        connection.request("GET", f"/?gate={gate.url}")
        response = connection.getresponse()
        assert response.status == 201
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.getheader("Content-Type") == "text/html"
        assert response.getheader("X-Streamed") == "yes"
        assert response.headers.get_all("Set-Cookie") == ["session=abc; Secure", "theme=dark"]
        assert response.getheader("x-amzn-RequestId")
        held = []
        chunks = _read_chunks(response, lambda: (held.append(not gate.opened), gate.open()))
        assert held == [True]  # the first chunk came while the handler waited at the gate
        assert b"".join(chunks) == b"<p>first</p><p>second</p>"
        connection.close()
    finally:
        pid = api.process.pid
        assert api.stop() == 0, api.log()
        assert containers_of(pid) == []


def _stream_from(
    url: str, target: str, gate: Gate
) -> tuple[http.client.HTTPResponse, list[bytes], list[bool]]:
    """A GET of a Function URL (to loopback, its host in Host), its chunks read as they come, the gate
    opened on the first; and whether the function still waited at the gate then."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=120)
    try:
        connection.request("GET", target, headers={"Host": parts.netloc})
        response = connection.getresponse()
        held: list[bool] = []
        chunks = _read_chunks(response, lambda: (held.append(not gate.opened), gate.open()))
        return response, chunks, held
    finally:
        connection.close()


def test_a_url_made_through_the_api_in_response_stream_mode_streams(streaming: Served, gate: Gate) -> None:
    client = streaming.client()
    made = client.create_function_url_config(
        FunctionName="StreamFunction", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    try:
        assert made["InvokeMode"] == "RESPONSE_STREAM"
        # The Function URL event is the function's event: its "chunks" and "gate" are not there, so it
        # streams its default chunks and waits at no gate; the order of the chunks is what is checked.
        response, chunks, _ = _stream_from(made["FunctionUrl"], "/", gate)
        assert (response.status, response.getheader("Content-Type")) == (200, "text/plain")
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert b"".join(chunks) == b"hello world"
    finally:
        client.delete_function_url_config(FunctionName="StreamFunction")


def test_a_template_s_function_url_is_served_by_serve_and_known_to_the_api(
    streaming: Served, gate: Gate
) -> None:
    config = streaming.client().get_function_url_config(FunctionName="PageFunction")
    assert (config["AuthType"], config["InvokeMode"]) == ("NONE", "RESPONSE_STREAM")
    assert f"Function URL of PageFunction (AuthType NONE): {config['FunctionUrl']}" in streaming.log()
    response, chunks, held = _stream_from(config["FunctionUrl"], f"/?gate={gate.url}", gate)
    assert (response.status, response.getheader("X-Streamed")) == (201, "yes")
    assert held == [True]  # the first chunk came while the handler waited at the gate
    assert b"".join(chunks) == b"<p>first</p><p>second</p>"
