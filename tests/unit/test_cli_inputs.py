"""The CLI's inputs: an event that is not JSON names where it came from; serve's runtime warnings."""

import io
import sys
from pathlib import Path

import pytest

from lambda_emu.cli.options import read_event
from lambda_emu.cli.serve import runtime_warnings
from lambda_emu.config import FunctionConfig
from lambda_emu.errors import ConfigError


def test_invalid_json_in_payload_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--payload is not valid JSON \(line 1, column 2") as info:
        read_event(None, "{not json")
    assert info.value.message.startswith("Could not parse request body into json")  # Lambda's words
    assert "Quote the JSON" in (info.value.hint or "")


def test_invalid_json_in_an_event_file_names_the_file(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"a": 1,\n "b": }\n')
    with pytest.raises(ConfigError, match=rf"the event file {event} \(-e\) is not valid JSON \(line 2"):
        read_event(str(event), None)


def test_invalid_json_on_stdin_names_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"[1, 2")))
    with pytest.raises(ConfigError, match=r"the event read from stdin \(-e -\) is not valid JSON"):
        read_event("-", None)


def test_valid_json_of_any_kind_and_empty_input_pass_unchanged(tmp_path: Path) -> None:
    assert read_event(None, '"text"') == b'"text"'
    assert read_event(None, "") == b""  # Lambda takes an empty payload as {}
    assert read_event(None, None) == b"{}"


def test_serve_warns_of_runtimes_it_does_not_build_with_the_nearest_one(tmp_path: Path) -> None:
    def function(name: str, runtime: str) -> FunctionConfig:
        return FunctionConfig(name, runtime, "app.handler", tmp_path, logical_id=f"{name}Id")

    warnings = runtime_warnings(
        [function("ok", "python3.13"), function("old", "python3.8"), function("typo", "nodejs16")]
    )
    assert warnings == [
        "function oldId: lambda-emu does not build runtime python3.8: it runs only if the Docker engine "
        "has AWS's base image public.ecr.aws/lambda/python:3.8; the nearest runtime lambda-emu builds is "
        "python3.9",
        "function typoId: lambda-emu does not build runtime nodejs16: it is no Lambda runtime, so invoking "
        "it fails; the nearest runtime lambda-emu builds is nodejs18.x",
    ]
