"""The function store: every function's $LATEST, its published versions and aliases, in memory for the
invoke path and written through to the control database when there is one. The store keeps the data model's
invariants (monotonic version numbers, immutable versions, aliases only on existing versions)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from lambda_emu import wire
from lambda_emu.config import FunctionConfig
from lambda_emu.control import packages
from lambda_emu.control.database import ControlDatabase
from lambda_emu.control.model import (
    ACTIVE,
    ORIGIN_TEMPLATE,
    SUCCESSFUL,
    AliasRecord,
    FunctionRecord,
    new_revision,
)
from lambda_emu.control.packages import CodePackage

LOG = logging.getLogger(__name__)

CODE_DIR = "control/code"  # under the state directory: uploaded zips and published versions' code


class FunctionStore:
    """Thread-safe. `lock` is re-entrant: the control plane holds it across a check and the change it
    guards (a RevisionId precondition and the update), so two racing updates cannot both pass."""

    def __init__(self, code_root: Path, database: ControlDatabase | None = None) -> None:
        self.code_root = code_root  # uploaded zips and published versions' frozen code
        self.lock = threading.RLock()
        self._db = database
        self._latest: dict[str, FunctionRecord] = {}
        self._versions: dict[str, dict[str, FunctionRecord]] = {}  # name → number → record, ascending
        self._aliases: dict[str, dict[str, AliasRecord]] = {}
        self._last_version: dict[str, int] = {}
        if database is not None:
            snapshot = database.load()
            for record in snapshot.functions:
                self._latest[record.name] = record
            for record in snapshot.versions:
                self._versions.setdefault(record.name, {})[record.version] = record
            for name, alias in snapshot.aliases:
                self._aliases.setdefault(name, {})[alias.name] = alias
            self._last_version.update(snapshot.counters)
            if snapshot.functions:
                LOG.info("control plane: %d function(s) restored", len(snapshot.functions))

    # ---- $LATEST
    def latest(self, name: str) -> FunctionRecord | None:
        return self._latest.get(name)  # one dict read: safe without the lock, and cheap for Invoke

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self._latest)

    def put_latest(self, record: FunctionRecord) -> None:
        with self.lock:
            self._latest[record.name] = record
            if self._db is not None:
                self._db.save_function(record)

    def remove(self, name: str) -> FunctionRecord | None:
        """Forget the function, its versions and aliases; returns what its $LATEST was."""
        with self.lock:
            record = self._latest.pop(name, None)
            self._versions.pop(name, None)
            self._aliases.pop(name, None)
            self._last_version.pop(name, None)
            if self._db is not None:
                self._db.delete_function(name)
        return record

    def keep_template_functions(self, names: Iterable[str]) -> list[str]:
        """Drop functions stored from an earlier template that this one no longer has; returns them."""
        wanted = set(names)
        with self.lock:
            gone = [
                name
                for name, record in self._latest.items()
                if record.origin == ORIGIN_TEMPLATE and name not in wanted
            ]
            for name in gone:
                self.remove(name)
        return gone

    # ---- published versions
    def versions(self, name: str) -> list[FunctionRecord]:
        with self.lock:
            return list(self._versions.get(name, {}).values())

    def version(self, name: str, version: str) -> FunctionRecord | None:
        return self._versions.get(name, {}).get(version)

    def publish(self, name: str, description: str | None = None) -> tuple[FunctionRecord, bool]:
        """A new version from $LATEST: its code frozen, its configuration copied. When neither changed since
        the last version, that version instead (Lambda publishes no duplicate). Returns (version, new?)."""
        with self.lock:
            latest = self._latest[name]
            versions = self._versions.setdefault(name, {})
            code = None
            if latest.config.package_type == "Zip":
                # Frozen as it is now: a folder's files may have changed since $LATEST was recorded.
                current = CodePackage(latest.config.code_path, latest.code_sha256, latest.code_size)
                code = packages.freeze(current, self.code_root)
            sha = code.sha256 if code else latest.code_sha256
            if versions:
                last = versions[max(versions, key=int)]
                # Lambda publishes when the code or any of the configuration changed since the last version,
                # $LATEST's Description included (Lambda API Reference: PublishVersion).
                described = (
                    last.config.description if last.source_description is None else last.source_description
                )
                same_config = (
                    _comparable(last.config) == _comparable(latest.config)
                    and described == latest.config.description
                )
                if last.code_sha256 == sha and same_config and dict(last.settings) == dict(latest.settings):
                    return last, False
            number = self._last_version.get(name, 0) + 1
            config = replace(
                latest.config,
                version=str(number),
                code_path=code.path if code else latest.config.code_path,
                description=latest.config.description if description is None else description,
                auto_publish_alias=None,
            )
            record = replace(
                latest,
                config=config,
                code_sha256=sha,
                code_size=code.size if code else latest.code_size,
                revision_id=new_revision(),
                state=ACTIVE,
                last_update_status=SUCCESSFUL,
                last_update_reason=None,
                last_update_reason_code=None,
                previous=None,
                tags={},
                source_description=latest.config.description,
            )
            versions[record.version] = record
            self._last_version[name] = number
            if self._db is not None:
                self._db.save_version(record, number)
        return record, True

    def renew_version_revision(self, name: str, version: str) -> FunctionRecord | None:
        """A version's state changed (its provisioned concurrency): a new RevisionId, as Lambda gives it."""
        with self.lock:
            record = self._versions.get(name, {}).get(version)
            if record is None:
                return None
            record = replace(record, revision_id=new_revision())
            self._versions[name][version] = record
            if self._db is not None:
                self._db.save_version(record, self._last_version.get(name, int(version)))
        return record

    def remove_version(self, name: str, version: str) -> None:
        with self.lock:
            self._versions.get(name, {}).pop(version, None)
            if self._db is not None:
                self._db.delete_version(name, version)

    # ---- aliases
    def aliases(self, name: str) -> list[AliasRecord]:
        with self.lock:
            return sorted(self._aliases.get(name, {}).values(), key=lambda alias: alias.name)

    def alias(self, name: str, alias_name: str) -> AliasRecord | None:
        return self._aliases.get(name, {}).get(alias_name)

    def put_alias(self, name: str, alias: AliasRecord) -> None:
        with self.lock:
            self._aliases.setdefault(name, {})[alias.name] = alias
            if self._db is not None:
                self._db.save_alias(name, alias)

    def remove_alias(self, name: str, alias_name: str) -> None:
        with self.lock:
            self._aliases.get(name, {}).pop(alias_name, None)
            if self._db is not None:
                self._db.delete_alias(name, alias_name)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _comparable(config: FunctionConfig) -> FunctionConfig:
    """What must match for two versions to be the same: all but where the code lives, the version's own
    description and number."""
    return replace(config, version=wire.LATEST, code_path=Path(), description="", auto_publish_alias=None)


def open_store(state_dir: Path) -> FunctionStore:
    """The store of a state directory, persistent: control.db beside its key file (made on first use)."""
    from lambda_emu.control.database import DB_FILE
    from lambda_emu.control.vault import KEY_FILE, EnvironmentVault

    database = ControlDatabase(state_dir / DB_FILE, EnvironmentVault(state_dir / KEY_FILE))
    return FunctionStore(state_dir / CODE_DIR, database)
