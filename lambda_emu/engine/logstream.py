"""An execution environment's log stream: the runtime's output cut into init and invocations by the runtime
client's markers, with Lambda's platform lines (START / END / REPORT) in between (Lambda's platform log
lines)."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lambda_emu.models import InvocationResult

LOG = logging.getLogger(__name__)

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class LogOrigin:
    """Whose output a line is: the function, its log group and its environment's log stream."""

    function: str
    group: str
    stream: str


# Makes the sink of one environment's lines (e.g. the log store's stream plus the terminal).
SinkFactory = Callable[[LogOrigin], LineSink]
_KEEP_INVOCATIONS = 32  # per-invocation buffers kept for callers that collect late
# Without markers (custom runtimes, AWS's base images): an invocation's output is taken as complete once
# the runtime has asked for its next event and the stream has then been quiet for _DRAIN_S, for what it
# wrote before that GET /next may still be on its way through the engine (Docker's attach stream passes
# containerd's shim and dockerd, each a thread to wake: on a shared 2-core machine at load averages 4-34,
# a line written just before the GET /next came more than 10 ms after it in 1 to 8 invokes of 300, and
# then shows after END; a handler's line, written before its response, in 0 to 2 of 300). Otherwise (a
# timeout, a crash, an init error) the output ends with the process's, or after _QUIET_S of quiet.
_DRAIN_S = 0.01
_QUIET_S = 0.05
# An invocation's own log, as its result carries it, keeps its START and its last this many bytes: the
# sinks (the log store, the terminal) get every line, as CloudWatch keeps them all, while a function that
# prints 100 MB costs the emulator no more than this in memory (the Invoke API's tail is 4 KB anyway).
KEEP_LOG_BYTES = 1 << 20
# A line longer than this is cut into lines of this size (CloudWatch Logs takes events of at most 256 KB),
# so output without newlines is never held whole.
MAX_LINE_BYTES = 256 * 1024


def tee(*sinks: LineSink) -> LineSink:
    """One sink feeding each of `sinks` in turn (and closing each, see `close_sink`)."""
    if len(sinks) == 1:
        return sinks[0]
    return _Tee(sinks)


class _Tee:
    __slots__ = ("_sinks",)

    def __init__(self, sinks: tuple[LineSink, ...]) -> None:
        self._sinks = sinks

    def __call__(self, text: str) -> None:
        for sink in self._sinks:
            sink(text)

    def close(self) -> None:
        for sink in self._sinks:
            close_sink(sink)


def close_sink(sink: LineSink) -> None:
    """Tell an environment's own sink that its stream has ended (the log store closes the stream's file);
    a sink without a `close` needs nothing."""
    close = getattr(sink, "close", None)
    if callable(close):
        close()


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def report_line(result: InvocationResult, *, status: str | None = None) -> str:
    """REPORT with TAB-separated fields and a trailing TAB, as Lambda writes it."""
    fields = [
        f"REPORT RequestId: {result.request_id}",
        f"Duration: {result.duration_ms:.2f} ms",
        f"Billed Duration: {result.billed_duration_ms} ms",
        f"Memory Size: {result.memory_size_mb} MB",
        f"Max Memory Used: {result.max_memory_used_mb} MB",
    ]
    if result.init_duration_ms is not None:
        fields.append(f"Init Duration: {result.init_duration_ms:.2f} ms")
    if status:
        fields.append(f"Status: {status}")
    return "\t".join(fields) + "\t\n"


def init_report_line(duration_ms: float, status: str, error_type: str | None = None) -> str:
    """Lambda's line for an init phase that failed or timed out (before it is retried in the invoke)."""
    fields = [f"INIT_REPORT Init Duration: {duration_ms:.2f} ms", "Phase: init", f"Status: {status}"]
    if error_type:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields) + "\n"


def timeout_line(request_id: str, elapsed_s: float) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{now} {request_id} Task timed out after {elapsed_s:.2f} seconds\n"


