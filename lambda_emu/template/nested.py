"""Nested applications and stacks (AWS::Serverless::Application with a local Location,
AWS::CloudFormation::Stack with a local TemplateURL): the child template read with the parameters its
parent passes, its functions addressed as `Child/Function`, as SAM CLI addresses them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template.intrinsics import Resolver, text_of
from lambda_emu.template.reader import ResourceReader
from lambda_emu.template.source import find_template

LOG = logging.getLogger(__name__)

SERVERLESS_APPLICATION = "AWS::Serverless::Application"
CLOUDFORMATION_STACK = "AWS::CloudFormation::Stack"
NESTED_TYPES = (SERVERLESS_APPLICATION, CLOUDFORMATION_STACK)
MAX_DEPTH = 10  # deeper than any real project nests; a template that includes itself stops here


@dataclass(frozen=True)
class Nesting:
    """Where a template being read sits: the logical IDs of the applications it is in (outermost first) and
    their templates."""

    stack: tuple[str, ...] = ()
    templates: tuple[Path, ...] = ()

    def prefix(self) -> str:
        """What names its functions that have no FunctionName: `Outer-Inner-` before the logical ID."""
        return "".join(f"{lid}-" for lid in self.stack)


@dataclass(frozen=True)
class Child:
    """A nested template to read: its path, the parameter values its parent passes, and its nesting."""

    logical_id: str
    path: Path
    parameters: Mapping[str, str]
    nesting: Nesting


def nested_children(
    path: Path,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    nesting: Nesting,
    warnings: list[str],
) -> list[Child]:
    """The template's nested applications that can be read here; each one that cannot (a Serverless
    Application Repository app, a template on S3, a missing file) is left out with a line in `warnings`."""
    children = []
    for lid, resource in resources.items():
        if resource["Type"] not in NESTED_TYPES:
            continue
        try:
            child = _child(path, lid, resource, resolver, emulator, nesting, warnings)
        except TemplateError as exc:
            warnings.append(f"application {lid} is left out: {exc.message}")
            continue
        if child is not None:
            children.append(child)
    return children


def _child(
    path: Path,
    lid: str,
    resource: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    nesting: Nesting,
    warnings: list[str],
) -> Child | None:
    properties = resource.get("Properties") or {}
    if not isinstance(properties, dict):
        raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
    reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
    if not reader.included():
        return None
    key = "Location" if resource["Type"] == SERVERLESS_APPLICATION else "TemplateURL"
    location = reader.get(key, None)
    if location is None:
        raise reader.error(key, "is required")
    if isinstance(location, dict) or not isinstance(location, str):
        raise reader.error(
            key,
            f"names an application of the Serverless Application Repository ({location}); lambda-emu runs "
            "only local templates",
            hint="Download the application's template and point Location at it",
        )
    if location.startswith(("s3://", "http://", "https://")):
        raise reader.error(
            key,
            f"points to {location}; lambda-emu runs only local templates",
            hint="Point it at the template file (`sam build` writes local Locations into .aws-sam/build)",
        )
    child_path = (path.parent / location).resolve()
    if child_path.is_dir():
        child_path = find_template(child_path) or child_path
    if not child_path.is_file():
        raise reader.error(key, f"{child_path} does not exist")
    if child_path in nesting.templates or len(nesting.stack) >= MAX_DEPTH:
        raise reader.error(key, f"{child_path} includes itself, through {'/'.join(nesting.stack)}")
    return Child(
        lid,
        child_path,
        _parameters(reader, properties.get("Parameters"), warnings),
        Nesting((*nesting.stack, lid), (*nesting.templates, path.resolve())),
    )


def _parameters(reader: ResourceReader, given: Any, warnings: list[str]) -> dict[str, str]:
    """The values the parent passes (lists as CloudFormation passes them, comma-separated); one it cannot
    resolve here is not passed, so only the child's resources that use it are affected."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise reader.error("Parameters", f"must be a mapping of parameter names to values; got {given!r}")
    values = {}
    for name, raw in given.items():
        try:
            value = reader.resolve_as(f"Parameters.{name}", raw)
            items = value if isinstance(value, list) else [value]
            values[str(name)] = ",".join(text_of(item, f"parameter {name}") for item in items)
        except TemplateError as exc:
            warnings.append(f"application {reader.lid} gets no value for parameter {name}: {exc.message}")
    return values
