"""Settings of a function that Lambda keeps beside its configuration and lambda-emu stores and answers without
acting on them: the runtime management config (Put/GetRuntimeManagementConfig), the recursion config
(Put/GetFunctionRecursionConfig) and which code signing config a function uses
(Put/Get/DeleteFunctionCodeSigningConfig). Kept in the state directory; validated as Lambda validates them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambda_emu import wire
from lambda_emu.config import EmulatorConfig
from lambda_emu.control.bodies import page
from lambda_emu.control.code_signing import CodeSigningConfigs
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

SETTINGS_FILE = "function-settings.json"
_FILE_HINT = "Fix or remove the file (it holds the runtime management, recursion and code signing settings)."
# Lambda's defaults for a function that was never given one.
DEFAULT_RECURSIVE_LOOP = "Terminate"
DEFAULT_UPDATE_RUNTIME_ON = "Auto"


class FunctionSettings:
    """Thread-safe; one JSON file under the state directory: {"recursion": {name: mode}, "runtime": {name:
    {qualifier: {...}}}, "code_signing": {name: arn}}."""

    def __init__(
        self,
        registry: FunctionRegistry,
        code_signing: CodeSigningConfigs,
        emulator: EmulatorConfig,
        state_dir: Path,
    ) -> None:
        self._registry = registry
        self._code_signing = code_signing
        self._emulator = emulator
        self._file = JsonStateFile(
            state_dir / SETTINGS_FILE, "function_settings", holds="the functions' settings", hint=_FILE_HINT
        )
        self._lock = self._file.lock

    # ---- PutFunctionRecursionConfig / GetFunctionRecursionConfig
    def put_recursion(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("PutFunctionRecursionConfig", {**body, "FunctionName": function_name})
        name = self._registry.record(function_name).name
        with self._lock:
            self._section("recursion")[name] = body["RecursiveLoop"]
            self._file.save()
        return {"RecursiveLoop": body["RecursiveLoop"]}

    def get_recursion(self, function_name: str) -> dict[str, Any]:
        validate_function_request("GetFunctionRecursionConfig", {"FunctionName": function_name})
        name = self._registry.record(function_name).name
        with self._lock:
            return {"RecursiveLoop": self._section("recursion").get(name, DEFAULT_RECURSIVE_LOOP)}

    # ---- PutRuntimeManagementConfig / GetRuntimeManagementConfig
    def put_runtime(
        self, function_name: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        validate_function_request(
            "PutRuntimeManagementConfig", {**body, "FunctionName": function_name, "Qualifier": qualifier}
        )
        name, qualifier = self._version(function_name, qualifier)
        mode, arn = body["UpdateRuntimeOn"], body.get("RuntimeVersionArn")
        # [U] Lambda's words for these two refusals are unverified; the rule is the API Reference's:
        # RuntimeVersionArn "is only required if you're using the Manual runtime update mode".
        if mode == "Manual" and not arn:
            raise ConfigError("RuntimeVersionArn must be specified when UpdateRuntimeOn is Manual.")
        if mode != "Manual" and arn:
            raise ConfigError(
                f"RuntimeVersionArn can only be specified when UpdateRuntimeOn is Manual, not {mode}."
            )
        stored = {"UpdateRuntimeOn": mode, **({"RuntimeVersionArn": arn} if arn else {})}
        with self._lock:
            self._section("runtime").setdefault(name, {})[qualifier or wire.LATEST] = stored
            self._file.save()
        return {**stored, "FunctionArn": self._emulator.function_arn(name, qualifier)}

    def get_runtime(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        """The mode (Auto when never set) and, for Manual only, the runtime version (else null: left out)."""
        validate_function_request(
            "GetRuntimeManagementConfig", {"FunctionName": function_name, "Qualifier": qualifier}
        )
        name, qualifier = self._version(function_name, qualifier)
        with self._lock:
            stored = self._section("runtime").get(name, {}).get(qualifier or wire.LATEST)
        return {
            **(stored or {"UpdateRuntimeOn": DEFAULT_UPDATE_RUNTIME_ON}),
            "FunctionArn": self._emulator.function_arn(name, qualifier),
        }

    # ---- Put/Get/DeleteFunctionCodeSigningConfig, ListFunctionsByCodeSigningConfig
    def put_code_signing(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("PutFunctionCodeSigningConfig", {**body, "FunctionName": function_name})
        arn = body["CodeSigningConfigArn"]
        self._code_signing.require_for_function(arn)
        name = self._registry.record(function_name).name
        self.link_code_signing(name, arn)
        return {"CodeSigningConfigArn": arn, "FunctionName": name}

    def link_code_signing(self, name: str, arn: str) -> None:
        with self._lock:
            self._section("code_signing")[name] = arn
            self._file.save()

    def get_code_signing(self, function_name: str) -> dict[str, Any]:
        """The function's code signing config; an empty answer when it has none."""
        validate_function_request("GetFunctionCodeSigningConfig", {"FunctionName": function_name})
        name = self._registry.record(function_name).name
        with self._lock:
            arn = self._section("code_signing").get(name)
        return {"CodeSigningConfigArn": arn, "FunctionName": name} if arn else {}

    def delete_code_signing(self, function_name: str) -> None:
        validate_function_request("DeleteFunctionCodeSigningConfig", {"FunctionName": function_name})
        name = self._registry.record(function_name).name
        with self._lock:
            if self._section("code_signing").pop(name, None) is not None:
                self._file.save()

    def functions_signed_by(self, arn: str, query: Mapping[str, str]) -> dict[str, Any]:
        validate_function_request("ListFunctionsByCodeSigningConfig", {"CodeSigningConfigArn": arn})
        self._code_signing.get(arn)  # 404 for a config that does not exist
        with self._lock:
            names = sorted(name for name, used in self._section("code_signing").items() if used == arn)
        found, marker = page([self._emulator.function_arn(name) for name in names], query)
        return {"FunctionArns": list(found), **marker}

    def uses(self, arn: str) -> list[str]:
        with self._lock:
            return sorted(name for name, used in self._section("code_signing").items() if used == arn)

    # ---- the function went
    def forget(self, name: str, qualifier: str | None = None) -> None:
        """Drop what is kept of a deleted function (or, with `qualifier`, of a deleted version)."""
        with self._lock:
            changed = False
            if qualifier is None:
                for section in ("recursion", "runtime", "code_signing"):
                    changed |= self._section(section).pop(name, None) is not None
            else:
                changed = self._section("runtime").get(name, {}).pop(qualifier, None) is not None
            if changed:
                self._file.save()

    def _section(self, key: str) -> dict[str, Any]:
        section: dict[str, Any] = self._file.content().setdefault(key, {})
        return section

    def _version(self, function_name: str, qualifier: str | None) -> tuple[str, str | None]:
        """(name, qualifier) of $LATEST or a published version that exists: 404 as GetFunction answers."""
        name, qualifier = self._registry.parse(function_name, qualifier)
        self._registry.record(name, qualifier)
        return name, qualifier
