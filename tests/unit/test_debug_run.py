"""A debug run (-d/--debug-port) without Docker: what it adds to the container, the port check, which
functions it applies to, and the timeouts it lifts (over the fake container layer of tests/fakes.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_emu import wire
from lambda_emu.cli.options import check_debug_port
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers import Mount
from lambda_emu.engine.environment import Environment, RuntimeImage
from lambda_emu.engine.invoker import Invoker
from lambda_emu.engine.pool import EnvironmentPool
from lambda_emu.errors import ConfigError
from lambda_emu.images.debugger import DEBUGPY_VERSION, debug_attach
from lambda_emu.images.vendor import VendorSet
from lambda_emu.models import Invocation
from tests.fakes import ProcessBackend

HANDLER = """
import time
def slow(event, context):
    time.sleep(event["seconds"])
    return {"remaining": context.get_remaining_time_in_millis()}
"""


class FakeFetcher:
    """Records what is fetched; the 'cache' is a folder of the test's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fetched: list[VendorSet] = []

    def fetch(self, wanted: VendorSet, on_line: object) -> Path:
        self.fetched.append(wanted)
        return self.root


def test_python_gets_debugpy_mounted_read_only_and_the_port_variable(tmp_path: Path) -> None:
    fetcher = FakeFetcher(tmp_path)
    attach = debug_attach("python", 5890, function="fn", python_version="3.13", fetcher=fetcher)  # type: ignore[arg-type]
    assert attach.environment == ((wire.ENV_DEBUG_PORT, "5890"),)
    assert attach.mounts == (Mount(str(tmp_path / "runtime"), wire.DEBUGGER_DIR, read_only=True),)
    assert fetcher.fetched == [VendorSet(python_version="3.13", pip=(f"debugpy=={DEBUGPY_VERSION}",))]


def test_node_needs_only_the_port_variable_its_inspector_is_built_in(tmp_path: Path) -> None:
    fetcher = FakeFetcher(tmp_path)
    attach = debug_attach("nodejs", 9229, function="fn", fetcher=fetcher)  # type: ignore[arg-type]
    assert attach == type(attach)(((wire.ENV_DEBUG_PORT, "9229"),))
    assert fetcher.fetched == []


def test_a_runtime_without_a_debugger_is_refused_naming_the_function(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Function Custom: -d/--debug-port") as raised:
        debug_attach("provided", 5890, function="Custom", fetcher=FakeFetcher(tmp_path))  # type: ignore[arg-type]
    assert raised.value.hint


def test_a_debug_port_in_use_is_refused_naming_the_option() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Debug port {port} on 127.0.0.1 is already in use") as raised:
            check_debug_port(port)
    assert raised.value.hint and "-d/--debug-port" in raised.value.hint


def test_debug_function_chooses_which_function_is_debugged(tmp_path: Path) -> None:
    one = FunctionConfig(name="One", runtime="python3.11", handler="app.slow", code_path=tmp_path)
    two = FunctionConfig(name="Two", runtime="python3.11", handler="app.slow", code_path=tmp_path)
    assert not EmulatorConfig().debugs(one)
    assert EmulatorConfig(debug_port=5890).debugs(one) and EmulatorConfig(debug_port=5890).debugs(two)
    chosen = EmulatorConfig(debug_port=5890, debug_function="Two")
    assert not chosen.debugs(one) and chosen.debugs(two)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[tuple[EnvironmentPool, ProcessBackend]]:
    (tmp_path / "app.py").write_text(HANDLER)
    backend = ProcessBackend()
    image = RuntimeImage(
        image="fake",
        user=None,
        debug_environment=(("EXTRA_DEBUG_VAR", "1"),),
        debug_mounts=(Mount(str(tmp_path), "/debugger"),),
    )

    def factory(function: FunctionConfig) -> Environment:
        return Environment(
            function, image, backend=backend, emulator=EmulatorConfig(), code_dir=str(tmp_path)
        )

    pool = EnvironmentPool(factory)
    yield pool, backend
    pool.close()


def _slow_call(invoker: Invoker, code: Path, seconds: float) -> dict[str, object]:
    function = FunctionConfig(name="fn", runtime="python3.11", handler="app.slow", code_path=code, timeout=1)
    arn = EmulatorConfig().function_arn(function.name)
    result = invoker.invoke(function, Invocation(json.dumps({"seconds": seconds}).encode(), arn))
    return {"error": result.error_type, "body": json.loads(result.payload)}


def test_a_debugged_function_outlives_its_timeout_and_sees_a_lifted_deadline(
    tmp_path: Path, pool: tuple[EnvironmentPool, ProcessBackend]
) -> None:
    envs, backend = pool
    # As if held at a breakpoint past its 1 s timeout.
    outcome = _slow_call(Invoker(envs, debugged=lambda function: True), tmp_path, 1.5)
    assert outcome["error"] is None
    assert outcome["body"]["remaining"] > 3600 * 1000  # type: ignore[index]
    spec = backend.created[0].spec
    assert spec.environment["EXTRA_DEBUG_VAR"] == "1"  # the debug run's additions reach the container
    assert Mount(str(tmp_path), "/debugger") in spec.mounts


def test_a_function_not_debugged_still_times_out(
    tmp_path: Path, pool: tuple[EnvironmentPool, ProcessBackend]
) -> None:
    outcome = _slow_call(Invoker(pool[0], debugged=lambda function: False), tmp_path, 1.5)
    assert outcome["error"] == wire.E_TIMEOUT


class _Images:
    """The one part of ImageBuilder a debug run's set-up uses."""

    progress = staticmethod(lambda line: None)


@pytest.mark.parametrize(
    ("runtime", "package_type", "refusal"),
    [
        ("provided.al2023", "Zip", "runtimes only."),
        ("", "Image", "runtimes only (a container image runs its own entry point)."),
    ],
)
def test_functions_no_debugger_of_ours_can_start_are_refused_before_any_build(
    runtime: str, package_type: str, refusal: str
) -> None:
    from lambda_emu.images.debugger import debugger_family

    function = FunctionConfig(
        name="F",
        runtime=runtime,
        handler="h",
        code_path=Path("."),
        package_type=package_type,
        image_uri="a:1",
    )
    with pytest.raises(ConfigError, match="Function F: -d/--debug-port attaches a debugger") as raised:
        debugger_family(function)
    assert raised.value.message.endswith(refusal) and raised.value.hint


def test_python_and_node_functions_have_a_debugger() -> None:
    from lambda_emu.images.debugger import debugger_family

    for runtime, family in (("python3.13", "python"), ("nodejs20.x", "nodejs")):
        assert (
            debugger_family(FunctionConfig(name="F", runtime=runtime, handler="h", code_path=Path(".")))
            == family
        )


def test_d_is_refused_on_awss_base_images_whose_entry_point_is_not_our_bootstrap() -> None:
    from lambda_emu.facade import Emulator

    function = FunctionConfig(name="Official", runtime="python3.11", handler="app.h", code_path=Path("."))
    image = RuntimeImage(image="public.ecr.aws/lambda/python:3.11", handler_command=True)
    emu = Emulator(
        EmulatorConfig(debug_port=5890),
        backend=ProcessBackend(),
        images=_Images(),  # type: ignore[arg-type]
        sweep_leftovers=False,
    )
    with emu, pytest.raises(ConfigError, match="Function Official: -d/--debug-port needs") as raised:
        emu._under_debugger(function, image, 5890)
    assert raised.value.hint and "LAMBDA_EMU_BASE_IMAGE=debian" in raised.value.hint
