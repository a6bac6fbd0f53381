"""One execution environment: a container running the function's runtime, the Runtime API it talks to,
and its log stream, under an explicit state machine (new → starting → ready ⇄ busy → dead → … → closed)."""

from __future__ import annotations

import datetime
import enum
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from lambda_emu import wire
from lambda_emu.cleanup import FUNCTION_LABEL, OWNER_LABEL, owner_token
from lambda_emu.config import (
    EmulatorConfig,
    FunctionConfig,
    cpu_shares_for,
    function_environment,
    log_stream_name,
    vcpus_for,
)
from lambda_emu.containers import ContainerBackend, ContainerHandle, ContainerSpec, ExitStatus, Mount
from lambda_emu.engine.direct_output import DirectOutput
from lambda_emu.engine.logstream import LineSink, LogOrigin, LogStream, SinkFactory, close_sink, tee
from lambda_emu.engine.runtime_api import (
    PendingInvocation,
    ReplyKind,
    RuntimeApi,
    RuntimeApiServer,
    RuntimeReply,
)
from lambda_emu.errors import ContainerError, LambdaEmuError
from lambda_emu.models import Invocation

LOG = logging.getLogger(__name__)


# How long a kill may take before the environment is given up (a killed runtime normally ends in ~0.1 s).
_KILL_WAIT_S = 3.0


class EnvState(enum.Enum):
    NEW = "new"
    STARTING = "starting"  # runtime process started, init not finished
    READY = "ready"  # init done, no invocation
    BUSY = "busy"
    DEAD = "dead"  # runtime process gone (crash, kill, init error): restart before use
    CLOSED = "closed"


_TRANSITIONS = {
    EnvState.NEW: {EnvState.STARTING, EnvState.CLOSED},
    EnvState.STARTING: {EnvState.READY, EnvState.BUSY, EnvState.DEAD, EnvState.CLOSED},
    EnvState.READY: {EnvState.BUSY, EnvState.DEAD, EnvState.CLOSED},
    EnvState.BUSY: {EnvState.READY, EnvState.DEAD, EnvState.CLOSED},
    EnvState.DEAD: {EnvState.STARTING, EnvState.CLOSED},
    EnvState.CLOSED: set(),
}


@dataclass(frozen=True)
class RuntimeImage:
    """What the environment needs to know of a runtime's image."""

    image: str
    execution_env: str | None = None
    runtime_vars: tuple[tuple[str, str], ...] = ()
    log_markers: bool = True  # our own runtime clients write log markers; foreign ones do not
    direct_output: bool = False  # its runtime client sends its output to the emulator directly
    # Lambda runs functions as sbx_user1051 (uid 993, gid 990), never as root.
    user: str | None = "993:990"
    # Container-image functions: ImageConfig overrides (None keeps the image's own).
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_dir: str | None = "/var/task"
    # AWS's base images: their own entry point, which takes the function's handler as its command.
    handler_command: bool = False
    # A debug run's additions (lambda_emu/images/debugger.py): the variable that starts the runtime client
    # under a debugger, and the debugger's files, mounted read-only.
    debug_environment: tuple[tuple[str, str], ...] = ()
    debug_mounts: tuple[Mount, ...] = ()


