"""The durable queue of accepted Event invocations: one SQLite file (WAL) under the state dir, so an
accepted event outlives a crash of the emulator. Delivery is at least once: an event claimed by a process
that died, or by a queue closed without finishing it, becomes due again."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lambda_emu import wire
from lambda_emu.async_invoke.retry import EventHistory, LastError
from lambda_emu.cleanup import owner_alive, owner_token
from lambda_emu.errors import ClosedError
from lambda_emu.statedir import private_file

LOG = logging.getLogger(__name__)

# A claim older than this is taken to be orphaned whatever its owner looks like: longer than the longest
# function timeout (15 min) plus the time to start an environment, with margin.
DEFAULT_STALE_AFTER = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function_name TEXT NOT NULL,
    qualifier TEXT,
    request_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    accepted_at REAL NOT NULL,
    due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    throttles INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_message TEXT,
    last_error_type TEXT,
    last_response BLOB,
    last_version TEXT,
    claimed_by TEXT,
    claimed_at REAL
);
CREATE INDEX IF NOT EXISTS events_due ON events (claimed_by, due_at);
"""

# Columns added after the first release, with their types: a queue file written by an older emulator
# gains them when opened (its events read NULL there, which is what they meant).
_ADDED_COLUMNS = {"qualifier": "TEXT"}

_COLUMNS = (
    "id, function_name, qualifier, request_id, payload, accepted_at, due_at, attempts, runs, throttles, "
    "last_status, last_message, last_error_type, last_response, last_version"
)

# Which functions a queue delivers: fixed names, or a source read at every claim (a server's registry,
# which the API and template reloads change while the queue runs).
FunctionScope = Collection[str] | Callable[[], Collection[str]]

# Queues open in this process, by owner token: a claim by this process whose queue is no longer open was
# left by a queue closed without finishing (what a crash looks like from inside one process).
_OPEN_OWNERS: set[str] = set()
_OPEN_LOCK = threading.Lock()


@dataclass(frozen=True)
class QueuedEvent:
    """An event as the queue holds it; `id` is the queue's own, `request_id` Lambda's."""

    id: int
    function_name: str
    qualifier: str | None  # the alias or version the caller invoked; None: unqualified ($LATEST)
    request_id: str
    payload: bytes
    accepted_at: float
    due_at: float
    history: EventHistory
    last_error: LastError | None = None


