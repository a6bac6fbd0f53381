"""Template parameters: each one's value from its override or Default, checked against its Type."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lambda_emu.template.intrinsics import IntrinsicError, Unknown, Unset, text_of

LOG = logging.getLogger(__name__)


def parameter_values(declared: Any, overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value for Ref: its override, else its Default; a list for list types. A wrong
    override is an error at once (it was typed for this run); a parameter without a usable Default is Unset,
    an error only for the resources that refer to it."""
    declared = declared or {}
    if not isinstance(declared, dict):
        raise IntrinsicError("Parameters must be a mapping of parameter names to definitions")
    for name in overrides:
        if name not in declared:
            LOG.warning("Ignoring parameter override %s: the template declares no such parameter.", name)
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        try:
            values[name] = _value(name, spec, overrides)
        except IntrinsicError as exc:
            if name in overrides:
                raise
            values[name] = Unset(exc)
    return values


def _value(name: str, spec: Any, overrides: Mapping[str, str]) -> Any:
    if not isinstance(spec, dict):
        raise IntrinsicError(f"parameter {name} must be a mapping with a Type")
    kind = str(spec.get("Type", "String"))
    if name in overrides:
        raw = overrides[name]
    elif "Default" not in spec:
        raise IntrinsicError(
            f"parameter {name} has no Default and no value was given",
            hint=f"Give it a value: --parameter-overrides {name}=VALUE (or a Default in the template)",
        )
    elif kind.startswith("AWS::SSM::Parameter::Value"):
        # Its Default is the name of an SSM parameter, read at deploy time; an override is taken
        # as the value itself, the one way to run such a template locally.
        return Unknown(f"parameter {name} (read from SSM parameter {spec['Default']})")
    else:
        default = spec["Default"]
        items = default if isinstance(default, list) else [default]
        raw = ",".join(text_of(item, f"the Default of parameter {name}") for item in items)
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and raw not in [text_of(a, "AllowedValues") for a in allowed]:
        raise IntrinsicError(f"parameter {name} must be one of {allowed}; got {raw!r}")
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    value: Any = [item.strip() for item in raw.split(",")] if is_list else raw
    if "Number" in kind:
        for number in value if is_list else [value]:
            try:
                float(number)
            except ValueError:
                raise IntrinsicError(f"parameter {name} is a {kind}; got {raw!r}") from None
    return value
