"""Concurrency accounting: a slot is one unit of a function's concurrency, given back exactly once."""

from __future__ import annotations

import pytest

from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.errors import ThrottledError


def test_a_released_slot_frees_its_unit_and_its_with_block_does_not_free_another() -> None:
    limits = ConcurrencyLimits()
    limits.reserve("fn", 1)
    with limits.slot("fn") as slot:
        with pytest.raises(ThrottledError) as throttled:
            limits.slot("fn")
        assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        slot.release()  # answered early: the next call may run
        with limits.slot("fn"):
            with pytest.raises(ThrottledError):
                limits.slot("fn")  # the early release did not count twice when the first block ended
    with limits.slot("fn"):
        pass


def test_reserved_functions_take_their_units_out_of_the_account_pool() -> None:
    limits = ConcurrencyLimits(account_limit=150)
    limits.reserve("reserved", 50)
    held = [limits.slot("other") for _ in range(100)]
    with pytest.raises(ThrottledError) as throttled:
        limits.slot("other")
    assert throttled.value.reason == "ConcurrentInvocationLimitExceeded"
    with limits.slot("reserved"):
        pass
    for slot in held:
        slot.release()
