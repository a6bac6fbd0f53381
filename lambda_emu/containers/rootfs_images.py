"""The ImageBackend of a machine without a Docker engine: runtime images made as folders of the rootfs cache,
under the same tags: a root file system tarball unpacked (the Debian base), a Dockerfile's steps replayed
into a copy of its base (COPY copies, RUN runs in a chroot of it) for the runtime image."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lambda_emu.containers.rootfs_cache import RootfsCache, unpack_tar
from lambda_emu.errors import ImageError

LOG = logging.getLogger(__name__)
_CHUNK = 1 << 20
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Docker's default
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def folder_image_id(tag: str) -> str:
    """The id of an image made here: from its tag, whose hash already names every input of the build."""
    return "folder-" + hashlib.sha256(tag.encode()).hexdigest()


class FolderImages:
    """ImageBackend writing images into the rootfs cache. Needs root (ownership as in the image, chroot);
    replays the instructions lambda-emu's own Dockerfiles use, nothing else. Nothing can be pulled."""

    def __init__(self, cache: RootfsCache | None = None) -> None:
        self._cache = cache or RootfsCache()

    def exists(self, tag: str) -> bool:
        return self._cache.lookup(tag) is not None

    def size(self, tag: str) -> int | None:
        found = self._cache.lookup(tag)
        if found is None:
            return None
        try:
            return int((found.root.parent / "size").read_text())
        except (OSError, ValueError):
            return 0

    def command(self, tag: str) -> tuple[str, ...] | None:
        found = self._cache.lookup(tag)
        cmd = (found.config if found else {}).get("Cmd")
        return tuple(cmd) if cmd else None

    def import_tar(
        self, tar_path: Path, tag: str, *, labels: Mapping[str, str], changes: Sequence[str] = ()
    ) -> None:
        def fill(rootfs: Path) -> dict[str, Any]:
            with tar_path.open("rb") as tar:
                unpack_tar(iter(lambda: tar.read(_CHUNK), b""), rootfs, what=tar_path.name)
            steps = Replay(rootfs, Path("/nonexistent"), {})
            for line in changes:
                steps.run(line)
            _write_size(rootfs)
            return steps.config(labels)

        LOG.info("unpacking %s as %s into the rootfs cache", tar_path.name, tag)
        self._cache.add(tag, folder_image_id(tag), fill)

    def build(
        self,
        context_dir: Path,
        tag: str,
        *,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        say = on_line or (lambda line: None)
        lines = dockerfile_instructions((context_dir / "Dockerfile").read_text())

        def fill(rootfs: Path) -> dict[str, Any]:
            steps = Replay(rootfs, context_dir, dict(buildargs), self._base_of, say)
            for line in lines:
                steps.run(line)
            _write_size(rootfs)
            return steps.config(labels)

        self._cache.add(tag, folder_image_id(tag), fill)

    def _base_of(self, tag: str) -> tuple[Path, dict[str, Any]]:
        found = self._cache.lookup(tag)
        if found is None:
            raise ImageError(f"The base image {tag} is not in the rootfs cache {self._cache.folder}")
        return found.root, found.config

    def pull(self, ref: str) -> None:
        raise ImageError(
            f"Cannot pull {ref}: no Docker engine answers, and the embedded backend makes images itself",
            hint="Build from Debian packages (the default base): lambda-emu runtimes build RUNTIME",
        )


def dockerfile_instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, one string each: continuation lines joined, comments dropped (also
    inside a continued instruction, as Docker drops them)."""
    instructions: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        instructions.append(current + line)
        current = ""
    if current.strip():
        instructions.append(current.strip())
    return instructions


class Replay:
    """One image's build, instruction by instruction, into `rootfs` (a folder being filled)."""

    def __init__(
        self,
        rootfs: Path,
        context: Path,
        buildargs: dict[str, str],
        base_of: Callable[[str], tuple[Path, dict[str, Any]]] | None = None,
        on_line: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.rootfs = rootfs
        self.context = context
        self.args = dict(buildargs)  # build arguments in scope, given or declared with a default
        self._given = buildargs
        self._base_of = base_of
        self._say = on_line
        self.env: dict[str, str] = {}
        self.cmd: list[str] | None = None
        self.workdir = "/"
        self.labels: dict[str, str] = {}

    def config(self, labels: Mapping[str, str]) -> dict[str, Any]:
        """The image's Config, as `docker inspect` names its fields."""
        return {
            "Env": [f"{key}={value}" for key, value in self.env.items()],
            "Cmd": self.cmd,
            "WorkingDir": self.workdir if self.workdir != "/" else "",
            "Labels": {**self.labels, **labels},
            "User": "",
        }

    def run(self, instruction: str) -> None:
        keyword, _, rest = instruction.partition(" ")
        handler = getattr(self, f"_{keyword.lower()}", None)
        if handler is None:
            raise ImageError(
                f"Cannot replay the Dockerfile instruction {keyword} without a Docker engine",
                hint="Build this image where a Docker engine answers.",
            )
        self._say(f"{keyword} {rest.strip()}"[:200])
        handler(rest.strip())

    def _expand(self, text: str) -> str:
        values = {**self.args, **self.env}
        return _VARIABLE.sub(lambda m: values.get(m[1] or m[2], ""), text)

    def _arg(self, rest: str) -> None:
        name, _, default = rest.partition("=")
        self.args[name] = self._given.get(name, default)

    def _from(self, rest: str) -> None:
        if self._base_of is None:
            raise ImageError("FROM is not allowed in an imported tarball's changes")
        base_root, base_config = self._base_of(self._expand(rest.split()[0]))
        # cp -a keeps owners, modes, links and hard links; the empty target folder gets the base's content.
        done = subprocess.run(
            ["cp", "-a", "--reflink=auto", f"{base_root}/.", str(self.rootfs)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise ImageError(f"Cannot copy the base {rest}: {done.stderr.strip()}")
        for item in base_config.get("Env") or []:
            key, _, value = item.partition("=")
            self.env[key] = value
        self.cmd = base_config.get("Cmd")
        self.workdir = base_config.get("WorkingDir") or "/"

    def _label(self, rest: str) -> None:
        for item in shlex.split(self._expand(rest)):
            key, _, value = item.partition("=")
            self.labels[key] = value

    def _env(self, rest: str) -> None:
        words = shlex.split(rest)
        if words and "=" not in words[0]:  # the old form: ENV KEY value with spaces
            self.env[words[0]] = self._expand(rest.split(None, 1)[1] if len(words) > 1 else "")
            return
        for item in words:
            key, _, value = item.partition("=")
            self.env[key] = self._expand(value)

    def _workdir(self, rest: str) -> None:
        self.workdir = os.path.join(self.workdir, self._expand(rest))
        self._inside(self.workdir).mkdir(parents=True, exist_ok=True)

    def _cmd(self, rest: str) -> None:
        self.cmd = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]

    def _copy(self, rest: str) -> None:
        *sources, dest = shlex.split(self._expand(rest))
        if not sources or any(s.startswith("--") for s in sources):
            raise ImageError(f"Cannot replay COPY {rest} without a Docker engine")
        into_folder = dest.endswith("/") or len(sources) > 1
        for source in sources:
            origin = (self.context / source).resolve()
            if not origin.is_relative_to(self.context.resolve()) or not origin.exists():
                raise ImageError(f"COPY {source}: not in the build context {self.context}")
            if origin.is_dir():  # a folder's content, not the folder itself, as Docker's COPY
                target = self._inside(os.path.join(self.workdir, dest))
                shutil.copytree(origin, target, symlinks=True, dirs_exist_ok=True)
                _own_by_root(target, origin)
                continue
            target = self._inside(os.path.join(self.workdir, dest, origin.name if into_folder else ""))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target, follow_symlinks=False)
            os.lchown(target, 0, 0)

    def _run(self, rest: str) -> None:
        argv = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
        # chroot's own shell enters the working folder, then execs the instruction as Docker would.
        enter = [
            "chroot",
            str(self.rootfs),
            "/bin/sh",
            "-c",
            'cd "$1" && shift && exec "$@"',
            "sh",
            self.workdir,
        ]
        # A build argument is in RUN's environment, as Docker passes it; ENV values win.
        env = {**self.args, "HOME": "/root", "PATH": _PATH, **self.env}
        proc = subprocess.Popen(
            [*enter, *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        tail: list[str] = []
        try:
            for line in proc.stdout:
                tail = [*tail[-14:], line.rstrip()]
                self._say(line.rstrip())
        except BaseException:  # Ctrl-C included: the step ends before its folder is removed
            proc.kill()
            proc.wait()
            raise
        if proc.wait() != 0:
            shown = "\n".join(f"  {line}" for line in tail)
            raise ImageError(f"RUN failed (exit status {proc.returncode}): {rest[:200]}\n{shown}")

    def _inside(self, path: str) -> Path:
        """`path` of the image, as a host path under rootfs; the image's own links never lead out of it."""
        target = self.rootfs / os.path.normpath(path).lstrip("/")
        parent = target.parent.resolve()
        if parent.is_relative_to(self.rootfs.resolve()):
            return parent / target.name
        raise ImageError(f"{path} leads out of the image being built")


def _own_by_root(target: Path, origin: Path) -> None:
    """What COPY copied is root's (Docker's default owner), and only that: not what the image had there."""
    for path in _copied(target, origin):
        os.lchown(path, 0, 0)


def _copied(target: Path, origin: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(origin):
        relative = Path(folder).relative_to(origin)
        for name in [*dirs, *files]:
            yield target / relative / name


def _write_size(rootfs: Path) -> None:
    total = 0
    for folder, _dirs, files in os.walk(rootfs):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    (rootfs.parent / "size").write_text(str(total))
