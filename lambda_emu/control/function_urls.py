"""Function URL configs set through the API (CreateFunctionUrlConfig and its kin): one per function and
qualifier ($LATEST or an alias), each with the url-id its URL is named by, kept durably in the state
directory; their request shapes (botocore's model) and how each operation renders one."""

from __future__ import annotations

import datetime
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu import wire
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.errors import ApiError
from lambda_emu.template.apis import Cors

FUNCTION_URL_FILE = "function-urls.json"
# What a resource-based policy must allow the signer of a request to an AWS_IAM Function URL.
INVOKE_URL_ACTION = "lambda:InvokeFunctionUrl"
_FILE_HINT = "Fix or remove the file (it holds what CreateFunctionUrlConfig stored)."
_URL_ID_CHARS = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class UrlConfig:
    """One function URL: what the API set, and the url-id its URL is named by."""

    function: str
    qualifier: str  # $LATEST or an alias
    url_id: str
    auth_type: str
    invoke_mode: str
    cors: Mapping[str, Any] | None
    created: str  # ISO 8601, as Lambda renders it
    modified: str

    def to_json(self) -> dict[str, Any]:
        return {
            "url_id": self.url_id,
            "auth_type": self.auth_type,
            "invoke_mode": self.invoke_mode,
            "cors": self.cors,
            "created": self.created,
            "modified": self.modified,
        }


def cors_fields(cors: Cors) -> dict[str, Any]:
    """A template's Cors as the API renders one: the members that are set."""
    fields: dict[str, Any] = {}
    if cors.allow_credentials:
        fields["AllowCredentials"] = True
    for key, values in (
        ("AllowHeaders", cors.allow_headers),
        ("AllowMethods", cors.allow_methods),
        ("AllowOrigins", cors.allow_origins),
        ("ExposeHeaders", cors.expose_headers),
    ):
        if values:
            fields[key] = list(values)
    if cors.max_age is not None:
        fields["MaxAge"] = cors.max_age
    return fields


def timestamp(at: datetime.datetime | None = None) -> str:
    """A Function URL's CreationTime / LastModifiedTime: ISO 8601 in UTC with microseconds
    ("2021-10-29T16:58:27.034511Z" in Lambda's answers)."""
    moment = at or datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_url_id() -> str:
    """A url-id as Lambda makes them: 32 lower-case letters and digits."""
    return "".join(secrets.choice(_URL_ID_CHARS) for _ in range(32))


class FunctionUrlStore:
    """Every function's URL configs by qualifier, and the url-id index the HTTP front routes by.
    Thread-safe; one JSON file under the state directory, loaded on first use."""

    def __init__(self, path: Path) -> None:
        # name → qualifier → UrlConfig.to_json()
        self._file = JsonStateFile(path, "function_urls", holds="the functions' URL configs", hint=_FILE_HINT)
        self._lock = self._file.lock

    def get(self, function: str, qualifier: str | None) -> UrlConfig | None:
        with self._lock:
            stored = self._file.content().get(function, {}).get(qualifier or wire.LATEST)
            return _decoded(function, qualifier or wire.LATEST, stored) if stored else None

    def all(self, function: str) -> list[UrlConfig]:
        """The function's URL configs, in the order they were created."""
        with self._lock:
            return [_decoded(function, q, s) for q, s in self._file.content().get(function, {}).items()]

    def by_url_id(self, url_id: str) -> UrlConfig | None:
        with self._lock:
            for function, configs in self._file.content().items():
                for qualifier, stored in configs.items():
                    if stored.get("url_id") == url_id:
                        return _decoded(function, qualifier, stored)
            return None

    def create(self, config: UrlConfig, arn: str) -> None:
        """Store a new config; ResourceConflictException when the function has one at that qualifier."""
        with self._lock:
            configs = self._file.content().setdefault(config.function, {})
            if config.qualifier in configs:
                raise ApiError(
                    "ResourceConflictException",
                    f"Failed to create function url config for [functionArn = {arn}]. Error message:  "
                    "FunctionUrlConfig exists for this Lambda function",
                )
            configs[config.qualifier] = config.to_json()
            self._file.save()

    def replace(self, config: UrlConfig) -> None:
        with self._lock:
            self._file.content().setdefault(config.function, {})[config.qualifier] = config.to_json()
            self._file.save()

    def delete(self, function: str, qualifier: str | None) -> bool:
        """Drop one config; False when there was none."""
        with self._lock:
            return self._file.drop(function, qualifier or wire.LATEST)

    def forget(self, function: str, qualifier: str | None = None) -> None:
        """Drop a deleted function's configs (every one, or a deleted alias's)."""
        with self._lock:
            if qualifier is not None:
                self._file.drop(function, qualifier)
            elif self._file.content().pop(function, None) is not None:
                self._file.save()


def _decoded(function: str, qualifier: str, stored: Mapping[str, Any]) -> UrlConfig:
    return UrlConfig(
        function=function,
        qualifier=qualifier,
        url_id=stored["url_id"],
        auth_type=stored["auth_type"],
        invoke_mode=stored.get("invoke_mode", "BUFFERED"),
        cors=stored.get("cors"),
        created=stored["created"],
        modified=stored["modified"],
    )


def rendered(config: UrlConfig, *, url: str, arn: str, operation: str) -> dict[str, Any]:
    """A config as `operation` answers it, in the order of Lambda's answers: Create has no
    LastModifiedTime; Cors only when set; List's items put the times before Cors."""
    if operation == "ListFunctionUrlConfigs":
        item: dict[str, Any] = {
            "FunctionUrl": url,
            "FunctionArn": arn,
            "CreationTime": config.created,
            "LastModifiedTime": config.modified,
        }
        if config.cors is not None:
            item["Cors"] = dict(config.cors)
        return {**item, "AuthType": config.auth_type, "InvokeMode": config.invoke_mode}
    answer: dict[str, Any] = {"FunctionUrl": url, "FunctionArn": arn, "AuthType": config.auth_type}
    if config.cors is not None:
        answer["Cors"] = dict(config.cors)
    answer["CreationTime"] = config.created
    if operation != "CreateFunctionUrlConfig":
        answer["LastModifiedTime"] = config.modified
    answer["InvokeMode"] = config.invoke_mode
    return answer
