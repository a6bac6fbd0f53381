"""A function's code as a folder to mount at /var/task: folders are used in place, zips extracted once."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from emulator.errors import ConfigError

LOG = logging.getLogger(__name__)


def code_dir(path: Path, cache_dir: Path) -> Path:
    """The folder holding the code at `path` (a folder or a .zip), as an absolute path."""
    path = path.expanduser().resolve()
    if path.is_dir():
        return path
    if not path.exists():
        raise ConfigError(f"Code path {path} does not exist.", hint="Check CodeUri or --code.")
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"Code path {path} is neither a folder nor a zip file.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = (cache_dir / "code" / digest).resolve()
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=target.parent))
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                extracted = Path(archive.extract(info, staging))
                mode = (info.external_attr >> 16) & 0o777
                # Lambda keeps the zip's permission bits; files must stay readable to the sandbox user.
                if mode:
                    os.chmod(extracted, mode | 0o444 | (0o111 if extracted.is_dir() else 0))
        os.chmod(staging, 0o755)
        os.replace(staging, target)  # atomic: a concurrent invoke sees all of it or none
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigError(f"Code zip {path} is damaged: {exc}") from exc
    return target
