"""Loading functions from SAM / CloudFormation templates (YAML or JSON), resolving parameters, Globals,
conditions and intrinsic functions locally; and SAM's parameter-override and env-vars inputs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_emu.template.loader import Template, load_functions, load_template
    from lambda_emu.template.overrides import load_env_vars_file, parse_parameter_overrides
    from lambda_emu.template.source import find_template

# Imported on first use: commands that only look for the template file (logs, functions) do not pay for
# the loader and the intrinsic functions at start-up.
_HOMES = {
    "Template": "loader",
    "load_template": "loader",
    "load_functions": "loader",
    "load_env_vars_file": "overrides",
    "parse_parameter_overrides": "overrides",
    "find_template": "source",
}

__all__ = [
    "Template",
    "find_template",
    "load_env_vars_file",
    "load_functions",
    "load_template",
    "parse_parameter_overrides",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"lambda_emu.template.{home}"), name)
