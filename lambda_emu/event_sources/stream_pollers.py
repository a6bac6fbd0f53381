"""Kinesis and DynamoDB Streams mappings at work: a thread per mapping that lists the stream's shards, and a
thread per shard (event_sources.shards) that reads it in order, starting a child shard once its parents
are finished."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lambda_emu.aws_clients import AwsClients
from lambda_emu.event_sources.journal import MappingLog
from lambda_emu.event_sources.mappings import EventSourceMapping
from lambda_emu.event_sources.positions import ShardPositions
from lambda_emu.event_sources.shards import InvokeBatch, SendRecord, ShardPoller, StreamParts
from lambda_emu.event_sources.streams import DYNAMODB, StreamArn
from lambda_emu.template.event_sources import LATEST_STREAM_LABEL

SHARD_SCAN_S = 5.0  # how often a stream is listed again for new shards (resharding)
SERVICE = {"kinesis": "kinesis", DYNAMODB: "dynamodbstreams"}


class StreamPoller:
    """One stream mapping: its shards, each polled by a ShardPoller once its parent shards are finished."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        clients: AwsClients,
        invoke: InvokeBatch,
        positions: ShardPositions,
        send: SendRecord,
        log: MappingLog,
    ) -> None:
        source = StreamArn.parse(mapping.event_source_arn)
        assert source is not None
        self.mapping = mapping
        self._source = source
        self._client = clients.client(SERVICE[source.kind], source.region)
        self._invoke = invoke
        self._positions = positions
        self._send = send
        self._log = log
        self._stop = threading.Event()
        self._rescan = threading.Event()  # a shard finished: its children may start now
        self._parts = StreamParts(
            mapping, source, self._client, positions, invoke, send, self._stop, self._rescan, log
        )
        self._shards: dict[str, ShardPoller] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"stream-poller-{mapping.uuid[:8]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._rescan.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        self._log.info("polling %s for %s", self.mapping.event_source_arn, self.mapping.function_name)
        entry = self._positions.begin(self.mapping.uuid)
        if self._source.kind == DYNAMODB and self._source.arn.endswith(f"/stream/{LATEST_STREAM_LABEL}"):
            if not self._find_latest_stream():
                return
        while not self._stop.is_set():
            try:
                shards = self._list_shards()
            except Exception as exc:
                # The endpoint's trouble (or no such stream): keep trying, as Lambda's poller does.
                self._log.warning("listing shards: %s", exc)
                self._stop.wait(SHARD_SCAN_S)
                continue
            for shard in shards:
                if self._positions.shard(self.mapping.uuid, shard["ShardId"]) is None:
                    first = entry["listed"] is False
                    start = self.mapping.starting_position if first else "TRIM_HORIZON"
                    self._positions.record(self.mapping.uuid, shard["ShardId"], **{"from": start})
            if not entry["listed"]:
                self._positions.mark_listed(self.mapping.uuid)
                entry["listed"] = True
            self._start_ready(shards)
            self._rescan.wait(SHARD_SCAN_S)
            self._rescan.clear()
        for poller in self._shards.values():
            poller.join(10.0)

    def _find_latest_stream(self) -> bool:
        """The table's latest stream in place of the template's `!GetAtt Table.StreamArn` (a label only the
        table knows); False when the mapping stopped first."""
        while not self._stop.is_set():
            try:
                streams = self._client.list_streams(TableName=self._source.name).get("Streams") or []
            except Exception as exc:
                self._log.warning("listing streams: %s", exc)
                streams = []
            found = [parsed for s in streams if (parsed := StreamArn.parse(str(s.get("StreamArn"))))]
            if found:
                self._source = max(found, key=lambda source: source.arn)  # labels are creation times
                self._parts = replace(self._parts, source=self._source)
                self._log.info("reads %s", self._source.arn)
                return True
            self._log.warning("table %s has no stream yet", self._source.name)
            self._stop.wait(SHARD_SCAN_S)
        return False

    def _start_ready(self, shards: Sequence[Mapping[str, Any]]) -> None:
        """A ShardPoller for each shard not finished whose parents are (records of one key stay in order
        across a reshard: "Lambda processes the parent shard before the child")."""
        listed = {shard["ShardId"] for shard in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._shards:
                continue
            position = self._positions.shard(self.mapping.uuid, shard_id) or {}
            if position.get("closed"):
                continue
            parents = [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")]
            if any(p and p in listed and not self._finished(p) for p in parents):
                continue
            poller = ShardPoller(self._parts, shard_id)
            self._shards[shard_id] = poller
            poller.start()

    def _finished(self, shard_id: str) -> bool:
        return bool((self._positions.shard(self.mapping.uuid, shard_id) or {}).get("closed"))

    def _list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        if self._source.kind == DYNAMODB:
            request: dict[str, Any] = {"StreamArn": self._source.arn}
            while True:
                answer = self._client.describe_stream(**request)["StreamDescription"]
                shards.extend(answer.get("Shards") or [])
                if not answer.get("LastEvaluatedShardId"):
                    return shards
                request["ExclusiveStartShardId"] = answer["LastEvaluatedShardId"]
        token = None
        while True:
            page = (
                self._client.list_shards(NextToken=token)
                if token
                else self._client.list_shards(StreamName=self._source.name)
            )
            shards.extend(page.get("Shards") or [])
            token = page.get("NextToken")
            if not token:
                return shards
