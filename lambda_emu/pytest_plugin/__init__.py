"""The pytest plugin (entry point pytest11): one emulator per test session for the project's template, kept
warm across tests; the fixtures lambda_invoke, lambda_events and lambda_emulator; the logs of a failing
test's invocations in its report."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lambda_emu.pytest_plugin.fixtures import MARKER, EventFactories, LambdaInvoker, marker_overrides
from lambda_emu.pytest_plugin.results import LambdaResult
from lambda_emu.pytest_plugin.session import CONFIG_OVERRIDES, LambdaSession, PluginSettings

LOG = logging.getLogger(__name__)

_RESULTS = pytest.StashKey[list[LambdaResult]]()
_SESSION = pytest.StashKey[LambdaSession]()
_REPORTED = pytest.StashKey[int]()

__all__ = [
    "CONFIG_OVERRIDES",
    "MARKER",
    "EventFactories",
    "LambdaInvoker",
    "LambdaResult",
    "LambdaSession",
    "PluginSettings",
]


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
