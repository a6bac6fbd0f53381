"""The `lambda-emu` command: options → config objects → the emulator facade. The only package that uses
click or writes to the terminal. Each command lives in its own module, imported when the command is
asked for (group.COMMAND_MODULES), so a cold `invoke` imports none of the others."""

from lambda_emu.cli.group import main, run

__all__ = ["main", "run"]
