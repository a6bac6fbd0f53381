"""Hot reload: the pure policy (temporary names, whose code a path is, debounce, template diffs) and the
watchdog shell against real files, with a fake emulator that records retirements."""

from __future__ import annotations

import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import TemplateError
from lambda_emu.images.function_code import code_dir
from lambda_emu.reload.watcher import (
    Changes,
    Debouncer,
    Kind,
    Reload,
    Reloader,
    WatchConfig,
    WatchTarget,
    classify,
    is_temporary,
    table_changes,
    watch_roots,
    watch_targets,
)
from lambda_emu.template import load_template

DEADLINE = 20.0  # seconds a test waits for the watcher before failing; the machine may be busy


class FakeEmulator:
    def __init__(self, state_dir: Path) -> None:
        self.config = EmulatorConfig(state_dir=state_dir)
        self.retired: list[str] = []
        self._cond = threading.Condition()

    def retire(self, function_name: str) -> int:
        with self._cond:
            self.retired.append(function_name)
            self._cond.notify_all()
        return 0

    def wait_retired(self, count: int) -> list[str]:
        deadline = time.monotonic() + DEADLINE
        with self._cond:
            while len(self.retired) < count and time.monotonic() < deadline:
                self._cond.wait(0.05)
            assert len(self.retired) >= count, f"retired {self.retired}, wanted {count}"
            return list(self.retired)


class FakeTable:
    """The served functions, as the server's registry holds them."""

    def __init__(self, functions: tuple[FunctionConfig, ...]) -> None:
        self.functions = {function.name: function for function in functions}

    def put(self, function: FunctionConfig) -> None:
        self.functions[function.name] = function

    def remove(self, name: str) -> None:
        del self.functions[name]

    def names(self) -> list[str]:
        return list(self.functions)

    def get(self, name: str) -> FunctionConfig:
        return self.functions[name]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def function(name: str, code: Path, **changes: object) -> FunctionConfig:
    return FunctionConfig(name=name, runtime="python3.11", handler="app.handler", code_path=code, **changes)  # type: ignore[arg-type]


# ---- policy -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "relative",
    [
        ".app.py.swp",
        ".app.py.swx",
        "sub/.app.py.swo",
        "4913",
        "5036",
        "app.py~",
        ".#app.py",
        "#app.py#",
        "app.py___jb_tmp___",
        "app.py___jb_old___",
        ".DS_Store",
        "__pycache__/app.cpython-311.pyc",
        "__pycache__",
        "app.pyc",
        ".git/index",
        ".git/objects/ab/cdef",
        "node_modules/.cache/babel/x.json",
        ".goutputstream-ABC123",
    ],
)
def test_editor_and_tool_files_are_temporary(relative: str) -> None:
    assert is_temporary(relative)


@pytest.mark.parametrize(
    "relative",
    [
        "app.py",
        "lib/util.py",
        "index.mjs",
        "node_modules/left-pad/index.js",
        "4914",
        "1000",
        "bootstrap",
        "a.json",
    ],
)
def test_source_files_are_not_temporary(relative: str) -> None:
    assert not is_temporary(relative)


def test_targets_group_functions_by_code_and_layer(tmp_path: Path) -> None:
    shared, layer = tmp_path / "src", tmp_path / "layer.zip"
    shared.mkdir()
    layer.write_bytes(b"")
    targets = watch_targets(
        [function("A", shared, layers=(layer,)), function("B", shared)], [tmp_path / "template.yaml"]
    )
    assert set(targets) == {
        WatchTarget(shared, Kind.CODE, frozenset({"A", "B"})),
        WatchTarget(layer, Kind.LAYER, frozenset({"A"}), is_file=True),
        WatchTarget(tmp_path / "template.yaml", Kind.TEMPLATE, is_file=True),
    }


def test_image_functions_are_not_watched(tmp_path: Path) -> None:
    image = function("I", tmp_path, package_type="Image", image_uri="x:1")
    assert watch_targets([image]) == ()


