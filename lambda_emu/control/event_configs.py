"""Functions' EventInvokeConfigs set through the API: one per function and qualifier, kept durably in the
state directory, with how a Put/Update body changes one and how Get renders it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from lambda_emu import wire
from lambda_emu.config import AsyncConfig
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.errors import ApiError, ConfigError

EVENT_CONFIG_FILE = "event-invoke-configs.json"
# The AsyncConfig fields of an EventInvokeConfig: the DLQ is not one (it is the function's DeadLetterConfig).
_FIELDS = ("maximum_retry_attempts", "maximum_event_age_seconds", "on_success", "on_failure")
_FILE_HINT = "Fix or remove the file (it holds what PutFunctionEventInvokeConfig stored)."


class EventConfigStore:
    """Every function's EventInvokeConfigs, one per qualifier: the unqualified function and $LATEST share
    one (kept as $LATEST), each version and alias has its own, with no fallback between them (as Lambda
    keeps them). Thread-safe; one JSON file under the state directory, loaded on first use."""

    def __init__(self, path: Path) -> None:
        # name → qualifier → the AsyncConfig fields of _FIELDS and "last_modified" (epoch seconds)
        self._file = JsonStateFile(
            path, "event_invoke_configs", holds="the functions' EventInvokeConfigs", hint=_FILE_HINT
        )
        self._lock = self._file.lock

    def get(self, function: str, qualifier: str | None) -> tuple[AsyncConfig, float] | None:
        """The config of `function` at `qualifier` and when it was last set, or None when there is none."""
        with self._lock:
            stored = self._file.content().get(function, {}).get(qualifier or wire.LATEST)
            return _decoded(stored) if stored else None

    def all(self, function: str) -> list[tuple[str, AsyncConfig, float]]:
        """(qualifier, config, last modified) of each config of `function`, in the order first set."""
        with self._lock:
            stored = self._file.content().get(function, {})
            return [(qualifier, *_decoded(fields)) for qualifier, fields in stored.items()]

    def put(self, function: str, qualifier: str | None, config: AsyncConfig, modified: float) -> None:
        with self._lock:
            fields = {key: value for key, value in asdict(config).items() if key in _FIELDS}
            self._file.content().setdefault(function, {})[qualifier or wire.LATEST] = dict(
                fields, last_modified=modified
            )
            self._file.save()

    def delete(self, function: str, qualifier: str | None) -> bool:
        """Drop one config; False when there was none."""
        with self._lock:
            return self._file.drop(function, qualifier or wire.LATEST)

    def forget(self, function: str) -> None:
        """Drop every qualifier's config of a deleted function."""
        with self._lock:
            if self._file.content().pop(function, None) is not None:
                self._file.save()


def _decoded(stored: Mapping[str, Any]) -> tuple[AsyncConfig, float]:
    return AsyncConfig(**{key: stored[key] for key in _FIELDS if key in stored}), stored["last_modified"]


def updated(current: AsyncConfig, body: Mapping[str, Any], *, merge: bool) -> AsyncConfig:
    """The config a Put (`merge` False: the body replaces the whole EventInvokeConfig) or an Update (`merge`
    True: the body's fields over `current`) leaves; ValidationException for values out of range."""
    base = current if merge else AsyncConfig()
    destinations = body.get("DestinationConfig") or {}
    if not isinstance(destinations, dict):
        raise ConfigError("DestinationConfig must be an object.")
    config = replace(
        base,
        maximum_retry_attempts=body.get("MaximumRetryAttempts", base.maximum_retry_attempts),
        maximum_event_age_seconds=body.get("MaximumEventAgeInSeconds", base.maximum_event_age_seconds),
        on_success=(destinations.get("OnSuccess") or {}).get("Destination", base.on_success),
        on_failure=(destinations.get("OnFailure") or {}).get("Destination", base.on_failure),
    )
    try:
        return config.validate()
    except ConfigError as exc:
        raise ApiError("ValidationException", exc.message) from exc


def render(config: AsyncConfig, modified: float, function_arn: str) -> dict[str, object]:
    """A FunctionEventInvokeConfig as Get/Put/Update/List answer it; `function_arn` carries the qualifier."""
    return {
        "LastModified": modified,
        "FunctionArn": function_arn,
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age_seconds,
        "DestinationConfig": {
            "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
            "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
        },
    }
