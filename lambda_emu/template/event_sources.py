"""A template's event source mappings: SAM's `Events` of type SQS, Kinesis and DynamoDB on a function, and
CloudFormation's AWS::Lambda::EventSourceMapping resources, as CreateEventSourceMapping requests (the
template's part of the state that serve keeps; event_sources.mappings validates them as the API does)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu import arns
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template.intrinsics import Resolver
from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"
# A table's stream label exists only once the table does: `!GetAtt Table.StreamArn` becomes the ARN of the
# table's stream under this label, which the poller replaces with the table's latest stream (ListStreams).
LATEST_STREAM_LABEL = "lambda-emu-latest"
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
# SAM's Kinesis and DynamoDB event properties: the stream, and the fields of the same name.
_STREAM_FIELDS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "Enabled",
    "FunctionResponseTypes",
    "FilterCriteria",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "DestinationConfig",
    "TumblingWindowInSeconds",
)
_STREAM_PROPERTIES = {"Stream": "EventSourceArn", **{name: name for name in _STREAM_FIELDS}}
_EVENT_PROPERTIES = {"SQS": _SQS_PROPERTIES, "Kinesis": _STREAM_PROPERTIES, "DynamoDB": _STREAM_PROPERTIES}
_MAPPING_PROPERTIES = tuple(
    dict.fromkeys(("EventSourceArn", "FunctionName", "ScalingConfig", *_STREAM_FIELDS))
)
_NUMBERS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
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
            found += _mappings_of(path, lid, resource, resources, functions, resolver, emulator, warnings)
        except TemplateError as exc:
            if warnings is None:
                raise
            warnings.append(f"the event source mapping of {lid} is left out: {exc.message}")
    return tuple(found)


def _mappings_of(
    path: Path,
    lid: str,
    resource: Mapping[str, Any],
    resources: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
    warnings: list[str] | None,
) -> list[TemplateMapping]:
    found: list[TemplateMapping] = []
    properties = resource.get("Properties") or {}
    if lid in functions and isinstance(properties, dict):
        events = properties.get("Events") or {}
        for event_name, event in events.items() if isinstance(events, dict) else ():
            kind = event.get("Type") if isinstance(event, dict) else None
            if kind not in _EVENT_PROPERTIES:
                continue  # other event types are pushed by their service: nothing polls them
            fields = event.get("Properties") or {}
            reader = ResourceReader(path, lid, resource, resolver, emulator, fields)
            source_key = "Queue" if kind == "SQS" else "Stream"
            try:
                source = _source_arn(
                    reader, fields.get(source_key), source_key, resources, resolver, emulator
                )
            except TemplateError as exc:  # this event only: the function's other events still poll
                if warnings is None:
                    raise
                warnings.append(f"the event source mapping of {lid}.{event_name} is left out: {exc.message}")
                continue
            request = {
                target: reader.get(key)
                for key, target in _EVENT_PROPERTIES[str(kind)].items()
                if key in fields and key != source_key
            }
            request["EventSourceArn"] = source
            request["FunctionName"] = functions[lid].name
            found.append(TemplateMapping(f"{lid}.{event_name}", _typed(request)))
    elif resource.get("Type") == EVENT_SOURCE_MAPPING:
        if not isinstance(properties, dict):
            raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
        reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
        if not reader.included():
            return found
        source = _source_arn(
            reader, properties.get("EventSourceArn"), "EventSourceArn", resources, resolver, emulator
        )
        request = {key: reader.get(key) for key in _MAPPING_PROPERTIES if key in properties}
        request["EventSourceArn"] = source
        target = str(request.get("FunctionName", ""))
        # A Ref to the function gives its name; Fn::GetAtt …Arn its ARN.
        if ":function:" in target:
            request["FunctionName"] = target.split(":function:", 1)[1]
        found.append(TemplateMapping(lid, _typed(request)))
    return found


def _source_arn(
    reader: ResourceReader,
    value: Any,
    key: str,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> str:
    """The event source's ARN. `Fn::GetAtt Table.StreamArn` of a table in the template names the table's
    latest stream (LATEST_STREAM_LABEL)."""
    attribute = value.get("Fn::GetAtt") if isinstance(value, dict) and len(value) == 1 else None
    parts = attribute.split(".", 1) if isinstance(attribute, str) else attribute
    if isinstance(parts, list) and len(parts) == 2 and parts[1] == "StreamArn":
        table = resources.get(parts[0])
        if isinstance(table, dict) and table.get("Type") == "AWS::DynamoDB::Table":
            name = resolver.physical_name(str(parts[0]))
            return arns.arn(
                "dynamodb", emulator.region, emulator.account_id, f"table/{name}/stream/{LATEST_STREAM_LABEL}"
            )
    if value is None:
        return ""  # the API's answer: no event source
    # One only a deployed stack knows raises: template_mappings leaves the mapping out with a warning.
    return str(reader.get(key))


def _typed(request: dict[str, Any]) -> dict[str, Any]:
    """Numbers and booleans as the API takes them: a template may give them as strings ("10", "true"), as
    CloudFormation accepts them, or a parameter's value is one."""
    for key in _NUMBERS:
        value = request.get(key)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            request[key] = int(value)
    for key in ("Enabled", "BisectBatchOnFunctionError"):
        flag = request.get(key)
        if isinstance(flag, str) and flag.lower() in ("true", "false"):
            request[key] = flag.lower() == "true"
    return request
