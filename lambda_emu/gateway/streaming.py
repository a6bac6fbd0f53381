"""A Function URL in RESPONSE_STREAM mode: the function's stream sent on as chunked HTTP as it arrives,
its status, headers and cookies read from the prelude awslambda.HttpResponseStream.from writes (content
type application/vnd.awslambda.http-integration-response: JSON, then eight NUL bytes, then the body)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from lambda_emu import wire
from lambda_emu.engine.httpserver import ChunkedOut, ChunkedSender
from lambda_emu.gateway.responses import HttpResponse

LOG = logging.getLogger(__name__)

# A prelude larger than this is no prelude (Lambda bounds it too; the whole body would otherwise be held).
_MAX_PRELUDE = 64 * 1024


def prelude_head(prelude: bytes) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The status and headers a prelude names ({"statusCode", "headers", "cookies"}); a prelude that is not
    such JSON gives 200 with no headers, as the stream's own body follows anyway."""
    try:
        value = json.loads(prelude or b"{}")
    except ValueError:
        LOG.warning("a streamed Function URL answer's prelude is not JSON: %r", prelude[:80])
        value = {}
    if not isinstance(value, dict):
        value = {}
    status = value.get("statusCode", 200)
    status = status if isinstance(status, int) and 100 <= status <= 599 else 200
    found = value.get("headers")
    headers = tuple((str(k), str(v)) for k, v in found.items()) if isinstance(found, dict) else ()
    cookies = value.get("cookies")
    if isinstance(cookies, list):
        headers += tuple(("Set-Cookie", str(cookie)) for cookie in cookies)
    return status, headers


class UrlStream:
    """Where a RESPONSE_STREAM Function URL's function streams to (a models.ResponseStream). `claim` is
    asked before the first byte goes out (False: the request was answered already, e.g. by a timeout);
    `finish` maps the head through the gateway's own headers (CORS, request id) and logs the request."""

    def __init__(
        self,
        out: ChunkedOut,
        *,
        claim: Callable[[], bool],
        finish: Callable[[HttpResponse], HttpResponse],
        head_only: bool = False,
    ) -> None:
        self._out = ChunkedSender(out)
        self._claim = claim
        self._finish = finish
        self._head_only = head_only  # a HEAD request: the head, never a body
        self._lock = threading.Lock()
        self._prelude: bytearray | None = None  # while the prelude is being read
        self._closed = False
        self._refused = False  # the request had its answer already

    @property
    def started(self) -> bool:
        return self._out.started

    def begin(self, content_type: str) -> None:
        with self._lock:
            if self._closed:
                return
            if content_type.split(";")[0].strip().lower() == wire.HTTP_INTEGRATION_CONTENT_TYPE:
                self._prelude = bytearray()
            else:
                self._start(200, (("Content-Type", content_type),))

    def write(self, chunk: bytes) -> None:
        with self._lock:
            if self._closed:
                return
            if self._prelude is not None:
                self._prelude += chunk
                end = self._prelude.find(wire.HTTP_PRELUDE_END)
                if end < 0 and len(self._prelude) <= _MAX_PRELUDE:
                    return
                prelude = bytes(self._prelude)
                self._prelude = None
                if end < 0:  # no prelude after all: all of it is body
                    self._start(200, ())
                    self._send(prelude)
                    return
                self._start(*prelude_head(prelude[:end]))
                chunk = prelude[end + len(wire.HTTP_PRELUDE_END) :]
            elif not self.started:
                self._start(200, (("Content-Type", "application/octet-stream"),))
            self._send(chunk)

    def close(self) -> None:
        """No more chunks: a stream still arriving (past a timeout) goes no further."""
        with self._lock:
            self._closed = True

    def end(self) -> None:
        """The end of a stream that started: a prelude never ended is sent as the head it names."""
        with self._lock:
            if self._prelude is not None:
                self._start(*prelude_head(bytes(self._prelude).rstrip(b"\x00")))
                self._prelude = None
            if not self._head_only:  # a HEAD answer has no body, not even the chunks' end
                self._out.end()

    @property
    def opened(self) -> bool:
        """The function began a stream (its head may wait for the prelude's end)."""
        return self.started or self._prelude is not None

    def _start(self, status: int, headers: tuple[tuple[str, str], ...]) -> None:
        if self.started or self._refused:
            return
        if not self._claim():
            self._refused = True
            return
        response = self._finish(HttpResponse(status, headers))
        framing = ("content-length", "transfer-encoding", "connection")
        self._out.start(response.status, [(n, v) for n, v in response.headers if n.lower() not in framing])

    def _send(self, data: bytes) -> None:
        if not self._head_only:
            self._out.send(data)
