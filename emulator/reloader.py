"""Hot reload: watches functions' code, layers and the template, and retires a changed function's environments
(or reloads the template's functions) once per burst of saves. The only module importing watchdog; what a
path means (whose code, an editor's temporary file) and the debounce are pure and kept apart from it."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from watchdog import events
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from emulator.code import forget_digest
from emulator.config import EmulatorConfig, FunctionConfig
from emulator.errors import LambdaEmuError

LOG = logging.getLogger(__name__)

QUIET_SECONDS = 0.05  # a burst of saves ends after this long without an event (an editor's save: a few ms)
MAX_DELAY_SECONDS = 1.0  # a file written without pause still reloads this often
IDLE_WAIT_SECONDS = 1.0  # the worker's longest wait: it also notices close() within this time


# ---- policy (pure) -------------------------------------------------------------------------------
class Kind(Enum):
    CODE = "code"
    LAYER = "layer"
    TEMPLATE = "template"


@dataclass(frozen=True)
class WatchTarget:
    """A watched path: a folder (everything under it) or one file (a zip, the template)."""

    path: Path
    kind: Kind
    functions: frozenset[str] = frozenset()  # whose code or layer this is (none for the template)
    is_file: bool = False

    def holds(self, path: str) -> bool:
        root = str(self.path)
        return path == root if self.is_file else path == root or path.startswith(root + os.sep)


# Names editors and tools write beside the files they save; none of them is code.
_TEMP_NAME = re.compile(
    r"\.sw[a-px]$"  # vim swap files (.swp, .swo, ... .swx)
    r"|~$"  # vim, emacs, nano backups
    r"|^\.#"  # emacs lock files
    r"|^#.*#$"  # emacs auto-saves
    r"|___jb_(tmp|old)___$"  # JetBrains safe write
    r"|^\.goutputstream-"  # gedit
    r"|\.kate-swp$"  # Kate
    r"|\.py[co]$"  # Python's bytecode, written when code runs, not when it is edited
    r"|^\.DS_Store$|^Thumbs\.db$"
)
# Folders whose content is a tool's, never the function's source.
_TOOL_FOLDERS = frozenset(
    {"__pycache__", ".git", ".hg", ".svn", ".idea", ".vscode", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)


def is_temporary(relative: str) -> bool:
    """True for an editor's or tool's file at `relative` (a path under a watched folder): ignored."""
    parts = [part for part in relative.split(os.sep) if part]
    if not parts:
        return False
    name = parts[-1]
    # vim's "can I write here" probe is named 4913 (then 5036, 5159, ... if taken).
    if name.isdigit() and int(name) >= 4913 and (int(name) - 4913) % 123 == 0:
        return True
    if _TEMP_NAME.search(name):
        return True
    folders = parts[:-1]
    if any(folder in _TOOL_FOLDERS for folder in folders) or name in _TOOL_FOLDERS:
        return True
    # bundlers' caches inside node_modules (babel, eslint, webpack) change when tools run, not on edits
    return any(a == "node_modules" and b == ".cache" for a, b in zip(parts, parts[1:], strict=False))


def watch_targets(
    functions: Iterable[FunctionConfig], config_files: Iterable[Path] = ()
) -> tuple[WatchTarget, ...]:
    """What to watch for these functions: each code folder or zip, each layer, and the template (and any
    other file its functions are read from)."""
    owners: dict[tuple[Path, Kind, bool], set[str]] = {}
    for function in functions:
        if function.package_type == "Image":
            continue  # the code is in an image: a change means a new image, not a new environment
        paths = [(function.code_path, Kind.CODE)] + [(layer, Kind.LAYER) for layer in function.layers]
        for path, kind in paths:
            resolved = path.expanduser().resolve()
            owners.setdefault((resolved, kind, not resolved.is_dir()), set()).add(function.name)
    targets = [
        WatchTarget(path, kind, frozenset(names), is_file) for (path, kind, is_file), names in owners.items()
    ]
    targets += [
        WatchTarget(path.expanduser().resolve(), Kind.TEMPLATE, is_file=True) for path in config_files
    ]
    return tuple(targets)


def watch_roots(targets: Iterable[WatchTarget]) -> frozenset[tuple[str, bool]]:
    """The fewest (folder, recursive) watches covering every target: a file is watched through its
    folder, and a folder already under a recursive watch needs none of its own."""
    wanted = {(str(t.path.parent) if t.is_file else str(t.path), not t.is_file) for t in targets}
    recursive = {folder for folder, deep in wanted if deep}

    def covered(folder: str, deep: bool) -> bool:
        return any(folder.startswith(other + os.sep) or (folder == other and not deep) for other in recursive)

    return frozenset((folder, deep) for folder, deep in wanted if not covered(folder, deep))


@dataclass(frozen=True)
class Changes:
    """What a burst of changed paths means: whose code or layers changed, and whether the template did."""

    code: Mapping[str, Kind] = field(default_factory=dict)  # function name → CODE or LAYER
    template: bool = False
    files: frozenset[str] = frozenset()  # changed zip files (their cached digests are stale)

    def __bool__(self) -> bool:
        return bool(self.code) or self.template


def classify(
    paths: Iterable[str], targets: Sequence[WatchTarget], ignore_under: Sequence[Path] = ()
) -> Changes:
    """Pure: the meaning of changed absolute paths for these targets. Temporary files and anything under
    `ignore_under` (the emulator's own state folder, which may sit inside a code folder) mean nothing."""
    ignored_roots = [str(path.expanduser().resolve()) for path in ignore_under]
    code: dict[str, Kind] = {}
    template = False
    files: set[str] = set()
    for path in paths:
        if any(path == root or path.startswith(root + os.sep) for root in ignored_roots):
            continue
        for target in targets:
            if not target.holds(path):
                continue
            if is_temporary(os.path.relpath(path, target.path.parent if target.is_file else target.path)):
                continue
            if target.kind is Kind.TEMPLATE:
                template = True
                continue
            if target.is_file:
                files.add(path)
            for name in target.functions:
                # a code change says more than a layer change when both happen in one burst
                if code.get(name) is not Kind.CODE:
                    code[name] = target.kind
    return Changes(code, template, frozenset(files))


@dataclass(frozen=True)
class Reload:
    """One reload, as the terminal shows it: "reloaded HelloFunction: code changed"."""

    function: str | None
    reason: str
    error: str | None = None  # the template could not be reloaded: the previous functions stay

    def __str__(self) -> str:
        if self.error is not None:
            return f"template not reloaded, still serving the previous functions: {self.error}"
        return f"reloaded {self.function}: {self.reason}"


def table_changes(old: Mapping[str, FunctionConfig], new: Mapping[str, FunctionConfig]) -> list[Reload]:
    """Pure: which functions a reloaded template added, changed or removed (by function name)."""
    reloads = [Reload(name, "added") for name in new if name not in old]
    reloads += [
        Reload(name, "configuration changed") for name in new if name in old and new[name] != old[name]
    ]
    reloads += [Reload(name, "removed") for name in old if name not in new]
    return reloads


class Debouncer:
    """Pure (time is passed in): collects paths and says when a burst is over, i.e. `quiet` seconds after
    its last event, or `max_delay` after its first so a file written without pause still reloads."""

    def __init__(self, quiet: float = QUIET_SECONDS, max_delay: float = MAX_DELAY_SECONDS) -> None:
        self.quiet = quiet
        self.max_delay = max_delay
        self._paths: set[str] = set()
        self._first = 0.0
        self._last = 0.0

    def add(self, path: str, now: float) -> None:
        if not self._paths:
            self._first = now
        self._paths.add(path)
        self._last = now

    def wait_time(self, now: float) -> float | None:
        """Seconds until the burst is due (0: now); None when nothing is pending."""
        if not self._paths:
            return None
        due = min(self._last + self.quiet, self._first + self.max_delay)
        return max(0.0, due - now)

    def take(self) -> frozenset[str]:
        paths, self._paths = frozenset(self._paths), set()
        return paths


# ---- the shell: watchdog and one worker thread ---------------------------------------------------
class FunctionTable(Protocol):
    """Where the template's functions are served (FunctionRegistry): told of each one added, changed or
    removed by a template reload."""

    def put(self, function: FunctionConfig) -> None: ...
    def remove(self, name: str) -> None: ...


class Retiring(Protocol):
    """What the reloader needs of the Emulator: its state folder, and retiring a function's environments."""

    config: EmulatorConfig

    def retire(self, function_name: str) -> int: ...


@dataclass(frozen=True)
class WatchConfig:
    """What to watch besides the functions' code and layers, and what to do about it."""

    template: Path | None = None
    # Re-reads the template (with the same parameter overrides and env-vars): the functions to serve now.
    # Raising LambdaEmuError keeps the previous functions.
    load: Callable[[], Iterable[FunctionConfig]] | None = None
    extra_files: tuple[Path, ...] = ()  # e.g. the --env-vars file: a change reloads like the template's
    on_reload: Callable[[Reload], None] | None = None  # one call per reloaded function (the CLI prints it)
    quiet: float = QUIET_SECONDS
    max_delay: float = MAX_DELAY_SECONDS


class Reloader:
    """Owns a watchdog observer and the worker thread applying debounced changes; `close()` stops both.
    `functions` are the template's as loaded: the reloader keeps its own copy (what it watches and diffs a
    reloaded template against), whatever the table makes of them."""

    def __init__(
        self,
        emulator: Retiring,
        table: FunctionTable,
        functions: Iterable[FunctionConfig],
        config: WatchConfig = WatchConfig(),
    ) -> None:
        self._emulator = emulator
        self._table = table
        self._functions = {function.name: function for function in functions}
        self.config = config
        self._cond = threading.Condition()
        self._debouncer = Debouncer(config.quiet, config.max_delay)
        self._stopping = False
        self._targets: tuple[WatchTarget, ...] = ()
        self._watches: dict[tuple[str, bool], ObservedWatch] = {}
        self._handler = _Forwarder(self._on_path)
        self._observer = Observer()
        self._observer.name = "reload-observer"
        self._observer.daemon = True
        self._worker = threading.Thread(target=self._run, name="reloader", daemon=True)
        self.reloads = 0  # bursts applied (for tests and diagnostics)

    def start(self) -> Reloader:
        self._replan()
        self._observer.start()
        self._worker.start()
        return self

    def watched(self) -> frozenset[tuple[str, bool]]:
        """The (folder, recursive) watches in place."""
        with self._cond:
            return frozenset(self._watches)

    def _config_files(self) -> list[Path]:
        files = [self.config.template] if self.config.template is not None else []
        return files + list(self.config.extra_files)

    def _replan(self) -> None:
        """Watch what the current functions need: new folders get a watch, dropped ones lose theirs."""
        targets = watch_targets(self._functions.values(), self._config_files())
        roots = {root for root in watch_roots(targets) if os.path.isdir(root[0])}
        with self._cond:
            self._targets = targets
            stale = [self._watches.pop(root) for root in list(self._watches) if root not in roots]
            fresh = [root for root in roots if root not in self._watches]
        for watch in stale:
            self._observer.unschedule(watch)
        for folder, recursive in fresh:
            try:
                watch = self._observer.schedule(
                    self._handler, folder, recursive=recursive, event_filter=_EVENTS
                )
            except OSError as exc:  # e.g. the system's inotify watch limit
                LOG.warning("cannot watch %s for changes: %s", folder, exc)
                continue
            with self._cond:
                self._watches[(folder, recursive)] = watch

    def _on_path(self, path: str) -> None:
        with self._cond:
            self._debouncer.add(path, time.monotonic())
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                wait = self._debouncer.wait_time(time.monotonic())
                while not self._stopping and (wait is None or wait > 0):
                    self._cond.wait(IDLE_WAIT_SECONDS if wait is None else min(wait, IDLE_WAIT_SECONDS))
                    wait = self._debouncer.wait_time(time.monotonic())
                if self._stopping:
                    return
                paths, targets = self._debouncer.take(), self._targets
            try:
                self._apply(classify(paths, targets, [self._emulator.config.state_dir]))
            except Exception:  # a reload must never end the worker: the next save tries again
                LOG.exception("reload failed")

    def _apply(self, changes: Changes) -> None:
        if not changes:
            return
        for path in changes.files:
            forget_digest(Path(path))  # a zip rewritten within one mtime tick must not look unchanged
        reloads: list[Reload] = []
        if changes.template:
            reloads += self._reload_template()
        handled = {reload.function for reload in reloads}
        for name, kind in sorted(changes.code.items()):
            if name in handled or name not in self._functions:
                continue
            self._emulator.retire(name)
            reloads.append(Reload(name, f"{kind.value} changed"))
        for reload in reloads:
            LOG.info("%s", reload)
            if self.config.on_reload is not None:
                self.config.on_reload(reload)
            elif reload.error is not None:
                LOG.error("%s", reload)
        self.reloads += 1  # counted once applied, so a caller seeing the count sees its effects

    def _reload_template(self) -> list[Reload]:
        if self.config.load is None:
            return []
        try:
            loaded = {function.name: function for function in self.config.load()}
        except LambdaEmuError as exc:
            return [Reload(None, "template", error=exc.message + (f" ({exc.hint})" if exc.hint else ""))]
        reloads = table_changes(self._functions, loaded)
        for reload in reloads:
            assert reload.function is not None
            if reload.function in loaded:
                self._table.put(loaded[reload.function])
            else:
                self._table.remove(reload.function)
            # Lambda: an updated function's next invocation gets a new environment, with a new Init phase.
            self._emulator.retire(reload.function)
        self._functions = loaded
        self._replan()
        return reloads

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        # The worker first: a reload in progress may still schedule watches on the observer.
        if self._worker.is_alive():
            self._worker.join(timeout)
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout)

    def __enter__(self) -> Reloader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event_types() -> list[type[FileSystemEvent]]:
    # Opened and closed-without-writing events come from reading (the function's own imports): not changes.
    # A folder's "modified" accompanies every change of a file in it, temporary ones too.
    return [
        events.FileCreatedEvent,
        events.FileModifiedEvent,
        events.FileMovedEvent,
        events.FileDeletedEvent,
        events.DirCreatedEvent,
        events.DirMovedEvent,
        events.DirDeletedEvent,
    ]


_EVENTS = _event_types()


class _Forwarder(FileSystemEventHandler):
    """A watchdog handler passing every path an event touches (both ends of a move) to `on_path`."""

    def __init__(self, on_path: Callable[[str], None]) -> None:
        self._on_path = on_path

    def dispatch(self, event: FileSystemEvent) -> None:
        for attribute in ("src_path", "dest_path"):
            path = getattr(event, attribute, "")
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if path:
                self._on_path(path)
