"""Frozen configuration of the emulator and of functions, with Lambda's validation rules, and the pure
assembly of a function's environment variables (Lambda's defined runtime environment variables; Lambda
quotas)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lambda_emu import arns, awsconfig, wire
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

MEMORY_RANGE = (128, 10_240)
TIMEOUT_RANGE = (1, 900)
EPHEMERAL_RANGE = (512, 10_240)
ENV_TOTAL_LIMIT = 4 * 1024
MAX_LAYERS = 5  # a function's layers (Lambda quotas)
_ENV_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_HANDLER = re.compile(r"[^\s]{1,128}")

# Keys Lambda sets itself and refuses in a function's configuration (Lambda's defined runtime environment
# variables).
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
# The host credentials handed to functions, standing in for the execution role's (awsconfig.py reads them).
CREDENTIAL_KEYS = awsconfig.CREDENTIAL_KEYS

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"


@dataclass(frozen=True)
class ImageConfig:
    """ImageConfig of a container-image function: overrides of the image's own settings."""

    entry_point: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_directory: str | None = None


@dataclass(frozen=True)
class ImageRecipe:
    """How to build a function's image (SAM's Metadata: DockerContext, Dockerfile, DockerBuildArgs)."""

    context_dir: Path
    dockerfile: str = "Dockerfile"
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None  # DockerBuildTarget


@dataclass(frozen=True)
class AsyncConfig:
    """How Event invocations of a function are retried and where failures go (EventInvokeConfig and
    DeadLetterConfig). Destinations and the DLQ target are ARNs."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21_600
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_target: str | None = None

    def validate(self) -> AsyncConfig:
        _check_range("MaximumRetryAttempts", self.maximum_retry_attempts, (0, 2))
        _check_range("MaximumEventAgeInSeconds", self.maximum_event_age_seconds, (60, 21_600))
        return self


@dataclass(frozen=True)
class FunctionConfig:
    """One function's configuration, as Lambda's FunctionConfiguration holds it."""

    name: str
    runtime: str
    handler: str
    code_path: Path  # a folder or a .zip on this machine
    memory_size: int = 128
    timeout: int = 3
    ephemeral_storage: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)
    architectures: tuple[str, ...] = ("x86_64",)
    description: str = ""
    logical_id: str | None = None  # the template's logical ID, when it came from a template
    package_type: str = "Zip"  # "Image": the function is the container image `image_uri`
    image_uri: str | None = None
    image_config: ImageConfig | None = None
    layers: tuple[Path, ...] = ()  # local layer contents (folders or zips), extracted to /opt in order
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions; 0 throttles every call
    # $LATEST, or the published version number this configuration is a snapshot of: a version runs in
    # environments of its own, whose AWS_LAMBDA_FUNCTION_VERSION and context say so (Lambda's context
    # object; Lambda's function versions).
    version: str = wire.LATEST
    auto_publish_alias: str | None = None  # SAM's AutoPublishAlias: publish at load, point this alias at it

    def validate(self) -> FunctionConfig:
        """Raise ConfigError naming the field and the rule, as Lambda's API would; return self."""
        if not _FUNCTION_NAME.fullmatch(self.name):
            raise ConfigError(
                f"Function name {self.name!r} must be 1-64 characters of letters, digits, '-' and '_'."
            )
        _check_range("MemorySize", self.memory_size, MEMORY_RANGE)
        _check_range("Timeout", self.timeout, TIMEOUT_RANGE)
        _check_range("EphemeralStorage.Size", self.ephemeral_storage, EPHEMERAL_RANGE)
        if self.package_type not in ("Zip", "Image"):
            raise ConfigError(
                f"PackageType of function {self.name} must be Zip or Image; got {self.package_type!r}."
            )
        if self.package_type == "Image":
            if not self.image_uri:
                raise ConfigError(f"Function {self.name} has PackageType Image but no ImageUri.")
        elif not _HANDLER.fullmatch(self.handler or ""):
            raise ConfigError(
                f"Handler {self.handler!r} of function {self.name} must be 1-128 characters without spaces."
            )
        if len(self.architectures) != 1 or self.architectures[0] not in ("x86_64", "arm64"):
            raise ConfigError(
                f"Architectures of function {self.name} must be exactly one of x86_64 or arm64; "
                f"got {list(self.architectures)}."
            )
        validate_environment(self.environment)
        return self

    @property
    def log_group_name(self) -> str:
        return log_group_name(self.name)


