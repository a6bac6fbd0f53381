"""Functions' output kept on disk as CloudWatch keeps it: a log group per function, a stream per execution
environment, events with millisecond timestamps (JSON lines); reading, filtering and tailing them."""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lambda_emu.engine.logstream import LineSink, LogOrigin
from lambda_emu.errors import ConfigError
from lambda_emu.statedir import open_private

LOG = logging.getLogger(__name__)

# Bounds (documented in the README): per log group the newest MAX_STREAMS streams are kept, older ones are
# deleted when a new stream starts; a stream's file is rotated once it passes MAX_STREAM_BYTES, keeping one
# rotated file, so a stream holds its newest MAX_STREAM_BYTES at least and twice that at most: an
# invocation that prints 100 MB is all kept, as CloudWatch keeps it (only the disk holds it, never memory).
MAX_STREAMS = 20
MAX_STREAM_BYTES = 64 * 2**20
_MAX_OPEN = 32  # open stream files; older ones are closed (and reopened if their environment writes again)
_SUFFIX = ".jsonl"
_ROTATED = ".1.jsonl"
_RELATIVE = re.compile(
    r"(\d+)(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)", re.IGNORECASE
)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}  # by the unit's first letter
_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    stream: str
    message: str


_json_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


class _Writer:
    """One stream's file, opened for appending without a Python buffer: each event is one write(2), so a
    tailing reader sees it at once and no fsync is needed (a crash of the emulator loses nothing written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = open_private(path)
        self.size = os.fstat(self.fd).st_size

    def write(self, data: bytes, limit: int) -> None:
        if self.size and self.size + len(data) > limit:
            os.close(self.fd)
            os.replace(self.path, _rotated(self.path))
            self.fd = open_private(self.path)
            self.size = 0
        os.write(self.fd, data)
        self.size += len(data)

    def close(self) -> None:
        os.close(self.fd)


class LogStore:
    """Log groups under `root` (`<state dir>/logs`): `/aws/lambda/Fn` is the folder `aws/lambda/Fn`, a
    stream `2026/11/23/[$LATEST]<32 hex>` the file `2026/11/23/[$LATEST]<32 hex>.jsonl` in it."""

    def __init__(
        self, root: Path, *, max_streams: int = MAX_STREAMS, max_stream_bytes: int = MAX_STREAM_BYTES
    ) -> None:
        self.root = root
        self.max_streams = max_streams
        self.max_stream_bytes = max_stream_bytes
        self._lock = threading.Lock()
        self._open: OrderedDict[Path, _Writer] = OrderedDict()

    @classmethod
    def of_state_dir(cls, state_dir: Path) -> LogStore:
        return cls(state_dir / "logs")

    # ---- writing
    def group_dir(self, group: str) -> Path:
        return self.root / group.strip("/")

    def stream_path(self, group: str, stream: str) -> Path:
        return self.group_dir(group) / (stream + _SUFFIX)

    def sink(self, origin: LogOrigin) -> LineSink:
        """The line sink of one environment's stream: each line becomes an event stamped now; its `close`
        (the environment's end) closes the stream's file."""
        return _StreamSink(self, self.stream_path(origin.group, origin.stream), origin.group)

    def close_stream(self, path: Path) -> None:
        with self._lock:
            writer = self._open.pop(path, None)
            if writer is not None:
                writer.close()

    def append(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        self._append_lines(self.stream_path(group, stream), group, [message], stamp)

    def _append_lines(self, path: Path, group: str, messages: list[str], timestamp_ms: int) -> None:
        # json.dumps({"timestamp": …, "message": …}) byte for byte, without building a dict per line.
        data = "".join(
            f'{{"timestamp": {timestamp_ms}, "message": {_json_string(message)}}}\n' for message in messages
        ).encode()
        with self._lock:
            writer = self._open.get(path)
            if writer is None:
                if not path.exists():
                    self._prune(group, keep=self.max_streams - 1)
                writer = self._open[path] = _Writer(path)
                while len(self._open) > _MAX_OPEN:
                    self._open.popitem(last=False)[1].close()
            else:
                self._open.move_to_end(path)
            writer.write(data, self.max_stream_bytes)

    def _prune(self, group: str, *, keep: int) -> None:
        """Delete the oldest streams of the group beyond `keep` (by last write); caller holds the lock."""
        streams = sorted(self._stream_files(group).items(), key=lambda item: _mtime(item[1][-1]))
        for _, files in streams[: max(0, len(streams) - keep)]:
            for path in files:
                writer = self._open.pop(path, None)
                if writer is not None:
                    writer.close()
                path.unlink(missing_ok=True)
                LOG.debug("log store: pruned %s", path)

    def close(self) -> None:
        with self._lock:
            for writer in self._open.values():
                writer.close()
            self._open.clear()

    # ---- reading
    def groups(self) -> list[str]:
        """Log groups that have at least one stream."""
        found = {
            "/" + p.parents[3].relative_to(self.root).as_posix() for p in self.root.glob("**/*" + _SUFFIX)
        }
        return sorted(found)

    def has_group(self, group: str) -> bool:
        return bool(self._stream_files(group))

    def streams(self, group: str) -> list[str]:
        return sorted(self._stream_files(group))

    def _stream_files(self, group: str) -> dict[str, list[Path]]:
        """stream name → its files, the rotated one first (reading order)."""
        folder = self.group_dir(group)
        found: dict[str, list[Path]] = {}
        for path in sorted(folder.glob("*/*/*/*" + _SUFFIX)):
            relative = path.relative_to(folder).as_posix()
            if relative.endswith(_ROTATED):
                found.setdefault(relative[: -len(_ROTATED)], []).insert(0, path)
            else:
                found.setdefault(relative[: -len(_SUFFIX)], []).append(path)
        return found

    def events(
        self, group: str, *, since_ms: int | None = None, pattern: str | None = None
    ) -> list[LogEvent]:
        """Every kept event of the group at or after `since_ms` that matches `pattern`, oldest first."""
        return LogTail(self, group, since_ms=since_ms, pattern=pattern).poll()

    def tail(self, group: str, *, since_ms: int | None = None, pattern: str | None = None) -> LogTail:
        return LogTail(self, group, since_ms=since_ms, pattern=pattern)


class _StreamSink:
    __slots__ = ("_store", "_path", "_group")

    def __init__(self, store: LogStore, path: Path, group: str) -> None:
        self._store, self._path, self._group = store, path, group

    def __call__(self, text: str) -> None:
        # A sink may get several lines at once (END and REPORT): one event each, in one write.
        stamp = int(time.time() * 1000)
        self._store._append_lines(self._path, self._group, text.rstrip("\n").split("\n"), stamp)

    def close(self) -> None:
        self._store.close_stream(self._path)


_HEAD_BYTES = 64  # a file's first bytes: with its inode, what tells it from a later file


class LogTail:
    """Reads a group's streams incrementally: each poll returns the events written since the last one
    (the first poll: everything kept), so following costs a stat per stream when nothing changed."""

    def __init__(
        self, store: LogStore, group: str, *, since_ms: int | None = None, pattern: str | None = None
    ) -> None:
        self._store = store
        self._group = group
        self._since_ms = since_ms
        self._terms = filter_terms(pattern)
        # Read offsets by file, not name: rotation renames the live file (its offset goes with it) and
        # starts a new one at 0. A file is its inode plus its first bytes (files are append-only), since a
        # deleted file's inode number is soon given to a new one.
        self._offsets: dict[tuple[int, int], tuple[bytes, int]] = {}

    def poll(self) -> list[LogEvent]:
        found: list[LogEvent] = []
        present: set[tuple[int, int]] = set()
        for stream, files in self._store._stream_files(self._group).items():
            for path in files:  # the rotated file first: its tail is older than the live file
                found.extend(self._read_new(stream, path, present))
        for gone in self._offsets.keys() - present:
            del self._offsets[gone]
        found.sort(key=lambda event: event.timestamp_ms)  # stable: a stream's own order is kept
        return found

    def _read_new(self, stream: str, path: Path, present: set[tuple[int, int]]) -> list[LogEvent]:
        try:
            with path.open("rb") as file:  # opened first: a rename meanwhile cannot mix two files up
                status = os.fstat(file.fileno())
                key = (status.st_dev, status.st_ino)
                present.add(key)
                head = os.pread(file.fileno(), _HEAD_BYTES, 0)
                known_head, offset = self._offsets.get(key, (b"", 0))
                if not head.startswith(known_head):
                    offset = 0  # another file under a reused inode number
                if self._since_ms is not None and offset == 0 and status.st_mtime * 1000 < self._since_ms:
                    self._offsets[key] = (head, status.st_size)  # nothing recent enough: skip it unread
                    return []
                if status.st_size <= offset:
                    return []
                file.seek(offset)
                data = file.read()
        except FileNotFoundError:  # pruned or rotated away meanwhile
            return []
        complete = data[: data.rfind(b"\n") + 1]  # a line being written is read at the next poll
        self._offsets[key] = (head, offset + len(complete))
        return list(self._parse(stream, complete))

    def _parse(self, stream: str, data: bytes) -> Iterator[LogEvent]:
        for line in data.splitlines():
            try:
                record = json.loads(line)
                event = LogEvent(int(record["timestamp"]), stream, str(record["message"]))
            except (ValueError, KeyError, TypeError):
                LOG.debug("log store: skipped a damaged line in %s", stream)
                continue
            if self._since_ms is not None and event.timestamp_ms < self._since_ms:
                continue
            if matches(self._terms, event.message):
                yield event


def _rotated(path: Path) -> Path:
    """A stream file's one rotated predecessor: `<stream>.1.jsonl` beside `<stream>.jsonl`."""
    return path.with_name(path.name[: -len(_SUFFIX)] + _ROTATED)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


# ---- pure policy: filter patterns and times ----------------------------------------------------------
def filter_terms(pattern: str | None) -> tuple[str, ...]:
    """CloudWatch Logs' simple filter pattern: space-separated terms that must all occur, case-sensitive;
    a double-quoted phrase is one term (Filter pattern syntax, "Matching terms in unstructured log
    events")."""
    if not pattern:
        return ()
    return tuple(phrase or word for phrase, word in _TERM.findall(pattern) if phrase or word)


def matches(terms: tuple[str, ...], message: str) -> bool:
    return all(term in message for term in terms)


def parse_since(text: str, *, now: float | None = None) -> int:
    """`--since` as epoch milliseconds: a relative time (`30s`, `10m`, `1h`, `2d`, `1w`, `1h30m`), or an
    ISO 8601 date/time (`2026-11-23T10:00`; UTC when it names no offset, as the printed times are)."""
    now = time.time() if now is None else now
    compact = text.strip().replace(" ", "")
    parts = _RELATIVE.findall(compact)
    if parts and "".join(f"{n}{u}" for n, u in parts).lower() == compact.lower().removesuffix("ago"):
        seconds = sum(int(n) * _UNIT_S[u[0].lower()] for n, u in parts)
        return int((now - seconds) * 1000)
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--since takes a relative time or an ISO 8601 time; got {text!r}.",
            hint="For example --since 10m, --since 2h, --since 2026-11-23T10:00 (UTC).",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def format_timestamp(timestamp_ms: int) -> str:
    """UTC with milliseconds, as Lambda's runtimes stamp their own lines."""
    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"
