"""`python -m lambda_emu` runs the command-line interface."""

from lambda_emu.cli import run

run()
