"""The log store: CloudWatch-like groups and streams on disk, filters, --since, tailing and bounds."""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

import pytest

from lambda_emu.config import FunctionConfig, log_group_name, log_stream_name
from lambda_emu.engine.logstore import LogStore, filter_terms, format_timestamp, matches, parse_since
from lambda_emu.engine.logstream import LogOrigin, close_sink, tee
from lambda_emu.errors import ConfigError

STREAM_A = "2026/11/23/[$LATEST]" + "a" * 32
STREAM_B = "2026/11/23/[$LATEST]" + "b" * 32
GROUP = "/aws/lambda/Fn"


def test_group_and_stream_names_are_lambdas() -> None:
    assert (
        log_group_name("Fn")
        == "/aws/lambda/Fn"
        == FunctionConfig("Fn", "python3.11", "a.b", Path(".")).log_group_name
    )
    name = log_stream_name("2026/11/23", "$LATEST", "0123456789abcdef" * 2)
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", name)


def test_a_sinks_lines_become_events_of_its_stream_in_the_groups_folder(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    sink = store.sink(LogOrigin("Fn", GROUP, STREAM_A))
    sink("START RequestId: r1 Version: $LATEST\n")
    sink("hello\n")
    stored = tmp_path / "aws" / "lambda" / "Fn" / (STREAM_A + ".jsonl")
    records = [json.loads(line) for line in stored.read_text().splitlines()]
    assert [r["message"] for r in records] == ["START RequestId: r1 Version: $LATEST", "hello"]
    assert all(isinstance(r["timestamp"], int) and r["timestamp"] > 1_700_000_000_000 for r in records)
    assert store.groups() == [GROUP]
    assert store.streams(GROUP) == [STREAM_A]
    assert [(e.stream, e.message) for e in store.events(GROUP)] == [
        (STREAM_A, "START RequestId: r1 Version: $LATEST"),
        (STREAM_A, "hello"),
    ]
    store.close()


def test_events_of_every_stream_come_oldest_first(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append(GROUP, STREAM_A, "a1", 1000)
    store.append(GROUP, STREAM_B, "b1", 1500)
    store.append(GROUP, STREAM_A, "a2", 2000)
    assert [e.message for e in store.events(GROUP)] == ["a1", "b1", "a2"]
    assert not store.has_group("/aws/lambda/Other")
    assert store.events("/aws/lambda/Other") == []


def test_since_drops_older_events(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    now_ms = int(datetime.datetime.now().timestamp() * 1000)
    store.append(GROUP, STREAM_A, "old", now_ms - 3_600_000)
    store.append(GROUP, STREAM_A, "new", now_ms)
    assert [e.message for e in store.events(GROUP, since_ms=now_ms - 60_000)] == ["new"]


def test_a_stream_untouched_since_before_since_is_skipped_unread(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append(GROUP, STREAM_A, "ancient", 1000)
    store.close()
    path = store.stream_path(GROUP, STREAM_A)
    os.utime(path, (1, 1))
    path.write_bytes(b"not json at all, never read\n")  # would be skipped as damaged anyway
    os.utime(path, (1, 1))
    assert store.events(GROUP, since_ms=10_000) == []


def test_filter_takes_cloudwatch_terms(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    for message in ["[ERROR] timeout in handler", "[INFO] timeout", "ERROR elsewhere", "a b c"]:
        store.append(GROUP, STREAM_A, message)
    assert [e.message for e in store.events(GROUP, pattern="ERROR timeout")] == ["[ERROR] timeout in handler"]
    assert [e.message for e in store.events(GROUP, pattern='"ERROR elsewhere"')] == ["ERROR elsewhere"]
    assert store.events(GROUP, pattern="error") == []  # case-sensitive, as CloudWatch's terms are
    assert filter_terms('x "a b" y') == ("x", "a b", "y")
    assert matches((), "anything")


def test_a_tail_returns_only_what_was_written_since_its_last_poll(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append(GROUP, STREAM_A, "first", 1000)
    tail = store.tail(GROUP)
    assert [e.message for e in tail.poll()] == ["first"]
    assert tail.poll() == []
    store.append(GROUP, STREAM_A, "second", 2000)
    store.append(GROUP, STREAM_B, "other stream", 3000)
    assert [e.message for e in tail.poll()] == ["second", "other stream"]


def test_a_tail_leaves_a_half_written_line_for_the_next_poll(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    path = store.stream_path(GROUP, STREAM_A)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"timestamp": 1, "message": "whole"}\n{"timestamp": 2, "mess')
    tail = store.tail(GROUP)
    assert [e.message for e in tail.poll()] == ["whole"]
    with path.open("ab") as file:
        file.write(b'age": "finished"}\n')
    assert [e.message for e in tail.poll()] == ["finished"]


def test_a_full_stream_rotates_and_keeps_one_older_file(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_stream_bytes=200)
    for n in range(12):
        store.append(GROUP, STREAM_A, f"line {n:02d}", 1000 + n)
    files = sorted(p.name for p in store.stream_path(GROUP, STREAM_A).parent.iterdir())
    assert files == [f"[$LATEST]{'a' * 32}.1.jsonl", f"[$LATEST]{'a' * 32}.jsonl"]
    assert all(p.stat().st_size <= 200 for p in store.stream_path(GROUP, STREAM_A).parent.iterdir())
    messages = [e.message for e in store.events(GROUP)]
    assert messages == sorted(messages) and messages[-1] == "line 11" and len(messages) < 12
    assert store.streams(GROUP) == [STREAM_A]


def test_a_tail_reads_what_rotated_away_between_polls(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_stream_bytes=120)
    store.append(GROUP, STREAM_A, "one", 1)
    tail = store.tail(GROUP)
    assert [e.message for e in tail.poll()] == ["one"]
    store.append(GROUP, STREAM_A, "two", 2)  # still fits
    store.append(GROUP, STREAM_A, "three", 3)  # rotates: "one" and "two" move to the .1 file
    assert [e.message for e in tail.poll()] == ["two", "three"]


def test_a_new_stream_prunes_the_groups_oldest_beyond_the_limit(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_streams=3)
    streams = [f"2026/11/23/[$LATEST]{n:032x}" for n in range(5)]
    for age, stream in enumerate(streams):
        store.append(GROUP, stream, "x")
        os.utime(store.stream_path(GROUP, stream), (1000 + age, 1000 + age))
    assert store.streams(GROUP) == streams[2:]
    store.append("/aws/lambda/Other", streams[0], "y")  # other groups are counted apart
    assert store.streams(GROUP) == streams[2:]
    assert store.groups() == ["/aws/lambda/Fn", "/aws/lambda/Other"]


def test_writes_go_on_after_many_streams_closed_their_files(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_streams=100)
    streams = [f"2026/11/23/[$LATEST]{n:032x}" for n in range(40)]  # more than the open-file bound
    for stream in streams:
        store.append(GROUP, stream, "first")
    for stream in streams:
        store.append(GROUP, stream, "second")
    assert len(store.events(GROUP)) == 80
    store.close()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("10min", 600),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        ("1h30m", 5400),
    ],
)
def test_since_takes_relative_times(text: str, seconds: int) -> None:
    assert parse_since(text, now=10_000_000.0) == (10_000_000 - seconds) * 1000


def test_since_takes_iso_times_in_utc_unless_an_offset_is_given() -> None:
    assert parse_since("2026-11-23T10:00") == parse_since("2026-11-23T10:00:00Z")
    assert parse_since("2026-11-23T10:00+01:00") == parse_since("2026-11-23T09:00Z")
    assert format_timestamp(parse_since("2026-11-23T10:00:00.123Z")) == "2026-11-23T10:00:00.123Z"


def test_a_bad_since_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_since("yesterday-ish")
    assert caught.value.hint and "10m" in caught.value.hint


def test_following_across_many_rotations_yields_each_event_once(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_stream_bytes=200)
    tail = store.tail(GROUP)
    seen: list[str] = []
    for n in range(40):
        store.append(GROUP, STREAM_A, f"m{n:02d}", 1000 + n)
        if n % 3 == 2:  # a poll every third event: rotations happen between polls
            seen += [e.message for e in tail.poll()]
    seen += [e.message for e in tail.poll()]
    assert seen == [f"m{n:02d}" for n in range(40)]


def test_closing_an_environments_sink_closes_its_stream_file_and_a_late_line_reopens_it(
    tmp_path: Path,
) -> None:
    store = LogStore(tmp_path)
    shown: list[str] = []
    sink = tee(store.sink(LogOrigin("Fn", GROUP, STREAM_A)), shown.append)  # as the CLI's sinks are
    before = len(os.listdir("/proc/self/fd"))
    sink("one\n")
    assert len(os.listdir("/proc/self/fd")) == before + 1
    close_sink(sink)
    assert len(os.listdir("/proc/self/fd")) == before, "the stream's file is closed with its environment"
    sink("late\n")
    assert [event.message for event in store.events(GROUP)] == ["one", "late"] and shown == [
        "one\n",
        "late\n",
    ]
    store.close()