class InvocationLog:
    """One invocation's lines: its first (START) and the newest ones up to `limit` characters."""

    __slots__ = ("_head", "_lines", "_size", "_dropped", "_limit")

    def __init__(self, limit: int = KEEP_LOG_BYTES) -> None:
        self._head: str | None = None
        self._lines: deque[str] = deque()
        self._size = 0
        self._dropped = 0
        self._limit = limit

    def append(self, line: str) -> None:
        if self._head is None:
            self._head = line
            return
        self._lines.append(line)
        self._size += len(line)
        while self._size > self._limit and len(self._lines) > 1:
            old = self._lines.popleft()
            self._size -= len(old)
            self._dropped += len(old)

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.append(line)

    def text(self) -> str:
        if self._head is None:
            return ""
        note = (
            f"[lambda-emu: {self._dropped} characters of this invocation's output are not repeated here; "
            "the function's log stream has them all]\n"
            if self._dropped
            else ""
        )
        return self._head + note + "".join(self._lines)


class LogStream:
    """Fed by the container's output reader; read by the invoker. `sink` sees the output live and in
    order, in whole lines (one or more per call).

    With a marker token the runtime writes "<token> READY" once init is done and "<token> END <id>" after
    each invocation's output, so an invocation's log is complete exactly when its END marker arrives."""

    def __init__(self, *, marker: str | None, sink: LineSink | None = None, sources: int = 1) -> None:
        self._marker = marker.encode() + b" " if marker else None
        self._sink = sink
        self._cond = threading.Condition()
        # Output may come by more than one way (the engine's stream, a direct socket): lines are split per
        # source, and the process's output is complete when every source has ended.
        self._sources = sources
        self._partials: dict[int, bytes] = {}
        self._open_sources = set(range(sources))
        self._ready = False
        self._eof = False
        self._current: str | None = None
        self._start_pending: tuple[str, str] | None = None
        self._buffers: OrderedDict[str, InvocationLog] = OrderedDict()
        self._ended: set[str] = set()
        self._init: list[str] = []
        self._last_data = time.monotonic()
        # An invocation's START, not yet written to the sink: it goes out with the invocation's first
        # output or its END and REPORT (a quick, quiet invocation's lines reach the sink in one write),
        # or when `flush_start` is called (the invoker does, once an invocation has run a while).
        self._held_start = ""

    def mute(self) -> None:
        """From now on lines are kept but go to no sink (a closing environment's last words, e.g. its
        runtime client's complaint that the Runtime API went away, are no one's output)."""
        with self._cond:
            self._sink = None

    # ---- the reader's side
    def feed(self, data: bytes, source: int = 0) -> None:
        with self._cond:
            self._last_data = time.monotonic()
            lines = (self._partials.get(source, b"") + data).split(b"\n")
            partial = lines.pop()
            for raw in lines:
                self._line(raw)
            while len(partial) > MAX_LINE_BYTES:
                self._line(partial[:MAX_LINE_BYTES])
                partial = partial[MAX_LINE_BYTES:]
            self._partials[source] = partial
            self._cond.notify_all()

    def eof(self, source: int = 0) -> None:
        """A source ended; once all have, the runtime process is gone and whatever it wrote is in."""
        with self._cond:
            partial = self._partials.pop(source, b"")
            if partial:
                self._line(partial)
            self._open_sources.discard(source)
            self._eof = not self._open_sources
            self._cond.notify_all()

    def _line(self, raw: bytes) -> None:
        at = raw.find(self._marker) if self._marker is not None else -1
        if at > 0:
            # A child process may leave a line unfinished on fd 1, so the marker lands mid-line.
            self._line(raw[:at])
            self._line(raw[at:])
            return
        if at == 0:  # "<token> READY" or "<token> END <id>"
            word, _, arg = raw.partition(b" ")[2].decode(errors="replace").partition(" ")
            if word == "READY":
                self._ready = True
                if self._start_pending is not None:
                    self._open(*self._start_pending)
                    self._start_pending = None
            elif word == "END":
                self._ended.add(arg.strip())
                if self._current == arg.strip():
                    self._current = None
            return
        text = raw.decode(errors="replace") + "\n"
        if self._current is not None:
            self._buffers[self._current].append(text)
        elif not self._ready:
            self._init.append(text)
        self._emit(text)

    def _emit(self, text: str) -> None:
        if self._held_start:
            text, self._held_start = self._held_start + text, ""
        if self._sink is not None and text:
            try:
                self._sink(text)
            except Exception:  # a broken terminal must not break the environment
                LOG.exception("log sink failed")

    def _open(self, request_id: str, version: str) -> None:
        self._current = request_id
        self._start(request_id, version)

    def _start(self, request_id: str, version: str) -> None:
        line = start_line(request_id, version)
        self._buffers[request_id].append(line)
        self._emit("")  # an earlier START still held goes out first
        self._held_start = line

    def flush_start(self) -> None:
        """Write a held START to the sink now (an invocation that runs a while shows it has started)."""
        with self._cond:
            self._emit("")

    # ---- the environment's and invoker's side
    def _new_buffer(self, request_id: str) -> None:
        self._buffers[request_id] = InvocationLog()
        while len(self._buffers) > _KEEP_INVOCATIONS:
            old, _ = self._buffers.popitem(last=False)
            self._ended.discard(old)

    def begin_unsent(self, request_id: str, version: str) -> None:
        """An invocation that ended before its event went out (its init failed in the invoke phase too, or
        the runtime died first): its log still has START, then END and REPORT, as Lambda's has."""
        with self._cond:
            if request_id not in self._buffers:
                self._new_buffer(request_id)
                self._start(request_id, version)

    def begin(self, request_id: str, version: str) -> None:
        """The event went out: the invocation's log starts (after any init output still in flight)."""
        with self._cond:
            self._new_buffer(request_id)
            if self._marker is None:
                self._ready = True  # without markers, the init phase ends when the first event goes out
            if self._ready:
                self._open(request_id, version)
            else:
                self._start_pending = (request_id, version)

    def ended(self, request_id: str) -> bool:
        """The invocation's output is complete (its END marker came, or the process is gone)."""
        with self._cond:
            return request_id in self._ended or self._eof

    def wait_end(self, request_id: str, timeout: float, *, asked_next: bool = False) -> str:
        """The invocation's log so far, once its output is complete (END marker, process gone, or timeout).
        `asked_next`: the runtime has just asked for its next event, so a runtime without markers has
        written all of this invocation's output (only its way through the engine is waited for)."""
        asked = time.monotonic()
        deadline = asked + timeout
        quiet = _DRAIN_S if asked_next else _QUIET_S
        with self._cond:
            while not (request_id in self._ended or self._eof):
                remaining = deadline - time.monotonic()
                if self._marker is None:
                    # Quiet counted from now too: output written just before the response (or the next
                    # GET /next) may still be on its way through the engine's log stream.
                    quiet_left = max(self._last_data, asked) + quiet - time.monotonic()
                    if quiet_left <= 0:
                        break
                    remaining = min(remaining, quiet_left)
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._current == request_id:
                self._current = None
            return self._text(request_id)

    def _text(self, request_id: str) -> str:
        buffer = self._buffers.get(request_id)
        return buffer.text() if buffer is not None else ""

    def platform(self, request_id: str, text: str) -> None:
        """Append Lambda's own lines (END, REPORT, timeout notices) to an invocation's log."""
        with self._cond:
            buffer = self._buffers.get(request_id)
            if buffer is not None:
                buffer.extend(text.splitlines(keepends=True))
            self._emit(text)  # END and REPORT reach each sink in one write (sinks take several lines)

    def note(self, text: str) -> None:
        """A platform line outside any invocation (INIT_REPORT): shown, not kept."""
        with self._cond:
            self._emit(text)

    def log_of(self, request_id: str) -> str:
        with self._cond:
            return self._text(request_id)

    def wait_eof(self, timeout: float) -> None:
        """Wait until the (killed) runtime's output is all in."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._eof and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)

    def init_output(self) -> str:
        with self._cond:
            return "".join(self._init)

    def restart(self) -> None:
        """A new runtime process: expect READY again; its init output is new."""
        with self._cond:
            self._ready = False
            self._eof = False
            self._partials = {}
            self._open_sources = set(range(self._sources))
            self._current = None
            self._start_pending = None
            self._held_start = ""  # an unfinished invocation's START: not glued to the new init output
            self._init = []
