"""Every command's --help explains every option and shows an example."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from lambda_emu.cli import main


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, asked as click asks (list_commands/get_command): a group may make its commands
    on demand (generate-event's SERVICE EVENT pairs), not only hold them in `commands`."""
    context = click.Context(group)
    found = [path]
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, path
        command = found
    return command


COMMANDS = _commands(main)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "lambda-emu")
def test_help_has_an_example_and_explains_every_option(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(main, [*path, "--help"])
    assert done.exit_code == 0, done.output
    assert "Example" in done.output
    for param in _command(path).params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"


def test_the_logs_command_is_registered() -> None:
    assert ("logs",) in COMMANDS


def test_every_sample_event_is_covered() -> None:
    assert ("generate-event", "s3", "put") in COMMANDS
    assert ("generate-event", "sqs", "receive-message") in COMMANDS


def test_every_command_is_imported_from_the_module_the_on_demand_table_names() -> None:
    import importlib
    import pkgutil

    import lambda_emu.cli
    from lambda_emu.cli.group import COMMAND_MODULES

    for module in pkgutil.iter_modules(lambda_emu.cli.__path__):
        importlib.import_module(f"lambda_emu.cli.{module.name}")  # every command registered, as --help does
    assert sorted(main.commands) == sorted(COMMAND_MODULES)
    for name, module_name in COMMAND_MODULES.items():
        callback = main.commands[name].callback
        assert callback is not None and callback.__module__ == f"lambda_emu.cli.{module_name}", name
