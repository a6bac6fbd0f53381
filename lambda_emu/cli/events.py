"""`lambda-emu generate-event SERVICE EVENT [--field value ...]`: sample events on stdout, one command per
event of the catalog (SAM's `sam local generate-event` names and options)."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from lambda_emu.cli.group import errors_to_exit_status, main

LOG = logging.getLogger(__name__)


def _json_value(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON ({exc}): {value}") from exc


def _event_command(service: str, event: str, hidden: bool = False) -> click.Command:
    from lambda_emu.events import lookup

    spec = lookup(service, event)
    params: list[click.Parameter] = []
    for name, field in spec.fields.items():
        shown = "" if field.default is None else f" Default: {json.dumps(field.default)}."
        kind = {"int": click.INT, "json": click.STRING, "text": click.STRING}[field.kind]
        params.append(
            click.Option(
                [f"--{name.replace('_', '-')}", name],
                type=kind,
                default=None,
                metavar="JSON" if field.kind == "json" else None,
                help=f"{field.help}.{shown}",
            )
        )
    options = [f"--{n.replace('_', '-')} ..." for n in list(spec.fields)[:2]]

    def callback(**given: Any) -> None:
        from lambda_emu.events import generate

        with errors_to_exit_status():
            fields = {
                name: _json_value(value) if spec.fields[name].kind == "json" else value
                for name, value in given.items()
                if value is not None
            }
            click.echo(json.dumps(generate(service, event, **fields), indent=2))

    return click.Command(
        event,
        callback=callback,
        params=params,
        help=f"{spec.help}, printed as JSON.\n\n\b\nExample:\n  lambda-emu generate-event {service} {event} "
        f"{' '.join(options)} > event.json",
        short_help=spec.help,
        hidden=hidden,
    )


class _ChoiceGroup(click.Group):
    """A group whose unknown subcommand is a usage error naming the listed choices."""

    kind = "command"

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        command = self.get_command(ctx, args[0])
        if command is None:
            choices = ", ".join(self.list_commands(ctx))
            raise click.UsageError(f"unknown {self.kind} {args[0]!r}; choose from: {choices}")
        return args[0], command, args[1:]


class _ServiceGroup(_ChoiceGroup):
    """One service's events, built from the catalog when asked for; aliases work but are not listed."""

    def __init__(self, service: str, events: list[str], alias_events: dict[str, tuple[str, str]]) -> None:
        first = events[0] if events else next(iter(alias_events), "")
        super().__init__(
            service,
            help=f"Sample {service} events: {', '.join(events or alias_events)}.\n\n\b\nExample:\n"
            f"  lambda-emu generate-event {service} {first} --help",
        )
        self._events = events
        self._aliases = alias_events
        self.kind = f"{service} event"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._events)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._events:
            return _event_command(self.name or "", cmd_name)
        if cmd_name in self._aliases:
            return _event_command(*self._aliases[cmd_name], hidden=True)
        return None


class _GenerateEventGroup(_ChoiceGroup):
    kind = "event service"

    def _services(self) -> tuple[dict[str, list[str]], dict[str, dict[str, tuple[str, str]]]]:
        from lambda_emu.events import aliases, catalog

        listed = {service: list(events) for service, events in catalog().items()}
        alias_map: dict[str, dict[str, tuple[str, str]]] = {}
        for (service, event), target in aliases().items():
            alias_map.setdefault(service, {})[event] = target
        return listed, alias_map

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._services()[0])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        listed, alias_map = self._services()
        if cmd_name not in listed and cmd_name not in alias_map:
            return None
        group = _ServiceGroup(cmd_name, listed.get(cmd_name, []), alias_map.get(cmd_name, {}))
        group.hidden = cmd_name not in listed
        return group

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from lambda_emu.events import catalog

        rows = [
            (f"{service} {event}", spec.help)
            for service, events in catalog().items()
            for event, spec in events.items()
        ]
        with formatter.section("Events (SERVICE EVENT)"):
            formatter.write_dl(rows)


@main.command("generate-event", cls=_GenerateEventGroup)
def generate_event() -> None:
    """Print a sample event as Lambda receives it from an AWS service (JSON on stdout), with the key
    fields settable: `lambda-emu generate-event SERVICE EVENT --help` lists an event's fields. The names
    are those of `sam local generate-event`. Region and account default to the emulator's (AWS_REGION).

    \b
    Examples:
      lambda-emu generate-event s3 put --bucket photos --key "2024/cat 1.jpg" > s3.json
      lambda-emu generate-event apigateway aws-proxy --method POST --path /orders --body '{"id": 1}'
      lambda-emu generate-event sqs receive-message --body hello | lambda-emu invoke MyFunction -e -
    """
