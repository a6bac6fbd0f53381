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