@dataclass(frozen=True)
class ImageFunctionConfig(FunctionConfig):
    """A container-image function whose template says how to build its image when it is missing."""

    recipe: ImageRecipe | None = None


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of the emulator itself (not of any function)."""

    region: str = wire.DEFAULT_REGION
    account_id: str = wire.DEFAULT_ACCOUNT_ID
    state_dir: Path = Path(".lambda-emu")
    # Credentials passed to functions as their role's: taken from the host's standard variables.
    credentials: Mapping[str, str] = field(default_factory=dict)
    # AWS_ENDPOINT_URL[_<SERVICE>] of the host, passed on so the functions' SDKs call what the user chose.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    # Lambda's CPU share (a quota proportional to memory); off trades fidelity for speed.
    cpu_limit: bool = True
    # Folders the Lambda API's local-folder code (S3Bucket lambda-emu-local) may come from: serve's
    # --code-root. None named: that form is refused (a caller must not read any host path through it).
    code_roots: tuple[Path, ...] = ()
    # Where layers are extracted for /opt (SAM's --layer-cache-basedir); None: <state dir>/layers.
    layer_cache_dir: Path | None = None
    # SAM's --invoke-image: (function name or logical ID, image) pairs; the name "" is every other function.
    invoke_images: tuple[tuple[str, str], ...] = ()

    def invoke_image_for(self, function: FunctionConfig) -> str | None:
        """The image --invoke-image names for this zip function (its own, else the default), if any."""
        chosen = dict(self.invoke_images)
        for key in (function.name, function.logical_id):
            if key and key in chosen:
                return chosen[key]
        return chosen.get("")

    # A debug run (-d/--debug-port): the function's runtime waits for a debugger on 127.0.0.1:<port>, with
    # Lambda's timeouts lifted; `debug_function` names it (None: every function, as `invoke` runs one).
    debug_port: int | None = None
    debug_function: str | None = None

    def debugs(self, function: FunctionConfig) -> bool:
        return self.debug_port is not None and self.debug_function in (None, function.name)

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        return arns.function_arn(self.region, self.account_id, name, qualifier)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> EmulatorConfig:
        settings = awsconfig.read_settings(environ)
        return cls(
            region=settings.region or wire.DEFAULT_REGION,
            credentials=settings.credentials,
            endpoints=settings.endpoints,
            **overrides,  # type: ignore[arg-type]
        )


MB_PER_VCPU = 1769  # Lambda: 1,769 MB of memory buys one vCPU-second per second (Lambda quotas)


def vcpus_for(memory_mb: int, host_cpus: int) -> float:
    """Lambda's CPU for a memory size, linear in memory, capped at this host's cores."""
    return min(float(host_cpus), memory_mb / MB_PER_VCPU)


def cpu_shares_for(memory_mb: int) -> int:
    """The relative weight under contention: 1024 per vCPU's worth of memory (Docker's minimum is 2)."""
    return max(2, round(1024 * memory_mb / MB_PER_VCPU))


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")


def validate_environment(variables: Mapping[str, str]) -> None:
    """Lambda's rules for Environment.Variables: key pattern, reserved keys, 4 KB in all."""
    reserved = sorted(key for key in variables if key in RESERVED_ENV_KEYS)
    if reserved:
        raise ConfigError(
            "Lambda was unable to configure your environment variables because the environment variables "
            "you have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {','.join(reserved)}"
        )
    for key, value in variables.items():
        if not _ENV_KEY.fullmatch(key):
            raise ConfigError(
                f"Environment variable name {key!r} is invalid: it must start with a letter and hold "
                "at least 2 letters, digits or underscores."
            )
        if not isinstance(value, str):
            raise ConfigError(f"Environment variable {key} must be a string; got {value!r}.")
    # Lambda counts the JSON-ish size of keys and values together against 4 KB.
    total = sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())
    if total > ENV_TOTAL_LIMIT:
        raise ConfigError(
            f"Lambda was unable to configure your environment variables because the environment variables "
            f"you have provided exceeded the 4KB limit. String measured: {total} bytes."
        )


def log_group_name(function_name: str) -> str:
    """Lambda's default log group of a function."""
    return f"/aws/lambda/{function_name}"


def log_stream_name(date: str, version: str, instance_id: str) -> str:
    """`2024/08/18/[$LATEST]<32 hex>`: one stream per execution environment."""
    return f"{date}/[{version}]{instance_id}"


def function_environment(
    function: FunctionConfig,
    emulator: EmulatorConfig,
    *,
    runtime_api: str,
    execution_env: str | None,
    log_stream: str,
    runtime_vars: Mapping[str, str] | None = None,
    version: str = wire.LATEST,
    initialization_type: str = wire.INIT_ON_DEMAND,
) -> dict[str, str]:
    """Every variable a function's process starts with. Precedence as RAPID's: platform > runtime >
    credentials > user > the host's endpoints. Nothing of the host's environment is read here: only what
    is passed in."""
    env: dict[str, str] = {**emulator.endpoints, **function.environment}
    env.update(emulator.credentials)
    env.update(
        {
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LD_LIBRARY_PATH": (
                "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
            ),
            # No X-Ray daemon runs locally; keep SDKs quiet and on loopback if they try.
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        }
    )
    if runtime_vars:
        env.update(runtime_vars)
    platform = {
        "_HANDLER": function.handler,
        "AWS_REGION": emulator.region,
        "AWS_DEFAULT_REGION": emulator.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
    }
    if execution_env:
        platform["AWS_EXECUTION_ENV"] = execution_env
    env.update(platform)
    return env


def host_environ() -> Mapping[str, str]:
    """The one place the host environment is read (for region, credentials and endpoints only)."""
    return os.environ
