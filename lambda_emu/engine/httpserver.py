"""The HTTP plumbing our two servers share (the Runtime API and the Invoke API): keep-alive HTTP/1.1 with
TCP_NODELAY, one write per reply, bounded request bodies, and a server that closes at once."""

from __future__ import annotations

import http.server
import json
import logging
import os
import select
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

LOG = logging.getLogger(__name__)


_MAX_LINE = 65536
_MAX_HEADERS = 100


class FramingError(ValueError):
    """A request whose body cannot be delimited (a bad Content-Length or chunk size): the connection
    cannot go on after it."""


def peer_uid(conn: socket.socket) -> int | None:
    """The uid owning the other end of a loopback TCP connection, from the kernel's socket table
    (/proc/net/tcp lists every socket of this network namespace with its owner's uid, readable by anyone);
    None where it is not known (no such table, not IPv4 loopback)."""
    try:
        peer_ip, peer_port = conn.getpeername()[:2]
        own_ip, own_port = conn.getsockname()[:2]
        # The kernel prints each address as the hex of the 32-bit word in host byte order, then the port.
        local = f"{struct.unpack('=I', socket.inet_aton(peer_ip))[0]:08X}:{peer_port:04X}"
        remote = f"{struct.unpack('=I', socket.inet_aton(own_ip))[0]:08X}:{own_port:04X}"
        with open("/proc/net/tcp", "rb") as table:
            for line in table:
                fields = line.split()
                if len(fields) > 7 and fields[1] == local.encode() and fields[2] == remote.encode():
                    return int(fields[7])
    except (OSError, ValueError):
        return None
    return None


def same_user(uid: int | None) -> bool:
    """A peer of this process's own user (or root, who can do anything anyway), or one not known."""
    return uid is None or uid in (0, os.geteuid())


def readable(socks: Sequence[socket.socket], timeout: float | None = None) -> list[socket.socket]:
    """Those of `socks` with something to read (data or their end) within `timeout` seconds (None: no
    limit). poll, not select.select: select fails on descriptors past 1,024, which a server running many
    environments (several sockets each) reaches. A closed socket raises ValueError, as with select."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    ready = {fd for fd, _ in poller.poll(None if timeout is None else timeout * 1000)}
    return [sock for sock in socks if sock.fileno() in ready]


class Headers(dict[str, str]):
    """Request headers by lower-case name; `get` and `[]` take any case. Repeated headers are joined with
    ", " (RFC 9110 §5.3)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


