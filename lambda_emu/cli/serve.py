"""`lambda-emu serve`: the local Lambda API endpoint."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from lambda_emu.cli.group import errors_to_exit_status, local_emulator, main, progress
from lambda_emu.cli.loading import template_path
from lambda_emu.cli.options import (
    CONTAINER_HOST_OPTION,
    CPU_LIMIT_OPTION,
    DEBUG_PORT_OPTION,
    DOCKER_NETWORK_OPTION,
    INVOKE_IMAGE_OPTION,
    LAYER_CACHE_OPTION,
    RETRY_DELAYS_OPTION,
    SKIP_PULL_IMAGE_OPTION,
    aws_options,
    check_debug_port,
    parse_delays,
    template_options,
)
from lambda_emu.cli.samconfig import SamConfigCommand
from lambda_emu.errors import ConfigError


@main.command(cls=SamConfigCommand, sam_section="local_start_lambda")
@click.argument("function_names", metavar="[FUNCTION]...", nargs=-1)
@template_options
@aws_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "-p", "--port", default=3001, show_default=True, type=int, help="Port to listen on (0: any free)."
)
@click.option(
    "--keep-alive",
    default=600.0,
    show_default=True,
    type=float,
    help="Seconds an idle environment stays warm before it is stopped.",
)
@click.option(
    "--account-concurrency",
    default=1000,
    show_default=True,
    type=int,
    help="The account's concurrency limit (Lambda's default quota: 1,000).",
)
@RETRY_DELAYS_OPTION
@click.option(
    "--async-workers",
    default=4,
    show_default=True,
    type=int,
    help="Event invocations delivered at the same time.",
)
@click.option(
    "--sqs-endpoint-url",
    metavar="URL",
    help="Send SQS/SNS dead letters and destination records to this endpoint (else AWS_ENDPOINT_URL_SQS "
    "or AWS_ENDPOINT_URL); without one they go to the local sink that `lambda-emu dlq list` prints.",
)
@click.option(
    "--api-port",
    type=int,
    help="Also serve the template's API Gateway APIs (Api and HttpApi events) on this port, as start-api "
    "does (0: any free).",
)
@click.option(
    "--function-url-port",
    type=int,
    default=0,
    show_default=True,
    help="Serve the Function URLs made through the API (CreateFunctionUrlConfig) on this port (0: any free), "
    "each at http://<url-id>.lambda-url.<region>.localhost:<port>/.",
)
@CPU_LIMIT_OPTION
@click.option(
    "--warm-containers",
    type=click.Choice(["EAGER", "LAZY"], case_sensitive=False),
    default="LAZY",
    show_default=True,
    help="As SAM CLI's: EAGER starts every function's environment at start-up (its image built or found, "
    "its init run), so the first invoke finds it warm; LAZY starts each on its first invoke. Either way "
    "environments then stay warm (--keep-alive).",
)
@SKIP_PULL_IMAGE_OPTION
@DOCKER_NETWORK_OPTION
@CONTAINER_HOST_OPTION
@LAYER_CACHE_OPTION
@INVOKE_IMAGE_OPTION
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Hot reload: a saved change to a function's code or layers makes its next invoke a cold start with "
    "the new code; a saved template is read again (functions added, changed, removed).",
)
@click.option(
    "--allow-functions-api",
    is_flag=True,
    help="Let functions call this endpoint (e.g. one function invoking another with boto3). Off by "
    "default: a function's connection is refused, so code under development cannot drive the API.",
)
@click.option(
    "--code-root",
    "code_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder that functions created through the API may take their code from, as "
    'Code={"S3Bucket": "lambda-emu-local", "S3Key": "/abs/path"} (repeatable; none: that form is refused).',
)
@DEBUG_PORT_OPTION
@click.option(
    "--debug-function",
    metavar="FUNCTION",
    help="As SAM CLI's: the function -d debugs (logical ID or FunctionName), when more than one is served.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    function_names: tuple[str, ...],
    template: Path | None,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    host: str,
    port: int,
    keep_alive: float,
    account_concurrency: int,
    async_retry_delays: str,
    async_workers: int,
    sqs_endpoint_url: str | None,
    api_port: int | None,
    function_url_port: int,
    cpu_limit: bool,
    warm_containers: str,
    watch: bool,
    allow_functions_api: bool,
    code_roots: tuple[Path, ...],
    debug_port: int | None,
    layer_cache_dir: Path | None,
    invoke_images: tuple[tuple[str, str], ...],
    debug_function: str | None,
) -> None:
    """Serve the template's functions on a local Lambda API endpoint that AWS SDKs and the aws CLI use.

    Environments stay warm between calls and scale out for concurrent ones; Event invocations are queued
    durably in the state directory. Ctrl-C stops it cleanly: in-flight calls finish, containers go.
    Functions' output is printed live, each line prefixed by the function's name (coloured on a terminal,
    unless NO_COLOR is set), and kept for `lambda-emu logs NAME`.

    FUNCTION... serves only those (logical IDs, FunctionNames or Child/Function), as `sam local
    start-lambda FUNCTION...`; by default every function of the template. Invoke takes a function's
    FunctionName or its logical ID; samconfig.toml's [default.local_start_lambda.parameters] gives defaults.

    \b
    Examples:
      lambda-emu serve -t template.yaml --async-retry-delays 1,1
      lambda-emu serve -p 3002 HelloFunction EchoFunction    # only these two
      aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name HelloFunction out.json
    """
    with errors_to_exit_status():
        from lambda_emu.server import LambdaServer, ServeConfig

        path = template_path(template)
        emulator_config, loaded = _loaded(
            ctx.obj["state_dir"],
            path,
            function_names,
            parameter_overrides=parameter_overrides,
            env_vars_file=env_vars_file,
            cpu_limit=cpu_limit,
            code_roots=code_roots,
            layer_cache_dir=layer_cache_dir,
            invoke_images=invoke_images,
            debug_port=debug_port,
            debug_function=debug_function,
        )
        config = ServeConfig(
            host=host,
            port=port,
            keep_alive=keep_alive,
            account_concurrency=account_concurrency,
            retry_delays=parse_delays(async_retry_delays),
            async_workers=async_workers,
            sqs_endpoint_url=sqs_endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_SQS")
            or os.environ.get("AWS_ENDPOINT_URL"),
            template=path,
            allow_functions_api=allow_functions_api,
            api_port=api_port,
            function_url_port=function_url_port,
        )
        if api_port is not None and loaded.api_error is not None:
            raise loaded.api_error
        emulator = local_emulator(emulator_config, served=[f.name for f in loaded.functions.values()])
        served: list[Any] = []  # the server, once started: a reloaded template's problems go to it
        reload = None
        if watch:
            reload = _template_watch(
                ctx.obj["state_dir"], path, loaded, parameter_overrides, env_vars_file, function_names, served
            )
        for problem in [*loaded.problems(), *runtime_warnings(loaded.functions.values())]:
            progress(f"warning: {problem}")
        from lambda_emu.cli.start_api import show_request

        server = LambdaServer(
            emulator,
            loaded.functions.values(),
            config,
            watch=reload,
            mappings=loaded.event_sources,
            unloaded=unloaded_functions(loaded),
            apis=loaded.apis,
            function_urls=loaded.function_urls,
            on_request=show_request,
        )
        with _listening(server, host, port):
            served.append(server)
            if warm_containers.upper() == "EAGER":
                _start_environments(server, loaded.functions.values())
            _announce(server, loaded)
            progress(("watching for changes; " if watch else "") + "Ctrl-C to stop")
            try:
                threading.Event().wait()  # until Ctrl-C or SIGTERM (raised here as KeyboardInterrupt)
            except KeyboardInterrupt:
                progress("stopping: in-flight invocations finish, then every container is removed")
        progress("stopped")


def _loaded(
    state_dir: Path,
    path: Path,
    function_names: tuple[str, ...],
    *,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    cpu_limit: bool,
    code_roots: tuple[Path, ...],
    layer_cache_dir: Path | None,
    invoke_images: tuple[tuple[str, str], ...],
    debug_port: int | None,
    debug_function: str | None,
) -> tuple[Any, Any]:
    """The emulator's configuration and the template's functions, as serve's options shape them: only the
    FUNCTION... named, and one of them waiting for a debugger with -d."""
    from lambda_emu.template import load_functions

    emulator_config, loaded = load_functions(
        path,
        state_dir=state_dir,
        parameter_overrides=parameter_overrides,
        env_vars_file=env_vars_file,
        cpu_limit=cpu_limit,
    )
    emulator_config = replace(
        emulator_config,
        code_roots=tuple(root.resolve() for root in code_roots),
        layer_cache_dir=layer_cache_dir.resolve() if layer_cache_dir else None,
        invoke_images=invoke_images,
    )
    if function_names:  # as start-lambda's function list: only these are served
        loaded = loaded.only(function_names)
    if debug_port is not None:
        emulator_config = replace(
            emulator_config, debug_port=debug_port, debug_function=_debugged(loaded, debug_function)
        )
        check_debug_port(debug_port)
        progress(
            f"{emulator_config.debug_function}: its runtime waits for a debugger on "
            f"127.0.0.1:{debug_port} when it starts (on its first invoke)"
        )
    return emulator_config, loaded


def _template_watch(
    state_dir: Path,
    path: Path,
    loaded: Any,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    only: tuple[str, ...],
    served: list[Any],
) -> Any:
    """The template's watcher: a saved template is loaded again, its new problems shown once each, and the
    functions it can no longer load told to the running server (`served`, once it runs)."""
    from lambda_emu.cli.watching import template_watch

    shown = set(loaded.problems())

    def on_loaded(reloaded: Any) -> None:
        for problem in reloaded.problems():
            if problem not in shown:  # each new problem once; the others were shown at start
                progress(f"warning: {problem}")
        shown.clear()
        shown.update(reloaded.problems())
        for server in served:
            server.set_unloaded(unloaded_functions(reloaded))

    return template_watch(
        path,
        state_dir=state_dir,
        parameter_overrides=parameter_overrides,
        env_vars_file=env_vars_file,
        on_loaded=on_loaded,
        nested_templates=loaded.nested_templates,
        only=only,
    )


def _announce(server: Any, loaded: Any) -> None:
    """What serve serves, and where: the functions, the template's APIs and each Function URL."""
    from lambda_emu.api.function_urls import function_url

    names = ", ".join(loaded.functions) or "none"
    progress(f"serving {len(loaded.functions)} function(s) at {server.url}: {names}")
    if server.gateway is not None:
        progress(f"serving the template's APIs at {server.gateway.url}")
    if server.url_front is not None:
        progress(f"serving Function URLs at {server.url_front.url} (by Host: <url-id>.lambda-url...)")
        for api in loaded.function_urls:
            made = server.service.function_urls.get(api.routes[0].function, None)
            if made is not None:
                url = function_url(server.service, made.url_id)
                progress(f"Function URL of {made.function} (AuthType {made.auth_type}): {url}")


