"""The discovery file of a running `serve` (server.json in the state directory): written by the server,
read by terminal commands to find it. Light imports only: commands read it as they start."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from lambda_emu.cleanup import owner_alive, owner_token
from lambda_emu.statedir import replace_json

LOG = logging.getLogger(__name__)

DISCOVERY_FILE = "server.json"


def write_discovery(state_dir: Path, url: str, template: Path | None) -> None:
    """Record this process as the server of `template` at `url` (replaced atomically)."""
    path = state_dir / DISCOVERY_FILE
    record = {
        "pid": os.getpid(),
        "owner": owner_token(),  # pid and start time: a reused pid does not look like this server
        "url": url,
        "template": str(template.resolve()) if template else None,
    }
    replace_json(path, record, durable=False)  # a running server's address: nothing to keep after a crash


def remove_discovery(state_dir: Path) -> None:
    """Remove the discovery file if this process wrote it."""
    path = state_dir / DISCOVERY_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def find_server(state_dir: Path, template: Path | None) -> str | None:
    """The URL of a running `serve` of `template` that keeps its state in `state_dir`, else None."""
    try:
        record = json.loads((state_dir / DISCOVERY_FILE).read_text())
    except (OSError, ValueError):
        return None
    wanted = str(template.resolve()) if template else None
    if not isinstance(record, dict) or record.get("template") != wanted:
        return None
    owner = record.get("owner")
    if not isinstance(owner, str) or not owner_alive(owner):
        return None
    url = record.get("url")
    return url if isinstance(url, str) else None
