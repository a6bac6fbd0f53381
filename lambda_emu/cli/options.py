"""Options and inputs shared by the commands: function flags, event input, retry delays."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lambda_emu.errors import ConfigError


def parse_env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env takes KEY=VALUE; got {pair!r}.")
        env[key] = value
    return env


def read_event(event_file: str | None, payload: str | None) -> bytes:
    """The event's bytes, checked to be JSON here so the error names the input it came from (Lambda's own
    answer, InvalidRequestContentException, cannot)."""
    if event_file is not None and payload is not None:
        raise ConfigError("Give the event with -e/--event or with --payload, not both.")
    if payload is not None:
        return _json_event(
            payload.encode(), "--payload", "Quote the JSON for the shell: --payload '{\"a\": 1}'"
        )
    if event_file == "-":
        return _json_event(sys.stdin.buffer.read(), "the event read from stdin (-e -)", None)
    if event_file is not None:
        try:
            data = Path(event_file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"Cannot read event file {event_file}: {exc.strerror}.") from exc
        return _json_event(data, f"the event file {event_file} (-e)", None)
    return b"{}"


def _json_event(data: bytes, source: str, hint: str | None) -> bytes:
    if not data.strip():
        return data  # an empty payload is taken as {}, as Lambda takes it
    try:
        json.loads(data)
    except UnicodeDecodeError:
        raise ConfigError(f"Could not parse request body into json: {source} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Could not parse request body into json: {source} is not valid JSON "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            hint=hint or "Fix the JSON; `lambda-emu generate-event` writes sample events of AWS services.",
        ) from None
    return data


_FUNCTION_OPTIONS: list[Callable[[Any], Any]] = [
    click.option(
        "-t",
        "--template",
        "--template-file",
        "template",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SAM or CloudFormation template (default: template.yaml or template.yml here).",
    ),
    click.option(
        "--parameter-overrides",
        multiple=True,
        metavar="'K=V K2=V2'",
        help="Template parameter values, as SAM takes them: K=V pairs or ParameterKey=K,ParameterValue=V, "
        "space-separated; repeatable, every one kept.",
    ),
    click.option(
        "-n",
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


def function_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_FUNCTION_OPTIONS):
        command = option(command)
    return command


def template_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-t, --parameter-overrides and --env-vars: the options that choose and read the template."""
    for option in reversed(_FUNCTION_OPTIONS[:3]):
        command = option(command)
    return command


CPU_LIMIT_OPTION = click.option(
    "--cpu-limit/--no-cpu-limit",
    default=True,
    show_default=True,
    help="Give functions Lambda's CPU share (memory / 1,769 MB vCPUs); --no-cpu-limit trades that "
    "fidelity for speed.",
)


