"""Function code as the control plane keeps it: uploaded zips stored by content, local folders described
by a deterministic zip of their files, and frozen copies of either for published versions."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambda_emu import wire
from lambda_emu.errors import ApiError, ConfigError
from lambda_emu.images.layers import tree_signature

LOG = logging.getLogger(__name__)

# Ours: CreateFunction / UpdateFunctionCode with Code {"S3Bucket": LOCAL_BUCKET, "S3Key": "/abs/folder"}
# run the code in that folder (or .zip) of this machine, live, instead of an upload.
LOCAL_BUCKET = "lambda-emu-local"
# Lambda's limits for a zip sent in the request body and for a function's code unzipped (Lambda quotas).
MAX_ZIP_UPLOAD = wire.MAX_ZIPPED_CODE_BYTES
MAX_UNZIPPED = wire.MAX_UNZIPPED_CODE_BYTES
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: the same for every file


@dataclass(frozen=True)
class CodePackage:
    path: Path  # what the function runs: a folder or a .zip
    sha256: str  # base64 of the zip's sha256 (CodeSha256)
    size: int  # bytes of the zip (CodeSize)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def from_zip_bytes(data: bytes, code_root: Path) -> CodePackage:
    """An uploaded zip (Code.ZipFile), kept under `code_root` by its content hash."""
    if len(data) > MAX_ZIP_UPLOAD:
        raise ApiError(
            "RequestEntityTooLargeException", f"Zipped size must be smaller than {MAX_ZIP_UPLOAD} bytes"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ConfigError(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    _check_unzipped(unzipped)
    sha = sha256_b64(data)
    return CodePackage(_keep(data, sha, code_root), sha, len(data))


def _check_unzipped(size: int) -> None:
    if size > MAX_UNZIPPED:
        raise ConfigError(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")


def from_local(path_text: str, roots: Sequence[Path]) -> CodePackage:
    """Code.S3Key of the local bucket: an absolute path to a folder or a .zip on this machine, under one
    of `roots` (serve's --code-root), never a device or a special file, and within Lambda's size limit
    before anything is read."""
    path = Path(path_text)
    if not path.is_absolute():
        raise ConfigError(
            f"S3Key {path_text!r} of bucket {LOCAL_BUCKET} must be an absolute path on this machine.",
            hint=f'Code: {{"S3Bucket": "{LOCAL_BUCKET}", "S3Key": "/home/me/project/src"}}',
        )
    if not roots:
        raise ConfigError(
            f"Code from bucket {LOCAL_BUCKET} is refused: serve names no folder it may come from "
            "(start serve with --code-root DIR to allow code from folders under DIR)."
        )
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ConfigError(f"Code folder or zip {path} does not exist.") from None
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        raise ConfigError(
            f"Code folder or zip {path} is outside the folders serve allows code from "
            f"({', '.join(str(root) for root in roots)}; --code-root adds one)."
        )
    mode = real.stat().st_mode
    if stat.S_ISDIR(mode):
        _check_unzipped(folder_size(real))
    elif not stat.S_ISREG(mode) or real.suffix.lower() != ".zip":
        raise ConfigError(f"Code {path} is neither a folder nor a .zip file.")
    elif real.stat().st_size > MAX_UNZIPPED:
        _check_unzipped(real.stat().st_size)
    else:
        try:
            with zipfile.ZipFile(real) as archive:
                _check_unzipped(sum(info.file_size for info in archive.infolist()))
        except zipfile.BadZipFile:
            raise ConfigError(f"Code {path} is not a zip file that can be unzipped.") from None
    return describe(real)


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under `folder` (links not followed), counted without reading them; stops
    counting past Lambda's limit."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > MAX_UNZIPPED:
                    return total
    return total


# folder → (its tree signature, its package): a template's functions often share one code folder, and every
# start and template reload describes each of them again.
_described: dict[Path, tuple[str, CodePackage]] = {}


def describe(path: Path) -> CodePackage:
    """CodeSha256 and CodeSize of the code at `path` (a folder: of its deterministic zip, zipped again
    only when a file under it changed)."""
    if path.is_dir():
        signature = tree_signature(path)
        known = _described.get(path)
        if known is not None and known[0] == signature:
            return known[1]
        data = folder_zip(path)
        package = CodePackage(path, sha256_b64(data), len(data))
        _described[path] = (signature, package)
        return package
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read code {path}: {exc}") from exc
    return CodePackage(path, sha256_b64(data), len(data))


def freeze(package: CodePackage, code_root: Path) -> CodePackage:
    """The package as a zip under `code_root` that nothing else changes: a published version's code."""
    if package.path.is_dir():
        data = folder_zip(package.path)
    else:
        data = package.path.read_bytes()
    sha = sha256_b64(data)
    return CodePackage(_keep(data, sha, code_root), sha, len(data))


def folder_zip(folder: Path) -> bytes:
    """The folder's files as a zip that depends only on their paths, content and permission bits (sorted,
    one fixed date), so the same folder always has the same CodeSha256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                file = Path(root) / name
                info = zipfile.ZipInfo(file.relative_to(folder).as_posix(), _EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                if file.is_symlink():
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    archive.writestr(info, os.readlink(file))
                    continue
                mode = file.lstat().st_mode
                if not stat.S_ISREG(mode):
                    continue  # a device, fifo or socket in the folder: no file of a code package
                info.external_attr = (stat.S_IFREG | stat.S_IMODE(mode)) << 16
                archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def _keep(data: bytes, sha: str, code_root: Path) -> Path:
    """Write `data` once as code_root/<hex sha256>.zip (atomically: a reader never sees half a file)."""
    digest = base64.b64decode(sha).hex()
    target = code_root / f"{digest}.zip"
    if target.is_file():
        return target
    code_root.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{digest}-", dir=code_root)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return target
