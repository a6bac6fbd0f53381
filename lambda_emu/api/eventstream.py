"""AWS's event stream encoding (application/vnd.amazon.eventstream), as InvokeWithResponseStream answers:
each message is a prelude (total length, headers length, the prelude's CRC32), headers, the payload and
the whole message's CRC32, all integers big-endian; header values here are strings (type 7). And the
answer that sends those messages as the function streams."""

from __future__ import annotations

import json
import logging
import struct
import threading
import zlib
from collections.abc import Mapping

from lambda_emu.engine.httpserver import ChunkedOut, ChunkedSender

LOG = logging.getLogger(__name__)

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


class EventStreamAnswer:
    """InvokeWithResponseStream's answer sent as the function streams it: the HTTP head when the runtime
    starts its stream, a PayloadChunk event per chunk, then (`finish`) InvokeComplete. The runtime's
    reader calls `begin`/`write` from its thread; `close` (by the caller, before InvokeComplete) stops
    them, so a stream still arriving after a timeout never interleaves with the end."""

    def __init__(self, out: ChunkedOut, headers: Mapping[str, str]) -> None:
        self._out = ChunkedSender(out)
        self._headers = [*headers.items(), ("Content-Type", CONTENT_TYPE)]
        self._lock = threading.Lock()
        self._closed = False

    @property
    def started(self) -> bool:
        return self._out.started

    def begin(self, content_type: str) -> None:
        with self._lock:
            if not self._closed:
                self._out.start(200, self._headers)

    def write(self, chunk: bytes) -> None:
        with self._lock:
            if not self._closed:
                self._out.start(200, self._headers)
                self._out.send(event("PayloadChunk", chunk))

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def finish(self, tail: bytes) -> None:
        """The last events (an unstreamed payload's chunk, InvokeComplete) and the end of the body."""
        with self._lock:
            self._out.start(200, self._headers)
            self._out.send(tail)
            self._out.end()
