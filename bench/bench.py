"""lambda-emu benchmarks: prints a table of medians (and p99 where it matters) beside the floor measured
in the same run, so noisy machines still give honest ratios. Run with `make bench`."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "sample_functions" / "template.yaml"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def print_table(
    heads: tuple[str, str, str, str],
    widths: tuple[int, int, int],
    rows: Iterable[tuple[str, float, float, str]],
) -> None:
    """A Markdown table of (what, figure, figure, target) rows, the figures in ms to two decimals;
    `widths`: of the label, of each figure and of the target."""
    label, figure, target = widths
    print(f"| {heads[0]:<{label}} | {heads[1]:>{figure}} | {heads[2]:>{figure}} | {heads[3]:<{target}} |")
    print(f"|{'-' * (label + 2)}|{'-' * (figure + 2)}|{'-' * (figure + 2)}|{'-' * (target + 2)}|")
    for what, first, second, goal in rows:
        print(f"| {what:<{label}} | {first:>{figure}.2f} | {second:>{figure}.2f} | {goal:<{target}} |")


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def cold_cli(runs: int, backend: str = "docker") -> list[float]:
    command = [
        "lambda-emu",
        "--backend",
        backend,
        "invoke",
        "EchoFunction",
        "-t",
        str(TEMPLATE),
        "--payload",
        '{"bench": 1}',
    ]

    def once() -> None:
        subprocess.run(command, check=True, capture_output=True)

    once()  # builds the image if needed; not counted
    return timed(once, runs)


def docker_run_floor(image: str, runs: int) -> list[float]:
    return timed(
        lambda: subprocess.run(
            ["docker", "run", "--rm", "--network", "host", image, "true"], check=True, capture_output=True
        ),
        runs,
    )


def warm_invokes(runs: int) -> tuple[list[float], list[float], str]:
    """Warm invokes in-process through the invoker: wall time per call, and the Duration Lambda would
    report (hand-out to response), whose difference is the emulator's own overhead. The CPU quota is off
    here: at 128 MB Lambda's share (0.07 vCPU) would throttle the runtime and hide what we measure."""
    emu, template = _emulator(cpu_limit=False)
    function = template.function("EchoFunction")
    walls: list[float] = []
    durations: list[float] = []
    with emu:
        image = emu.runtime_image(function.runtime).image
        emu.invoke(function, emu.invocation(function, b"{}"))  # cold start, not counted
        for _ in range(runs):
            invocation = emu.invocation(function, b'{"bench": 1}')
            started = time.perf_counter()
            result = emu.invoke(function, invocation)
            walls.append((time.perf_counter() - started) * 1000)
            durations.append(result.duration_ms)
    return walls, durations, image


def _emulator(cpu_limit: bool = True):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from lambda_emu.config import EmulatorConfig
    from lambda_emu.containers.docker import DockerBackend
    from lambda_emu.facade import Emulator
    from lambda_emu.images.runtimes import local_image_builder
    from lambda_emu.template import load_template

    config = replace(EmulatorConfig(state_dir=ROOT / ".lambda-emu"), cpu_limit=cpu_limit)
    template = load_template(TEMPLATE, emulator=config)
    # The builder `lambda-emu invoke` uses, so the cold row below runs the same image.
    return Emulator(config, backend=DockerBackend(), images=local_image_builder()), template


def cpu_share(runs: int, loops: int) -> list[tuple[int, float]]:
    """Median handler time of a fixed CPU-bound job at several memory sizes (warm, quota applied)."""
    from dataclasses import replace

    emu, template = _emulator()
    rows = []
    with emu:
        for memory in (128, 256, 1769):
            function = replace(template.function("CpuBurnFunction"), memory_size=memory)
            emu.invoke(function, emu.invocation(function, b'{"loops": 1}'))  # cold start, not counted
            seconds = []
            for _ in range(runs):
                result = emu.invoke(function, emu.invocation(function, f'{{"loops": {loops}}}'.encode()))
                seconds.append(json.loads(result.payload)["seconds"] * 1000)
            rows.append((memory, statistics.median(seconds)))
    return rows


def memory_used(megabytes: int) -> int:
    from dataclasses import replace

    emu, template = _emulator()
    with emu:
        function = replace(template.function("MemoryFunction"), memory_size=512)
        payload = json.dumps({"mb": megabytes}).encode()
        return emu.invoke(function, emu.invocation(function, payload)).max_memory_used_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--warm-runs", type=int, default=500)
    parser.add_argument("--cpu-runs", type=int, default=3)
    parser.add_argument("--cpu-loops", type=int, default=1_000_000)
    args = parser.parse_args()

    walls, durations, image = warm_invokes(args.warm_runs)
    overhead = [w - d for w, d in zip(walls, durations, strict=True)]
    floor = docker_run_floor(image, args.cold_runs)
    cold = cold_cli(args.cold_runs)
    from lambda_emu.containers.embedded import oci_runtime

    embedded = cold_cli(args.cold_runs, "embedded") if oci_runtime() and os.geteuid() == 0 else None

    rows = [
        ("cold invoke: `lambda-emu invoke` end to end", statistics.median(cold), max(cold), "<= 1000 ms"),
        *(
            [
                (
                    "cold invoke: `lambda-emu --backend embedded invoke`",
                    statistics.median(embedded),
                    max(embedded),
                    "",
                )
            ]
            if embedded
            else []
        ),
        ("floor: `docker run --rm --network host IMAGE true`", statistics.median(floor), max(floor), ""),
        ("warm invoke: wall time (CPU quota off)", statistics.median(walls), percentile(walls, 0.99), ""),
        (
            "warm invoke: emulator overhead (wall - Duration)",
            statistics.median(overhead),
            percentile(overhead, 0.99),
            "<= 2 ms p50",
        ),
        (
            "warm invoke: Duration (hand-out to response)",
            statistics.median(durations),
            percentile(durations, 0.99),
            "",
        ),
    ]
    print(
        f"\nlambda-emu bench: python3.11 echo handler, {args.cold_runs} cold / {args.warm_runs} warm runs\n"
    )
    print_table(("what", "median ms", "p99/max ms", "target"), (52, 10, 12), rows)
    ratio = statistics.median(cold) / statistics.median(floor)
    print(
        f"\ncold invoke / docker-run floor: {ratio:.2f}x   "
        f"(reference: SAM CLI `sam local invoke` 1,172 ms, warm SAM start-lambda 16.8 ms p50)"
    )

    shares = cpu_share(args.cpu_runs, args.cpu_loops)
    full = shares[-1][1]
    print(f"\nCPU share: CPU-bound handler ({args.cpu_loops:,} loops), median of {args.cpu_runs} warm runs\n")
    names = ("MemorySize", "vCPU", "handler ms", "time / 1,769 MB time", "Lambda")
    print(f"| {names[0]:>10} | {names[1]:>6} | {names[2]:>10} | {names[3]:>20} | {names[4]:>7} |")
    print(f"|{'-' * 12}|{'-' * 8}|{'-' * 12}|{'-' * 22}|{'-' * 9}|")
    for memory, millis in shares:
        print(
            f"| {memory:>10} | {memory / 1769:>6.3f} | {millis:>10.1f} | {millis / full:>19.2f}x | "
            f"{1769 / memory:>6.2f}x |"
        )
    by_memory = dict(shares)
    print(f"\n128 MB / 256 MB handler time: {by_memory[128] / by_memory[256]:.2f}x (Lambda: 2.00x)")

    held = 100
    used = memory_used(held)
    print(f"\nMax Memory Used for a handler holding {held} MB: {used} MB (target 100-130 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
