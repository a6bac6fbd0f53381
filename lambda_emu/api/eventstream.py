"""AWS's event stream encoding (application/vnd.amazon.eventstream), as InvokeWithResponseStream answers:
each message is a prelude (total length, headers length, the prelude's CRC32), headers, the payload and
the whole message's CRC32, all integers big-endian; header values here are strings (type 7)."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _headers(headers: Mapping[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += (
            struct.pack("!B", len(raw_name))
            + raw_name
            + struct.pack("!BH", _STRING, len(raw_value))
            + raw_value
        )
    return out


def message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One message of the stream."""
    head = _headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    body = prelude + struct.pack("!I", zlib.crc32(prelude)) + head + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    """An event message (`:message-type` event) of the given `:event-type`."""
    return message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload
    )


def json_event(event_type: str, fields: Mapping[str, object]) -> bytes:
    return event(event_type, json.dumps(dict(fields)).encode(), "application/json")
