"""Reading one function or layer resource of a template into configuration; every error names the
template, the logical ID and the property."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lambda_emu.config import MAX_LAYERS, AsyncConfig, EmulatorConfig, FunctionConfig
from lambda_emu.errors import ConfigError, TemplateError
from lambda_emu.template.intrinsics import (
    NO_VALUE,
    Resolver,
    UnresolvableError,
    is_intrinsic,
    text_of,
    whole_number,
)

LOG = logging.getLogger(__name__)

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
LAMBDA_LAYER = "AWS::Lambda::LayerVersion"
LAYER_TYPES = (SERVERLESS_LAYER, LAMBDA_LAYER)
# Lambda writes inline code (Code.ZipFile) as index.py or index.js; only these runtimes accept it.
_INLINE_FILES = {"python": "index.py", "nodejs": "index.js"}
_MISSING: Any = object()
# CDK's asset metadata (`cdk synth`; SAM CLI reads it too): the local folder or file that deploying uploads
# for the property named.
ASSET_PATH = "aws:asset:path"
ASSET_PROPERTY = "aws:asset:property"


# Lambda runs managed runtimes as sbx_user1051 (uid 993, gid 990); so does lambda-emu, code mounted as is.
SANDBOX_UID, SANDBOX_GID = 993, 990


def unreadable_by_sandbox(code_path: Path, handler: str) -> Path | None:
    """The code folder, or its handler's module file, when the sandbox user cannot read it (by its
    permission bits as this machine reports them); None when it can, or when that cannot be told."""
    if not code_path.is_dir():
        return None  # a .zip is extracted into a folder lambda-emu makes readable
    module = handler.rpartition(".")[0]
    # Python's module path is dotted (pkg.mod), Node's a file path (dir/index).
    candidates = [code_path / f"{module.replace('.', '/')}.py"] if module else []
    candidates += [code_path / f"{module}{suffix}" for suffix in (".js", ".mjs", ".cjs")] if module else []
    for path, needed in [(code_path, 0o5), *((candidate, 0o4) for candidate in candidates)]:
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_uid == SANDBOX_UID:
            bits = info.st_mode >> 6
        elif info.st_gid == SANDBOX_GID:
            bits = info.st_mode >> 3
        else:
            bits = info.st_mode
        if bits & needed != needed:
            return path
    return None


@dataclass(frozen=True)
class LocalLayer:
    """A layer of the template: its content on this machine, or why it has none (`problem`)."""

    logical_id: str
    content: Path | None
    problem: TemplateError | None = None


class ResourceReader:
    """Reads one function (or layer) resource; `properties` are the function's merged over Globals."""

    def __init__(
        self,
        path: Path,
        lid: str,
        resource: Mapping[str, Any],
        resolver: Resolver,
        emulator: EmulatorConfig,
        properties: Mapping[str, Any],
        stack: tuple[str, ...] = (),  # the logical IDs of the nested applications it is in, outermost first
    ) -> None:
        self.path, self.lid, self.resource = path, lid, resource
        self.stack = stack
        self.resolver, self.emulator = resolver, emulator
        self.properties = properties
        self.serverless = resource["Type"] == SERVERLESS_FUNCTION

    def error(self, key: str, detail: str, hint: str | None = None) -> TemplateError:
        return TemplateError(f"{self.path}: resource {self.lid}, property {key}: {detail}.", hint=hint)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """A property resolved; `default` when absent or AWS::NoValue."""
        if key not in self.properties:
            return default
        value = self.resolve_as(key, self.properties[key])
        return default if value is NO_VALUE else value

    def resolve_as(self, key: str, value: Any) -> Any:
        try:
            return self.resolver.resolve(value)
        except UnresolvableError as exc:
            hint = "Use a template parameter instead, and give it a value with a parameter override"
            raise self.error(key, exc.message, hint) from exc
        except TemplateError as exc:
            raise self.error(key, exc.message, exc.hint) from exc

    def included(self) -> bool:
        if "Condition" not in self.resource:
            return True
        try:
            return self.resolver.condition(self.resource["Condition"])
        except TemplateError as exc:
            raise TemplateError(
                f"{self.path}: resource {self.lid}, Condition: {exc.message}.", hint=exc.hint
            ) from exc

    def is_image(self) -> bool:
        # Code is looked at unresolved: CDK's S3 location of a .zip asset refers to parameters with no value.
        code = self.properties.get("Code") if not self.serverless else None
        return self.get("PackageType", "Zip") == "Image" or (isinstance(code, dict) and "ImageUri" in code)

    def asset(self, key: str) -> str | None:
        """The local asset CDK's Metadata gives for property `key` (aws:asset:path, relative to the
        template, as `cdk synth` writes it into cdk.out), which stands in for the property's S3 or ECR
        location; None when the Metadata names no asset for it."""
        metadata = self.resource.get("Metadata")
        if (
            not isinstance(metadata, dict)
            or metadata.get(ASSET_PROPERTY) != key
            or ASSET_PATH not in metadata
        ):
            return None
        path = metadata[ASSET_PATH]
        if not isinstance(path, str) or not path:
            raise self.error(key, f"its asset (Metadata {ASSET_PATH}) must be a path; got {path!r}")
        return path

    def common(self) -> dict[str, Any]:
        """The FunctionConfig fields every function has, whatever its package type."""
        try:
            name = self.resolver.physical_name(self.lid)
        except TemplateError as exc:
            raise self.error("FunctionName", exc.message) from exc
        architectures = self.get("Architectures", ["x86_64"])
        if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
            raise self.error("Architectures", f"must be a list of names; got {architectures!r}")
        storage = self.get("EphemeralStorage", {})
        if not isinstance(storage, dict):
            raise self.error("EphemeralStorage", f"must be a mapping with Size; got {storage!r}")
        return {
            "name": name,
            "memory_size": self.whole("MemorySize", self.get("MemorySize", 128)),
            "timeout": self.whole("Timeout", self.get("Timeout", 3)),
            "ephemeral_storage": self.whole("EphemeralStorage.Size", storage.get("Size", 512)),
            "environment": self.environment(),
            "architectures": tuple(architectures),
            "description": self.string("Description", ""),
            "logical_id": self.lid,
            "reserved_concurrency": self.optional_whole("ReservedConcurrentExecutions"),
            "async_config": self.async_config(),
            # SAM: publish a version when code or configuration changed and point this alias at it.
            "auto_publish_alias": self.string("AutoPublishAlias", "") or None,
        }

    def optional_whole(self, key: str) -> int | None:
        value = self.get(key, None)
        return None if value is None else self.whole(key, value)

    def async_config(self) -> AsyncConfig:
        """EventInvokeConfig (SAM's property) and the dead-letter target: SAM's DeadLetterQueue
        {Type, TargetArn} or CloudFormation's DeadLetterConfig {TargetArn}."""
        invoke_config = self.get("EventInvokeConfig", {}) if self.serverless else {}
        if not isinstance(invoke_config, dict):
            raise self.error("EventInvokeConfig", f"must be a mapping; got {invoke_config!r}")
        dlq_key = "DeadLetterQueue" if self.serverless else "DeadLetterConfig"
        dlq = self.get(dlq_key, {})
        if not isinstance(dlq, dict):
            raise self.error(dlq_key, f"must be a mapping with TargetArn; got {dlq!r}")
        return self.event_invoke_config(
            invoke_config, "EventInvokeConfig", AsyncConfig(dead_letter_target=self._arn(dlq_key, dlq))
        )

    def event_invoke_config(self, fields: Mapping[str, Any], key: str, base: AsyncConfig) -> AsyncConfig:
        """EventInvokeConfig fields (SAM's property or an AWS::Lambda::EventInvokeConfig resource) over
        `base`, validated as Lambda validates them."""
        destinations = fields.get("DestinationConfig", {})
        if not isinstance(destinations, dict):
            raise self.error(f"{key}.DestinationConfig", f"must be a mapping; got {destinations!r}")
        config = replace(
            base,
            maximum_retry_attempts=self.whole(
                f"{key}.MaximumRetryAttempts", fields.get("MaximumRetryAttempts", base.maximum_retry_attempts)
            ),
            maximum_event_age_seconds=self.whole(
                f"{key}.MaximumEventAgeInSeconds",
                fields.get("MaximumEventAgeInSeconds", base.maximum_event_age_seconds),
            ),
            on_success=self._destination(key, destinations, "OnSuccess") or base.on_success,
            on_failure=self._destination(key, destinations, "OnFailure") or base.on_failure,
        )
        try:
            return config.validate()
        except ConfigError as exc:
            raise self.error(key, exc.message) from exc

    def _destination(self, key: str, destinations: Mapping[str, Any], which: str) -> str | None:
        target = destinations.get(which)
        if target is None:
            return None
        if not isinstance(target, dict):
            raise self.error(f"{key}.DestinationConfig.{which}", f"must be a mapping; got {target!r}")
        # SAM's form names the ARN "Destination" (plus a Type); so does CloudFormation's.
        return self._arn(f"{key}.DestinationConfig.{which}", target, field_name="Destination")

    def _arn(self, key: str, mapping: Mapping[str, Any], field_name: str = "TargetArn") -> str | None:
        value = mapping.get(field_name)
        if value is None:
            return None
        value = self.resolve_as(f"{key}.{field_name}", value)
        if not isinstance(value, str) or not value.startswith("arn:"):
            raise self.error(f"{key}.{field_name}", f"must be an ARN; got {value!r}")
        return value

    def function(self, local_layers: Mapping[str, LocalLayer]) -> FunctionConfig:
        """A .zip-package function; its Layers must name layers of this template (`local_layers`: by ARN)."""
        runtime = self.string("Runtime")
        handler = self.string("Handler")
        code_path = self.code_path(runtime)
        unreadable = unreadable_by_sandbox(code_path, handler)
        if unreadable is not None:
            # A warning, not an error: an engine that maps file ownership (Docker Desktop) may show the
            # container more than these bits say.
            LOG.warning(
                "Function %s: %s is not readable by the sandbox user the function runs as (uid %d), so its "
                "code will fail to load; make it readable: chmod -R o+rX %s",
                self.lid, unreadable, SANDBOX_UID, code_path,
            )  # fmt: skip
        return FunctionConfig(
            runtime=runtime,
            handler=handler,
            code_path=code_path,
            layers=self.layers(local_layers),
            **self.common(),
        )

    def layers(self, local: Mapping[str, LocalLayer]) -> tuple[Path, ...]:
        arns = self.get("Layers", [])
        if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
            raise self.error("Layers", f"must be a list of layer ARNs or Refs to layers; got {arns!r}")
        if len(arns) > MAX_LAYERS:
            # Refused where Lambda refuses it, at deployment, rather than at the first invoke.
            raise self.error("Layers", f"cannot reference more than {MAX_LAYERS} layers; got {len(arns)}")
        paths = []
        for arn in arns:
            layer = local.get(arn)
            if layer is None:
                raise self.error(
                    "Layers",
                    f"{arn} is not a layer of this template, and lambda-emu supports only local layers",
                    hint="Download the layer's content (`aws lambda get-layer-version-by-arn --arn ARN` "
                    "gives its Content.Location), declare it in the template as an "
                    "AWS::Serverless::LayerVersion with that folder as ContentUri, and refer to it with !Ref",
                )
            if layer.content is None:
                problem = layer.problem or TemplateError(f"layer {layer.logical_id} has no content")
                detail = problem.message.removeprefix(f"{self.path}: ").rstrip(".")
                if not detail.startswith("layer "):
                    detail = f"layer {layer.logical_id} cannot be loaded: {detail}"
                raise self.error("Layers", detail, problem.hint)
            paths.append(layer.content)
        return tuple(paths)

    def layer_content(self) -> Path:
        """The local folder or zip of a LayerVersion resource (ContentUri, or Content as a local path)."""
        key = "ContentUri" if self.resource["Type"] == SERVERLESS_LAYER else "Content"
        asset = self.asset(key)
        if asset is not None:
            return self.asset_path(f"{key} (Metadata {ASSET_PATH})", asset)
        content = self.get(key, None)
        if content is None:
            raise self.error(key, "is required")
        return self.local_path(key, content)

    def string(self, key: str, default: str | None = None) -> str:
        value = self.get(key, default)
        if value is None:
            raise self.error(key, "is required")
        if not isinstance(value, str):
            raise self.error(key, f"must be a string; got {value!r}")
        return value

    def strings(self, key: str, value: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, f"must be a list of strings; got {value!r}")
        return tuple(value)

    def whole(self, key: str, value: Any) -> int:
        # YAML templates keep numbers as text and Number parameters are strings: both convert here.
        number = whole_number(value)
        if number is None:
            raise self.error(key, f"must be a whole number; got {value!r}")
        return number

    def environment(self) -> dict[str, str]:
        environment = self.properties.get("Environment", {})
        if is_intrinsic(environment) or not isinstance(environment, dict):
            environment = self.get("Environment", {})  # resolved whole: no per-variable fallback
        if not isinstance(environment, dict):
            raise self.error("Environment", f"must be a mapping with Variables; got {environment!r}")
        variables = environment.get("Variables", {})
        if is_intrinsic(variables):
            variables = self.resolve_as("Environment.Variables", variables)
        if not isinstance(variables, dict):
            raise self.error("Environment.Variables", f"must be a mapping; got {variables!r}")
        resolved: dict[str, str] = {}
        for key, raw in variables.items():
            what = f"Environment.Variables.{key}"
            try:
                value = self.resolver.resolve(raw)
            except UnresolvableError as exc:
                # SAM CLI sets a variable it cannot resolve to "": keeping it defined lets code that reads
                # os.environ[key] at import still start, and --env-vars can give the real value.
                LOG.warning(
                    '%s of %s: %s; set to "" (give a value with --env-vars).', what, self.lid, exc.message
                )
                value = ""
            except TemplateError as exc:
                raise self.error(what, exc.message, exc.hint) from exc
            if value is NO_VALUE:
                continue
            try:
                # YAML's true becomes "true" and an empty value "", as SAM CLI writes them.
                resolved[str(key)] = "" if value is None else text_of(value, "the value")
            except TemplateError as exc:
                raise self.error(what, exc.message) from exc
        return resolved

    def code_path(self, runtime: str) -> Path:
        if self.serverless:
            # A function's own InlineCode wins over a CodeUri from Globals; both on the function is an error.
            own = self.resource.get("Properties") or {}
            if "InlineCode" in own:
                if "CodeUri" in own:
                    raise self.error("InlineCode", "give either CodeUri or InlineCode, not both")
                return self.inline_code("InlineCode", self.get("InlineCode"), runtime)
            asset = self.asset("CodeUri")
            if asset is not None:
                return self.asset_path(f"CodeUri (Metadata {ASSET_PATH})", asset)
            # SAM CLI defaults CodeUri to the template's folder.
            return self.local_path("CodeUri", self.get("CodeUri", "."))
        asset = self.asset("Code")
        if asset is not None:
            return self.asset_path(f"Code (Metadata {ASSET_PATH})", asset)
        code = self.get("Code", None)
        if isinstance(code, dict) and "ZipFile" in code:
            return self.inline_code("Code.ZipFile", code["ZipFile"], runtime)
        if code is None:
            raise self.error(
                "Code",
                "is required",
                hint="Set Code to the local folder or .zip of the function's code (lambda-emu runs local "
                "code only), or use the template `sam build` writes to .aws-sam/build",
            )
        return self.local_path("Code", code)  # SAM CLI also takes a local path as Code

    def asset_path(self, key: str, asset: str) -> Path:
        try:
            return self.local_path(key, asset)
        except TemplateError as exc:
            hint = "Run `cdk synth` again: it writes each asset into cdk.out, beside the template"
            raise TemplateError(exc.message, hint=hint) from exc

    def local_path(self, key: str, value: Any) -> Path:
        s3 = isinstance(value, dict) or (isinstance(value, str) and value.startswith("s3://"))
        if s3:
            raise self.error(
                key,
                f"points to S3 ({value}); lambda-emu runs only local folders and .zip files",
                hint="Point it at the code folder, or use the template `sam build` writes to .aws-sam/build",
            )
        if not isinstance(value, str):
            raise self.error(key, f"must be a path; got {value!r}")
        path = (self.path.parent / value).resolve()
        if not path.exists():
            raise self.error(key, f"{path} does not exist")
        if path.is_file() and not zipfile.is_zipfile(path):
            raise self.error(key, f"{path} is neither a folder nor a .zip file")
        return path

    def inline_code(self, key: str, code: Any, runtime: str) -> Path:
        if not isinstance(code, str):
            raise self.error(key, f"must be the code as a string; got {code!r}")
        family = next((f for f in _INLINE_FILES if runtime.startswith(f)), None)
        if family is None:
            raise self.error(key, f"inline code runs only on Python and Node.js runtimes, not {runtime}")
        folder = self.emulator.state_dir.joinpath("inline", *self.stack, self.lid).resolve()
        file = folder / _INLINE_FILES[family]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Rewritten only when changed: the reloader watches code folders, and an unchanged
            # function must keep its warm environments.
            if not file.is_file() or file.read_text(encoding="utf-8") != code:
                file.write_text(code, encoding="utf-8")
        except OSError as exc:
            raise self.error(key, f"cannot write the inline code to {file}: {exc.strerror or exc}") from exc
        return folder
