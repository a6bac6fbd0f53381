"""Runtime images in the engine: the image backend interface and its Docker implementation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lambda_emu.containers.engine import docker_client, engine
from lambda_emu.errors import ImageError

if TYPE_CHECKING:
    import docker

LOG = logging.getLogger(__name__)

# Words in the engine's pull error when no registry answers at all (DNS, routing, proxy).
_OFFLINE_SIGNS = ("no such host", "dial tcp", "i/o timeout", "connection refused", "network is unreachable")
_OUTPUT_TAIL = 15  # build output lines quoted in an ImageError


class ImageBackend(Protocol):
    """What ImageBuilder needs from an image store. Errors are ImageError (or ContainerError: no engine)."""

    def exists(self, tag: str) -> bool: ...

    def import_tar(
        self, tar_path: Path, tag: str, *, labels: Mapping[str, str], changes: Sequence[str] = ()
    ) -> None:
        """Make an image of a root filesystem tarball; `changes` are Dockerfile lines (ENV, CMD...)."""
        ...

    def build(
        self,
        context_dir: Path,
        tag: str,
        *,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        """Build `context_dir`'s Dockerfile on host networking, passing each output line to `on_line`."""
        ...

    def size(self, tag: str) -> int | None:
        """Bytes of the image, None when it is absent."""
        ...

    def pull(self, ref: str) -> None: ...

    def command(self, tag: str) -> tuple[str, ...] | None:
        """The image's own CMD (None when it has none or the image is absent)."""
        ...


class DockerImages:
    """ImageBackend over the local Docker engine. Inspecting (every invoke) goes over the Engine API
    transport; builds, imports and pulls through the SDK's client, made on first use."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._sdk = client

    @property
    def _client(self) -> docker.DockerClient:
        if self._sdk is None:
            self._sdk = docker_client()
        return self._sdk

    def exists(self, tag: str) -> bool:
        return self._inspect(tag) is not None

    def size(self, tag: str) -> int | None:
        attrs = self._inspect(tag)
        return None if attrs is None else int(attrs.get("Size") or 0)

    def command(self, tag: str) -> tuple[str, ...] | None:
        attrs = self._inspect(tag)
        cmd = ((attrs or {}).get("Config") or {}).get("Cmd")
        return tuple(cmd) if cmd else None

    def _inspect(self, tag: str) -> dict[str, Any] | None:
        if self._sdk is not None:  # a client given by the caller: its engine, not DOCKER_HOST's
            return self._inspect_sdk(tag)
        try:
            reply = engine().call("GET", f"/images/{tag}/json")
        except OSError as exc:
            raise ImageError(f"Cannot inspect image {tag}: {exc}") from exc
        if reply.status == 404:
            return None
        if not reply.ok:
            raise ImageError(f"Cannot inspect image {tag}: {reply.message}")
        return reply.json()  # type: ignore[no-any-return]

    def _inspect_sdk(self, tag: str) -> dict[str, Any] | None:
        import docker.errors

        try:
            return self._client.api.inspect_image(tag)  # type: ignore[no-any-return]
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise ImageError(f"Cannot inspect image {tag}: {exc.explanation or exc}") from exc

    def import_tar(
        self, tar_path: Path, tag: str, *, labels: Mapping[str, str], changes: Sequence[str] = ()
    ) -> None:
        import docker.errors

        repository, version = split_reference(tag)
        lines = [*changes, *(f'LABEL {key}="{value}"' for key, value in labels.items())]
        try:
            # A path is streamed by the client, so the engine needs no access to this file system.
            self._client.api.import_image_from_file(
                str(tar_path), repository=repository, tag=version, changes=lines
            )
        except (docker.errors.APIError, OSError) as exc:
            raise ImageError(f"Cannot import {tar_path.name} as image {tag}: {_explain(exc)}") from exc
        if not self.exists(tag):
            raise ImageError(f"Importing {tar_path.name} as {tag} reported success but no image appeared.")

    def build(
        self,
        context_dir: Path,
        tag: str,
        *,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        import docker.errors

        tail: list[str] = []
        try:
            stream = self._client.api.build(
                path=str(context_dir),
                tag=tag,
                buildargs=dict(buildargs),
                labels=dict(labels),
                # The engine here has no bridge network, and nothing in a build needs the internet.
                network_mode="host",
                pull=False,
                rm=True,
                forcerm=True,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    raise ImageError(_build_failure(tag, str(detail).strip(), tail))
                for line in str(chunk.get("stream", "")).splitlines():
                    if line.strip():
                        tail = [*tail[-(_OUTPUT_TAIL - 1) :], line]
                        if on_line:
                            on_line(line)
        except docker.errors.APIError as exc:
            raise ImageError(_build_failure(tag, _explain(exc), tail)) from exc
        if not self.exists(tag):
            raise ImageError(_build_failure(tag, "the build ended without producing the image", tail))

    def pull(self, ref: str) -> None:
        import docker.errors

        repository, tag = split_reference(ref)
        try:
            self._client.api.pull(repository, tag=tag)
        except docker.errors.APIError as exc:
            detail = _explain(exc)
            if any(sign in detail for sign in _OFFLINE_SIGNS):
                raise ImageError(
                    f"Cannot pull {ref}: no registry is reachable ({detail}).",
                    hint="Build the base from Debian packages instead, with --base debian.",
                ) from exc
            raise ImageError(f"Cannot pull {ref}: {detail}") from exc
        if not self.exists(ref):  # some registry errors arrive inside a 200 response's body
            raise ImageError(f"Pulling {ref} ended without the image appearing.")


def _explain(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def _build_failure(tag: str, reason: str, tail: list[str]) -> str:
    shown = "\n".join(f"  {line}" for line in tail)
    return f"Building image {tag} failed: {reason}" + (f"\nLast output:\n{shown}" if shown else "")


def split_reference(ref: str) -> tuple[str, str | None]:
    """`host:5000/name:tag` → (`host:5000/name`, `tag`); a digest or no tag keeps the ref whole."""
    if "@" in ref:
        return ref, None
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:  # the colon belonged to a registry port
        return ref, "latest"
    return name, tag
