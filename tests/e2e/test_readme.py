"""The README's examples run as written: every ```sh block marked `<!-- readme-test -->` is executed with
bash from the repository root (as a reader pastes it) and must succeed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"<!-- readme-test -->\n```sh\n(?P<body>.*?)```", re.S)


def readme_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    blocks = []
    for match in _BLOCK.finditer(text):
        heading = [line for line in text[: match.start()].splitlines() if line.startswith("## ")][-1]
        blocks.append((heading.removeprefix("## "), match.group("body")))
    return blocks


def test_the_readme_marks_its_examples() -> None:
    assert len(readme_blocks()) >= 4  # invoking, pytest, sample events, logs


@pytest.mark.parametrize(("heading", "body"), readme_blocks(), ids=[h for h, _ in readme_blocks()])
def test_readme_example_runs(heading: str, body: str) -> None:
    # The interpreter running the tests, first on PATH, so `python` and `lambda-emu` are the installed ones.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{heading}:\n{body}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
