"""The pytest plugin (entry point pytest11): one emulator per test session for the project's template, kept
warm across tests; the fixtures lambda_invoke, lambda_events and lambda_emulator; the logs of a failing
test's invocations in its report."""

from __future__ import annotations

import base64
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator.config import FunctionConfig
    from emulator.facade import Emulator
    from emulator.models import InvocationResult
    from emulator.template import Template

LOG = logging.getLogger(__name__)

MARKER = "lambda_emu"
# Configuration a test may change for its invocations (marker or call keywords); the rest is the template's.
CONFIG_OVERRIDES = ("env", "memory_size", "timeout", "ephemeral_storage")
# The Invoke API answers a RequestResponse call with 200, a function error included (X-Amz-Function-Error
# tells them apart): AWS docs, Lambda API reference, Invoke, Response syntax.
INVOKE_STATUS = 200
_RESULTS = pytest.StashKey[list["LambdaResult"]]()
_SESSION = pytest.StashKey["LambdaSession"]()
_REPORTED = pytest.StashKey[int]()


# ---- settings -------------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lambda-emu", "lambda-emu: invoke the functions of a SAM template in tests")
    group.addoption(
        "--lambda-emu-template",
        dest="lambda_emu_template",
        metavar="FILE",
        help="SAM/CloudFormation template whose functions the tests invoke (wins over the ini option).",
    )
    group.addoption(
        "--lambda-emu-no-cpu-limit",
        dest="lambda_emu_no_cpu_limit",
        action="store_true",
        help="Run functions without Lambda's CPU share (memory / 1,769 MB vCPUs): faster, less faithful.",
    )
    parser.addini(
        "lambda_emu_template",
        "lambda-emu: the template, relative to the ini file (default: template.yaml, .yml or .json in the "
        "rootdir).",
        default="",
    )
    parser.addini(
        "lambda_emu_state_dir",
        "lambda-emu: state directory, relative to the ini file (default: .lambda-emu beside the template).",
        default="",
    )
    parser.addini(
        "lambda_emu_parameter_overrides",
        "lambda-emu: template parameter values, as SAM takes them: 'Stage=test Other=x'.",
        default="",
    )
    parser.addini(
        "lambda_emu_env_vars",
        "lambda-emu: SAM's JSON env-vars file, relative to the ini file.",
        default="",
    )
    parser.addini(
        "lambda_emu_cpu_limit",
        "lambda-emu: give functions Lambda's CPU share (default true).",
        type="bool",
        default=True,
    )


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
        from emulator.errors import ConfigError
        from emulator.template import find_template

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


# ---- results ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LambdaResult:
    """One invocation's outcome, as the Invoke API and the REPORT line give it."""

    function_name: str
    raw: bytes  # the response body, as Invoke returns it
    error_type: str | None
    error_message: str | None
    logs: str  # the init output on a cold start, then START … END, REPORT
    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None  # None when a warm environment served it
    executed_version: str
    status_code: int = INVOKE_STATUS

    @classmethod
    def of(cls, function_name: str, result: InvocationResult) -> LambdaResult:
        error = result.error_payload() or {}
        message = error.get("errorMessage")
        return cls(
            function_name=function_name,
            raw=result.payload,
            error_type=result.error_type,
            error_message=str(message) if message is not None and result.failed else None,
            logs=result.init_logs + result.logs,
            request_id=result.request_id,
            duration_ms=result.duration_ms,
            billed_duration_ms=result.billed_duration_ms,
            memory_size_mb=result.memory_size_mb,
            max_memory_used_mb=result.max_memory_used_mb,
            init_duration_ms=result.init_duration_ms,
            executed_version=result.executed_version,
        )

    @property
    def payload(self) -> Any:
        """The response parsed as JSON (None when empty; the text itself when it is not JSON)."""
        if not self.raw:
            return None
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw.decode(errors="replace")

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def function_error(self) -> str | None:
        """The X-Amz-Function-Error header: "Unhandled" for every function error (Lambda API, Invoke)."""
        return "Unhandled" if self.failed else None

    def describe(self) -> str:
        outcome = f"failed with {self.error_type}: {self.error_message}" if self.failed else "succeeded"
        return f"{self.function_name} (RequestId: {self.request_id}) {outcome}"

    def assert_ok(self) -> LambdaResult:
        """Fail the test, with the function's error and log, unless the invocation succeeded."""
        if self.failed:
            raise AssertionError(f"{self.describe()}\n{self.logs}")
        return self

    def assert_error(self, error_type: str | None = None, message: str | None = None) -> LambdaResult:
        """Fail the test unless the function failed (with `error_type`, and `message` in its message)."""
        if not self.failed:
            raise AssertionError(f"{self.describe()}, an error was expected: {self.raw!r}\n{self.logs}")
        if error_type is not None and self.error_type != error_type:
            raise AssertionError(f"{self.describe()}, {error_type} was expected\n{self.logs}")
        if message is not None and message not in (self.error_message or ""):
            raise AssertionError(f"{self.describe()}, a message with {message!r} was expected\n{self.logs}")
        return self


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
        from emulator.errors import LambdaEmuError

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
        from emulator.config import EmulatorConfig, host_environ
        from emulator.containers.docker import DockerBackend
        from emulator.facade import Emulator
        from emulator.runtimes import local_image_builder
        from emulator.template import load_env_vars_file, load_template, parse_parameter_overrides

        settings = self._settings()
        config = EmulatorConfig.from_environ(
            host_environ(), state_dir=settings.state_dir, cpu_limit=settings.cpu_limit
        )
        template = load_template(
            settings.template,
            emulator=config,
            parameter_overrides=parse_parameter_overrides(settings.parameter_overrides),
            env_vars=load_env_vars_file(settings.env_vars) if settings.env_vars else None,
        )
        # A runtime image is built once, on the first invocation needing it; its progress goes to the log.
        images = local_image_builder(progress=lambda message: LOG.info("%s", message))
        return template, Emulator(config, backend=DockerBackend(), images=images)

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


