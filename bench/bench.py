"""lambda-emu benchmarks: prints a table of medians (and p99 where it matters) beside the floor measured
in the same run, so noisy machines still give honest ratios. Run with `make bench`."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "sample_functions" / "template.yaml"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def cold_cli(runs: int) -> list[float]:
    command = ["lambda-emu", "invoke", "EchoFunction", "-t", str(TEMPLATE), "--payload", '{"bench": 1}']

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
    report (hand-out to response), whose difference is the emulator's own overhead."""
    from emulator.config import EmulatorConfig
    from emulator.containers.docker import DockerBackend
    from emulator.containers.images import DockerImages
    from emulator.facade import Emulator
    from emulator.runtimes import ImageBuilder
    from emulator.template import load_template

    config = EmulatorConfig(state_dir=ROOT / ".lambda-emu")
    function = load_template(TEMPLATE, emulator=config).function("EchoFunction")
    walls: list[float] = []
    durations: list[float] = []
    with Emulator(config, backend=DockerBackend(), images=ImageBuilder(DockerImages())) as emu:
        image = emu.runtime_image(function.runtime).image
        emu.invoke(function, emu.invocation(function, b"{}"))  # cold start, not counted
        for _ in range(runs):
            invocation = emu.invocation(function, b'{"bench": 1}')
            started = time.perf_counter()
            result = emu.invoke(function, invocation)
            walls.append((time.perf_counter() - started) * 1000)
            durations.append(result.duration_ms)
    return walls, durations, image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--warm-runs", type=int, default=500)
    args = parser.parse_args()

    walls, durations, image = warm_invokes(args.warm_runs)
    overhead = [w - d for w, d in zip(walls, durations, strict=True)]
    floor = docker_run_floor(image, args.cold_runs)
    cold = cold_cli(args.cold_runs)

    rows = [
        ("cold invoke: `lambda-emu invoke` end to end", statistics.median(cold), max(cold), "<= 1000 ms"),
        ("floor: `docker run --rm --network host IMAGE true`", statistics.median(floor), max(floor), ""),
        ("warm invoke: wall time through the invoker", statistics.median(walls), percentile(walls, 0.99), ""),
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
    print(f"| {'what':<52} | {'median ms':>10} | {'p99/max ms':>10} | {'target':<12} |")
    print(f"|{'-' * 54}|{'-' * 12}|{'-' * 12}|{'-' * 14}|")
    for label, median, tail, target in rows:
        print(f"| {label:<52} | {median:>10.2f} | {tail:>10.2f} | {target:<12} |")
    ratio = statistics.median(cold) / statistics.median(floor)
    print(
        f"\ncold invoke / docker-run floor: {ratio:.2f}x   "
        f"(reference: SAM CLI `sam local invoke` 1,172 ms, warm SAM start-lambda 16.8 ms p50)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
