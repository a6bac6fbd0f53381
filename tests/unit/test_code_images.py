"""A container-image function's image: found in the engine, or built from its SAM Metadata recipe (no
Docker: an in-memory image store)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from lambda_emu.config import ImageFunctionConfig, ImageRecipe
from lambda_emu.errors import ImageError
from lambda_emu.images.function_code import FUNCTION_IMAGE_LABEL, function_image


class MemoryImages:
    """The ImageBackend protocol over a set of tags; records builds."""

    def __init__(self, tags: Sequence[str] = ()) -> None:
        self.tags = set(tags)
        self.builds: list[tuple[Path, str, dict[str, str], dict[str, str]]] = []

    def exists(self, tag: str) -> bool:
        return tag in self.tags

    def import_tar(
        self, tar_path: Path, tag: str, *, labels: Mapping[str, str], changes: Sequence[str] = ()
    ) -> None:
        raise AssertionError("function images are built, never imported")

    def build(
        self,
        context_dir: Path,
        tag: str,
        *,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.builds.append((context_dir, tag, dict(buildargs), dict(labels)))
        self.tags.add(tag)

    def size(self, tag: str) -> int | None:
        return 1 if tag in self.tags else None

    def pull(self, ref: str) -> None:
        raise AssertionError("lambda-emu pulls no function images")


def image_function(tmp_path: Path, recipe: ImageRecipe | None) -> ImageFunctionConfig:
    return ImageFunctionConfig(
        name="img",
        runtime="",
        handler="",
        code_path=tmp_path,
        package_type="Image",
        image_uri="img:dev",
        recipe=recipe,
    )


def test_an_image_the_engine_has_is_used_as_it_is(tmp_path: Path) -> None:
    images = MemoryImages(["img:dev"])
    recipe = ImageRecipe(context_dir=tmp_path)
    assert function_image(image_function(tmp_path, recipe), images) == "img:dev"
    assert images.builds == []


def test_a_missing_image_is_built_from_its_recipe_with_its_build_args_and_labels(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    images = MemoryImages()
    recipe = ImageRecipe(context_dir=tmp_path, build_args={"BASE": "b:1"})
    assert function_image(image_function(tmp_path, recipe), images) == "img:dev"
    [(context, tag, args, labels)] = images.builds
    assert (context, tag, args) == (tmp_path, "img:dev", {"BASE": "b:1"})
    assert labels[FUNCTION_IMAGE_LABEL] == "img"


def test_a_missing_image_without_a_recipe_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="img:dev of function img is not in the local Docker engine") as info:
        function_image(image_function(tmp_path, None), MemoryImages())
    assert "docker build -t img:dev" in (info.value.hint or "")


def test_a_recipe_whose_dockerfile_is_missing_is_named(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="Dockerfile .* does not exist"):
        function_image(image_function(tmp_path, ImageRecipe(context_dir=tmp_path)), MemoryImages())


@pytest.mark.parametrize(
    "recipe_options", [{"dockerfile": "other.Dockerfile"}, {"target": "runtime"}], ids=["file", "target"]
)
def test_a_recipe_lambda_emu_cannot_build_gives_the_docker_command(
    tmp_path: Path, recipe_options: dict[str, str]
) -> None:
    recipe = ImageRecipe(context_dir=tmp_path, **recipe_options)  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="builds only a context's own Dockerfile") as info:
        function_image(image_function(tmp_path, recipe), MemoryImages())
    assert (info.value.hint or "").startswith("Build it first: docker build -t img:dev -f ")
