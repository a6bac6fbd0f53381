"""A template's event source mappings: SAM's `Events` of type SQS on a function, and CloudFormation's
AWS::Lambda::EventSourceMapping resources, as CreateEventSourceMapping requests (the template's part of the
state that serve keeps; event_sources.mappings validates them as the API does)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template.intrinsics import Resolver
from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"
# SAM's SQS event properties and the CreateEventSourceMapping fields they become.
_SQS_PROPERTIES = {
    "Queue": "EventSourceArn",
    "BatchSize": "BatchSize",
    "MaximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds",
    "Enabled": "Enabled",
    "FunctionResponseTypes": "FunctionResponseTypes",
    "ScalingConfig": "ScalingConfig",
    "FilterCriteria": "FilterCriteria",
}
_MAPPING_PROPERTIES = (
    "EventSourceArn",
    "FunctionName",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "Enabled",
    "FunctionResponseTypes",
    "ScalingConfig",
    "FilterCriteria",
)


@dataclass(frozen=True)
class TemplateMapping:
    """One mapping of the template: its logical name (the function's event, or the resource) and the
    request that creates it."""

    name: str
    request: Mapping[str, Any]


def template_mappings(
    path: Path,
    resources: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
    warnings: list[str] | None = None,
) -> tuple[TemplateMapping, ...]:
    """The template's mappings; one that cannot be read is left out, with a line in `warnings` (else it is
    raised), so it does not keep the functions from running."""
    found: list[TemplateMapping] = []
    for lid, resource in resources.items():
        try:
            found += _mappings_of(path, lid, resource, functions, resolver, emulator)
        except TemplateError as exc:
            if warnings is None:
                raise
            warnings.append(f"the event source mapping of {lid} is left out: {exc.message}")
    return tuple(found)


def _mappings_of(
    path: Path,
    lid: str,
    resource: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> list[TemplateMapping]:
    found: list[TemplateMapping] = []
    properties = resource.get("Properties") or {}
    if lid in functions and isinstance(properties, dict):
        events = properties.get("Events") or {}
        for event_name, event in events.items() if isinstance(events, dict) else ():
            if not isinstance(event, dict) or event.get("Type") != "SQS":
                continue  # other event types are pushed by their service: nothing polls them
            fields = event.get("Properties") or {}
            reader = ResourceReader(path, lid, resource, resolver, emulator, fields)
            request = {
                target: reader.get(source) for source, target in _SQS_PROPERTIES.items() if source in fields
            }
            request["FunctionName"] = functions[lid].name
            found.append(TemplateMapping(f"{lid}.{event_name}", _typed(request)))
    elif resource.get("Type") == EVENT_SOURCE_MAPPING:
        if not isinstance(properties, dict):
            raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
        reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
        if not reader.included():
            return found
        request = {key: reader.get(key) for key in _MAPPING_PROPERTIES if key in properties}
        target = str(request.get("FunctionName", ""))
        # A Ref to the function gives its name; Fn::GetAtt …Arn its ARN.
        if ":function:" in target:
            request["FunctionName"] = target.split(":function:", 1)[1]
        found.append(TemplateMapping(lid, _typed(request)))
    return found


def _typed(request: dict[str, Any]) -> dict[str, Any]:
    """Numbers and booleans as the API takes them: a template may give them as strings ("10", "true"), as
    CloudFormation accepts them, or a parameter's value is one."""
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
        value = request.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            request[key] = int(value)
    enabled = request.get("Enabled")
    if isinstance(enabled, str) and enabled.lower() in ("true", "false"):
        request["Enabled"] = enabled.lower() == "true"
    return request
