"""A YAML template read through the state directory's cache: the same data as a fresh parse, read back
without parsing while the file is unchanged, read fresh once it changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.template import source
from lambda_emu.template.source import read_template

TEMPLATE = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      MemorySize: 0128
      Environment:
        Variables:
          ARN: !Sub "arn:aws:lambda:${AWS::Region}:x"
          ON: on
          FLAG: true
          NOTHING: null
      Layers: [!GetAtt Layer.Arn]
"""


def test_a_cached_read_is_the_fresh_parse_and_does_not_parse_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    fresh = read_template(path)
    assert read_template(path, cache_dir=tmp_path / "cache") == fresh
    monkeypatch.setattr(source, "_parse_yaml", lambda *_: pytest.fail("parsed again"))
    assert read_template(path, cache_dir=tmp_path / "cache") == fresh
    assert fresh["Resources"]["Fn"]["Properties"]["MemorySize"] == "0128"
    assert fresh["Resources"]["Fn"]["Properties"]["Layers"] == [{"Fn::GetAtt": ["Layer", "Arn"]}]


def test_a_changed_template_is_read_fresh(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    read_template(path, cache_dir=tmp_path / "cache")
    path.write_text(TEMPLATE.replace("app.handler", "other.handler"))
    data = read_template(path, cache_dir=tmp_path / "cache")
    assert data["Resources"]["Fn"]["Properties"]["Handler"] == "other.handler"


def test_data_json_cannot_hold_is_never_cached(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  true: {Type: X}\n")  # a mapping keyed by a boolean
    data = read_template(path, cache_dir=tmp_path / "cache")
    assert read_template(path, cache_dir=tmp_path / "cache") == data == {"Resources": {True: {"Type": "X"}}}
    assert not list((tmp_path / "cache").glob("*.json"))
