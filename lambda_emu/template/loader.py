"""Turning the function resources of a template into FunctionConfigs (validated later, by the caller)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeGuard

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import FunctionNotFoundError, TemplateError
from lambda_emu.template.event_sources import TemplateMapping, template_mappings
from lambda_emu.template.images import ZIP_ONLY, image_function
from lambda_emu.template.intrinsics import FUNCTION_TYPES, Resolver, is_intrinsic
from lambda_emu.template.nested import Nesting, nested_children
from lambda_emu.template.overrides import with_env_vars
from lambda_emu.template.parameters import parameter_values
from lambda_emu.template.reader import LAYER_TYPES, SERVERLESS_FUNCTION, LocalLayer, ResourceReader
from lambda_emu.template.source import read_template

if TYPE_CHECKING:
    from lambda_emu.template.apis import TemplateApi

LOG = logging.getLogger(__name__)
EVENT_INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"


@dataclass(frozen=True)
class BrokenFunction:
    """A function of the template that cannot run as written (a remote layer, no local code, a parameter
    without a value...): the rest of the template runs, and invoking this one raises `error`."""

    logical_id: str
    name: str | None  # its FunctionName, when that much could be read
    error: TemplateError

    def warning(self) -> str:
        hint = f" ({self.error.hint})" if self.error.hint else ""
        return f"function {self.logical_id} is not loaded: {self.error.message}{hint}"


@dataclass(frozen=True)
class Template:
    """The functions a template defines, keyed by logical ID in template order."""

    path: Path
    functions: Mapping[str, FunctionConfig]
    # Functions defined but not loaded (logical ID → why), so asking for one gets a reason, not "no such".
    skipped: Mapping[str, str] = field(default_factory=dict)
    # Event source mappings (SAM's Events of type SQS, AWS::Lambda::EventSourceMapping): serve creates them.
    event_sources: tuple[TemplateMapping, ...] = ()
    # Functions that cannot run as written, by logical ID: reported when one is asked for, not before.
    broken: Mapping[str, BrokenFunction] = field(default_factory=dict)
    # Problems of other resources (a malformed resource, an event source mapping), which were left out.
    warnings: tuple[str, ...] = ()
    # The nested applications' templates read with it (a change to one is a change to this template).
    nested_templates: tuple[Path, ...] = ()

    # HTTP APIs (SAM's Events of type Api and HttpApi): start-api serves them.
    apis: tuple[TemplateApi, ...] = ()
    # Function URLs (FunctionUrlConfig, AWS::Lambda::Url): start-api serves each on a port of its own.
    function_urls: tuple[TemplateApi, ...] = ()
    # Why the APIs could not be read: only start-api (and serve --api-port) needs them, so only they fail.
    api_error: TemplateError | None = None

    def problems(self) -> list[str]:
        """Everything left out of the template, one line each: what `serve` warns of at start."""
        return [broken.warning() for broken in self.broken.values()] + list(self.warnings)

    def broken_function(self, name: str) -> BrokenFunction | None:
        """The broken function with this logical ID or FunctionName, if any."""
        if name in self.broken:
            return self.broken[name]
        return next((broken for broken in self.broken.values() if broken.name == name), None)

    def only(self, names: Sequence[str]) -> Template:
        """This template with just the functions named (logical ID, FunctionName or Child/Function), as the
        function list of SAM CLI's start-lambda chooses them; naming one it lacks or cannot load raises."""
        chosen: dict[str, FunctionConfig] = {}
        for name in names:
            config = self.function(name)
            chosen.update((lid, c) for lid, c in self.functions.items() if c is config)
        served = {config.name for config in chosen.values()}
        return replace(
            self,
            functions=MappingProxyType(chosen),
            skipped=MappingProxyType({}),
            broken=MappingProxyType({}),
            event_sources=tuple(m for m in self.event_sources if m.request.get("FunctionName") in served),
        )

    def function(self, name: str) -> FunctionConfig:
        """The function with this logical ID or this FunctionName."""
        if name in self.functions:
            return self.functions[name]
        for function in self.functions.values():
            if function.name == name:
                return function
        broken = self.broken_function(name)
        if broken is not None:
            raise broken.error
        if name in self.skipped:
            raise FunctionNotFoundError(
                f"Function {name} of {self.path} is not loaded: {self.skipped[name]}."
            )
        available = ", ".join(
            lid if config.name == lid else f"{lid} ({config.name})" for lid, config in self.functions.items()
        )
        if self.broken:
            available += (", " if available else "") + ", ".join(f"{lid} (not loaded)" for lid in self.broken)
        raise FunctionNotFoundError(
            f"No function {name!r} in {self.path}; available: {available or 'none'}.",
            hint="Name a function by its logical ID or its FunctionName.",
        )


