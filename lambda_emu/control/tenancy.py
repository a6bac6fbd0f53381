"""Tenant isolation mode (a function's TenancyConfig, set at CreateFunction): which Invoke calls carry a
TenantId, checked as the API model checks it. Where the call runs is the engine's (one tenant per
environment: engine.pool.for_tenant)."""

from __future__ import annotations

import logging
import re

from lambda_emu.control.model import FunctionRecord
from lambda_emu.errors import ApiError, ConfigError

LOG = logging.getLogger(__name__)

# The API model's TenantId: 1 to 256 characters of these.
TENANT_ID_PATTERN = r"[a-zA-Z0-9\._:\/=+\-@ ]+"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_MAX_LENGTH = 256


def isolated(record: FunctionRecord | None) -> bool:
    tenancy = (record.settings.get("TenancyConfig") if record is not None else None) or {}
    return bool(tenancy.get("TenantIsolationMode") == "PER_TENANT")


def check(record: FunctionRecord | None, tenant_id: str | None) -> None:
    """Refuse an invoke whose TenantId does not fit the function: malformed, missing for a function in
    tenant isolation mode, or given to one that is not. [U] Lambda's words for the last two are unverified."""
    if tenant_id is not None:
        problems = []
        if not _TENANT_ID.fullmatch(tenant_id):
            problems.append(f"Member must satisfy regular expression pattern: {TENANT_ID_PATTERN}")
        if len(tenant_id) > _MAX_LENGTH:
            problems.append(f"Member must have length less than or equal to {_MAX_LENGTH}")
        if not tenant_id:
            problems.append("Member must have length greater than or equal to 1")
        if problems:
            count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
            raise ApiError(
                "ValidationException",
                f"{count}: "
                + "; ".join(
                    f"Value '{tenant_id}' at 'tenantId' failed to satisfy constraint: {p}" for p in problems
                ),
            )
    name = record.name if record is not None else ""
    if isolated(record) and tenant_id is None:
        raise ConfigError(
            f"The function {name} is in tenant isolation mode: the invocation needs a TenantId."
        )
    if not isolated(record) and tenant_id is not None:
        raise ConfigError(f"The function {name} is not in tenant isolation mode: TenantId is not supported.")
