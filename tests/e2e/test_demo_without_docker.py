"""The README's main job, `make demo`, on a machine without a Docker engine: its invoke, run as the Makefile
runs it with the engine unreachable for that process, picks the embedded backend (`--backend auto`), builds
the runtime's root file system itself (mmdebstrap and the image build's steps replayed, no engine) and
answers. The shared engine is never stopped: DOCKER_HOST names a socket that does not exist."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]


def demo_command() -> list[str]:
    """The `lambda-emu invoke` line of the Makefile's demo target, as make runs it."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("demo:")))
    recipe = [line.strip() for line in lines[start + 1 :] if line.startswith("\t")]
    invoke = next(line for line in recipe if "lambda-emu invoke" in line)
    words = shlex.split(invoke)
    return words[words.index("lambda-emu") :]


@pytest.fixture
def caches(tmp_path: Path) -> Iterator[Path]:
    """Where the root file systems go; removed afterwards (three of them, some 150 MB each)."""
    yield tmp_path
    for name in ("rootfs", "exported"):
        shutil.rmtree(tmp_path / name, ignore_errors=True)


@pytest.mark.usefixtures("embedded_host")
def test_the_demo_invoke_runs_on_the_embedded_backend_without_a_docker_engine(caches: Path) -> None:
    tmp_path = caches
    command = demo_command()
    assert command[:2] == ["lambda-emu", "invoke"], command
    cache = tmp_path / "rootfs"  # empty: nothing exported from an engine earlier can be used
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "LAMBDA_EMU_ROOTFS_CACHE": str(cache),
    }
    env.pop("LAMBDA_EMU_BACKEND", None)
    state = ["--state-dir", str(tmp_path / "state")]
    doctor = subprocess.run(
        ["lambda-emu", *state, "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert "docker engine: not reachable" in doctor.stdout, doctor.stdout + doctor.stderr
    assert f"no Docker engine: the embedded backend builds runtime images into {cache}" in doctor.stdout
    done = subprocess.run(
        ["lambda-emu", "--debug", "--backend", "auto", *state, *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # the first run makes the Debian base with mmdebstrap (about a minute)
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout) == {"message": "Hello, lambda-emu!"}
    assert "saying hello to lambda-emu" in done.stderr
    assert "container backend: embedded" in done.stderr
    # The runtime image, under the tag a Docker build gives it, is a folder of the cache made here.
    tags = {path.name for path in (cache / "tags").iterdir()}
    (runtime,) = [tag for tag in tags if tag.startswith(quote("lambda-emu/python3.11:", safe=""))]
    image_id = (cache / "tags" / runtime).read_text().strip()
    assert image_id.startswith("folder-"), image_id
    config = json.loads((cache / image_id / "config.json").read_text())
    assert config["Cmd"] == ["/var/runtime/bootstrap"]
    assert (cache / image_id / "rootfs" / "var" / "runtime" / "boto3").is_dir()
    # And it holds what the Docker engine's build of the same tag holds, file for file: the same paths,
    # types, modes, owners and sizes (an engine answers this test process, not the invoke above).
    from lambda_emu.containers.rootfs_cache import RootfsCache

    exported = RootfsCache(tmp_path / "exported").get(unquote(runtime))
    built = listing(cache / image_id / "rootfs")
    assert built["var/runtime/bootstrap"][1:4] == (0o755, 0, 0), built["var/runtime/bootstrap"]
    assert built == listing(exported.root)
    assert {k: config[k] for k in ("Env", "Cmd", "WorkingDir")} == {
        k: exported.config[k] for k in ("Env", "Cmd", "WorkingDir")
    }


# What an engine's container export adds that is no part of the image's build.
EXPORT_ONLY = {".dockerenv", "etc/mtab"}


def listing(root: Path) -> dict[str, tuple[str, int, int, int, int]]:
    """path → (type, mode, uid, gid, size) of every file under `root`; /dev, which the embedded backend
    mounts a tmpfs over, and the files it binds over are left out."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if relative in EXPORT_ONLY or relative.startswith("dev/") or relative in BOUND:
                continue
            info = path.lstat()
            kind = stat.S_IFMT(info.st_mode)
            size = info.st_size if stat.S_ISREG(info.st_mode) else 0
            found[relative] = (oct(kind), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, size)
    return found


BOUND = {"etc/hosts", "etc/hostname", "etc/resolv.conf"}


@pytest.mark.usefixtures("embedded_host")
def test_the_demo_set_up_takes_the_embedded_backend_where_no_engine_answers(tmp_path: Path) -> None:
    # DOCKER_UP names no script: a machine of a user's, where nothing would start an engine.
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    make = ["make", "--no-print-directory", "-C", str(ROOT), "docker", f"DOCKER_UP={tmp_path}/none.sh"]
    auto = subprocess.run(make, env=env, capture_output=True, text=True, timeout=120)
    assert auto.returncode == 0, auto.stderr
    assert "the embedded backend (runc) runs the functions instead" in auto.stderr
    docker = subprocess.run([*make, "BACKEND=docker"], env=env, capture_output=True, text=True, timeout=120)
    assert docker.returncode != 0
    assert "No Docker engine answers: start Docker" in docker.stderr