class EventQueue:
    """Thread-safe: one connection behind a lock (each operation is a short transaction)."""

    def __init__(
        self,
        path: Path,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        functions: FunctionScope | None = None,
    ) -> None:
        self.path = Path(path)
        self.functions = functions
        private_file(self.path)
        self.stale_after = stale_after
        # "<pid>:<process start time>:<queue>": the process (cleanup.owner_token, safe against pid reuse),
        # and which of its queues.
        self._owner = f"{owner_token()}:{uuid.uuid4().hex}"
        self._lock = threading.Lock()
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), so a claim is one atomic
        # read-and-write even against another process sharing the file.
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the 202 of an Event invocation promises the event is kept, so its row is on disk first.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        with _OPEN_LOCK:
            _OPEN_OWNERS.add(self._owner)
        released = self.recover()
        if released:
            LOG.info("%d event(s) left in flight by an earlier run are due again", released)

    @property
    def functions(self) -> tuple[str, ...] | None:
        """The functions this queue delivers (None: all). Events of others stay on disk for the process
        that knows them: a terminal invoke must not take (and drop) a server's events."""
        source = self._functions
        if source is None:
            return None
        return tuple(sorted(source() if callable(source) else source))

    @functions.setter
    def functions(self, scope: FunctionScope | None) -> None:
        self._functions = scope if scope is None or callable(scope) else tuple(scope)

    def _migrate(self) -> None:
        # In one write transaction: two processes opening an old file at once must not both add a column.
        with self._transaction() as db:
            present = {row[1] for row in db.execute("PRAGMA table_info(events)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
                    LOG.info("event queue %s: added column %s", self.path, column)

    # ---- lifecycle
    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        with _OPEN_LOCK:
            _OPEN_OWNERS.discard(self._owner)

    def __enter__(self) -> EventQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing
    def put(
        self,
        function_name: str,
        request_id: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        now: float | None = None,
    ) -> int:
        """Keep an accepted event, due at once; returns its queue id once it is on disk."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO events (function_name, qualifier, request_id, payload, accepted_at, due_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (function_name, qualifier, request_id, bytes(payload), now, now),
            )
            return int(cursor.lastrowid or 0)

    def claim_due(self, now: float) -> QueuedEvent | None:
        """The earliest due event, now claimed by this queue; None when nothing is due."""
        scope, names = self._scope()  # before the queue's lock: a registry's scope takes the store's lock
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE ((claimed_by IS NULL AND due_at <= ?) "
                f"OR (claimed_by IS NOT NULL AND claimed_at < ?)){scope} ORDER BY due_at, id LIMIT 1",
                (now, now - self.stale_after, *names),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE events SET claimed_by = ?, claimed_at = ? WHERE id = ?", (self._owner, now, row[0])
            )
            return _event(row)

    def finish(self, event_id: int) -> bool:
        """Remove a claimed event for good. False if this queue no longer holds its claim."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM events WHERE id = ? AND claimed_by = ?", (event_id, self._owner))
            return cursor.rowcount == 1

    def reschedule(
        self, event_id: int, due_at: float, history: EventHistory, error: LastError | None = None
    ) -> bool:
        """Release a claimed event, due again at `due_at`, with its history and last error."""
        error_columns = (
            (error.status, error.message, error.error_type, error.response, error.executed_version)
            if error
            else (None, None, None, None, None)
        )
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE events SET due_at = ?, attempts = ?, runs = ?, throttles = ?, last_status = ?, "
                "last_message = ?, last_error_type = ?, last_response = ?, last_version = ?, "
                "claimed_by = NULL, claimed_at = NULL WHERE id = ? AND claimed_by = ?",
                (
                    due_at,
                    history.attempts,
                    history.runs,
                    history.throttles,
                    *error_columns,
                    event_id,
                    self._owner,
                ),
            )
            return cursor.rowcount == 1

    def discard(self, function_name: str) -> int:
        """Drop every event of a deleted function, claimed ones too (their attempt's claim is gone, so it
        neither finishes nor reschedules them); returns how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM events WHERE function_name = ?", (function_name,)).rowcount

    def recover(self) -> int:
        """Release the claims of owners that are gone: a dead process, or a queue of this process that
        was closed without finishing its events. Returns how many events are due again."""
        with self._transaction() as db:
            owners = [
                row[0]
                for row in db.execute("SELECT DISTINCT claimed_by FROM events WHERE claimed_by IS NOT NULL")
            ]
            gone = [owner for owner in owners if not _owner_alive(owner)]
            released = 0
            for owner in gone:
                cursor = db.execute(
                    "UPDATE events SET claimed_by = NULL, claimed_at = NULL WHERE claimed_by = ?", (owner,)
                )
                released += cursor.rowcount
            return released

    # ---- reading
    def next_due(self) -> float | None:
        """When the earliest unclaimed event is due (it may be in the past)."""
        scope, names = self._scope()
        with self._lock:
            row = (
                self._conn()
                .execute(f"SELECT MIN(due_at) FROM events WHERE claimed_by IS NULL{scope}", names)
                .fetchone()
            )
        return None if row is None or row[0] is None else float(row[0])

    def pending(self, function_name: str | None = None) -> int:
        """Events not yet finished (claimed ones included)."""
        args: tuple[str, ...]
        if function_name is not None:
            query, args = "SELECT COUNT(*) FROM events WHERE function_name = ?", (function_name,)
        else:
            scope, args = self._scope()
            query = "SELECT COUNT(*) FROM events WHERE 1 = 1" + scope
        with self._lock:
            return int(self._conn().execute(query, args).fetchone()[0])

    def counts(self) -> dict[str, int]:
        """Pending events per function."""
        with self._lock:
            rows = self._conn().execute("SELECT function_name, COUNT(*) FROM events GROUP BY function_name")
            return {name: int(count) for name, count in rows}

    # ---- plumbing
    def _scope(self) -> tuple[str, tuple[str, ...]]:
        """SQL restricting a query to this queue's functions, and its arguments."""
        functions = self.functions
        if functions is None:
            return "", ()
        return f" AND function_name IN ({', '.join('?' * len(functions))})", functions

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ClosedError(f"the event queue {self.path} is closed")
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _event(row: tuple) -> QueuedEvent:  # type: ignore[type-arg]
    (event_id, name, qualifier, request_id, payload, accepted, due, attempts, runs, throttles) = row[:10]
    status, message, error_type, response, version = row[10:]
    error = None
    if status is not None:
        error = LastError(int(status), message or "", error_type, response, version or wire.LATEST)
    history = EventHistory(float(accepted), int(attempts), int(runs), int(throttles))
    return QueuedEvent(
        int(event_id),
        name,
        qualifier,
        request_id,
        bytes(payload),
        float(accepted),
        float(due),
        history,
        error,
    )


def _owner_alive(owner: str) -> bool:
    process, _, _queue = owner.rpartition(":")
    if process == owner_token():
        with _OPEN_LOCK:
            return owner in _OPEN_OWNERS
    return owner_alive(process)
    return True
