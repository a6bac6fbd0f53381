"""The OS-only runtimes (provided, provided.al2023): `bootstrap` execs the function's own bootstrap.

A package here only so that its files ship with lambda-emu."""
