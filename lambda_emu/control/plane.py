"""The management operations of the Lambda API as Lambda performs them (Lambda API Reference): CreateFunction,
Get/List/Update/DeleteFunction, PublishVersion, ListVersionsByFunction and the alias calls, with their
preconditions, conflicts and the InProgress → Successful/Failed settling of each change."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lambda_emu import wire
from lambda_emu.config import AsyncConfig, EmulatorConfig, FunctionConfig
from lambda_emu.control import bodies, render
from lambda_emu.control.model import (
    ACTIVE,
    FAILED,
    IN_PROGRESS,
    ORIGIN_API,
    PENDING,
    SUCCESSFUL,
    AliasRecord,
    FunctionRecord,
    lambda_timestamp,
    new_revision,
)
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)


class ControlPlane:
    """Operations over the registry's store. `retire` stops a function's warm environments (Emulator.retire)
    when its configuration or code changed, so the next invoke starts a new one with the new settings."""

    def __init__(
        self,
        registry: FunctionRegistry,
        retire: Callable[[str], object],
        emulator: EmulatorConfig,
        *,
        layers: Callable[[Sequence[str]], tuple[Path, ...]] | None = None,
    ) -> None:
        self.registry = registry
        # The content of the layer versions a function's Layers names (LayerStore.content_of); without a
        # layer store, Layers are stored and returned only.
        self._layer_content = layers or (lambda arns: ())
        self.store = registry.store
        self.emulator = emulator
        self._retire = retire
        self._settled = threading.Condition(self.store.lock)
        self._settlers: list[threading.Thread] = []  # changes being settled; close() waits for them
        for name in self.store.names():  # changes a stopped server left unsettled
            record = self.store.latest(name)
            if record is not None and bodies.busy(record):
                self._settle_later(name, record.revision_id)

    # ---- functions
    def create_function(self, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("CreateFunction", body)
        name, qualifier = self.registry.parse(str(body.get("FunctionName", "")))
        if qualifier is not None:
            raise ConfigError("A function name with a qualifier cannot be created.")
        package_type = body.get("PackageType") or "Zip"
        code = bodies.code_package(
            body.get("Code") or {}, package_type, self.store.code_root, self.emulator.code_roots
        )
        config = FunctionConfig(
            name=name,
            runtime=body.get("Runtime") or "",
            handler=body.get("Handler") or "",
            code_path=code.path,
            memory_size=body.get("MemorySize", 128),
            timeout=body.get("Timeout", 3),
            ephemeral_storage=(body.get("EphemeralStorage") or {}).get("Size", 512),
            environment=dict((body.get("Environment") or {}).get("Variables") or {}),
            architectures=tuple(body.get("Architectures") or ("x86_64",)),
            description=body.get("Description") or "",
            package_type=package_type,
            image_uri=(body.get("Code") or {}).get("ImageUri"),
            image_config=bodies.image_config(body.get("ImageConfig")),
            async_config=AsyncConfig(dead_letter_target=bodies.dead_letter(body.get("DeadLetterConfig"))),
            layers=self._layer_content(body.get("Layers") or ()),
        )
        bodies.check(config)
        record = FunctionRecord(
            config=config,
            code_sha256=code.sha256,
            code_size=code.size,
            origin=ORIGIN_API,
            settings=bodies.settings(body, {}),
            tags=dict(body.get("Tags") or {}),
            # CreateFunction answers Pending; the function is Active once it can run (Lambda API Reference).
            state=PENDING,
            state_reason="The function is being created.",
            state_reason_code="Creating",
            last_update_status=None,
        )
        with self.store.lock:
            if self.store.latest(name) is not None:
                raise ApiError("ResourceConflictException", f"Function already exist: {name}")
            self.store.put_latest(record)
        LOG.info("created function %s", name)
        if body.get("Publish"):
            self.settle(name, record.revision_id)
            return self._publish(name, {})
        self._settle_later(name, record.revision_id)
        return self._render(record)

    def get_function(self, function_name: str, qualifier: str | None, reserved: int | None) -> dict[str, Any]:
        name, asked = self.registry.parse(function_name, qualifier)
        record = self.registry.record(name, asked)
        return render.get_function(record, self.emulator, reserved, asked=asked)

    def get_function_configuration(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        name, asked = self.registry.parse(function_name, qualifier)
        record = self.registry.record(name, asked)
        return render.function_configuration(record, self.emulator, asked=asked)

    def list_functions(self, query: Mapping[str, str]) -> dict[str, Any]:
        every_version = query.get("FunctionVersion") == "ALL"
        if query.get("FunctionVersion") not in (None, "ALL"):
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{query['FunctionVersion']}' at 'functionVersion' "
                "failed to satisfy constraint: Member must satisfy enum value set: [ALL]",
            )
        items: list[FunctionRecord] = []
        for name in self.store.names():
            latest = self.store.latest(name)
            if latest is not None:
                items.append(latest)
                if every_version:
                    items.extend(self.store.versions(name))
        page, marker = bodies.page(items, query)
        return {"Functions": [self._render(record) for record in page], **marker}

    def update_function_configuration(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = self._latest_only(function_name)
        with self.store.lock:
            record = self._existing(name)
            validate_function_request(
                "UpdateFunctionConfiguration", body, package_type=record.config.package_type
            )
            self._ready_for_change(record, body.get("RevisionId"))
            config = bodies.configured(record.config, body)
            if "Layers" in body:
                config = replace(config, layers=self._layer_content(body["Layers"] or ()))
            bodies.check(config)
            updated = self._change(record, config=config, settings=bodies.settings(body, record.settings))
        self._settle_later(name, updated.revision_id)
        return self._render(updated)

    def update_function_code(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = self._latest_only(function_name)
        with self.store.lock:
            record = self._existing(name)
            validate_function_request("UpdateFunctionCode", body, package_type=record.config.package_type)
            self._ready_for_change(record, body.get("RevisionId"))
            source = {key: body[key] for key in ("ZipFile", "S3Bucket", "S3Key", "ImageUri") if key in body}
            code = bodies.code_package(
                source, record.config.package_type, self.store.code_root, self.emulator.code_roots
            )
            config = replace(
                record.config,
                code_path=code.path,
                image_uri=body.get("ImageUri") or record.config.image_uri,
                architectures=tuple(body.get("Architectures") or record.config.architectures),
            )
            bodies.check(config)
            if body.get("DryRun"):  # checked, not applied
                return self._render(
                    replace(record, config=config, code_sha256=code.sha256, code_size=code.size)
                )
            updated = self._change(record, config=config, code_sha256=code.sha256, code_size=code.size)
        if body.get("Publish"):
            self.settle(name, updated.revision_id)
            return self._publish(name, {})
        self._settle_later(name, updated.revision_id)
        return self._render(updated)

    def delete_function(self, function_name: str, qualifier: str | None) -> None:
        name, qualifier = self.registry.parse(function_name, qualifier)
        with self.store.lock:
            self._existing(name)
            if qualifier is None:
                self.store.remove(name)
                LOG.info("deleted function %s", name)
            elif qualifier == wire.LATEST:
                raise ConfigError("$LATEST version cannot be deleted without deleting the function.")
            elif not qualifier.isdigit():
                raise ConfigError(
                    f"Deletion of alias {qualifier} is not supported by DeleteFunction.",
                    hint="Use DeleteAlias.",
                )
            else:
                if self.store.version(name, qualifier) is None:
                    raise FunctionNotFoundError(f"Function not found: {self._arn(name, qualifier)}")
                aliases = self.store.aliases(name)
                using = [alias.name for alias in aliases if bodies.points_at(alias, qualifier)]
                if using:
                    raise ApiError(
                        "ResourceConflictException",
                        "Unable to delete version because the following aliases reference it: "
                        f"[{', '.join(using)}]",
                    )
                self.store.remove_version(name, qualifier)
                return
        self._retire(name)

    # ---- versions
    def publish_version(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("PublishVersion", body)
        return self._publish(self._latest_only(function_name), body)

    def list_versions(self, function_name: str, query: Mapping[str, str]) -> dict[str, Any]:
        name = self._latest_only(function_name)
        with self.store.lock:
            items = [self._existing(name), *self.store.versions(name)]
        page, marker = bodies.page(items, query)
        rendered = [render.function_configuration(r, self.emulator, qualified_latest=True) for r in page]
        return {"Versions": rendered, **marker}

    # ---- aliases
    def create_alias(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("CreateAlias", body)
        name = self._latest_only(function_name)
        alias = AliasRecord(
            name=body["Name"],
            function_version=body["FunctionVersion"],
            description=body.get("Description") or "",
            weights=bodies.weights(body),
        )
        with self.store.lock:
            self._existing(name)
            if self.store.alias(name, alias.name) is not None:
                raise ApiError(
                    "ResourceConflictException", f"Alias already exists: {self._arn(name, alias.name)}"
                )
            self._check_versions(name, alias)
            self.store.put_alias(name, alias)
        return render.alias_configuration(name, alias, self.emulator)

    def get_alias(self, function_name: str, alias_name: str) -> dict[str, Any]:
        name = self._latest_only(function_name)
        return render.alias_configuration(name, self._alias(name, alias_name), self.emulator)

    def update_alias(self, function_name: str, alias_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("UpdateAlias", dict(body, Name=alias_name))
        name = self._latest_only(function_name)
        with self.store.lock:
            current = self._alias(name, alias_name)
            bodies.precondition(body.get("RevisionId"), current.revision_id)
            alias = replace(
                current,
                function_version=body.get("FunctionVersion") or current.function_version,
                description=body["Description"] if "Description" in body else current.description,
                weights=bodies.weights(body) if "RoutingConfig" in body else current.weights,
                revision_id=new_revision(),
            )
            self._check_versions(name, alias)
            self.store.put_alias(name, alias)
        return render.alias_configuration(name, alias, self.emulator)

    def delete_alias(self, function_name: str, alias_name: str) -> None:
        name = self._latest_only(function_name)
        with self.store.lock:
            self._existing(name)
            if self.store.alias(name, alias_name) is None:
                return  # Lambda answers 204 for an alias that is not there: deleting is idempotent
            self.store.remove_alias(name, alias_name)

    def list_aliases(self, function_name: str, query: Mapping[str, str]) -> dict[str, Any]:
        name = self._latest_only(function_name)
        with self.store.lock:
            self._existing(name)
            aliases = self.store.aliases(name)
        wanted = query.get("FunctionVersion")
        if wanted:
            aliases = [alias for alias in aliases if bodies.points_at(alias, wanted)]
        page, marker = bodies.page(aliases, query)
        return {"Aliases": [render.alias_configuration(name, a, self.emulator) for a in page], **marker}

    # ---- settling: InProgress (or Pending) → Successful/Active, or Failed with a reason code
    def settle(self, name: str, revision_id: str) -> None:
        """Finish the change that made `revision_id`: retire the environments of the old configuration, then
        check what can be known locally before anything runs (the runtime, the code, the layers)."""
        self._retire(name)
        with self.store.lock:
            record = self.store.latest(name)
            if record is None or record.revision_id != revision_id:
                return  # deleted, or superseded by a later change that settles itself
            problem = bodies.startup_problem(record.config)
            if record.state == PENDING:
                state, code, reason = (FAILED, *problem) if problem else (ACTIVE, None, None)
                record = replace(record, state=state, state_reason=reason, state_reason_code=code)
            if problem:
                record = replace(
                    record,
                    last_update_status=FAILED,
                    last_update_reason=problem[1],
                    last_update_reason_code=problem[0],
                )
                LOG.warning("function %s: the change cannot start: %s", name, problem[1])
            else:
                record = replace(record, last_update_status=SUCCESSFUL, previous=None)
            # Every state change is a new revision in Lambda (Pending → Active, InProgress → Successful):
            # a RevisionId read before the change settled no longer matches after it.
            self.store.put_latest(replace(record, revision_id=new_revision()))
            self._settled.notify_all()

    def wait_settled(self, name: str, timeout: float) -> bool:
        """Wait until the function has no change in progress (for tests and Publish); False on timeout."""
        with self._settled:
            return self._settled.wait_for(lambda: not bodies.busy(self.store.latest(name)), timeout)

    def _settle_later(self, name: str, revision_id: str) -> None:
        thread = threading.Thread(
            target=self.settle, args=(name, revision_id), name=f"settle-{name}", daemon=True
        )
        with self.store.lock:
            self._settlers = [t for t in self._settlers if t.is_alive()] + [thread]
        thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Wait for the changes being settled, so none writes to a closed store."""
        with self.store.lock:
            settlers = list(self._settlers)
        for thread in settlers:
            thread.join(timeout=timeout)

    # ---- helpers
    def _publish(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            latest = self._existing(name)
            self._ready_for_change(latest, body.get("RevisionId"))
            wanted_sha = body.get("CodeSha256")
            if wanted_sha and wanted_sha != latest.code_sha256:
                raise ConfigError(
                    f"CodeSHA256 ({wanted_sha}) is different from current CodeSHA256 in $LATEST "
                    f"({latest.code_sha256}). Please try again"
                )
            version, new = self.store.publish(name, body.get("Description"))
            if new:  # publishing is a change of $LATEST too: Lambda gives it a new RevisionId
                self.store.put_latest(replace(latest, revision_id=new_revision()))
        if new:
            LOG.info("published version %s of %s", version.version, name)
        return self._render(version)

    def _change(self, record: FunctionRecord, **changes: Any) -> FunctionRecord:
        updated = replace(
            record,
            revision_id=new_revision(),
            last_modified=lambda_timestamp(),
            last_update_status=IN_PROGRESS,
            last_update_reason="The function is being updated.",
            last_update_reason_code=None,
            previous=record.serving,
            **changes,
        )
        self.store.put_latest(updated)
        return updated

    def _ready_for_change(self, record: FunctionRecord, revision_id: str | None) -> None:
        bodies.precondition(revision_id, record.revision_id)
        if record.state == PENDING:
            raise ApiError(
                "ResourceConflictException",
                "The operation cannot be performed at this time. The function is currently in the following "
                f"state: {record.state}",
            )
        if record.last_update_status == IN_PROGRESS:
            raise ApiError(
                "ResourceConflictException",
                "The operation cannot be performed at this time. An update is in progress for resource: "
                f"{self._arn(record.name)}",
            )

    def _latest_only(self, function_name: str) -> str:
        name, qualifier = self.registry.parse(function_name)
        if qualifier not in (None, wire.LATEST):
            # Only $LATEST can be changed: a published version's code and configuration are immutable.
            raise ConfigError(
                "Current operation does not support versions other than $LATEST. Please set the qualifier "
                "to $LATEST or leave it empty."
            )
        return name

    def _existing(self, name: str) -> FunctionRecord:
        record = self.store.latest(name)
        if record is None:
            raise FunctionNotFoundError(f"Function not found: {self._arn(name)}")
        return record

    def _alias(self, name: str, alias_name: str) -> AliasRecord:
        self._existing(name)
        alias = self.store.alias(name, alias_name)
        if alias is None:
            raise FunctionNotFoundError(f"Cannot find alias arn: {self._arn(name, alias_name)}")
        return alias

    def _check_versions(self, name: str, alias: AliasRecord) -> None:
        for version in (alias.function_version, *alias.weights):
            if version != wire.LATEST and self.store.version(name, version) is None:
                raise FunctionNotFoundError(f"Function not found: {self._arn(name, version)}")

    def _arn(self, name: str, qualifier: str | None = None) -> str:
        return self.emulator.function_arn(name, qualifier)

    def _render(self, record: FunctionRecord) -> dict[str, Any]:
        return render.function_configuration(record, self.emulator)
