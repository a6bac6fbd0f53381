"""A Function URL's streamed answer (UrlStream): the head from awslambda.HttpResponseStream's prelude
(JSON, eight NUL bytes) or the stream's own content type, then the body's chunks as they come."""

from __future__ import annotations

import json

from lambda_emu import wire
from lambda_emu.gateway.responses import HttpResponse
from lambda_emu.gateway.streaming import UrlStream, prelude_head
from tests.unit.test_eventstream import ChunkedRecorder


def _stream(out: ChunkedRecorder, claimed: bool = True) -> UrlStream:
    def finish(head: HttpResponse) -> HttpResponse:
        return HttpResponse(head.status, head.headers + (("x-amzn-RequestId", "rid"),))

    return UrlStream(out, claim=lambda: claimed, finish=finish)


def test_the_prelude_names_status_headers_and_cookies_even_split_across_chunks() -> None:
    out = ChunkedRecorder()
    stream = _stream(out)
    stream.begin(wire.HTTP_INTEGRATION_CONTENT_TYPE)
    prelude = json.dumps({"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["a=1", "b=2"]}).encode()
    data = prelude + wire.HTTP_PRELUDE_END + b"<p>first</p>"
    stream.write(data[:10])
    assert out.sent == []  # the head waits for the prelude's end
    stream.write(data[10:])
    stream.write(b"<p>second</p>")
    stream.close()
    stream.end()
    assert out.sent == [
        (
            "head",
            (201, [("X-A", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("x-amzn-RequestId", "rid")]),
        ),
        ("chunk", b"<p>first</p>"),
        ("chunk", b"<p>second</p>"),
        ("end", None),
    ]


def test_a_plain_stream_is_a_200_of_its_content_type_sent_at_its_start() -> None:
    out = ChunkedRecorder()
    stream = _stream(out)
    stream.begin("text/event-stream")
    assert out.sent == [("head", (200, [("Content-Type", "text/event-stream"), ("x-amzn-RequestId", "rid")]))]
    stream.write(b"data: 1\n\n")
    stream.end()
    assert [kind for kind, _ in out.sent] == ["head", "chunk", "end"]


def test_a_request_answered_already_gets_nothing_from_the_stream() -> None:
    out = ChunkedRecorder()
    stream = _stream(out, claimed=False)
    stream.begin("text/plain")
    stream.write(b"late")
    stream.end()
    assert out.sent == []


def test_a_prelude_that_is_not_json_gives_200() -> None:
    assert prelude_head(b"not json") == (200, ())
    assert prelude_head(b'{"statusCode": 99}') == (200, ())


def test_the_end_is_sent_once_whoever_ends_the_stream() -> None:
    out = ChunkedRecorder()
    stream = _stream(out)
    stream.begin("text/plain")
    stream.write(b"x")
    stream.end()  # the function's early answer
    stream.end()  # the invocation's return
    assert [kind for kind, _ in out.sent] == ["head", "chunk", "end"]
