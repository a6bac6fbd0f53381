"""Provisioned concurrency configs in the control plane, over a recording provisioner (no Docker): which
version a config provisions, how an alias moving or a version going changes that, which version an invoke is
served by, the limits, and the configs kept in the state directory for a new server to allocate again."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control.concurrency import ConcurrencyLimits
from lambda_emu.control.plane import ControlPlane
from lambda_emu.control.provisioned import ProvisionedConcurrencyConfigs
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.store import open_store
from lambda_emu.engine.provisioned import Allocation, ProvisionedStatus
from lambda_emu.errors import LambdaEmuError, api_code


class Live:
    def __init__(self, function: FunctionConfig, count: int) -> None:
        self.function, self.count = function, count

    def allocation(self) -> Allocation:
        return Allocation(ProvisionedStatus.READY, self.count, self.count)


class RecordingProvisioner:
    """The emulator's side, recorded: which version each target's environments are of."""

    def __init__(self) -> None:
        self.live: dict[str, Live] = {}

    def provision(self, target: str, function: FunctionConfig, count: int) -> Live:
        self.live[target] = Live(function, count)
        return self.live[target]

    def provisioned(self, target: str) -> Live | None:
        return self.live.get(target)

    def unprovision(self, target: str) -> None:
        self.live.pop(target, None)

    def versions(self) -> dict[str, tuple[str, int]]:
        return {target: (live.function.version, live.count) for target, live in self.live.items()}


class Stack:
    def __init__(self, root: Path, limits: ConcurrencyLimits | None = None) -> None:
        code = root / "code"
        code.mkdir(exist_ok=True)
        config = EmulatorConfig(state_dir=root / "state")
        function = FunctionConfig("fn", "python3.13", "app.handler", code)
        # The store a server keeps in the state directory: a second Stack on it is a restarted server.
        self.registry = FunctionRegistry(config, [function], open_store(config.state_dir))
        self.plane = ControlPlane(self.registry, lambda name: None, config)
        self.limits = limits or ConcurrencyLimits()
        self.provisioner = RecordingProvisioner()
        self.configs = ProvisionedConcurrencyConfigs(
            self.registry, self.limits, self.provisioner, config, config.state_dir
        )


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    stack = Stack(tmp_path)
    stack.plane.publish_version("fn", {})
    stack.plane.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    return stack


def error(call: object, *args: object) -> tuple[str, str]:
    with pytest.raises(LambdaEmuError) as raised:
        call(*args)  # type: ignore[operator]
    return api_code(raised.value), raised.value.message


def test_an_alias_config_provisions_its_version_and_serves_every_invoke_of_that_version(stack: Stack) -> None:
    before = stack.plane.get_function_configuration("fn", "1")
    answer = stack.configs.put("fn", "live", {"ProvisionedConcurrentExecutions": 2})
    after = stack.plane.get_function_configuration("fn", "1")
    # The version is a new revision, otherwise the same (as AWS answers it).
    assert after["RevisionId"] != before["RevisionId"] and {**after, "RevisionId": None} == {
        **before,
        "RevisionId": None,
    }
    assert answer == {
        "RequestedProvisionedConcurrentExecutions": 2,
        "AvailableProvisionedConcurrentExecutions": 0,
        "AllocatedProvisionedConcurrentExecutions": 0,
        "Status": "IN_PROGRESS",
        "LastModified": answer["LastModified"],
    }
    assert stack.provisioner.versions() == {"fn:live": ("1", 2)}
    assert stack.configs.target("fn", "1") == "fn:live"  # through the alias or by number alike
    assert stack.configs.target("fn", "$LATEST") is None
    assert stack.configs.get("arn:aws:lambda:us-east-1:123456789012:function:fn:live", None) == {
        **answer,
        "AvailableProvisionedConcurrentExecutions": 2,
        "AllocatedProvisionedConcurrentExecutions": 2,
        "Status": "READY",
    }


def test_an_alias_moved_to_another_version_takes_its_provisioned_environments_along(stack: Stack) -> None:
    stack.configs.put("fn", "live", {"ProvisionedConcurrentExecutions": 1})
    stack.plane.update_function_configuration("fn", {"Description": "second"})
    stack.plane.wait_settled("fn", 10)
    stack.plane.publish_version("fn", {})
    stack.plane.update_alias("fn", "live", {"FunctionVersion": "2"})
    stack.configs.alias_moved("fn", "live")
    assert stack.provisioner.versions() == {"fn:live": ("2", 1)}
    assert stack.configs.target("fn", "2") == "fn:live" and stack.configs.target("fn", "1") is None


def test_a_version_is_provisioned_through_itself_or_one_alias_not_both(stack: Stack) -> None:
    stack.configs.put("fn", "1", {"ProvisionedConcurrentExecutions": 1})
    assert error(stack.configs.put, "fn", "live", {"ProvisionedConcurrentExecutions": 1}) == (
        "ResourceConflictException",
        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
    )


def test_the_limits_count_every_config_of_the_function_and_the_account(tmp_path: Path) -> None:
    stack = Stack(tmp_path, ConcurrencyLimits(account_limit=150))
    stack.plane.publish_version("fn", {})
    stack.configs.put("fn", "1", {"ProvisionedConcurrentExecutions": 30})
    # 150 - 30 - 21 leaves 99, under the 100 Lambda keeps unreserved.
    stack.plane.update_function_configuration("fn", {"Description": "v2"})
    stack.plane.wait_settled("fn", 10)
    stack.plane.publish_version("fn", {})
    assert error(stack.configs.put, "fn", "2", {"ProvisionedConcurrentExecutions": 21}) == (
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below "
        "its minimum value of [100].",
    )
    stack.configs.put("fn", "2", {"ProvisionedConcurrentExecutions": 20})
    # Putting one again replaces it: its own old amount does not count against it.
    stack.configs.put("fn", "2", {"ProvisionedConcurrentExecutions": 20})


def test_configs_outlive_the_server_and_go_with_their_alias_or_function(stack: Stack, tmp_path: Path) -> None:
    stack.configs.put("fn", "live", {"ProvisionedConcurrentExecutions": 1})
    again = Stack(tmp_path)  # a new server on the same state directory
    assert again.configs.restore() == 1
    assert again.provisioner.versions() == {"fn:live": ("1", 1)}
    assert again.configs.target("fn", "1") == "fn:live"
    again.configs.forget("fn", "live")  # DeleteAlias
    assert again.provisioner.versions() == {} and again.configs.target("fn", "1") is None
    assert again.configs.list("fn", {}) == {"ProvisionedConcurrencyConfigs": []}
    stack.configs.forget("fn")  # DeleteFunction
    assert stack.provisioner.versions() == {}


def test_list_pages_at_most_fifty_configs(stack: Stack) -> None:
    assert error(stack.configs.list, "fn", {"MaxItems": "51"}) == (
        "ValidationException",
        "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must "
        "have value less than or equal to 50",
    )


def test_a_qualifier_is_required(stack: Stack) -> None:
    assert error(stack.configs.get, "fn", None) == (
        "ValidationException",
        "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must "
        "not be null",
    )


def test_an_alias_that_did_not_move_keeps_its_environments(stack: Stack) -> None:
    stack.configs.put("fn", "live", {"ProvisionedConcurrentExecutions": 1})
    first = stack.provisioner.live["fn:live"]
    stack.configs.alias_moved("fn", "live")  # a template reload: AutoPublishAlias still at version 1
    assert stack.provisioner.live["fn:live"] is first