def load_functions(
    template: Path,
    *,
    state_dir: Path,
    parameter_overrides: str | Sequence[str] | None,
    env_vars_file: Path | None,
    cpu_limit: bool = True,
) -> tuple[EmulatorConfig, Template]:
    """The emulator's configuration (from this machine's environment) and every function the template
    defines, with SAM's parameter overrides ("K=V K2=V2", or several such texts: all kept, a later value of
    one key winning, as SAM CLI takes --parameter-overrides repeated) and env-vars file applied: what
    `invoke`, `serve`, a template reload and the pytest plugin each start from."""
    from lambda_emu.config import host_environ
    from lambda_emu.template.overrides import load_env_vars_file, parse_parameter_overrides

    emulator = EmulatorConfig.from_environ(host_environ(), state_dir=state_dir, cpu_limit=cpu_limit)
    loaded = load_template(
        template,
        emulator=emulator,
        parameter_overrides=parse_parameter_overrides(parameter_overrides or ()),
        env_vars=load_env_vars_file(env_vars_file) if env_vars_file else None,
    )
    return emulator, loaded


def load_template(
    path: Path,
    *,
    emulator: EmulatorConfig,
    parameter_overrides: Mapping[str, str] | None = None,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
    nesting: Nesting | None = None,  # set when reading a nested application's template
) -> Template:
    """Every function of the template at `path`, its values resolved. A template that cannot be read at all
    raises TemplateError; a function that cannot run as written is kept in `broken` (its error raised when it
    is asked for), so one bad resource never blocks the others."""
    # Kept parsed in the state directory while the file is unchanged (source.py: read_template).
    data = read_template(path, cache_dir=emulator.state_dir / "cache" / "templates")
    resources = data.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{path}: the template has no Resources.")
    nesting = nesting or Nesting()
    try:
        resolver = Resolver(
            data,
            emulator=emulator,
            parameters=parameter_values(data.get("Parameters"), parameter_overrides or {}),
            function_prefix=nesting.prefix(),
        )
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc.message}.", hint=exc.hint) from exc
    warnings = [
        f"resource {lid} is left out: it must be a mapping with a Type"
        for lid, resource in resources.items()
        if not _is_resource(resource)
    ]
    resources = {lid: resource for lid, resource in resources.items() if _is_resource(resource)}
    sections = data.get("Globals") or {}
    globals_ = (sections.get("Function") or {}) if isinstance(sections, dict) else None
    if not isinstance(globals_, dict):
        raise TemplateError(f"{path}: Globals.Function must be a mapping.")

    layers = _layers(path, resources, resolver, emulator, warnings)
    functions, skipped, broken = _functions(path, resources, resolver, emulator, globals_, nesting, layers)
    functions = _with_event_invoke_configs(path, resources, functions, broken, resolver, emulator, warnings)
    mappings: list[TemplateMapping] = []
    nested_templates: list[Path] = []
    for child in nested_children(path, resources, resolver, emulator, nesting, warnings):
        try:
            nested = load_template(
                child.path, emulator=emulator, parameter_overrides=child.parameters, nesting=child.nesting
            )
        except TemplateError as exc:
            warnings.append(f"application {child.logical_id} is left out: {exc.message}")
        else:
            _adopt(child.logical_id, nested, functions, broken, skipped, warnings, mappings)
            nested_templates += [child.path, *nested.nested_templates]
    names = _without_name_clashes(path, functions, broken)
    for section in env_vars or {}:
        if section != "Parameters" and not any(
            section in known for known in (functions, names, broken, skipped)
        ):
            LOG.warning(
                "Environment variables for %s are not used: the template has no such function.", section
            )
    loaded = {lid: with_env_vars(config, env_vars or {}) for lid, config in functions.items()}
    mappings[:0] = template_mappings(path, resources, loaded, resolver, emulator, warnings)
    apis, urls, api_error = _apis(path, data, resources, loaded, resolver, emulator)
    return Template(
        path,
        MappingProxyType(loaded),
        MappingProxyType(skipped),
        tuple(mappings),
        broken=MappingProxyType(broken),
        warnings=tuple(warnings),
        nested_templates=tuple(nested_templates),
        apis=apis,
        function_urls=urls,
        api_error=api_error,
    )


