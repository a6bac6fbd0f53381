"""Custom runtimes for tests, as users write them: a bootstrap that speaks the Runtime API itself and writes
no log markers of ours."""

from __future__ import annotations

from pathlib import Path

# In shell and curl (the OS-only runtimes' images have both): it writes after its response and only then
# asks for its next event, with a sleep between the two longer than any quiet time could cover.
LATE_WRITER = """#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
    id=$(curl -sS -D - -o /tmp/event "$api/invocation/next" |
        sed -n 's/^Lambda-Runtime-Aws-Request-Id:[[:space:]]*//Ip' | tr -d '\\r')
    echo "handling $id"
    curl -sS -o /dev/null -X POST --data-binary @/tmp/event "$api/invocation/$id/response"
    sleep 0.3
    echo "after the response $id" >&2
done
"""


def late_writer_code(folder: Path) -> Path:
    """`folder` made a function's code holding LATE_WRITER as its bootstrap (readable by the sandbox user)."""
    folder.mkdir(parents=True)
    (folder / "bootstrap").write_text(LATE_WRITER)
    (folder / "bootstrap").chmod(0o755)
    folder.chmod(0o755)
    return folder


def late_writer_log(request_id: str) -> list[str]:
    """The lines of one invocation's log before its REPORT, as Lambda frames them."""
    return [
        f"START RequestId: {request_id} Version: $LATEST",
        f"handling {request_id}",
        f"after the response {request_id}",
        f"END RequestId: {request_id}",
    ]
