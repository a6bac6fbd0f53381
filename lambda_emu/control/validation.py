"""Lambda's validation of function-management requests: the API model's constraints (one ValidationException
naming every violation, as AWS's request validation words it) and the service's own rules after them."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_emu.config import ENV_TOTAL_LIMIT, MEMORY_RANGE, TIMEOUT_RANGE, validate_environment
from lambda_emu.control import request_shapes
from lambda_emu.control.request_shapes import RETIRED_RUNTIMES, RUNTIMES, Shape
from lambda_emu.errors import ApiError, ConfigError

LOG = logging.getLogger(__name__)

LAYERS_LIMIT = 5  # "Lambda quotas": 5 layers per function
VALIDATION = "ValidationException"
OPERATIONS: Mapping[str, Shape] = request_shapes.OPERATIONS  # every operation of botocore's model


def validate_function_request(
    operation: str, body: Mapping[str, Any], *, package_type: str | None = None
) -> None:
    """Raise ConfigError as Lambda answers a bad `operation` request: the model's constraints first, every
    violation in one ValidationException, then the service's rules, the first one broken. `package_type`
    is the existing function's (Zip or Image), for the rules that depend on it."""
    shape = OPERATIONS.get(operation)
    if shape is None:
        raise ValueError(f"no validation table for operation {operation!r}")
    check_request(shape, body)
    _check_service_rules(operation, body, package_type)


def check_request(shape: Shape, body: Mapping[str, Any]) -> None:
    """Raise ApiError as Lambda answers a request breaking the model's constraints of `shape`: every
    violation in one ValidationException."""
    errors: list[str] = []
    _check_structure(shape, body, "", errors)
    if errors:
        # AWS's request validation: "1 validation error detected: Value '901' at 'timeout' failed to
        # satisfy constraint: Member must have value less than or equal to 900" (ValidationException;
        # observed in aws/aws-cli#3229, covidatlas/li#575, aarondfrancis/sidecar#147), "; "-joined when more.
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
        raise ApiError(VALIDATION, f"{count}: {'; '.join(errors)}")


# ---- the model pass


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    _check_type(shape, value, path)
    if shape.kind == "structure":
        _check_structure(shape, value, f"{path}.", errors)
        return
    shown = _show(shape, value)
    for rule in _broken_rules(shape, value):
        errors.append(f"{shown} at '{path}' failed to satisfy constraint: {rule}")
    if shape.kind == "list" and shape.item is not None and shape.item.kind == "structure":
        for index, element in enumerate(value, start=1):
            _check(shape.item, element, f"{path}.{index}.member", errors)
        return
    # A list of scalars, a map's keys and its values report at the container, quoting every rule of its
    # members (observed: aws/aws-cli#8426 for Layers; "Map keys must satisfy constraint: [...]").
    parts: list[tuple[Shape | None, str, list[Any]]] = []
    if shape.kind == "list":
        parts.append((shape.item, "Member", list(value)))
    elif shape.kind == "map":
        parts += [(shape.key, "Map keys", list(value)), (shape.item, "Map value", list(value.values()))]
    for part, label, entries in parts:
        if part is None:
            continue
        for entry in entries:
            if entry is not None:
                _check_type(part, entry, path)
        if any(entry is None or _broken_rules(part, entry) for entry in entries):
            errors.append(
                f"{shown} at '{path}' failed to satisfy constraint: {label} must satisfy constraint: "
                f"{_all_rules(part, sensitive=shape.sensitive)}"
            )


def _check_structure(shape: Shape, value: Mapping[str, Any], prefix: str, errors: list[str]) -> None:
    for name, member in shape.members.items():
        path = prefix + name[:1].lower() + name[1:]  # AWS names members lowerCamelCase: 'kMSKeyArn'
        if value.get(name) is None:
            if name in shape.required and name not in shape.in_uri:
                errors.append(f"Value null at '{path}' failed to satisfy constraint: Member must not be null")
            continue
        _check(member, value[name], path, errors)


def _broken_rules(shape: Shape, value: Any) -> list[str]:
    rules: list[str] = []
    if shape.enum and value not in shape.enum:
        rules.append(_enum_rule(shape))
    if shape.pattern is not None and isinstance(value, str) and not _fullmatch(shape.pattern, value):
        rules.append(f"Member must satisfy regular expression pattern: {shape.pattern}")
    if shape.min is None and shape.max is None:
        return rules
    measure = "value" if shape.kind in ("integer", "double") else "length"
    size = value if measure == "value" else len(value)
    if shape.max is not None and size > shape.max:
        rules.append(f"Member must have {measure} less than or equal to {_number(shape, shape.max)}")
    if shape.min is not None and size < shape.min:
        rules.append(f"Member must have {measure} greater than or equal to {_number(shape, shape.min)}")
    return rules


