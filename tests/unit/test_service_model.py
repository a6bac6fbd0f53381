"""lambda_emu/service_model.py against the installed botocore: generated from it and not edited since, every
operation the HTTP API serves in it, and the request shapes built from it equal to botocore's model but for
the members Lambda checks beyond the model."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambda_emu import service_model
from lambda_emu.api import http
from lambda_emu.config import EPHEMERAL_RANGE
from lambda_emu.control.request_shapes import OPERATIONS, RETIRED_RUNTIMES, RUNTIMES, Shape
from lambda_emu.control.validation import python_regex, validate_function_request
from lambda_emu.errors import ApiError

GENERATOR = Path(__file__).resolve().parents[2] / "tools" / "generate_service_model.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_service_model", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model(generator: ModuleType) -> dict[str, Any]:
    return generator.load_model()[2]  # type: ignore[no-any-return]


def test_the_module_is_generated_from_the_installed_botocore(generator: ModuleType) -> None:
    import botocore  # a test dependency, pinned in pyproject.toml: never skipped

    assert service_model.BOTOCORE_VERSION == botocore.__version__, f"run {generator.COMMAND}"
    # Regenerated in memory, the module is the same text: a pin upgrade or a hand edit without
    # regeneration fails here.
    regenerated = generator.render(*generator.load_model())
    assert regenerated == generator.TARGET.read_text(), f"run {generator.COMMAND}"


def _served(model: dict[str, Any]) -> set[str]:
    """The model's operations whose method and path (sample values in its {placeholders}) a route serves."""
    served = set()
    for name, operation in model["operations"].items():
        method, uri = operation["http"]["method"], operation["http"]["requestUri"].split("?")[0]
        sample = re.sub(r"\{\w+\+?\}", "sample", uri)
        if any(verb == method and pattern.match(sample) for verb, pattern, _ in http._ROUTES):
            served.add(name)
    return served


def test_every_operation_the_api_serves_is_validated_from_the_table(model: dict[str, Any]) -> None:
    served = _served(model)
    assert {"CreateFunction", "Invoke", "AddPermission", "TagResource", "PublishLayerVersion"} <= served
    assert served <= set(OPERATIONS)
    for operation in sorted(served):
        try:
            validate_function_request(operation, {})  # the table answers for it: no "no validation table"
        except ApiError:
            pass  # a required body member is missing, or a service rule refuses the empty request


def _compare(ours: Shape, model: dict[str, Any], shapes: dict[str, Any], where: str, seen: list[str]) -> None:
    if where in seen:
        return
    seen.append(where)
    kind = {"long": "integer", "float": "double"}.get(model["type"], model["type"])
    assert ours.kind == kind, where
    minimum, maximum, enum = model.get("min"), model.get("max"), tuple(model.get("enum", ()))
    # The hand-written exceptions of request_shapes.py, each where Lambda checks beyond the model.
    if re.fullmatch(r"(CreateFunction|UpdateFunctionConfiguration)\.MemorySize", where):
        minimum = None  # Lambda's own range check, in its own form
    elif re.fullmatch(r"(CreateFunction|UpdateFunctionConfiguration)\.Runtime", where):
        enum = ()  # Lambda's own runtime check (a runtime ARN is accepted too)
    elif where.endswith(".EphemeralStorage.Size"):
        minimum, maximum = EPHEMERAL_RANGE  # Lambda's quota, tighter than the model
    constraints = (ours.min, ours.max, ours.pattern, ours.enum)
    assert constraints == (minimum, maximum, model.get("pattern"), enum), where
    assert ours.sensitive == bool(model.get("sensitive")), f"{where}: sensitive"
    if kind == "structure":
        assert ours.required == tuple(model.get("required", ())), f"{where}: required"
        assert list(ours.members) == list(model["members"]), f"{where}: members, in the model's order"
        located = {name for name, ref in model["members"].items() if "location" in ref}
        assert set(ours.in_uri) == located, f"{where}: members the route supplies"
        for name, member in ours.members.items():
            _compare(member, shapes[model["members"][name]["shape"]], shapes, f"{where}.{name}", seen)
    elif kind == "list":
        assert ours.item is not None
        _compare(ours.item, shapes[model["member"]["shape"]], shapes, f"{where}[]", seen)
    elif kind == "map":
        assert ours.key is not None and ours.item is not None
        _compare(ours.key, shapes[model["key"]["shape"]], shapes, f"{where}{{key}}", seen)
        _compare(ours.item, shapes[model["value"]["shape"]], shapes, f"{where}{{value}}", seen)


def test_the_request_shapes_are_botocores_but_where_lambda_checks_beyond_it(model: dict[str, Any]) -> None:
    shapes = model["shapes"]
    seen: list[str] = []
    for operation, spec in model["operations"].items():
        _compare(OPERATIONS[operation], shapes[spec["input"]["shape"]], shapes, operation, seen)
    assert set(OPERATIONS) == set(model["operations"])
    for where in (
        "UpdateFunctionConfiguration.Environment.Variables{key}",
        "UpdateFunctionConfiguration.FileSystemConfigs[].LocalMountPath",
        "CreateAlias.RoutingConfig.AdditionalVersionWeights{value}",
        "PublishLayerVersion.CompatibleRuntimes[]",
        "TagResource.Tags{key}",
    ):
        assert where in seen, where
    assert len(seen) > 700


def test_every_pattern_of_the_model_compiles(model: dict[str, Any]) -> None:
    for shape in model["shapes"].values():
        if "pattern" in shape:
            re.compile(python_regex(shape["pattern"]), re.ASCII)  # Java's \p{L} classes written out


def test_the_runtimes_are_the_models_enum_in_its_order(model: dict[str, Any]) -> None:
    assert RUNTIMES == tuple(model["shapes"]["Runtime"]["enum"])
    assert RETIRED_RUNTIMES < set(RUNTIMES)
