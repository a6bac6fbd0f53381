"""A loopback URL whose GET waits until the test opens it: how the streaming tests prove a chunk arrived
while the function still ran (the function waits at the gate after it; the test opens it on receipt)."""

from __future__ import annotations

import http.server
import threading


class Gate:
    """A loopback URL whose GET is answered only once `open` is called (within 60 s)."""

    def __init__(self) -> None:
        self._opened = threading.Event()
        self.asked = threading.Event()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                gate.asked.set()
                gate._opened.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="gate", daemon=True)
        self._thread.start()

    def open(self) -> None:
        self._opened.set()

    def close(self) -> None:
        self._opened.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def opened(self) -> bool:
        return self._opened.is_set()
