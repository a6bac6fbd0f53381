"""The hot-reload benchmark: a live `lambda-emu serve` of a one-function project in a temporary folder; each
edit saves a new handler and invokes (over raw HTTP) until the new result comes back. Prints the median and
p90 of "file saved → next invoke returns the new result" beside its floor measured in the same run: that
last invoke alone, a cold start with the new code; the difference is what reloading costs (the debounce
window and retiring the old environment). Run by `make bench`."""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from api_bench import start_server

from bench import percentile, print_table  # bench/bench.py: run as a script, bench/ is on the path
from lambda_emu.reload.watcher import QUIET_SECONDS

TARGET_MS = 500.0
TEMPLATE = """\
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.11
"""
HANDLER = "def handler(event, context):\n    return {{'version': {version}}}\n"


class Invoker:
    """HelloFunction's Invoke over one keep-alive connection: no SDK cost in what is measured."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def version(self) -> int:
        self._connection.request("POST", "/2015-03-31/functions/HelloFunction/invocations", b"{}")
        response = self._connection.getresponse()
        body = response.read()
        assert response.status == 200, (response.status, body)
        return int(json.loads(body)["version"])

    def close(self) -> None:
        self._connection.close()


def save_to_result(
    invoker: Invoker, handler: Path, version: int, deadline_s: float = 30.0
) -> tuple[float, float]:
    """Milliseconds from saving handler `version` to the first invoke that returns it, and of that invoke
    alone (a cold start)."""
    handler.write_text(HANDLER.format(version=version))
    saved = time.perf_counter()
    while True:
        started = time.perf_counter()
        if invoker.version() == version:
            done = time.perf_counter()
            return (done - saved) * 1000, (done - started) * 1000
        if started - saved > deadline_s:
            sys.exit(f"version {version} not served after {deadline_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--settle", type=float, default=0.3, help="seconds between edits")
    args = parser.parse_args()

    project = Path(tempfile.mkdtemp(prefix="reload-bench-"))
    (project / "src").mkdir()
    handler = project / "src" / "app.py"
    handler.write_text(HANDLER.format(version=0))
    (project / "template.yaml").write_text(TEMPLATE)
    process, url = start_server(project / ".lambda-emu", template=project / "template.yaml")
    invoker = Invoker(url)
    try:
        invoker.version()  # the first invoke: a cold start, nothing to reload
        samples, colds = [], []
        for version in range(1, args.edits + 1):
            invoker.version()  # warm again, as between two saves
            total, cold = save_to_result(invoker, handler, version)
            samples.append(total)
            colds.append(cold)
            time.sleep(args.settle)  # apart, so each save is its own burst
    finally:
        invoker.close()
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        shutil.rmtree(project, ignore_errors=True)

    print(f"\nlambda-emu hot reload: python3.11 handler saved {args.edits} times under a live serve\n")
    rows = [
        ("file saved -> next invoke returns the new result", samples, f"<= {TARGET_MS:.0f} ms"),
        ("floor: that invoke alone (cold start, new code)", colds, ""),
    ]
    print_table(
        ("what", "median ms", "p90 ms", "target"),
        (52, 10, 12),
        (
            (label, statistics.median(values), percentile(values, 0.9), target)
            for label, values, target in rows
        ),
    )
    overhead = statistics.median(t - c for t, c in zip(samples, colds, strict=True))
    print(
        f"\nreload overhead (saved -> reloaded, median): {overhead:.0f} ms; "
        f"the debounce window is {QUIET_SECONDS * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
