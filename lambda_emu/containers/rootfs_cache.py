"""Runtime images' root file systems unpacked for the embedded backend: one folder per image id, exported
once from the Docker engine while one answers, or made here without one (rootfs_images.py); found by tag
(an index beside them) where no engine answers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lambda_emu.errors import ContainerError, ImageError

LOG = logging.getLogger(__name__)


def default_cache() -> Path:
    configured = os.environ.get("LAMBDA_EMU_ROOTFS_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-emu" / "rootfs"


@dataclass(frozen=True)
class UnpackedImage:
    image_id: str
    root: Path  # the root file system
    config: dict[str, Any]  # the image's Config (Env, Cmd, Entrypoint, WorkingDir, User)


class RootfsCache:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_cache()
        self._lock = threading.Lock()
        self._known: dict[str, UnpackedImage] = {}

    def _tag_file(self, tag: str) -> Path:
        return self.folder / "tags" / quote(tag, safe="")

    def get(self, tag: str) -> UnpackedImage:
        """The unpacked image of `tag`, exported from the Docker engine first when it is not cached yet (or
        the tag now names another image)."""
        with self._lock:
            known = self._known.get(tag)
            if known is not None:
                return known
            image_id = self._engine_id(tag)
            if image_id is None:  # no engine: the last image this tag named here
                found = self.lookup(tag)
                if found is None:
                    raise ImageError(
                        f"The root file system of {tag} is not unpacked here, and no Docker engine answers",
                        hint=f"Build it without an engine: lambda-emu runtimes build {_runtime_of(tag)}",
                    )
                self._known[tag] = found
                return found
            unpacked = self._load(image_id) or self._export(tag, image_id)
            self._name(tag, image_id)
            self._known[tag] = unpacked
            return unpacked

    def lookup(self, tag: str) -> UnpackedImage | None:
        """The image `tag` last named here, if it is still unpacked; never asks an engine."""
        try:
            image_id = self._tag_file(tag).read_text().strip()
        except OSError:
            return None
        return self._load(image_id)

    def _name(self, tag: str, image_id: str) -> None:
        self._tag_file(tag).parent.mkdir(parents=True, exist_ok=True)
        self._tag_file(tag).write_text(image_id + "\n")

    def add(self, tag: str, image_id: str, fill: Callable[[Path], dict[str, Any]]) -> UnpackedImage:
        """Unpack a new image: `fill` writes the root file system into the folder it is given and returns
        the image's Config. Made beside the cache and renamed into place, so a half-made image is never
        found; then `tag` names it."""
        final = self._dir(image_id)
        partial = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}")
        (partial / "rootfs").mkdir(parents=True)
        try:
            config = fill(partial / "rootfs")
            # Mount points the embedded backend binds over, so a read-only root never needs them made.
            for folder in ("var/task", "opt", "tmp", "proc", "sys", "dev"):
                (partial / "rootfs" / folder).mkdir(parents=True, exist_ok=True)
            for file in ("etc/hosts", "etc/hostname", "etc/resolv.conf"):
                (partial / "rootfs" / file).touch(exist_ok=True)
            (partial / "config.json").write_text(json.dumps(config))
            try:
                partial.rename(final)
            except OSError:  # another process unpacked it meanwhile
                shutil.rmtree(partial, ignore_errors=True)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        loaded = self._load(image_id)
        assert loaded is not None
        self._name(tag, image_id)
        return loaded

    def _dir(self, image_id: str) -> Path:
        return self.folder / image_id.replace("sha256:", "")

    def _load(self, image_id: str) -> UnpackedImage | None:
        here = self._dir(image_id)
        try:
            config = json.loads((here / "config.json").read_text())
        except (OSError, ValueError):
            return None
        return UnpackedImage(image_id, here / "rootfs", config)

    def _engine_id(self, tag: str) -> str | None:
        """The image id the engine knows `tag` by; None when no engine answers. Over the Engine API
        transport (no docker SDK: importing it and its version handshake took ~100 ms of every cold
        invoke on this backend)."""
        from lambda_emu.containers.engine import engine

        try:
            transport = engine()
        except ContainerError:
            return None
        try:
            reply = transport.call("GET", f"/images/{tag}/json")
        except OSError as exc:
            raise ImageError(f"Cannot inspect image {tag}: {exc}") from exc
        if reply.status == 404:
            raise ImageError(
                f"Image {tag} is missing", hint=f"Build it with: lambda-emu runtimes build {_runtime_of(tag)}"
            )
        if not reply.ok:
            raise ImageError(f"Cannot inspect image {tag}: {reply.message}")
        return str(reply.json()["Id"])

    def _export(self, tag: str, image_id: str) -> UnpackedImage:
        from lambda_emu.containers.engine import LABEL, LABEL_VALUE, docker_client

        client = docker_client()
        LOG.warning(
            "unpacking %s for the embedded backend (once per image) into %s", tag, self._dir(image_id)
        )
        container = client.api.create_container(image_id, command=["true"], labels={LABEL: LABEL_VALUE})

        def fill(rootfs: Path) -> dict[str, Any]:
            unpack_tar(client.api.export(container["Id"]), rootfs, what=tag)
            return client.api.inspect_image(image_id).get("Config") or {}

        try:
            return self.add(tag, image_id, fill)
        finally:
            client.api.remove_container(container["Id"], force=True)


def unpack_tar(chunks: Iterable[bytes], rootfs: Path, *, what: str) -> None:
    """Unpack a tar stream into `rootfs` as root, owners by number: the image's uids as they are, whatever
    this host's /etc/passwd says."""
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-xpf", "-", "-C", str(rootfs)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tar.stdin is not None and tar.stderr is not None
    try:
        for chunk in chunks:
            tar.stdin.write(chunk)
    finally:
        tar.stdin.close()
    errors = tar.stderr.read().decode(errors="replace")
    if tar.wait() != 0:
        raise ImageError(f"Cannot unpack {what}: {errors.strip()}")


def _runtime_of(tag: str) -> str:
    return tag.split("/")[-1].split(":")[0]
