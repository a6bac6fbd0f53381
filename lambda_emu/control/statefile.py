"""A small JSON document in the state directory that a store keeps in memory: read on first use, replaced
atomically on each change, so a crash leaves the old document or the new one, never half of one."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from lambda_emu.errors import ConfigError
from lambda_emu.statedir import replace_json

FORMAT_VERSION = 1


class JsonStateFile:
    """`{"version": 1, <key>: {...}}` at `path`. The store that owns it holds `lock` around `content()`, the
    change it makes in place, and `save()`: one change at a time, each written whole."""

    def __init__(self, path: Path, key: str, *, holds: str, hint: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._key = key
        self._holds = holds  # what the file holds, for the message when it cannot be read
        self._hint = hint
        self._content: dict[str, Any] | None = None

    def content(self) -> dict[str, Any]:
        """The mapping kept under the key (empty when there is no file yet), read on the first call and
        the same object after: callers change it in place, then `save()`."""
        if self._content is None:
            try:
                stored = json.loads(self.path.read_text())
            except FileNotFoundError:
                stored = {}
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"Cannot read {self._holds} from {self.path}: {exc}.", hint=self._hint
                ) from exc
            content = stored.get(self._key) if isinstance(stored, dict) else None
            self._content = content if isinstance(content, dict) else {}
        return self._content

    def save(self) -> None:
        """Write the content beside the file, flushed to disk, then rename it over the file."""
        replace_json(self.path, {"version": FORMAT_VERSION, self._key: self.content()})

    def drop(self, outer: str, inner: str) -> bool:
        """Under `lock`: remove content[outer][inner] (and `outer` once it is empty), saved; False when
        there was no such entry. The stores keyed by function, then qualifier, delete one so."""
        entries = self.content().get(outer, {})
        if entries.pop(inner, None) is None:
            return False
        if not entries:
            del self.content()[outer]
        self.save()
        return True
