"""Reading a template file (YAML with CloudFormation's short-form tags, or JSON) into plain data."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from lambda_emu.errors import TemplateError
from lambda_emu.statedir import open_private, private_dir

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


@functools.lru_cache(maxsize=1)
def _template_loader() -> type[Any]:
    """The YAML loader of templates, made on first use: importing PyYAML costs ~10 ms, which a template
    read from the cache (read_template) never pays."""
    import yaml

    # libyaml's parser where PyYAML was built with it: the pure-Python one took ~40 ms of a cold invoke to
    # read the sample template (the constructors and resolvers below are Python either way).
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class TemplateLoader(base):  # type: ignore[valid-type,misc]
        """SafeLoader that reads CloudFormation's short-form tags and keeps YAML 1.1's surprises as
        strings."""

    # YAML 1.1 reads `on`/`yes`/`off` as booleans, `12:30` as 750, `0123` as octal, `2012-10-17` as a date
    # and `1.10` as 1.1. CloudFormation properties are strings or integers, so only null and true/false are
    # typed here; everything else stays the text written (integer properties convert it where they are read).
    TemplateLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag.endswith((":null", ":merge"))]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    TemplateLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    TemplateLoader.add_multi_constructor("!", _construct_short_form)
    return TemplateLoader


def _construct_short_form(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
    import yaml

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
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


def find_template(directory: Path) -> Path | None:
    """The template SAM CLI would pick in `directory`: template.yaml, then .yml, then .json."""
    for name in TEMPLATE_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def read_template(path: Path, *, cache_dir: Path | None = None) -> dict[str, Any]:
    """The template as long-form data; TemplateError naming the line of a syntax error. With `cache_dir`,
    a YAML template's data is kept there by the hash of its bytes, and read back as JSON while the file is
    unchanged (a cold invoke then neither imports PyYAML nor parses)."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
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
        cached = _cache_file(cache_dir, raw) if cache_dir is not None else None
        data = _read_cached(cached) if cached is not None else None
        if data is None:
            data = _parse_yaml(path, text)
            if cached is not None:
                _write_cached(cached, data)
    if not isinstance(data, dict):
        raise TemplateError(f"{path} is not a CloudFormation template: its top level must be a mapping.")
    return data


def _parse_yaml(path: Path, text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_template_loader())  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise TemplateError(f"{path}: YAML syntax error at line {line}: {exc.problem}.") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: YAML syntax error: {exc}.") from exc


# Part of the cache key: a change to how templates are read (tags, resolvers) must not meet old entries.
_READER_VERSION = "1"


def _cache_file(cache_dir: Path, raw: bytes) -> Path:
    digest = hashlib.sha256(_READER_VERSION.encode() + b"\0" + raw).hexdigest()
    return cache_dir / f"{digest}.json"


def _read_cached(cached: Path) -> Any:
    try:
        return json.loads(cached.read_bytes())
    except (OSError, ValueError):  # none yet, or a torn file: parse again
        return None


def _write_cached(cached: Path, data: Any) -> None:
    """Kept only when JSON gives back the very same data (YAML can key a mapping by true or null, which
    JSON would turn into strings); written whole or not at all, as the state directory's files are."""
    try:
        text = json.dumps(data)
        if json.loads(text) != data:
            return
        private_dir(cached.parent)
        staging = cached.with_name(f".{cached.name}.{os.getpid()}")
        fd = open_private(staging, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(staging, cached)
        _prune(cached.parent)
    except (OSError, TypeError, ValueError) as exc:  # a read-only state directory: no cache, no harm
        LOG.debug("template cache %s: %s", cached, exc)


_CACHE_ENTRIES = 64  # each save of an edited template (invoke --watch) leaves one


def _prune(cache_dir: Path) -> None:
    entries = sorted(cache_dir.glob("*.json"), key=lambda entry: entry.stat().st_mtime)
    for entry in entries[:-_CACHE_ENTRIES]:
        entry.unlink(missing_ok=True)


def read_yaml(path: Path) -> Any:
    """A plain YAML file (SAM CLI's samconfig.yaml) as data; TemplateError naming the line of an error."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise TemplateError(f"{path}: YAML syntax error at line {line}: {exc.problem}.") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: not YAML text: {exc}.") from exc
