"""The README's table of supported operations names exactly the operations `serve` answers: each operation of
botocore's Lambda model whose method and path one of the API's routes takes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lambda_emu.api.http import _ROUTES

README = Path(__file__).resolve().parents[2] / "README.md"


def _model() -> dict[str, Any]:
    from botocore import loaders  # a test dependency (boto3): never skipped

    return loaders.Loader().load_service_model("lambda", "service-2")  # type: ignore[no-any-return]


def served_operations() -> set[str]:
    served = set()
    for operation, spec in _model()["operations"].items():
        uri = re.sub(r"\{\w+\+?\}", "x", spec["http"]["requestUri"].split("?")[0])
        if any(verb == spec["http"]["method"] and pattern.match(uri) for verb, pattern, _ in _ROUTES):
            served.add(operation)
    return served


def table_operations() -> set[str]:
    text = README.read_text()
    lines = text[text.index("### Supported operations") :].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next(i for i in range(first, len(lines)) if not lines[i].startswith("|"))
    rows = lines[first + 2 : end]  # the block's rows after its header and rule
    names: set[str] = set()
    for row in rows:
        names.update(name.strip() for name in row.split("|")[1].split(","))
    return names


def test_the_readme_table_lists_every_operation_served_and_no_other() -> None:
    served = served_operations()
    assert len(served) > 50
    assert table_operations() == served