def _use_profile(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """--profile names the profile of ~/.aws whose credentials functions get; given explicitly it wins over
    keys in the environment, as in SAM and the AWS CLI. It is read where the host environment is read."""
    if value:
        os.environ["AWS_PROFILE"] = value
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
    return value


def _use_region(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        os.environ["AWS_REGION"] = value
    return value


def aws_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--profile and --region: the AWS settings functions inherit (lambda_emu/awsconfig.py)."""
    command = click.option(
        "--region",
        expose_value=False,
        callback=_use_region,
        help="Region of the functions (AWS_REGION): default AWS_REGION, then the profile's, then us-east-1.",
    )(command)
    return click.option(
        "--profile",
        expose_value=False,
        callback=_use_profile,
        help="Profile of ~/.aws/credentials and ~/.aws/config whose region and credentials functions get.",
    )(command)


RETRY_DELAYS_OPTION = click.option(
    "--async-retry-delays",
    default="60,120",
    show_default=True,
    metavar="FIRST,SECOND",
    help="Seconds before the first and the second retry of a failed Event invocation (Lambda: ~60, 120).",
)


def parse_delays(text: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--async-retry-delays takes two numbers of seconds, e.g. 1,1; got {text!r}."
        ) from None
    return first, second


# SAM CLI's options that lambda-emu takes so muscle memory works, though they change nothing here.
SKIP_PULL_IMAGE_OPTION = click.option(
    "--skip-pull-image",
    is_flag=True,
    expose_value=False,
    help="Accepted as SAM CLI takes it; a no-op: lambda-emu never pulls an image the engine already has "
    "(AWS's base images are pulled only when missing and LAMBDA_EMU_BASE_IMAGE=official).",
)


def _only(allowed: tuple[str, ...], why: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def check(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None and value not in allowed:
            raise click.BadParameter(f"{value!r}: {why}")

    return check


# Every environment runs on the host's network: its Runtime API listens on 127.0.0.1 (SECURITY.md), so
# SAM's other networks and container hosts cannot be honoured; their host-network values are accepted.
DOCKER_NETWORK_OPTION = click.option(
    "--docker-network",
    metavar="host",
    expose_value=False,
    is_eager=True,  # refused before anything else is read
    callback=_only(
        ("host",),
        "lambda-emu runs every function on the host's network (it reaches your services on 127.0.0.1); "
        "only 'host' is taken",
    ),
    help="Accepted as SAM CLI takes it, with the one value lambda-emu runs: host.",
)
CONTAINER_HOST_OPTION = click.option(
    "--container-host",
    metavar="127.0.0.1",
    expose_value=False,
    is_eager=True,
    callback=_only(
        ("localhost", "127.0.0.1"),
        "functions run on the host's network, reached at 127.0.0.1; only 'localhost' or '127.0.0.1' is taken",
    ),
    help="Accepted as SAM CLI takes it: localhost or 127.0.0.1, where lambda-emu's functions are reached.",
)
LAYER_CACHE_OPTION = click.option(
    "--layer-cache-basedir",
    "layer_cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="As SAM CLI's: the folder layers are extracted into for /opt (default: the state directory's "
    "layers/).",
)


def _invoke_images(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple:
    """SAM's forms: IMAGE for every function, FUNCTION=IMAGE for one (by FunctionName or logical ID)."""
    pairs = []
    for value in values:
        name, sep, image = value.partition("=")
        if not sep:
            name, image = "", value
        if not image or (sep and not name):
            raise click.BadParameter(f"{value!r}: give IMAGE, or FUNCTION=IMAGE")
        pairs.append((name, image))
    return tuple(pairs)


INVOKE_IMAGE_OPTION = click.option(
    "--invoke-image",
    "invoke_images",
    multiple=True,
    metavar="[FUNCTION=]IMAGE",
    callback=_invoke_images,
    help="As SAM CLI's: run zip functions on this image (repeatable; FUNCTION=IMAGE for one function) "
    "instead of lambda-emu's own; it must work as AWS's base images do (its entry point takes the handler "
    "and honours AWS_LAMBDA_RUNTIME_API). It is never pulled.",
)
NO_EVENT_OPTION = click.option(
    "--no-event",
    is_flag=True,
    expose_value=False,
    help="Accepted as SAM CLI takes it; a no-op: without -e or --payload the event is {} already.",
)

DEBUG_PORT_OPTION = click.option(
    "-d",
    "--debug-port",
    # The runtime runs as Lambda's unprivileged sbx_user1051, which cannot listen below 1024.
    type=click.IntRange(1024, 65535),
    metavar="PORT",
    help="Start the runtime under a debugger listening on 127.0.0.1:PORT (debugpy for Python, Node's "
    "inspector for Node.js) and wait for the IDE to attach; Lambda's timeouts are lifted meanwhile, as SAM "
    "CLI's -d lifts them. The README's 'Debugging' section has a VS Code launch.json.",
)


def check_debug_port(port: int) -> None:
    """Refuse a debug port something else holds before any container starts: the debugger inside would
    fail to listen, and the IDE would attach to whatever holds it."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As debugpy and Node listen: a port whose last debug session is in TIME_WAIT is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ConfigError(f"Cannot use debug port {port} on 127.0.0.1: {exc.strerror}.") from exc
            raise ConfigError(
                f"Debug port {port} on 127.0.0.1 is already in use (a debugger still attached to an "
                "earlier run, or another program).",
                hint="Choose another port with -d/--debug-port, or end what holds it.",
            ) from None
