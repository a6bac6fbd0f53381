"""The pytest plugin's pure parts: merging a test's overrides, encoding events, reading results."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lambda_emu.config import FunctionConfig
from lambda_emu.errors import ConfigError
from lambda_emu.models import InvocationResult
from lambda_emu.pytest_plugin import EventFactories, LambdaResult
from lambda_emu.pytest_plugin.fixtures import merge_overrides
from lambda_emu.pytest_plugin.session import encode_client_context, encode_event, with_overrides

FUNCTION = FunctionConfig(
    name="Fn",
    runtime="python3.11",
    handler="app.handler",
    code_path=Path("."),
    environment={"AA": "1", "BB": "2"},
)


def test_later_overrides_win_and_env_merges_key_by_key() -> None:
    merged = merge_overrides(
        {"env": {"AA": "marker", "BB": "marker"}, "memory_size": 256, "timeout": 9},
        {"env": {"AA": "call"}, "memory_size": 512, "timeout": None},
    )
    assert merged == {"env": {"AA": "call", "BB": "marker"}, "memory_size": 512, "timeout": 9}


def test_env_override_adds_replaces_and_removes_variables() -> None:
    changed = with_overrides(FUNCTION, env={"AA": "x", "BB": None, "CC": "3"}, memory_size=1024)
    assert dict(changed.environment) == {"AA": "x", "CC": "3"}
    assert changed.memory_size == 1024
    assert dict(FUNCTION.environment) == {"AA": "1", "BB": "2"}  # the template's function is untouched


def test_no_override_keeps_the_same_configuration() -> None:
    assert with_overrides(FUNCTION) is FUNCTION


def test_overrides_are_validated_as_lambda_validates_them() -> None:
    with pytest.raises(ConfigError, match="Timeout"):
        with_overrides(FUNCTION, timeout=901)
    with pytest.raises(ConfigError, match="AWS_REGION"):
        with_overrides(FUNCTION, env={"AWS_REGION": "eu-west-1"})


def test_events_are_encoded_as_the_invoke_payload(tmp_path: Path) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_bytes(b'{"from": "file"}')
    assert encode_event(None) == b"{}"
    assert json.loads(encode_event({"a": [1, 2]})) == {"a": [1, 2]}
    assert encode_event(b'{"raw": true}') == b'{"raw": true}'
    assert encode_event(event_file) == b'{"from": "file"}'
    assert encode_event("text") == b'"text"'


def test_a_client_context_mapping_is_sent_as_base64_json() -> None:
    encoded = encode_client_context({"custom": {"k": "v"}})
    assert encoded is not None
    assert json.loads(base64.b64decode(encoded)) == {"custom": {"k": "v"}}
    assert encode_client_context("e30=") == "e30="


def _result(**fields: object) -> LambdaResult:
    base: dict[str, object] = {"request_id": "r-1", "payload": b'{"ok": true}', "logs": "START\nhi\nREPORT\n"}
    return LambdaResult.of("Fn", InvocationResult(**{**base, **fields}))  # type: ignore[arg-type]


def test_a_result_carries_payload_figures_and_the_init_output_before_the_log() -> None:
    result = _result(init_duration_ms=12.5, duration_ms=3.2, init_logs="loading\n", max_memory_used_mb=40)
    assert result.payload == {"ok": True} and result.raw == b'{"ok": true}'
    assert result.logs == "loading\nSTART\nhi\nREPORT\n"
    assert (result.init_duration_ms, result.billed_duration_ms, result.max_memory_used_mb) == (12.5, 16, 40)
    assert (result.status_code, result.executed_version, result.error_type) == (200, "$LATEST", None)
    assert result.assert_ok() is result


def test_a_non_json_or_empty_response_is_kept_as_is() -> None:
    assert _result(payload=b"plain text").payload == "plain text"
    assert _result(payload=b"").payload is None


def test_a_failed_result_names_the_error_and_assert_ok_shows_the_log() -> None:
    failed = _result(
        payload=b'{"errorMessage": "kaboom", "errorType": "RuntimeError"}', error_type="RuntimeError"
    )
    assert (failed.error_type, failed.error_message, failed.function_error) == (
        "RuntimeError",
        "kaboom",
        "Unhandled",
    )
    with pytest.raises(
        AssertionError, match=r"(?s)Fn \(RequestId: r-1\) failed with RuntimeError: kaboom.*hi"
    ):
        failed.assert_ok()
    assert failed.assert_error("RuntimeError", "kab") is failed
    with pytest.raises(AssertionError, match="ValueError was expected"):
        failed.assert_error("ValueError")
    with pytest.raises(AssertionError, match="an error was expected"):
        _result().assert_error()


def test_event_factories_forward_to_emulator_events() -> None:
    from lambda_emu import events

    factories = EventFactories()
    assert factories.s3_put is events.s3_put
    event = factories.generate("s3", "put", bucket="b", key="k")
    assert event["Records"][0]["s3"]["bucket"]["name"] == "b"
    with pytest.raises(AttributeError, match="no event factory 'nope'"):
        factories.nope  # noqa: B018
