"""Assertions on what Lambda prints about time. Lambda prints the time that elapsed, not the configured
limit ("Task timed out after 1.02 seconds" on a loaded machine), so tests match the shape and a range."""

from __future__ import annotations

import re

TIMED_OUT = re.compile(r"Task timed out after (\d+\.\d{2}) seconds")

# How far past the configured timeout a loaded 2-core CI machine may report: the kill is noticed late, never
# early. Generous on purpose: this bounds a bug (a timeout not enforced), not the machine's speed.
SLACK_S = 5.0


def assert_timed_out(text: str, timeout_s: float, request_id: str | None = None) -> float:
    """`text` says the task timed out after N.NN seconds, N between `timeout_s` and `timeout_s` + SLACK_S
    (and, with `request_id`, in the Invoke error's form "RequestId: ... Error: Task timed out ...").
    Returns N."""
    found = TIMED_OUT.search(text)
    assert found, f"no 'Task timed out after N.NN seconds' in {text!r}"
    if request_id is not None:
        assert f"RequestId: {request_id} Error: {found.group(0)}" in text, text
    elapsed = float(found.group(1))
    assert timeout_s <= elapsed < timeout_s + SLACK_S, f"{elapsed} s for a {timeout_s} s timeout"
    return elapsed
