"""One shard of a stream mapping read in order: GetShardIterator from the checkpoint (or the mapping's
StartingPosition), GetRecords into batches, each handed to the function through event_sources.streams'
policy (and event_sources.windows' tumbling windows), with a checkpoint after each record finished."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lambda_emu import arns
from lambda_emu.event_sources.filters import matches_any, parse_filters
from lambda_emu.event_sources.journal import MappingLog
from lambda_emu.event_sources.mappings import EventSourceMapping
from lambda_emu.event_sources.positions import ShardPositions
from lambda_emu.event_sources.streams import (
    DYNAMODB,
    Attempt,
    Discarded,
    StreamArn,
    StreamPolicy,
    arrival_of,
    failure_record,
    filter_view,
    handle_batch,
    lanes,
    sequence_of,
    stream_event,
)
from lambda_emu.event_sources.windows import Window, split_at_window, state_of, window_event

# Invokes a function (name or name:qualifier) synchronously: (failed, payload); raises when it did not run.
InvokeBatch = Callable[[str, bytes], "tuple[bool, bytes]"]
# Sends an on-failure destination its record: (function name, destination ARN, record).
SendRecord = Callable[[str, str, Mapping[str, Any]], None]

POLL_PAUSE_S = 0.5  # between GetRecords calls that found nothing (Lambda polls a shard about once a second)
RETRY_PAUSE_S = 0.5  # before a batch is tried again, and after an endpoint error
MAX_ERROR_PAUSE_S = 5.0
# How long after a tumbling window's end its final invocation waits for the window's last records to be
# read (a record's arrival time is when the stream got it, a little before a reader can see it).
WINDOW_GRACE_S = 1.0


@dataclass(frozen=True)
class StreamParts:
    """What the shards of one stream mapping share: its configuration, the stream's client, the
    positions, the invoke and the on-failure sender; `stop` ends every shard, `rescan` says one finished."""

    mapping: EventSourceMapping
    source: StreamArn
    client: Any
    positions: ShardPositions
    invoke: InvokeBatch
    send: SendRecord
    stop: threading.Event
    rescan: threading.Event
    log: MappingLog


class ShardPoller:
    """Reads one shard in order until it is finished or the mapping stops."""

    def __init__(self, stream: StreamParts, shard_id: str) -> None:
        self._stream = stream
        self._mapping = stream.mapping
        self._source = stream.source
        self._client = stream.client
        self._stop = stream.stop
        self._log = stream.log
        self._shard_id = shard_id
        self._policy = StreamPolicy(
            max_retries=self._mapping.max_retries,
            max_age_s=self._mapping.max_record_age_s,
            bisect=self._mapping.bisect,
            reports_failures=self._mapping.reports_failures,
        )
        self._patterns = parse_filters(self._mapping.filter_criteria)
        # GetRecords takes at most 10,000 records a call from Kinesis, 1,000 from DynamoDB Streams.
        self._read_limit = 1_000 if self._source.kind == DYNAMODB else 10_000
        self._window_s = self._mapping.tumbling_window_s
        # ParallelizationFactor: lanes of partition keys handed at once, each batch of a lane up to
        # BatchSize. A tumbling window's state is one per shard, so a windowed mapping has one lane.
        self._lanes = 1 if self._window_s else self._mapping.parallelization
        self._read_size = self._mapping.batch_size * self._lanes
        self._window: Window | None = None  # the open tumbling window, with its state
        self._pending: list[dict[str, Any]] = []  # read, but of a later window than the batch handed
        self._role = f"arn:{arns.partition(self._source.region)}:iam::{self._source.account}:role/lambda-role"
        self._thread = threading.Thread(
            target=self._run, name=f"shard-poller-{self._mapping.uuid[:8]}-{shard_id[-8:]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        pause = RETRY_PAUSE_S
        while not self._stop.is_set():
            try:
                if self._poll():
                    self._log.info("shard %s is finished", self._shard_id)
                    return
            except Exception as exc:
                # The endpoint's trouble (an expired iterator too): resume from the checkpoint, backing
                # off so that an endpoint that is down is not asked twice a second.
                self._log.warning("shard %s: %s", self._shard_id, exc)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_ERROR_PAUSE_S)

    def _poll(self) -> bool:
        """Batches until the shard ends (True) or the mapping stops (False)."""
        iterator: str | None = self._iterator()
        self._pending = []
        if self._window_s:
            self._window = Window.loaded(self._position().get("window"))
        while not self._stop.is_set():
            batch, iterator = self._gather(iterator)
            if self._stop.is_set():
                return False  # a batch gathered but not handed comes again after the checkpoint
            if self._window_s:
                windowed = self._in_window(batch)
                if windowed is None:
                    return False
                batch = windowed
            if batch and not self._deliver(batch):
                return False
            if iterator is None and not self._pending:
                # "When a shard ends, Lambda considers the current window to be closed."
                if self._window is not None and not self._final(self._window):
                    return False
                self._stream.positions.record(self._mapping.uuid, self._shard_id, closed=True)
                self._stream.rescan.set()
                return True
        return False

    # ---- reading
    def _position(self) -> dict[str, Any]:
        return self._stream.positions.shard(self._mapping.uuid, self._shard_id) or {}

    def _iterator(self) -> str:
        position = self._position()
        request: dict[str, Any] = {"ShardId": self._shard_id}
        if self._source.kind == DYNAMODB:
            request["StreamArn"] = self._source.arn
        else:
            request["StreamName"] = self._source.name  # moto's iterators made from a StreamARN do not read
        start = position.get("from") or "TRIM_HORIZON"
        if position.get("after"):
            request["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            key = "SequenceNumber" if self._source.kind == DYNAMODB else "StartingSequenceNumber"
            request[key] = position["after"]
        elif start == "AT_TIMESTAMP":
            request.update(
                ShardIteratorType="AT_TIMESTAMP",
                Timestamp=self._timestamp(self._mapping.starting_position_timestamp),
            )
        elif start == "LATEST" and self._source.kind != DYNAMODB:
            # LATEST as of the mapping's creation, not of this start: records that came while serve
            # was down are not skipped.
            request.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self._timestamp(self._started()))
        else:  # DynamoDB's LATEST reads from the start, skipping what came before the mapping (_gather)
            request["ShardIteratorType"] = "TRIM_HORIZON"
        return str(self._client.get_shard_iterator(**request)["ShardIterator"])

    def _started(self) -> float:
        return self._stream.positions.begin(self._mapping.uuid)["started"]

    @staticmethod
    def _timestamp(seconds: float | None) -> datetime:
        return datetime.fromtimestamp(seconds or 0, tz=timezone.utc)

    def _skips_before(self) -> float | None:
        """For a LATEST shard without a checkpoint: records that reached the stream before the mapping was
        made are not its business. DynamoDB stamps records in whole seconds (a record of the mapping's
        second is handed: at least once rather than skipped); Kinesis in milliseconds, and AT_TIMESTAMP
        already leaves them out, but moto's iterator compares whole seconds."""
        position = self._position()
        if position.get("from") != "LATEST" or position.get("after"):
            return None
        started = self._started()
        return float(math.floor(started)) if self._source.kind == DYNAMODB else started

    def _gather(self, iterator: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Records up to BatchSize, waiting up to MaximumBatchingWindowInSeconds for more once the first
        came; the next iterator (None when the shard is finished)."""
        batch, self._pending = (
            self._pending[: self._read_size],
            self._pending[self._read_size :],
        )
        if batch:
            return batch, iterator
        deadline = time.monotonic() + self._mapping.window_s
        skip_before = self._skips_before()
        while iterator is not None and not self._stop.is_set():
            answer = self._client.get_records(
                ShardIterator=iterator, Limit=min(self._read_size - len(batch), self._read_limit)
            )
            records = answer.get("Records") or []
            iterator = answer.get("NextShardIterator")
            if skip_before is not None:
                records = [r for r in records if arrival_of(r) >= skip_before]
            batch.extend(records)
            if len(batch) >= self._read_size:
                break
            if batch and time.monotonic() >= deadline:
                break
            if not records:
                if (
                    not batch
                    and self._window is not None
                    and time.time() >= self._window.end + WINDOW_GRACE_S
                ):
                    break  # the open window is over: its final invocation comes next
                self._stop.wait(POLL_PAUSE_S if not batch else min(POLL_PAUSE_S, deadline - time.monotonic()))
        return batch, iterator

    # ---- tumbling windows
    def _in_window(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The batch's records of one window (the rest wait for the next batch), after the final invocation
        of a window that is over; None when the mapping stopped first."""
        window = self._window
        over = window is not None and (
            (batch and not window.holds(batch[0]))
            or (not batch and time.time() >= window.end + WINDOW_GRACE_S)
        )
        if window is not None and over:
            if not self._final(window):
                return None
            window = None
        if not batch:
            return []
        if window is None:
            window = self._window = Window.of(batch[0], self._window_s)
        current, later = split_at_window(batch, window)
        self._pending = later + self._pending
        return current

    def _final(self, window: Window) -> bool:
        """The window's final invocation (no records, its state), tried until it succeeds: "If the
        invocation fails, your Lambda function suspends further processing until a successful
        invocation"; False when the mapping stopped first."""
        event = window_event(
            {"Records": []}, window, shard_id=self._shard_id, source_arn=self._source.arn, final=True
        )
        while not self._stop.is_set():
            try:
                failed, _ = self._stream.invoke(self._mapping.function_name, json.dumps(event).encode())
            except Exception as exc:
                self._log.warning("shard %s, closing its window: invoke failed: %s", self._shard_id, exc)
                failed = True
            if not failed:
                self._window = None
                self._stream.positions.record(self._mapping.uuid, self._shard_id, window=None)
                return True
            self._stop.wait(RETRY_PAUSE_S)
        return False

    # ---- handing the function batches
    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        handed = batch
        if self._patterns:  # records no filter matches are passed over, as Lambda drops them
            handed = [
                r for r in batch if matches_any(self._patterns, filter_view(self._event([r])["Records"][0]))
            ]
        if self._lanes == 1:
            finished = self._handle(handed, self._checkpoint)
        else:
            finished = self._handle_lanes(lanes(handed, self._lanes))
        if finished:
            self._checkpoint(batch[-1])
        return finished

    def _handle(
        self, records: Sequence[Mapping[str, Any]], done: Callable[[Mapping[str, Any]], None]
    ) -> bool:
        """Hands records to the function in batches of BatchSize, in order; False when the mapping stopped."""
        size = self._mapping.batch_size
        for start in range(0, len(records), size):
            finished = handle_batch(
                records[start : start + size],
                self._policy,
                self._attempt,
                now=time.time,
                done=done,
                discard=self._discarded,
                pause=lambda counted: not self._stop.wait(RETRY_PAUSE_S),
            )
            if not finished:
                return False
        return True

    def _handle_lanes(self, split: Sequence[Sequence[Mapping[str, Any]]]) -> bool:
        """Each lane in a thread of its own, all at once; the shard's checkpoint moves once every lane is
        through (a lane's own progress is not a checkpoint: a lower record may be in another lane)."""
        results: dict[int, bool] = {}

        def run(index: int, lane: Sequence[Mapping[str, Any]]) -> None:
            results[index] = self._handle(lane, lambda record: None)

        threads = [
            threading.Thread(target=run, args=(i, lane), name=f"{threading.current_thread().name}-lane{i}")
            for i, lane in enumerate(split)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(1.0)
        return len(results) == len(split) and all(results.values())

    def _event(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return stream_event(records, self._source, shard_id=self._shard_id, role_arn=self._role)

    def _attempt(self, records: Sequence[Mapping[str, Any]]) -> Attempt:
        event = self._event(records)
        window = self._window
        if window is not None:
            event = window_event(
                event, window, shard_id=self._shard_id, source_arn=self._source.arn, final=False
            )
        try:
            failed, payload = self._stream.invoke(self._mapping.function_name, json.dumps(event).encode())
        except Exception as exc:  # throttled or gone: tried again, not counted as a retry
            self._log.warning("shard %s, batch of %d: invoke failed: %s", self._shard_id, len(records), exc)
            return Attempt(reached=False, error=str(exc))
        self._log.info(
            "shard %s, batch of %d from %s, %s",
            self._shard_id,
            len(records),
            sequence_of(records[0]),
            "function error" if failed else "ok",
        )
        if window is not None and not failed:
            state = state_of(payload)
            if state is None:
                # "If the response does not contain a state property, Lambda considers this a failed
                # invocation."
                self._log.warning("shard %s: the answer has no state for the window", self._shard_id)
                failed = True
            else:
                window.state = state
        return Attempt(reached=True, failed=failed, payload=payload, error="Unhandled" if failed else None)

    def _checkpoint(self, record: Mapping[str, Any]) -> None:
        # The window's state is kept with the checkpoint: a restart resumes the window where it was.
        window = {"window": self._window.stored()} if self._window is not None else {}
        self._stream.positions.record(self._mapping.uuid, self._shard_id, after=sequence_of(record), **window)

    def _discarded(self, discarded: Discarded) -> None:
        self._log.warning(
            "%d record(s) of shard %s from %s discarded (%s)",
            len(discarded.records),
            self._shard_id,
            sequence_of(discarded.records[0]),
            discarded.condition,
        )
        if self._mapping.on_failure:
            record = failure_record(
                discarded,
                self._source,
                shard_id=self._shard_id,
                function_arn=self._mapping.function_arn,
                executed_version=_version_of(self._mapping.function_arn),
                now=time.time(),
            )
            self._stream.send(_name_of(self._mapping.function_arn), self._mapping.on_failure, record)


def _name_of(function_arn: str) -> str:
    return function_arn.split(":")[6]


def _version_of(function_arn: str) -> str:
    parts = function_arn.split(":")
    return parts[7] if len(parts) > 7 and parts[7].isdigit() else "$LATEST"
