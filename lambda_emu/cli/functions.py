"""`lambda-emu functions list | show | update`: a running `lambda-emu serve`'s functions, read and changed
through its Lambda API (ListFunctions, GetFunction, UpdateFunctionConfiguration), for people without the
aws CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import click

from lambda_emu import wire
from lambda_emu.cli.group import errors_to_exit_status, main
from lambda_emu.cli.options import parse_env_pairs
from lambda_emu.errors import ConfigError, LambdaEmuError

LOG = logging.getLogger(__name__)

HIDDEN = "****"


def _server_url(state_dir: Path, template: Path | None) -> str:
    from lambda_emu.api.discovery import find_server
    from lambda_emu.template import find_template

    template = template or find_template(Path.cwd())
    url = find_server(state_dir, template)
    if url is None:
        raise ConfigError(
            f"No `lambda-emu serve` is running with the state directory {state_dir}"
            + (f" and the template {template}." if template else "."),
            hint="Start one in another terminal (`lambda-emu serve`, with the same --state-dir and -t); "
            "these commands talk to it.",
        )
    return url


def _call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One Lambda API call; its error answer becomes "<Type>: <message>" (exit 2 for the caller's
    mistakes, 3 for the server's)."""
    import urllib.error  # imported here: urllib.request costs ~30 ms of every command's start
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = response.read()
    except urllib.error.HTTPError as exc:
        from lambda_emu.api.client import error_fields

        code = (exc.headers.get(wire.X_ERROR_TYPE) or "ServiceException").split(":")[0]
        message, _ = error_fields(exc.code, exc.read())
        if exc.code < 500:
            raise ConfigError(f"{code}: {message}") from None
        raise LambdaEmuError(f"{code}: {message}") from None
    except OSError as exc:
        raise LambdaEmuError(f"The server at {url} did not answer: {exc}.") from exc
    return json.loads(answer) if answer else {}


def _masked(configuration: dict[str, Any], show_values: bool) -> dict[str, Any]:
    """The configuration with environment values hidden unless asked for: they are often secrets."""
    environment = configuration.get("Environment") or {}
    variables = environment.get("Variables")
    if show_values or not variables:
        return configuration
    hidden = {key: HIDDEN for key in variables}
    return {**configuration, "Environment": {**environment, "Variables": hidden}}


def _show(configuration: dict[str, Any]) -> None:
    width = max((len(key) for key in configuration), default=0)
    for key, value in configuration.items():
        if key == "Environment":
            variables = (value or {}).get("Variables") or {}
            click.echo(f"{key:<{width}}  {'' if variables else '(none)'}")
            for name, text in sorted(variables.items()):
                click.echo(f"  {name}={text}")
            continue
        shown = value if isinstance(value, (str, int, float)) else json.dumps(value)
        click.echo(f"{key:<{width}}  {shown}")