# ---- fixtures ---------------------------------------------------------------------------------------------
class LambdaInvoker:
    """What the lambda_invoke fixture returns: call it with a function name and an event."""

    def __init__(
        self, session: LambdaSession, *, defaults: Mapping[str, Any], record: Callable[[LambdaResult], None]
    ) -> None:
        self._session = session
        self._defaults = defaults
        self._record = record

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
    """What the lambda_events fixture returns: emulator.events' sample-event factories, imported at first
    use (lambda_events.s3_put(bucket="b", key="k"), lambda_events.generate("s3", "put", ...))."""

    def _module(self) -> Any:
        import importlib

        return importlib.import_module("emulator.events")

    def generate(self, service: str, event: str, **fields: Any) -> dict[str, Any]:
        return self._module().generate(service, event, **fields)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        factory = getattr(self._module(), name, None)
        if not callable(factory):
            raise AttributeError(f"emulator.events has no event factory {name!r}")
        return factory  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def lambda_emulator(pytestconfig: pytest.Config) -> LambdaSession:
    """The session's emulator: .function(name) is a FunctionConfig, .invoke(...) runs it, .emulator is the
    facade. Started at first use, closed at the end of the session (Ctrl-C too)."""
    return pytestconfig.stash[_SESSION]


@pytest.fixture
def lambda_invoke(request: pytest.FixtureRequest, lambda_emulator: LambdaSession) -> LambdaInvoker:
    """lambda_invoke(name, event=None, **options) → LambdaResult; the test's invocations are kept, so a
    failing test shows their logs."""
    results = request.node.stash.setdefault(_RESULTS, [])
    return LambdaInvoker(lambda_emulator, defaults=marker_overrides(request.node), record=results.append)


@pytest.fixture
def lambda_events() -> EventFactories:
    """Sample events in the shapes Lambda delivers: lambda_events.api_gateway_proxy(...), .s3_put(...)."""
    return EventFactories()


# ---- hooks ------------------------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(env=None, memory_size=None, timeout=None, ephemeral_storage=None): lambda-emu "
        "configuration overrides for every invocation of the test (lambda_invoke's options win).",
    )
    config.stash[_SESSION] = LambdaSession(lambda: PluginSettings.from_config(config))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Before the report is made: a failing phase gets the logs of the invocations not yet shown.
    results = item.stash.get(_RESULTS, [])
    shown = item.stash.get(_REPORTED, 0)
    if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception) and results[shown:]:
        item.add_report_section(call.when, "lambda-emu logs", render_logs(results[shown:]))
        item.stash[_REPORTED] = len(results)
    yield


def render_logs(results: list[LambdaResult]) -> str:
    return "".join(f"--- {result.describe()}\n{result.logs}" for result in results)


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[_SESSION].close()


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()
