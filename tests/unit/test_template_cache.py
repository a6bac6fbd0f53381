"""A YAML template read through the state directory's cache: the same data as a fresh parse, read back
without parsing while the file is unchanged, read fresh once it changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.template import source
from lambda_emu.template.source import read_template

# The samples' template: short-form tags (!Ref, !Sub, !GetAtt), Globals, many functions.
SAMPLE = Path(__file__).resolve().parents[2] / "sample_functions" / "template.yaml"


def test_a_cached_read_is_the_fresh_parse_and_does_not_parse_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = read_template(SAMPLE)
    assert read_template(SAMPLE, cache_dir=tmp_path / "cache") == fresh
    monkeypatch.setattr(source, "_parse_yaml", lambda *_: pytest.fail("parsed again"))
    assert read_template(SAMPLE, cache_dir=tmp_path / "cache") == fresh
    assert fresh["Resources"]["HelloFunction"]["Properties"] == {"Handler": "hello.handler"}
    assert fresh["Globals"]["Function"]["Environment"]["Variables"] == {"STAGE": {"Ref": "Stage"}}


def test_a_changed_template_is_read_fresh(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(SAMPLE.read_text())
    read_template(path, cache_dir=tmp_path / "cache")
    path.write_text(SAMPLE.read_text().replace("hello.handler", "other.handler"))
    data = read_template(path, cache_dir=tmp_path / "cache")
    assert data["Resources"]["HelloFunction"]["Properties"]["Handler"] == "other.handler"


def test_data_json_cannot_hold_is_never_cached(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  true: {Type: X}\n")  # a mapping keyed by a boolean
    data = read_template(path, cache_dir=tmp_path / "cache")
    assert read_template(path, cache_dir=tmp_path / "cache") == data == {"Resources": {True: {"Type": "X"}}}
    assert not list((tmp_path / "cache").glob("*.json"))