def _debugged(loaded: Any, named: str | None) -> str:
    """The FunctionName of the one function -d debugs: one debugger port serves one runtime."""
    from lambda_emu.images.debugger import debugger_family

    if named is not None:
        function = loaded.function(named)
    elif len(loaded.functions) == 1:
        function = next(iter(loaded.functions.values()))
    else:
        raise ConfigError(
            f"-d/--debug-port debugs one function, and {len(loaded.functions)} are served.",
            hint="Name it with --debug-function NAME, or serve only it: lambda-emu serve NAME -d PORT.",
        )
    debugger_family(function)  # refused now rather than on its first invoke
    return str(function.name)


@contextmanager
def _listening(server: Any, host: str, port: int) -> Iterator[None]:
    """The server started (and closed on leaving); an address it cannot listen on is a usage error that
    says which option changes it."""
    try:
        try:
            server.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"Port {port} on {host} is already in use (another `lambda-emu serve`, `sam local "
                    "start-lambda` or another program listens there).",
                    hint="Choose another port with -p/--port (--port 0 picks a free one), or stop what "
                    "listens there",
                ) from None
            if exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
                raise ConfigError(
                    f"Cannot listen on {host}:{port}: {exc.strerror}.",
                    hint="Ports below 1024 need privileges: choose another with -p/--port; --host must "
                    "be an address of this machine, such as 127.0.0.1",
                ) from None
            raise
        yield
    finally:
        server.close()


