"""Container-image functions of a template (PackageType Image): ImageUri, ImageConfig and SAM's Metadata
(DockerContext, Dockerfile, DockerTag, DockerBuildArgs), which says how to build the image."""

from __future__ import annotations

import logging
from typing import Any

from lambda_emu.config import ImageConfig, ImageFunctionConfig, ImageRecipe
from lambda_emu.errors import TemplateError
from lambda_emu.template.reader import ASSET_PATH, ResourceReader

LOG = logging.getLogger(__name__)

# Properties of .zip functions only: taken from Globals for them, never for an image function.
ZIP_ONLY = ("Runtime", "Handler", "Layers", "CodeUri", "InlineCode")


def image_function(reader: ResourceReader) -> ImageFunctionConfig:
    own = reader.resource.get("Properties") or {}
    if "Layers" in own:
        # Lambda adds no layers to container images; SAM refuses the property on them.
        raise reader.error("Layers", "cannot be present when PackageType is Image: images carry their own")
    if reader.serverless:
        present = [key for key in ("Runtime", "Handler") if key in own]
        if present:
            raise reader.error(
                present[0],
                "Runtime and Handler cannot be present when PackageType is Image (SAM's rule)",
                hint="Set the handler with ImageConfig.Command, or in the image's CMD",
            )
    cdk = _cdk_recipe(reader)
    recipe, default_tag = cdk or _recipe(reader)
    # CDK's ImageUri names the ECR repository a deploy pushes the asset to: the asset built here stands in.
    image_uri = None if cdk else _image_uri(reader)
    if image_uri is None and default_tag is None:
        key = "ImageUri" if reader.serverless else "Code.ImageUri"
        raise reader.error(
            key,
            "is required for PackageType Image (or Metadata with DockerContext and Dockerfile, "
            "from which lambda-emu builds the image)",
            hint=f"Set {key} to an image the Docker engine has (`docker images`), or add the Metadata; "
            "`sam build` writes the built image's tag into .aws-sam/build/template.yaml",
        )
    return ImageFunctionConfig(
        runtime="",
        handler="",
        # Not mounted; what a reloader may watch: the image's build context, else the template's folder.
        code_path=recipe.context_dir if recipe else reader.path.parent.resolve(),
        package_type="Image",
        image_uri=image_uri or default_tag,
        image_config=_image_config(reader),
        recipe=recipe,
        **reader.common(),
    )


def _image_uri(reader: ResourceReader) -> str | None:
    if reader.serverless:
        value = reader.get("ImageUri", None)
        key = "ImageUri"
    else:
        code = reader.get("Code", None)
        value = code.get("ImageUri") if isinstance(code, dict) else None
        key = "Code.ImageUri"
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise reader.error(key, f"must be an image reference; got {value!r}")
    return value


def _image_config(reader: ResourceReader) -> ImageConfig | None:
    value = reader.get("ImageConfig", None)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise reader.error("ImageConfig", f"must be a mapping; got {value!r}")
    unknown = sorted(set(value) - {"EntryPoint", "Command", "WorkingDirectory"})
    if unknown:
        raise reader.error(
            "ImageConfig", f"has unknown keys {unknown} (EntryPoint, Command, WorkingDirectory)"
        )
    directory = value.get("WorkingDirectory")
    if directory is not None and not isinstance(directory, str):
        raise reader.error("ImageConfig.WorkingDirectory", f"must be a path; got {directory!r}")
    return ImageConfig(
        entry_point=reader.strings("ImageConfig.EntryPoint", value.get("EntryPoint")),
        command=reader.strings("ImageConfig.Command", value.get("Command")),
        working_directory=directory or None,
    )


def _cdk_recipe(reader: ResourceReader) -> tuple[ImageRecipe, str] | None:
    """The recipe of a CDK image asset (Metadata aws:asset:path for Code.ImageUri, with its Dockerfile, build
    args and target), tagged as SAM CLI tags it: the logical ID in lower case."""
    asset = reader.asset("ImageUri" if reader.serverless else "Code.ImageUri")
    if asset is None:
        return None
    metadata = reader.resource["Metadata"]
    context = (reader.path.parent / asset).resolve()
    if not context.is_dir():
        raise TemplateError(
            f"{reader.path}: resource {reader.lid}, Metadata.{ASSET_PATH}: {context} is not a folder.",
            hint="Run `cdk synth` again: it writes each asset into cdk.out beside the template",
        )
    args = metadata.get("aws:asset:docker-build-args") or {}
    dockerfile = metadata.get("aws:asset:dockerfile-path") or "Dockerfile"
    target = metadata.get("aws:asset:docker-build-target")
    if (
        not isinstance(args, dict)
        or not isinstance(dockerfile, str)
        or not isinstance(target, (str, type(None)))
    ):
        raise TemplateError(
            f"{reader.path}: resource {reader.lid}, Metadata: aws:asset:dockerfile-path and "
            "aws:asset:docker-build-target must be strings, aws:asset:docker-build-args a mapping."
        )
    recipe = ImageRecipe(
        context_dir=context,
        dockerfile=dockerfile,
        build_args={str(key): str(value) for key, value in args.items()},
        target=target,
    )
    return recipe, f"{reader.lid.lower()}:latest"


def _recipe(reader: ResourceReader) -> tuple[ImageRecipe | None, str | None]:
    """The build recipe of SAM's Metadata, and the tag `sam build` gives its image: <id>:<DockerTag>."""
    metadata = reader.resource.get("Metadata")
    if not isinstance(metadata, dict) or not ({"DockerContext", "Dockerfile"} & set(metadata)):
        return None, None
    try:
        resolved: dict[str, Any] = reader.resolver.resolve(metadata)
    except TemplateError as exc:
        raise TemplateError(f"{reader.path}: resource {reader.lid}, Metadata: {exc.message}.") from exc

    def text(key: str, default: str | None) -> str | None:
        value = resolved.get(key, default)
        if value is not None and not isinstance(value, str):
            raise TemplateError(f"{reader.path}: resource {reader.lid}, Metadata.{key} must be a string.")
        return value

    context = (reader.path.parent / (text("DockerContext", ".") or ".")).resolve()
    if not context.is_dir():
        raise TemplateError(
            f"{reader.path}: resource {reader.lid}, Metadata.DockerContext: {context} is not a folder."
        )
    args = resolved.get("DockerBuildArgs") or {}
    if not isinstance(args, dict):
        raise TemplateError(
            f"{reader.path}: resource {reader.lid}, Metadata.DockerBuildArgs must be a mapping."
        )
    recipe = ImageRecipe(
        context_dir=context,
        dockerfile=text("Dockerfile", "Dockerfile") or "Dockerfile",
        build_args={str(key): str(value) for key, value in args.items()},
        target=text("DockerBuildTarget", None),
    )
    return recipe, f"{reader.lid.lower()}:{text('DockerTag', 'latest')}"
