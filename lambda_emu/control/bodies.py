"""How the management API's request bodies become configurations and answers: Lambda's checks of a
body, the settings it changes, code packages, and the pagination of lists."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lambda_emu.config import FunctionConfig, ImageConfig
from lambda_emu.control import packages
from lambda_emu.control.model import (
    IN_PROGRESS,
    PENDING,
    STORED_ONLY,
    AliasRecord,
    FunctionRecord,
)
from lambda_emu.control.packages import CodePackage
from lambda_emu.errors import ApiError, ConfigError

LOG = logging.getLogger(__name__)

DEFAULT_MAX_ITEMS = 50
MAX_ITEMS_LIMIT = 10_000
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
    "retrieve the latest Revision Id"
)


def startup_problem(config: FunctionConfig) -> tuple[str, str] | None:
    """(LastUpdateStatusReasonCode, reason) when the configuration cannot start here, before anything runs;
    None when it may. What fails only when the code runs (a wrong handler) is the invoke's to report, as
    Lambda reports it (Runtime.ImportModuleError)."""
    if config.package_type != "Zip":
        return None
    from lambda_emu.images.runtimes import get_runtime

    try:
        get_runtime(config.runtime)
    except ConfigError as exc:
        return "InvalidRuntime", exc.message
    if not config.code_path.exists():
        return "InvalidZipFileException", f"The code {config.code_path} does not exist (any more)."
    missing = [str(layer) for layer in config.layers if not layer.exists()]
    if missing:
        return "InvalidConfiguration", f"Layer content missing: {', '.join(missing)}."
    return None


def check(config: FunctionConfig) -> None:
    """The runnable configuration's own rules, a backstop behind the request validation."""
    try:
        config.validate()
    except ConfigError as exc:
        raise ConfigError(exc.message, hint=exc.hint) from exc


def precondition(given: str | None, current: str) -> None:
    if given and given != current:
        raise ApiError("PreconditionFailedException", REVISION_MISMATCH)


def busy(record: FunctionRecord | None) -> bool:
    return record is not None and (record.state == PENDING or record.last_update_status == IN_PROGRESS)


def points_at(alias: AliasRecord, version: str) -> bool:
    return alias.function_version == version or version in alias.weights


def weights(body: Mapping[str, Any]) -> dict[str, float]:
    routing = body.get("RoutingConfig") or {}
    return {
        str(version): float(weight)
        for version, weight in (routing.get("AdditionalVersionWeights") or {}).items()
    }


def dead_letter(value: Any) -> str | None:
    return (value or {}).get("TargetArn") or None


def image_config(value: Mapping[str, Any] | None) -> ImageConfig | None:
    if not value:
        return None
    entry, command = value.get("EntryPoint"), value.get("Command")
    return ImageConfig(
        entry_point=tuple(entry) if entry is not None else None,
        command=tuple(command) if command is not None else None,
        working_directory=value.get("WorkingDirectory"),
    )


def settings(
    body: Mapping[str, Any], current: Mapping[str, Any], *, creating: bool = False
) -> dict[str, Any]:
    """The stored-only fields: those in the request replace the current ones, the rest are kept. The
    TenancyConfig is CreateFunction's: it "cannot be modified after function creation" (API Reference)."""
    settings = dict(current)
    for key in (*STORED_ONLY, "TenancyConfig") if creating else STORED_ONLY:
        if key in body:
            settings[key] = body[key]
    return settings


def configured(config: FunctionConfig, body: Mapping[str, Any]) -> FunctionConfig:
    """UpdateFunctionConfiguration: each field in the request replaces the current one; omitted fields are
    unchanged (an Environment without Variables clears them, as Lambda's does)."""
    changes: dict[str, Any] = {}
    for key, attribute in (
        ("Handler", "handler"),
        ("Runtime", "runtime"),
        ("MemorySize", "memory_size"),
        ("Timeout", "timeout"),
        ("Description", "description"),
    ):
        if key in body:
            changes[attribute] = body[key]
    if "Environment" in body:
        changes["environment"] = dict((body["Environment"] or {}).get("Variables") or {})
    if "EphemeralStorage" in body:
        changes["ephemeral_storage"] = (body["EphemeralStorage"] or {}).get("Size", config.ephemeral_storage)
    if "ImageConfig" in body:
        changes["image_config"] = image_config(body["ImageConfig"])
    if "DeadLetterConfig" in body:
        changes["async_config"] = replace(
            config.async_config, dead_letter_target=dead_letter(body["DeadLetterConfig"])
        )
    return replace(config, **changes)


def code_package(
    code: Mapping[str, Any], package_type: str, code_root: Path, local_roots: Sequence[Path] = ()
) -> CodePackage:
    """The code of Code (CreateFunction) or of UpdateFunctionCode's fields: ZipFile (base64 in JSON), the
    local bucket's folder or zip (under one of `local_roots`), or an ImageUri."""
    if package_type == "Image":
        uri = code.get("ImageUri")
        if not uri:
            raise ConfigError("Please provide ImageUri when the function's PackageType is Image.")
        return CodePackage(Path("."), packages.sha256_b64(str(uri).encode()), 0)
    if code.get("ZipFile"):
        try:
            data = base64.b64decode(code["ZipFile"], validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise ConfigError("ZipFile must be base64-encoded zip content.") from exc
        return packages.from_zip_bytes(data, code_root)
    bucket = code.get("S3Bucket")
    if bucket == packages.LOCAL_BUCKET and code.get("S3Key"):
        return packages.from_local(str(code["S3Key"]), local_roots)
    if bucket:
        raise ConfigError(
            f"lambda-emu has no S3: code in bucket {bucket} cannot be fetched.",
            hint=f'Send the zip as ZipFile, or a local folder as {{"S3Bucket": "{packages.LOCAL_BUCKET}", '
            '"S3Key": "/abs/path"}.',
        )
    raise ConfigError("Please provide a source for function code (ZipFile, or S3Bucket and S3Key).")


def page(
    items: Sequence[Any], query: Mapping[str, str], *, limit: int | None = None
) -> tuple[Sequence[Any], dict[str, str]]:
    """One page of `items` after Marker (opaque: the offset, encoded), at most MaxItems long (at most
    `limit`, the operation's own MaxItems bound, when it has one); NextMarker when more follow."""
    limit = MAX_ITEMS_LIMIT if limit is None else limit
    max_items = query.get("MaxItems")
    try:
        size = int(max_items) if max_items is not None else DEFAULT_MAX_ITEMS
    except ValueError:
        size = 0
    if not 1 <= size <= limit:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy constraint: "
            "Member must have value "
            + ("greater than or equal to 1" if size < 1 else f"less than or equal to {limit}"),
        )
    start = 0
    if query.get("Marker"):
        try:
            start = int(base64.urlsafe_b64decode(query["Marker"].encode()).decode())
        except (ValueError, binascii.Error):
            raise ApiError("InvalidParameterValueException", "Invalid marker.") from None
    page = items[start : start + size]
    following = start + size
    marker = (
        {"NextMarker": base64.urlsafe_b64encode(str(following).encode()).decode()}
        if following < len(items)
        else {}
    )
    return page, marker
