"""The shard pollers (event_sources.stream_pollers) over a fake Kinesis client standing in for AwsClients'
boto3 client: a parent shard read before its child, each shard in order, checkpoints kept so that a new
poller over the same state directory resumes after them, records no filter matches passed over."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lambda_emu.engine.logstore import LogStore
from lambda_emu.event_sources.journal import MappingLog, log_group
from lambda_emu.event_sources.mappings import EventSourceMapping
from lambda_emu.event_sources.positions import ShardPositions
from lambda_emu.event_sources.stream_pollers import StreamPoller

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s"


class FakeKinesis:
    """Shards of records; a closed shard's iterator ends after its last record."""

    def __init__(self) -> None:
        self.shards: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def add(
        self, shard_id: str, numbers: list[int], *, parent: str | None = None, closed: bool = False
    ) -> None:
        with self.lock:
            self.shards[shard_id] = {"records": [], "parent": parent, "closed": closed}
        self.put(shard_id, numbers)

    def put(
        self,
        shard_id: str,
        numbers: list[int],
        at: float | None = None,
        key: Callable[[int], str] = lambda n: "k",
    ) -> None:
        with self.lock:
            for n in numbers:
                arrival = datetime.fromtimestamp(at, tz=timezone.utc) if at else datetime.now(tz=timezone.utc)
                self.shards[shard_id]["records"].append(
                    {
                        "SequenceNumber": str(1000 + n),
                        "ApproximateArrivalTimestamp": arrival,
                        "Data": json.dumps({"n": n, "kind": "odd" if n % 2 else "even"}).encode(),
                        "PartitionKey": key(n),
                    }
                )

    def list_shards(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            return {
                "Shards": [
                    {"ShardId": sid, **({"ParentShardId": s["parent"]} if s["parent"] else {})}
                    for sid, s in self.shards.items()
                ]
            }

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        records = self.shards[request["ShardId"]]["records"]
        kind = request["ShardIteratorType"]
        if kind == "AFTER_SEQUENCE_NUMBER":
            after = int(request["StartingSequenceNumber"])
            index = sum(1 for r in records if int(r["SequenceNumber"]) <= after)
        else:
            assert kind == "TRIM_HORIZON"
            index = 0
        return {"ShardIterator": f"{request['ShardId']}|{index}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        shard_id, index = ShardIterator.split("|")
        with self.lock:
            shard = self.shards[shard_id]
            records = shard["records"][int(index) : int(index) + Limit]
            end = int(index) + len(records)
            finished = shard["closed"] and end >= len(shard["records"])
        return {"Records": records, "NextShardIterator": None if finished else f"{shard_id}|{end}"}


class FakeClients:
    def __init__(self, client: FakeKinesis) -> None:
        self._client = client

    def client(self, service: str, region: str) -> FakeKinesis:
        assert (service, region) == ("kinesis", "us-east-1")
        return self._client


def mapping(**changes: Any) -> EventSourceMapping:
    fields: dict[str, Any] = {
        "uuid": "m-1",
        "event_source_arn": ARN,
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "function_name": "f",
        "batch_size": 2,
        "starting_position": "TRIM_HORIZON",
        **changes,
    }
    return EventSourceMapping(**fields)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def poll(
    state: Path,
    kinesis: FakeKinesis,
    until: Callable[[list[list[int]]], bool],
    events: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> list[list[int]]:
    """Runs a StreamPoller until `until(batches handed)`; the batches, as lists of record numbers (and
    each event in `events`). A windowed event's answer adds its records' numbers to the state's sum."""
    handed: list[list[int]] = []

    def invoke(name: str, payload: bytes) -> tuple[bool, bytes]:
        event = json.loads(payload)
        numbers = [int(r["kinesis"]["sequenceNumber"]) - 1000 for r in event["Records"]]
        if events is not None:
            events.append(event)
        handed.append(numbers)
        if "window" in event:
            return False, json.dumps({"state": {"sum": event["state"].get("sum", 0) + sum(numbers)}}).encode()
        return False, b"null"

    positions = ShardPositions(state)
    log = MappingLog("m-1", LogStore(state / "logs"))
    poller = StreamPoller(mapping(**changes), FakeClients(kinesis), invoke, positions, lambda *a: None, log)  # type: ignore[arg-type]
    poller.start()
    try:
        assert wait_until(lambda: until(handed)), handed
    finally:
        poller.stop()
        poller.join(10)
    return handed


def test_a_parent_shard_is_read_before_its_child_each_in_order_in_batches(tmp_path: Path) -> None:
    kinesis = FakeKinesis()
    kinesis.add("shardId-child", [4, 5, 6], parent="shardId-parent")
    kinesis.add("shardId-parent", [0, 1, 2, 3], closed=True)
    handed = poll(tmp_path, kinesis, lambda h: sum(map(len, h)) >= 7)
    assert handed == [[0, 1], [2, 3], [4, 5], [6]]
    positions = ShardPositions(tmp_path)
    assert positions.shard("m-1", "shardId-parent") == {
        "after": "1003",
        "closed": True,
        "from": "TRIM_HORIZON",
    }
    assert positions.shard("m-1", "shardId-child") == {
        "after": "1006",
        "closed": False,
        "from": "TRIM_HORIZON",
    }


def test_the_pollers_own_lines_are_kept_in_the_mappings_log_group(tmp_path: Path) -> None:
    kinesis = FakeKinesis()
    kinesis.add("shardId-parent", [0, 1, 2], closed=True)
    poll(tmp_path, kinesis, lambda h: sum(map(len, h)) >= 3)
    messages = [event.message for event in LogStore(tmp_path / "logs").tail(log_group("m-1")).poll()]
    assert messages[0] == f"INFO polling {ARN} for f"
    assert "INFO shard shardId-parent, batch of 2 from 1000, ok" in messages
    assert "INFO shard shardId-parent, batch of 1 from 1002, ok" in messages


def test_a_new_poller_resumes_after_the_checkpoint(tmp_path: Path) -> None:
    kinesis = FakeKinesis()
    kinesis.add("shardId-0", [0, 1, 2])
    assert poll(tmp_path, kinesis, lambda h: sum(map(len, h)) >= 3) == [[0, 1], [2]]
    kinesis.put("shardId-0", [3, 4])
    assert poll(tmp_path, kinesis, lambda h: sum(map(len, h)) >= 2) == [[3, 4]]


def test_records_no_filter_matches_are_passed_over_and_checkpointed(tmp_path: Path) -> None:
    kinesis = FakeKinesis()
    kinesis.add("shardId-0", [0, 1, 2, 3, 4, 5])
    pattern = json.dumps({"data": {"kind": ["odd"]}})
    handed = poll(
        tmp_path,
        kinesis,
        lambda h: (
            ShardPositions(tmp_path).shard("m-1", "shardId-0")
            == {
                "after": "1005",
                "closed": False,
                "from": "TRIM_HORIZON",
            }
        ),
        filter_criteria={"Filters": [{"Pattern": pattern}]},
    )
    assert [n for batch in handed for n in batch] == [1, 3, 5]


def test_a_tumbling_window_carries_its_state_and_ends_with_a_final_invocation(tmp_path: Path) -> None:
    kinesis = FakeKinesis()
    kinesis.add("shardId-0", [])
    kinesis.put("shardId-0", [1, 2], at=100.0)  # the window [100, 110)
    kinesis.put("shardId-0", [3], at=104.0)
    kinesis.put("shardId-0", [4], at=112.0)  # the window [110, 120)
    events: list[dict[str, Any]] = []
    poll(
        tmp_path,
        kinesis,
        lambda h: sum(1 for e in events if e["isFinalInvokeForWindow"]) >= 2,
        events,
        tumbling_window_s=10,
    )
    summary = [
        (e["window"]["start"], [int(r["kinesis"]["sequenceNumber"]) - 1000 for r in e["Records"]], e["state"])
        for e in events
    ]
    assert summary == [
        ("1970-01-01T00:01:40Z", [1, 2], {}),
        ("1970-01-01T00:01:40Z", [3], {"sum": 3}),
        ("1970-01-01T00:01:40Z", [], {"sum": 6}),  # the final invocation: no records, the final state
        ("1970-01-01T00:01:50Z", [4], {}),
        ("1970-01-01T00:01:50Z", [], {"sum": 4}),
    ]
    assert [e["isFinalInvokeForWindow"] for e in events] == [False, False, True, False, True]
    assert events[0]["window"]["end"] == "1970-01-01T00:01:50Z"
    assert (events[0]["shardId"], events[0]["eventSourceARN"], events[0]["isWindowTerminatedEarly"]) == (
        "shardId-0",
        ARN,
        False,
    )
    assert ShardPositions(tmp_path).shard("m-1", "shardId-0") == {
        "after": "1004",
        "closed": False,
        "from": "TRIM_HORIZON",
        "window": None,
    }


def test_a_parallelization_factor_hands_partition_keys_at_once_each_in_order(tmp_path: Path) -> None:
    kinesis = FakeKinesis()
    kinesis.add("shardId-0", [])
    kinesis.put("shardId-0", list(range(8)), key=lambda n: "a" if n % 2 else "d")  # two lanes of two
    together = threading.Barrier(2, timeout=10)
    met: list[bool] = []
    handed: list[list[int]] = []

    def invoke(name: str, payload: bytes) -> tuple[bool, bytes]:
        numbers = [int(r["kinesis"]["sequenceNumber"]) - 1000 for r in json.loads(payload)["Records"]]
        if numbers[0] in (0, 1):  # the first batch of each lane waits for the other's: they run at once
            together.wait()
            met.append(True)
        handed.append(numbers)
        return False, b"null"

    positions = ShardPositions(tmp_path)
    poller = StreamPoller(
        mapping(parallelization=2),
        FakeClients(kinesis),
        invoke,
        positions,
        lambda *a: None,  # type: ignore[arg-type]
        MappingLog("m-1", None),
    )
    poller.start()
    try:
        assert wait_until(
            lambda: sum(map(len, handed)) >= 8 and positions.shard("m-1", "shardId-0")["after"] == "1007"
        )  # type: ignore[index]
    finally:
        poller.stop()
        poller.join(10)
    assert met == [True, True]
    assert sorted(map(tuple, handed)) == [(0, 2), (1, 3), (4, 6), (5, 7)]
    odd = [n for batch in handed for n in batch if n % 2]
    assert odd == sorted(odd), "one partition key's records stay in order"
