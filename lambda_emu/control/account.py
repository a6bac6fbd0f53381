"""GetAccountSettings: Lambda's account quotas (the defaults of a new account, from "Lambda quotas") and this
emulator's usage of them."""

from __future__ import annotations

import logging
from typing import Any

from lambda_emu import wire
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.store import FunctionStore

LOG = logging.getLogger(__name__)

TOTAL_CODE_SIZE = 80_530_636_800  # 75 GB of function and layer storage per region


def account_settings(store: FunctionStore, limits: ConcurrencyLimits) -> dict[str, Any]:
    names = store.names()
    records = [r for name in names for r in (store.latest(name), *store.versions(name)) if r is not None]
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": wire.MAX_UNZIPPED_CODE_BYTES,
            "CodeSizeZipped": wire.MAX_ZIPPED_CODE_BYTES,
            "ConcurrentExecutions": limits.account_limit,
            "UnreservedConcurrentExecutions": limits.unreserved(),
        },
        "AccountUsage": {"TotalCodeSize": sum(r.code_size for r in records), "FunctionCount": len(names)},
    }
