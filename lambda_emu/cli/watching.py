"""Hot reload from the terminal: what `serve` and `invoke --watch` watch, how a template is read again (with
the same parameter overrides and env-vars file), and how a reload is shown."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_emu.cli.group import progress

if TYPE_CHECKING:
    from lambda_emu.config import FunctionConfig
    from lambda_emu.reload.watcher import Reload, WatchConfig
    from lambda_emu.template import Template

LOG = logging.getLogger(__name__)


def show_reload(reload: Reload) -> None:
    progress(str(reload))


def template_watch(
    template: Path | None,
    *,
    state_dir: Path,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    on_reload: Callable[[Reload], None] = show_reload,
    load: Callable[[], Iterable[FunctionConfig]] | None = None,
    on_loaded: Callable[[Template], None] | None = None,
    nested_templates: Iterable[Path] = (),
    only: Sequence[str] = (),  # the functions chosen (serve's FUNCTION arguments): none, all of them
) -> WatchConfig:
    """Watch the functions, the template and the env-vars file; a template change reads the template again
    as the command first read it (`load`, else all its functions, the Template read given to `on_loaded`)."""
    from lambda_emu.reload.watcher import WatchConfig
    from lambda_emu.template import load_functions

    def load_all() -> Iterable[FunctionConfig]:
        assert template is not None
        _, loaded = load_functions(
            template,
            state_dir=state_dir,
            parameter_overrides=parameter_overrides,
            env_vars_file=env_vars_file,
        )
        if only:
            loaded = loaded.only(only)
        if on_loaded is not None:
            on_loaded(loaded)
        return list(loaded.functions.values())

    return WatchConfig(
        template=template,
        load=load or (load_all if template is not None else None),
        # A nested application's template changed is the template changed (read at start: one added
        # later is watched from the next start).
        extra_files=(*((env_vars_file,) if env_vars_file else ()), *nested_templates),
        on_reload=on_reload,
    )
