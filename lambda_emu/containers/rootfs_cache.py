"""Runtime images' root file systems unpacked for the embedded backend: one folder per image id, exported
once from the Docker engine while one answers, found by tag (an index beside them) where none does."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lambda_emu.errors import ContainerError, ImageError

LOG = logging.getLogger(__name__)
_BASE_REPOSITORY = "lambda-emu-base/"  # the images layer's base images (containers may not import it)


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
                try:
                    image_id = self._tag_file(tag).read_text().strip()
                except OSError:
                    raise ImageError(
                        f"The root file system of {tag} is not unpacked here, and no Docker engine answers",
                        hint=(
                            "Run this once where a Docker engine answers (it unpacks the image into "
                            f"{self.folder}), or copy that folder from a machine where it ran."
                        ),
                    ) from None
            unpacked = self._load(image_id)
            if unpacked is None:
                unpacked = self._export(tag, image_id)
            self._tag_file(tag).parent.mkdir(parents=True, exist_ok=True)
            self._tag_file(tag).write_text(image_id + "\n")
            self._known[tag] = unpacked
            return unpacked

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
            runtime_id = tag.split("/")[-1].split(":")[0]
            raise ImageError(
                f"Image {tag} is missing", hint=f"Build it with: lambda-emu runtimes build {runtime_id}"
            )
        if not reply.ok:
            raise ImageError(f"Cannot inspect image {tag}: {reply.message}")
        return str(reply.json()["Id"])

    def _export(self, tag: str, image_id: str) -> UnpackedImage:
        from lambda_emu.containers.engine import LABEL, LABEL_VALUE, docker_client

        client = docker_client()
        final = self._dir(image_id)
        partial = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}")
        (partial / "rootfs").mkdir(parents=True)
        LOG.warning("unpacking %s for the embedded backend (once per image) into %s", tag, final)
        container = client.api.create_container(image_id, command=["true"], labels={LABEL: LABEL_VALUE})
        try:
            # --numeric-owner: the image's uids as they are, whatever this host's /etc/passwd says.
            tar = subprocess.Popen(
                ["tar", "--numeric-owner", "-xpf", "-", "-C", str(partial / "rootfs")],
                stdin=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert tar.stdin is not None
            try:
                for chunk in client.api.export(container["Id"]):
                    tar.stdin.write(chunk)
            finally:
                tar.stdin.close()
            if tar.wait() != 0:
                raise ImageError(
                    f"Cannot unpack {tag}: {tar.stderr.read().decode(errors='replace') if tar.stderr else ''}"
                )
            config = client.api.inspect_image(image_id).get("Config") or {}
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
        finally:
            client.api.remove_container(container["Id"], force=True)
        loaded = self._load(image_id)
        assert loaded is not None
        return loaded


class UnpackedImages:
    """The ImageBackend of a machine without a Docker engine: the runtime images unpacked here earlier
    are there; nothing can be built or pulled."""

    def __init__(self, cache: RootfsCache | None = None) -> None:
        self._cache = cache or RootfsCache()

    def _config(self, tag: str) -> dict[str, Any] | None:
        try:
            image_id = self._cache._tag_file(tag).read_text().strip()
        except OSError:
            return None
        loaded = self._cache._load(image_id)
        return None if loaded is None else loaded.config

    def exists(self, tag: str) -> bool:
        if tag.startswith(_BASE_REPOSITORY):
            # A base is only ever needed to build a runtime image, which cannot happen here: said by
            # `build`, at once, rather than after a Debian root file system was made for nothing.
            return True
        return self._config(tag) is not None

    def size(self, tag: str) -> int | None:
        return None

    def command(self, tag: str) -> tuple[str, ...] | None:
        cmd = (self._config(tag) or {}).get("Cmd")
        return tuple(cmd) if cmd else None

    def _cannot(self, what: str) -> ImageError:
        return ImageError(
            f"Cannot {what} without a Docker engine: the embedded backend runs images unpacked earlier",
            hint=(
                "Build the runtime images where a Docker engine answers and run an invoke there once (it "
                f"unpacks them into {self._cache.folder}), or copy that folder here."
            ),
        )

    def import_tar(self, tar_path: Path, tag: str, **_: Any) -> None:
        raise self._cannot(f"make {tag}")

    def build(self, context_dir: Path, tag: str, **_: Any) -> None:
        raise self._cannot(f"build {tag}")

    def pull(self, ref: str) -> None:
        raise self._cannot(f"pull {ref}")
