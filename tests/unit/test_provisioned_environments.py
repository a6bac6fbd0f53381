"""Provisioned concurrency's environments, over stand-in environments (no runtime needed) and, last, over
real ones running local runtime processes: allocated ahead (IN_PROGRESS → READY, or FAILED with Lambda's
reason), served first and spilled over when all are busy, initialised again after a crash, closed with their
owner."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from lambda_emu import wire
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.engine.environment import Environment, EnvState, RuntimeImage
from lambda_emu.engine.invoker import Invoker
from lambda_emu.engine.pool import EnvironmentPool
from lambda_emu.engine.provisioned import Allocation, ProvisionedEnvironments, ProvisionedStatus
from lambda_emu.models import Invocation
from tests.fakes import ProcessBackend

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


# Over real environments: local processes running our runtime client (tests/fakes.ProcessBackend).
INIT_TYPE = """
import os, time
INIT_AT = time.time()
def handler(event, context):
    return {"type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "init_at": INIT_AT}
"""


def test_an_invocation_takes_the_environment_initialised_ahead_and_reports_no_init(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(INIT_TYPE)
    backend, config = ProcessBackend(), EmulatorConfig()
    function = FunctionConfig("fn", "python3.11", "app.handler", tmp_path, version="1")

    def factory(kind: str):  # type: ignore[no-untyped-def]
        return lambda f: Environment(
            f,
            RuntimeImage("fake", user=None),
            backend=backend,
            emulator=config,
            code_dir=str(tmp_path),
            version=f.version,
            initialization_type=kind,
        )

    pool = EnvironmentPool(factory(wire.INIT_ON_DEMAND))
    ahead = ProvisionedEnvironments(function, 1, factory(wire.INIT_PROVISIONED)).start()
    try:
        assert ahead.wait_settled(30) is ProvisionedStatus.READY
        asked_at = time.time()
        invoker = Invoker(pool)
        invocation = Invocation(b"{}", config.function_arn("fn", "1"))
        result = invoker.invoke(function, invocation, provisioned=ahead)
        told = json.loads(result.payload)
        assert told["type"] == "provisioned-concurrency" and told["init_at"] < asked_at
        assert result.init_duration_ms is None  # its init was no part of the call
        assert pool.environments() == []  # nothing started on demand
        busy = ahead.acquire()  # the provisioned one is taken: the next call runs on demand
        spilled = invoker.invoke(
            function, Invocation(b"{}", config.function_arn("fn", "1")), provisioned=ahead
        )
        assert json.loads(spilled.payload)["type"] == "on-demand" and spilled.init_duration_ms is not None
        assert busy is not None
        ahead.release(busy)
    finally:
        ahead.close()
        pool.close()
