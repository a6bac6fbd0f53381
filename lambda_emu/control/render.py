"""Records in Lambda's response shapes: FunctionConfiguration, GetFunction's answer and AliasConfiguration
(members and names as in the Lambda API model, 2015-03-31)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from lambda_emu import arns
from lambda_emu.config import EmulatorConfig
from lambda_emu.control.model import AliasRecord, FunctionRecord

LOG = logging.getLogger(__name__)


def function_configuration(
    record: FunctionRecord,
    emulator: EmulatorConfig,
    *,
    qualified_latest: bool = False,
    asked: str | None = None,
) -> dict[str, Any]:
    """FunctionConfiguration. $LATEST's FunctionArn is unqualified, except in ListVersionsByFunction
    (`qualified_latest`), where each entry names its version; a call that named a qualifier (`asked`:
    $LATEST, a version or an alias) gets the FunctionArn qualified as it asked, as Lambda answers."""
    config = record.config
    settings = record.settings
    qualifier = None if record.is_latest and not qualified_latest else config.version
    if asked is not None:
        qualifier = asked
    answer: dict[str, Any] = {
        "FunctionName": config.name,
        "FunctionArn": emulator.function_arn(config.name, qualifier),
        "Role": settings.get("Role") or default_role(config.name, emulator),
        "CodeSize": record.code_size,
        "Description": config.description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": record.last_modified,
        "CodeSha256": record.code_sha256,
        "Version": config.version,
        "TracingConfig": settings.get("TracingConfig") or {"Mode": "PassThrough"},
        "RevisionId": record.revision_id,
        "State": record.state,
        "PackageType": config.package_type,
        "Architectures": list(config.architectures),
        "EphemeralStorage": {"Size": config.ephemeral_storage},
        "SnapStart": {
            "ApplyOn": (settings.get("SnapStart") or {}).get("ApplyOn", "None"),
            "OptimizationStatus": "Off",  # no snapshots are taken locally
        },
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": config.log_group_name}
        | dict(settings.get("LoggingConfig") or {}),
    }
    if config.package_type == "Zip":
        answer["Runtime"] = config.runtime
        answer["Handler"] = config.handler
        answer["RuntimeVersionConfig"] = {"RuntimeVersionArn": runtime_version_arn(config.runtime, emulator)}
    # Lambda answers Environment even when the function has no variables.
    answer["Environment"] = {"Variables": dict(config.environment)}
    dead_letter = config.async_config.dead_letter_target
    if dead_letter:
        answer["DeadLetterConfig"] = {"TargetArn": dead_letter}
    if settings.get("VpcConfig"):
        answer["VpcConfig"] = {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""} | dict(
            settings["VpcConfig"]
        )
    for key in ("KMSKeyArn", "FileSystemConfigs", "TenancyConfig"):
        if settings.get(key):
            answer[key] = settings[key]
    if settings.get("Layers"):
        # Layers by ARN are stored, not fetched (lambda-emu runs local layers only): their size is unknown.
        answer["Layers"] = [{"Arn": arn, "CodeSize": 0} for arn in settings["Layers"]]
    if config.image_config is not None:
        image = config.image_config
        shown: dict[str, Any] = {}
        if image.entry_point is not None:
            shown["EntryPoint"] = list(image.entry_point)
        if image.command is not None:
            shown["Command"] = list(image.command)
        if image.working_directory is not None:
            shown["WorkingDirectory"] = image.working_directory
        answer["ImageConfigResponse"] = {"ImageConfig": shown}
    for key, value in (
        ("StateReason", record.state_reason),
        ("StateReasonCode", record.state_reason_code),
        ("LastUpdateStatus", record.last_update_status),
        ("LastUpdateStatusReason", record.last_update_reason),
        ("LastUpdateStatusReasonCode", record.last_update_reason_code),
    ):
        if value is not None:
            answer[key] = value
    return answer


def runtime_version_arn(runtime: str, emulator: EmulatorConfig) -> str:
    """A RuntimeVersionArn in Lambda's form (arn:aws:lambda:REGION::runtime:<64 hex>). The digest names the
    runtime id: lambda-emu's runtime version is that of its image, one per runtime."""
    digest = hashlib.sha256(f"lambda-emu:{runtime}".encode()).hexdigest()
    return arns.arn("lambda", emulator.region, "", f"runtime:{digest}")


def get_function(
    record: FunctionRecord, emulator: EmulatorConfig, reserved: int | None, *, asked: str | None = None
) -> dict[str, Any]:
    """GetFunction: the configuration, where the code is, the tags (unqualified calls) and concurrency."""
    config = record.config
    if config.package_type == "Image":
        code: dict[str, Any] = {
            "RepositoryType": "ECR",
            "ImageUri": config.image_uri,
            "ResolvedImageUri": config.image_uri,
        }
    else:
        # Lambda answers a presigned S3 URL; the package here is a file or folder on this machine.
        code = {"RepositoryType": "S3", "Location": config.code_path.resolve().as_uri()}
    answer: dict[str, Any] = {
        "Configuration": function_configuration(record, emulator, asked=asked),
        "Code": code,
    }
    if record.is_latest:
        answer["Tags"] = dict(record.tags)
    if reserved is not None:
        answer["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
    return answer


def alias_configuration(function_name: str, alias: AliasRecord, emulator: EmulatorConfig) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "AliasArn": emulator.function_arn(function_name, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.weights:
        answer["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
    return answer


def default_role(name: str, emulator: EmulatorConfig) -> str:
    """The Role shown for a function that was given none (template functions): every function has one."""
    return f"arn:{arns.partition(emulator.region)}:iam::{emulator.account_id}:role/lambda-emu-{name}"
