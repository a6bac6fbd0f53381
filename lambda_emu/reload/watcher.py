"""Hot reload: watches functions' code, layers and the template, and retires a changed function's environments
(or reloads the template's functions) once per burst of saves. The only module importing watchdog; what a
path means (whose code, an editor's temporary file) and the debounce are pure and kept apart from it."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog import events
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from lambda_emu.config import FunctionConfig
from lambda_emu.errors import LambdaEmuError
from lambda_emu.images.function_code import forget_digest
from lambda_emu.reload.policy import (  # noqa: F401  (the reloader's public names live there)
    IDLE_WAIT_SECONDS,
    MAX_DELAY_SECONDS,
    QUIET_SECONDS,
    Changes,
    Debouncer,
    FunctionTable,
    Kind,
    Reload,
    Retiring,
    WatchConfig,
    WatchTarget,
    classify,
    is_temporary,
    table_changes,
    watch_roots,
    watch_targets,
)

LOG = logging.getLogger(__name__)
_DEFAULT_CONFIG = WatchConfig()  # frozen


class Reloader:
    """Owns a watchdog observer and the worker thread applying debounced changes; `close()` stops both.
    `functions` are the template's as loaded: the reloader keeps its own copy (what it watches and diffs a
    reloaded template against), whatever the table makes of them."""

    def __init__(
        self,
        emulator: Retiring,
        table: FunctionTable,
        functions: Iterable[FunctionConfig],
        config: WatchConfig = _DEFAULT_CONFIG,
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