def test_roots_are_the_fewest_watches_covering_everything(tmp_path: Path) -> None:
    root = str(tmp_path)
    targets = [
        WatchTarget(tmp_path / "template.yaml", Kind.TEMPLATE, is_file=True),  # a file: its folder, flat
        WatchTarget(tmp_path, Kind.CODE, frozenset({"A"})),  # CodeUri: . covers the template's folder
        WatchTarget(tmp_path / "src", Kind.CODE, frozenset({"B"})),  # under A's recursive watch
        WatchTarget(tmp_path.parent / "layers" / "l.zip", Kind.LAYER, frozenset({"A"}), is_file=True),
    ]
    assert watch_roots(targets) == {(root, True), (str(tmp_path.parent / "layers"), False)}
    # a sibling whose name merely starts the same is not covered
    assert (root + "-other", True) in watch_roots([*targets, WatchTarget(Path(root + "-other"), Kind.CODE)])


def test_classify_maps_paths_to_their_functions(tmp_path: Path) -> None:
    src, zipped, state = tmp_path / "src", tmp_path / "dist" / "b.zip", tmp_path / "src" / ".lambda-emu"
    targets = [
        WatchTarget(src, Kind.CODE, frozenset({"A"})),
        WatchTarget(zipped, Kind.CODE, frozenset({"B"}), is_file=True),
        WatchTarget(tmp_path / "layer", Kind.LAYER, frozenset({"A", "C"})),
        WatchTarget(tmp_path / "template.yaml", Kind.TEMPLATE, is_file=True),
    ]

    def meaning(*paths: Path) -> Changes:
        return classify([str(p) for p in paths], targets, [state])

    assert meaning(src / "app.py").code == {"A": Kind.CODE}
    assert meaning(src / "pkg" / "mod.py", tmp_path / "layer" / "python" / "x.py").code == {
        "A": Kind.CODE,  # a code change says more than a layer change in the same burst
        "C": Kind.LAYER,
    }
    assert meaning(zipped) == Changes({"B": Kind.CODE}, files=frozenset({str(zipped)}))
    assert not meaning(tmp_path / "dist" / "other.zip")  # the zip's folder holds other files too
    assert not meaning(src / ".app.py.swp", src / "__pycache__" / "app.cpython-311.pyc", src / "4913")
    assert not meaning(state / "queue.sqlite3", state / "code" / "abc" / "app.py")  # our own state
    assert not meaning(tmp_path / "srcx" / "app.py")
    assert meaning(tmp_path / "template.yaml") == Changes(template=True)
    assert not meaning(tmp_path / "template.yaml~")


def test_debouncer_waits_for_a_quiet_window() -> None:
    debouncer = Debouncer(quiet=0.1, max_delay=1.0)
    assert debouncer.wait_time(0.0) is None
    for i in range(20):
        debouncer.add(f"/f{i % 3}", now=i * 0.01)  # a burst: 20 saves over 190 ms
    assert debouncer.wait_time(0.2) == pytest.approx(0.09)
    assert debouncer.wait_time(0.3) == 0
    assert debouncer.take() == {"/f0", "/f1", "/f2"}
    assert debouncer.wait_time(0.3) is None


def test_debouncer_fires_during_an_endless_burst() -> None:
    debouncer = Debouncer(quiet=0.1, max_delay=1.0)
    now = 0.0
    while debouncer.wait_time(now) != 0:
        debouncer.add("/log", now)
        now += 0.05
        assert now < 2
    assert now == pytest.approx(1.0, abs=0.05)  # max_delay after the first save, not never


def test_table_changes_name_added_changed_and_removed(tmp_path: Path) -> None:
    a, b, c = function("A", tmp_path), function("B", tmp_path), function("C", tmp_path)
    b2 = function("B", tmp_path, environment={"STAGE": "prod"})
    assert table_changes({"A": a, "B": b, "C": c}, {"A": a, "B": b2, "D": a}) == [
        Reload("D", "added"),
        Reload("B", "configuration changed"),
        Reload("C", "removed"),
    ]
    assert str(Reload("B", "code changed")) == "reloaded B: code changed"


