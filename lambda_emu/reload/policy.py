"""Hot reload's policy, apart from any file watching: what to watch for a function, which changed path
belongs to which function, which names are editors' temporary files, and when a burst of saves is over."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from lambda_emu.config import EmulatorConfig, FunctionConfig

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
