"""The control plane's store: versions (monotonic, immutable, no duplicates), AutoPublishAlias, weighted
alias routing, persistence across a restart and environment values encrypted at rest."""

from __future__ import annotations

import collections
import random
import sqlite3
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control.aliases import pick_version
from lambda_emu.control.model import (
    ORIGIN_API,
    AliasRecord,
    FunctionRecord,
    lambda_timestamp,
    template_record,
)
from lambda_emu.control.packages import describe, folder_zip
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.store import open_store
from lambda_emu.errors import FunctionNotFoundError


def function(code: Path, **changes: object) -> FunctionConfig:
    base = FunctionConfig(name="fn", runtime="python3.11", handler="app.handler", code_path=code)
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    return folder


def test_last_modified_has_lambdas_format() -> None:
    assert lambda_timestamp(1_795_428_000.123) == "2026-11-23T10:00:00.123+0000"


def test_a_folder_has_the_same_code_sha256_until_a_file_changes(code: Path) -> None:
    first = describe(code)
    assert describe(code) == first and folder_zip(code) == folder_zip(code)
    (code / "app.py").write_text("def handler(event, context):\n    return 2\n")
    assert describe(code).sha256 != first.sha256


def test_publishing_freezes_code_and_configuration_and_skips_duplicates(tmp_path: Path, code: Path) -> None:
    store = open_store(tmp_path / "state")
    store.put_latest(template_record(function(code, memory_size=256), None))
    one, new = store.publish("fn")
    assert new and one.version == "1" and one.config.version == "1"
    assert one.config.code_path.suffix == ".zip" and one.config.code_path.is_file()
    again, new = store.publish("fn")
    assert not new and again.version == "1"
    (code / "app.py").write_text("changed = True\n")
    store.put_latest(template_record(function(code, memory_size=512), store.latest("fn")))
    two, new = store.publish("fn")
    assert new and two.version == "2"
    # The first version kept its configuration and its code.
    first = store.version("fn", "1")
    assert first is not None and first.config.memory_size == 256 and first.code_sha256 == one.code_sha256


def test_version_numbers_never_reuse_a_deleted_one(tmp_path: Path, code: Path) -> None:
    store = open_store(tmp_path / "state")
    store.put_latest(template_record(function(code), None))
    store.publish("fn")
    store.remove_version("fn", "1")
    store.put_latest(template_record(function(code, timeout=9), store.latest("fn")))
    assert store.publish("fn")[0].version == "2"


def test_weighted_pick_splits_as_the_weights_say() -> None:
    alias = AliasRecord(name="live", function_version="1", weights={"2": 0.3})
    draws = random.Random(7)
    counts = collections.Counter(pick_version(alias, draws.random()) for _ in range(2000))
    assert set(counts) == {"1", "2"}
    assert abs(counts["2"] / 2000 - 0.3) < 0.05


def test_registry_resolves_versions_and_aliases(tmp_path: Path, code: Path) -> None:
    registry = FunctionRegistry(EmulatorConfig(state_dir=tmp_path), [function(code, memory_size=256)])
    registry.store.publish("fn")
    registry.put(function(code, memory_size=1024))
    registry.store.put_alias("fn", AliasRecord(name="live", function_version="1"))
    assert registry.resolve("fn").function.memory_size == 1024
    ref = registry.resolve("fn:live")
    assert (ref.executed_version, ref.function.memory_size, ref.qualifier) == ("1", 256, "live")
    assert registry.resolve("fn", "1").executed_version == "1"
    with pytest.raises(FunctionNotFoundError, match="function:fn:7"):
        registry.resolve("fn", "7")
    with pytest.raises(FunctionNotFoundError, match="function:fn:nope"):
        registry.resolve("fn:nope")


def test_auto_publish_alias_publishes_once_per_change(tmp_path: Path, code: Path) -> None:
    registry = FunctionRegistry(EmulatorConfig(state_dir=tmp_path))
    registry.put(function(code, auto_publish_alias="live"))
    registry.put(function(code, auto_publish_alias="live"))
    assert [v.version for v in registry.store.versions("fn")] == ["1"]
    registry.put(function(code, auto_publish_alias="live", timeout=10))
    assert [v.version for v in registry.store.versions("fn")] == ["1", "2"]
    assert registry.resolve("fn:live").function.timeout == 10


def test_state_survives_a_restart_with_environment_values_encrypted(tmp_path: Path, code: Path) -> None:
    state = tmp_path / "state"
    store = open_store(state)
    secret = "s3cr3t-value-that-must-not-leak"
    record = FunctionRecord(
        config=function(code, environment={"API_TOKEN": secret}),
        code_sha256="abc",
        code_size=3,
        origin=ORIGIN_API,
        settings={"Role": "arn:aws:iam::123456789012:role/r"},
        tags={"team": "a"},
    )
    store.put_latest(record)
    store.publish("fn")
    store.put_alias("fn", AliasRecord(name="live", function_version="1", weights={"1": 0.0}))
    store.close()

    key = state / "control.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for file in state.iterdir():
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file
    rows = sqlite3.connect(state / "control.db").execute("SELECT record FROM functions").fetchall()
    assert "API_TOKEN" not in rows[0][0]

    again = open_store(state)
    restored = again.latest("fn")
    assert restored is not None
    assert restored.config.environment == {"API_TOKEN": secret}
    assert (restored.revision_id, restored.settings, restored.tags) == (
        record.revision_id,
        record.settings,
        record.tags,
    )
    version = again.version("fn", "1")
    assert version is not None and version.config.environment == {"API_TOKEN": secret}
    assert again.alias("fn", "live") == AliasRecord(
        name="live",
        function_version="1",
        weights={"1": 0.0},
        revision_id=again.alias("fn", "live").revision_id,
    )
    assert again.publish("fn")[0].version == "1"  # the counter came back too


def test_a_template_function_dropped_from_the_template_goes_at_the_next_start(
    tmp_path: Path, code: Path
) -> None:
    state = tmp_path / "state"
    store = open_store(state)
    FunctionRegistry(EmulatorConfig(state_dir=state), [function(code), function(code, name="other")], store)
    store.close()
    again = open_store(state)
    assert again.keep_template_functions(["fn"]) == ["other"]
    assert again.names() == ["fn"]