# ---- the watcher on real files ----------------------------------------------------------------------
@pytest.fixture
def app(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("def handler(event, context):\n    return 'v1'\n")
    return src


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., tuple[Reloader, FakeEmulator, FakeTable]]]:
    started: list[Reloader] = []

    def start(*functions: FunctionConfig, **config: object) -> tuple[Reloader, FakeEmulator, FakeTable]:
        emulator = FakeEmulator(tmp_path / ".lambda-emu")
        registry = FakeTable(functions)
        options = {"quiet": 0.1, "max_delay": 5.0, **config}
        reloader = Reloader(emulator, registry, functions, WatchConfig(**options)).start()  # type: ignore[arg-type]
        started.append(reloader)
        return reloader, emulator, registry

    yield start
    for reloader in started:
        reloader.close()


def test_an_edit_retires_the_function_once(app: Path, watch: Callable[..., tuple]) -> None:
    seen: list[Reload] = []
    reloader, emulator, _ = watch(
        function("Hello", app), function("Other", app.parent), on_reload=seen.append
    )
    (app / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    emulator.wait_retired(2)
    time.sleep(0.5)  # several quiet windows: nothing more may come of this one save
    assert sorted(emulator.retired) == ["Hello", "Other"]  # Other's code folder holds Hello's
    assert reloader.reloads == 1
    assert [str(r) for r in sorted(seen, key=str)] == [
        "reloaded Hello: code changed",
        "reloaded Other: code changed",
    ]


def test_a_burst_of_saves_is_one_reload(app: Path, watch: Callable[..., tuple]) -> None:
    reloader, emulator, _ = watch(function("Hello", app), quiet=0.3)
    for i in range(20):
        (app / "app.py").write_text(f"def handler(event, context):\n    return {i}\n")
    emulator.wait_retired(1)
    time.sleep(0.8)
    assert emulator.retired == ["Hello"]
    assert reloader.reloads == 1


def test_editors_temporary_files_are_ignored(app: Path, watch: Callable[..., tuple]) -> None:
    reloader, emulator, _ = watch(function("Hello", app))
    (app / ".app.py.swp").write_text("x")
    (app / "4913").write_text("")
    (app / "4913").unlink()
    (app / ".#app.py").symlink_to("user@host.123")
    (app / "#app.py#").write_text("x")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (app / "app.py").read_text()  # reading (opening, closing) is not a change
    time.sleep(0.6)
    assert emulator.retired == []
    # JetBrains' safe write: new content beside, the old file moved aside, the new one moved in
    (app / "app.py___jb_tmp___").write_text("def handler(event, context):\n    return 'v2'\n")
    (app / "app.py").rename(app / "app.py___jb_old___")
    (app / "app.py___jb_tmp___").rename(app / "app.py")
    (app / "app.py___jb_old___").unlink()
    assert emulator.wait_retired(1) == ["Hello"]
    time.sleep(0.5)
    assert emulator.retired == ["Hello"]


def test_a_changed_zip_retires_and_is_extracted_again(tmp_path: Path, watch: Callable[..., tuple]) -> None:
    package, state = tmp_path / "dist" / "app.zip", tmp_path / "state"
    package.parent.mkdir()

    def build(version: str) -> None:
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("app.py", f"def handler(event, context):\n    return '{version}'\n")

    build("v1")
    first = code_dir(package, state)
    assert "'v1'" in (first / "app.py").read_text()
    _, emulator, _ = watch(function("Zipped", package))
    (package.parent / "notes.txt").write_text("not the package")
    stamp = package.stat().st_mtime_ns
    build("v2")  # same size; the mtime is put back, as a fast rebuild within one clock tick would leave it
    os.utime(package, ns=(stamp, stamp))
    assert emulator.wait_retired(1) == ["Zipped"]
    second = code_dir(package, state)
    assert second != first and "'v2'" in (second / "app.py").read_text()


TEMPLATE = """\
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          GREETING: {greeting}
{extra}"""
SECOND = """\
  SecondFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
      Handler: app.handler
      Runtime: python3.11
"""


def test_a_template_change_updates_the_functions(
    tmp_path: Path, app: Path, watch: Callable[..., tuple]
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(code="src", greeting="hello", extra=""))
    emulator_config = EmulatorConfig(state_dir=tmp_path / ".lambda-emu")

    def load() -> list[FunctionConfig]:
        return list(load_template(template, emulator=emulator_config).functions.values())

    seen: list[Reload] = []
    reloader, emulator, registry = watch(*load(), template=template, load=load, on_reload=seen.append)

    def save(text: str) -> None:  # as editors save: the whole file written again
        count = reloader.reloads
        template.write_text(text)
        wait_until(lambda: reloader.reloads > count, "a reload")

    save(TEMPLATE.format(code="src", greeting="bonjour", extra=""))
    assert registry.get("HelloFunction").environment == {"GREETING": "bonjour"}
    assert emulator.retired == ["HelloFunction"]
    assert seen == [Reload("HelloFunction", "configuration changed")]

    save(TEMPLATE.format(code="src", greeting="bonjour", extra=SECOND.format(code="src")))
    assert registry.names() == ["HelloFunction", "SecondFunction"]
    assert seen[-1] == Reload("SecondFunction", "added")

    save("Resources: [unclosed")  # broken: the previous functions keep serving
    assert registry.names() == ["HelloFunction", "SecondFunction"]
    assert seen[-1].error is not None and "template not reloaded" in str(seen[-1])

    save(TEMPLATE.format(code="src", greeting="bonjour", extra=""))
    assert registry.names() == ["HelloFunction"]
    assert seen[-1] == Reload("SecondFunction", "removed")
    assert emulator.retired[-1] == "SecondFunction"


def test_a_moved_code_folder_is_watched_after_a_template_change(
    tmp_path: Path, app: Path, watch: Callable[..., tuple]
) -> None:
    other = tmp_path / "elsewhere" / "src2"
    other.mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(code="src", greeting="hi", extra=""))
    config = EmulatorConfig(state_dir=tmp_path / ".lambda-emu")

    def load() -> list[FunctionConfig]:
        return list(load_template(tmp_path / "template.yaml", emulator=config).functions.values())

    reloader, emulator, _ = watch(*load(), template=tmp_path / "template.yaml", load=load)
    assert (str(app), True) in reloader.watched()
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(code="elsewhere/src2", greeting="hi", extra=""))
    wait_until(lambda: (str(other), True) in reloader.watched(), "the new code folder's watch")
    assert (str(app), True) not in reloader.watched()
    retired = len(emulator.wait_retired(1))
    (other / "app.py").write_text("x = 1\n")
    assert emulator.wait_retired(retired + 1)[-1] == "HelloFunction"


