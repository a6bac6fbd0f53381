"""SAM CLI's inputs beside a template: --parameter-overrides text and the --env-vars JSON file."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lambda_emu.config import FunctionConfig
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

# A token runs to the next unquoted blank; quotes group blanks into a value and are removed.
_TOKEN = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""")
_QUOTED = re.compile(r""""([^"]*)"|'([^']*)'""")
_LONG_KEY = "ParameterKey="
_LONG_VALUE = ",ParameterValue="


def parse_parameter_overrides(text: str | Sequence[str]) -> dict[str, str]:
    """`K=V K2="a b"` or `ParameterKey=K,ParameterValue=V ...` (SAM's two forms, mixed freely) as {K: V};
    several texts (--parameter-overrides repeated, or samconfig's list) are read in order, all kept."""
    if not isinstance(text, str):
        merged: dict[str, str] = {}
        for part in text:
            merged.update(parse_parameter_overrides(part))
        return merged
    if _TOKEN.sub("", text).strip():
        raise ConfigError(f"Parameter overrides {text!r} have an unbalanced quote.")
    overrides: dict[str, str] = {}
    for match in _TOKEN.finditer(text):
        token = _QUOTED.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), match.group())
        if token.startswith(_LONG_KEY):
            key, found, value = token[len(_LONG_KEY) :].partition(_LONG_VALUE)
            if not found:
                raise ConfigError(f"Parameter override {token!r} lacks {_LONG_VALUE[1:]}.")
        else:
            key, found, value = token.partition("=")
            if not found:
                raise ConfigError(
                    f"Parameter override {token!r} is not Key=Value.",
                    hint="Write Key=Value pairs separated by spaces, or ParameterKey=K,ParameterValue=V",
                )
        if not key:
            raise ConfigError(f"Parameter override {token!r} has no parameter name.")
        overrides[key] = value
    return overrides


def load_env_vars_file(path: Path) -> dict[str, dict[str, str]]:
    """SAM's --env-vars JSON: {"Parameters": {...all functions...}, "<LogicalId or FunctionName>": {...}}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the environment variables file {path}: {exc.strerror or exc}."
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Environment variables file {path} is not UTF-8 text.") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: JSON syntax error at line {exc.lineno}: {exc.msg}.") from exc
    hint = 'Write {"Parameters": {"NAME": "value"}, "FunctionLogicalId": {"NAME": "value"}}'
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of sections.", hint=hint)
    sections: dict[str, dict[str, str]] = {}
    for section, variables in data.items():
        if not isinstance(variables, dict):
            raise ConfigError(f"{path}: section {section!r} must be an object of variables.", hint=hint)
        sections[section] = {name: _text(path, section, name, value) for name, value in variables.items()}
    return sections


def _text(path: Path, section: str, name: str, value: Any) -> str:
    # As SAM CLI: numbers as written by str(), booleans as true/false; anything else is a mistake.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigError(
        f"{path}: variable {name} of section {section!r} must be a string; got {json.dumps(value)}."
    )


def with_env_vars(config: FunctionConfig, env_vars: Mapping[str, Mapping[str, str]]) -> FunctionConfig:
    """As SAM's --env-vars: the "Parameters" section applies to every function, a function's own section
    (by logical ID, then FunctionName) wins. Unlike SAM, variables the template lacks are added too."""
    environment = dict(config.environment)
    for section in ("Parameters", config.logical_id or "", config.name):
        environment.update(env_vars.get(section, {}))
    return replace(config, environment=environment)
