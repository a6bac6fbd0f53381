"""The `lambda-emu` command: options → config objects → the emulator facade. The only module that uses
click or writes to the terminal, and the one place errors become exit statuses."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from emulator.errors import ConfigError, LambdaEmuError

LOG = logging.getLogger(__name__)

# Exit statuses: 0 the function succeeded; 1 the function failed (its error payload is printed);
# 2 bad usage or configuration; 3 the emulator could not run it (engine or image trouble); 130 Ctrl-C.
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130


def _fail(exc: LambdaEmuError) -> NoReturn:
    status = EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ENVIRONMENT
    click.echo(f"lambda-emu: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"lambda-emu: hint: {exc.hint}", err=True)
    sys.exit(status)


@contextmanager
def _errors_to_exit_status() -> Iterator[None]:
    """The one error → exit status map; SIGTERM unwinds like Ctrl-C so every `finally` cleans up."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except LambdaEmuError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("lambda-emu: interrupted; containers removed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stderr_sink(text: str) -> None:
    # Runtime clients such as awslambdaric join a multi-line record with "\r" (CloudWatch shows it as a line
    # break); a terminal would overwrite the line instead, so show it as CloudWatch does.
    sys.stderr.write(text.replace("\r\n", "\n").replace("\r", "\n"))
    sys.stderr.flush()


def _progress(message: str) -> None:
    click.echo(f"lambda-emu: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show lambda-emu's own diagnostics on stderr.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".lambda-emu",
    show_default=True,
    help="Where lambda-emu keeps extracted code and other state.",
)
@click.version_option(package_name="lambda-emu")
@click.pass_context
def main(ctx: click.Context, debug: bool, state_dir: Path) -> None:
    """Run AWS Lambda functions locally, in containers that behave like Lambda's execution environments.

    \b
    Examples:
      lambda-emu invoke HelloFunction -e event.json       # a function of ./template.yaml
      lambda-emu invoke --runtime python3.11 --handler app.handler --code ./src --payload '{"a": 1}'
      lambda-emu runtimes build python3.11                # build a runtime image ahead of time
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="lambda-emu: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = {"state_dir": state_dir}


def _image_builder(base: str | None = None) -> Any:
    from emulator.containers.images import DockerImages
    from emulator.runtimes import ImageBuilder

    return ImageBuilder(
        DockerImages(), base=base or os.environ.get("LAMBDA_EMU_BASE_IMAGE") or "debian", progress=_progress
    )


def _parse_env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env takes KEY=VALUE; got {pair!r}.")
        env[key] = value
    return env


def _read_event(event_file: str | None, payload: str | None) -> bytes:
    if event_file is not None and payload is not None:
        raise ConfigError("Give the event with -e/--event or with --payload, not both.")
    if payload is not None:
        return payload.encode()
    if event_file == "-":
        return sys.stdin.buffer.read()
    if event_file is not None:
        try:
            return Path(event_file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"Cannot read event file {event_file}: {exc.strerror}.") from exc
    return b"{}"


def _template_path(template: Path | None) -> Path:
    from emulator.template import find_template

    if template is None:
        template = find_template(Path.cwd())
        if template is None:
            raise ConfigError(
                "No template (template.yaml, template.yml or template.json) here and no --handler given.",
                hint="Pass -t TEMPLATE, or --runtime, --handler and --code to invoke without a template.",
            )
    return template


def load_functions(
    template: Path,
    *,
    state_dir: Path,
    parameter_overrides: str | None,
    env_vars: Mapping[str, Mapping[str, str]] | None,
) -> Any:
    """(EmulatorConfig, Template): every function the template defines."""
    from emulator.config import EmulatorConfig, host_environ
    from emulator.template import load_template, parse_parameter_overrides

    emulator = EmulatorConfig.from_environ(host_environ(), state_dir=state_dir)
    loaded = load_template(
        template,
        emulator=emulator,
        parameter_overrides=parse_parameter_overrides(parameter_overrides or ""),
        env_vars=env_vars,
    )
    return emulator, loaded


def resolve_function(
    name: str | None,
    *,
    template: Path | None,
    state_dir: Path,
    parameter_overrides: str | None,
    env_vars_file: Path | None,
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
) -> Any:
    """The FunctionConfig to run: from the template, or from flags alone (--handler given, no -t)."""
    from emulator.config import EmulatorConfig, FunctionConfig, host_environ
    from emulator.template import load_env_vars_file

    env_vars = load_env_vars_file(env_vars_file) if env_vars_file else None
    if template is not None or overrides.get("handler") is None:
        emulator, loaded = load_functions(
            _template_path(template),
            state_dir=state_dir,
            parameter_overrides=parameter_overrides,
            env_vars=env_vars,
        )
        if name is None:
            if len(loaded.functions) != 1:
                names = ", ".join(loaded.functions) or "none"
                raise ConfigError(f"Name the function to invoke; the template defines: {names}.")
            name = next(iter(loaded.functions))
        function = loaded.function(name)
    else:
        emulator = EmulatorConfig.from_environ(host_environ(), state_dir=state_dir)
        function_name = name or "function"
        variables: dict[str, str] = {}
        if env_vars:
            variables.update(env_vars.get("Parameters", {}))
            variables.update(env_vars.get(function_name, {}))
        function = FunctionConfig(
            name=function_name,
            runtime=overrides.get("runtime") or "python3.11",
            handler=overrides["handler"],
            code_path=Path(overrides.get("code") or "."),
            environment=variables,
        )
    changes = {k: v for k, v in overrides.items() if v is not None and k in ("runtime", "handler")}
    if overrides.get("code") is not None:
        changes["code_path"] = Path(overrides["code"])
    for key in ("memory_size", "timeout", "ephemeral_storage"):
        if overrides.get(key) is not None:
            changes[key] = overrides[key]
    if env:
        changes["environment"] = {**function.environment, **env}
    return emulator, replace(function, **changes).validate()


_FUNCTION_OPTIONS: list[Callable[[Any], Any]] = [
    click.option(
        "-t",
        "--template",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SAM or CloudFormation template (default: template.yaml or template.yml here).",
    ),
    click.option(
        "--parameter-overrides", metavar="'K=V K2=V2'", help="Template parameter values, as SAM takes them."
    ),
    click.option(
        "--env-vars",
        "env_vars_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help='SAM\'s JSON env-vars file: a section per function plus "Parameters" for all.',
    ),
    click.option("--runtime", help="Runtime id, e.g. python3.11 (without a template, or to override it)."),
    click.option("--handler", help="Handler, e.g. app.handler. Without -t, this invokes without a template."),
    click.option(
        "--code",
        type=click.Path(exists=True, path_type=Path),
        help="Code folder or zip (default: the current folder).",
    ),
    click.option("--memory-size", type=int, help="MemorySize in MB (128-10240); a hard limit."),
    click.option("--timeout", type=int, help="Timeout in seconds (1-900)."),
    click.option("--ephemeral-storage", type=int, help="/tmp size in MB (512-10240)."),
    click.option(
        "--env",
        "env_pairs",
        multiple=True,
        metavar="K=V",
        help="An environment variable for the function (repeatable); wins over the template.",
    ),
]


def _function_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_FUNCTION_OPTIONS):
        command = option(command)
    return command


def _template_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-t, --parameter-overrides and --env-vars: the options that choose and read the template."""
    for option in reversed(_FUNCTION_OPTIONS[:3]):
        command = option(command)
    return command


