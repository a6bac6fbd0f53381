"""The log stream: output cut into init and invocations by the runtime's markers; Lambda's lines."""

from __future__ import annotations

import threading

from lambda_emu.engine.logstream import KEEP_LOG_BYTES, MAX_LINE_BYTES, LogStream, report_line, start_line
from lambda_emu.models import InvocationResult

TOKEN = "f" * 32


def marker(text: str) -> bytes:
    return f"{TOKEN} {text}\n".encode()


def test_init_output_comes_before_start_even_when_the_event_goes_out_first() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(b"importing\n")
    stream.begin("r1", "$LATEST")  # hand-out can overtake init output still in flight
    stream.feed(b"more init\n" + marker("READY") + b"in handler\n" + marker("END r1"))
    # (START reaches the sink with the invocation's first output: one write)
    assert "".join(seen) == "importing\nmore init\n" + start_line("r1", "$LATEST") + "in handler\n"
    assert stream.init_output() == "importing\nmore init\n"
    assert stream.wait_end("r1", 1) == start_line("r1", "$LATEST") + "in handler\n"


def test_markers_never_reach_the_sink_or_the_log() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(marker("END r1"))
    assert not any(TOKEN in line for line in seen)


def test_a_line_split_across_chunks_is_joined() -> None:
    stream = LogStream(marker=TOKEN)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(b"hel")
    stream.feed(b"lo\n" + marker("END r1")[:10])
    stream.feed(marker("END r1")[10:])
    assert stream.wait_end("r1", 1).endswith("hello\n")


def test_wait_end_blocks_until_the_end_marker_arrives() -> None:
    stream = LogStream(marker=TOKEN)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    timer = threading.Timer(0.05, stream.feed, (b"late line\n" + marker("END r1"),))
    timer.start()
    assert "late line" in stream.wait_end("r1", 5)


def test_wait_end_returns_at_eof_when_the_process_died() -> None:
    stream = LogStream(marker=TOKEN)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(b"partial without newline")
    stream.eof()
    assert stream.wait_end("r1", 5).endswith("partial without newline\n")


def test_output_between_invocations_is_not_attributed_to_the_finished_one() -> None:
    stream = LogStream(marker=TOKEN)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(b"one\n" + marker("END r1") + b"background\n")
    assert "background" not in stream.wait_end("r1", 1)


def test_platform_lines_join_the_invocation_log() -> None:
    stream = LogStream(marker=TOKEN)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(marker("END r1"))
    stream.platform("r1", "END RequestId: r1\nREPORT RequestId: r1\n")
    assert stream.log_of("r1").splitlines()[-2:] == ["END RequestId: r1", "REPORT RequestId: r1"]


def test_without_markers_output_is_complete_after_a_quiet_spell() -> None:
    stream = LogStream(marker=None)
    stream.begin("r1", "$LATEST")
    stream.feed(b"foreign runtime line\n")
    assert "foreign runtime line" in stream.wait_end("r1", 5)


def test_without_markers_output_arriving_just_after_a_quiet_spell_is_kept() -> None:
    """The quiet time runs from the wait's start: output still in the engine's log stream when the
    response arrives belongs to the invocation, however long the environment was quiet before."""
    import threading
    import time

    stream = LogStream(marker=None)
    stream.feed(b"earlier output\n")
    time.sleep(0.2)  # quiet for longer than the quiet time before this invocation
    stream.begin("r1", "$LATEST")
    late = threading.Timer(0.02, lambda: stream.feed(b"late line\n"))
    late.start()
    try:
        assert "late line" in stream.wait_end("r1", 5)
    finally:
        late.join()


def test_without_markers_output_between_invocations_is_not_kept_as_init_output() -> None:
    stream = LogStream(marker=None)
    stream.feed(b"init line\n")
    stream.begin("r1", "$LATEST")
    stream.feed(b"handler line\n")
    stream.wait_end("r1", 5)
    stream.feed(b"a timer firing after the response\n")
    assert stream.init_output() == "init line\n"
    assert "handler line" in stream.log_of("r1")


def test_report_line_has_lambdas_fields_tabs_and_trailing_tab() -> None:
    result = InvocationResult(
        request_id="r1",
        payload=b"{}",
        duration_ms=15.744,
        init_duration_ms=130.49,
        memory_size_mb=128,
        max_memory_used_mb=56,
    )
    assert report_line(result) == (
        "REPORT RequestId: r1\tDuration: 15.74 ms\tBilled Duration: 147 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tInit Duration: 130.49 ms\t\n"
    )


def test_warm_report_has_no_init_duration_and_bills_whole_ms_rounded_up() -> None:
    result = InvocationResult(request_id="r", payload=b"", duration_ms=0.2, max_memory_used_mb=1)
    line = report_line(result)
    assert "Init Duration" not in line and "Billed Duration: 1 ms" in line


def test_a_marker_after_an_unfinished_line_is_still_recognised() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(b"child wrote no newline" + marker("END r1"))
    assert stream.wait_end("r1", 0.5).endswith("child wrote no newline\n")
    assert not any(TOKEN in line for line in seen)


def test_a_quiet_invocations_start_reaches_the_sink_with_its_end_in_one_write() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    assert seen == []  # held: nothing written yet
    assert stream.log_of("r1") == start_line("r1", "$LATEST")  # but the invocation's log has it
    stream.feed(marker("END r1"))
    stream.platform("r1", "END RequestId: r1\n")
    assert seen == [start_line("r1", "$LATEST") + "END RequestId: r1\n"]


def test_flush_start_writes_a_held_start_at_once_and_only_once() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.flush_start()
    stream.flush_start()
    stream.feed(b"working\n")
    assert seen == [start_line("r1", "$LATEST"), "working\n"]


def test_a_flood_reaches_the_sink_whole_while_the_invocations_log_keeps_its_start_and_newest_lines() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    line = b"y" * 1023 + b"\n"
    for _ in range(3 * KEEP_LOG_BYTES // len(line)):
        stream.feed(line)
    stream.feed(b"last\n" + marker("END r1"))
    log = stream.wait_end("r1", 1)
    assert sum(len(text) for text in seen) > 3 * KEEP_LOG_BYTES, "the sink sees every line"
    assert log.startswith(start_line("r1", "$LATEST")) and log.endswith("y\nlast\n")
    assert KEEP_LOG_BYTES - 2048 < len(log) < KEEP_LOG_BYTES + 2048
    assert "characters of this invocation's output are not repeated here" in log.splitlines()[1]


def test_a_line_without_end_is_cut_into_lines_of_at_most_max_line_bytes() -> None:
    seen: list[str] = []
    stream = LogStream(marker=TOKEN, sink=seen.append)
    stream.feed(marker("READY"))
    stream.begin("r1", "$LATEST")
    stream.feed(b"z" * (2 * MAX_LINE_BYTES + 10))
    stream.feed(b"\n" + marker("END r1"))
    lines = stream.wait_end("r1", 1).splitlines()[1:]
    assert [len(text) for text in lines] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 10]
