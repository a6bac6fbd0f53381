"""What lambda-emu writes to stderr: function output (plain, or prefixed by function name and coloured when
serving), progress messages, and on a terminal a live line with the elapsed time of a long step."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:  # imported when used: every command starts with this module, few need these
    from lambda_emu.engine.logstream import LineSink, LogOrigin, SinkFactory

LOG = logging.getLogger(__name__)

_PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "bright_cyan", "bright_magenta", "bright_green")
# Detail messages (a build tool's own output, as runtimes.ImageBuilder relays it) start with two spaces;
# they make the live line of the step that the last stage message began.
_DETAIL = "  "
_TICK_S = 0.2
_MAX_PAD = 24
_SPINNER = "-\\|/"  # ASCII: any terminal encoding can show it


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return not os.environ.get("NO_COLOR") and stream.isatty()


def as_lines(text: str) -> list[str]:
    # Runtime clients such as awslambdaric join a multi-line record with "\r" (CloudWatch shows it as a
    # line break); a terminal would overwrite the line instead, so show it as CloudWatch does.
    return text.replace("\r\n", "\n").replace("\r", "\n").splitlines()


class Terminal:
    """stderr shared by function output and progress: one lock, and a live line erased before any other
    output so the two never tangle."""

    def __init__(
        self, stream: TextIO | None = None, *, live: bool | None = None, tick_s: float = _TICK_S
    ) -> None:
        self._stream = stream
        self._live = live
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._stage_at = time.monotonic()
        self._step_started: float | None = None
        self._detail = ""
        self._drawn = False
        self._ticker: threading.Thread | None = None

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # looked up late: tests and click's runner swap sys.stderr

    @property
    def live(self) -> bool:
        return self._live if self._live is not None else self.stream.isatty()

    # ---- function output
    def write(self, text: str) -> None:
        with self._lock:
            self._erase()
            self.stream.write(text)
            self.stream.flush()

    def plain_sink(self, text: str) -> None:
        self.write("".join(line + "\n" for line in as_lines(text)))

    # ---- progress
    def progress(self, message: str) -> None:
        """A stage message becomes a line; a detail line of a long step becomes the live line on a
        terminal (a line of its own elsewhere, so CI logs keep it)."""
        if not self.live:
            self.write(f"lambda-emu: {message}\n")
            return
        with self._lock:
            if message.startswith(_DETAIL):
                self._detail = message.strip()
                if self._step_started is None:
                    self._step_started = self._stage_at
                if self._ticker is None:
                    self._ticker = threading.Thread(target=self._tick, name="progress-ticker", daemon=True)
                    self._ticker.start()
                self._draw()
                return
            self._erase()
            self.stream.write(f"lambda-emu: {message}\n")
            self.stream.flush()
            self._detail = ""
            self._step_started = None
            self._stage_at = time.monotonic()

    def finish(self) -> None:
        """The command is about to print something else or end: no live line any more."""
        with self._lock:
            self._step_started = None
            self._erase()

    def _tick(self) -> None:
        while True:
            time.sleep(self._tick_s)
            with self._lock:
                if self._step_started is not None:
                    self._draw()

    def _draw(self) -> None:
        """Caller holds the lock."""
        if self._step_started is None:
            return
        elapsed = time.monotonic() - self._step_started
        spinner = _SPINNER[int(elapsed / self._tick_s) % len(_SPINNER)]
        line = f"  {spinner} {elapsed:5.1f} s  {self._detail}"
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r\x1b[2K" + line[:width])
        self.stream.flush()
        self._drawn = True

    def _erase(self) -> None:
        """Caller holds the lock."""
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self._drawn = False


TERMINAL = Terminal()


class PrefixedLines:
    """`lambda-emu serve`'s output: each function's lines prefixed by its name, padded to the longest, and
    coloured per function on a terminal."""

    def __init__(self, terminal: Terminal, names: Collection[str], *, colour: bool) -> None:
        self._terminal = terminal
        self._names = sorted(names)
        # Padded to the longest name, up to a point: a template of long names must not eat the line.
        self._width = min(_MAX_PAD, max((len(name) for name in names), default=0))
        self._colour = colour

    def prefix(self, function: str) -> str:
        text = f"{function:<{self._width}} | "
        if not self._colour:
            return text
        index = self._names.index(function) if function in self._names else zlib.crc32(function.encode())
        return click.style(text, fg=_PALETTE[index % len(_PALETTE)])

    def sink_for(self, origin: LogOrigin) -> LineSink:
        prefix = self.prefix(origin.function)

        def write(text: str) -> None:
            self._terminal.write("".join(prefix + line + "\n" for line in as_lines(text)))

        return write


def log_sinks(state_dir: Path, *, served: Collection[str] | None = None) -> SinkFactory:
    """Where each environment's lines go: its stream in the log store (`lambda-emu logs`), and stderr,
    plain for `invoke` or prefixed by function name for `serve` (`served`: the names to pad to)."""
    from lambda_emu.engine.logstore import LogStore
    from lambda_emu.engine.logstream import tee

    store = LogStore.of_state_dir(state_dir)
    prefixed = (
        PrefixedLines(TERMINAL, served, colour=colour_wanted(TERMINAL.stream)) if served is not None else None
    )

    def sinks(origin: LogOrigin) -> LineSink:
        shown = prefixed.sink_for(origin) if prefixed is not None else TERMINAL.plain_sink
        return tee(store.sink(origin), shown)

    return sinks


def fallback_hint(exc: Exception, command_path: str | None) -> str:
    """What to do about an error that carries no hint of its own, by its kind (errors.py's tree)."""
    from lambda_emu.errors import ApiError, ConfigError, ContainerError, ImageError, TemplateError

    command = command_path or "lambda-emu"
    if isinstance(exc, TemplateError):
        return f"Check the template named above (path, syntax, resources) or pass another: {command} -t FILE"
    if isinstance(exc, ConfigError) or (isinstance(exc, ApiError) and exc.is_usage):
        return f"Fix the value named above; `{command} --help` explains every option, with examples."
    if isinstance(exc, ContainerError):
        return (
            "Check the Docker engine (`docker info`); `lambda-emu --debug ...` shows each step with timings."
        )
    if isinstance(exc, ImageError):
        return "`lambda-emu runtimes build RUNTIME` rebuilds with the whole output; --debug shows more."
    return "Run it again as `lambda-emu --debug ...` to see lambda-emu's own diagnostics."
