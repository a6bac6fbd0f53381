"""Layers at /opt: a function's layers extracted in order into one folder, cached by content hash, and
Lambda's limits on them (at most 5; code and layers under 262,144,000 bytes unzipped; Lambda quotas)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path

from lambda_emu import wire
from lambda_emu.config import MAX_LAYERS, FunctionConfig
from lambda_emu.errors import ConfigError
from lambda_emu.images.function_code import copy_tree, extract_zip, file_digest, publish, unzipped_size

LOG = logging.getLogger(__name__)

MAX_UNZIPPED_BYTES = wire.MAX_UNZIPPED_CODE_BYTES


def check_limits(function: FunctionConfig) -> None:
    """ConfigError in Lambda's words when the function's code and layers break Lambda's limits."""
    if len(function.layers) > MAX_LAYERS:
        # Lambda's CreateFunction / UpdateFunctionConfiguration refuse a sixth layer (wording recalled).
        raise ConfigError(
            f"Cannot reference more than {MAX_LAYERS} layers (function {function.name} has "
            f"{len(function.layers)})."
        )
    # Lambda counts the function's code and all its layers, extracted, against one limit; a zip is measured
    # from its directory, before anything is extracted.
    total = unzipped_size(function.code_path) + sum(unzipped_size(layer) for layer in function.layers)
    if total > MAX_UNZIPPED_BYTES:
        raise ConfigError(
            f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes (function {function.name} and "
            f"its layers: {total} bytes)."
        )


def opt_dir(layers: Sequence[Path], state_dir: Path, cache_dir: Path | None = None) -> Path | None:
    """The folder to mount at /opt: every layer (a folder or a zip) extracted in order into one folder,
    later layers overwriting earlier files as Lambda's extraction does; None without layers. Reused while
    the layers' content is unchanged. Kept under `cache_dir` (SAM's --layer-cache-basedir), else under the
    state directory's layers/."""
    if not layers:
        return None
    paths = [layer.expanduser().resolve() for layer in layers]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"Layer {path} does not exist.", hint="Check the layer's ContentUri.")
        if not path.is_dir() and not zipfile.is_zipfile(path):
            raise ConfigError(f"Layer {path} is neither a folder nor a zip file.")
    digest = hashlib.sha256("\n".join(content_digest(path) for path in paths).encode()).hexdigest()[:16]
    target = ((cache_dir or state_dir / "layers") / digest).resolve()
    if not target.is_dir():
        LOG.info("extracting %d layer(s) to %s", len(paths), target)

    def fill(staging: Path) -> None:
        for path in paths:
            if path.is_dir():
                copy_tree(path, staging)
            else:
                extract_zip(path, staging)

    return publish(target, fill)


# folder → (signature of its entries, digest): one entry per folder however often it changes (hot reload).
_tree_digests: dict[str, tuple[str, str]] = {}
_tree_lock = threading.Lock()


def content_digest(path: Path) -> str:
    """A hash of a layer's content: a zip's bytes, or a folder's names, modes, link targets and bytes.
    Reading every byte again is skipped while no file's size or mtime changed."""
    if not path.is_dir():
        return file_digest(path)
    entries = sorted(_walk(path))
    signature = _signature(entries)
    with _tree_lock:
        known = _tree_digests.get(str(path))
    if known is not None and known[0] == signature:
        return known[1]
    digest = hashlib.sha256()
    for relative, mode, _size, _mtime, link in entries:
        digest.update(f"{relative}\0{mode:o}\0{link}\0".encode())
        if link is None:
            with (path / relative).open("rb") as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
    value = digest.hexdigest()[:16]
    with _tree_lock:
        _tree_digests[str(path)] = (signature, value)
    return value


def tree_signature(folder: Path) -> str:
    """What changes whenever a file under `folder` is added, removed, renamed, rewritten or chmodded
    (names, modes, sizes, mtimes, link targets): a stat walk, no file read."""
    return _signature(sorted(_walk(folder)))


def _signature(entries: list[tuple[str, int, int, int, str | None]]) -> str:
    return hashlib.sha256(repr(entries).encode()).hexdigest()


def _walk(folder: Path) -> list[tuple[str, int, int, int, str | None]]:
    """(relative path, mode, size, mtime ns, link target) of every file and link under `folder`."""
    found = []
    for root, dirs, files in os.walk(folder):
        for name in [*files, *dirs]:
            path = Path(root) / name
            if name in dirs and not path.is_symlink():
                continue
            info = path.lstat()
            link = os.readlink(path) if path.is_symlink() else None
            relative = path.relative_to(folder).as_posix()
            found.append((relative, info.st_mode, info.st_size, info.st_mtime_ns, link))
    return found
