"""Lambda's event filtering ("Control which events Lambda sends to your function"): FilterCriteria patterns
matched against each record before the function sees it. Pure. A record matches when any of the filters
matches; a filter matches when every key of its pattern does."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_emu import wire
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

MAX_FILTERS = 5  # "Lambda quotas": five filters per event source mapping by default
_MISSING = object()
_OPERATORS = {"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case"}


def parse_filters(criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of a FilterCriteria ({"Filters": [{"Pattern": "<json>"}]}), checked; [] for none."""
    filters = (criteria or {}).get("Filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise ConfigError(f"FilterCriteria takes at most {MAX_FILTERS} filters.")
    patterns = []
    for entry in filters:
        text = entry.get("Pattern") if isinstance(entry, Mapping) else None
        try:
            pattern = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            pattern = None
        if not isinstance(pattern, dict):
            raise ConfigError(f"Invalid filter pattern definition: {text!r} is not a JSON object.")
        _check(pattern)
        patterns.append(pattern)
    return patterns


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether the record passes: no filters pass everything."""
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


def sqs_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What SQS filters see: the record with its body parsed as JSON when it is a JSON object (a pattern on
    a plain-text body compares the text itself)."""
    body = record.get("body")
    try:
        parsed = wire.loads_json(body) if isinstance(body, str) else body
    except ValueError:
        parsed = body
    return {**record, "body": parsed if isinstance(parsed, dict) else body}


def _matches(pattern: Mapping[str, Any], value: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_matches(option, value) for option in expected):
                return False
            continue
        actual = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if actual is _MISSING or not _matches(expected, actual):
                return False
        elif not any(_value_matches(rule, actual) for rule in expected):
            return False
    return True


def _value_matches(rule: Any, actual: Any) -> bool:
    if isinstance(rule, Mapping) and "exists" in rule:
        return (actual is not _MISSING) == bool(rule["exists"])
    if actual is _MISSING:
        return False
    if isinstance(actual, list):  # a list in the event matches when one of its elements does
        return any(_value_matches(rule, item) for item in actual)
    if not isinstance(rule, Mapping):
        return _equal(rule, actual)
    if "prefix" in rule:
        return isinstance(actual, str) and actual.startswith(rule["prefix"])
    if "suffix" in rule:
        return isinstance(actual, str) and actual.endswith(rule["suffix"])
    if "equals-ignore-case" in rule:
        return isinstance(actual, str) and actual.lower() == str(rule["equals-ignore-case"]).lower()
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        if isinstance(excluded, Mapping):  # {"anything-but": {"prefix": "x"}}
            return not _value_matches(excluded, actual)
        values = excluded if isinstance(excluded, list) else [excluded]
        return not any(_equal(value, actual) for value in values)
    if "numeric" in rule:
        return _numeric(rule["numeric"], actual)
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool) or expected is None or actual is None:
        return expected is actual or expected == actual and type(expected) is type(actual)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return float(expected) == float(actual)
    return bool(expected == actual)


def _numeric(conditions: Sequence[Any], actual: Any) -> bool:
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    checks = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    for index in range(0, len(conditions), 2):
        operator, bound = conditions[index], conditions[index + 1]
        if not checks[operator](actual, bound):
            return False
    return True


def _check(pattern: Mapping[str, Any]) -> None:
    """ConfigError for a pattern Lambda would refuse: every leaf a list of values or operators."""
    for key, expected in pattern.items():
        if key == "$or":
            if not isinstance(expected, list) or len(expected) < 2:
                raise ConfigError(
                    "Invalid filter pattern definition: $or takes a list of two or more patterns."
                )
            for option in expected:
                if not isinstance(option, Mapping):
                    raise ConfigError("Invalid filter pattern definition: each $or option is a pattern.")
                _check(option)
        elif isinstance(expected, Mapping):
            _check(expected)
        elif not isinstance(expected, list) or not expected:
            raise ConfigError(
                f"Invalid filter pattern definition: the value of {key!r} must be a non-empty list."
            )
        else:
            for rule in expected:
                if isinstance(rule, Mapping):
                    if len(rule) != 1 or next(iter(rule)) not in _OPERATORS:
                        raise ConfigError(f"Invalid filter pattern definition: unknown operator {rule}.")
                    if "numeric" in rule:
                        _check_numeric(rule["numeric"])


def _check_numeric(conditions: Any) -> None:
    valid = (
        isinstance(conditions, list)
        and len(conditions) in (2, 4)
        and all(
            conditions[i] in ("=", "<", "<=", ">", ">=")
            and isinstance(conditions[i + 1], (int, float))
            and not isinstance(conditions[i + 1], bool)
            for i in range(0, len(conditions), 2)
        )
    )
    if not valid:
        raise ConfigError(
            f"Invalid filter pattern definition: numeric takes [op, n] or [op, n, op, n]: {conditions}."
        )
