"""`lambda-emu invoke`: one call, here or through a running server."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from lambda_emu.cli.group import (
    EXIT_FUNCTION_ERROR,
    end_one_shot,
    errors_to_exit_status,
    local_emulator,
    main,
    progress,
    signals_held,
    stderr_sink,
)
from lambda_emu.cli.loading import resolve_function, template_path
from lambda_emu.cli.options import (
    CONTAINER_HOST_OPTION,
    CPU_LIMIT_OPTION,
    DEBUG_PORT_OPTION,
    DOCKER_NETWORK_OPTION,
    INVOKE_IMAGE_OPTION,
    LAYER_CACHE_OPTION,
    NO_EVENT_OPTION,
    RETRY_DELAYS_OPTION,
    SKIP_PULL_IMAGE_OPTION,
    aws_options,
    check_debug_port,
    function_options,
    parse_delays,
    parse_env_pairs,
    read_event,
)
from lambda_emu.cli.samconfig import SamConfigCommand
from lambda_emu.errors import ConfigError, LambdaEmuError


@main.command(cls=SamConfigCommand, sam_section="local_invoke")
@click.argument("name", required=False)
@click.option("-e", "--event", "event_file", metavar="FILE", help="Event JSON file; - reads stdin.")
@click.option("--payload", help="Event JSON given inline. Without -e or --payload the event is {}.")
@click.option("--client-context", metavar="BASE64", help="Client context: base64 of a JSON object.")
@click.option(
    "--invocation-type",
    type=click.Choice(["RequestResponse", "Event", "DryRun"]),
    default="RequestResponse",
    show_default=True,
    help="Event queues the call (202) and, without a running server, delivers it here with Lambda's "
    "retries; DryRun only checks that the call would be accepted (204).",
)
@RETRY_DELAYS_OPTION
@click.option(
    "--server/--no-server",
    "use_server",
    default=True,
    show_default=True,
    help="Send the call to a running `lambda-emu serve` of the same template and state directory (warm "
    "environments), when there is one and no flag changes the function.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Invoke, then invoke again each time the function's code, layers or template are saved, printing "
    "each result (a cold start with the new code), until Ctrl-C (exit status 130). Runs here, not through "
    "a server.",
)
@CPU_LIMIT_OPTION
@DEBUG_PORT_OPTION
@NO_EVENT_OPTION
@SKIP_PULL_IMAGE_OPTION
@DOCKER_NETWORK_OPTION
@CONTAINER_HOST_OPTION
@LAYER_CACHE_OPTION
@INVOKE_IMAGE_OPTION
@aws_options
@function_options
@click.pass_context
def invoke(
    ctx: click.Context,
    name: str | None,
    event_file: str | None,
    payload: str | None,
    client_context: str | None,
    invocation_type: str,
    async_retry_delays: str,
    use_server: bool,
    watch: bool,
    cpu_limit: bool,
    debug_port: int | None,
    layer_cache_dir: Path | None,
    invoke_images: tuple[tuple[str, str], ...],
    template: Path | None,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    runtime: str | None,
    handler: str | None,
    code: Path | None,
    memory_size: int | None,
    timeout: int | None,
    ephemeral_storage: int | None,
    env_pairs: tuple[str, ...],
) -> None:
    """Invoke a function once and print its response on stdout.

    The function's output is shown on stderr between Lambda's START, END and REPORT lines, and kept for
    `lambda-emu logs NAME`. Exit status:
    0 success, 1 the function failed (its error payload is printed), 2 bad usage or configuration,
    3 the engine or image failed.

    \b
    Examples:
      lambda-emu invoke EchoFunction --payload '{"hello": "world"}'
      echo '{"n": 1}' | lambda-emu invoke EchoFunction -e -
      lambda-emu invoke --runtime python3.13 --handler app.handler --code src/ --env STAGE=dev
      lambda-emu invoke RaiseFunction --invocation-type Event
      lambda-emu invoke HelloFunction -e events/hello.json --watch   # again on every save
      lambda-emu invoke HelloFunction -d 5890   # waits for a debugger on 127.0.0.1:5890
    """
    with errors_to_exit_status():
        overrides = {
            "runtime": runtime,
            "handler": handler,
            "code": code,
            "memory_size": memory_size,
            "timeout": timeout,
            "ephemeral_storage": ephemeral_storage,
        }
        event = read_event(event_file, payload)
        state_dir = ctx.obj["state_dir"]
        # Flags that change the function make it another function than the server's: run it here. So does
        # -d: the debugger attaches to a runtime this command starts.
        as_served = not (
            any(v is not None for v in overrides.values())
            or env_pairs
            or env_vars_file
            or debug_port
            or invoke_images
        )
        if debug_port is not None:
            check_debug_port(debug_port)
        if watch and invocation_type != "RequestResponse":
            raise ConfigError("--watch invokes RequestResponse only; leave out --invocation-type.")
        if use_server and as_served and not parameter_overrides and name and not watch:
            from lambda_emu.api.discovery import find_server

            url = find_server(state_dir, template_path(template))
            if url is not None:
                _invoke_remote(url, name, event, invocation_type, client_context)
                return

        def resolve() -> Any:
            return resolve_function(
                name,
                template=template,
                state_dir=state_dir,
                parameter_overrides=parameter_overrides,
                env_vars_file=env_vars_file,
                overrides=overrides,
                env=parse_env_pairs(env_pairs),
                cpu_limit=cpu_limit,
            )

        emulator_config, function = resolve()
        if layer_cache_dir is not None:
            emulator_config = replace(emulator_config, layer_cache_dir=layer_cache_dir.resolve())
        if invoke_images:
            emulator_config = replace(emulator_config, invoke_images=invoke_images)
        if debug_port is not None:
            emulator_config = replace(emulator_config, debug_port=debug_port)
            progress(f"{function.name}: waiting for a debugger to attach on 127.0.0.1:{debug_port}")
        if watch:
            from lambda_emu.cli.watching import template_watch

            # the template `resolve` reads, if any: without -t, --handler alone means no template
            watched = template_path(template) if template is not None or handler is None else None
            reload = template_watch(
                watched,
                state_dir=state_dir,
                parameter_overrides=parameter_overrides,
                env_vars_file=env_vars_file,
                load=lambda: [resolve()[1]],  # the same function, flags applied again
            )
            _invoke_on_change(emulator_config, function, event, client_context, reload)
            return  # only Ctrl-C ends the loop
        delays = parse_delays(async_retry_delays)
        _invoke_here(emulator_config, function, event, invocation_type, client_context, delays)


def _invoke_here(
    emulator_config: Any,
    function: Any,
    event: bytes,
    invocation_type: str,
    client_context: str | None,
    retry_delays: tuple[float, float],
) -> None:
    with local_emulator(emulator_config) as emu:  # output to the log store and stderr, unprefixed
        invocation = emu.invocation(function, event, client_context_b64=client_context)
        if invocation_type == "DryRun":
            progress(f"DryRun: {function.name} would be invoked (204); nothing ran")
            return
        if invocation_type == "Event":
            from lambda_emu.server import ServeConfig, deliver_event_here

            progress("Event: accepted (202); delivering it here, with Lambda's retries")
            deliver_event_here(emu, function, invocation, ServeConfig(retry_delays=retry_delays))
            return
        result = emu.invoke(function, invocation)
        # The answer as soon as the function has given it (its log is on stderr already); then the
        # container's removal is handed to the engine, which finishes it after this process has exited.
        sys.stdout.buffer.write(result.payload + b"\n")
        sys.stdout.flush()
        with signals_held():  # a Ctrl-C now lands after the hand-over, never halfway through it
            # Under -d the container holds the debug port on the host: it is gone before this command
            # ends, so that the next run's debugger finds the port free (not the old runtime's socket).
            emu.close(detach=emulator_config.debug_port is None)
    end_one_shot(EXIT_FUNCTION_ERROR if result.failed else 0)


class _Watched:
    """The function `invoke --watch` runs, as the reloader updates it (renamed: the new one, then the old
    one removed)."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def put(self, function: Any) -> None:
        self.function = function

    def remove(self, name: str) -> None:
        pass  # the function stays invocable until the template names another