def _start_environments(server: Any, functions: Iterable[Any]) -> None:
    """--warm-containers EAGER: an environment of every function started now (as the API resolves the
    function, so its first invoke takes that environment); one that cannot start is warned of, and its
    invokes report it."""
    from lambda_emu.errors import LambdaEmuError

    progress("--warm-containers EAGER: starting every function's environment")
    started = 0
    for function in functions:
        try:
            server.emulator.prewarm(server.service.registry.resolve(function.name).function)
            started += 1
        except LambdaEmuError as exc:
            progress(f"warning: function {function.logical_id or function.name}: {exc.message}")
    progress(f"--warm-containers EAGER: {started} environment(s) started")


def runtime_warnings(functions: Iterable[Any]) -> list[str]:
    """The functions whose runtime lambda-emu does not build: each runs only on AWS's base image, when the
    engine has it, or not at all (an id Lambda does not know); invoking one says so again."""
    from lambda_emu.images.runtimes import RUNTIMES, nearest_runtime, official_image

    warnings = []
    for function in functions:
        if function.package_type != "Zip" or function.runtime in RUNTIMES:
            continue
        nearest = nearest_runtime(function.runtime)
        instead = f"; the nearest runtime lambda-emu builds is {nearest}" if nearest else ""
        image = official_image(function.runtime)
        if image:
            where = f"it runs only if the Docker engine has AWS's base image {image}"
        else:
            where = "it is no Lambda runtime, so invoking it fails"
        warnings.append(
            f"function {function.logical_id or function.name}: lambda-emu does not build runtime "
            f"{function.runtime}: {where}{instead}"
        )
    return warnings


def unloaded_functions(loaded: Any) -> dict[str, Any]:
    """The template's functions that could not be loaded, by logical ID and by FunctionName: why."""
    unloaded = {}
    for broken in loaded.broken.values():
        unloaded[broken.logical_id] = broken.error
        if broken.name:
            unloaded[broken.name] = broken.error
    return unloaded
