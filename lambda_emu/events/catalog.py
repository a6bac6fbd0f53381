"""The catalog of sample events: service → event → factory with its settable fields, and `generate`, which
looks one up by name (SAM's `sam local generate-event` names, so users can switch)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

Factory = TypeVar("Factory", bound=Callable[..., dict[str, Any]])

# Fields whose default is the emulator's own setting, resolved when an event is made.
_RESOLVED_DEFAULTS: dict[str, Callable[[], object]] = {}


@dataclass(frozen=True)
class FieldSpec:
    """One settable field: its help and default; `kind` says how the command line reads it
    ("text", "int" or "json")."""

    help: str
    default: object
    kind: str = "text"


@dataclass(frozen=True)
class EventSpec:
    """One sample event: its help, its fields (in the factory's order) and the factory that makes it."""

    help: str
    fields: dict[str, FieldSpec]
    factory: Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class _Entry:
    help: str
    factory: Callable[..., dict[str, Any]]
    field_help: Mapping[str, str]
    json_fields: frozenset[str]


_CATALOG: dict[str, dict[str, _Entry]] = {}
# Other names for an event: (service, event) → the catalog's (service, event).
_ALIASES: dict[tuple[str, str], tuple[str, str]] = {}


def resolved_default(name: str, resolve: Callable[[], object]) -> None:
    """Fields called `name` that default to None get `resolve()` (e.g. the emulator's region)."""
    _RESOLVED_DEFAULTS[name] = resolve


def sample_event(
    service: str,
    event: str,
    help: str,
    fields: Mapping[str, str],
    *,
    json_fields: frozenset[str] = frozenset(),
    aliases: tuple[tuple[str, str], ...] = (),
) -> Callable[[Factory], Factory]:
    """Register a factory (keyword-only parameters = its fields) under `service event`. Every parameter
    must have help, so the command line and the catalog never drift from the function."""

    def register(factory: Factory) -> Factory:
        params = _parameters(factory)
        if set(params) != set(fields):
            raise TypeError(f"{factory.__name__}: help for {sorted(fields)} but fields {sorted(params)}")
        _CATALOG.setdefault(service, {})[event] = _Entry(help, factory, dict(fields), json_fields)
        for alias in aliases:
            _ALIASES[alias] = (service, event)
        return factory

    return register


def _parameters(factory: Callable[..., object]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(factory).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _spec(entry: _Entry) -> EventSpec:
    fields = {}
    for name, param in _parameters(entry.factory).items():
        default = param.default
        if default is None and name in _RESOLVED_DEFAULTS:
            default = _RESOLVED_DEFAULTS[name]()
        if name in entry.json_fields:
            kind = "json"
        elif isinstance(default, int) and not isinstance(default, bool):
            kind = "int"
        else:
            kind = "text"
        fields[name] = FieldSpec(entry.field_help[name], default, kind)
    return EventSpec(entry.help, fields, entry.factory)


def catalog() -> dict[str, dict[str, EventSpec]]:
    """Every sample event, by service then event name (sorted), with its fields for --help listings."""
    return {
        service: {name: _spec(events[name]) for name in sorted(events)}
        for service, events in sorted(_CATALOG.items())
    }


def aliases() -> dict[tuple[str, str], tuple[str, str]]:
    """Other accepted names: (service, event) → the catalog's (service, event)."""
    return dict(_ALIASES)


def lookup(service: str, event: str) -> EventSpec:
    """The spec of `service event` (or of one of its aliases); ConfigError naming the choices otherwise."""
    service, event = _ALIASES.get((service, event), (service, event))
    if service not in _CATALOG:
        raise ConfigError(
            f"unknown event service {service!r}; choose from: {', '.join(sorted(_CATALOG))}",
            hint="lambda-emu generate-event --help lists every service and event",
        )
    events = _CATALOG[service]
    if event not in events:
        raise ConfigError(
            f"unknown {service} event {event!r}; choose from: {', '.join(sorted(events))}",
            hint=f"lambda-emu generate-event {service} --help lists its events",
        )
    return _spec(events[event])


def generate(service: str, event: str, **fields: object) -> dict[str, Any]:
    """The sample event `service event` (e.g. "s3", "put") with `fields` set (dashes or underscores:
    "queue-name" or "queue_name"); ConfigError names the valid choices for an unknown name."""
    spec = lookup(service, event)
    values = {name.replace("-", "_"): value for name, value in fields.items()}
    unknown = sorted(set(values) - set(spec.fields))
    if unknown:
        raise ConfigError(
            f"{service} {event} has no field {', '.join(unknown)}; its fields: {', '.join(spec.fields)}",
            hint=f"lambda-emu generate-event {service} {event} --help describes each field",
        )
    return spec.factory(**values)
