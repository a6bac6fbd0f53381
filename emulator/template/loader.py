"""Turning the function resources of a template into FunctionConfigs (validated later, by the caller)."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from emulator.config import EmulatorConfig, FunctionConfig
from emulator.errors import FunctionNotFoundError, TemplateError
from emulator.template.intrinsics import (
    FUNCTION_TYPES,
    NO_VALUE,
    Resolver,
    UnresolvableError,
    is_intrinsic,
    text_of,
    whole_number,
)
from emulator.template.parameters import parameter_values
from emulator.template.source import read_template

LOG = logging.getLogger(__name__)

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
# Lambda writes inline code (Code.ZipFile) as index.py or index.js; only these runtimes accept it.
_INLINE_FILES = {"python": "index.py", "nodejs": "index.js"}
_MISSING: Any = object()


@dataclass(frozen=True)
class Template:
    """The functions a template defines, keyed by logical ID in template order."""

    path: Path
    functions: Mapping[str, FunctionConfig]
    # Functions defined but not loaded (logical ID → why), so asking for one gets a reason, not "no such".
    skipped: Mapping[str, str] = field(default_factory=dict)

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
    sections = data.get("Globals") or {}
    globals_ = (sections.get("Function") or {}) if isinstance(sections, dict) else None
    if not isinstance(globals_, dict):
        raise TemplateError(f"{path}: Globals.Function must be a mapping.")

    functions: dict[str, FunctionConfig] = {}
    skipped: dict[str, str] = {}
    for lid, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"{path}: resource {lid} must be a mapping with a Type.")
        if resource["Type"] not in (*FUNCTION_TYPES, SERVERLESS_LAYER):
            continue
        reader = _ResourceReader(path, lid, resource, resolver, emulator, globals_)
        if not reader.included():
            skipped[lid] = f"its Condition {resource['Condition']} is false"
        elif resource["Type"] == SERVERLESS_LAYER:
            if (content_uri := reader.get("ContentUri", None)) is not None:
                reader.local_path("ContentUri", content_uri)  # lambda-emu runs no layers yet, but says so
        elif (reason := reader.unsupported()) is not None:
            skipped[lid] = reason
        else:
            functions[lid] = reader.function()

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
    loaded = {lid: _with_env_vars(config, env_vars or {}) for lid, config in functions.items()}
    return Template(path, MappingProxyType(loaded), MappingProxyType(skipped))


def _with_env_vars(config: FunctionConfig, env_vars: Mapping[str, Mapping[str, str]]) -> FunctionConfig:
    # As SAM's --env-vars: the "Parameters" section applies to every function, a function's own section
    # (by logical ID, then FunctionName) wins. Unlike SAM, variables the template lacks are added too.
    environment = dict(config.environment)
    for section in ("Parameters", config.logical_id or "", config.name):
        environment.update(env_vars.get(section, {}))
    return replace(config, environment=environment)


def _merge_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals.Function under a function's properties: the function wins, key by key for variables."""
    merged = {**globals_, **properties}
    shared, own = globals_.get("Environment"), properties.get("Environment")
    if _is_plain_mapping(shared) and _is_plain_mapping(own):
        merged["Environment"] = {**shared, **own}
        shared_vars, own_vars = shared.get("Variables"), own.get("Variables")
        if isinstance(shared_vars, dict) and isinstance(own_vars, dict):
            merged["Environment"]["Variables"] = {**shared_vars, **own_vars}
    return merged


