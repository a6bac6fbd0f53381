"""A loopback listener our runtime clients connect their stdout and stderr to, so function output reaches
the log stream without the engine's attach stream (the engine copies every line through two daemons)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from lambda_emu.engine.httpserver import readable

LOG = logging.getLogger(__name__)

# Where the reader of the socket is: reading it, asked to stop after its next read, or stopped.
_HOME, _LEAVING, _AWAY = "home", "leaving", "away"
# Who takes the socket from its reader: given it and the `pull` that reads it.
Borrower = Callable[[socket.socket, Callable[[], bool]], None]
# What one read found.
_DATA, _DRAINED, _EMPTY, _END = "data", "drained", "empty", "end"
_READ_SIZE = 1 << 16


class DirectOutput:
    """One per environment, for its life: the port goes into the container's environment once, and every
    start of the runtime process connects again. `close` ends any reader at once.

    A warm invocation's output is read by the thread waiting for its reply, not by the reader thread: a
    write of the runtime (at least its END marker, on every invocation) would otherwise wake the reader
    just as the waiting thread wakes for the reply, a thread switch and a fight for the interpreter lock
    on each call. So once the environment is warm (`lend`), the reader stops after its next read and the
    socket is watched by whoever waits for the runtime (`pull`); between invocations nobody reads it, as
    Lambda freezes an idle environment. `home` gives it back to the reader (a cold invocation, a reset,
    the runtime's exit, the close). Every read happens under one lock, so lines are fed in order whoever
    reads them."""

    def __init__(self, token: str | None = None) -> None:
        # The runtime client's first line is this environment's secret token: other environments'
        # functions share the loopback and can connect too, but their output is not this one's.
        self._hello = f"{token}\n".encode() if token else b""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        self._lock = threading.Lock()  # the fields below
        self._read_lock = threading.Lock()  # one reader at a time, recv and feed together
        self._conn: socket.socket | None = None  # the runtime process's connection, once accepted
        self._feed: Callable[[bytes], None] | None = None
        self._state = _HOME
        self._borrower: Borrower | None = None  # told when the reader has left
        self._home = threading.Event()  # set unless the reader is away

    @property
    def address(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def read(self, feed: Callable[[bytes], None], ended: threading.Event) -> None:
        """Feed what one runtime process writes until its connection closes (the process and its children
        are gone). Returns without a connection once `ended` is set and `wake()` called: the process died
        before connecting, or is no client of ours."""
        conn = self._accept(ended)
        if conn is None:
            return
        # Blocking, whatever socket default timeout the process has (the pytest plugin runs in the
        # user's process): with a timeout, a recv with MSG_DONTWAIT waits and then fails.
        conn.settimeout(None)
        with self._lock:
            self._conn, self._feed, self._state = conn, feed, _HOME
            self._home.set()
        try:
            while True:
                with self._lock:
                    borrower = None
                    if self._state is _LEAVING:
                        self._state = _AWAY
                        self._home.clear()
                        borrower, self._borrower = self._borrower, None
                if borrower is not None:
                    borrower(conn, self.pull)
                self._home.wait()  # away: until `home` (or `close`: the rest is read up to the end)
                # Not a blocking recv: a borrower's `pull` would wait for this read's lock meanwhile.
                readable([conn])
                if self._pull_once() is _END:
                    return
        except (OSError, ValueError) as exc:  # closed under us
            LOG.debug("direct output ended: %s", exc)
        finally:
            with self._lock:
                self._conn = self._feed = None
            conn.close()

    def lend(self, to: Borrower) -> None:
        """For a thread that waits for a warm invocation's reply: `to(socket, pull)` is called with the
        socket to watch (calling `pull` when it is readable, and once after the reply) as soon as its
        reader is away: at once, or after the reader's next read (from the reader's thread)."""
        with self._lock:
            if self._conn is None or self._closed:
                return
            if self._state is not _AWAY:
                self._state, self._borrower = _LEAVING, to
                return
            conn = self._conn
        to(conn, self.pull)

    def pull(self) -> bool:
        """Feed whatever has arrived, without waiting; False once the stream has ended (stop watching it:
        the reader is called back, sees the end too and finishes the process's output)."""
        while (got := self._pull_once()) is _DATA:
            pass
        return got is not _END

    def _pull_once(self) -> str:
        """One read without waiting, fed: _DATA (a full read: there may be more), _DRAINED (a short one:
        there was no more then, so no read that would find nothing), _EMPTY (nothing there) or _END (the
        reader, called back, ends the stream)."""
        with self._read_lock:
            conn, feed = self._conn, self._feed
            if conn is None or feed is None:
                return _END
            try:
                data = conn.recv(_READ_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return _EMPTY
            except OSError as exc:  # reset by a killed runtime: what it wrote before is in
                LOG.debug("direct output ended: %s", exc)
                data = b""
            if data:
                feed(data)
                return _DATA if len(data) == _READ_SIZE else _DRAINED
        self.home()  # an end stays readable: the reader reads it again and finishes
        return _END

    def home(self) -> None:
        """The reader reads the socket again (a no-op when it does)."""
        with self._lock:
            self._state, self._borrower = _HOME, None
            self._home.set()

    def _greeted(self, conn: socket.socket) -> bool:
        """The connection's first bytes are the hello (read within a second), or it is a stranger's."""
        if not self._hello:
            return True
        conn.settimeout(1.0)
        got = b""
        try:
            while len(got) < len(self._hello):
                chunk = conn.recv(len(self._hello) - len(got))
                if not chunk:
                    break
                got += chunk
        except OSError:
            return False
        if got != self._hello:
            LOG.warning("direct output: a connection without this environment's token was refused")
        return got == self._hello

    def _accept(self, ended: threading.Event) -> socket.socket | None:
        while not self._closed:
            try:
                ready = readable([self._listener, self._wake_r])
                if self._listener in ready:  # before the wake-up: a runtime that connected and died
                    conn, _ = self._listener.accept()
                    if self._greeted(conn):
                        return conn
                    conn.close()
                    continue
                self._wake_r.recv(64)  # wake-ups of earlier starts are stale unless `ended` is set
            except OSError:  # closed under us
                return None
            if ended.is_set():
                return None
        return None

    def wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def close(self) -> None:
        self._closed = True
        self._home.set()
        self.wake()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