def _all_rules(shape: Shape, *, sensitive: bool) -> str:
    """Every rule of a list's or map's members, in AWS's order: max, min, pattern, enum, then not-null
    (omitted for the sensitive Environment.Variables map, as Lambda's message omits it)."""
    measure = "value" if shape.kind in ("integer", "double") else "length"
    rules = []
    if shape.max is not None:
        rules.append(f"Member must have {measure} less than or equal to {_number(shape, shape.max)}")
    if shape.min is not None:
        rules.append(f"Member must have {measure} greater than or equal to {_number(shape, shape.min)}")
    if shape.pattern is not None:
        rules.append(f"Member must satisfy regular expression pattern: {shape.pattern}")
    if shape.enum:
        rules.append(_enum_rule(shape))
    if not sensitive:
        rules.append("Member must not be null")
    return f"[{', '.join(rules)}]"


def _enum_rule(shape: Shape) -> str:
    return f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"


def _number(shape: Shape, bound: float) -> str:
    return str(float(bound)) if shape.kind == "double" else str(int(bound))


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _fullmatch(pattern: str, value: str) -> bool:
    # The model's patterns are Java regular expressions matched against the whole value; \d is ASCII there.
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(python_regex(pattern), re.ASCII)
    return compiled.fullmatch(value) is not None


_JAVA_CATEGORY = re.compile(r"\\p\{([A-Z])\}")


def python_regex(pattern: str) -> str:
    """A pattern of the model (Java's syntax) in `re`'s: Java's Unicode categories (`\\p{L}`, letters, in the
    tag patterns) have no `re` spelling, so they are written out as ranges; the model uses them only inside
    character classes, where ranges belong."""
    return _JAVA_CATEGORY.sub(lambda match: _category_ranges()[match[1]], pattern)


@functools.lru_cache(maxsize=1)
def _category_ranges() -> dict[str, str]:
    """Each Unicode major category (L, N, Z, ...) as `re` class ranges, computed once, in one pass."""
    ranges: dict[str, list[list[int]]] = {}
    category = unicodedata.category
    for code in range(sys.maxunicode + 1):
        spans = ranges.setdefault(category(chr(code))[0], [])
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return {
        major: "".join(f"\\U{low:08x}" + (f"-\\U{high:08x}" if high > low else "") for low, high in spans)
        for major, spans in ranges.items()
    }


_PYTHON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "timestamp": (str, int, float),  # ISO 8601 text or epoch seconds, as the SDKs send it
    "integer": (int,),
    "double": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "map": (dict,),
    "structure": (dict,),
}


def _check_type(shape: Shape, value: Any, path: str) -> None:
    """A value of the wrong JSON type cannot be read at all, so it ends validation at once. [U] Lambda's
    exact words for this are unverified; the exception is the one it uses for an unreadable request."""
    wrong_bool = isinstance(value, bool) and shape.kind in ("integer", "double")
    if wrong_bool or not isinstance(value, _PYTHON_TYPES[shape.kind]):
        raise ApiError(
            "InvalidRequestContentException",
            f"Could not read the value of '{path}': expected a JSON {_JSON_NAMES[shape.kind]}, "
            f"got {type(value).__name__} {value!r}.",
        )


_JSON_NAMES = {
    "string": "string",
    "blob": "base64 string",
    "timestamp": "timestamp",
    "integer": "whole number",
    "double": "number",
    "boolean": "boolean",
    "list": "array",
    "map": "object",
    "structure": "object",
}


def _show(shape: Shape, value: Any) -> str:
    """'Value '<v>'' as AWS quotes it (Java's rendering of lists and maps); sensitive values are left out."""
    if shape.sensitive:
        return "Value"
    return f"Value '{_render(value)}'"


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"[{', '.join(_render(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    return str(value)


# ---- the service's own rules, checked once the request is well formed


def _check_service_rules(operation: str, body: Mapping[str, Any], package_type: str | None) -> None:
    if operation == "CreateFunction":
        package_type = body.get("PackageType") or "Zip"
    if operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        _check_package_type(operation, body, package_type)
        _check_configuration(body)
    elif operation == "UpdateFunctionCode":
        _check_code_update(body, package_type)
    elif operation in ("CreateAlias", "UpdateAlias"):
        _check_routing(body)


def _check_package_type(operation: str, body: Mapping[str, Any], package_type: str | None) -> None:
    if package_type == "Image" and any(body.get(name) for name in ("Handler", "Runtime", "Layers")):
        # Observed: aws/aws-cdk#13037, pulumi/pulumi-aws#5439.
        raise ConfigError(
            "Please don't provide Handler or Runtime or Layer when the intended function PackageType "
            "is Image."
        )
    if package_type == "Zip" and body.get("ImageConfig"):
        # [U] worded after the message above: Lambda's own words for this case are unverified.
        raise ConfigError("Please don't provide ImageConfig when the intended function PackageType is Zip.")
    if (
        operation == "CreateFunction"
        and package_type == "Zip"
        and not (body.get("Runtime") and body.get("Handler"))
    ):
        # Observed: pipe-cd/pipecd#1400.
        raise ConfigError(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )


def _check_configuration(body: Mapping[str, Any]) -> None:
    runtime = body.get("Runtime")
    if runtime is not None:
        _check_runtime(runtime)
    memory = body.get("MemorySize")
    if memory is not None and not MEMORY_RANGE[0] <= memory <= MEMORY_RANGE[1]:
        # Lambda checks MemorySize's range itself: a ValidationException in this shorter form, as observed
        # at its ceiling (an account's 3,008 MB: ubc-cirrus-lab/parrotfish#38, remotion#2737,
        # alexcasalboni/aws-lambda-power-tuning#181) and as this project's function-management issue gives
        # it at the floor ("'MemorySize' value failed to satisfy constraint: Member must have value greater
        # than or equal to 128").
        bound = (
            f"greater than or equal to {MEMORY_RANGE[0]}"
            if memory < MEMORY_RANGE[0]
            else f"less than or equal to {MEMORY_RANGE[1]}"
        )
        raise ApiError(
            VALIDATION, f"'MemorySize' value failed to satisfy constraint: Member must have value {bound}"
        )
    timeout = body.get("Timeout")
    if timeout is not None and timeout > TIMEOUT_RANGE[1]:
        # 900 s ("Lambda quotas"); today's model allows up to 5,400 (the model pass answers above that), and
        # Lambda words 900 as when it was the model's maximum (observed: covidatlas/li#575,
        # hashicorp/terraform#12601).
        raise ApiError(
            VALIDATION,
            f"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: "
            f"Member must have value less than or equal to {TIMEOUT_RANGE[1]}",
        )
    layers = body.get("Layers")
    if layers:
        _check_layers(layers)
    variables = (body.get("Environment") or {}).get("Variables")
    if variables:
        _check_environment(variables)


def _check_runtime(runtime: str) -> None:
    if runtime in RETIRED_RUNTIMES:
        family = re.match(r"[a-z]*", runtime).group().removesuffix("core")  # type: ignore[union-attr]
        newest = [name for name in RUNTIMES if name.startswith(family) and name not in RETIRED_RUNTIMES][-1:]
        advice = f" We recommend you use the new runtime ({newest[0]}) while creating or updating functions."
        # Observed: Sam-Martin/aws-config-cfn-template-example#1.
        raise ConfigError(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            f"functions.{advice if newest else ''}"
        )
    if runtime not in RUNTIMES:
        # Lambda answers an unknown runtime itself, unquoted and with "or be a valid ARN", as an
        # InvalidParameterValueException (observed: aws/aws-cli#3789, awslabs/amazon-redshift-monitoring#25).
        accepted = ", ".join(name for name in RUNTIMES if name not in RETIRED_RUNTIMES)
        raise ConfigError(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{accepted}] or be a valid ARN"
        )


def _check_layers(layers: Sequence[str]) -> None:
    if len(layers) > LAYERS_LIMIT:
        raise ConfigError(f"Cannot reference more than {LAYERS_LIMIT} layers.")
    seen: dict[str, str] = {}
    for arn in layers:
        layer = arn.rsplit(":", 1)[0]
        if layer in seen:
            raise ConfigError(
                "Two different versions of the same layer are not allowed to be referenced in the same "
                f"function. {seen[layer]} and {arn} are versions of the same layer."
            )
        seen[layer] = arn


def _check_environment(variables: Mapping[str, str]) -> None:
    # Lambda measures the variables as one compact JSON object and quotes it (observed in
    # github-aws-runners/terraform-aws-github-runner#3594: "String measured: {"POWERTOOLS_...":"true",...}").
    measured = json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENV_TOTAL_LIMIT:
        raise ConfigError(
            "Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided exceeded the 4KB limit. String measured: {measured}"
        )
    validate_environment(variables)  # reserved keys, in Lambda's words


def _check_code_update(body: Mapping[str, Any], package_type: str | None) -> None:
    # Observed: umihico/pythonista-chromeless#19 (Zip); the Image case as Lambda words it for the same check.
    if package_type == "Zip" and body.get("ImageUri"):
        raise ConfigError("Please don't provide ImageUri when updating a function with packageType Zip.")
    if package_type == "Image" and (body.get("ZipFile") or body.get("S3Bucket")):
        raise ConfigError("Please provide ImageUri when updating a function with packageType Image.")


def _check_routing(body: Mapping[str, Any]) -> None:
    weights = (body.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    if len(weights) > 1:
        raise ConfigError("Number of items in AdditionalVersionWeights cannot be greater than 1")
    version = body.get("FunctionVersion")
    if weights and version == "$LATEST":
        raise ConfigError("$LATEST is not supported for an alias pointing to more than 1 version")
    if version is not None and version in weights:
        raise ConfigError(
            f"Invalid function version {version}. Function version {version} is already included in routing "
            "configuration."
        )
