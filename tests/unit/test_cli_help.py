"""Every command's --help explains every option and shows an example."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from emulator.cli import main


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = _commands(main)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "lambda-emu")
def test_help_has_an_example_and_explains_every_option(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(main, [*path, "--help"])
    assert done.exit_code == 0, done.output
    assert "Example" in done.output
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"


def test_the_logs_command_is_registered() -> None:
    assert ("logs",) in COMMANDS
