"""Provisioned concurrency's environments: a set number initialised ahead for one version (of an alias or a
version) and kept warm, out of the pool's reach (no idle reclaim, no retirement), serving that qualifier's
invocations first; a call that finds them all busy spills over to on-demand environments (Lambda Developer
Guide: "Configuring provisioned concurrency")."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from lambda_emu import wire
from lambda_emu.config import FunctionConfig
from lambda_emu.engine.environment import Environment, EnvState
from lambda_emu.engine.pool import ANSWERED_WAIT_S

LOG = logging.getLogger(__name__)

# The environment of one version, initialised for provisioned concurrency (AWS_LAMBDA_INITIALIZATION_TYPE).
ProvisionedFactory = Callable[[FunctionConfig], Environment]


class ProvisionedStatus(enum.Enum):
    """ProvisionedConcurrencyStatusEnum of Lambda's API."""

    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    FAILED = "FAILED"


# StatusReason of a configuration whose environments could not initialise (as Lambda reports it).
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


@dataclass(frozen=True)
class Allocation:
    """What Get/ListProvisionedConcurrencyConfig(s) report of the environments."""

    status: ProvisionedStatus
    allocated: int  # environments initialised
    available: int  # of them, those that can take an invocation (initialised and not closed)
    reason: str | None = None


class ProvisionedEnvironments:
    """`count` environments of `function` (one published version), started by `start()` on a thread of its
    own, each waited for until its init is over. Thread-safe; `close` stops them all."""

    def __init__(self, function: FunctionConfig, count: int, factory: ProvisionedFactory) -> None:
        self.function = function
        self.count = count
        self._factory = factory
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._idle: list[Environment] = []
        self._all: list[Environment] = []
        self._answered: set[Environment] = set()
        self._initialised = 0
        self._status = ProvisionedStatus.IN_PROGRESS
        self._reason: str | None = None
        self._closed = False
        self._threads: list[threading.Thread] = []
        # Lambda's init limit for provisioned concurrency: max(130 s, the function's Timeout).
        self._init_limit = max(wire.PROVISIONED_INIT_TIMEOUT_S, float(function.timeout))

    def start(self) -> ProvisionedEnvironments:
        self._spawn(self._allocate)
        return self

    def allocation(self) -> Allocation:
        with self._lock:
            available = self._initialised if self._status is ProvisionedStatus.READY else 0
            return Allocation(self._status, self._initialised, available, self._reason)

    def wait_settled(self, timeout: float) -> ProvisionedStatus:
        """Wait until the allocation is READY or FAILED (for tests and the CLI); the status then."""
        with self._changed:
            self._changed.wait_for(lambda: self._status is not ProvisionedStatus.IN_PROGRESS, timeout)
            return self._status

    # ---- serving invocations (Invoker)
    def acquire(self) -> Environment | None:
        """An initialised environment that is free now (or within a moment: one that has answered its
        caller and is finishing, as the pool waits for one); None when every one is busy."""
        with self._changed:
            if not self._idle and self._answered and not self._closed:
                self._changed.wait_for(
                    lambda: self._idle or not self._answered or self._closed, ANSWERED_WAIT_S
                )
            if self._closed or not self._idle:
                return None
            env = self._idle.pop()
        if env.state in (EnvState.NEW, EnvState.DEAD):
            env.start()  # the runtime died since: a cold start inside the call (its REPORT says so)
        return env

    def answered(self, env: Environment) -> None:
        with self._lock:
            self._answered.add(env)

    def release(self, env: Environment) -> None:
        with self._changed:
            self._answered.discard(env)
            gone = self._closed or env.wedged or env.state is EnvState.CLOSED
            died = not gone and env.state is EnvState.DEAD  # timed out or crashed
            if gone:
                self._all = [other for other in self._all if other is not env]
            elif not died:
                self._idle.append(env)
            self._changed.notify_all()
        if gone:
            env.close()
        elif died:  # initialised again ahead of its next call, as Lambda replaces a provisioned environment
            self._spawn(self._reinitialise, env)

    # ---- allocation
    def _allocate(self) -> None:
        """Start the environments one by one (each is a container and an init on a shared machine) and
        wait for each init; READY once all are, FAILED at the first that cannot initialise."""
        for _ in range(self.count):
            with self._lock:
                if self._closed:
                    return
            try:
                env = self._factory(self.function)
            except Exception as exc:  # an image that cannot be built, code that cannot be packaged
                LOG.warning("provisioned concurrency of %s: %s", self.function.name, exc)
                self._fail()
                return
            with self._lock:
                closed = self._closed
                if not closed:
                    self._all.append(env)
            if closed:
                env.close()
                return
            if not self._initialise(env):
                self._fail()
                return
            with self._changed:
                self._initialised += 1
                self._idle.append(env)
                if self._initialised == self.count:
                    self._status = ProvisionedStatus.READY
                self._changed.notify_all()
        LOG.info(
            "provisioned concurrency of %s:%s: %d ready",
            self.function.name,
            self.function.version,
            self.count,
        )

    def _initialise(self, env: Environment) -> bool:
        try:
            env.start()
        except Exception as exc:
            LOG.warning("provisioned environment of %s did not start: %s", self.function.name, exc)
            return False
        return env.wait_initialized(self._init_limit) is EnvState.READY

    def _reinitialise(self, env: Environment) -> None:
        ready = self._initialise(env)
        with self._changed:
            if ready and not self._closed:
                self._idle.append(env)
                self._changed.notify_all()
                return
            self._all = [other for other in self._all if other is not env]
        env.close()

    def _fail(self) -> None:
        with self._changed:
            self._status = ProvisionedStatus.FAILED
            self._reason = INIT_FAILURE
            envs, self._all, self._idle = self._all, [], []
            self._changed.notify_all()
        for env in envs:
            env.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(
            target=target,
            args=args,
            name=f"provision-{self.function.name}-{self.function.version}",
            daemon=True,
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def environments(self) -> list[Environment]:
        with self._lock:
            return list(self._all)

    def close(self) -> None:
        """Stop every environment (busy ones too: their invocation is cut, as when the pool closes)."""
        with self._changed:
            self._closed = True
            envs, self._all, self._idle = self._all, [], []
            self._changed.notify_all()
        for env in envs:
            env.close()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=30)
