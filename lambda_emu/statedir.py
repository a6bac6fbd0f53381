"""The state directory's files are the user's alone: the folder 0700 and every file 0600, whatever the
umask (they hold functions' environment values, event payloads and logs; other local users must not read
them). Every store creates its folder and files through these."""

from __future__ import annotations

import json
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` made (with its parents, each closed too) and closed to other users."""
    missing = []
    for folder in (path, *path.parents):  # up to the first that exists: no stat of every ancestor
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """A descriptor of `path`, created if missing, readable and writable by the user only."""
    private_dir(path.parent)
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode otherwise; the umask only removes bits
    except OSError:
        pass  # not ours (another user's state directory): what it is stays so
    return fd


def private_file(path: Path) -> Path:
    """`path` created (empty) if missing, and readable by the user only: before a database opens it (SQLite
    gives its journal and WAL files the database file's own mode)."""
    os.close(open_private(path, os.O_RDONLY))
    return path


def replace_json(path: Path, document: object, *, durable: bool = True) -> None:
    """`document` as JSON at `path`, private, replaced atomically: written beside it (flushed to disk when
    `durable`), then renamed over it, so a crash leaves the old file or the new one, never half of one."""
    staging = path.with_name(path.name + ".tmp")
    with os.fdopen(open_private(staging, os.O_WRONLY | os.O_TRUNC), "w") as file:
        json.dump(document, file)
        if durable:
            file.flush()
            os.fsync(file.fileno())
    os.replace(staging, path)