def test_a_template_that_fails_to_load_is_reported(
    tmp_path: Path, app: Path, watch: Callable[..., tuple]
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("x")

    def load() -> list[FunctionConfig]:
        raise TemplateError("template.yaml: the template has no Resources.", hint="Add a function.")

    seen: list[Reload] = []
    reloader, emulator, registry = watch(
        function("Hello", app), template=template, load=load, on_reload=seen.append
    )
    template.write_text("y")
    wait_until(lambda: bool(seen), "the error")
    assert str(seen[0]) == (
        "template not reloaded, still serving the previous functions: template.yaml: the template has no "
        "Resources. (Add a function.)"
    )
    assert registry.names() == ["Hello"] and emulator.retired == []


def _inotify_watches() -> int:
    """The kernel's inotify watches held by this process."""
    total = 0
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            total += Path(f"/proc/self/fdinfo/{fd}").read_text().count("inotify wd:")
        except OSError:
            pass
    return total


def test_thousands_of_changes_leak_no_threads_or_watches(
    tmp_path: Path, app: Path, watch: Callable[..., tuple]
) -> None:
    other = tmp_path / "src2"
    other.mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(code="src", greeting="g0", extra=""))
    config = EmulatorConfig(state_dir=tmp_path / ".lambda-emu")

    def load() -> list[FunctionConfig]:
        return list(load_template(template, emulator=config).functions.values())

    reloader, emulator, _ = watch(*load(), template=template, load=load, quiet=0.01)
    threads, watches, kernel_watches = threading.active_count(), reloader.watched(), _inotify_watches()
    for burst in range(20):  # 3,000 file events: creations, writes and deletions
        for i in range(50):
            path = app / f"mod{i}.py"
            path.write_text(f"x = {burst}\n")
            path.write_text(f"x = {burst + 1}\n")
            if burst % 2:
                path.unlink()
        wait_until(lambda b=burst: emulator.retired.count("HelloFunction") > b, "a reload per burst")
    for flip in range(60):  # the code folder moves back and forth: watches are replaced, not added
        code = "src2" if flip % 2 == 0 else "src"
        count = reloader.reloads
        template.write_text(TEMPLATE.format(code=code, greeting=f"g{flip}", extra=""))
        wait_until(lambda c=count: reloader.reloads > c, "a template reload")
    wait_until(lambda: threading.active_count() <= threads, "threads back to their count")
    assert reloader.watched() == watches
    assert _inotify_watches() == kernel_watches
    reloader.close()
    wait_until(
        lambda: not any(t.name in ("reloader", "reload-observer") for t in threading.enumerate()), "stop"
    )


