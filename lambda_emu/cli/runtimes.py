"""`lambda-emu runtimes`: list and build runtime images."""

from __future__ import annotations

import time

import click

from lambda_emu.cli.group import errors_to_exit_status, image_builder, main


@main.group()
def runtimes() -> None:
    """Runtime images: list them, build them ahead of time.

    \b
    Examples:
      lambda-emu runtimes list
      lambda-emu runtimes build python3.11 python3.13
    """


@runtimes.command("list")
def runtimes_list() -> None:
    """List the supported runtimes and whether their images are built.

    \b
    Example:
      lambda-emu runtimes list
    """
    with errors_to_exit_status():
        rows = image_builder().list()
        click.echo(f"{'RUNTIME':<16} {'BUILT':<6} {'IMAGE':<36} BASE")
        for row in rows:
            click.echo(f"{row.id:<16} {'yes' if row.built else 'no':<6} {row.tag:<36} {row.base}")


@runtimes.command("build")
@click.argument("runtime_ids", nargs=-1, metavar="[RUNTIME]...")
@click.option("--force", is_flag=True, help="Rebuild even when an up-to-date image exists.")
@click.option(
    "--base",
    help="debian (build from Debian packages, offline; default), registry (an ordinary image such as "
    "python:3.11-slim), or any image reference. Also LAMBDA_EMU_BASE_IMAGE.",
)
@click.option(
    "--arch",
    type=click.Choice(["x86_64", "arm64"]),
    help="Build for this architecture (default: this machine's); another one runs under qemu emulation.",
)
def runtimes_build(runtime_ids: tuple[str, ...], force: bool, base: str | None, arch: str | None) -> None:
    """Build runtime images (all supported runtimes when none is named). Nothing is rebuilt when nothing
    changed.

    \b
    Example:
      lambda-emu runtimes build python3.11 python3.13
    """
    from lambda_emu.images.runtimes import RUNTIMES, get_runtime

    with errors_to_exit_status():
        builder = image_builder(base)
        for runtime_id in runtime_ids or tuple(RUNTIMES):
            started = time.monotonic()
            tag = builder.build(get_runtime(runtime_id, arch), force=force)
            click.echo(f"{runtime_id}: {tag} ({time.monotonic() - started:.1f} s)")
