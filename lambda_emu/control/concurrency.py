"""Concurrency as Lambda counts it: an account-wide limit, and per-function reserved concurrency carved out of
it. A call over a limit is throttled (429 TooManyRequestsException) with Lambda's Reason (Lambda API
Reference: Invoke)."""

from __future__ import annotations

import logging
import threading

from lambda_emu.errors import ConfigError, ThrottledError

LOG = logging.getLogger(__name__)

DEFAULT_ACCOUNT_LIMIT = 1000
MIN_UNRESERVED = 100  # Lambda keeps at least 100 of the account's concurrency unreserved


class ConcurrencyLimits:
    def __init__(self, account_limit: int = DEFAULT_ACCOUNT_LIMIT) -> None:
        self.account_limit = account_limit
        self._lock = threading.Lock()
        self._reserved: dict[str, int] = {}
        self._running: dict[str, int] = {}

    # ---- PutFunctionConcurrency / GetFunctionConcurrency / DeleteFunctionConcurrency
    def reserve(self, function: str, amount: int) -> None:
        if amount < 0:
            raise ConfigError("ReservedConcurrentExecutions must be 0 or more.")
        with self._lock:
            others = sum(v for k, v in self._reserved.items() if k != function)
            floor = min(MIN_UNRESERVED, self.account_limit)
            if self.account_limit - others - amount < floor:
                raise ConfigError(
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
                )
            self._reserved[function] = amount

    def reserved(self, function: str) -> int | None:
        with self._lock:
            return self._reserved.get(function)

    def unreserve(self, function: str) -> None:
        with self._lock:
            self._reserved.pop(function, None)

    def unreserved(self) -> int:
        """GetAccountSettings' UnreservedConcurrentExecutions: what no function has reserved."""
        with self._lock:
            return self.account_limit - sum(self._reserved.values())

    # ---- invocations
    def slot(self, function: str) -> Slot:
        """Hold one unit of concurrency for the call, until the with-block ends or the slot is released;
        ThrottledError when none is free."""
        self._take(function)
        return Slot(self, function)

    def _give_back(self, function: str) -> None:
        with self._lock:
            self._running[function] -= 1

    def _take(self, function: str) -> None:
        with self._lock:
            running = self._running.get(function, 0)
            reserved = self._reserved.get(function)
            if reserved is not None:
                if running >= reserved:
                    raise ThrottledError("ReservedFunctionConcurrentInvocationLimitExceeded")
            else:
                unreserved_pool = self.account_limit - sum(self._reserved.values())
                unreserved_running = sum(
                    count for name, count in self._running.items() if name not in self._reserved
                )
                if unreserved_running >= unreserved_pool:
                    raise ThrottledError("ConcurrentInvocationLimitExceeded")
            self._running[function] = running + 1


class Slot:
    """One unit of a function's concurrency, held by one call. Released once, whichever comes first: an
    explicit `release` (the Invoke API gives it back when it has answered, so a caller that invokes again
    at once is not throttled by the bookkeeping of its previous call) or the end of its with-block."""

    __slots__ = ("_function", "_limits")

    def __init__(self, limits: ConcurrencyLimits, function: str) -> None:
        self._limits: ConcurrencyLimits | None = limits
        self._function = function

    def release(self) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits._give_back(self._function)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
