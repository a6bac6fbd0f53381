"""The environment pool's choice of environment, over stand-in environments (no runtime needed)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from lambda_emu.config import FunctionConfig
from lambda_emu.engine.environment import EnvState
from lambda_emu.engine.pool import EnvironmentPool, for_tenant
from lambda_emu.errors import ClosedError


class StandIn:
    """What the pool reads of an environment: its id, function, state and whether it is wedged."""

    def __init__(self, function: FunctionConfig) -> None:
        self.id = uuid.uuid4().hex
        self.function = function
        self.state = EnvState.READY
        self.wedged = False

    def start(self) -> None:
        self.state = EnvState.READY

    def close(self) -> None:
        self.state = EnvState.CLOSED


FUNCTION = FunctionConfig(name="fn", runtime="python3.11", handler="app.handler", code_path=Path("."))


def _acquire_later(pool: EnvironmentPool) -> list[object]:
    got: list[object] = []
    threading.Thread(target=lambda: got.append(pool.acquire(FUNCTION)), daemon=True).start()
    time.sleep(0.05)  # the call is waiting for the finishing environment
    return got


def test_a_call_waiting_for_a_finishing_environment_gets_it_even_when_idle_lists_were_rebuilt() -> None:
    made: list[StandIn] = []

    def factory(function: FunctionConfig) -> StandIn:
        made.append(StandIn(function))
        return made[-1]

    pool = EnvironmentPool(factory)  # type: ignore[arg-type]  # stand-ins, not Environments
    env = pool.acquire(FUNCTION)
    pool.answered(env)
    got = _acquire_later(pool)
    pool.stop_idle(3600)  # rebuilds every idle list while the call waits
    pool.release(env)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == [env] and len(made) == 1


def test_closing_the_pool_ends_a_wait_for_a_finishing_environment() -> None:
    pool = EnvironmentPool(StandIn)  # type: ignore[arg-type]
    env = pool.acquire(FUNCTION)
    pool.answered(env)
    errors: list[Exception] = []

    def acquire() -> None:
        try:
            pool.acquire(FUNCTION)
        except ClosedError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=acquire, daemon=True)
    waiter.start()
    time.sleep(0.05)
    pool.close()
    waiter.join(1)
    assert not waiter.is_alive() and [str(e) for e in errors] == ["pool is closed"]
    with pytest.raises(ClosedError):
        pool.acquire(FUNCTION)


def test_tenants_of_one_configuration_never_share_an_environment() -> None:
    made: list[StandIn] = []

    def factory(function: FunctionConfig) -> StandIn:
        made.append(StandIn(function))
        return made[-1]

    pool = EnvironmentPool(factory)  # type: ignore[arg-type]  # stand-ins, not Environments
    blue = pool.acquire(for_tenant(FUNCTION, "blue"))
    pool.release(blue)
    green = pool.acquire(for_tenant(FUNCTION, "green"))  # blue's idle environment is not green's
    pool.release(green)
    assert green is not blue and len(made) == 2
    assert pool.acquire(for_tenant(FUNCTION, "blue")) is blue
    assert for_tenant(FUNCTION, "blue") == FUNCTION  # the same configuration, pooled apart
