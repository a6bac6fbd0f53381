"""Cold `lambda-emu invoke` end to end, as a user's shell runs it, beside the floors measured in the same run:
`docker run --rm IMAGE true` (a container's whole life, nothing answering), `python -c pass` (the
interpreter, with and without site-packages' .pth files), and `sam local invoke` of the same function where
the SAM CLI is installed. The commands take turns (A B C ... A B C ...), so a machine that speeds up or slows
down meanwhile shifts every row alike; medians, and ratios of medians. Run with `make bench`."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "sample_functions" / "template.yaml"
EVENT = ROOT / "sample_functions" / "events" / "hello.json"
FUNCTION = "HelloFunction"
TARGET_MS = 250.0  # issue 22: cold invoke on Docker


def _lambda_emu() -> list[str]:
    found = shutil.which("lambda-emu")
    return [found] if found else [sys.executable, "-m", "lambda_emu"]


def _invoke(*options: str, backend: str | None = None) -> list[str]:
    front = [*_lambda_emu(), *(["--backend", backend] if backend else [])]
    return [*front, "invoke", FUNCTION, "-t", str(TEMPLATE), "-e", str(EVENT), *options]


def _runtime_image() -> str:
    from lambda_emu.images.runtimes import get_runtime, local_image_builder

    return local_image_builder().ensure(get_runtime("python3.11"))


def _embedded_ready() -> bool:
    from lambda_emu.containers.embedded import oci_runtime

    return os.geteuid() == 0 and oci_runtime() is not None


def rows_to_run(image: str, *, sam: bool) -> list[tuple[str, list[str]]]:
    python = sys.executable
    rows = [
        ("floor: `python -c pass` (this venv)", [python, "-c", "pass"]),
        ("floor: `python -S -c pass` (no site, no .pth)", [python, "-S", "-c", "pass"]),
        (
            "floor: `docker run --rm --network host IMAGE true`",
            ["docker", "run", "--rm", "--network", "host", image, "true"],
        ),
        ("`lambda-emu invoke` (default: auto backend, server looked for)", _invoke()),
        ("`lambda-emu invoke --no-server` (Docker)", _invoke("--no-server", backend="docker")),
    ]
    if _embedded_ready():
        rows.append(
            ("`lambda-emu --backend embedded invoke --no-server`", _invoke("--no-server", backend="embedded"))
        )
    if sam:
        rows.append(
            (
                "`sam local invoke` (SAM CLI)",
                ["sam", "local", "invoke", FUNCTION, "-t", str(TEMPLATE), "-e", str(EVENT)],
            )
        )
    return rows


def measure(
    rows: list[tuple[str, list[str]]], runs: int, cwd: Path
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall ms and CPU ms (user + system of the command and the children it waited for) of each run."""
    samples: dict[str, list[float]] = {label: [] for label, _ in rows}
    cpu: dict[str, list[float]] = {label: [] for label, _ in rows}
    # As on a user's machine: the warm-up round leaves bytecode caches behind (this variable, set on some
    # CI machines, made every run compile every module of lambda-emu from source again).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    for round_ in range(
        runs + 1
    ):  # the first round warms caches (images, code extraction) and is not counted
        for label, command in rows:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
            elapsed = (time.perf_counter() - started) * 1000
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
            if done.returncode != 0:
                raise SystemExit(
                    f"{label} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}"
                )
            if round_:
                samples[label].append(elapsed)
                cpu[label].append(used)
    return samples, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="counted runs of each command (at least 7)")
    args = parser.parse_args()
    runs = max(7, args.runs)
    image = _runtime_image()
    sam = shutil.which("sam") is not None
    rows = rows_to_run(image, sam=sam)
    # A working directory of its own: no server of ours is found there, and the state dir is fresh.
    with tempfile.TemporaryDirectory(prefix="lambda-emu-cold-bench-") as cwd:
        samples, cpu = measure(rows, runs, Path(cwd))
    medians = {label: statistics.median(values) for label, values in samples.items()}
    floor = medians[rows[2][0]]
    print(
        f"\nlambda-emu cold bench: {FUNCTION} (python3.11), {runs} runs of each, in turn, "
        "after one warm-up round\n"
    )
    width = max(len(label) for label, _ in rows)
    print(f"| {'what':<{width}} | median ms | min ms | max ms | / docker run | CPU ms |")
    print(f"|{'-' * (width + 2)}|-----------|--------|--------|--------------|--------|")
    for label, _ in rows:
        values = samples[label]
        print(
            f"| {label:<{width}} | {medians[label]:>9.1f} | {min(values):>6.1f} | {max(values):>6.1f} | "
            f"{medians[label] / floor:>11.2f}x | {statistics.median(cpu[label]):>6.1f} |"
        )
    print(
        "\n(CPU ms: user + system time of the command and the processes it waited for, median; the "
        "engine's own work is not in it.\nOn a loaded machine the wall figures swing with the load, "
        "this one much less.)"
    )
    docker = medians[rows[4][0]]
    print(
        f"\ncold invoke on Docker: {docker:.0f} ms median (target <= {TARGET_MS:.0f} ms), "
        f"{docker - floor:+.0f} ms over docker run"
    )
    embedded = next((medians[label] for label, _ in rows if "embedded" in label), None)
    if embedded is not None:
        print(f"cold invoke on the embedded backend: {embedded:.0f} ms median (target <= 120 ms)")
    else:
        print("embedded backend: not measured (needs root and runc or crun)")
    if sam:
        sam_ms = medians[rows[-1][0]]
        print(f"`sam local invoke` / `lambda-emu invoke --no-server`: {sam_ms / docker:.2f}x (target >= 5x)")
    else:
        print("`sam local invoke`: not measured (the SAM CLI is not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
