"""Provisioned concurrency's benchmark: the first invoke of a published version whose environment was
initialised ahead (PutProvisionedConcurrencyConfig, READY) beside the first invoke of one that starts on
demand (a cold start), and the floor measured in the same run: a warm invoke of the same function. The
handler's init sleeps INIT_S, so what provisioned concurrency takes off the first call shows. Run by
`make bench`."""

from __future__ import annotations

import argparse
import io
import shutil
import signal
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from api_bench import client, start_server  # bench/: run as a script, bench/ is on the path

from bench import percentile, print_table

INIT_S = 0.5
HANDLER = f"import time\ntime.sleep({INIT_S})\ndef handler(event, context):\n    return {{}}\n"
ROLE = "arn:aws:iam::123456789012:role/bench"


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def published(lambda_client, name: str) -> None:  # type: ignore[no-untyped-def]
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _package()},
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    lambda_client.publish_version(FunctionName=name)


def first_invoke_ms(lambda_client, name: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    lambda_client.invoke(FunctionName=name, Qualifier="1", Payload=b"{}")["Payload"].read()
    return (time.perf_counter() - started) * 1000


def provision(lambda_client, name: str) -> None:  # type: ignore[no-untyped-def]
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")["Status"]
        if status != "IN_PROGRESS":
            if status != "READY":
                raise SystemExit(f"{name}: provisioned concurrency {status}")
            return
        time.sleep(0.05)
    raise SystemExit(f"{name}: provisioned concurrency not READY within 180 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="lambda-emu-bench-"))
    process, url = start_server(state_dir, "--no-cpu-limit")
    cold: list[float] = []
    ahead: list[float] = []
    warm: list[float] = []
    try:
        lambda_client = client(url)
        for run in range(args.runs):
            published(lambda_client, f"bench-cold-{run}")
            cold.append(first_invoke_ms(lambda_client, f"bench-cold-{run}"))
            warm.append(first_invoke_ms(lambda_client, f"bench-cold-{run}"))
            published(lambda_client, f"bench-ahead-{run}")
            provision(lambda_client, f"bench-ahead-{run}")
            ahead.append(first_invoke_ms(lambda_client, f"bench-ahead-{run}"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        shutil.rmtree(state_dir, ignore_errors=True)

    print(
        f"\nprovisioned concurrency: python3.11 handler whose init sleeps {INIT_S} s, "
        f"{args.runs} runs per row\n"
    )
    print_table(
        ("what", "p50 ms", "max ms", "target"),
        (56, 8, 10),
        (
            ("first invoke of a version started on demand (cold)", statistics.median(cold), max(cold), ""),
            (
                "first invoke of a provisioned version (READY)",
                statistics.median(ahead),
                max(ahead),
                "~ floor",
            ),
            (
                "  floor: a warm invoke of the same function",
                statistics.median(warm),
                percentile(warm, 1.0),
                "",
            ),
        ),
    )
    ratio = statistics.median(ahead) / statistics.median(warm)
    print(f"\nprovisioned first invoke / warm floor: {ratio:.2f}x (p50)")
    gain = statistics.median(cold) / statistics.median(ahead)
    print(f"cold first invoke / provisioned first invoke: {gain:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
