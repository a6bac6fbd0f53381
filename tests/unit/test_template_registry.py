"""serve's registry: Invoke finds a template's function by its logical ID too (as SAM's start-lambda), a
real name wins, the management reads keep Lambda's names, and an unloaded function says why (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu import service_model
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import ApiError, FunctionNotFoundError, TemplateError
from lambda_emu.server import TemplateRegistry


def function(name: str, logical_id: str | None, code: Path) -> FunctionConfig:
    return FunctionConfig(name, "python3.13", "app.handler", code, logical_id=logical_id)


@pytest.fixture
def registry(tmp_path: Path) -> TemplateRegistry:
    config = EmulatorConfig(state_dir=tmp_path / "state")
    functions = [
        function("orders-prod", "OrdersFunction", tmp_path),
        function("OrdersFunction-real", "Billing", tmp_path),
        function("Billing", "Other", tmp_path),  # a real name that is also another's logical ID
    ]
    problem = TemplateError("template.yaml: resource Broken, property Code: is required.", hint="Set Code")
    return TemplateRegistry(config, functions, unloaded={"Broken": problem, "broken-fn": problem})


def test_invoke_finds_a_function_by_its_logical_id(registry: TemplateRegistry) -> None:
    assert registry.resolve("OrdersFunction").function.name == "orders-prod"
    ref = registry.resolve("OrdersFunction:$LATEST")
    assert (ref.function.name, ref.qualifier) == ("orders-prod", "$LATEST")
    assert registry.resolve("Other").function.name == "Billing"


def test_a_real_function_name_wins_over_a_logical_id(registry: TemplateRegistry) -> None:
    assert registry.resolve("Billing").function.name == "Billing"


def test_management_reads_keep_lambdas_names(registry: TemplateRegistry) -> None:
    with pytest.raises(FunctionNotFoundError, match="Function not found: .*:function:OrdersFunction$"):
        registry.record("OrdersFunction")
    assert sorted(registry.names()) == ["Billing", "OrdersFunction-real", "orders-prod"]


def test_an_unloaded_function_answers_not_found_with_why(registry: TemplateRegistry) -> None:
    for name in ("Broken", "broken-fn"):
        with pytest.raises(FunctionNotFoundError) as info:
            registry.resolve(name)
        assert info.value.message.startswith(
            f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}."
        )
        assert "lambda-emu did not load it: template.yaml: resource Broken, property Code: is required." in (
            info.value.message
        )
        assert info.value.code == "ResourceNotFoundException"


def test_a_name_nothing_has_is_lambdas_plain_not_found(registry: TemplateRegistry) -> None:
    with pytest.raises(FunctionNotFoundError, match="^Function not found: .*:function:Nobody$"):
        registry.resolve("Nobody")
    with pytest.raises(FunctionNotFoundError):
        registry.resolve("orders-prod:no-such-alias")  # the function is there, the alias is not


def test_a_malformed_name_is_answered_in_the_models_words_and_a_well_formed_one_is_not_found(
    registry: TemplateRegistry,
) -> None:
    # In-process callers reach the registry without the API's check: it answers as the API does, with the
    # widest name pattern of the model (NamespacedFunctionName), not a copy of an older one.
    pattern = service_model.SHAPES["NamespacedFunctionName"]["pattern"]
    with pytest.raises(ApiError) as info:
        registry.resolve("bad name!")
    assert (info.value.code, info.value.message) == (
        "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}",
    )
    # What the model accepts beyond a function's own name ('.', $LATEST.PUBLISHED) names nothing here.
    for name in ("orders.prod", "orders-prod:$LATEST.PUBLISHED"):
        with pytest.raises(FunctionNotFoundError):
            registry.resolve(name)


def test_a_nested_function_is_found_by_its_logical_path(tmp_path: Path) -> None:
    config = EmulatorConfig(state_dir=tmp_path / "state")
    problem = TemplateError("child.yaml: resource Bad, property Code: is required.")
    registry = TemplateRegistry(
        config, [function("Child-Fn", "Child/Fn", tmp_path)], unloaded={"Child/Bad": problem}
    )
    assert registry.resolve("Child/Fn").function.name == "Child-Fn"
    assert registry.resolve("Child/Fn:$LATEST").qualifier == "$LATEST"
    with pytest.raises(FunctionNotFoundError, match="did not load it: child.yaml: resource Bad"):
        registry.resolve("Child/Bad")
    with pytest.raises(ApiError, match="failed to satisfy constraint"):  # Lambda's answer to a slash
        registry.resolve("Child/Nothing")
