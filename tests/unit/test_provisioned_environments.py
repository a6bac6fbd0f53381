"""Provisioned concurrency's environments over stand-in environments (no runtime needed): allocated ahead
(IN_PROGRESS → READY, or FAILED with Lambda's reason), served first and spilled over when all are busy,
initialised again after a crash, closed with their owner."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from lambda_emu.config import FunctionConfig
from lambda_emu.engine.environment import EnvState
from lambda_emu.engine.provisioned import Allocation, ProvisionedEnvironments, ProvisionedStatus

FUNCTION = FunctionConfig(
    name="fn", runtime="python3.11", handler="app.handler", code_path=Path("."), version="1"
)


class StandIn:
    """What the provisioned set reads of an environment. Its init ends when the test says (`release_init`),
    or fails when `fails`."""

    def __init__(self, fails: bool = False) -> None:
        self.id = uuid.uuid4().hex
        self.function = FUNCTION
        self.state = EnvState.NEW
        self.wedged = False
        self.fails = fails
        self.starts = 0
        self.init_done = threading.Event()

    def start(self) -> None:
        self.starts += 1
        self.state = EnvState.STARTING

    def wait_initialized(self, timeout: float) -> EnvState:
        self.init_done.wait(timeout)
        if self.state is EnvState.STARTING:
            self.state = EnvState.DEAD if self.fails else EnvState.READY
        return self.state

    def close(self) -> None:
        self.state = EnvState.CLOSED
        self.init_done.set()  # as a real environment's close ends a wait for its init


def provisioned(count: int, envs: list[StandIn]) -> ProvisionedEnvironments:
    made = iter(envs)
    return ProvisionedEnvironments(FUNCTION, count, lambda f: next(made))  # type: ignore[arg-type,return-value]


def test_the_allocation_is_in_progress_until_every_environment_has_initialised_then_ready() -> None:
    envs = [StandIn(), StandIn()]
    ahead = provisioned(2, envs).start()
    try:
        assert ahead.allocation() == Allocation(ProvisionedStatus.IN_PROGRESS, 0, 0)
        envs[0].init_done.set()
        envs[1].init_done.set()
        assert ahead.wait_settled(5) is ProvisionedStatus.READY
        assert ahead.allocation() == Allocation(ProvisionedStatus.READY, 2, 2)
        assert all(env.starts == 1 for env in envs)  # started ahead, before any invocation
    finally:
        ahead.close()
    assert [env.state for env in envs] == [EnvState.CLOSED, EnvState.CLOSED]


def test_an_init_that_fails_fails_the_allocation_with_lambdas_reason_and_stops_its_environments() -> None:
    envs = [StandIn(), StandIn(fails=True)]
    for env in envs:
        env.init_done.set()
    ahead = provisioned(2, envs).start()
    try:
        assert ahead.wait_settled(5) is ProvisionedStatus.FAILED
        assert ahead.allocation() == Allocation(ProvisionedStatus.FAILED, 1, 0, "FUNCTION_ERROR_INIT_FAILURE")
        assert ahead.acquire() is None  # nothing serves: invocations run on demand
        assert [env.state for env in envs] == [EnvState.CLOSED, EnvState.CLOSED]
    finally:
        ahead.close()


def test_calls_take_the_initialised_environments_and_spill_over_when_all_are_busy() -> None:
    envs = [StandIn()]
    envs[0].init_done.set()
    ahead = provisioned(1, envs).start()
    try:
        assert ahead.wait_settled(5) is ProvisionedStatus.READY
        first = ahead.acquire()
        assert first is envs[0]
        assert ahead.acquire() is None  # busy: this call goes to an on-demand environment
        ahead.release(first)  # type: ignore[arg-type]
        assert ahead.acquire() is envs[0]
    finally:
        ahead.close()


def test_an_environment_whose_runtime_died_is_initialised_again_ahead_of_its_next_call() -> None:
    envs = [StandIn()]
    envs[0].init_done.set()
    ahead = provisioned(1, envs).start()
    try:
        assert ahead.wait_settled(5) is ProvisionedStatus.READY
        env = ahead.acquire()
        assert env is envs[0]
        envs[0].state = EnvState.DEAD  # timed out and reset, or crashed
        ahead.release(env)  # type: ignore[arg-type]
        deadline = threading.Event()
        for _ in range(500):
            if envs[0].starts == 2 and envs[0].state is EnvState.READY:
                break
            deadline.wait(0.01)
        assert envs[0].starts == 2 and ahead.acquire() is envs[0]
    finally:
        ahead.close()


def test_closing_during_the_allocation_stops_it_and_its_environments() -> None:
    envs = [StandIn(), StandIn()]
    ahead = provisioned(2, envs).start()
    ahead.close()  # the first environment's init is still running: close ends its wait
    assert envs[0].state is EnvState.CLOSED and envs[1].starts == 0
    assert ahead.acquire() is None
