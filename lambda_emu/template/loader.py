"""Turning the function resources of a template into FunctionConfigs (validated later, by the caller)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import FunctionNotFoundError, TemplateError
from lambda_emu.template.apis import TemplateApi, template_apis
from lambda_emu.template.event_sources import TemplateMapping, template_mappings
from lambda_emu.template.function_urls import function_urls
from lambda_emu.template.images import ZIP_ONLY, image_function
from lambda_emu.template.intrinsics import FUNCTION_TYPES, Resolver, is_intrinsic
from lambda_emu.template.overrides import with_env_vars
from lambda_emu.template.parameters import parameter_values
from lambda_emu.template.reader import LAYER_TYPES, SERVERLESS_FUNCTION, ResourceReader
from lambda_emu.template.source import read_template

LOG = logging.getLogger(__name__)
EVENT_INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"


@dataclass(frozen=True)
class Template:
    """The functions a template defines, keyed by logical ID in template order."""

    path: Path
    functions: Mapping[str, FunctionConfig]
    # Functions defined but not loaded (logical ID → why), so asking for one gets a reason, not "no such".
    skipped: Mapping[str, str] = field(default_factory=dict)
    # Event source mappings (SAM's Events of type SQS, AWS::Lambda::EventSourceMapping): serve creates them.
    event_sources: tuple[TemplateMapping, ...] = ()
    # HTTP APIs (SAM's Events of type Api and HttpApi): start-api serves them.
    apis: tuple[TemplateApi, ...] = ()
    # Function URLs (FunctionUrlConfig, AWS::Lambda::Url): start-api serves each on a port of its own.
    function_urls: tuple[TemplateApi, ...] = ()
    # Why the APIs could not be read: only start-api (and serve --api-port) needs them, so only they fail.
    api_error: TemplateError | None = None

    def function(self, name: str) -> FunctionConfig:
        """The function with this logical ID or this FunctionName."""
        if name in self.functions:
            return self.functions[name]
        for function in self.functions.values():
            if function.name == name:
                return function
        if name in self.skipped:
            raise FunctionNotFoundError(
                f"Function {name} of {self.path} is not loaded: {self.skipped[name]}."
            )
        available = ", ".join(
            lid if config.name == lid else f"{lid} ({config.name})" for lid, config in self.functions.items()
        )
        raise FunctionNotFoundError(
            f"No function {name!r} in {self.path}; available: {available or 'none'}.",
            hint="Name a function by its logical ID or its FunctionName.",
        )


def load_functions(
    template: Path,
    *,
    state_dir: Path,
    parameter_overrides: str | None,
    env_vars_file: Path | None,
    cpu_limit: bool = True,
) -> tuple[EmulatorConfig, Template]:
    """The emulator's configuration (from this machine's environment) and every function the template
    defines, with SAM's parameter overrides ("K=V K2=V2") and env-vars file applied: what `invoke`,
    `serve`, a template reload and the pytest plugin each start from."""
    from lambda_emu.config import host_environ
    from lambda_emu.template.overrides import load_env_vars_file, parse_parameter_overrides

    emulator = EmulatorConfig.from_environ(host_environ(), state_dir=state_dir, cpu_limit=cpu_limit)
    loaded = load_template(
        template,
        emulator=emulator,
        parameter_overrides=parse_parameter_overrides(parameter_overrides or ""),
        env_vars=load_env_vars_file(env_vars_file) if env_vars_file else None,
    )
    return emulator, loaded


def load_template(
    path: Path,
    *,
    emulator: EmulatorConfig,
    parameter_overrides: Mapping[str, str] | None = None,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
) -> Template:
    """Every function of the template at `path`, its values resolved; TemplateError on a broken template."""
    data = read_template(path)
    resources = data.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{path}: the template has no Resources.")
    try:
        resolver = Resolver(
            data,
            emulator=emulator,
            parameters=parameter_values(data.get("Parameters"), parameter_overrides or {}),
        )
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc.message}.", hint=exc.hint) from exc
    for lid, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"{path}: resource {lid} must be a mapping with a Type.")
    sections = data.get("Globals") or {}
    globals_ = (sections.get("Function") or {}) if isinstance(sections, dict) else None
    if not isinstance(globals_, dict):
        raise TemplateError(f"{path}: Globals.Function must be a mapping.")

    layers, excluded_layers = _layers(path, resources, resolver, emulator)
    functions: dict[str, FunctionConfig] = {}
    skipped: dict[str, str] = {}
    for lid, resource in resources.items():
        if resource["Type"] not in FUNCTION_TYPES:
            continue
        reader = _reader(path, lid, resource, resolver, emulator, globals_)
        if not reader.included():
            skipped[lid] = f"its Condition {resource['Condition']} is false"
        elif reader.is_image():
            functions[lid] = image_function(reader)
        else:
            functions[lid] = reader.function(layers, excluded_layers)

    functions = _with_event_invoke_configs(path, resources, functions, resolver, emulator)
    names: dict[str, str] = {}
    for lid, config in functions.items():
        if config.name in names:
            raise TemplateError(
                f"{path}: functions {names[config.name]} and {lid} are both named {config.name}."
            )
        names[config.name] = lid
    for section in env_vars or {}:
        if section != "Parameters" and section not in functions and section not in names:
            LOG.warning(
                "Environment variables for %s are not used: the template has no such function.", section
            )
    loaded = {lid: with_env_vars(config, env_vars or {}) for lid, config in functions.items()}
    mappings = template_mappings(path, resources, loaded, resolver, emulator)
    try:
        apis = template_apis(path, data, loaded, resolver, emulator)
        urls = function_urls(path, resources, loaded, resolver, emulator)
        api_error = None
    except TemplateError as exc:
        apis, urls, api_error = (), (), exc
    return Template(
        path, MappingProxyType(loaded), MappingProxyType(skipped), mappings, apis, urls, api_error
    )


def _with_event_invoke_configs(
    path: Path,
    resources: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> dict[str, FunctionConfig]:
    """CloudFormation's AWS::Lambda::EventInvokeConfig resources, each over its function's settings (as
    SAM's EventInvokeConfig property, which SAM turns into this very resource)."""
    by_name = {config.name: lid for lid, config in functions.items()}
    result = dict(functions)
    for lid, resource in resources.items():
        if resource["Type"] != EVENT_INVOKE_CONFIG:
            continue
        properties = resource.get("Properties") or {}
        if not isinstance(properties, dict):
            raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
        reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
        if not reader.included():
            continue
        # A Ref to the function gives its name; Fn::GetAtt …Arn its ARN (qualified or not).
        target = str(reader.get("FunctionName", ""))
        name = target.split(":function:", 1)[1].split(":", 1)[0] if ":function:" in target else target
        function_lid = by_name.get(name)
        if function_lid is None:
            raise TemplateError(
                f"{path}: resource {lid}, property FunctionName: {target!r} is no function of this template."
            )
        # Async invocations run $LATEST here, so a qualifier's configuration is the function's.
        function = result[function_lid]
        fields = {key: reader.get(key, None) for key in properties}
        async_config = reader.event_invoke_config(fields, "Properties", function.async_config)
        result[function_lid] = replace(function, async_config=async_config)
    return result


def _reader(
    path: Path,
    lid: str,
    resource: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    globals_: Mapping[str, Any],
) -> ResourceReader:
    """A reader of the function's properties, merged over Globals as SAM merges them."""
    properties = resource.get("Properties") or {}
    if not isinstance(properties, dict):
        raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
    if resource["Type"] != SERVERLESS_FUNCTION:  # Globals are SAM's: plain Lambda functions take none
        return ResourceReader(path, lid, resource, resolver, emulator, properties)
    shared = _ignoring(path, lid, resource.get("IgnoreGlobals"), globals_)
    reader = ResourceReader(path, lid, resource, resolver, emulator, _merge_globals(shared, properties))
    if reader.is_image():
        # Runtime, Handler, Layers and code locations are for .zip functions: a template mixing both kinds
        # keeps them in Globals, and an image function does not take them.
        kept = {key: value for key, value in shared.items() if key not in ZIP_ONLY}
        reader = ResourceReader(path, lid, resource, resolver, emulator, _merge_globals(kept, properties))
    return reader


def _ignoring(path: Path, lid: str, ignored: Any, globals_: Mapping[str, Any]) -> Mapping[str, Any]:
    """Globals without what the resource's IgnoreGlobals attribute names ("*": all of them), as SAM."""
    if ignored is None:
        return globals_
    if ignored == "*":
        return {}
    if not isinstance(ignored, list) or not all(isinstance(key, str) for key in ignored):
        raise TemplateError(f'{path}: resource {lid}, IgnoreGlobals must be "*" or a list of property names.')
    unknown = [key for key in ignored if key not in globals_]
    if unknown:
        raise TemplateError(f"{path}: resource {lid}, IgnoreGlobals names {unknown[0]}, which Globals lacks.")
    return {key: value for key, value in globals_.items() if key not in ignored}


def _merge_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals.Function under a function's properties: the function wins, key by key for variables;
    Layers are the Globals' followed by the function's own (SAM concatenates lists)."""
    merged = {**globals_, **properties}
    shared, own = globals_.get("Environment"), properties.get("Environment")
    if _is_plain_mapping(shared) and _is_plain_mapping(own):
        merged["Environment"] = {**shared, **own}
        shared_vars, own_vars = shared.get("Variables"), own.get("Variables")
        if isinstance(shared_vars, dict) and isinstance(own_vars, dict):
            merged["Environment"]["Variables"] = {**shared_vars, **own_vars}
    shared_layers, own_layers = globals_.get("Layers"), properties.get("Layers")
    if isinstance(shared_layers, list) and isinstance(own_layers, list):
        merged["Layers"] = [*shared_layers, *own_layers]
    return merged


def _layers(
    path: Path, resources: Mapping[str, Any], resolver: Resolver, emulator: EmulatorConfig
) -> tuple[dict[str, Path], dict[str, str]]:
    """The template's layers: ARN (what a Ref to the layer gives) → local content; and the ARNs of
    layers whose Condition is false → their logical ID."""
    local: dict[str, Path] = {}
    excluded: dict[str, str] = {}
    for lid, resource in resources.items():
        if resource["Type"] not in LAYER_TYPES:
            continue
        properties = resource.get("Properties") or {}
        if not isinstance(properties, dict):
            raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
        reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
        arn = reader.resolve_as("LayerName", {"Ref": lid})
        if reader.included():
            local[arn] = reader.layer_content()
        else:
            excluded[arn] = lid
    return local, excluded


def _is_plain_mapping(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and not is_intrinsic(value)
