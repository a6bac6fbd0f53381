"""The package's layering, checked from its imports: calls go downward only (a part may import its own modules
and those of lower layers, never a higher layer or another part of its own layer), and each third-party
package is imported only by the modules that own it. Imports under `if TYPE_CHECKING:` are annotations, not
calls, and are not counted."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lambda_emu"

# Lowest first. A part is a sub-package or a top-level module of lambda_emu.
LAYERS: tuple[tuple[str, ...], ...] = (
    # vocabulary: wire names, the exception tree, ARNs, AWS settings, Lambda's API model (generated data)
    ("wire", "errors", "arns", "awsconfig", "service_model"),
    ("models", "config", "cleanup", "aws_clients", "statedir"),  # invocations, functions; host identity
    ("containers", "events", "template"),  # the container backends; sample events; templates
    ("images", "engine"),  # runtime images and packaging; invoker -> pool -> environment -> runtime API
    ("control", "facade", "reload", "async_invoke"),  # control plane state; the one-shot root; reload; async
    ("event_sources",),  # pollers of queues, calling the control plane's functions
    ("api", "pytest_plugin", "gateway"),  # the AWS-compatible HTTP API; the users' fixtures; API Gateway
    ("server",),  # the composition root of `serve`
    ("cli",),  # the only place that uses click and writes to the terminal
    ("__main__",),
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}

# Third-party package -> the modules (paths under lambda_emu/) that may import it.
OWNERS = {
    "docker": ("containers/",),
    "click": ("cli/",),
    "watchdog": ("reload/watcher.py",),
    "psutil": ("cleanup.py",),
    "yaml": ("template/source.py",),
    "boto3": ("aws_clients.py",),
    "botocore": ("aws_clients.py",),
    "cryptography": ("control/vault.py",),
}


def _part(module: str) -> str:
    """`lambda_emu.engine.pool` -> `engine`; `lambda_emu.wire` -> `wire`."""
    return module.split(".")[1]


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in the file, outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    annotations = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in annotations:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lambda_emu":  # from lambda_emu import wire, errors
                for alias in node.names:
                    yield node.lineno, f"lambda_emu.{alias.name}"
            else:
                yield node.lineno, node.module


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_layer() -> None:
    parts = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in _modules()}
    parts.discard("__init__")
    assert parts - set(RANK) == set(), "give each new part of lambda_emu a place in LAYERS"


def test_imports_go_downward_only() -> None:
    wrong = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        if relative.parts == ("__init__.py",):
            continue
        own = relative.parts[0].removesuffix(".py")
        for line, module in _imports(path):
            if not module.startswith("lambda_emu.") or _part(module) == own:
                continue
            target = _part(module)
            if RANK[target] >= RANK[own]:
                wrong.append(
                    f"lambda_emu/{relative}:{line} ({own}, layer {RANK[own]}) imports {module} "
                    f"({target}, layer {RANK[target]})"
                )
    assert wrong == []


def test_third_party_packages_are_imported_only_by_their_owners() -> None:
    wrong = []
    for path in _modules():
        relative = str(path.relative_to(PACKAGE))
        for line, module in _imports(path):
            owners = OWNERS.get(module.split(".")[0])
            if owners is not None and not any(relative.startswith(owner) for owner in owners):
                wrong.append(f"lambda_emu/{relative}:{line} imports {module} (owned by {', '.join(owners)})")
    assert wrong == []


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The import reader finds what the two rules look for (so a green run means something)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nimport docker\nfrom lambda_emu import server\n"
        "if TYPE_CHECKING:\n    from lambda_emu.cli import main\n"
    )
    assert list(_imports(sample)) == [(1, "typing"), (2, "docker"), (3, "lambda_emu.server")]


def test_every_package_is_installed() -> None:
    """pyproject lists the packages by hand (runtimes/ is mapped in as lambda_emu.runtime_contexts, which
    discovery would not find): a new sub-package must be listed, or an installed lambda-emu lacks it."""
    import re

    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)^\]", pyproject, re.M | re.S)
    assert block is not None
    listed = set(re.findall(r'"([\w.]+)"', block.group(1)))
    packages = {
        ".".join(("lambda_emu", *init.parent.relative_to(PACKAGE).parts))
        for init in PACKAGE.rglob("__init__.py")
    }
    assert packages - listed == set()