def _invoke_on_change(
    emulator_config: Any, function: Any, event: bytes, client_context: str | None, watch: Any
) -> None:
    """Invoke now and after every reload, with one Emulator (so a template change is honoured as well as a
    code change), until Ctrl-C: KeyboardInterrupt unwinds through both `with`s, removing the containers."""
    import threading

    from lambda_emu.reload.watcher import Reload, Reloader

    changed = threading.Event()

    def on_reload(reload: Reload) -> None:
        watch.on_reload(reload)  # shown on stderr
        if reload.error is None:
            changed.set()

    current = _Watched(function)
    with (
        local_emulator(emulator_config) as emu,
        Reloader(emu, current, [function], replace(watch, on_reload=on_reload)),
    ):
        while True:
            changed.clear()
            try:
                invocation = emu.invocation(current.function, event, client_context_b64=client_context)
                result = emu.invoke(current.function, invocation)
                sys.stdout.buffer.write(result.payload + b"\n")
                sys.stdout.flush()
            except LambdaEmuError as exc:  # e.g. the code folder is gone for a moment: wait for the next save
                progress(f"error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""))
            progress("watching for changes; Ctrl-C to stop")
            while not changed.wait(1.0):
                pass


def _invoke_remote(
    url: str, name: str, event: bytes, invocation_type: str, client_context: str | None
) -> None:
    """The call through a running `serve`: its warm environments run it, its log comes back here."""
    from lambda_emu.api.client import invoke_through

    progress(f"invoking through the server at {url}")
    outcome = invoke_through(url, name, event, invocation_type=invocation_type, client_context=client_context)
    if invocation_type != "RequestResponse":
        progress(f"{invocation_type}: {outcome.status}")
        return
    stderr_sink(outcome.log)
    sys.stdout.buffer.write(outcome.payload + b"\n")
    sys.stdout.flush()
    if outcome.function_error:
        sys.exit(EXIT_FUNCTION_ERROR)
