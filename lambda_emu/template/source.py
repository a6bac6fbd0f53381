"""Reading a template file (YAML with CloudFormation's short-form tags, or JSON) into plain data."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from lambda_emu.errors import TemplateError

LOG = logging.getLogger(__name__)

TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")

# Short-form tag → long-form key. `!GetAtt A.B` is special-cased below.
_LONG_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
            "Base64", "Cidr", "ImportValue", "GetAZs", "Transform", "Length", "ToJsonString",
        )
    },
}  # fmt: skip


# libyaml's parser where PyYAML was built with it: the pure-Python one took ~40 ms of a cold invoke to read
# the sample template (the constructors and resolvers below are Python either way).
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that reads CloudFormation's short-form tags and keeps YAML 1.1's surprises as strings."""


# YAML 1.1 reads `on`/`yes`/`off` as booleans, `12:30` as 750, `0123` as octal, `2012-10-17` as a date
# and `1.10` as 1.1. CloudFormation properties are strings or integers, so only null and true/false are
# typed here; everything else stays the text written (integer properties convert it where they are read).
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.endswith((":null", ":merge"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_TemplateLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = _LONG_FORMS.get(suffix)
    if key is None:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag !{suffix} (not a CloudFormation intrinsic function)", node.start_mark
        )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            # `!GetAtt Resource.Attribute` means [Resource, Attribute]; an attribute may hold dots.
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


_TemplateLoader.add_multi_constructor("!", _construct_short_form)


def find_template(directory: Path) -> Path | None:
    """The template SAM CLI would pick in `directory`: template.yaml, then .yml, then .json."""
    for name in TEMPLATE_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def read_template(path: Path) -> dict[str, Any]:
    """The template as long-form data; TemplateError naming the line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"Cannot read template {path}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError as exc:
        raise TemplateError(f"Cannot read template {path}: it is not UTF-8 text.") from exc
    data: Any
    if path.suffix.lower() == ".json":
        try:
            # Floats stay as written ("1.10"), as in YAML templates.
            data = json.loads(text, parse_float=str)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{path}: JSON syntax error at line {exc.lineno}: {exc.msg}.") from exc
    else:
        try:
            data = yaml.load(text, Loader=_TemplateLoader)  # a SafeLoader subclass: no arbitrary objects
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
            raise TemplateError(f"{path}: YAML syntax error at line {line}: {exc.problem}.") from exc
        except yaml.YAMLError as exc:
            raise TemplateError(f"{path}: YAML syntax error: {exc}.") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{path} is not a CloudFormation template: its top level must be a mapping.")
    return data


def read_yaml(path: Path) -> Any:
    """A plain YAML file (SAM CLI's samconfig.yaml) as data; TemplateError naming the line of an error."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise TemplateError(f"{path}: YAML syntax error at line {line}: {exc.problem}.") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: not YAML text: {exc}.") from exc
