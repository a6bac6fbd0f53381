"""The Lambda API server's benchmark: a live `lambda-emu serve` driven by boto3 (what users run) beside
the floors measured in the same run: the same calls over raw HTTP, and the same calls answered at once by
a server that does no work, so the table separates our cost from the client's and from the machine's.
Run by `make bench`."""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import percentile, print_table, timed  # bench/bench.py: run as a script, bench/ is on the path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "sample_functions" / "api" / "template.yaml"
NOOP = "NoOpFunction"


def start_server(
    state_dir: Path, *args: str, template: Path = TEMPLATE
) -> tuple[subprocess.Popen[bytes], str]:
    """A `lambda-emu serve` on a free port, and its URL once its discovery file names it."""
    exe = shutil.which("lambda-emu") or sys.exit("lambda-emu is not installed (make install)")
    process = subprocess.Popen(
        [exe, "--state-dir", str(state_dir), "serve", "-t", str(template), "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # the functions' logs: not part of what is measured
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            record = json.loads((state_dir / "server.json").read_text())
            if record["pid"] == process.pid:
                return process, record["url"]
        except (OSError, ValueError, KeyError):
            pass
        if process.poll() is not None:
            sys.exit(f"serve exited with {process.returncode}")
        time.sleep(0.05)
    process.kill()
    sys.exit("serve did not start within 120 s")


def _canned_server(ports) -> None:  # type: ignore[no-untyped-def]
    """A server that does no work (run in a process of its own): every request gets, at once, the reply
    lambda-emu gives a warm no-op Invoke. Built on the same HTTP plumbing as ours, so what it leaves out is
    exactly the emulator's work and the trip to the runtime."""
    from lambda_emu import wire
    from lambda_emu.engine.httpserver import QuickHandler, TrackingHttpServer

    headers = {wire.X_EXECUTED_VERSION: "$LATEST", wire.X_REQUEST_ID: "00000000-0000-4000-8000-000000000000"}

    class Canned(QuickHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.read_body(1 << 20)
            self.reply(200, b"null", headers)

    server = TrackingHttpServer(("127.0.0.1", 0), Canned, name="canned")
    ports.put(server.server_address[1])
    server.serve_forever()


def start_canned() -> tuple[multiprocessing.Process, str]:
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=_canned_server, args=(ports,), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=60)}"


def client(url: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=16),
    )


def raw_invoke(url: str, runs: int, invocation_type: str = "RequestResponse") -> list[float]:
    """The same Invoke over one keep-alive connection with no SDK: the server's own latency."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": invocation_type}

    def once() -> None:
        connection.request("POST", f"/2015-03-31/functions/{NOOP}/invocations", b"{}", headers)
        response = connection.getresponse()
        response.read()
        assert response.status in (200, 202), response.status

    once()
    samples = timed(once, runs)
    connection.close()
    return samples


def invoke(lambda_client) -> bytes:  # type: ignore[no-untyped-def]
    """An Invoke as users make it: the result read. (An unread Payload keeps the connection busy, so boto3
    opens a new one for the next call: a TCP handshake and a server thread more per call.)"""
    return lambda_client.invoke(FunctionName=NOOP)["Payload"].read()  # type: ignore[no-any-return]


def _worker(url: str, calls: int, ready, go, results) -> None:  # type: ignore[no-untyped-def]
    lambda_client = client(url)
    ready.wait()
    # Warm-up, all clients at once and not timed: the server scales out to one environment per
    # concurrent client (cold starts), as it would for any steady load.
    for _ in range(20):
        invoke(lambda_client)
    ready.wait()
    go.wait()
    for _ in range(calls):
        invoke(lambda_client)
    results.put(calls)


def throughput(url: str, clients: int, calls_each: int) -> float:
    """Invokes per second with `clients` client processes (one process each: the SDK's own CPU cost is
    not serialised behind one interpreter lock), each calling in a loop."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(clients + 1)
    go = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(url, calls_each, ready, go, results)) for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    ready.wait()  # clients made
    ready.wait()  # warmed up
    started = time.perf_counter()
    go.set()
    total = sum(results.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(60)
    return total / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--calls-each", type=int, default=250)
    parser.add_argument("--cpu-limit", action="store_true", help="Keep Lambda's CPU share (default: off)")
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="lambda-emu-bench-"))
    # The quota is off by default: a 128 MB function's 0.07 vCPU would measure Lambda's CPU share, not us.
    process, url = start_server(state_dir, *([] if args.cpu_limit else ["--no-cpu-limit"]))
    canned = None  # a daemon process: it also ends with this one
    try:
        canned, canned_url = start_canned()
        lambda_client, floor_client = client(url), client(canned_url)
        invoke(lambda_client)  # the cold start, not counted
        invoke(floor_client)
        warm = timed(lambda: invoke(lambda_client), args.runs)
        sdk_floor = timed(lambda: invoke(floor_client), args.runs)
        raw = raw_invoke(url, args.runs)
        raw_floor = raw_invoke(canned_url, args.runs)
        event = timed(lambda: lambda_client.invoke(FunctionName=NOOP, InvocationType="Event"), args.runs)
        raw_event = raw_invoke(url, args.runs, "Event")
        sequential = args.runs / (sum(warm) / 1000)
        eight = throughput(url, 8, args.calls_each)
        eight_floor = throughput(canned_url, 8, args.calls_each)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        if canned is not None:
            canned.kill()
        shutil.rmtree(state_dir, ignore_errors=True)

    print(f"\nlambda-emu serve: no-op python3.11 handler, boto3 client, {args.runs} runs per row\n")
    rows = [
        ("warm invoke through boto3", warm, "<= 2 ms"),
        ("  floor: the same call answered at once, no work", sdk_floor, ""),
        ("  warm invoke over raw HTTP (no SDK): the server's part", raw, ""),
        ("  floor: the same raw call answered at once, no work", raw_floor, ""),
        ("Event accept through boto3 (202, stored durably)", event, "<= 5 ms"),
        ("  Event accept over raw HTTP", raw_event, ""),
    ]
    print_table(
        ("what", "p50 ms", "p99 ms", "target"),
        (56, 8, 10),
        (
            (label, statistics.median(samples), percentile(samples, 0.99), target)
            for label, samples, target in rows
        ),
    )
    over = statistics.median(warm) - statistics.median(sdk_floor)
    print(f"\nwarm invoke through boto3 minus its floor (our part): {over:.2f} ms (p50)")
    # performance.md's reference machine did a Python HTTP keep-alive round trip in 0.114 ms: how much
    # slower this machine is, right now, at what every row above is made of.
    print(
        f"raw round trip with no work: {statistics.median(raw_floor):.3f} ms here, 0.114 ms on the "
        f"reference machine of performance.md ({statistics.median(raw_floor) / 0.114:.1f}x)"
    )
    print(f"sequential throughput (one boto3 client): {sequential:,.0f} invokes/s")
    print(
        f"throughput with 8 concurrent boto3 clients: {eight:,.0f} invokes/s (target >= 500); "
        f"against the server that does no work: {eight_floor:,.0f} invokes/s"
    )
    print(
        "AWS SAM CLI `sam local start-lambda` cannot run on this machine (it pulls its emulation images "
        "from public.ecr.aws, which is unreachable here); its published warm p50 is 16.8 ms "
        "(../shared/reference/performance.md)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
