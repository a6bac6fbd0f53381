"""`lambda-emu logs`: print, filter and follow a function's kept logs (its CloudWatch-like log group)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from lambda_emu.cli.group import errors_to_exit_status, main
from lambda_emu.cli.terminal import as_lines, colour_wanted
from lambda_emu.errors import ConfigError, FunctionNotFoundError, LambdaEmuError

LOG = logging.getLogger(__name__)

_POLL_S = 0.25
FUNCTION_GROUPS = "/aws/lambda/"


@main.command()
@click.argument("name")
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new events as they are written, until Ctrl-C."
)
@click.option(
    "-s",
    "--since",
    metavar="WHEN",
    help="Only events from this time on: relative (30s, 10m, 1h, 2d, 1w) or an ISO 8601 time "
    "(2026-11-23T10:00, UTC unless it has an offset). Default: every event kept.",
)
@click.option(
    "--filter",
    "pattern",
    metavar="TEXT",
    help='Only events containing every term of TEXT (case-sensitive; "a quoted phrase" is one term), as '
    "CloudWatch's simple filter patterns match.",
)
@click.option(
    "-t",
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Template that maps a logical ID to its FunctionName (default: template.yaml here, if any).",
)
@click.pass_context
def logs(
    ctx: click.Context, name: str, follow: bool, since: str | None, pattern: str | None, template: Path | None
) -> None:
    """Print a function's logs: every invocation's output with Lambda's START, END and REPORT lines, one
    event per line as TIMESTAMP (UTC) LOG-STREAM MESSAGE, oldest first.

    NAME is the FunctionName or the template's logical ID. Logs are kept per state directory, one log
    stream per execution environment, as CloudWatch keeps them in /aws/lambda/NAME. NAME may also be an
    event source mapping's UUID: its pollers' own lines (each batch handed and how it ended) as `serve`
    kept them.

    \b
    Examples:
      lambda-emu logs HelloFunction                     # everything kept
      lambda-emu logs HelloFunction --since 10m --filter ERROR
      lambda-emu logs HelloFunction --follow            # and new events until Ctrl-C
      lambda-emu logs 14e0db71-5d35-4eb5-b481-8945cf9d10c2   # an event source mapping's pollers
    """
    with errors_to_exit_status():
        from lambda_emu.engine.logstore import LogStore, parse_since

        state_dir: Path = ctx.obj["state_dir"]
        store = LogStore.of_state_dir(state_dir)
        since_ms = parse_since(since) if since else None
        group, label, known = _log_group(name, template, state_dir)
        if not store.has_group(group) and not (follow and known):
            functions = [g for g in store.groups() if g.startswith(FUNCTION_GROUPS)]
            with_logs = ", ".join(g.rsplit("/", 1)[-1] for g in functions) or "none"
            raise ConfigError(
                f"No logs of {label} yet in {state_dir} (log group {group}).",
                hint=f"Invoke it first (lambda-emu invoke {name}), or pass the --state-dir it ran with "
                f"(before the command). Functions with logs here: {with_logs}.",
            )
        tail = store.tail(group, since_ms=since_ms, pattern=pattern)
        show = _printer(colour_wanted(sys.stdout))
        try:
            for event in tail.poll():
                show(event)
            if not follow:
                return
            if not store.has_group(group):
                click.echo(f"lambda-emu: waiting for the first log of {label}; Ctrl-C to stop", err=True)
            while True:
                time.sleep(_POLL_S)
                for event in tail.poll():
                    show(event)
        except KeyboardInterrupt:
            return  # Ctrl-C is how a follow ends: not an error
        except BrokenPipeError:
            # The reader (e.g. `| head`) is gone: stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _log_group(name: str, template: Path | None, state_dir: Path) -> tuple[str, str, bool]:
    """(log group, what it is the log of, whether NAME is known to exist): an event source mapping's UUID
    names the pollers' own lines (lambda_emu/event_sources/journal.py), anything else a function."""
    from lambda_emu.config import log_group_name
    from lambda_emu.event_sources.journal import UUID, log_group

    if UUID.fullmatch(name):
        return log_group(name), f"event source mapping {name}", False
    function_name, known = _function_name(name, template, state_dir)
    return log_group_name(function_name), f"function {function_name}", known


def _function_name(name: str, template: Path | None, state_dir: Path) -> tuple[str, bool]:
    """(FunctionName, whether the template defines it): a logical ID becomes its FunctionName."""
    from lambda_emu.template import find_template

    path = template or find_template(Path.cwd())
    if path is None:
        return name, False
    try:
        from lambda_emu.template import load_functions

        _, loaded = load_functions(path, state_dir=state_dir, parameter_overrides=None, env_vars_file=None)
        return loaded.function(name).name, True
    except FunctionNotFoundError:
        return name, False
    except LambdaEmuError as exc:
        if template is not None:
            raise
        LOG.debug("logs: %s does not resolve %s (%s); taking it as the FunctionName", path, name, exc)
        return name, False


def _printer(colour: bool) -> Any:
    from lambda_emu.engine.logstore import LogEvent, format_timestamp

    def show(event: LogEvent) -> None:
        head = f"{format_timestamp(event.timestamp_ms)} {event.stream}"
        if colour:
            head = click.style(head, dim=True)
        message = "\n".join(as_lines(event.message))
        sys.stdout.write(f"{head} {message}\n")
        sys.stdout.flush()

    return show