_SHOW_VALUES = click.option(
    "--show-values", is_flag=True, help="Print environment variable values (hidden by default: secrets)."
)
_TEMPLATE = click.option(
    "-t",
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The template the server was started with (default: template.yaml or template.yml here).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer instead.")


@main.group()
def functions() -> None:
    """The functions of a running `lambda-emu serve` (same --state-dir): list, show, update.

    \b
    Examples:
      lambda-emu functions list
      lambda-emu functions show EchoFunction
      lambda-emu functions update EchoFunction --memory-size 256 --timeout 10 --env STAGE=dev
    """


@functions.command("list")
@_TEMPLATE
@_JSON
@click.pass_context
def list_functions(ctx: click.Context, template: Path | None, as_json: bool) -> None:
    """List the server's functions: name, runtime, memory, timeout, handler, last modified.

    \b
    Example:
      lambda-emu functions list
    """
    with errors_to_exit_status():
        url = _server_url(ctx.obj["state_dir"], template)
        found: list[dict[str, Any]] = []
        marker: str | None = None
        while True:  # ListFunctions is paginated: follow NextMarker to the end
            query = "?" + urlencode({"Marker": marker}) if marker else ""
            page = _call(url, "GET", wire.FUNCTIONS_PATH + "/" + query)
            found.extend(page.get("Functions") or [])
            marker = page.get("NextMarker")
            if not marker:
                break
        if as_json:
            click.echo(json.dumps({"Functions": [_masked(f, False) for f in found]}, indent=2))
            return
        columns = ("FunctionName", "Runtime", "MemorySize", "Timeout", "Handler", "LastModified")
        titles = ("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "HANDLER", "LAST MODIFIED")
        rows = [titles, *([str(f.get(c) if f.get(c) is not None else "-") for c in columns] for f in found)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        for row in rows:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@functions.command("show")
@click.argument("name")
@_TEMPLATE
@_SHOW_VALUES
@_JSON
@click.pass_context
def show_function(
    ctx: click.Context, name: str, template: Path | None, show_values: bool, as_json: bool
) -> None:
    """Print a function's configuration (GetFunction).

    \b
    Example:
      lambda-emu functions show EchoFunction
    """
    with errors_to_exit_status():
        url = _server_url(ctx.obj["state_dir"], template)
        answer = _call(url, "GET", wire.FUNCTION_PATH.format(name=quote(name, safe="")))
        configuration = _masked(answer.get("Configuration") or {}, show_values)
        if as_json:
            click.echo(json.dumps({**answer, "Configuration": configuration}, indent=2))
        else:
            _show(configuration)


@functions.command("update")
@click.argument("name")
@_TEMPLATE
@click.option("--memory-size", type=int, help="MemorySize in MB (128-10240).")
@click.option("--timeout", type=int, help="Timeout in seconds (1-900).")
@click.option("--ephemeral-storage", type=int, help="/tmp size in MB (512-10240).")
@click.option("--handler", help="Handler, e.g. app.handler.")
@click.option("--runtime", help="Runtime id, e.g. python3.13.")
@click.option("--description", help="Description (up to 256 characters).")
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="K=V",
    help="Set an environment variable (repeatable); the others are kept.",
)
@click.option("--unset-env", multiple=True, metavar="K", help="Remove an environment variable (repeatable).")
@_SHOW_VALUES
@click.pass_context
def update_function(
    ctx: click.Context,
    name: str,
    template: Path | None,
    memory_size: int | None,
    timeout: int | None,
    ephemeral_storage: int | None,
    handler: str | None,
    runtime: str | None,
    description: str | None,
    env_pairs: tuple[str, ...],
    unset_env: tuple[str, ...],
    show_values: bool,
) -> None:
    """Change a function's configuration (UpdateFunctionConfiguration); the next invoke uses it.

    Lambda's rules apply: a bad value is refused with Lambda's error, e.g.
    "ValidationException: 1 validation error detected: Value '901' at 'timeout' …".

    \b
    Example:
      lambda-emu functions update EchoFunction --memory-size 256 --env STAGE=dev
    """
    with errors_to_exit_status():
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("MemorySize", memory_size),
                ("Timeout", timeout),
                ("Handler", handler),
                ("Runtime", runtime),
                ("Description", description),
            )
            if value is not None
        }
        if ephemeral_storage is not None:
            changes["EphemeralStorage"] = {"Size": ephemeral_storage}
        env = parse_env_pairs(env_pairs)
        if not changes and not env and not unset_env:
            raise ConfigError("Nothing to update.", hint="Give --memory-size, --timeout, --env K=V, ….")
        url = _server_url(ctx.obj["state_dir"], template)
        path = wire.CONFIGURATION_PATH.format(name=quote(name, safe=""))
        current = _call(url, "GET", path)
        if env or unset_env:
            # Lambda replaces the whole Environment; this command changes only the variables named.
            variables = dict((current.get("Environment") or {}).get("Variables") or {})
            variables.update(env)
            for key in unset_env:
                variables.pop(key, None)
            changes["Environment"] = {"Variables": variables}
        # The RevisionId read above: a change made meanwhile by someone else fails (412), not lost.
        changes["RevisionId"] = current.get("RevisionId")
        updated = _call(url, "PUT", path, {k: v for k, v in changes.items() if v is not None})
        _show(_masked(updated, show_values))