def _functions(
    path: Path,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    globals_: Mapping[str, Any],
    nesting: Nesting,
    layers: Mapping[str, LocalLayer],
) -> tuple[dict[str, FunctionConfig], dict[str, str], dict[str, BrokenFunction]]:
    """The template's own functions: those that load, those left out by a false Condition (and why), and
    those that cannot run as written (their error kept for when they are asked for)."""
    functions: dict[str, FunctionConfig] = {}
    skipped: dict[str, str] = {}
    broken: dict[str, BrokenFunction] = {}
    for lid, resource in resources.items():
        if resource["Type"] not in FUNCTION_TYPES:
            continue  # other types (and types lambda-emu does not know) are what functions may refer to
        try:
            reader = _reader(path, lid, resource, resolver, emulator, globals_, nesting.stack)
            if not reader.included():
                skipped[lid] = f"its Condition {resource['Condition']} is false"
            elif reader.is_image():
                functions[lid] = image_function(reader)
            else:
                functions[lid] = reader.function(layers)
        except TemplateError as exc:
            broken[lid] = BrokenFunction(lid, _name_if_known(resolver, lid), exc)
    return functions, skipped, broken


def _without_name_clashes(
    path: Path, functions: dict[str, FunctionConfig], broken: dict[str, BrokenFunction]
) -> dict[str, str]:
    """FunctionName -> logical ID; two functions of one name are both moved to `broken` (neither can be
    told from the other)."""
    names: dict[str, str] = {}
    for lid, config in list(functions.items()):
        first = names.setdefault(config.name, lid)
        if first != lid:
            clash = TemplateError(
                f"{path}: functions {first} and {lid} are both named {config.name}.",
                hint="Give each function its own FunctionName",
            )
            for each in (first, lid):
                functions.pop(each, None)
                broken[each] = BrokenFunction(each, config.name, clash)
    return names


