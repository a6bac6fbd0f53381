"""Cold and warm invokes per runtime family (python, nodejs, provided, ruby) on lambda-emu's own images,
beside each image's floor (`docker run --rm --network host IMAGE true`) measured in the same run. Run with
`make bench` (or alone: python bench/runtimes_bench.py)."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench.py beside this file, run as a script

from bench import docker_run_floor, percentile, print_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_functions"


@dataclass(frozen=True)
class Case:
    family: str
    runtime: str
    template: Path | None  # None: the C custom runtime of sample_functions/provided_c, built here with gcc
    function: str
    label: str = ""


# One small handler per family: each answers from its event with one log line. The OS-only runtimes twice:
# the sample shell runtime (curl per request) and a native one (C), to show what is the bootstrap's own.
CASES = (
    Case("python", "python3.13", SAMPLES / "template.yaml", "EchoFunction"),
    Case("nodejs", "nodejs22.x", SAMPLES / "template.yaml", "NodeHelloFunction"),
    Case("provided", "provided.al2023", SAMPLES / "template.yaml", "ProvidedFunction", "shell bootstrap"),
    Case("provided", "provided.al2", None, "CFunction", "C bootstrap"),
    Case("ruby", "ruby3.3", SAMPLES / "ruby" / "template.yaml", "RubyFunction"),
)


def c_function(folder: Path):  # type: ignore[no-untyped-def]
    """The C custom runtime, compiled statically into `folder` (None when gcc is missing)."""
    from lambda_emu.config import FunctionConfig

    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    source = SAMPLES / "provided_c" / "bootstrap.c"
    # capture_output: ld warns that a static getaddrinfo loads the image's NSS modules for host names.
    subprocess.run(
        [gcc, "-O2", "-static", "-o", str(folder / "bootstrap"), str(source)], check=True, capture_output=True
    )
    return FunctionConfig(name="CFunction", runtime="provided.al2", handler="bootstrap", code_path=folder)


def measure(
    case: Case,
    function,
    cold_runs: int,
    warm_runs: int,  # type: ignore[no-untyped-def]
) -> tuple[list[float], list[float], str]:
    """Wall times of cold invokes (a new environment each: the previous one retired, as after an update)
    and of warm ones, in process through the facade. The CPU quota is off and memory 1,024 MB for every
    family: the same share of the machine for all, so the rows compare runtimes rather than quotas."""
    from lambda_emu.config import EmulatorConfig
    from lambda_emu.containers.docker import DockerBackend
    from lambda_emu.facade import Emulator
    from lambda_emu.images.runtimes import local_image_builder

    config = replace(EmulatorConfig(state_dir=ROOT / ".lambda-emu"), cpu_limit=False)
    function = replace(function, runtime=case.runtime, memory_size=1024)
    cold: list[float] = []
    warm: list[float] = []
    with Emulator(config, backend=DockerBackend(), images=local_image_builder()) as emu:
        image = emu.runtime_image(function.runtime).image  # built now when missing, before any timing
        for _ in range(cold_runs + 1):  # the first one warms the engine's caches: not counted
            emu.retire(function.name)
            started = time.perf_counter()
            result = emu.invoke(function, emu.invocation(function, b'{"bench": 1}'))
            cold.append((time.perf_counter() - started) * 1000)
            if result.failed or result.init_duration_ms is None:
                raise SystemExit(f"{case.runtime}: the cold invoke was not a good cold start: {result}")
        for _ in range(warm_runs):
            started = time.perf_counter()
            result = emu.invoke(function, emu.invocation(function, b'{"bench": 1}'))
            warm.append((time.perf_counter() - started) * 1000)
            if result.failed or result.init_duration_ms is not None:
                raise SystemExit(f"{case.runtime}: the warm invoke was not warm: {result}")
    return cold[1:], warm, image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--warm-runs", type=int, default=200)
    parser.add_argument("--family", action="append", help="only these families (repeatable)")
    args = parser.parse_args()

    from lambda_emu.config import EmulatorConfig
    from lambda_emu.template import load_template

    rows = []
    ratios = []
    for case in CASES:
        if args.family and case.family not in args.family:
            continue
        with tempfile.TemporaryDirectory(prefix="runtimes-bench-") as tmp:
            if case.template is None:
                code = Path(tmp) / "code"  # 0755, unlike the 0700 temporary folder: the runtime user reads it
                code.mkdir()
                function = c_function(code)
                if function is None:
                    print(f"skipped {case.runtime} ({case.label}): gcc is not installed", file=sys.stderr)
                    continue
            else:
                config = EmulatorConfig(state_dir=ROOT / ".lambda-emu")
                function = load_template(case.template, emulator=config).function(case.function)
            cold, warm, image = measure(case, function, args.cold_runs, args.warm_runs)
        floor = docker_run_floor(image, args.cold_runs)
        name = f"{case.family} ({case.runtime}{', ' + case.label if case.label else ''})"
        rows += [
            (f"{name}: cold invoke", statistics.median(cold), max(cold), ""),
            (f"{case.family}: floor `docker run --rm IMAGE true`", statistics.median(floor), max(floor), ""),
            (f"{case.family}: warm invoke", statistics.median(warm), percentile(warm, 0.99), ""),
        ]
        ratios.append((case.label or case.family, statistics.median(cold) / statistics.median(floor)))
    print(
        f"\nlambda-emu runtimes bench: one small handler per family, 1,024 MB, CPU quota off, "
        f"{args.cold_runs} cold / {args.warm_runs} warm runs (wall time, in process)\n"
    )
    print_table(("what", "median ms", "p99/max ms", "target"), (56, 10, 12), rows)
    print("\ncold invoke / docker-run floor: " + "   ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
