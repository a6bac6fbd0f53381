"""Tenant isolation mode (a function's TenancyConfig, set at CreateFunction): which Invoke calls carry a
TenantId, checked as the API model checks it. Where the call runs is the engine's (one tenant per
environment: engine.pool.for_tenant)."""

from __future__ import annotations

import logging

from lambda_emu.control.model import FunctionRecord
from lambda_emu.control.request_shapes import OPERATIONS
from lambda_emu.control.validation import check_request
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)


def isolated(record: FunctionRecord | None) -> bool:
    tenancy = (record.settings.get("TenancyConfig") if record is not None else None) or {}
    return bool(tenancy.get("TenantIsolationMode") == "PER_TENANT")


def check(record: FunctionRecord | None, tenant_id: str | None) -> None:
    """Refuse an invoke whose TenantId does not fit the function: malformed, missing for a function in
    tenant isolation mode, or given to one that is not. [U] Lambda's words for the last two are unverified."""
    if tenant_id is not None:  # the model's TenantId: 1 to 256 characters of its pattern
        check_request(OPERATIONS["Invoke"], {"TenantId": tenant_id})
    name = record.name if record is not None else ""
    if isolated(record) and tenant_id is None:
        raise ConfigError(
            f"The function {name} is in tenant isolation mode: the invocation needs a TenantId."
        )
    if not isolated(record) and tenant_id is not None:
        raise ConfigError(f"The function {name} is not in tenant isolation mode: TenantId is not supported.")
