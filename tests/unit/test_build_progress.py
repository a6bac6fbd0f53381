"""Image builds report progress: a container-image function's build says what it builds, relays the
build's own lines indented (the live line's detail on a terminal) and says when it is done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from lambda_emu.config import ImageRecipe
from lambda_emu.images.function_code import function_image
from tests.unit.test_code_images import MemoryImages, image_function


class TalkingImages(MemoryImages):
    def build(
        self,
        context_dir: Path,
        tag: str,
        *,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        assert on_line is not None
        on_line("Step 1/2 : FROM scratch")
        on_line("Step 2/2 : COPY app.py .")
        super().build(context_dir, tag, buildargs=buildargs, labels=labels, on_line=on_line)


def test_a_function_image_build_reports_its_stages_and_relays_the_builds_lines(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    heard: list[str] = []
    tag = function_image(
        image_function(tmp_path, ImageRecipe(context_dir=tmp_path)), TalkingImages(), progress=heard.append
    )
    assert tag == "img:dev"
    assert heard[0] == f"img: building its image img:dev from {tmp_path}"
    assert heard[1:3] == ["  build: Step 1/2 : FROM scratch", "  build: Step 2/2 : COPY app.py ."]
    assert heard[3].startswith("img: built img:dev in ") and heard[3].endswith(" s")


def test_an_image_the_engine_has_says_nothing(tmp_path: Path) -> None:
    heard: list[str] = []
    function_image(
        image_function(tmp_path, ImageRecipe(context_dir=tmp_path)),
        MemoryImages(["img:dev"]),
        progress=heard.append,
    )
    assert heard == []
