"""The state directory is the user's alone whatever the umask: every store's folder 0700, files 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu.async_invoke.queue import EventQueue
from lambda_emu.control.store import open_store
from lambda_emu.engine.logstore import LogStore
from lambda_emu.statedir import open_private, private_dir


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o000)  # the loosest umask: nothing may come out readable by others anyway
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_and_files_are_private_under_any_umask(tmp_path: Path, open_umask: None) -> None:
    folder = private_dir(tmp_path / "state" / "logs" / "fn")
    assert [_mode(p) for p in (tmp_path / "state", tmp_path / "state" / "logs", folder)] == [0o700] * 3
    os.close(open_private(folder / "a.log"))
    assert _mode(folder / "a.log") == 0o600
    loose = tmp_path / "state" / "old.json"
    loose.write_text("{}")
    os.chmod(loose, 0o644)  # a file of an earlier version: closed when next opened
    os.close(open_private(loose))
    assert _mode(loose) == 0o600


def test_every_store_of_the_state_directory_writes_private_files(tmp_path: Path, open_umask: None) -> None:
    state = tmp_path / "state"
    open_store(state)  # control.db and the vault's key
    queue = EventQueue(state / "events.sqlite3", functions=lambda: ["fn"])
    logs = LogStore.of_state_dir(state)
    try:
        logs.append("/aws/lambda/fn", "2026/12/03/[$LATEST]0123", "a line")
    finally:
        queue.close()
    found = [path for path in state.rglob("*")]
    assert found, "the stores wrote nothing"
    loose = [(str(p.relative_to(state)), oct(_mode(p))) for p in found if _mode(p) & 0o077]
    assert loose == []
    assert _mode(state) == 0o700
