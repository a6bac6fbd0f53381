"""`python -m emulator` runs the command-line interface."""

from emulator.cli import main

main()