_CPU_LIMIT_OPTION = click.option(
    "--cpu-limit/--no-cpu-limit",
    default=True,
    show_default=True,
    help="Give functions Lambda's CPU share (memory / 1,769 MB vCPUs); --no-cpu-limit trades that "
    "fidelity for speed.",
)


_RETRY_DELAYS_OPTION = click.option(
    "--async-retry-delays",
    default="60,120",
    show_default=True,
    metavar="FIRST,SECOND",
    help="Seconds before the first and the second retry of a failed Event invocation (Lambda: ~60, 120).",
)


@main.command()
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
@_RETRY_DELAYS_OPTION
@click.option(
    "--server/--no-server",
    "use_server",
    default=True,
    show_default=True,
    help="Send the call to a running `lambda-emu serve` of the same template and state directory (warm "
    "environments), when there is one and no flag changes the function.",
)
@_CPU_LIMIT_OPTION
@_function_options
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
    cpu_limit: bool,
    template: Path | None,
    parameter_overrides: str | None,
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

    The function's output is shown on stderr between Lambda's START, END and REPORT lines. Exit status:
    0 success, 1 the function failed (its error payload is printed), 2 bad usage or configuration,
    3 the engine or image failed.

    \b
    Examples:
      lambda-emu invoke EchoFunction --payload '{"hello": "world"}'
      echo '{"n": 1}' | lambda-emu invoke EchoFunction -e -
      lambda-emu invoke --runtime python3.13 --handler app.handler --code src/ --env STAGE=dev
      lambda-emu invoke RaiseFunction --invocation-type Event
    """
    with _errors_to_exit_status():
        overrides = {
            "runtime": runtime,
            "handler": handler,
            "code": code,
            "memory_size": memory_size,
            "timeout": timeout,
            "ephemeral_storage": ephemeral_storage,
        }
        event = _read_event(event_file, payload)
        state_dir = ctx.obj["state_dir"]
        # Flags that change the function make it another function than the server's: run it here.
        as_served = not (any(v is not None for v in overrides.values()) or env_pairs or env_vars_file)
        if use_server and as_served and not parameter_overrides and name:
            from emulator.server import find_server

            url = find_server(state_dir, _template_path(template))
            if url is not None:
                _invoke_remote(url, name, event, invocation_type, client_context)
                return
        emulator_config, function = resolve_function(
            name,
            template=template,
            state_dir=state_dir,
            parameter_overrides=parameter_overrides,
            env_vars_file=env_vars_file,
            overrides=overrides,
            env=_parse_env_pairs(env_pairs),
        )
        emulator_config = replace(emulator_config, cpu_limit=cpu_limit)
        delays = _parse_delays(async_retry_delays)
        _invoke_here(emulator_config, function, event, invocation_type, client_context, delays)


def _invoke_here(
    emulator_config: Any,
    function: Any,
    event: bytes,
    invocation_type: str,
    client_context: str | None,
    retry_delays: tuple[float, float],
) -> None:
    from emulator.containers.docker import DockerBackend
    from emulator.facade import Emulator

    with Emulator(
        emulator_config, backend=DockerBackend(), images=_image_builder(), sink=_stderr_sink
    ) as emu:
        invocation = emu.invocation(function, event, client_context_b64=client_context)
        if invocation_type == "DryRun":
            _progress(f"DryRun: {function.name} would be invoked (204); nothing ran")
            return
        if invocation_type == "Event":
            from emulator.server import ServeConfig, deliver_event_here

            _progress("Event: accepted (202); delivering it here, with Lambda's retries")
            deliver_event_here(emu, function, invocation, ServeConfig(retry_delays=retry_delays))
            return
        result = emu.invoke(function, invocation)
    sys.stdout.buffer.write(result.payload + b"\n")
    sys.stdout.flush()
    if result.failed:
        sys.exit(EXIT_FUNCTION_ERROR)


def _invoke_remote(
    url: str, name: str, event: bytes, invocation_type: str, client_context: str | None
) -> None:
    """The call through a running `serve`: its warm environments run it, its log comes back here."""
    from emulator.api.client import invoke_through

    _progress(f"invoking through the server at {url}")
    outcome = invoke_through(url, name, event, invocation_type=invocation_type, client_context=client_context)
    if invocation_type != "RequestResponse":
        _progress(f"{invocation_type}: {outcome.status}")
        return
    _stderr_sink(outcome.log)
    sys.stdout.buffer.write(outcome.payload + b"\n")
    sys.stdout.flush()
    if outcome.function_error:
        sys.exit(EXIT_FUNCTION_ERROR)


@main.command()
@_template_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3001, show_default=True, type=int, help="Port to listen on (0: any free).")
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
@_RETRY_DELAYS_OPTION
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
@_CPU_LIMIT_OPTION
@click.pass_context
def serve(
    ctx: click.Context,
    template: Path | None,
    parameter_overrides: str | None,
    env_vars_file: Path | None,
    host: str,
    port: int,
    keep_alive: float,
    account_concurrency: int,
    async_retry_delays: str,
    async_workers: int,
    sqs_endpoint_url: str | None,
    cpu_limit: bool,
) -> None:
    """Serve the template's functions on a local Lambda API endpoint that AWS SDKs and the aws CLI use.

    Environments stay warm between calls and scale out for concurrent ones; Event invocations are queued
    durably in the state directory. Ctrl-C stops it cleanly: in-flight calls finish, containers go.

    \b
    Examples:
      lambda-emu serve -t template.yaml --async-retry-delays 1,1
      aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name HelloFunction out.json
    """
    with _errors_to_exit_status():
        from emulator.containers.docker import DockerBackend
        from emulator.facade import Emulator
        from emulator.server import LambdaServer, ServeConfig
        from emulator.template import load_env_vars_file

        path = _template_path(template)
        emulator_config, loaded = load_functions(
            path,
            state_dir=ctx.obj["state_dir"],
            parameter_overrides=parameter_overrides,
            env_vars=load_env_vars_file(env_vars_file) if env_vars_file else None,
        )
        config = ServeConfig(
            host=host,
            port=port,
            keep_alive=keep_alive,
            account_concurrency=account_concurrency,
            retry_delays=_parse_delays(async_retry_delays),
            async_workers=async_workers,
            sqs_endpoint_url=sqs_endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_SQS")
            or os.environ.get("AWS_ENDPOINT_URL"),
            template=path,
        )
        emulator = Emulator(
            replace(emulator_config, cpu_limit=cpu_limit),
            backend=DockerBackend(),
            images=_image_builder(),
            sink=_stderr_sink,
        )
        with LambdaServer(emulator, loaded.functions.values(), config) as server:
            names = ", ".join(loaded.functions) or "none"
            _progress(f"serving {len(loaded.functions)} function(s) at {server.url}: {names}")
            _progress("Ctrl-C to stop")
            try:
                threading.Event().wait()  # until Ctrl-C or SIGTERM (raised here as KeyboardInterrupt)
            except KeyboardInterrupt:
                _progress("stopping: in-flight invocations finish, then every container is removed")
        _progress("stopped")


def _parse_delays(text: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--async-retry-delays takes two numbers of seconds, e.g. 1,1; got {text!r}."
        ) from None
    return first, second


@main.group()
def dlq() -> None:
    """Dead letters: Event invocations that failed every attempt, as the local sink keeps them."""


@dlq.command("list")
@click.argument("target", required=False)
@click.pass_context
def dlq_list(ctx: click.Context, target: str | None) -> None:
    """Print the dead letters (JSON lines: the payload and Lambda's RequestID, ErrorCode and ErrorMessage
    attributes), of every function or of the one named; TARGET may also be a dead-letter queue's ARN.

    \b
    Example:
      lambda-emu dlq list RetriedFunction
    """
    with _errors_to_exit_status():
        from emulator.async_invoke import read_dead_letters

        letters = read_dead_letters(ctx.obj["state_dir"])
        if target is not None:
            # A function's name, or the dead-letter target's ARN or queue/topic name.
            letters = [
                x
                for x in letters
                if target in (x.get("function"), x.get("target"), str(x.get("target", "")).rsplit(":", 1)[-1])
            ]
        for letter in letters:
            click.echo(json.dumps(letter))


@main.group()
def runtimes() -> None:
    """Runtime images: list them, build them ahead of time."""


@runtimes.command("list")
def runtimes_list() -> None:
    """List the supported runtimes and whether their images are built."""
    with _errors_to_exit_status():
        rows = _image_builder().list()
        click.echo(f"{'RUNTIME':<16} {'BUILT':<6} {'IMAGE':<36} BASE")
        for row in rows:
            click.echo(f"{row.id:<16} {'yes' if row.built else 'no':<6} {row.tag:<36} {row.base}")


@runtimes.command("build")
@click.argument("runtime_ids", nargs=-1, metavar="[RUNTIME]...")
@click.option("--force", is_flag=True, help="Rebuild even when an up-to-date image exists.")
@click.option(
    "--base",
    help="debian (build from Debian packages, offline; default), registry (an ordinary image such as "
    "python:3.11-slim), or any image reference. Also LAMBDA_EMU_BASE_IMAGE.",
)
@click.option(
    "--arch",
    type=click.Choice(["x86_64", "arm64"]),
    help="Build for this architecture (default: this machine's); another one runs under qemu emulation.",
)
def runtimes_build(runtime_ids: tuple[str, ...], force: bool, base: str | None, arch: str | None) -> None:
    """Build runtime images (all supported runtimes when none is named). Nothing is rebuilt when nothing
    changed.

    \b
    Example:
      lambda-emu runtimes build python3.11 python3.13
    """
    from emulator.runtimes import RUNTIMES, get_runtime

    with _errors_to_exit_status():
        builder = _image_builder(base)
        for runtime_id in runtime_ids or tuple(RUNTIMES):
            started = time.monotonic()
            tag = builder.build(get_runtime(runtime_id, arch), force=force)
            click.echo(f"{runtime_id}: {tag} ({time.monotonic() - started:.1f} s)")
