"""`lambda-emu dlq`: the local dead-letter sink."""

from __future__ import annotations

import json

import click

from lambda_emu.cli.group import errors_to_exit_status, main


@main.group()
def dlq() -> None:
    """Dead letters: Event invocations that failed every attempt, as the local sink keeps them.

    \b
    Example:
      lambda-emu dlq list RetriedFunction
    """


@dlq.command("list")
@click.argument("target", required=False)
@click.pass_context
def dlq_list(ctx: click.Context, target: str | None) -> None:
    """Print the dead letters (JSON lines: the payload and Lambda's RequestID, ErrorCode and ErrorMessage
    attributes), of every function or of the one named; TARGET may also be a dead-letter queue's ARN.

    \b
    Example:
      lambda-emu dlq list RetriedFunction
    """
    with errors_to_exit_status():
        from lambda_emu.async_invoke import read_dead_letters

        letters = read_dead_letters(ctx.obj["state_dir"])
        if target is not None:
            # A function's name, or the dead-letter target's ARN or queue/topic name.
            letters = [
                x
                for x in letters
                if target in (x.get("function"), x.get("target"), str(x.get("target", "")).rsplit(":", 1)[-1])
            ]
        for letter in letters:
            click.echo(json.dumps(letter))
