"""What a runtime image carries beside its interpreter, fetched on the host (builds run offline): the AWS
SDK as Lambda ships it (boto3 for Python, SDK for JavaScript v3 for Node.js) and, for Node.js, the official
binaries npm publishes as `node-linux-<arch>`. Each set is fetched once into the user's cache, keyed by its
pins, and copied into the build context as `vendor/`, laid out as it lands under /var (runtime/, lang/)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lambda_emu.errors import ImageError

LOG = logging.getLogger(__name__)
LineSink = Callable[[str], None]
VENDOR_DIR = "vendor"  # the folder of a build context the Dockerfiles COPY to /var


@dataclass(frozen=True)
class VendorSet:
    """One image's extras: `pip` requirements (unpacked into runtime/), `npm` packages (runtime/node_modules),
    `node` an npm package with Node's official binaries (unpacked into lang/)."""

    python_version: str | None = None  # pip's --python-version, for the wheels' tags
    pip: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()
    node: str | None = None

    def __bool__(self) -> bool:
        return bool(self.pip or self.npm or self.node)

    @property
    def key(self) -> str:
        """What the image tag hashes: the pins, not the bytes, so nothing is fetched to name an image."""
        return f"py={self.python_version} pip={','.join(self.pip)} npm={','.join(self.npm)} node={self.node}"


class VendorFetcher(Protocol):
    def stage(self, wanted: VendorSet, dest: Path, on_line: LineSink) -> None:
        """Fill `dest` (an existing, empty folder) with runtime/ and lang/ as they go under /var."""
        ...


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-emu" / "vendor"


class HostFetcher:
    """VendorFetcher running pip (this interpreter's) and npm on the host, caching what they fetched."""

    def __init__(self, cache: Path | None = None, *, platform: str = "manylinux2014_x86_64") -> None:
        self._cache = cache or cache_root()
        self._platform = platform

    def stage(self, wanted: VendorSet, dest: Path, on_line: LineSink) -> None:
        if not wanted:
            return
        shutil.copytree(self.fetch(wanted, on_line), dest, symlinks=True, dirs_exist_ok=True)

    def fetch(self, wanted: VendorSet, on_line: LineSink) -> Path:
        """The cached folder of `wanted` (runtime/ and lang/), fetched first when missing."""
        digest = hashlib.sha256(f"{wanted.key} platform={self._platform}".encode()).hexdigest()[:16]
        ready = self._cache / digest
        if not ready.is_dir():
            on_line(f"fetching {wanted.key} into {ready}")
            self._cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="fetch-", dir=self._cache) as tmp:
                work = Path(tmp)
                tree = work / "tree"
                (tree / "runtime").mkdir(parents=True)
                (tree / "lang").mkdir()
                if wanted.pip:
                    self._pip(wanted, work / "wheels", tree / "runtime", on_line)
                if wanted.npm:
                    self._npm_install(wanted.npm, tree / "runtime", on_line)
                if wanted.node:
                    self._node(wanted.node, work, tree / "lang", on_line)
                try:
                    tree.rename(ready)  # atomic: a concurrent fetch of the same set just loses the race
                except OSError:
                    if not ready.is_dir():
                        raise
        return ready

    def _pip(self, wanted: VendorSet, wheels: Path, target: Path, on_line: LineSink) -> None:
        version = wanted.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
        _run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--only-binary=:all:", "--platform", self._platform, "--python-version", version,
                "--implementation", "cp", "-d", str(wheels), *wanted.pip,
            ],
            on_line,
        )  # fmt: skip
        import zipfile  # here: an image build needs it, an invoke does not

        # A wheel is a zip of its installed tree: unpacking it is installing it (no entry points needed).
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)

    @staticmethod
    def _npm_install(packages: Sequence[str], target: Path, on_line: LineSink) -> None:
        npm = _npm()
        _run(
            [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--omit=dev", *packages],
            on_line,
        )
        for leftover in ("package.json", "package-lock.json"):
            (target / leftover).unlink(missing_ok=True)

    @staticmethod
    def _node(package: str, work: Path, target: Path, on_line: LineSink) -> None:
        import tarfile  # here: an image build needs it (~1.5-8 ms to import), an invoke does not

        _run([_npm(), "pack", "--silent", "--pack-destination", str(work), package], on_line)
        tarballs = sorted(work.glob("node-linux-*.tgz"))
        if not tarballs:
            raise ImageError(f"npm pack {package} left no tarball in {work}.")
        with tarfile.open(tarballs[0]) as archive:
            if hasattr(tarfile, "tar_filter"):  # Python 3.12, and 3.10.12/3.11.4 on: no links out of `work`
                archive.extractall(work / "node", filter="tar")
            else:
                archive.extractall(work / "node")  # noqa: S202 (npm's own tarball of a pinned package)
        # bin/node and its licence; the C headers (include/) and docs are two thirds of the package and
        # nothing at run time reads them.
        unpacked = work / "node" / "package"
        shutil.copytree(unpacked / "bin", target / "bin", symlinks=True, dirs_exist_ok=True)
        if (unpacked / "LICENSE").is_file():
            shutil.copy2(unpacked / "LICENSE", target / "LICENSE")
        if not (target / "bin" / "node").is_file():
            raise ImageError(f"{package} holds no bin/node.")


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ImageError(
            "npm is not installed: it fetches the AWS SDK for JavaScript and Node.js for the Node.js images.",
            hint="Install npm (apt-get install npm), or use an image that has them: --base <image>.",
        )
    return npm


def _run(command: list[str], on_line: LineSink) -> None:
    LOG.info("running %s", " ".join(command))
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip():
            on_line(line)
    if proc.returncode != 0:
        tail = "\n".join(f"  {line}" for line in (proc.stdout + proc.stderr).splitlines()[-15:])
        raise ImageError(
            f"{' '.join(command[:4])} ... failed (exit status {proc.returncode}):\n{tail}",
            hint="It needs the package registry (PyPI or npm) once; what it fetched is cached after that.",
        )
