"""The emulator a test session shares: settings from the command line and ini file, the template's
functions with a test's overrides, started at first use and closed (every container removed) at the end."""

from __future__ import annotations

import base64
import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lambda_emu.pytest_plugin.results import LambdaResult

if TYPE_CHECKING:
    from lambda_emu.config import FunctionConfig
    from lambda_emu.facade import Emulator
    from lambda_emu.template import Template

LOG = logging.getLogger(__name__)

# Configuration a test may change for its invocations (marker or call keywords); the rest is the template's.
CONFIG_OVERRIDES = ("env", "memory_size", "timeout", "ephemeral_storage")


@dataclass(frozen=True)
class PluginSettings:
    """Where the template is and how the emulator runs, from the command line and the ini file."""

    template: Path
    state_dir: Path
    parameter_overrides: str = ""
    env_vars: Path | None = None
    cpu_limit: bool = True

    @classmethod
    def from_config(cls, config: pytest.Config) -> PluginSettings:
        from lambda_emu.errors import ConfigError
        from lambda_emu.template import find_template

        base = config.inipath.parent if config.inipath else config.rootpath

        def ini_path(name: str) -> Path | None:
            value = str(config.getini(name)).strip()
            return (base / value).resolve() if value else None

        option = config.getoption("lambda_emu_template")
        template = (
            (config.invocation_params.dir / option).resolve()
            if option
            else ini_path("lambda_emu_template") or find_template(config.rootpath)
        )
        if template is None:
            raise ConfigError(
                f"No template (template.yaml, template.yml or template.json) in {config.rootpath}.",
                hint="Set lambda_emu_template in your pytest ini file, or pass --lambda-emu-template FILE.",
            )
        return cls(
            template=template,
            state_dir=ini_path("lambda_emu_state_dir") or template.parent / ".lambda-emu",
            parameter_overrides=str(config.getini("lambda_emu_parameter_overrides")),
            env_vars=ini_path("lambda_emu_env_vars"),
            cpu_limit=bool(config.getini("lambda_emu_cpu_limit"))
            and not config.getoption("lambda_emu_no_cpu_limit"),
        )


# ---- the session's emulator -----------------------------------------------------------------------------
class LambdaSession:
    """The emulator shared by a test session: started at first use (so test runs that never invoke pay
    nothing), its environments kept warm across tests, every container removed by close()."""

    def __init__(self, settings: Callable[[], PluginSettings]) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._emulator: Emulator | None = None
        self._template: Template | None = None
        self._failure: str | None = None
        self._previous_sigterm: Any = None

    def _start(self) -> tuple[Emulator, Template]:
        from lambda_emu.errors import LambdaEmuError

        with self._lock:
            if self._failure is None and (self._emulator is None or self._template is None):
                try:
                    self._template, self._emulator = self._open()
                    self._on_sigterm_unwind()
                except LambdaEmuError as exc:
                    # Kept: every later test fails with the same reason, without retrying the engine.
                    hint = f"\nhint: {exc.hint}" if exc.hint else ""
                    self._failure = f"lambda-emu cannot start: {exc.message}{hint}"
            if self._failure is not None:
                pytest.fail(self._failure, pytrace=False)
            assert self._emulator is not None and self._template is not None
            return self._emulator, self._template

    def _open(self) -> tuple[Template, Emulator]:
        from lambda_emu.containers.choice import make_backend  # LAMBDA_EMU_BACKEND: auto, docker, embedded
        from lambda_emu.engine.logstore import LogStore
        from lambda_emu.facade import Emulator
        from lambda_emu.images.runtimes import local_image_builder
        from lambda_emu.template import load_functions

        settings = self._settings()
        config, template = load_functions(
            settings.template,
            state_dir=settings.state_dir,
            parameter_overrides=settings.parameter_overrides,
            env_vars_file=settings.env_vars,
            cpu_limit=settings.cpu_limit,
        )
        # A runtime image is built once, on the first invocation needing it; its progress goes to the log.
        images = local_image_builder(progress=lambda message: LOG.info("%s", message))
        # Tests' invocations are kept in the log store too, so `lambda-emu logs NAME` shows them.
        store = LogStore.of_state_dir(config.state_dir)
        return template, Emulator(config, backend=make_backend(None), images=images, sink_for=store.sink)

    def _on_sigterm_unwind(self) -> None:
        # SIGTERM (a CI job cancelled) would kill pytest without teardown: unwind like Ctrl-C instead, so
        # close() removes the containers; only when nobody else handles SIGTERM.
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    @property
    def emulator(self) -> Emulator:
        return self._start()[0]

    @property
    def template(self) -> Template:
        return self._start()[1]

    def function(self, name: str, **overrides: Any) -> FunctionConfig:
        """The template's function (logical ID or FunctionName) with `overrides` (CONFIG_OVERRIDES)."""
        return with_overrides(self.template.function(name), **overrides)

    def invoke(
        self,
        name: str,
        event: Any = None,
        *,
        client_context: Mapping[str, Any] | str | None = None,
        cold: bool = False,
        **overrides: Any,
    ) -> LambdaResult:
        emulator = self.emulator
        function = self.function(name, **overrides)
        if cold:
            emulator.retire(function.name)
        invocation = emulator.invocation(
            function, encode_event(event), client_context_b64=encode_client_context(client_context)
        )
        return LambdaResult.of(function.name, emulator.invoke(function, invocation))

    def close(self) -> None:
        with self._lock:
            emulator, self._emulator = self._emulator, None
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
                self._previous_sigterm = None
        if emulator is not None:
            emulator.close()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def with_overrides(
    function: FunctionConfig,
    *,
    env: Mapping[str, str | None] | None = None,
    memory_size: int | None = None,
    timeout: int | None = None,
    ephemeral_storage: int | None = None,
) -> FunctionConfig:
    """The function with a test's changes; `env` adds or replaces variables, a None value removes one. A
    changed configuration gets environments of its own (the pool keys on the whole configuration), as a
    Lambda configuration update replaces the environments."""
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("memory_size", memory_size),
            ("timeout", timeout),
            ("ephemeral_storage", ephemeral_storage),
        )
        if value is not None
    }
    if env:
        variables = {**function.environment, **env}
        changes["environment"] = {key: value for key, value in variables.items() if value is not None}
    return replace(function, **changes).validate() if changes else function


def encode_event(event: Any) -> bytes:
    """The event as the Invoke payload: bytes as given, a Path's content, anything else as JSON."""
    if event is None:
        return b"{}"
    if isinstance(event, (bytes, bytearray)):
        return bytes(event)
    if isinstance(event, Path):
        return event.read_bytes()
    return json.dumps(event).encode()


def encode_client_context(context: Mapping[str, Any] | str | None) -> str | None:
    """Invoke takes the client context as base64 of a JSON object (ClientContext); a mapping is encoded,
    a string is taken as already encoded."""
    if context is None or isinstance(context, str):
        return context
    return base64.b64encode(json.dumps(dict(context)).encode()).decode()
