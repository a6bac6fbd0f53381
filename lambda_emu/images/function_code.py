"""A function's code, ready to run: a folder or zip as the folder mounted at /var/task (zips extracted
once), and a container-image function's image, built from its recipe when the engine lacks it."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

# ImageRecipe and ImageFunctionConfig are configuration (lambda_emu.config); imported from here too.
from lambda_emu.config import FunctionConfig, ImageFunctionConfig
from lambda_emu.containers.engine import LABEL, LABEL_VALUE
from lambda_emu.containers.images import ImageBackend
from lambda_emu.errors import ConfigError, ImageError

LOG = logging.getLogger(__name__)

FUNCTION_IMAGE_LABEL = f"{LABEL}.function"


def code_dir(path: Path, cache_dir: Path) -> Path:
    """The folder holding the code at `path` (a folder or a .zip), as an absolute path."""
    path = path.expanduser().resolve()
    if path.is_dir():
        return path
    if not path.exists():
        raise ConfigError(f"Code path {path} does not exist.", hint="Check CodeUri or --code.")
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"Code path {path} is neither a folder nor a zip file.")
    target = (cache_dir / "code" / file_digest(path)).resolve()
    return publish(target, lambda staging: extract_zip(path, staging))


def publish(target: Path, fill: Callable[[Path], object]) -> Path:
    """`target`, filled once by `fill(staging)` in a sibling folder and renamed into place atomically, so a
    concurrent invoke sees all of it or none. A target that exists is reused: its name is its content hash."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(staging)
        os.chmod(staging, 0o755)
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():  # else another process published the same content first
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def extract_zip(archive_path: Path, dest: Path) -> None:
    """Extract a zip over `dest` as Lambda does: permission bits and symbolic links kept, every file left
    readable by the sandbox user; later files overwrite earlier ones."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for info in archive.infolist():
                mode = info.external_attr >> 16
                target = dest / info.filename
                if not _inside(target, dest):
                    raise ConfigError(f"Zip {archive_path} holds a path outside its folder: {info.filename}")
                if stat.S_ISLNK(mode):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _remove(target)
                    os.symlink(archive.read(info).decode(), target)
                    continue
                if not info.is_dir() and (target.is_symlink() or target.is_dir()):
                    _remove(target)  # a later layer's file replaces an earlier layer's link or folder
                extracted = Path(archive.extract(info, dest))
                permissions = stat.S_IMODE(mode)
                if permissions:
                    os.chmod(extracted, readable(permissions, extracted.is_dir()))
                elif extracted.is_dir():
                    os.chmod(extracted, 0o755)
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"Zip {archive_path} is damaged: {exc}") from exc


def copy_tree(source: Path, dest: Path) -> None:
    """Copy a folder over `dest` (later files overwrite earlier ones), links kept, all readable."""
    for root, dirs, files in os.walk(source):
        relative = Path(root).relative_to(source)
        folder = dest / relative
        if folder.is_symlink() or folder.is_file():
            folder.unlink()  # an earlier layer's file or link where this layer has a folder
        folder.mkdir(parents=True, exist_ok=True)
        for name in [*files, *(d for d in dirs if (Path(root) / d).is_symlink())]:
            src, dst = Path(root) / name, dest / relative / name
            if dst.is_symlink() or dst.is_dir():
                _remove(dst)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copyfile(src, dst)
                os.chmod(dst, readable(stat.S_IMODE(src.stat().st_mode), False))
    for root, dirs, _files in os.walk(dest):
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink():
                os.chmod(path, readable(stat.S_IMODE(path.stat().st_mode), True))


def readable(mode: int, is_dir: bool) -> int:
    """Bits that let the sandbox user (not the owner) read a file, or list a folder."""
    return mode | 0o444 | (0o111 if is_dir else 0)


def unzipped_size(path: Path) -> int:
    """Bytes of a code or layer package once extracted: Lambda's measure for its 250 MB limit."""
    path = path.expanduser().resolve()
    if path.is_dir():
        total = 0
        for root, _dirs, files in os.walk(path):
            for name in files:
                file = Path(root) / name
                if not file.is_symlink():
                    total += file.stat().st_size
        return total
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"Cannot read {path} as a folder or a zip file: {exc}") from exc


