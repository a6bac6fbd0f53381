"""What the fixtures hand to tests: the lambda_invoke callable (with the test's marker overrides) and the
lambda_events factories."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from lambda_emu.pytest_plugin.results import LambdaResult
from lambda_emu.pytest_plugin.session import CONFIG_OVERRIDES, LambdaSession

LOG = logging.getLogger(__name__)

MARKER = "lambda_emu"


class LambdaInvoker:
    """What the lambda_invoke fixture returns: call it with a function name and an event."""

    def __init__(
        self, session: LambdaSession, *, defaults: Mapping[str, Any], record: Callable[[LambdaResult], None]
    ) -> None:
        self._session = session
        self._defaults = defaults
        self._record = record

    def __repr__(self) -> str:  # shown in failing tests' tracebacks
        return f"<lambda_invoke defaults={dict(self._defaults)}>"

    def __call__(
        self,
        name: str,
        event: Any = None,
        *,
        client_context: Mapping[str, Any] | str | None = None,
        cold: bool = False,
        **overrides: Any,
    ) -> LambdaResult:
        """Invoke `name` (logical ID or FunctionName) with `event` (a dict, JSON bytes or a Path), as a
        RequestResponse call. Options: env={...}, memory_size, timeout, ephemeral_storage (over the test's
        lambda_emu marker), client_context, cold=True to force a new environment (and Init phase)."""
        unknown = sorted(set(overrides) - set(CONFIG_OVERRIDES))
        if unknown:
            raise TypeError(f"lambda_invoke got unexpected options {unknown}; it takes {CONFIG_OVERRIDES}")
        options = merge_overrides(self._defaults, overrides)
        result = self._session.invoke(name, event, client_context=client_context, cold=cold, **options)
        self._record(result)
        return result


def merge_overrides(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; env mappings are merged key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "env" and value is not None:
                merged["env"] = {**merged.get("env", {}), **value}
            elif value is not None:
                merged[key] = value
    return merged


def marker_overrides(item: pytest.Item) -> dict[str, Any]:
    """The lambda_emu markers of a test, its class and module: the closest wins."""
    layers = []
    for mark in item.iter_markers(MARKER):  # closest first
        if mark.args or set(mark.kwargs) - set(CONFIG_OVERRIDES):
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{MARKER} takes keywords {', '.join(CONFIG_OVERRIDES)}; "
                f"got {mark.args or ''}{sorted(mark.kwargs)}"
            )
        layers.append(mark.kwargs)
    return merge_overrides(*reversed(layers))


class EventFactories:
    """What the lambda_events fixture returns: lambda_emu.events' sample-event factories, imported at first
    use (lambda_events.s3_put(bucket="b", key="k"), lambda_events.generate("s3", "put", ...))."""

    def __repr__(self) -> str:
        return "<lambda_events: lambda_emu.events factories>"

    def _module(self) -> Any:
        import importlib

        return importlib.import_module("lambda_emu.events")

    def generate(self, service: str, event: str, **fields: Any) -> dict[str, Any]:
        return self._module().generate(service, event, **fields)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        factory = getattr(self._module(), name, None)
        if not callable(factory):
            raise AttributeError(f"lambda_emu.events has no event factory {name!r}")
        return factory  # type: ignore[no-any-return]
