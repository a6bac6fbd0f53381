"""The Ruby runtime client's files (runtimes/ruby), without Ruby: the wire names it mirrors agree with the
emulator's, and its bootstrap is the sh script that execs it. Its behaviour is tested in
tests/docker/test_ruby.py."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

from lambda_emu import wire

FOLDER = Path(__file__).resolve().parents[2] / "runtimes" / "ruby"
CLIENT = FOLDER / "runtime_client.rb"
BOOTSTRAP = FOLDER / "bootstrap"


def ruby_string_constants(text: str) -> dict[str, str]:
    """The client's `NAME = 'text'` and `NAME = "#{OTHER}text"` constants, interpolations resolved."""
    found: dict[str, str] = {}
    for name, quote, value in re.findall(r"^\s*([A-Z][A-Z0-9_]*) = (['\"])(.*?)\2\s*$", text, re.MULTILINE):
        if quote == '"':
            value = re.sub(r"#\{([A-Z][A-Z0-9_]*)\}", lambda match: found[match[1]], value)
        found[name] = value
    return found


def test_client_wire_names_match_the_emulator() -> None:
    constants = ruby_string_constants(CLIENT.read_text())
    names = (
        "RUNTIME_API_VERSION", "RUNTIME_PREFIX", "PATH_NEXT", "PATH_INIT_ERROR", "INVOCATION_PREFIX",
        "H_REQUEST_ID", "H_DEADLINE_MS", "H_FUNCTION_ARN", "H_TRACE_ID", "H_CLIENT_CONTEXT",
        "H_COGNITO_IDENTITY", "H_FUNCTION_ERROR_TYPE", "ENV_LOG_MARKER", "PATH_LOG_TOKEN",
    )  # fmt: skip
    for name in names:
        assert constants.get(name) == getattr(wire, name), name


def test_bootstrap_is_an_executable_sh_script_that_execs_the_client() -> None:
    text = BOOTSTRAP.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "exec /var/lang/bin/ruby /var/runtime/runtime_client.rb\n" in text
    assert BOOTSTRAP.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["sh", "-n", str(BOOTSTRAP)], timeout=30).returncode == 0
