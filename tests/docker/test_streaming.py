"""Response streaming in real containers, through the emulator facade: a Node.js handler wrapped in
awslambda.streamifyResponse and a custom runtime posting with curl both reach the invocation's stream chunk
by chunk while they still run (each waits at a gate this test opens only on the first chunk), and without a
stream the same response is gathered whole."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.facade import Emulator
from lambda_emu.template import load_template
from tests.docker import test_invoke as rig
from tests.gate import Gate

config, emu = rig.config, rig.emu  # the rig's emulator, shared (pytest finds fixtures by name)
TEMPLATE = Path(__file__).resolve().parents[2] / "sample_functions" / "streaming" / "template.yaml"


class GatedRecorder:
    """A ResponseStream that records what reaches it and opens `gate` when the first chunk does, noting
    whether the function was still waiting there."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.events: queue.Queue[tuple[str, object]] = queue.Queue()
        self.held_at_first_chunk: bool | None = None

    def begin(self, content_type: str) -> None:
        self.events.put(("begin", content_type))

    def write(self, chunk: bytes) -> None:
        if self.held_at_first_chunk is None:
            self.held_at_first_chunk = self.gate.asked.wait(30) and not self.gate.opened
            self.gate.open()
        self.events.put(("chunk", chunk))

    def seen(self) -> list[tuple[str, object]]:
        return [self.events.get_nowait() for _ in range(self.events.qsize())]


@pytest.fixture(scope="module")
def streaming_functions(config: EmulatorConfig) -> dict[str, FunctionConfig]:
    return dict(load_template(TEMPLATE, emulator=config).functions)


@pytest.fixture
def gate() -> Iterator[Gate]:
    opened = Gate()
    yield opened
    opened.close()


def _streamed(emu: Emulator, function: FunctionConfig, event: dict, stream: GatedRecorder):  # type: ignore[no-untyped-def]
    invocation = emu.invocation(function, json.dumps(event).encode())
    return emu.invoke(function, replace(invocation, response_stream=stream))


@pytest.mark.parametrize(
    ("name", "content_type", "event", "chunks"),
    [
        ("StreamFunction", "text/plain", {"chunks": ["first ", "second"]}, [b"first ", b"second"]),
        ("ShellStreamFunction", "text/plain", {}, None),  # curl's chunks are its reads of the pipe
    ],
)
def test_chunks_reach_the_stream_while_the_function_runs(
    emu: Emulator,
    streaming_functions: dict[str, FunctionConfig],
    gate: Gate,
    name: str,
    content_type: str,
    event: dict,
    chunks: list[bytes] | None,
) -> None:
    stream = GatedRecorder(gate)
    result = _streamed(emu, streaming_functions[name], {**event, "gate": gate.url}, stream)
    assert not result.failed, result.payload
    assert result.streamed and result.payload == b""
    assert stream.held_at_first_chunk is True  # the first chunk came while the function waited at the gate
    seen = stream.seen()
    assert seen[0] == ("begin", content_type)
    written = [data for kind, data in seen[1:] if kind == "chunk"]
    assert b"".join(written) == b"first second"  # type: ignore[arg-type]
    assert written[0] == b"first "
    if chunks is not None:
        assert written == chunks


def test_without_a_stream_the_function_s_stream_is_gathered(
    emu: Emulator, streaming_functions: dict[str, FunctionConfig]
) -> None:
    for name in ("StreamFunction", "ShellStreamFunction"):
        function = streaming_functions[name]
        event = {"chunks": ["first ", "second"]} if name == "StreamFunction" else {}
        result = emu.invoke(function, emu.invocation(function, json.dumps(event).encode()))
        assert (result.payload, result.content_type, result.streamed) == (
            b"first second",
            "text/plain",
            False,
        )
