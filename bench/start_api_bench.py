"""The local API Gateway's benchmark: an HTTP request through `lambda-emu start-api` to a warm no-op
function (an HTTP API route and a REST API route), beside a direct Invoke of the same function through
`lambda-emu serve`, both over one raw keep-alive connection. Target: at most 0.5 ms more at p50.
Run by `make bench`."""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from api_bench import start_server  # bench/: run as a script, bench/ is on the path

from bench import percentile, print_table, timed

# A no-op with an answer both payload formats accept (a bare None is a malformed REST answer: a 502).
HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': ''}\n"
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  NoOpFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: {code}
      MemorySize: 128
      Events:
        Http: {{Type: HttpApi, Properties: {{Path: /noop, Method: GET}}}}
        Rest: {{Type: Api, Properties: {{Path: /noop-rest, Method: GET}}}}
"""


def start_api(state_dir: Path, template: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, int]:
    """A `lambda-emu start-api` on a free port, and its host and port once it prints them."""
    exe = shutil.which("lambda-emu") or sys.exit("lambda-emu is not installed (make install)")
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "start-api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [exe, "--state-dir", str(state_dir), "start-api", "-t", str(template), "--port", "0", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"at http://([\d.]+):(\d+):", log.read_text(errors="replace"))
        if found:
            return process, found.group(1), int(found.group(2))
        if process.poll() is not None:
            sys.exit(f"start-api exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    process.kill()
    sys.exit("start-api did not start within 120 s")


def keep_alive_call(host: str, port: int, method: str, path: str, body: bytes = b"", headers=None):  # type: ignore[no-untyped-def]
    """One request over a kept-alive connection, as a callable."""
    connection = http.client.HTTPConnection(host, port)

    def once() -> None:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status

    return once


def interleaved(calls: dict[str, Callable[[], None]], runs: int) -> dict[str, list[float]]:
    """Each call timed `runs` times, taking turns, so a busy machine weighs on every row alike."""
    for call in calls.values():
        timed(call, 100)  # the cold start and a warm-up, not counted
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            samples[name] += timed(call, 1)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="lambda-emu-bench-api-"))
    template = state_dir / "template.yaml"
    (state_dir / "src").mkdir()
    (state_dir / "src" / "app.py").write_text(HANDLER)
    template.write_text(TEMPLATE.format(code=state_dir / "src"))
    (state_dir / "serve").mkdir()
    # No CPU quota: a 128 MB function's 0.07 vCPU would measure Lambda's CPU share, not us.
    api, host, port = start_api(state_dir / "api", template, "--no-cpu-limit", "--no-watch")
    serve, url = start_server(state_dir / "serve", "--no-cpu-limit", "--no-watch", template=template)
    try:
        serve_host, serve_port = url.removeprefix("http://").split(":")
        invocations = "/2015-03-31/functions/NoOpFunction/invocations"
        samples = interleaved(
            {
                "http": keep_alive_call(host, port, "GET", "/noop"),
                "rest": keep_alive_call(host, port, "GET", "/noop-rest"),
                "direct": keep_alive_call(serve_host, int(serve_port), "POST", invocations, b"{}"),
            },
            args.runs,
        )
    finally:
        for process in (api, serve):
            process.send_signal(signal.SIGTERM)
        for process in (api, serve):
            process.wait(120)
        shutil.rmtree(state_dir, ignore_errors=True)

    extra = statistics.median(samples["http"]) - statistics.median(samples["direct"])
    print(f"\nlambda-emu start-api: no-op python3.11 handler, raw HTTP, {args.runs} runs per row, in turns\n")
    print_table(
        ("what", "p50 ms", "p99 ms", "target"),
        (56, 8, 12),
        (
            (label, statistics.median(samples[key]), percentile(samples[key], 0.99), target)
            for label, key, target in (
                ("GET through start-api, HTTP API route (payload 2.0)", "http", "direct + 0.5"),
                ("GET through start-api, REST API route (payload 1.0)", "rest", "direct + 0.5"),
                ("  direct Invoke of the same function through serve", "direct", ""),
            )
        ),
    )
    print(f"\nstart-api adds {extra:.2f} ms at p50 over a direct invoke (target: at most 0.5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
