"""Leftover detection: only containers whose owning lambda-emu process is gone."""

from __future__ import annotations

import subprocess
import sys

from lambda_emu.cleanup import OWNER_LABEL, is_stale, owner_alive, owner_token


def test_this_process_is_alive() -> None:
    assert owner_alive(owner_token())
    assert not is_stale({OWNER_LABEL: owner_token()})


def test_a_finished_process_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = owner_token(child.pid)
    child.wait()
    assert not owner_alive(token)
    assert is_stale({OWNER_LABEL: token})


def test_a_reused_pid_with_another_start_time_is_dead() -> None:
    pid = owner_token().split(":")[0]
    assert is_stale({OWNER_LABEL: f"{pid}:1.000"})


def test_containers_without_an_owner_label_are_never_stale() -> None:
    # Containers inherit our images' labels: a user's own `docker run` of one is not ours to remove.
    assert not is_stale({"dev.lambda-emu": "1"})


def test_malformed_owner_label_is_stale() -> None:
    assert is_stale({OWNER_LABEL: "garbage"})
