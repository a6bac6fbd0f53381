"""The click group, the terminal sinks and the one place errors become exit statuses."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from lambda_emu.cli.terminal import TERMINAL, fallback_hint
from lambda_emu.errors import ApiError, ConfigError, LambdaEmuError

LOG = logging.getLogger(__name__)

# Exit statuses: 0 the function succeeded; 1 the function failed (its error payload is printed);
# 2 bad usage or configuration; 3 the emulator could not run it (engine or image trouble); 130 Ctrl-C.
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command its pipe's reader left


def _fail(exc: LambdaEmuError) -> NoReturn:
    # An API error is a usage error when it is the caller's (4xx), never when it is the service's.
    usage = isinstance(exc, ConfigError) or (isinstance(exc, ApiError) and exc.is_usage)
    status = EXIT_USAGE if usage else EXIT_ENVIRONMENT
    TERMINAL.finish()
    click.echo(f"lambda-emu: error: {exc.message}", err=True)
    context = click.get_current_context(silent=True)
    hint = exc.hint or fallback_hint(exc, context.command_path if context else None)
    click.echo(f"lambda-emu: hint: {hint}", err=True)
    sys.exit(status)


@contextmanager
def errors_to_exit_status() -> Iterator[None]:
    """The one error → exit status map; SIGTERM unwinds like Ctrl-C so every `finally` cleans up."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except LambdaEmuError as exc:
        _fail(exc)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # click's own usage errors and exits: it reports them
    except BrokenPipeError:
        # The reader of our output went away (`lambda-emu logs NAME | head`): stop quietly, as Unix tools
        # do, with SIGPIPE's status; stdout goes to /dev/null so the interpreter's last flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as exc:
        # A bug or an unwrapped library error: one line and a hint here, the traceback under --debug.
        LOG.debug("unexpected error", exc_info=True)
        _fail(LambdaEmuError(f"unexpected {type(exc).__name__}: {exc}"))
    except KeyboardInterrupt:
        TERMINAL.finish()
        click.echo("lambda-emu: interrupted; containers removed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        TERMINAL.finish()
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back (delivered on leaving) while a short teardown must run to its end."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


# Set by `run` (the console script and `python -m lambda_emu`): this process is the command's own, so a
# one-shot that is done may end it at once rather than through the interpreter's teardown, which frees
# every object of every module imported (~50-100 ms after a cold invoke's answer, with nothing to show).
_OWN_PROCESS = False


def run() -> None:
    """The `lambda-emu` command in a process of its own."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
    main()


def end_one_shot(status: int) -> None:
    """A one-shot command is done (output written, teardown handed over): exit with `status`, at once
    when this process is the command's own (every stream flushed first), else through SystemExit."""
    if _OWN_PROCESS:
        TERMINAL.finish()
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a reader that left (the status says so), or a closed stream
                status = status or EXIT_BROKEN_PIPE
        os._exit(status)
    if status:
        sys.exit(status)


def stderr_sink(text: str) -> None:
    """Function output, unprefixed (`invoke` runs one function); see terminal.py for `serve`'s."""
    TERMINAL.plain_sink(text)


def progress(message: str) -> None:
    """Progress on stderr; on a terminal a long build step shows as one live line with its elapsed time."""
    TERMINAL.progress(message)


# Each command's module (under lambda_emu/cli/), imported when click asks for the command: importing all
# of them (serve, start-api, the control plane's and the event generator's) cost a cold invoke ~15 ms.
COMMAND_MODULES = {
    "dlq": "dlq",
    "doctor": "doctor",
    "functions": "functions",
    "generate-event": "events",
    "invoke": "invoke",
    "logs": "logs",
    "runtimes": "runtimes",
    "serve": "serve",
    "start-api": "start_api",
}


class _CommandsOnDemand(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            import importlib

            importlib.import_module(f"lambda_emu.cli.{module}")  # its decorators register the command
        return self.commands.get(cmd_name)


@click.group(
    cls=_CommandsOnDemand,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.option("--debug", is_flag=True, help="Show lambda-emu's own diagnostics on stderr.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".lambda-emu",
    show_default=True,
    help="Where lambda-emu keeps extracted code and other state.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "docker", "embedded"]),
    envvar="LAMBDA_EMU_BACKEND",
    default="auto",
    show_default=True,
    help="What runs execution environments: Docker, or runc/crun over unpacked images (embedded); auto: "
    "Docker when its engine answers, else embedded.",
)
@click.version_option(package_name="lambda-emu")
@click.pass_context
def main(ctx: click.Context, debug: bool, state_dir: Path, backend: str) -> None:
    """Run AWS Lambda functions locally, in containers that behave like Lambda's execution environments.

    \b
    Examples:
      lambda-emu invoke HelloFunction -e event.json       # a function of ./template.yaml
      lambda-emu invoke --runtime python3.11 --handler app.handler --code ./src --payload '{"a": 1}'
      lambda-emu runtimes build python3.11                # build a runtime image ahead of time
    """
    logging.basicConfig(
        level=logging.WARNING,
        # With --debug each line says when (ms since start), so the diagnostics read as a timeline.
        format="lambda-emu: "
        + ("%(relativeCreated)7.0f ms " if debug else "")
        + "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if debug:
        # Our own diagnostics only: the Docker SDK's and urllib3's request lines would drown them.
        logging.getLogger("lambda_emu").setLevel(logging.DEBUG)
    ctx.obj = {"state_dir": state_dir, "backend": backend}


def image_builder(base: str | None = None) -> Any:
    from lambda_emu.images.runtimes import local_image_builder

    return local_image_builder(base, progress=progress, backend=_backend_option())


def _backend_option() -> str | None:
    context = click.get_current_context(silent=True)
    return (context.find_root().obj or {}).get("backend") if context is not None else None


def local_emulator(config: Any, *, served: Collection[str] | None = None) -> Any:
    """The Emulator a command runs functions with: Docker, runtime images built here with progress shown,
    function output kept in the log store and shown on stderr (prefixed by function name when `served`)."""
    from lambda_emu.cli.terminal import log_sinks
    from lambda_emu.containers.choice import make_backend, resolve
    from lambda_emu.facade import Emulator

    concrete = resolve(_backend_option())
    images = image_builder()
    sinks = log_sinks(config.state_dir, served=served)
    return Emulator(config, backend=make_backend(concrete), images=images, sink_for=sinks)
