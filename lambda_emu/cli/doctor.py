"""`lambda-emu doctor`: which container backend would run here, and which sandbox limits hold."""

from __future__ import annotations

import click

from lambda_emu.cli.group import errors_to_exit_status, main


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Show which backend would run execution environments on this host and which limits it enforces.

    \b
    Examples:
      lambda-emu doctor                     # what auto picks here
      lambda-emu --backend embedded doctor  # the embedded backend's limits on this host
    """
    from lambda_emu.containers.choice import host_report, resolve

    with errors_to_exit_status():
        report = host_report()
        chosen = resolve((ctx.find_root().obj or {}).get("backend"))
        click.echo(f"backend: {chosen} (auto would pick {report.backend})")
        click.echo(f"docker engine: {'answers' if report.docker else 'not reachable'}")
        click.echo(f"OCI runtime: {report.oci_runtime or 'none'}")
        if chosen == "docker":
            click.echo("limits: all of Lambda's sandbox limits, enforced by the Docker engine")
        else:
            click.echo("limits of the embedded backend on this host:")
            for name, holds in report.limits.items():
                click.echo(f"  {'yes' if holds else 'NO '}  {name}")
        for note in report.notes:
            click.echo(f"note: {note}")