def _apis(
    path: Path,
    data: Mapping[str, Any],
    resources: Mapping[str, Any],
    loaded: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> tuple[tuple[TemplateApi, ...], tuple[TemplateApi, ...], TemplateError | None]:
    """The template's APIs and Function URLs, or the error that keeps them from being served (the
    functions still load)."""
    if not _declares_apis(data, resources):  # most templates declare none: no API module is even imported
        return (), (), None
    from lambda_emu.template.apis import template_apis
    from lambda_emu.template.function_urls import function_urls

    # This template's own well-formed resources and functions: a malformed resource was left out (with a
    # warning) above, and a nested application's functions are its own template's.
    own = {lid: config for lid, config in loaded.items() if lid in resources}
    try:
        apis = template_apis(path, {**data, "Resources": resources}, own, resolver, emulator)
        return apis, function_urls(path, resources, own, resolver, emulator), None
    except TemplateError as exc:
        return (), (), exc


def _adopt(
    lid: str,
    nested: Template,
    functions: dict[str, FunctionConfig],
    broken: dict[str, BrokenFunction],
    skipped: dict[str, str],
    warnings: list[str],
    mappings: list[TemplateMapping],
) -> None:
    """A nested application's functions and problems, under the application's logical ID: `Child/Function`
    (SAM CLI's name for them)."""
    for key, config in nested.functions.items():
        functions[f"{lid}/{key}"] = replace(config, logical_id=f"{lid}/{key}")
    for key, problem in nested.broken.items():
        broken[f"{lid}/{key}"] = replace(problem, logical_id=f"{lid}/{key}")
    skipped.update({f"{lid}/{key}": why for key, why in nested.skipped.items()})
    warnings += [f"in application {lid}: {line}" for line in nested.warnings]
    mappings += [replace(mapping, name=f"{lid}/{mapping.name}") for mapping in nested.event_sources]


def _declares_apis(data: Mapping[str, Any], resources: Mapping[str, Any]) -> bool:
    """Whether anything in the template makes an HTTP endpoint: an Api or HttpApi event, an API or Function
    URL resource, or a FunctionUrlConfig (also in Globals)."""
    globals_ = data.get("Globals")
    function_globals = globals_.get("Function") if isinstance(globals_, dict) else None
    if isinstance(function_globals, dict) and "FunctionUrlConfig" in function_globals:
        return True
    for resource in resources.values():
        kind = str(resource.get("Type", ""))
        if kind.startswith(("AWS::ApiGateway", "AWS::Lambda::Url", "AWS::Serverless::Api")):
            return True
        if kind == "AWS::Serverless::HttpApi":
            return True
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            continue
        if "FunctionUrlConfig" in properties:
            return True
        events = properties.get("Events")
        if isinstance(events, dict) and any(
            isinstance(event, dict) and event.get("Type") in ("Api", "HttpApi") for event in events.values()
        ):
            return True
    return False


def _is_resource(resource: Any) -> bool:
    return isinstance(resource, dict) and isinstance(resource.get("Type"), str)


def _name_if_known(resolver: Resolver, lid: str) -> str | None:
    try:
        return resolver.physical_name(lid)
    except TemplateError:
        return None


def _with_event_invoke_configs(
    path: Path,
    resources: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    broken: dict[str, BrokenFunction],
    resolver: Resolver,
    emulator: EmulatorConfig,
    warnings: list[str],
) -> dict[str, FunctionConfig]:
    """CloudFormation's AWS::Lambda::EventInvokeConfig resources, each over its function's settings (as
    SAM's EventInvokeConfig property, which SAM turns into this very resource). A bad one breaks the function
    it configures (added to `broken`); one for no function of the template is left out with a warning."""
    by_name = {config.name: lid for lid, config in functions.items()}
    result = dict(functions)
    for lid, resource in resources.items():
        if resource["Type"] != EVENT_INVOKE_CONFIG:
            continue
        function_lid = None
        try:
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
                if not any(name in (b.logical_id, b.name) for b in broken.values()):
                    warnings.append(
                        f"resource {lid} is left out: its FunctionName {target!r} is no function of this "
                        "template"
                    )
                continue
            # Async invocations run $LATEST here, so a qualifier's configuration is the function's.
            function = result[function_lid]
            fields = {key: reader.get(key, None) for key in properties}
            async_config = reader.event_invoke_config(fields, "Properties", function.async_config)
            result[function_lid] = replace(function, async_config=async_config)
        except TemplateError as exc:
            if function_lid is None:
                warnings.append(f"resource {lid} is left out: {exc.message}")
            else:
                broken[function_lid] = BrokenFunction(function_lid, result.pop(function_lid).name, exc)
    return result


def _reader(
    path: Path,
    lid: str,
    resource: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    globals_: Mapping[str, Any],
    stack: tuple[str, ...] = (),
) -> ResourceReader:
    """A reader of the function's properties, merged over Globals as SAM merges them."""
    properties = resource.get("Properties") or {}
    if not isinstance(properties, dict):
        raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
    if resource["Type"] != SERVERLESS_FUNCTION:  # Globals are SAM's: plain Lambda functions take none
        return ResourceReader(path, lid, resource, resolver, emulator, properties, stack)
    shared = _ignoring(path, lid, resource.get("IgnoreGlobals"), globals_)
    merged = _merge_globals(shared, properties)
    reader = ResourceReader(path, lid, resource, resolver, emulator, merged, stack)
    if reader.is_image():
        # Runtime, Handler, Layers and code locations are for .zip functions: a template mixing both kinds
        # keeps them in Globals, and an image function does not take them.
        kept = {key: value for key, value in shared.items() if key not in ZIP_ONLY}
        reader = ResourceReader(
            path, lid, resource, resolver, emulator, _merge_globals(kept, properties), stack
        )
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
    path: Path,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    warnings: list[str],
) -> dict[str, LocalLayer]:
    """The template's layers by ARN (what a Ref to the layer gives): the local content, or why there is
    none (its Condition is false, its content is missing): only the functions using it are broken by that."""
    found: dict[str, LocalLayer] = {}
    for lid, resource in resources.items():
        if resource["Type"] not in LAYER_TYPES:
            continue
        try:
            properties = resource.get("Properties") or {}
            if not isinstance(properties, dict):
                raise TemplateError(f"{path}: resource {lid}, property Properties: must be a mapping.")
            reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
            arn = reader.resolve_as("LayerName", {"Ref": lid})
        except TemplateError as exc:
            warnings.append(f"layer {lid} is left out: {exc.message}")
            continue
        try:
            if reader.included():
                found[arn] = LocalLayer(lid, reader.layer_content())
            else:
                found[arn] = LocalLayer(
                    lid, None, TemplateError(f"layer {lid} is not loaded: its Condition is false")
                )
        except TemplateError as exc:
            found[arn] = LocalLayer(lid, None, exc)
    return found


def _is_plain_mapping(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and not is_intrinsic(value)
