"""The pollers' own lines (what was polled, each batch handed and how it ended, what was deleted or
discarded, the endpoint's errors), kept per event source mapping in the state directory's log store beside
the functions' logs: log group `/lambda-emu/event-source-mappings/<UUID>`, one stream a day, so
`lambda-emu logs <UUID>` prints them. Lambda keeps no such log of its pollers; the function's own log group
stays as CloudWatch has it. Every line also goes to lambda-emu's logger (`--debug` shows them live)."""

from __future__ import annotations

import datetime
import logging
import re

from lambda_emu.engine.logstore import LogStore

LOG = logging.getLogger("lambda_emu.event_sources")

GROUP_PREFIX = "/lambda-emu/event-source-mappings/"
# An event source mapping's UUID, as Lambda writes it (what `lambda-emu logs` takes for a mapping's name).
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def log_group(mapping_uuid: str) -> str:
    return GROUP_PREFIX + mapping_uuid


class MappingLog:
    """One mapping's lines: `info` and `warning` take a %-format and its arguments, as logging does."""

    def __init__(self, mapping_uuid: str, store: LogStore | None) -> None:
        self.uuid = mapping_uuid
        self._store = store

    def info(self, text: str, *args: object) -> None:
        self._write(logging.INFO, text, args)

    def warning(self, text: str, *args: object) -> None:
        self._write(logging.WARNING, text, args)

    def _write(self, level: int, text: str, args: tuple[object, ...]) -> None:
        LOG.log(level, "event source mapping %s: " + text, self.uuid, *args)
        if self._store is None:
            return
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d")
        try:
            self._store.append(
                log_group(self.uuid), f"{day}/poller", f"{logging.getLevelName(level)} {text % args}"
            )
        except OSError as exc:  # a full or read-only state directory must not stop the polling
            LOG.debug("event source mapping %s: its line was not kept: %s", self.uuid, exc)
