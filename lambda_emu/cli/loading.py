"""Which functions a command runs: the template's, or one made from flags alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lambda_emu.errors import ConfigError


def template_path(template: Path | None) -> Path:
    from lambda_emu.template import find_template

    if template is None:
        template = find_template(Path.cwd())
        if template is None:
            raise ConfigError(
                "No template (template.yaml, template.yml or template.json) here and no --handler given.",
                hint="Pass -t TEMPLATE, or --runtime, --handler and --code to invoke without a template.",
            )
    return template


def resolve_function(
    name: str | None,
    *,
    template: Path | None,
    state_dir: Path,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
    cpu_limit: bool = True,
) -> Any:
    """The FunctionConfig to run: from the template, or from flags alone (--handler given, no -t)."""
    from lambda_emu.config import EmulatorConfig, FunctionConfig, host_environ
    from lambda_emu.template.overrides import load_env_vars_file, with_env_vars

    if template is not None or overrides.get("handler") is None:
        from lambda_emu.template import load_functions

        emulator, loaded = load_functions(
            template_path(template),
            state_dir=state_dir,
            parameter_overrides=parameter_overrides,
            env_vars_file=env_vars_file,
            cpu_limit=cpu_limit,
        )
        if name is None:
            defined = [*loaded.functions, *loaded.broken]
            if len(defined) != 1:
                names = ", ".join(defined) or "none"
                raise ConfigError(f"Name the function to invoke; the template defines: {names}.")
            name = defined[0]
        function = loaded.function(name)
    else:
        emulator = EmulatorConfig.from_environ(host_environ(), state_dir=state_dir, cpu_limit=cpu_limit)
        function = FunctionConfig(
            name=name or "function",
            runtime=overrides.get("runtime") or "python3.11",
            handler=overrides["handler"],
            code_path=Path(overrides.get("code") or "."),
        )
        if env_vars_file:
            function = with_env_vars(function, load_env_vars_file(env_vars_file))
    changes = {k: v for k, v in overrides.items() if v is not None and k in ("runtime", "handler")}
    if overrides.get("code") is not None:
        changes["code_path"] = Path(overrides["code"])
    for key in ("memory_size", "timeout", "ephemeral_storage"):
        if overrides.get(key) is not None:
            changes[key] = overrides[key]
    if env:
        changes["environment"] = {**function.environment, **env}
    return emulator, replace(function, **changes).validate()
