"""The emulator as one object: functions in, Lambda's results out. Wires images, containers, the
environment pool and the invoker together and owns them (close stops every container and thread)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import logging
import threading
import weakref
from pathlib import Path

from lambda_emu import wire
from lambda_emu.cleanup import is_stale
from lambda_emu.config import EmulatorConfig, FunctionConfig, ImageConfig
from lambda_emu.containers import ContainerBackend
from lambda_emu.containers.images import ImageBackend
from lambda_emu.engine.environment import Environment, RuntimeImage
from lambda_emu.engine.invoker import Answered, Invoker
from lambda_emu.engine.logstream import LineSink, SinkFactory
from lambda_emu.engine.pool import EnvironmentPool, for_tenant
from lambda_emu.engine.provisioned import ProvisionedEnvironments
from lambda_emu.errors import ApiError, ConfigError
from lambda_emu.images.function_code import code_dir, function_image
from lambda_emu.images.layers import check_limits, opt_dir
from lambda_emu.images.runtimes import RUNTIMES, ImageBuilder, deprecation_warning, get_runtime
from lambda_emu.models import Invocation, InvocationResult

LOG = logging.getLogger(__name__)

MAX_CLIENT_CONTEXT_BYTES = 3583


class Emulator:
    """The execution engine of one process: runtime images (built on first use), the pool of execution
    environments, and `invoke` of a FunctionConfig through them. It knows no API, registry or HTTP: the
    one-shot `lambda-emu invoke` and the pytest plugin use it as it is; `serve` puts a LambdaService
    (api/service.py) in front of it, and LambdaServer (server.py) assembles both."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        backend: ContainerBackend,
        images: ImageBuilder,
        sink: LineSink | None = None,
        sink_for: SinkFactory | None = None,
        sweep_leftovers: bool = True,
        function_images: ImageBackend | None = None,
    ) -> None:
        self.config = config
        self._backend = backend
        self._images = images
        # Where container-image functions' images are looked up and built (the Docker engine by default).
        self._function_images = function_images
        self._build_lock = threading.Lock()
        self._sink = sink
        self._sink_for = sink_for  # per environment: knows the function and log stream of its lines
        self._runtime_images: dict[tuple[str, str | None], RuntimeImage] = {}
        self._lock = threading.Lock()
        self._pool = EnvironmentPool(self._new_environment)
        # Provisioned concurrency: each alias's or version's environments initialised ahead, by target.
        self._provisioned: dict[str, ProvisionedEnvironments] = {}
        self._invoker = Invoker(self._pool, debugged=config.debugs if config.debug_port else None)
        # Configurations already validated, by identity (they are frozen): not checked again per invoke.
        self._validated: weakref.WeakValueDictionary[int, FunctionConfig] = weakref.WeakValueDictionary()
        self._sweeper: threading.Thread | None = None
        if sweep_leftovers:
            # Meanwhile, off the cold start's path (a container list, a look at each owner); close waits.
            self._sweeper = threading.Thread(
                target=self._sweep_leftovers, name="sweep-leftovers", daemon=True
            )
            self._sweeper.start()

    def _sweep_leftovers(self) -> None:
        try:
            removed = self._backend.remove_stale(is_stale)  # their /tmp disks too
        except Exception as exc:  # the engine is gone: the invocation itself will say so
            LOG.warning("cannot remove leftovers of earlier runs: %s", exc)
            return
        if removed:
            LOG.info("removed %d leftover container(s) of earlier runs", removed)

    def runtime_image(
        self, runtime_id: str, architecture: str | None = None, *, function: str | None = None
    ) -> RuntimeImage:
        """The runtime's image for `architecture` (this machine's when None; another one runs under
        emulation, or fails clearly without it), built first if it is missing (cached after the first
        call)."""
        key = (runtime_id, architecture)
        with self._lock:
            cached = self._runtime_images.get(key)
        if cached is not None:
            return cached
        spec = RUNTIMES.get(runtime_id)
        # The first source: AWS's own base image, with its own entry point and runtime client.
        official, _why = self._images.official_source(runtime_id, architecture)
        if official is None:
            spec = get_runtime(runtime_id, architecture, function=function)
        warning = deprecation_warning(spec, datetime.date.today().isoformat()) if spec else None
        if warning:  # once per runtime and emulator: the image is cached below
            LOG.warning("%s", warning)
        if official is not None:
            image = foreign_image(official, runtime_id)
        else:
            assert spec is not None
            image = RuntimeImage(
                image=self._images.ensure(spec),
                execution_env=spec.execution_env,
                runtime_vars=tuple(sorted(spec.runtime_vars.items())),
                log_markers=spec.log_markers,
                direct_output=spec.direct_output,
            )
        with self._lock:
            self._runtime_images[key] = image
        return image

    def function_image(self, function: FunctionConfig) -> RuntimeImage:
        """A container-image function's image (built first when the engine lacks it and the function says
        how), run as Lambda runs images: the image's own runtime client, no code mount, no runtime
        variables, the ImageConfig overrides."""
        if self._function_images is None:
            from lambda_emu.containers.images import DockerImages

            self._function_images = DockerImages()
        with self._build_lock:  # concurrent first invocations must not build twice
            tag = function_image(function, self._function_images, progress=self._images.progress)
        overrides = function.image_config or ImageConfig()
        command = overrides.command
        if overrides.entry_point is not None and command is None:
            # Each ImageConfig field defaults to the image's own, but Docker drops an image's CMD when the
            # entry point is replaced: pass the image's CMD along, as Lambda keeps it.
            command = self._function_images.command(tag)
        return RuntimeImage(
            image=tag,
            execution_env=None,  # AWS_EXECUTION_ENV names managed runtimes only
            log_markers=False,  # a foreign runtime client writes none of our markers
            # Lambda runs every container image as its own least-privileged user, whatever USER the image
            # names ("The default Lambda user must be able to read all the files required to run your
            # function code": AWS docs, Create a Lambda function using a container image, Requirements);
            # it is the managed runtimes' sbx_user1051, uid 993.
            user="993:990",
            entrypoint=overrides.entry_point,
            command=command,
            working_dir=overrides.working_directory,  # None: the image's own WORKDIR
        )

    def _new_environment(
        self, function: FunctionConfig, initialization_type: str = wire.INIT_ON_DEMAND
    ) -> Environment:
        code: str | None = None  # an image function's code is in its image
        layers = None
        debugged = self.config.debugs(function)
        if debugged:
            from lambda_emu.images.debugger import debugger_family  # only a debug run needs it

            debugger_family(function)  # refused before any image is built
        if function.package_type == "Image":
            if function.layers:
                raise ConfigError(
                    f"Function {function.name} is a container image: Lambda adds no layers to images.",
                    hint="Copy the layer's content into the image instead.",
                )
            image = self.function_image(function)
        else:
            check_limits(function)
            layers = opt_dir(function.layers, self.config.state_dir, self.config.layer_cache_dir)
            chosen = self.config.invoke_image_for(function)
            if chosen is not None:
                image = foreign_image(chosen, function.runtime)
            else:
                image = self.runtime_image(
                    function.runtime, function.architectures[0], function=function.name
                )
            if image.handler_command:  # /lambda-entrypoint.sh takes the handler as its one argument
                image = dataclasses.replace(image, command=(function.handler,))
            code = str(code_dir(function.code_path, self.config.state_dir))
        if debugged and self.config.debug_port is not None:
            image = self._under_debugger(function, image, self.config.debug_port)
        return Environment(
            function,
            image,
            backend=self._backend,
            emulator=self.config,
            code_dir=code,
            opt_dir=str(layers) if layers else None,
            sink=self._sink,
            sink_for=self._sink_for,
            version=function.version,
            initialization_type=initialization_type,
        )

    def _under_debugger(self, function: FunctionConfig, image: RuntimeImage, port: int) -> RuntimeImage:
        """The image run with its runtime client waiting for a debugger on 127.0.0.1:port (our bootstraps
        honour it; AWS's base images and container images have their own entry points)."""
        from lambda_emu.images.debugger import debug_attach, debugger_family

        family = debugger_family(function)
        if image.handler_command:
            raise ConfigError(
                f"Function {function.name}: -d/--debug-port needs lambda-emu's own runtime image, whose "
                "bootstrap starts the debugger; this one has its own entry point.",
                hint="Leave out -d, or run it on lambda-emu's own image: LAMBDA_EMU_BASE_IMAGE=debian.",
            )
        attach = debug_attach(
            family,
            port,
            function=function.name,
            python_version=RUNTIMES[function.runtime].vendor.python_version,
            progress=self._images.progress,
        )
        return dataclasses.replace(image, debug_environment=attach.environment, debug_mounts=attach.mounts)

    def invocation(
        self,
        function: FunctionConfig,
        payload: bytes,
        *,
        client_context_b64: str | None = None,
        qualifier: str | None = None,
    ) -> Invocation:
        """An Invocation checked as Lambda's Invoke API checks the request (Lambda API Reference: Invoke)."""
        if len(payload) > wire.MAX_SYNC_REQUEST_BYTES:
            raise ApiError(
                "RequestEntityTooLargeException",
                f"Request must be smaller than {wire.MAX_SYNC_REQUEST_BYTES} bytes for the InvokeFunction "
                "operation",
            )
        payload = payload or b"{}"
        try:
            wire.loads_json(payload)
        except ValueError as exc:
            raise ApiError(
                "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
            ) from exc
        client_context = None
        if client_context_b64:
            if len(client_context_b64) > MAX_CLIENT_CONTEXT_BYTES:
                raise ApiError(
                    "InvalidRequestContentException",
                    f"Client context must be at most {MAX_CLIENT_CONTEXT_BYTES} bytes.",
                )
            try:
                client_context = base64.b64decode(client_context_b64, validate=True).decode()
                wire.loads_json(client_context)
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise ApiError(
                    "InvalidRequestContentException", "Client context must be base64-encoded JSON."
                ) from exc
        return Invocation(
            payload=payload,
            invoked_function_arn=self.config.function_arn(function.name, qualifier),
            client_context=client_context,
        )

    def invoke(
        self,
        function: FunctionConfig,
        invocation: Invocation,
        *,
        answered: Answered | None = None,
        provisioned: str | None = None,
    ) -> InvocationResult:
        """A RequestResponse invocation: run it, return what Lambda would (errors are results). `answered`
        gets the caller's answer before the invocation's bookkeeping is done (Invoker.invoke). `provisioned`
        names the target (see `provision`) whose environments serve the call first, when they run this
        very configuration (an alias's weights may have picked another version). A call with a tenant runs
        in that tenant's environments only (tenant isolation mode)."""
        if invocation.tenant_id is not None:
            function = for_tenant(function, invocation.tenant_id)
        if self._validated.get(id(function)) is not function:  # a configuration is checked once
            self._validated[id(function)] = function.validate()
        ahead = self._provisioned.get(provisioned) if provisioned is not None else None
        if ahead is not None and ahead.function is not function and ahead.function != function:
            ahead = None
        return self._invoker.invoke(function, invocation, answered=answered, provisioned=ahead)

    # ---- provisioned concurrency
    def provision(self, target: str, function: FunctionConfig, count: int) -> ProvisionedEnvironments:
        """Initialise `count` environments of `function` (a published version) ahead for `target` (one
        alias or version: "name:qualifier"), in the background, replacing the ones it had; their init runs
        with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency."""
        function.validate()
        ahead = ProvisionedEnvironments(
            function, count, lambda f: self._new_environment(f, wire.INIT_PROVISIONED)
        )
        with self._lock:
            previous = self._provisioned.get(target)
            self._provisioned[target] = ahead
        if previous is not None:
            previous.close()
        return ahead.start()

    def provisioned(self, target: str) -> ProvisionedEnvironments | None:
        return self._provisioned.get(target)

    def unprovision(self, target: str) -> None:
        """Stop the target's provisioned environments (its configuration was deleted)."""
        with self._lock:
            ahead = self._provisioned.pop(target, None)
        if ahead is not None:
            ahead.close()

    def prewarm(self, function: FunctionConfig) -> None:
        """Start an environment for `function` now and leave it idle in the pool: its init runs meanwhile,
        and the next invocation of the same configuration takes it (serve --warm-containers EAGER)."""
        if self._validated.get(id(function)) is not function:
            self._validated[id(function)] = function.validate()
        env = self._pool.acquire(function)
        self._pool.release(env)

    def environments(self) -> list[Environment]:
        with self._lock:
            ahead = list(self._provisioned.values())
        return self._pool.environments() + [env for each in ahead for env in each.environments()]

    def stop_idle(self, idle_for: float) -> int:
        """Stop environments unused for `idle_for` seconds, as Lambda reclaims idle ones."""
        return self._pool.stop_idle(idle_for)

    def retire(self, function_name: str) -> int:
        """Retire the function's warm environments (its code or configuration changed): the next invocation
        starts a new one, with a new Init phase, as Lambda does after an update."""
        return self._pool.retire(function_name)

    def close(self, *, detach: bool = False) -> None:
        """Stop every container and thread; `detach` (a one-shot whose answer is out): the engine finishes
        removing the containers on its own, and this process need not wait for their end."""
        if self._sweeper is not None:
            self._sweeper.join(timeout=30)
        with self._lock:
            ahead, self._provisioned = list(self._provisioned.values()), {}
        for each in ahead:
            each.close()
        self._pool.close(detach=detach)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def foreign_image(image: str, runtime_id: str) -> RuntimeImage:
    """An image not built by lambda-emu for a zip function (AWS's base image, or one the user named with
    --invoke-image): run as AWS's base images run, its own entry point taking the handler, its own runtime
    client (which writes none of our markers)."""
    spec = RUNTIMES.get(runtime_id)
    return RuntimeImage(
        image=image,
        execution_env=None if runtime_id.startswith("provided") else f"AWS_Lambda_{runtime_id}",
        runtime_vars=tuple(sorted(spec.runtime_vars.items())) if spec else (),
        log_markers=False,
        handler_command=True,
    )


def default_state_dir(cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / ".lambda-emu"
