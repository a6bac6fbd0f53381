"""A loopback listener our runtime clients connect their stdout and stderr to, so function output reaches
the log stream without the engine's attach stream (the engine copies every line through two daemons)."""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)


class DirectOutput:
    """One per environment, for its life: the port goes into the container's environment once, and every
    start of the runtime process connects again. `close` ends any reader at once."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False

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
        with conn:
            try:
                while data := conn.recv(1 << 16):
                    feed(data)
            except OSError as exc:  # reset by a killed runtime: what it wrote before is in
                LOG.debug("direct output ended: %s", exc)

    def _accept(self, ended: threading.Event) -> socket.socket | None:
        while not self._closed:
            try:
                ready, _, _ = select.select([self._listener, self._wake_r], [], [])
                if self._listener in ready:  # before the wake-up: a runtime that connected and died
                    conn, _ = self._listener.accept()
                    return conn
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
        self.wake()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