def test_the_servers_table_follows_reserved_concurrency_and_event_scope(tmp_path: Path, app: Path) -> None:
    from lambda_emu.api.service import LambdaService
    from lambda_emu.async_invoke import EventQueue
    from lambda_emu.control.concurrency import ConcurrencyLimits
    from lambda_emu.control.registry import FunctionRegistry
    from lambda_emu.server import _ReloadedFunctions

    config = EmulatorConfig(state_dir=tmp_path / "state")
    service = LambdaService(
        FakeEmulator(tmp_path), FunctionRegistry(config, [function("A", app)]), ConcurrencyLimits()
    )  # type: ignore[arg-type]
    queue = EventQueue(tmp_path / "queue.sqlite3", functions=service.registry.names)
    table = _ReloadedFunctions(service)
    table.put(function("B", app, reserved_concurrency=0))  # added by a saved template
    assert service.limits.reserved("B") == 0
    assert queue.functions == ("A", "B")  # its Event invocations are delivered by this server
    table.put(function("B", app))
    assert service.limits.reserved("B") is None
    # A reservation made through the API outlives a save that leaves the template's property alone.
    service.put_concurrency("B", b'{"ReservedConcurrentExecutions": 4}')
    table.put(function("B", app))
    assert service.limits.reserved("B") == 4
    table.put(function("B", app, reserved_concurrency=2))  # the template changes it: the template wins
    assert service.limits.reserved("B") == 2
    table.remove("A")
    assert queue.functions == ("B",) and service.registry.names() == ["B"]
    queue.close()


def test_a_layer_change_retires_the_functions_using_it(
    tmp_path: Path, app: Path, watch: Callable[..., tuple]
) -> None:
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    seen: list[Reload] = []
    functions = (function("A", app, layers=(layer.parent,)), function("B", tmp_path / "b"))
    (tmp_path / "b").mkdir()
    _, emulator, _ = watch(*functions, on_reload=seen.append)
    (layer / "shared.py").write_text("VALUE = 2\n")
    assert emulator.wait_retired(1) == ["A"]
    assert seen == [Reload("A", "layer changed")]
