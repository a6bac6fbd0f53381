"""The control plane's data: a function's $LATEST or published version (FunctionRecord) and an alias
(AliasRecord), with the Lambda-only fields stored beside the runnable FunctionConfig (Lambda API
Reference)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_emu import wire
from lambda_emu.config import FunctionConfig

LOG = logging.getLogger(__name__)

ORIGIN_API = "api"  # created through CreateFunction: the control plane is its only source
ORIGIN_TEMPLATE = "template"  # from the template: each load (and hot reload) sets its $LATEST again

# State and LastUpdateStatus values (the API model's enums).
ACTIVE, PENDING, FAILED = "Active", "Pending", "Failed"
SUCCESSFUL, IN_PROGRESS = "Successful", "InProgress"

# Fields of FunctionConfiguration that lambda-emu stores and returns but has nothing to enforce with
# locally (no IAM, VPC, X-Ray, KMS, EFS or SnapStart here): kept as the caller sent them.
STORED_ONLY = (
    "Role",
    "VpcConfig",
    "KMSKeyArn",
    "TracingConfig",
    "LoggingConfig",
    "FileSystemConfigs",
    "SnapStart",
    "DeadLetterConfig",
    "Layers",
)


def new_revision() -> str:
    return str(uuid.uuid4())


def lambda_timestamp(epoch: float | None = None) -> str:
    """LastModified as Lambda writes it: `2026-11-23T10:00:00.000+0000` (UTC, milliseconds)."""
    epoch = time.time() if epoch is None else epoch
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}+0000"


@dataclass(frozen=True)
class FunctionRecord:
    """One version of a function ($LATEST or a published number): what runs (`config`) and what
    GetFunctionConfiguration answers besides."""

    config: FunctionConfig
    code_sha256: str  # base64 of the package's sha256, as Lambda shows it
    code_size: int
    origin: str = ORIGIN_API
    settings: Mapping[str, Any] = field(default_factory=dict)  # STORED_ONLY fields, as sent
    tags: Mapping[str, str] = field(default_factory=dict)
    revision_id: str = field(default_factory=new_revision)
    last_modified: str = field(default_factory=lambda_timestamp)
    state: str = ACTIVE
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: str | None = SUCCESSFUL
    last_update_reason: str | None = None
    last_update_reason_code: str | None = None
    # While an update is in progress (and after it failed) invokes keep using the configuration that ran
    # before it (Lambda: while an update is InProgress, invokes use the old configuration).
    previous: FunctionConfig | None = None
    # A published version: the Description $LATEST had when it was published (the version's own may be
    # PublishVersion's), so a later PublishVersion can tell whether $LATEST changed since. None: unknown.
    source_description: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def version(self) -> str:
        return self.config.version

    @property
    def serving(self) -> FunctionConfig:
        """The configuration an invoke of this version runs now."""
        if self.previous is not None and self.last_update_status != SUCCESSFUL:
            return self.previous
        return self.config

    @property
    def is_latest(self) -> bool:
        return self.config.version == wire.LATEST


@dataclass(frozen=True)
class AliasRecord:
    """An alias: a name for a version, optionally sending a share of invokes to one more version."""

    name: str
    function_version: str
    description: str = ""
    # RoutingConfig.AdditionalVersionWeights: {"<version>": weight 0.0-1.0}; the primary gets the rest.
    weights: Mapping[str, float] = field(default_factory=dict)
    revision_id: str = field(default_factory=new_revision)


def template_record(function: FunctionConfig, existing: FunctionRecord | None) -> FunctionRecord:
    """The $LATEST record of a template's function. Unchanged configuration and code keep the record (and
    its RevisionId); a change makes a new revision, keeping what only the API sets (tags, stored fields)."""
    from lambda_emu.control import packages  # packages reads code; the model itself stays pure data

    if function.package_type == "Image":
        sha, size = packages.sha256_b64((function.image_uri or "").encode()), 0
    elif function.code_path.exists():
        package = packages.describe(function.code_path)
        sha, size = package.sha256, package.size
    else:  # the invoke reports the missing code, as before the control plane
        sha, size = packages.sha256_b64(b""), 0
    if existing is not None and existing.config == function and existing.code_sha256 == sha:
        return existing
    return FunctionRecord(
        config=function,
        code_sha256=sha,
        code_size=size,
        origin=ORIGIN_TEMPLATE,
        settings=existing.settings if existing is not None else {},
        tags=existing.tags if existing is not None else {},
    )
