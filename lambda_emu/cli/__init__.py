"""The `lambda-emu` command: options → config objects → the emulator facade. The only package that uses
click or writes to the terminal. Each command lives in its own module; importing them registers them."""

from lambda_emu.cli import (  # noqa: F401  (registration)
    dlq,
    doctor,
    events,
    functions,
    invoke,
    logs,
    runtimes,
    serve,
    start_api,
)
from lambda_emu.cli.group import main, run

__all__ = ["main", "run"]
