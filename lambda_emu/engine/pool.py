"""Which execution environment serves a call: a warm idle one of the same configuration, else a new one."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from lambda_emu.config import FunctionConfig
from lambda_emu.engine.environment import Environment, EnvState
from lambda_emu.errors import ClosedError

LOG = logging.getLogger(__name__)

EnvironmentFactory = Callable[[FunctionConfig], Environment]

# How long a call waits for an environment that has answered its caller and is finishing its invocation
# (writing END and REPORT, taking the runtime's next /next) before it starts another. Finishing takes well
# under a millisecond, but may wait for the function's output up to the invoker's log grace (2 s): a
# function's unit of concurrency is free from the answer on, so a second environment would break it.
ANSWERED_WAIT_S = 2.0


def pool_key(function: FunctionConfig) -> str:
    """Environments are reused only for the identical configuration: any change means a new one."""
    # A FunctionConfig is frozen, so its key is computed once per object (the repr is ~20 us a call).
    key: str | None = function.__dict__.get("_pool_key")
    if key is None:
        key = repr(function)
        object.__setattr__(function, "_pool_key", key)
    return key


def for_tenant(function: FunctionConfig, tenant: str) -> FunctionConfig:
    """`function` as it runs for one tenant of a function in tenant isolation mode: the same configuration,
    pooled apart, as Lambda never lets two tenants share an execution environment (Developer Guide: tenant
    isolation). One copy per tenant and configuration, kept with the configuration."""
    tenants: dict[str, FunctionConfig] = function.__dict__.setdefault("_tenants", {})
    copy = tenants.get(tenant)
    if copy is None:
        copy = dataclasses.replace(function)
        object.__setattr__(copy, "_pool_key", f"{pool_key(function)}|tenant={tenant!r}")
        tenants[tenant] = copy
    return copy


class EnvironmentPool:
    """Owns every environment it made; `close` stops them all."""

    def __init__(self, factory: EnvironmentFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        # pool key → (when it became idle, environment), most recently released last
        self._idle: defaultdict[str, list[tuple[float, Environment]]] = defaultdict(list)
        self._all: list[Environment] = []
        # Busy environments of a retired function: closed when their invocation releases them.
        self._retiring: set[str] = set()
        self._closers: list[threading.Thread] = []  # retired environments being removed; joined by close
        self._closed = False
        # Busy environments whose caller has its answer: free again in a moment (see `answered`).
        self._answered: set[Environment] = set()
        self._released = threading.Condition(self._lock)

    def acquire(self, function: FunctionConfig) -> Environment:
        """An environment that can take an invocation now (started, restarted after a reset, or new)."""
        key = pool_key(function)
        with self._lock:
            if self._closed:
                raise ClosedError("pool is closed")
            if not self._idle[key] and self._finishing(key):
                # A caller that invokes again at once (on another connection) gets the environment that
                # just answered it, as in Lambda, rather than a cold start beside it. The idle list is
                # looked up again after the wait: stop_idle and retire replace it.
                self._released.wait_for(
                    lambda: self._closed or self._idle[key] or not self._finishing(key), ANSWERED_WAIT_S
                )
                if self._closed:
                    raise ClosedError("pool is closed")
            idle = self._idle[key]
            env = idle.pop()[1] if idle else None
        if env is None:
            env = self._factory(function)
            with self._lock:
                self._all.append(env)
        if env.state in (EnvState.NEW, EnvState.DEAD):
            env.start()
        return env

    def answered(self, env: Environment) -> None:
        """The environment's caller has its answer; the invocation's bookkeeping goes on until `release`."""
        with self._lock:
            self._answered.add(env)

    def _finishing(self, key: str) -> bool:
        """Under the lock: an environment of this configuration has answered and is about to be free."""
        return any(pool_key(env.function) == key for env in self._answered)

    def release(self, env: Environment) -> None:
        with self._lock:
            if env in self._answered:
                self._answered.discard(env)
                self._released.notify_all()
            retired = env.id in self._retiring or env.wedged
            if retired:
                self._retiring.discard(env.id)
                self._all = [other for other in self._all if other is not env]
            elif not self._closed and env.state is not EnvState.CLOSED:
                self._idle[pool_key(env.function)].append((time.monotonic(), env))
                return
        if retired:
            # Removing a container takes ~200 ms: not on the path of the reply to the call that just ended.
            closer = threading.Thread(target=env.close, name=f"retire-{env.id[:6]}", daemon=True)
            with self._lock:
                self._closers = [t for t in self._closers if t.is_alive()] + [closer]
            closer.start()

    def retire(self, function_name: str) -> int:
        """Stop the function's environments (its code or configuration changed): idle ones now, busy ones
        when their invocation ends, so the next invocation runs a new Init phase. Returns how many."""
        with self._lock:
            stale = self._take_idle(lambda since, env: env.function.name == function_name)
            busy = [env for env in self._all if env.function.name == function_name]
            self._retiring.update(env.id for env in busy)
        for env in stale:
            env.close()
        return len(stale) + len(busy)

    def stop_idle(self, idle_for: float) -> int:
        """Stop environments idle for at least `idle_for` seconds (Lambda reclaims idle ones too)."""
        cutoff = time.monotonic() - idle_for
        with self._lock:
            stale = self._take_idle(lambda since, env: since <= cutoff)
        for env in stale:
            env.close()
        return len(stale)

    def _take_idle(self, chosen: Callable[[float, Environment], bool]) -> list[Environment]:
        """Under the lock: the idle environments `chosen(idle since, env)` picks, out of the pool."""
        taken = []
        for key, idle in self._idle.items():
            taken += [env for since, env in idle if chosen(since, env)]
            self._idle[key] = [(since, env) for since, env in idle if not chosen(since, env)]
        self._all = [env for env in self._all if env not in taken]
        return taken

    def environments(self) -> list[Environment]:
        with self._lock:
            return list(self._all)

    def close(self, *, detach: bool = False) -> None:
        """Close every environment; `detach`: the engine finishes removing containers (Environment.close)."""
        with self._lock:
            self._closed = True
            envs, self._all = self._all, []
            self._idle.clear()
            self._released.notify_all()  # a call waiting for a finishing environment gives up
        if detach and len(envs) == 1:  # one quick close: no thread to start
            envs[0].close(detach=True)
            envs = []
        # Removing containers one by one costs ~15 ms each; in parallel the pool closes at once.
        threads = [
            threading.Thread(
                target=env.close, kwargs={"detach": True} if detach else {}, name=f"close-{env.id[:6]}"
            )
            for env in envs
        ]
        for thread in threads:
            thread.start()
        for thread in threads + self._closers:
            thread.join(timeout=30)
