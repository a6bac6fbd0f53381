"""Provisioned concurrency configurations (Put/Get/Delete/ListProvisionedConcurrencyConfig(s)): one per alias
or published version, kept in the state directory, checked and answered as Lambda answers them (Lambda API
Reference). Their environments are the emulator's (a Provisioner): this module says how many, for which
version."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from lambda_emu import wire
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control import bodies
from lambda_emu.control.concurrency import MIN_UNRESERVED, ConcurrencyLimits
from lambda_emu.control.model import FunctionRecord, lambda_timestamp
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.control.validation import validate_function_request
from lambda_emu.engine.provisioned import Allocation, ProvisionedStatus
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)

PROVISIONED_FILE = "provisioned-concurrency.json"
_FILE_HINT = "Fix or remove the file (it holds what PutProvisionedConcurrencyConfig stored)."
_LIST_LIMIT = 50  # ListProvisionedConcurrencyConfigs' MaxItems bound (the API model)
_UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."


class Allocated(Protocol):
    def allocation(self) -> Allocation: ...


class Provisioner(Protocol):
    """The emulator's side (Emulator.provision): environments of a version initialised ahead for a target,
    "name:qualifier"."""

    def provision(self, target: str, function: FunctionConfig, count: int) -> object: ...

    def provisioned(self, target: str) -> Allocated | None: ...

    def unprovision(self, target: str) -> None: ...


def target_of(name: str, qualifier: str) -> str:
    return f"{name}:{qualifier}"


class ProvisionedConcurrencyConfigs:
    """Thread-safe. The configs (how many were asked for, when) are kept on disk; how far their allocation
    has come is the provisioner's, in memory: a restarted server allocates them again (`restore`)."""

    def __init__(
        self,
        registry: FunctionRegistry,
        limits: ConcurrencyLimits,
        provisioner: Provisioner,
        emulator: EmulatorConfig,
        state_dir: Path,
    ) -> None:
        self._registry = registry
        self._store = registry.store
        self._limits = limits
        self._provisioner = provisioner
        self._arn = emulator.function_arn
        # name → qualifier → {"requested": n, "last_modified": Lambda's timestamp}
        self._file = JsonStateFile(
            state_dir / PROVISIONED_FILE,
            "provisioned_concurrency",
            holds="the provisioned concurrency configs",
            hint=_FILE_HINT,
        )
        self._lock = threading.RLock()
        # (name, version) → the target provisioned for it: Invoke's one lookup, read without the lock.
        self._serving: Mapping[tuple[str, str], str] = {}
        self._loaded = False

    # ---- the operations
    def put(self, function_name: str, qualifier: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request(
            "PutProvisionedConcurrencyConfig", {**body, "FunctionName": function_name, "Qualifier": qualifier}
        )
        name, qualifier = self._named(function_name, qualifier)
        requested = body.get("ProvisionedConcurrentExecutions")
        if requested is None:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value null at 'provisionedConcurrentExecutions' failed to "
                "satisfy constraint: Member must not be null",
            )
        if qualifier == wire.LATEST:
            raise ConfigError(_UNPUBLISHED)
        with self._lock:
            version = self._version_of(name, qualifier)
            self._check_overlap(name, qualifier, version.config.version)
            self._check_limits(name, qualifier, requested)
            stored = {"requested": requested, "last_modified": lambda_timestamp()}
            configs = self._content()
            configs.setdefault(name, {})[qualifier] = stored
            self._file.save()
            self._refresh_targets()
            # The version is a new revision once provisioned (observed on AWS: its RevisionId read before
            # PutProvisionedConcurrencyConfig differs from the one read after).
            self._store.renew_version_revision(name, version.config.version)
            self._provisioner.provision(target_of(name, qualifier), version.config, requested)
        LOG.info("provisioned concurrency of %s:%s: %d requested", name, qualifier, requested)
        # Put answers at once, before any environment is ready (202, IN_PROGRESS; Lambda API Reference).
        return _render(stored, Allocation(ProvisionedStatus.IN_PROGRESS, 0, 0))

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        validate_function_request(
            "GetProvisionedConcurrencyConfig", {"FunctionName": function_name, "Qualifier": qualifier}
        )
        name, qualifier = self._named(function_name, qualifier)
        self._published(qualifier)
        with self._lock:
            self._version_of(name, qualifier)
            stored = self._content().get(name, {}).get(qualifier)
            if stored is None:
                raise ApiError(
                    "ProvisionedConcurrencyConfigNotFoundException",
                    "No Provisioned Concurrency Config found for this function",
                )
            return _render(stored, self._allocation(name, qualifier))

    def delete(self, function_name: str, qualifier: str | None) -> None:
        """Idempotent, as Lambda's: a version or alias without a config answers 204 too."""
        validate_function_request(
            "DeleteProvisionedConcurrencyConfig", {"FunctionName": function_name, "Qualifier": qualifier}
        )
        name, qualifier = self._named(function_name, qualifier)
        self._published(qualifier)
        with self._lock:
            self._version_of(name, qualifier)
            self.forget(name, qualifier)

    def list(self, function_name: str, query: Mapping[str, str]) -> dict[str, Any]:
        """Every alias's and version's config of the function, a page at a time (Marker, MaxItems ≤ 50)."""
        validate_function_request("ListProvisionedConcurrencyConfigs", {"FunctionName": function_name})
        name, _ = self._registry.parse(function_name)
        with self._lock:
            if self._store.latest(name) is None:
                raise FunctionNotFoundError(f"Function not found: {self._arn(name)}")
            configs = [
                {
                    "FunctionArn": self._arn(name, qualifier),
                    **_render(stored, self._allocation(name, qualifier)),
                }
                for qualifier, stored in self._content().get(name, {}).items()
            ]
        page, marker = bodies.page(configs, query, limit=_LIST_LIMIT)
        return {"ProvisionedConcurrencyConfigs": list(page), **marker}

    # ---- what Invoke and the rest of the control plane ask and tell
    def target(self, name: str, version: str) -> str | None:
        """The target whose environments serve an invoke that runs `version` of `name` first, if any. The
        environments are the version's, whichever way it is invoked: through the provisioned alias or by
        number alike (observed on AWS: localstack's AWS-validated test_lambda_provisioned_concurrency_moves_
        with_alias)."""
        return self._serving.get((name, version))

    def alias_moved(self, name: str, alias: str) -> None:
        """UpdateAlias pointed the alias elsewhere: its provisioned environments are the new version's."""
        with self._lock:
            stored = self._content().get(name, {}).get(alias)
            record = self._version_or_none(name, alias)
            target = target_of(name, alias)
            if stored is None or record is None or self._serving.get((name, record.config.version)) == target:
                return  # no config, or its environments are of that version already
            self._refresh_targets()
            self._provisioner.provision(target, record.config, stored["requested"])

    def forget(self, name: str, qualifier: str | None = None) -> None:
        """Drop the configs of one alias or version (None: every one of the function) and stop their
        environments: the version, alias or function is gone."""
        with self._lock:
            configs = self._content()
            qualifiers = [qualifier] if qualifier is not None else list(configs.get(name, {}))
            dropped = [q for q in qualifiers if configs.get(name, {}).pop(q, None) is not None]
            if name in configs and not configs[name]:
                del configs[name]
            if dropped:
                self._file.save()
                self._refresh_targets()
            for each in dropped:
                self._provisioner.unprovision(target_of(name, each))

    def restore(self) -> int:
        """Allocate every stored config again (a server started on this state directory); how many."""
        with self._lock:
            started = 0
            for name, configs in self._content().items():
                for qualifier, stored in configs.items():
                    record = self._version_or_none(name, qualifier)
                    if record is not None:
                        self._provisioner.provision(
                            target_of(name, qualifier), record.config, stored["requested"]
                        )
                        started += 1
            return started

    # ---- helpers
    def _content(self) -> dict[str, dict[str, dict[str, Any]]]:
        content = self._file.content()
        if not self._loaded:
            self._loaded = True
            self._refresh_targets(content)
        return content

    def _refresh_targets(self, content: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        content = self._file.content() if content is None else content
        serving = {}
        for name, configs in content.items():
            for qualifier in configs:
                record = self._version_or_none(name, qualifier)
                if record is not None:
                    serving[(name, record.config.version)] = target_of(name, qualifier)
        self._serving = serving

    def _allocation(self, name: str, qualifier: str) -> Allocation:
        live = self._provisioner.provisioned(target_of(name, qualifier))
        return live.allocation() if live is not None else Allocation(ProvisionedStatus.IN_PROGRESS, 0, 0)

    def _named(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """(name, qualifier) of a call on one alias or version: the qualifier given or the ARN's."""
        name, qualifier = self._registry.parse(function_name, qualifier)
        if not qualifier:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member "
                "must not be null",
            )
        return name, qualifier

    @staticmethod
    def _published(qualifier: str) -> None:
        if qualifier == wire.LATEST:
            raise ConfigError("The function resource provided must be an alias or a published version.")

    def _version_of(self, name: str, qualifier: str) -> FunctionRecord:
        """The published version an alias or version names: 404 as Lambda words it for each."""
        if qualifier.isdigit():
            record = self._store.version(name, qualifier) if self._store.latest(name) else None
            if record is None:
                raise FunctionNotFoundError(f"Function not found: {self._arn(name, qualifier)}")
            return record
        alias = self._store.alias(name, qualifier) if self._store.latest(name) else None
        if alias is None:
            raise FunctionNotFoundError(f"Cannot find alias arn: {self._arn(name, qualifier)}")
        record = self._store.version(name, alias.function_version)
        if record is None:  # the alias points at $LATEST
            raise ConfigError(_UNPUBLISHED)
        return record

    def _version_or_none(self, name: str, qualifier: str) -> FunctionRecord | None:
        try:
            return self._version_of(name, qualifier)
        except (ApiError, ConfigError):
            return None

    def _check_overlap(self, name: str, qualifier: str, version: str) -> None:
        """A version is provisioned once: through itself or through one alias that points at it."""
        configs = self._content().get(name, {})
        if not qualifier.isdigit() and version in configs:
            raise ApiError(
                "ResourceConflictException",
                "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned "
                "version",
            )
        if qualifier.isdigit():
            for other in configs:
                alias = self._store.alias(name, other) if not other.isdigit() else None
                if alias is not None and alias.function_version == qualifier:
                    raise ApiError(
                        "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias"
                    )

    def _check_limits(self, name: str, qualifier: str, requested: int) -> None:
        """Provisioned concurrency is carved out of the function's reserved concurrency when it has one,
        else out of the account's unreserved concurrency, which keeps its minimum of 100."""
        content = self._content()
        reserved = self._limits.reserved(name)
        others = sum(s["requested"] for q, s in content.get(name, {}).items() if q != qualifier)
        if reserved is not None:
            if others + requested > reserved:
                raise ConfigError(
                    "Requested Provisioned Concurrency should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
            return
        elsewhere = sum(
            s["requested"]
            for function, configs in content.items()
            if self._limits.reserved(function) is None
            for q, s in configs.items()
            if (function, q) != (name, qualifier)
        )
        floor = min(MIN_UNRESERVED, self._limits.account_limit)
        if self._limits.unreserved() - elsewhere - requested < floor:
            raise ConfigError(
                "Specified ConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
            )


def _render(stored: Mapping[str, Any], allocation: Allocation) -> dict[str, Any]:
    """A provisioned concurrency config as Put, Get and List answer it (List adds FunctionArn)."""
    answer: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": stored["requested"],
        "AvailableProvisionedConcurrentExecutions": allocation.available,
        "AllocatedProvisionedConcurrentExecutions": allocation.allocated,
        "Status": allocation.status.value,
        "LastModified": stored["last_modified"],
    }
    if allocation.reason:
        answer["StatusReason"] = allocation.reason
    return answer
