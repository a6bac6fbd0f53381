"""Where each stream mapping is in each shard, kept in the state directory (`event-source-positions.json`):
the last sequence number processed, whether the shard is finished, and where a shard without a checkpoint
starts. A restart of serve resumes after each checkpoint, so nothing is skipped (at-least-once: a batch
cut short is handed again)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from lambda_emu.control.statefile import JsonStateFile

LOG = logging.getLogger(__name__)

POSITIONS_FILE = "event-source-positions.json"


class ShardPositions:
    """{mapping uuid: {"started": epoch s, "listed": bool, "shards": {shard id: {"after": seq | None,
    "from": position, "closed": bool}}}}, saved on each change (a shard's checkpoint after each batch)."""

    def __init__(self, state_dir: Path) -> None:
        self._file = JsonStateFile(
            state_dir / POSITIONS_FILE,
            "positions",
            holds="the stream event source mappings' positions",
            hint=f"Remove {state_dir / POSITIONS_FILE} to start every stream mapping again from its "
            "StartingPosition.",
        )

    def begin(self, mapping_id: str) -> dict[str, Any]:
        """The mapping's entry, made on its first poll: when it started, and whether its shards were
        listed yet (the shards of the first listing begin at the StartingPosition, later ones at their
        start, as a stream's new shards are read by Lambda from their first record)."""
        with self._file.lock:
            content = self._file.content()
            if mapping_id not in content:
                content[mapping_id] = {"started": time.time(), "listed": False, "shards": {}}
                self._file.save()
            entry = content[mapping_id]
            return {"started": float(entry["started"]), "listed": bool(entry.get("listed"))}

    def mark_listed(self, mapping_id: str) -> None:
        with self._file.lock:
            entry = self._file.content().get(mapping_id)
            if entry is not None:
                entry["listed"] = True
                self._file.save()

    def shard(self, mapping_id: str, shard_id: str) -> dict[str, Any] | None:
        with self._file.lock:
            entry = self._file.content().get(mapping_id) or {}
            found = (entry.get("shards") or {}).get(shard_id)
            return dict(found) if found else None

    def record(self, mapping_id: str, shard_id: str, **changes: Any) -> None:
        """Set a shard's `after` (checkpoint), `from` or `closed`, and save."""
        with self._file.lock:
            content = self._file.content()
            entry = content.setdefault(mapping_id, {"started": time.time(), "listed": False, "shards": {}})
            entry.setdefault("shards", {}).setdefault(shard_id, {"after": None, "closed": False}).update(
                changes
            )
            self._file.save()

    def forget(self, keep: set[str]) -> None:
        """Drop the positions of mappings that are gone (a new mapping starts from its StartingPosition)."""
        with self._file.lock:
            content = self._file.content()
            gone = [mapping_id for mapping_id in content if mapping_id not in keep]
            for mapping_id in gone:
                del content[mapping_id]
            if gone:
                self._file.save()
