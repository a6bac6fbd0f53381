"""Code signing configs (Create/Get/Update/Delete/ListCodeSigningConfigs): stored, returned and validated as
Lambda does, kept in the state directory. lambda-emu verifies no signature: a config's policy is stored and
answered only (its functions' code is never signed locally)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig
from lambda_emu.control import bodies
from lambda_emu.control.model import lambda_timestamp
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ApiError

LOG = logging.getLogger(__name__)

CODE_SIGNING_FILE = "code-signing-configs.json"
_FILE_HINT = "Fix or remove the file (it holds what CreateCodeSigningConfig stored)."
# Lambda's default when CodeSigningPolicies is left out (API Reference: CodeSigningPolicies).
DEFAULT_POLICIES = {"UntrustedArtifactOnDeployment": "Warn"}


class CodeSigningConfigs:
    """Thread-safe; one JSON file under the state directory, {arn: {"config": the config as Get answers it,
    "tags": its tags}}."""

    def __init__(self, emulator: EmulatorConfig, state_dir: Path) -> None:
        self._emulator = emulator
        self._file = JsonStateFile(
            state_dir / CODE_SIGNING_FILE,
            "code_signing_configs",
            holds="the code signing configs",
            hint=_FILE_HINT,
        )
        self._lock = self._file.lock
        # Which functions use a config (FunctionSettings.uses): a config in use cannot be deleted.
        self.users: Callable[[str], list[str]] = lambda arn: []

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("CreateCodeSigningConfig", body)
        identifier = "csc-" + secrets.token_hex(9)[:17]  # csc- and 17 lower-case hex digits, as Lambda's
        region, account = self._emulator.region, self._emulator.account_id
        arn = f"arn:aws:lambda:{region}:{account}:code-signing-config:{identifier}"
        config = {
            "CodeSigningConfigId": identifier,
            "CodeSigningConfigArn": arn,
            "Description": body.get("Description") or "",
            "AllowedPublishers": {
                "SigningProfileVersionArns": list(body["AllowedPublishers"]["SigningProfileVersionArns"])
            },
            "CodeSigningPolicies": {**DEFAULT_POLICIES, **(body.get("CodeSigningPolicies") or {})},
            "LastModified": lambda_timestamp(),
        }
        with self._lock:
            self._file.content()[arn] = {"config": config, "tags": dict(body.get("Tags") or {})}
            self._file.save()
        LOG.info("created code signing config %s", arn)
        return {"CodeSigningConfig": config}

    def get(self, arn: str) -> dict[str, Any]:
        validate_function_request("GetCodeSigningConfig", {"CodeSigningConfigArn": arn})
        with self._lock:
            return {"CodeSigningConfig": dict(self._found(arn))}

    def update(self, arn: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body's members over the config's; LastModified is now."""
        validate_function_request("UpdateCodeSigningConfig", {**body, "CodeSigningConfigArn": arn})
        with self._lock:
            config = dict(self._found(arn))
            if body.get("Description") is not None:
                config["Description"] = body["Description"]
            if body.get("AllowedPublishers") is not None:
                config["AllowedPublishers"] = {
                    "SigningProfileVersionArns": list(body["AllowedPublishers"]["SigningProfileVersionArns"])
                }
            if body.get("CodeSigningPolicies") is not None:
                config["CodeSigningPolicies"] = {
                    **config["CodeSigningPolicies"],
                    **body["CodeSigningPolicies"],
                }
            config["LastModified"] = lambda_timestamp()
            self._file.content()[arn]["config"] = config
            self._file.save()
        return {"CodeSigningConfig": config}

    def delete(self, arn: str) -> None:
        validate_function_request("DeleteCodeSigningConfig", {"CodeSigningConfigArn": arn})
        with self._lock:
            self._found(arn)
            using = self.users(arn)
            if using:
                # [U] Lambda's words are unverified; it refuses to delete a config functions still use.
                raise ApiError(
                    "ResourceConflictException",
                    f"The code signing configuration {arn} is used by functions: {', '.join(using)}.",
                )
            del self._file.content()[arn]
            self._file.save()

    def list(self, query: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            configs = [dict(stored["config"]) for stored in self._file.content().values()]
        found, marker = bodies.page(configs, query)
        return {"CodeSigningConfigs": list(found), **marker}

    def require_for_function(self, arn: str) -> None:
        """PutFunctionCodeSigningConfig's and CreateFunction's check: the config exists."""
        with self._lock:
            if arn not in self._file.content():
                raise ApiError(
                    "CodeSigningConfigNotFoundException",
                    "The code signing configuration cannot be found. Check that the provided configuration "
                    f"is not deleted: {arn}.",
                )

    # ---- TagResource, UntagResource, ListTags on a config's ARN
    def exists(self, arn: str) -> bool:
        with self._lock:
            return arn in self._file.content()

    def tags(self, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._stored(arn)["tags"])

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            self._stored(arn)["tags"].update(tags)
            self._file.save()

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        with self._lock:
            stored = self._stored(arn)
            stored["tags"] = {key: value for key, value in stored["tags"].items() if key not in keys}
            self._file.save()

    def _found(self, arn: str) -> Mapping[str, Any]:
        config: Mapping[str, Any] = self._stored(arn)["config"]
        return config

    def _stored(self, arn: str) -> dict[str, Any]:
        stored: dict[str, Any] | None = self._file.content().get(arn)
        if stored is None:
            raise ApiError(
                "ResourceNotFoundException", f"The Lambda code signing configuration {arn} can not be found."
            )
        return stored
