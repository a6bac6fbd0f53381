"""Environment variable values encrypted at rest: a Fernet key in a file of the state directory (mode 0600,
made on first use). The only module importing `cryptography`."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lambda_emu.errors import ConfigError
from lambda_emu.statedir import private_dir

LOG = logging.getLogger(__name__)

KEY_FILE = "control.key"


class EnvironmentVault:
    """Seals a function's variables into one token and opens it again; values never appear in clear."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._fernet = Fernet(_load_or_create_key(key_path))

    def seal(self, variables: Mapping[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(dict(variables)).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise ConfigError(
                f"The stored environment variables cannot be decrypted with {self.key_path}.",
                hint="The key file was replaced or the state directory copied without it.",
            ) from exc
        return {str(key): str(val) for key, val in value.items()}


def _load_or_create_key(path: Path) -> bytes:
    private_dir(path.parent)
    try:
        # O_EXCL: of two processes starting at once, exactly one writes the key; the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            LOG.warning("key file %s is readable by others (mode %o); it should be 0600", path, mode)
        key = path.read_bytes().strip()
        if key:
            return key
        raise ConfigError(
            f"The key file {path} is empty.", hint="Remove it and the control.db beside it."
        ) from None
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as stream:
        stream.write(key)
    return key
