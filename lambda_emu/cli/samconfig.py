"""SAM CLI's samconfig.toml (or samconfig.yaml) beside the template: its defaults for `invoke` (the
local_invoke section) and `serve` (local_start_lambda), under the flags given, as SAM CLI applies them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

LOG = logging.getLogger(__name__)

SAMCONFIG_NAMES = ("samconfig.toml", "samconfig.yaml", "samconfig.yml")
DEFAULT_ENV = "default"
# samconfig keys whose option is named otherwise here.
_RENAMED = {"template_file": "template", "env_vars": "env_vars_file", "event": "event_file"}
# Options that take a path: a relative one in samconfig is relative to the samconfig file's folder.
_PATHS = {"template", "env_vars_file", "event_file", "code"}
# The options that say where samconfig is; their values are read from the arguments before parsing.
_LOCATING = {
    "-t": "template",
    "--template": "template",
    "--template-file": "template",
    "--config-file": "config_file",
    "--config-env": "config_env",
}


class SamConfigCommand(click.Command):
    """A command that takes its defaults from samconfig's `[<env>.<section>.parameters]` (and the global
    section's), found beside the template (-t) or in the current folder, or named by --config-file."""

    def __init__(self, *args: Any, sam_section: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sam_section = sam_section
        self.params.append(
            click.Option(
                ["--config-file"],
                expose_value=False,
                metavar="FILE",
                help="SAM CLI's configuration file (default: samconfig.toml, .yaml or .yml beside the "
                "template, else here); flags given win over it.",
            )
        )
        self.params.append(
            click.Option(
                ["--config-env"],
                expose_value=False,
                default=DEFAULT_ENV,
                show_default=True,
                help="The environment of the configuration file to read.",
            )
        )

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        located = _locating_values(args)
        path = find_samconfig(
            Path(located["config_file"]) if "config_file" in located else None,
            Path(located["template"]) if "template" in located else None,
        )
        if path is not None:
            names = {param.name for param in self.params if param.name}
            defaults = samconfig_defaults(
                path, self.sam_section, located.get("config_env", DEFAULT_ENV), names, self._multiple()
            )
            if defaults:
                LOG.info("defaults from %s: %s", path, ", ".join(sorted(defaults)))
                ctx.default_map = {**(ctx.default_map or {}), **defaults}
        return super().parse_args(ctx, args)

    def _multiple(self) -> set[str]:
        return {p.name for p in self.params if isinstance(p, click.Option) and p.multiple and p.name}


def _locating_values(args: Sequence[str]) -> dict[str, str]:
    """-t/--template and --config-file/--config-env as given (`--opt VALUE` or `--opt=VALUE`)."""
    found: dict[str, str] = {}
    for index, arg in enumerate(args):
        if arg == "--":
            break
        flag, equals, value = arg.partition("=")
        if flag in _LOCATING and equals:
            found[_LOCATING[flag]] = value
        elif arg in _LOCATING and index + 1 < len(args):
            found[_LOCATING[arg]] = args[index + 1]
    return found


def find_samconfig(config_file: Path | None, template: Path | None) -> Path | None:
    """The file named, else the first samconfig in the template's folder (the current one without -t)."""
    if config_file is not None:
        if not config_file.is_file():
            raise click.UsageError(f"--config-file {config_file}: no such file.")
        return config_file
    folder = template.parent if template is not None else Path.cwd()
    return next((folder / name for name in SAMCONFIG_NAMES if (folder / name).is_file()), None)


def samconfig_defaults(
    path: Path, section: str, env: str, options: set[str], multiple: set[str]
) -> dict[str, Any]:
    """The option defaults samconfig gives a command: [<env>.global.parameters], then the command's own
    section over them, keys renamed to the options' names, paths relative to the file, lists for repeatable
    options. Keys no option of this command takes are reported and left out."""
    data = _read(path)
    environment = _section_of(data, env)
    own = _section_of(_section_of(environment, section), "parameters")
    merged = {**_section_of(_section_of(environment, "global"), "parameters"), **own}
    defaults: dict[str, Any] = {}
    for key, value in merged.items():
        name = _RENAMED.get(key, key)
        if name not in options:
            if key in own:  # the global section holds other commands' keys too
                LOG.warning("%s: %s key %s is not used by lambda-emu.", path, section, key)
            continue
        if name in _PATHS and isinstance(value, str):
            value = str(path.parent / value)
        if name in multiple and not isinstance(value, list):
            value = [value]
        defaults[name] = value
    return defaults


def _read(path: Path) -> Any:
    if path.suffix in (".yaml", ".yml"):
        from lambda_emu.errors import TemplateError
        from lambda_emu.template.source import read_yaml

        try:
            return read_yaml(path)
        except TemplateError as exc:  # read while the arguments are parsed: click reports it (exit 2)
            raise click.UsageError(exc.message) from exc
    if sys.version_info < (3, 11):
        # tomllib is the standard library's from Python 3.11 on; lambda-emu adds no TOML package for 3.10.
        LOG.warning("%s is not read on Python 3.10 (no tomllib): give its settings as flags.", path)
        return None
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"Cannot read {path}: {exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise click.UsageError(f"{path} is not valid TOML: {exc}.") from exc


def _section_of(mapping: Any, key: str) -> Mapping[str, Any]:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, dict) else {}