class Environment:
    """Owns its container, Runtime API server and threads; `close` stops them all."""

    def __init__(
        self,
        function: FunctionConfig,
        runtime: RuntimeImage,
        *,
        backend: ContainerBackend,
        emulator: EmulatorConfig,
        code_dir: str | None,
        opt_dir: str | None = None,
        sink: LineSink | None = None,
        sink_for: SinkFactory | None = None,
        version: str = wire.LATEST,
        initialization_type: str = wire.INIT_ON_DEMAND,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.function = function
        self.version = version
        self.initialization_type = initialization_type
        self._backend = backend
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)  # every state change: wait_initialized waits on it
        self._state = EnvState.NEW
        # Initialised ahead of its first invocation (provisioned concurrency): that invocation's REPORT has
        # no Init Duration, its init being no part of the call, as Lambda reports it.
        self._init_ahead = initialization_type == wire.INIT_PROVISIONED
        self._marker = secrets.token_hex(16) if runtime.log_markers else None
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d")
        self.log_stream_name = log_stream_name(today, version, self.id)
        self._own_sink: LineSink | None = None  # closed with the environment (its stream has ended)
        if sink_for is not None:  # a sink that knows whose lines it gets (log store, prefixed terminal)
            own = sink_for(LogOrigin(function.name, function.log_group_name, self.log_stream_name))
            self._own_sink = own
            sink = tee(own, sink) if sink else own
        # Our Python client's output comes over a loopback socket (no engine in the way); the engine's
        # stream still carries whatever is written before the client connects.
        self._direct = DirectOutput(self._marker) if runtime.direct_output and self._marker else None
        self.log = LogStream(marker=self._marker, sink=sink, sources=2 if self._direct else 1)
        self.api = RuntimeApi(on_ready=self._on_ready, on_handout=self._on_handout, log_token=self._marker)
        # The Runtime API answers only this container's runtime, which alone resolves this name.
        self._api_host = f"runtime-{secrets.token_hex(12)}"
        self._server = RuntimeApiServer(
            self.api, name=f"runtime-api-{function.name}-{self.id[:6]}", host_name=self._api_host
        )
        self._container: ContainerHandle | None = None
        self._threads: list[threading.Thread] = []
        self._start_called_wall = 0.0
        self._ready_wall: float | None = None
        self._cold = True
        self.exit_status: ExitStatus | None = None
        # The runtime process's peak memory as last read: its cgroup goes with the process, so a runtime
        # that was killed (or killed itself) is reported with the last reading, never 0 MB.
        self._peak_bytes = 0
        self.wedged = False  # its runtime survived a kill: the pool closes it instead of reusing it
        # Lambda's CPU share: a weight and a hard quota proportional to memory once init is over. Init runs
        # at the default weight and unthrottled (Lambda's init phase has been observed to run faster than the
        # handler at small memory sizes); a small function's weight from the start starved its init on a
        # busy host (a Node runtime at 128 MB took over Lambda's 10 s init limit beside an image build).
        self._vcpus = vcpus_for(function.memory_size, os.cpu_count() or 1) if emulator.cpu_limit else None
        self._shares = cpu_shares_for(function.memory_size) if emulator.cpu_limit else None
        self._quota_applied = False
        self._spec = self._container_spec(runtime, emulator, _mounts(code_dir, opt_dir))

    def _container_spec(
        self, runtime: RuntimeImage, emulator: EmulatorConfig, mounts: tuple[Mount, ...]
    ) -> ContainerSpec:
        """The container this environment runs in: the function's limits and Lambda's environment, the
        Runtime API's address and secret host name, and how its output reaches the emulator."""
        function = self.function
        environment = function_environment(
            function,
            emulator,
            runtime_api=self._server.address,
            execution_env=runtime.execution_env,
            log_stream=self.log_stream_name,
            runtime_vars=dict(runtime.runtime_vars),
            version=self.version,
            initialization_type=self.initialization_type,
        )
        if self._marker:
            environment[wire.ENV_LOG_MARKER] = "1"  # the token itself comes from the Runtime API, once
        if self._direct is not None:
            environment[wire.ENV_LOG_ADDRESS] = self._direct.address
        environment.update(runtime.debug_environment)
        return ContainerSpec(
            image=runtime.image,
            name=f"lambda-emu-{function.name[:40]}-{self.id[:8]}",
            environment=environment,
            labels={OWNER_LABEL: owner_token(), FUNCTION_LABEL: function.name},
            memory_mb=function.memory_size,
            tmp_mb=function.ephemeral_storage,
            mounts=(*mounts, *runtime.debug_mounts),
            user=runtime.user,
            extra_hosts=((self._api_host, "127.0.0.1"),),
            entrypoint=runtime.entrypoint,
            command=runtime.command,
            working_dir=runtime.working_dir,
        )

    # ---- state
    @property
    def container_id(self) -> str | None:
        return self._container.id if self._container else None

    @property
    def state(self) -> EnvState:
        return self._state

    def _move(self, new: EnvState) -> None:
        """Caller holds the lock."""
        if new not in _TRANSITIONS[self._state]:
            raise LambdaEmuError(
                f"environment {self.id[:8]}: {self._state.value} → {new.value} is not allowed"
            )
        LOG.debug("environment %s: %s → %s", self.id[:8], self._state.value, new.value)
        self._state = new
        self._moved.notify_all()

    def wait_initialized(self, timeout: float) -> EnvState:
        """Wait until the init is over (READY), the runtime died (DEAD) or `timeout` passed; the state."""
        with self._moved:
            self._moved.wait_for(lambda: self._state is not EnvState.STARTING, timeout)
            return self._state

    # ---- lifecycle
    def start(self) -> None:
        """Start (or restart after a reset) the runtime process: a cold start."""
        with self._lock:
            if self._state not in (EnvState.NEW, EnvState.DEAD):
                return
            for thread in self._threads:  # the previous process's reader and waiter are done or ending
                thread.join(timeout=5)
            self._threads = []
            self.api.reset()
            self.log.restart()
            self.exit_status = None
            self._peak_bytes = 0
            self._ready_wall = None
            self._cold = True
            if self._container is None:
                self._container = self._create()
            elif self._quota_applied:
                self._container.set_cpu_limits(None, None)  # a re-init runs unthrottled, as the first did
                self._quota_applied = False
            container = self._container
            try:
                output = container.attach()
            except ContainerError as exc:
                # The container was removed from outside (`docker rm -f`): the sandbox is gone, so the
                # next invoke runs in a new one, as Lambda replaces a failed execution environment.
                LOG.info("environment %s: its container is gone (%s); creating a new one", self.id[:8], exc)
                container.remove()  # its /tmp with it: a new sandbox starts with an empty /tmp
                container = self._container = self._create()
                self._quota_applied = False
                output = container.attach()
            self._move(EnvState.STARTING)
        ended = threading.Event()  # this start's engine stream is over
        self._spawn("output", self._read_output, output, ended)
        if self._direct is not None:
            self._spawn("direct", self._read_direct, self._direct, ended)
        self._start_called_wall = time.time()
        try:
            container.start()
        except Exception:
            with self._lock:
                self._move(EnvState.DEAD)
            raise
        LOG.debug(
            "environment %s: container started in %.1f ms",
            self.id[:8],
            (time.time() - self._start_called_wall) * 1000,
        )
        self._spawn("waiter", self._wait_exit, container)

    def _create(self) -> ContainerHandle:
        created = time.monotonic()
        container = self._backend.create(self._spec)
        LOG.debug(
            "environment %s: container %s (%s) created in %.1f ms",
            self.id[:8],
            container.id[:12],
            self._spec.name,
            (time.monotonic() - created) * 1000,
        )
        return container

    def _spawn(self, role: str, target: object, *args: object) -> None:
        thread = threading.Thread(
            target=target,  # type: ignore[arg-type]
            args=args,
            name=f"env-{role}-{self.function.name}-{self.id[:6]}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def _read_output(self, output: Iterator[bytes], ended: threading.Event) -> None:
        try:
            for chunk in output:
                self.log.feed(chunk)
        except Exception as exc:  # the stream breaks when the container is removed
            LOG.debug("output of %s ended: %s", self.id[:8], exc)
        finally:
            self.log.eof()
            ended.set()
            if self._direct is not None:
                self._direct.wake()  # a runtime that never connected: the direct reader ends too

    def _read_direct(self, direct: DirectOutput, ended: threading.Event) -> None:
        try:
            direct.read(lambda data: self.log.feed(data, source=1), ended)
        finally:
            self.log.eof(source=1)

    def _wait_exit(self, container: ContainerHandle) -> None:
        status = container.wait()
        LOG.debug("environment %s: runtime exited (%s)", self.id[:8], status.describe())
        if self._direct is not None:
            self._direct.home()  # the process is gone: the reader reads what it left, to the end
        with self._lock:
            self.exit_status = status
            if self._state is not EnvState.CLOSED:
                self._move(EnvState.DEAD)
        self.api.fail_outstanding(RuntimeReply(ReplyKind.EXITED))

    def _on_ready(self, _monotonic: float) -> None:
        self._ready_wall = time.time()
        self.sample_memory()  # the init's peak: what a runtime killed early in its invocation reports
        LOG.debug(
            "environment %s: init done %.1f ms after start",
            self.id[:8],
            (self._ready_wall - self._start_called_wall) * 1000,
        )
        if self._vcpus is not None and self._container is not None:
            self._container.set_cpu_limits(self._vcpus, self._shares)
            self._quota_applied = True
        with self._lock:
            if self._state is EnvState.STARTING:
                self._move(EnvState.READY)

    def _on_handout(self, request_id: str) -> None:
        self.log.begin(request_id, self.version)

    # ---- invocations
    def settle(self) -> None:
        """After an invocation's reply: the runtime connection it came on is read again (its next /next)."""
        self.api.settle()

    def submit(
        self, invocation: Invocation, *, invoke_started: float | None = None, timeout_s: float | None = None
    ) -> PendingInvocation:
        """Queue an invocation; the runtime gets it at its next /next (after init on a cold start).
        `timeout_s` replaces the function's timeout (a debug run's lifted one)."""
        with self._lock:
            if self._state in (EnvState.NEW, EnvState.DEAD, EnvState.CLOSED, EnvState.BUSY):
                raise LambdaEmuError(
                    f"environment {self.id[:8]} cannot take an invocation: {self._state.value}"
                )
            if self._state is EnvState.READY:
                self._move(EnvState.BUSY)
        timeout = float(self.function.timeout) if timeout_s is None else timeout_s
        pending = self.api.submit(invocation, timeout, invoke_started=invoke_started)
        direct = self._direct
        if direct is not None:
            if pending.read_by_waiter:  # warm: the waiting thread reads the output too (DirectOutput)
                direct.lend(pending.watch)
            else:
                direct.home()  # nobody else waits on the runtime: the reader reads it
        return pending

    def wait_log_end(self, request_id: str, timeout: float, *, answered: bool = False) -> None:
        """Wait until the invocation's output is all in (its END marker, the process gone, or `timeout`).
        The END marker is written before the reply, so it is normally in already; if not, what has
        arrived is read here (reads are serialised, so this is safe whoever else reads), and only when the
        marker is still missing does the reader take the rest (waking it, or keeping it at home: a reader
        about to leave stays).

        A runtime without markers that `answered` (posted its response or error and lives on) has written
        its invocation's output once it asks for its next event: what it writes after its response and
        before that GET /next is still this invocation's, as in Lambda, where the invoke phase ends when
        the runtime calls next."""
        if self._marker is None:
            deadline = time.monotonic() + timeout
            asked_next = answered and self.api.wait_next(timeout)
            self.log.wait_end(request_id, max(0.0, deadline - time.monotonic()), asked_next=asked_next)
            return
        direct = self._direct
        if direct is not None and not self.log.ended(request_id):
            direct.pull()
            if not self.log.ended(request_id):
                direct.home()
        self.log.wait_end(request_id, timeout)

    def finished(self) -> None:
        """The invocation is over and the runtime lives on: ready for the next one."""
        with self._lock:
            self._cold = False
            if self._state is EnvState.BUSY:
                self._move(EnvState.READY)

    @property
    def warm(self) -> bool:
        """The runtime has answered an invocation since it started (its init is long over)."""
        with self._lock:
            return not self._cold and self._state is EnvState.READY

    def take_init_duration_ms(self) -> float | None:
        """Init Duration for the REPORT of the first invocation after a (re)start, then None."""
        with self._lock:
            if not self._cold or self._ready_wall is None:
                return None
            if self._init_ahead:  # once: a re-init after a crash happens inside an invocation
                self._init_ahead = False
                return None
            ready, container = self._ready_wall, self._container
        # Asked once per cold start, so the hot path never pays for the engine call.
        started = (container.started_at() if container else None) or self._start_called_wall
        return max(0.0, (ready - started) * 1000)

    def init_elapsed_ms(self) -> float:
        """How long the current runtime process has been starting (for a failed init's report)."""
        return max(0.0, (time.time() - self._start_called_wall) * 1000)

    def sample_memory(self) -> None:
        """Read the runtime's peak memory now (cheap: one pread), so it outlives the process."""
        container = self._container
        peak = container.max_memory_bytes() if container is not None else None
        if peak:
            self._peak_bytes = max(self._peak_bytes, peak)

    def max_memory_used_mb(self) -> int:
        """Max Memory Used: the cgroup's peak, or the last one read once the process and its cgroup are
        gone; a runtime killed for memory used all of it (Lambda reports Memory Size then)."""
        self.sample_memory()
        status = self.exit_status
        if status is not None and status.oom_killed:
            return self.function.memory_size
        return int(round(self._peak_bytes / (1024 * 1024)))

    def reset(self) -> None:
        """Kill the runtime (after a timeout or crash); the next use re-inits. /tmp is kept, as in Lambda:
        the same container starts again."""
        container = self._container
        if container is None:
            return
        self._unthrottle(container)
        container.kill()  # the waiter sees the exit and gives the output back to its reader
        waiters = [thread for thread in self._threads if thread.name.startswith("env-waiter")]
        for thread in waiters:
            thread.join(timeout=_KILL_WAIT_S)
        if any(thread.is_alive() for thread in waiters):
            # The engine could not kill it (it gives up after 10 s): the pool replaces this environment
            # rather than keep one that would answer every later call with "busy".
            LOG.warning("environment %s: its runtime did not die when killed; replacing it", self.id[:8])
            self.wedged = True

    def _unthrottle(self, container: ContainerHandle) -> None:
        """Lift the CPU quota before a kill: every process of the sandbox runs its own exit on the
        sandbox's CPU share, so a fork bomb's thousand processes, throttled to a small function's
        fraction of a vCPU, took half a minute to die (and the engine gave up waiting)."""
        if self._quota_applied:
            container.set_cpu_limits(None, None)
            self._quota_applied = False

    def close(self, *, detach: bool = False) -> None:
        """Remove the container (killing the runtime) and stop the servers and threads. `detach`, for a
        process about to exit (a one-shot invoke's teardown after its answer): the removal is handed to the
        engine, and the Runtime API's sockets and the reader and waiter threads are left to end with the
        process (joining the accept loop alone took ~13 ms on a loaded machine)."""
        with self._lock:
            if self._state is EnvState.CLOSED:
                return
            self._move(EnvState.CLOSED)
            container = self._container
        if detach:  # what the runtime writes from now on (as it is killed) is no one's output
            self.log.mute()
        self.api.fail_outstanding(RuntimeReply(ReplyKind.EXITED))
        if container is not None:
            self._unthrottle(container)
            if detach:
                container.discard()  # its /tmp too (a lazy unmount)
            else:
                container.remove()  # force-removes: kills the process too, and removes its /tmp
        if detach:  # the process is about to end, and its sockets and threads with it
            if self._own_sink is not None:
                close_sink(self._own_sink)
            return
        self._server.close()
        if self._direct is not None:
            self._direct.close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._own_sink is not None:
            close_sink(self._own_sink)


def _mounts(code_dir: str | None, opt_dir: str | None) -> tuple[Mount, ...]:
    """Code at /var/task and layers at /opt, both read-only as in Lambda (an image function has no code
    mount: its code is in the image)."""
    mounts = []
    if code_dir is not None:
        mounts.append(Mount(code_dir, "/var/task", read_only=True))
    if opt_dir is not None:
        mounts.append(Mount(opt_dir, "/opt", read_only=True))
    return tuple(mounts)
