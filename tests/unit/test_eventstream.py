"""Our event stream encoding read back by botocore's own parser (what boto3 uses for
InvokeWithResponseStream): headers, payloads and both CRCs as AWS frames them."""

from __future__ import annotations

import json

from botocore.eventstream import EventStreamBuffer

from lambda_emu.api import eventstream


def test_messages_parse_with_botocores_event_stream_reader() -> None:
    data = eventstream.event("PayloadChunk", b'{"hello": 1}') + eventstream.json_event(
        "InvokeComplete", {"LogResult": "bG9n"}
    )
    buffer = EventStreamBuffer()
    buffer.add_data(data[:7])  # in pieces, as a socket delivers them
    first = list(buffer)
    buffer.add_data(data[7:])
    messages = first + list(buffer)
    assert [m.headers[":event-type"] for m in messages] == ["PayloadChunk", "InvokeComplete"]
    assert messages[0].payload == b'{"hello": 1}'
    assert messages[0].headers[":message-type"] == "event"
    assert json.loads(messages[1].payload) == {"LogResult": "bG9n"}


class ChunkedRecorder:
    """A client connection taking a chunked reply: what was sent, in order."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[str, object]] = []
        self._fail_after = fail_after

    def start_chunked(self, status: int, headers: object) -> None:
        self.sent.append(("head", (status, list(headers))))  # type: ignore[call-overload]

    def write_chunk(self, data: bytes) -> None:
        if self._fail_after is not None and len(self.sent) > self._fail_after:
            raise BrokenPipeError("client gone")
        self.sent.append(("chunk", data))

    def end_chunked(self) -> None:
        self.sent.append(("end", None))


def _payloads(data: bytes) -> list[tuple[str, bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(m.headers[":event-type"], m.payload) for m in buffer]


def test_the_answer_sends_its_head_at_the_stream_s_start_and_a_chunk_event_per_write() -> None:
    out = ChunkedRecorder()
    answer = eventstream.EventStreamAnswer(out, {"X-Amz-Executed-Version": "$LATEST"})
    answer.begin("text/plain")
    assert out.sent == [
        ("head", (200, [("X-Amz-Executed-Version", "$LATEST"), ("Content-Type", eventstream.CONTENT_TYPE)]))
    ]
    answer.write(b"one")
    answer.write(b"two")
    answer.close()
    answer.write(b"after the close")  # a stream still arriving past a timeout goes no further
    answer.finish(eventstream.json_event("InvokeComplete", {}))
    chunks = b"".join(data for kind, data in out.sent if kind == "chunk")  # type: ignore[misc]
    assert _payloads(chunks) == [
        ("PayloadChunk", b"one"),
        ("PayloadChunk", b"two"),
        ("InvokeComplete", b"{}"),
    ]
    assert out.sent[-1] == ("end", None)


def test_a_caller_gone_mid_stream_does_not_stop_the_writes() -> None:
    out = ChunkedRecorder(fail_after=1)
    answer = eventstream.EventStreamAnswer(out, {})
    answer.begin("text/plain")
    for _ in range(3):
        answer.write(b"x")  # raises nothing: the function's stream is read on and dropped
    answer.close()
    answer.finish(b"")
    assert [kind for kind, _ in out.sent] == ["head", "chunk"]
