"""The control plane's state on disk: functions, published versions and aliases in SQLite (control.db in
the state directory, WAL), one JSON row each, environment variable values sealed by the vault."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lambda_emu.config import AsyncConfig, FunctionConfig, ImageConfig, ImageFunctionConfig, ImageRecipe
from lambda_emu.control.model import AliasRecord, FunctionRecord
from lambda_emu.control.vault import EnvironmentVault
from lambda_emu.statedir import private_file

LOG = logging.getLogger(__name__)

DB_FILE = "control.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (name, alias));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
"""


@dataclass
class Snapshot:
    """Everything stored, as loaded at start."""

    functions: list[FunctionRecord] = field(default_factory=list)
    versions: list[FunctionRecord] = field(default_factory=list)
    aliases: list[tuple[str, AliasRecord]] = field(default_factory=list)  # (function name, alias)
    counters: dict[str, int] = field(default_factory=dict)


class ControlDatabase:
    """Write-through storage: each change of the store is one committed statement (thread-safe)."""

    def __init__(self, path: Path, vault: EnvironmentVault) -> None:
        private_file(path)
        self._vault = vault
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def load(self) -> Snapshot:
        snapshot = Snapshot()
        with self._lock:
            functions = self._db.execute("SELECT record FROM functions ORDER BY name").fetchall()
            versions = self._db.execute("SELECT record FROM versions ORDER BY name, version").fetchall()
            aliases = self._db.execute("SELECT name, record FROM aliases ORDER BY name, alias").fetchall()
            counters = self._db.execute("SELECT name, last_version FROM counters").fetchall()
        snapshot.functions = [self._record(json.loads(row[0])) for row in functions]
        snapshot.versions = [self._record(json.loads(row[0])) for row in versions]
        snapshot.aliases = [(name, AliasRecord(**json.loads(row))) for name, row in aliases]
        snapshot.counters = dict(counters)
        return snapshot

    def save_function(self, record: FunctionRecord) -> None:
        self._run("INSERT OR REPLACE INTO functions VALUES (?, ?)", record.name, self._row(record))

    def save_version(self, record: FunctionRecord, last_version: int) -> None:
        row = self._row(record)
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO versions VALUES (?, ?, ?)", (record.name, int(record.version), row)
            )
            self._db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (record.name, last_version))

    def delete_version(self, name: str, version: str) -> None:
        self._run("DELETE FROM versions WHERE name = ? AND version = ?", name, int(version))

    def save_alias(self, function_name: str, alias: AliasRecord) -> None:
        self._run(
            "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)",
            function_name,
            alias.name,
            json.dumps(asdict(alias)),
        )

    def delete_alias(self, function_name: str, alias_name: str) -> None:
        self._run("DELETE FROM aliases WHERE name = ? AND alias = ?", function_name, alias_name)

    def delete_function(self, name: str) -> None:
        """The function with its versions and aliases (its version counter too: a new function of the same
        name starts again at 1, as Lambda's does)."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            for table in ("functions", "versions", "aliases", "counters"):
                self._db.execute(f"DELETE FROM {table} WHERE name = ?", (name,))  # noqa: S608 - fixed names

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, *args: object) -> None:
        with self._lock:
            self._db.execute(sql, args)

    # ---- the JSON of a record; Environment values only ever sealed
    def _row(self, record: FunctionRecord) -> str:
        config = record.config
        fields: dict[str, Any] = {
            "name": config.name,
            "runtime": config.runtime,
            "handler": config.handler,
            "code_path": str(config.code_path),
            "memory_size": config.memory_size,
            "timeout": config.timeout,
            "ephemeral_storage": config.ephemeral_storage,
            "sealed_environment": self._vault.seal(config.environment) if config.environment else None,
            "architectures": list(config.architectures),
            "description": config.description,
            "logical_id": config.logical_id,
            "package_type": config.package_type,
            "image_uri": config.image_uri,
            "image_config": asdict(config.image_config) if config.image_config else None,
            "layers": [str(layer) for layer in config.layers],
            "async_config": asdict(config.async_config),
            "reserved_concurrency": config.reserved_concurrency,
            "version": config.version,
            "auto_publish_alias": config.auto_publish_alias,
        }
        if isinstance(config, ImageFunctionConfig) and config.recipe is not None:
            recipe = config.recipe
            fields["recipe"] = {
                "context_dir": str(recipe.context_dir),
                "dockerfile": recipe.dockerfile,
                "build_args": dict(recipe.build_args),
                "target": recipe.target,
            }
        return json.dumps(
            {
                "config": fields,
                "code_sha256": record.code_sha256,
                "code_size": record.code_size,
                "origin": record.origin,
                "settings": dict(record.settings),
                "tags": dict(record.tags),
                "revision_id": record.revision_id,
                "last_modified": record.last_modified,
                "state": record.state,
                "state_reason": record.state_reason,
                "state_reason_code": record.state_reason_code,
                "last_update_status": record.last_update_status,
                "last_update_reason": record.last_update_reason,
                "last_update_reason_code": record.last_update_reason_code,
                "source_description": record.source_description,
            }
        )

    def _record(self, row: dict[str, Any]) -> FunctionRecord:
        fields = dict(row.pop("config"))
        sealed = fields.pop("sealed_environment")
        recipe = fields.pop("recipe", None)
        image_config = fields.pop("image_config")
        values: dict[str, Any] = dict(
            fields,
            code_path=Path(fields["code_path"]),
            environment=self._vault.open(sealed) if sealed else {},
            architectures=tuple(fields["architectures"]),
            layers=tuple(Path(layer) for layer in fields["layers"]),
            async_config=AsyncConfig(**fields["async_config"]),
            image_config=_image_config(image_config),
        )
        config: FunctionConfig
        if recipe is not None:
            rebuilt = ImageRecipe(
                context_dir=Path(recipe["context_dir"]),
                dockerfile=recipe["dockerfile"],
                build_args=recipe["build_args"],
                target=recipe["target"],
            )
            config = ImageFunctionConfig(**values, recipe=rebuilt)
        else:
            config = FunctionConfig(**values)
        return FunctionRecord(config=config, **row)


def _image_config(value: dict[str, Any] | None) -> ImageConfig | None:
    if value is None:
        return None
    return ImageConfig(
        entry_point=tuple(value["entry_point"]) if value["entry_point"] is not None else None,
        command=tuple(value["command"]) if value["command"] is not None else None,
        working_directory=value["working_directory"],
    )
