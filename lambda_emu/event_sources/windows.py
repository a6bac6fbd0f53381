"""Tumbling windows of a stream mapping ("Implementing stateful Kinesis Data Streams processing"): each record
belongs to the window of its arrival time (windows of TumblingWindowInSeconds, aligned on the epoch), the
function's answer carries the window's state from one batch to the next, and a last invocation with
`isFinalInvokeForWindow` hands the final state. Pure: the shard pollers keep the window and invoke."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from lambda_emu import wire
from lambda_emu.event_sources.streams import arrival_of

LOG = logging.getLogger(__name__)

Record = TypeVar("Record", bound=Mapping[str, Any])


@dataclass
class Window:
    """An open window of one shard: [start, end) in epoch seconds, and the state the function returned."""

    start: float
    end: float
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, record: Mapping[str, Any], size_s: int) -> Window:
        start = math.floor(arrival_of(record) / size_s) * size_s
        return cls(float(start), float(start + size_s))

    def holds(self, record: Mapping[str, Any]) -> bool:
        return self.start <= arrival_of(record) < self.end

    def stored(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "state": self.state}

    @classmethod
    def loaded(cls, stored: Mapping[str, Any] | None) -> Window | None:
        if not stored:
            return None
        return cls(float(stored["start"]), float(stored["end"]), dict(stored.get("state") or {}))


def split_at_window(records: Sequence[Record], window: Window) -> tuple[list[Record], list[Record]]:
    """The records of `window` at the front of the batch, and the rest (a later window's): a batch never
    crosses a window's end."""
    count = 0
    for record in records:
        if not window.holds(record):
            break
        count += 1
    return list(records[:count]), list(records[count:])


def window_event(
    event: Mapping[str, Any], window: Window, *, shard_id: str, source_arn: str, final: bool
) -> dict[str, Any]:
    """A stream event with the window's fields: `window` (start, end), `state`, `shardId`, the source's ARN
    and whether this is the window's final invocation."""
    return {
        **event,
        "window": {"start": _iso(window.start), "end": _iso(window.end)},
        "state": dict(window.state),
        "shardId": shard_id,
        "eventSourceARN": source_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def state_of(payload: bytes) -> dict[str, Any] | None:
    """The `state` of a TimeWindowEventResponse; None when the answer has none, which Lambda treats as a
    failed invocation."""
    try:
        answer = wire.loads_json(payload) if payload.strip() else None
    except ValueError:
        return None
    state = answer.get("state") if isinstance(answer, dict) else None
    return dict(state) if isinstance(state, dict) else None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
