"""Lambda's filter pattern syntax on records: exact values, prefix, suffix, anything-but, numeric ranges,
exists, equals-ignore-case, $or, nested keys, lists in the event, an SQS body parsed as JSON; bad patterns
refused when the mapping is made."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_emu.errors import ConfigError
from lambda_emu.event_sources.filters import matches_any, parse_filters, sqs_view


def passes(pattern: dict[str, Any], body: Any) -> bool:
    patterns = parse_filters({"Filters": [{"Pattern": json.dumps(pattern)}]})
    text = body if isinstance(body, str) else json.dumps(body)
    return matches_any(patterns, sqs_view({"body": text, "attributes": {"ApproximateReceiveCount": "1"}}))


@pytest.mark.parametrize(
    ("pattern", "body", "expected"),
    [
        ({"body": {"kind": ["order"]}}, {"kind": "order"}, True),
        ({"body": {"kind": ["order"]}}, {"kind": "refund"}, False),
        ({"body": {"kind": ["order"]}}, {"other": 1}, False),
        ({"body": {"n": [5]}}, {"n": 5.0}, True),
        ({"body": {"flag": [True]}}, {"flag": 1}, False),
        ({"body": {"v": [None]}}, {"v": None}, True),
        ({"body": {"name": [{"prefix": "img-"}]}}, {"name": "img-1"}, True),
        ({"body": {"name": [{"suffix": ".png"}]}}, {"name": "a.jpg"}, False),
        ({"body": {"name": [{"equals-ignore-case": "BOB"}]}}, {"name": "bob"}, True),
        ({"body": {"state": [{"anything-but": ["done", "failed"]}]}}, {"state": "new"}, True),
        ({"body": {"state": [{"anything-but": "done"}]}}, {"state": "done"}, False),
        ({"body": {"state": [{"anything-but": {"prefix": "x"}}]}}, {"state": "xy"}, False),
        ({"body": {"price": [{"numeric": [">", 0, "<=", 10]}]}}, {"price": 10}, True),
        ({"body": {"price": [{"numeric": [">", 0, "<=", 10]}]}}, {"price": 0}, False),
        ({"body": {"price": [{"numeric": ["=", 3]}]}}, {"price": "3"}, False),
        ({"body": {"id": [{"exists": True}]}}, {"id": 1}, True),
        ({"body": {"id": [{"exists": False}]}}, {"other": 1}, True),
        ({"body": {"id": [{"exists": False}]}}, {"id": 1}, False),
        ({"body": {"a": {"b": ["c"]}}}, {"a": {"b": "c"}}, True),
        ({"body": {"tags": ["x"]}}, {"tags": ["y", "x"]}, True),
        ({"body": {"$or": [{"a": ["1"]}, {"b": ["2"]}]}}, {"b": "2"}, True),
        ({"body": {"$or": [{"a": ["1"]}, {"b": ["2"]}]}}, {"c": "3"}, False),
        ({"body": ["plain text"]}, "plain text", True),
        ({"body": [{"prefix": "plain"}]}, "plain text", True),
        ({"attributes": {"ApproximateReceiveCount": ["1"]}}, {}, True),
    ],
)
def test_patterns_match_as_lambda_matches_them(pattern: dict[str, Any], body: Any, expected: bool) -> None:
    assert passes(pattern, body) is expected


def test_any_filter_of_several_lets_a_record_through_and_none_lets_all_through() -> None:
    patterns = parse_filters(
        {"Filters": [{"Pattern": '{"body": {"k": ["a"]}}'}, {"Pattern": '{"body": {"k": ["b"]}}'}]}
    )
    assert matches_any(patterns, sqs_view({"body": '{"k": "b"}'}))
    assert not matches_any(patterns, sqs_view({"body": '{"k": "c"}'}))
    assert matches_any(parse_filters(None), {"body": "anything"})


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        '["a list"]',
        '{"body": {"k": "a"}}',
        '{"body": {"k": []}}',
        '{"body": {"k": [{"regex": "a"}]}}',
        '{"body": {"n": [{"numeric": [">"]}]}}',
        '{"$or": [{"a": ["1"]}]}',
    ],
)
def test_a_pattern_lambda_refuses_is_refused(pattern: str) -> None:
    with pytest.raises(ConfigError, match="filter pattern"):
        parse_filters({"Filters": [{"Pattern": pattern}]})