class QuickHandler(http.server.BaseHTTPRequestHandler):
    """A request handler for small, fast JSON exchanges on loopback."""

    protocol_version = "HTTP/1.1"
    server: TrackingHttpServer
    raw_requestline: bytes  # set by handle_one_request
    # The headers in order, names as sent and repeats apart (for the API Gateway front, whose events keep
    # them so); set by parse_request.
    header_pairs: list[tuple[str, str]]

    # No idle timeout by default: a runtime's GET /next waits as long as it takes (the Runtime API bounds
    # its own reads). Servers facing clients set one.
    timeout: ClassVar[float | None] = None

    def error_body(self, status: int, message: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of an error this handler answers before any route (a malformed request,
        an unknown method): JSON in the server's own shape."""
        return json.dumps({"errorMessage": message, "errorType": "BadRequest"}).encode(), {}

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except FramingError as exc:  # raised by read_body, in whichever do_* read it
            self.send_error(400, str(exc))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's errors (a bad request line, an unknown method: 501) as JSON in the server's own
        shape, instead of its HTML page naming the Python version; the connection ends after it."""
        self.close_connection = True
        body, headers = self.error_body(code, message or self.responses.get(code, ("Error",))[0])
        try:
            self.reply(code, body, {**headers, "Connection": "close"})
        except OSError:
            pass

    def parse_request(self) -> bool:
        """The request line and headers, read without http.server's email-based header parser: that parser
        was a third of the server's CPU per warm invoke (three requests each: Invoke, /next, /response)."""
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = line
        self.command = ""  # send_error reads it
        self.close_connection = True
        words = line.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.1"  # so the error goes out with a status line
            self.send_error(400, f"Bad request syntax ({line!r})")
            return False
        self.command, self.path, self.request_version = words
        headers = Headers()
        self.header_pairs = pairs = []
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(raw) > _MAX_LINE:
                self.send_error(431, "Line too long")
                return False
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if not sep or not name.strip():
                self.send_error(400, f"Bad header line ({raw[:80]!r})")
                return False
            name, value = name.strip(), value.strip()
            pairs.append((name, value))
            key = name.lower()
            earlier = dict.get(headers, key)
            headers[key] = value if earlier is None else f"{earlier}, {value}"
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers  # type: ignore[assignment]  # read only through get() and items()
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if headers.get("expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY every small reply waits for a delayed ACK: ~40 ms per call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        LOG.debug("%s: " + format, self.server.name, *args)

    def reply(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        """Headers and body in one write, so they leave in one segment. JSON unless `headers` name another
        "Content-Type" (spelled so); Content-Length is set here, never by the caller."""
        head = f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\nContent-Length: {len(body)}\r\n"
        if not headers or "Content-Type" not in headers:
            head += "Content-Type: application/json\r\n"
        if headers:
            head += "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        self.wfile.write((head + "\r\n").encode("latin-1") + body)

    def start_chunked(self, status: int, headers: Sequence[tuple[str, str]]) -> None:
        """The head of a reply whose body follows in chunks (`write_chunk`, then `end_chunked`)."""
        head = f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\nTransfer-Encoding: chunked\r\n"
        head += "".join([f"{name}: {value}\r\n" for name, value in headers])
        self.wfile.write((head + "\r\n").encode("latin-1", errors="replace"))

    def write_chunk(self, data: bytes) -> None:
        """One chunk, sent at once (an empty one would end the body: it is skipped)."""
        if data:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def read_body(self, limit: int) -> bytes | None:
        """The request body, or None (after draining it) when it is larger than `limit`. FramingError when
        its length cannot be read (the connection is closed after the answer)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            size, _ = self.read_chunked(chunks.append, limit)
            return b"".join(chunks) if size <= limit else None
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit() or not declared.isascii():
            self.close_connection = True
            raise FramingError(f"Invalid Content-Length {declared[:40]!r}")
        length = int(declared)
        if length > limit:
            remaining = length
            while remaining > 0:  # drain, so the connection stays usable
                remaining -= len(self.rfile.read(min(remaining, 1 << 20)) or b"x" * remaining)
            return None
        return self.rfile.read(length) if length else b""

    def read_chunked(self, take: Callable[[bytes], object], limit: int) -> tuple[int, Headers]:
        """A chunked body, each chunk handed to `take` as it arrives while the total stays within `limit`
        (the rest is drained): the total size and the trailers. FramingError on a bad chunk size."""
        size = 0
        while True:
            length = self._chunk_size(self.rfile.readline(_MAX_LINE + 1))
            if length == 0:
                break
            data = self.rfile.read(length)
            if len(data) < length:
                self.close_connection = True
                raise FramingError("The body ended inside a chunk")
            self.rfile.readline()
            size += length
            if size <= limit:
                take(data)
        trailers = Headers()
        for _ in range(_MAX_HEADERS):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if sep:
                trailers[name.strip().lower()] = value.strip()
        return size, trailers

    def _chunk_size(self, line: bytes) -> int:
        text = line.split(b";")[0].strip() or b"0"
        try:
            if len(text) > 16:
                raise ValueError(text)
            return int(text, 16)
        except ValueError:
            self.close_connection = True
            raise FramingError(f"Invalid chunk size {text[:40]!r}") from None


class ChunkedOut(Protocol):
    """A client's connection taking a reply in chunks (QuickHandler has these): the head, the chunks, the
    end."""

    def start_chunked(self, status: int, headers: Sequence[tuple[str, str]]) -> None: ...

    def write_chunk(self, data: bytes) -> None: ...

    def end_chunked(self) -> None: ...


class ChunkedSender:
    """A streamed reply whose client may leave mid-way: after the connection fails nothing more is sent
    (what streams goes on being read and dropped, as Lambda goes on when a client leaves). Not locked: its
    owner sends from one thread at a time."""

    def __init__(self, out: ChunkedOut) -> None:
        self._out = out
        self.started = False
        self.broken = False
        self.ended = False

    def start(self, status: int, headers: Sequence[tuple[str, str]]) -> None:
        if not self.started and not self.broken:
            self.started = True
            self._do(self._out.start_chunked, status, headers)

    def send(self, data: bytes) -> None:
        if self.started and not self.broken and not self.ended:
            self._do(self._out.write_chunk, data)

    def end(self) -> None:
        """The end of the body, once (a second call sends nothing)."""
        if self.started and not self.broken and not self.ended:
            self.ended = True
            self._do(self._out.end_chunked)

    def _do(self, action: Callable[..., None], *args: object) -> None:
        try:
            action(*args)
        except OSError as exc:
            LOG.debug("a streamed reply's client left: %s", exc)
            self.broken = True


def plain_reply(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 reply that closes the connection, as bytes (sent without a handler)."""
    reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (head + "Connection: close\r\n\r\n").encode("latin-1") + body


class TrackingHttpServer(http.server.ThreadingHTTPServer):
    """Knows its open connections, so closing the server also ends keep-alive connections. At most
    `max_connections` at once (a thread each): one more is answered `overloaded` and closed."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog is 5: a burst of connections (a load test) waited on SYN retries.
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[QuickHandler],
        *,
        name: str,
        max_connections: int = 256,
        overloaded: bytes = b"",
    ) -> None:
        super().__init__(address, handler)
        self.name = name
        self.max_connections = max_connections
        self._overloaded = overloaded or plain_reply(
            503, b'{"errorMessage":"Too many connections","errorType":"Overloaded"}'
        )
        self._open = 0  # connections with a thread, counted from accept to the thread's end
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            full = self._open >= self.max_connections
            if not full:
                self._open += 1
        if full:
            LOG.warning("%s: %d connections open, refusing one more", self.name, self.max_connections)
            try:
                request.sendall(self._overloaded)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._closed_one()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[misc]
        finally:
            self._closed_one()

    def _closed_one(self) -> None:
        with self._conn_lock:
            self._open -= 1

    @property
    def open_connections(self) -> int:
        with self._conn_lock:
            return self._open

    def handle_error(self, request: object, client_address: object) -> None:
        # A peer that dies mid-request (a killed runtime, a client gone) leaves a broken socket.
        LOG.debug("%s: connection from %s ended", self.name, client_address, exc_info=True)

    def track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)

    def drop_connections(self) -> None:
        with self._conn_lock:
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()


class BackgroundServer:
    """Serves `httpd` on a named thread; `close` stops at once (a wake-up socket, no polling interval)."""

    def __init__(self, httpd: TrackingHttpServer) -> None:
        self.httpd = httpd
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=httpd.name, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{host.decode() if isinstance(host, bytes) else host}:{port}"

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.httpd.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    self.httpd.handle_request()  # readable: accepts at once, hands to a connection thread

    def stop_accepting(self) -> None:
        """End the accept loop and close the listening socket; open connections go on."""
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout=5)
        self.httpd.socket.close()

    def close(self) -> None:
        self.stop_accepting()
        self.httpd.drop_connections()
        self.httpd.server_close()
        self._wake_r.close()
        self._wake_w.close()
