"""What the CLI writes to stderr: serve's prefixed function output, colour rules, the progress line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lambda_emu.cli.group import errors_to_exit_status
from lambda_emu.cli.terminal import PrefixedLines, Terminal, colour_wanted, fallback_hint, log_sinks
from lambda_emu.engine.logstore import LogStore
from lambda_emu.engine.logstream import LogOrigin
from lambda_emu.errors import ConfigError, ContainerError, ImageError, LambdaEmuError, TemplateError

STREAM = "2026/11/23/[$LATEST]" + "c" * 32


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def origin(function: str) -> LogOrigin:
    return LogOrigin(function, f"/aws/lambda/{function}", STREAM)


def test_serve_lines_are_prefixed_by_the_function_name_padded_to_the_longest() -> None:
    out = io.StringIO()
    lines = PrefixedLines(Terminal(out, live=False), ["Short", "MuchLongerName"], colour=False)
    lines.sink_for(origin("Short"))("START RequestId: r1 Version: $LATEST\n")
    lines.sink_for(origin("MuchLongerName"))("hello\n")
    assert out.getvalue() == (
        "Short          | START RequestId: r1 Version: $LATEST\nMuchLongerName | hello\n"
    )


def test_padding_stops_at_24_characters() -> None:
    out = io.StringIO()
    lines = PrefixedLines(Terminal(out, live=False), ["Fn", "N" * 40], colour=False)
    lines.sink_for(origin("Fn"))("x\n")
    assert out.getvalue() == "Fn" + " " * 22 + " | x\n"


def test_a_record_joined_with_carriage_returns_shows_as_prefixed_lines() -> None:
    out = io.StringIO()
    lines = PrefixedLines(Terminal(out, live=False), ["Fn"], colour=False)
    lines.sink_for(origin("Fn"))("[ERROR] boom\rTraceback:\r  line 1\n")
    assert out.getvalue() == "Fn | [ERROR] boom\nFn | Traceback:\nFn |   line 1\n"


def test_each_function_gets_its_own_colour_on_a_terminal() -> None:
    lines = PrefixedLines(Terminal(io.StringIO()), ["A", "B"], colour=True)
    first, second = lines.prefix("A"), lines.prefix("B")
    assert first.startswith("\x1b[") and second.startswith("\x1b[") and first[:5] != second[:5]
    assert lines.prefix("NotInTheTemplate").startswith("\x1b[")  # a function added later still works
    assert PrefixedLines(Terminal(io.StringIO()), ["A"], colour=False).prefix("A") == "A | "


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(FakeTty())
    assert not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(FakeTty())


def test_progress_off_a_terminal_is_plain_lines() -> None:
    out = io.StringIO()
    terminal = Terminal(out, live=False)
    terminal.progress("python3.11: making Debian bookworm base")
    terminal.progress("  mmdebstrap: I: downloading packages")
    terminal.finish()
    assert out.getvalue() == (
        "lambda-emu: python3.11: making Debian bookworm base\n"
        "lambda-emu:   mmdebstrap: I: downloading packages\n"
    )


def test_on_a_terminal_a_steps_detail_is_one_live_line_with_its_elapsed_time() -> None:
    out = FakeTty()
    terminal = Terminal(out, live=True, tick_s=3600)  # no redraw by the ticker during the test
    terminal.progress("python3.11: making Debian bookworm base")
    terminal.progress("  mmdebstrap: I: downloading packages")
    terminal.progress("  mmdebstrap: I: extracting")
    shown = out.getvalue()
    assert shown.startswith("lambda-emu: python3.11: making Debian bookworm base\n")
    live = shown.split("\n", 1)[1]
    assert live.count("\r\x1b[2K") == 2 and "\n" not in live  # redrawn in place, never scrolled
    assert live.rsplit("\r\x1b[2K", 1)[1].endswith(" s  mmdebstrap: I: extracting")
    terminal.write("function output\n")  # other output first erases the live line
    assert out.getvalue().endswith("\r\x1b[2Kfunction output\n")
    terminal.progress("  build: Step 1/3")
    terminal.progress("python3.11: built lambda-emu/python3.11:abc in 3.0 s")
    assert out.getvalue().endswith(
        "\r\x1b[2Klambda-emu: python3.11: built lambda-emu/python3.11:abc in 3.0 s\n"
    )
    terminal.finish()
    assert out.getvalue().endswith("3.0 s\n")  # nothing live was left to erase


def test_log_sinks_keep_the_lines_in_the_store_and_show_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = log_sinks(tmp_path, served=["Fn"])(origin("Fn"))
    sink("hello from Fn\n")
    assert "Fn | hello from Fn" in capsys.readouterr().err
    events = LogStore.of_state_dir(tmp_path).events("/aws/lambda/Fn")
    assert [(e.stream, e.message) for e in events] == [(STREAM, "hello from Fn")]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TemplateError("t.yaml: YAML syntax error"), "-t"),
        (ConfigError("--env takes KEY=VALUE"), "lambda-emu invoke --help"),
        (ContainerError("Cannot start container"), "docker info"),
        (ImageError("build failed"), "lambda-emu runtimes build"),
        (LambdaEmuError("anything else"), "--debug"),
    ],
)
def test_every_kind_of_error_gets_a_hint(error: LambdaEmuError, expected: str) -> None:
    assert expected in fallback_hint(error, "lambda-emu invoke")


def test_an_unexpected_exception_is_one_line_with_a_hint_and_exit_status_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited, errors_to_exit_status():
        raise RuntimeError("engine said no")
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "error: unexpected RuntimeError: engine said no" in err and "hint: " in err
    assert "Traceback" not in err