def _is_plain_mapping(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and not is_intrinsic(value)


class _ResourceReader:
    """Reads one function (or layer) resource; every error names the template, logical ID and property."""

    def __init__(
        self,
        path: Path,
        lid: str,
        resource: Mapping[str, Any],
        resolver: Resolver,
        emulator: EmulatorConfig,
        globals_: Mapping[str, Any],
    ) -> None:
        self.path, self.lid, self.resource = path, lid, resource
        self.resolver, self.emulator = resolver, emulator
        properties = resource.get("Properties") or {}
        if not isinstance(properties, dict):
            raise self.error("Properties", "must be a mapping")
        self.own = properties
        serverless = resource["Type"] == SERVERLESS_FUNCTION
        self.properties = _merge_globals(globals_, properties) if serverless else properties
        self.serverless = serverless

    def error(self, key: str, detail: str, hint: str | None = None) -> TemplateError:
        return TemplateError(f"{self.path}: resource {self.lid}, property {key}: {detail}.", hint=hint)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """A property resolved; `default` when absent or AWS::NoValue."""
        if key not in self.properties:
            return default
        value = self.resolve_as(key, self.properties[key])
        return default if value is NO_VALUE else value

    def resolve_as(self, key: str, value: Any) -> Any:
        try:
            return self.resolver.resolve(value)
        except UnresolvableError as exc:
            hint = "Use a template parameter instead, and give it a value with a parameter override"
            raise self.error(key, exc.message, hint) from exc
        except TemplateError as exc:
            raise self.error(key, exc.message, exc.hint) from exc

    def included(self) -> bool:
        if "Condition" not in self.resource:
            return True
        try:
            return self.resolver.condition(self.resource["Condition"])
        except TemplateError as exc:
            raise TemplateError(f"{self.path}: resource {self.lid}, Condition: {exc.message}.") from exc

    def unsupported(self) -> str | None:
        code = self.get("Code", None) if not self.serverless else None
        if self.get("PackageType", "Zip") == "Image" or (isinstance(code, dict) and "ImageUri" in code):
            return "it is a container-image function (PackageType Image), which lambda-emu does not run"
        return None

    def function(self) -> FunctionConfig:
        runtime = self.string("Runtime")
        try:
            name = self.resolver.physical_name(self.lid)
        except TemplateError as exc:
            raise self.error("FunctionName", exc.message) from exc
        architectures = self.get("Architectures", ["x86_64"])
        if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
            raise self.error("Architectures", f"must be a list of names; got {architectures!r}")
        storage = self.get("EphemeralStorage", {})
        if not isinstance(storage, dict):
            raise self.error("EphemeralStorage", f"must be a mapping with Size; got {storage!r}")
        return FunctionConfig(
            name=name,
            runtime=runtime,
            handler=self.string("Handler"),
            code_path=self.code_path(runtime),
            memory_size=self.whole("MemorySize", self.get("MemorySize", 128)),
            timeout=self.whole("Timeout", self.get("Timeout", 3)),
            ephemeral_storage=self.whole("EphemeralStorage.Size", storage.get("Size", 512)),
            environment=self.environment(),
            architectures=tuple(architectures),
            description=self.string("Description", ""),
            logical_id=self.lid,
        )

    def string(self, key: str, default: str | None = None) -> str:
        value = self.get(key, default)
        if value is None:
            raise self.error(key, "is required")
        if not isinstance(value, str):
            raise self.error(key, f"must be a string; got {value!r}")
        return value

    def whole(self, key: str, value: Any) -> int:
        # YAML templates keep numbers as text and Number parameters are strings: both convert here.
        number = whole_number(value)
        if number is None:
            raise self.error(key, f"must be a whole number; got {value!r}")
        return number

    def environment(self) -> dict[str, str]:
        environment = self.properties.get("Environment", {})
        if is_intrinsic(environment) or not isinstance(environment, dict):
            environment = self.get("Environment", {})  # resolved whole: no per-variable fallback
        if not isinstance(environment, dict):
            raise self.error("Environment", f"must be a mapping with Variables; got {environment!r}")
        variables = environment.get("Variables", {})
        if is_intrinsic(variables):
            variables = self.resolve_as("Environment.Variables", variables)
        if not isinstance(variables, dict):
            raise self.error("Environment.Variables", f"must be a mapping; got {variables!r}")
        resolved: dict[str, str] = {}
        for key, raw in variables.items():
            what = f"Environment.Variables.{key}"
            try:
                value = self.resolver.resolve(raw)
            except UnresolvableError as exc:
                # SAM CLI sets a variable it cannot resolve to "": keeping it defined lets code that reads
                # os.environ[key] at import still start, and --env-vars can give the real value.
                LOG.warning(
                    '%s of %s: %s; set to "" (give a value with --env-vars).', what, self.lid, exc.message
                )
                value = ""
            except TemplateError as exc:
                raise self.error(what, exc.message, exc.hint) from exc
            if value is NO_VALUE:
                continue
            try:
                # YAML's true becomes "true" and an empty value "", as SAM CLI writes them.
                resolved[str(key)] = "" if value is None else text_of(value, "the value")
            except TemplateError as exc:
                raise self.error(what, exc.message) from exc
        return resolved

    def code_path(self, runtime: str) -> Path:
        if self.serverless:
            # A function's own InlineCode wins over a CodeUri from Globals; both on the function is an error.
            if "InlineCode" in self.own:
                if "CodeUri" in self.own:
                    raise self.error("InlineCode", "give either CodeUri or InlineCode, not both")
                return self.inline_code("InlineCode", self.get("InlineCode"), runtime)
            # SAM CLI defaults CodeUri to the template's folder.
            return self.local_path("CodeUri", self.get("CodeUri", "."))
        code = self.get("Code", None)
        if isinstance(code, dict) and "ZipFile" in code:
            return self.inline_code("Code.ZipFile", code["ZipFile"], runtime)
        if code is None:
            raise self.error("Code", "is required")
        return self.local_path("Code", code)  # SAM CLI also takes a local path as Code

    def local_path(self, key: str, value: Any) -> Path:
        s3 = isinstance(value, dict) or (isinstance(value, str) and value.startswith("s3://"))
        if s3:
            raise self.error(
                key,
                f"points to S3 ({value}); lambda-emu runs only local folders and .zip files",
                hint="Point it at the code folder, or use the template `sam build` writes to .aws-sam/build",
            )
        if not isinstance(value, str):
            raise self.error(key, f"must be a path; got {value!r}")
        path = (self.path.parent / value).resolve()
        if not path.exists():
            raise self.error(key, f"{path} does not exist")
        if path.is_file() and not zipfile.is_zipfile(path):
            raise self.error(key, f"{path} is neither a folder nor a .zip file")
        return path

    def inline_code(self, key: str, code: Any, runtime: str) -> Path:
        if not isinstance(code, str):
            raise self.error(key, f"must be the code as a string; got {code!r}")
        family = next((f for f in _INLINE_FILES if runtime.startswith(f)), None)
        if family is None:
            raise self.error(key, f"inline code runs only on Python and Node.js runtimes, not {runtime}")
        folder = (self.emulator.state_dir / "inline" / self.lid).resolve()
        file = folder / _INLINE_FILES[family]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Rewritten only when changed: the reloader watches code folders, and an unchanged
            # function must keep its warm environments.
            if not file.is_file() or file.read_text(encoding="utf-8") != code:
                file.write_text(code, encoding="utf-8")
        except OSError as exc:
            raise self.error(key, f"cannot write the inline code to {file}: {exc.strerror or exc}") from exc
        return folder