# path → (size, mtime, ctime, inode: the file's signature, its digest). One entry per path, so a file saved
# thousands of times (hot reload) holds one; the inode and ctime tell an atomic replace or a rewrite apart
# even when size and mtime come out equal.
_digests: dict[str, tuple[tuple[int, int, int, int], str]] = {}
_digests_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """16 hex digits of a file's content hash, remembered while the file's signature stays the same."""
    info = path.stat()
    signature = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
    with _digests_lock:
        known = _digests.get(str(path))
    if known is not None and known[0] == signature:
        return known[1]
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    value = digest.hexdigest()[:16]
    with _digests_lock:
        _digests[str(path)] = (signature, value)
    return value


def forget_digest(path: Path) -> None:
    """Drop the remembered digest of `path` (it changed): its next use hashes the content again, even if
    the change fell within one tick of the file system's clock."""
    with _digests_lock:
        _digests.pop(str(path.expanduser().resolve()), None)


def _inside(target: Path, folder: Path) -> bool:
    return os.path.abspath(target).startswith(os.path.abspath(folder) + os.sep)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


# ---- container-image functions -------------------------------------------------------------------
def function_image(
    function: FunctionConfig, images: ImageBackend, *, progress: Callable[[str], None] | None = None
) -> str:
    """The tag of a container-image function's image, built from its recipe if the engine lacks it;
    `progress` hears the build (a stage line, then the build's own lines indented, as runtime builds)."""
    tag = function.image_uri or ""
    if images.exists(tag):
        return tag
    recipe = function.recipe if isinstance(function, ImageFunctionConfig) else None
    if recipe is None:
        raise ImageError(
            f"Image {tag} of function {function.name} is not in the local Docker engine (lambda-emu pulls "
            "no function images).",
            hint=f"Build it first: docker build -t {tag} <folder of its Dockerfile>; or give the function "
            "SAM's Metadata (DockerContext, Dockerfile) so lambda-emu builds it.",
        )
    if recipe.dockerfile != "Dockerfile" or recipe.target:
        # The image backend builds <context>/Dockerfile, whole.
        raise ImageError(
            f"Image {tag} of function {function.name} is missing, and lambda-emu builds only a context's "
            f"own Dockerfile, without a target (this one asks for {recipe.dockerfile}"
            + (f", target {recipe.target}" if recipe.target else "")
            + ").",
            hint=f"Build it first: docker build -t {tag} -f {recipe.context_dir / recipe.dockerfile} "
            + (f"--target {recipe.target} " if recipe.target else "")
            + str(recipe.context_dir),
        )
    if not (recipe.context_dir / recipe.dockerfile).is_file():
        raise ImageError(
            f"Image {tag} of function {function.name} is missing and its Dockerfile "
            f"{recipe.context_dir / recipe.dockerfile} does not exist.",
            hint="Check the function's Metadata: DockerContext and Dockerfile.",
        )
    LOG.info("building image %s of function %s from %s", tag, function.name, recipe.context_dir)
    say = progress or (lambda message: None)
    say(f"{function.name}: building its image {tag} from {recipe.context_dir}")

    def relay(line: str) -> None:
        LOG.debug("build %s: %s", tag, line)
        say(f"  build: {line}")

    started = time.monotonic()
    images.build(
        recipe.context_dir,
        tag,
        buildargs=recipe.build_args,
        labels={LABEL: LABEL_VALUE, FUNCTION_IMAGE_LABEL: function.name},
        on_line=relay,
    )
    say(f"{function.name}: built {tag} in {time.monotonic() - started:.1f} s")
    return tag
