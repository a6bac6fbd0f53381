"""`lambda-emu serve`: the local Lambda API endpoint."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import click

from lambda_emu.cli.group import errors_to_exit_status, local_emulator, main, progress
from lambda_emu.cli.loading import template_path
from lambda_emu.cli.options import (
    CPU_LIMIT_OPTION,
    RETRY_DELAYS_OPTION,
    aws_options,
    parse_delays,
    template_options,
)


@main.command()
@template_options
@aws_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3001, show_default=True, type=int, help="Port to listen on (0: any free).")
@click.option(
    "--keep-alive",
    default=600.0,
    show_default=True,
    type=float,
    help="Seconds an idle environment stays warm before it is stopped.",
)
@click.option(
    "--account-concurrency",
    default=1000,
    show_default=True,
    type=int,
    help="The account's concurrency limit (Lambda's default quota: 1,000).",
)
@RETRY_DELAYS_OPTION
@click.option(
    "--async-workers",
    default=4,
    show_default=True,
    type=int,
    help="Event invocations delivered at the same time.",
)
@click.option(
    "--sqs-endpoint-url",
    metavar="URL",
    help="Send SQS/SNS dead letters and destination records to this endpoint (else AWS_ENDPOINT_URL_SQS "
    "or AWS_ENDPOINT_URL); without one they go to the local sink that `lambda-emu dlq list` prints.",
)
@click.option(
    "--api-port",
    type=int,
    help="Also serve the template's API Gateway APIs (Api and HttpApi events) on this port, as start-api "
    "does (0: any free).",
)
@CPU_LIMIT_OPTION
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Hot reload: a saved change to a function's code or layers makes its next invoke a cold start with "
    "the new code; a saved template is read again (functions added, changed, removed).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    template: Path | None,
    parameter_overrides: str | None,
    env_vars_file: Path | None,
    host: str,
    port: int,
    keep_alive: float,
    account_concurrency: int,
    async_retry_delays: str,
    async_workers: int,
    sqs_endpoint_url: str | None,
    api_port: int | None,
    cpu_limit: bool,
    watch: bool,
) -> None:
    """Serve the template's functions on a local Lambda API endpoint that AWS SDKs and the aws CLI use.

    Environments stay warm between calls and scale out for concurrent ones; Event invocations are queued
    durably in the state directory. Ctrl-C stops it cleanly: in-flight calls finish, containers go.
    Functions' output is printed live, each line prefixed by the function's name (coloured on a terminal,
    unless NO_COLOR is set), and kept for `lambda-emu logs NAME`.

    \b
    Examples:
      lambda-emu serve -t template.yaml --async-retry-delays 1,1
      aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name HelloFunction out.json
    """
    with errors_to_exit_status():
        from lambda_emu.server import LambdaServer, ServeConfig
        from lambda_emu.template import load_functions

        path = template_path(template)
        emulator_config, loaded = load_functions(
            path,
            state_dir=ctx.obj["state_dir"],
            parameter_overrides=parameter_overrides,
            env_vars_file=env_vars_file,
            cpu_limit=cpu_limit,
        )
        config = ServeConfig(
            host=host,
            port=port,
            keep_alive=keep_alive,
            account_concurrency=account_concurrency,
            retry_delays=parse_delays(async_retry_delays),
            async_workers=async_workers,
            sqs_endpoint_url=sqs_endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_SQS")
            or os.environ.get("AWS_ENDPOINT_URL"),
            template=path,
            api_port=api_port,
        )
        if api_port is not None and loaded.api_error is not None:
            raise loaded.api_error
        emulator = local_emulator(emulator_config, served=[f.name for f in loaded.functions.values()])
        reload = None
        if watch:
            from lambda_emu.cli.watching import template_watch

            reload = template_watch(
                path,
                state_dir=ctx.obj["state_dir"],
                parameter_overrides=parameter_overrides,
                env_vars_file=env_vars_file,
            )
        from lambda_emu.cli.start_api import show_request

        with LambdaServer(
            emulator,
            loaded.functions.values(),
            config,
            watch=reload,
            mappings=loaded.event_sources,
            apis=loaded.apis,
            on_request=show_request,
        ) as server:
            names = ", ".join(loaded.functions) or "none"
            progress(f"serving {len(loaded.functions)} function(s) at {server.url}: {names}")
            if server.gateway is not None:
                progress(f"serving the template's APIs at {server.gateway.url}")
            progress(("watching for changes; " if watch else "") + "Ctrl-C to stop")
            try:
                threading.Event().wait()  # until Ctrl-C or SIGTERM (raised here as KeyboardInterrupt)
            except KeyboardInterrupt:
                progress("stopping: in-flight invocations finish, then every container is removed")
        progress("stopped")
