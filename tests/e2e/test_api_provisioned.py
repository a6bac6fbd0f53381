"""Provisioned concurrency through boto3 against a live `lambda-emu serve`: Put/Get/List/Delete answered whole
as AWS answers them (API Reference: PutProvisionedConcurrencyConfig and its siblings), every documented error,
and the effect: environments initialised ahead, with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency,
serving the alias's invocations."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Served, containers_of, start_server
from tests.e2e.test_api_account_tags import error_of
from tests.e2e.test_api_management import ROLE

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
# When the module ran (the environment's init) and how it was initialised, told by every invocation.
HANDLER = """
import os, time
INIT_AT = time.time()
INIT_TYPE = os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"init_type": INIT_TYPE, "init_at": INIT_AT, "version": context.function_version}
"""


def zipped(source: str) -> bytes:
    """A function package of one module, app.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("provisioned") / "state")
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def published(client: Any, name: str, alias: str | None = "live") -> None:
    """A function with version 1 (and an alias pointing at it)."""
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped(HANDLER)},
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    client.publish_version(FunctionName=name)
    if alias:
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")


def answer_of(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = dict(response)
    return response.pop("ResponseMetadata")["HTTPStatusCode"], response


def wait_ready(client: Any, name: str, qualifier: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        got = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] != "IN_PROGRESS":
            return got
        time.sleep(0.2)
    raise AssertionError(f"{name}:{qualifier} was not allocated within 180 s")


def test_an_alias_is_provisioned_answered_whole_and_its_environment_initialised_before_the_invoke(
    served: Served,
) -> None:
    client = served.client()
    published(client, "pc-alias")
    status, put = answer_of(
        client.put_provisioned_concurrency_config(
            FunctionName="pc-alias", Qualifier="live", ProvisionedConcurrentExecutions=1
        )
    )
    modified = put["LastModified"]
    assert TIMESTAMP.match(modified), modified
    assert (status, put) == (
        202,
        {
            "RequestedProvisionedConcurrentExecutions": 1,
            "AvailableProvisionedConcurrentExecutions": 0,
            "AllocatedProvisionedConcurrentExecutions": 0,
            "Status": "IN_PROGRESS",
            "LastModified": modified,
        },
    )
    ready = {
        "RequestedProvisionedConcurrentExecutions": 1,
        "AvailableProvisionedConcurrentExecutions": 1,
        "AllocatedProvisionedConcurrentExecutions": 1,
        "Status": "READY",
        "LastModified": modified,
    }
    assert answer_of(wait_ready(client, "pc-alias", "live")) == (200, ready)
    assert answer_of(client.list_provisioned_concurrency_configs(FunctionName="pc-alias")) == (
        200,
        {"ProvisionedConcurrencyConfigs": [{"FunctionArn": ARN.format("pc-alias:live"), **ready}]},
    )

    asked_at = time.time()
    answer = client.invoke(FunctionName="pc-alias", Qualifier="live", LogType="Tail")
    told = json.loads(answer["Payload"].read())
    # The environment's init ran when the config was put, before this invoke was sent.
    assert told["init_type"] == "provisioned-concurrency" and told["init_at"] < asked_at, told
    assert told["version"] == "1"
    report = base64.b64decode(answer["LogResult"]).decode()
    assert "REPORT RequestId" in report and "Init Duration" not in report, report
    # The environments are the version's: invoked by number it is served by them too (as on AWS); $LATEST
    # runs on demand.
    told = json.loads(client.invoke(FunctionName="pc-alias", Qualifier="1")["Payload"].read())
    assert told["init_type"] == "provisioned-concurrency", told
    told = json.loads(client.invoke(FunctionName="pc-alias")["Payload"].read())
    assert told["init_type"] == "on-demand" and told["version"] == "$LATEST", told

    assert answer_of(
        client.delete_provisioned_concurrency_config(FunctionName="pc-alias", Qualifier="live")
    ) == (
        204,
        {},
    )
    assert error_of(client.get_provisioned_concurrency_config, FunctionName="pc-alias", Qualifier="live") == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
    assert answer_of(client.list_provisioned_concurrency_configs(FunctionName="pc-alias")) == (
        200,
        {"ProvisionedConcurrencyConfigs": []},
    )
    # Deleting is idempotent, as Lambda's.
    status, _ = answer_of(
        client.delete_provisioned_concurrency_config(FunctionName="pc-alias", Qualifier="live")
    )
    assert status == 204
    told = json.loads(client.invoke(FunctionName="pc-alias", Qualifier="live")["Payload"].read())
    assert told["init_type"] == "on-demand"


def test_provisioned_concurrency_errors_are_lambdas(served: Served) -> None:
    client = served.client()
    published(client, "pc-errors")
    put = client.put_provisioned_concurrency_config
    get = client.get_provisioned_concurrency_config
    unpublished = (
        400,
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )
    assert error_of(
        put, FunctionName="pc-errors", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
    ) == (unpublished)
    client.create_alias(FunctionName="pc-errors", Name="edge", FunctionVersion="$LATEST")
    assert error_of(put, FunctionName="pc-errors", Qualifier="edge", ProvisionedConcurrentExecutions=1) == (
        unpublished
    )
    not_published = (
        400,
        "InvalidParameterValueException",
        "The function resource provided must be an alias or a published version.",
    )
    assert error_of(get, FunctionName="pc-errors", Qualifier="$LATEST") == not_published
    assert (
        error_of(client.delete_provisioned_concurrency_config, FunctionName="pc-errors", Qualifier="$LATEST")
        == not_published
    )
    assert error_of(put, FunctionName="pc-errors", Qualifier="nope", ProvisionedConcurrentExecutions=1) == (
        404,
        "ResourceNotFoundException",
        "Cannot find alias arn: " + ARN.format("pc-errors:nope"),
    )
    assert error_of(get, FunctionName="pc-errors", Qualifier="9") == (
        404,
        "ResourceNotFoundException",
        "Function not found: " + ARN.format("pc-errors:9"),
    )
    assert error_of(client.list_provisioned_concurrency_configs, FunctionName="pc-none") == (
        404,
        "ResourceNotFoundException",
        "Function not found: " + ARN.format("pc-none"),
    )
    assert error_of(get, FunctionName="pc-errors", Qualifier="1") == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
    # Within the function's reserved concurrency, and a version is provisioned once: itself or one alias.
    client.put_function_concurrency(FunctionName="pc-errors", ReservedConcurrentExecutions=1)
    assert error_of(put, FunctionName="pc-errors", Qualifier="live", ProvisionedConcurrentExecutions=2) == (
        400,
        "InvalidParameterValueException",
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for "
        "function",
    )
    client.delete_function_concurrency(FunctionName="pc-errors")
    assert error_of(put, FunctionName="pc-errors", Qualifier="live", ProvisionedConcurrentExecutions=901) == (
        400,
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below "
        "its minimum value of [100].",
    )
    status, _ = answer_of(put(FunctionName="pc-errors", Qualifier="live", ProvisionedConcurrentExecutions=1))
    assert status == 202
    assert error_of(put, FunctionName="pc-errors", Qualifier="1", ProvisionedConcurrentExecutions=1) == (
        409,
        "ResourceConflictException",
        "Version is pointed by a Provisioned Concurrency alias",
    )
    # The model's constraint, as AWS's request validation words it (botocore checks min only client-side).
    no_check = served.client(parameter_validation=False)
    assert error_of(
        no_check.put_provisioned_concurrency_config,
        FunctionName="pc-errors",
        Qualifier="live",
        ProvisionedConcurrentExecutions=0,
    ) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1",
    )
    # Deleting the function stops its provisioned environments and forgets the config.
    client.delete_function(FunctionName="pc-errors")
    published(client, "pc-errors")
    assert error_of(get, FunctionName="pc-errors", Qualifier="live") == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )


def test_a_version_stays_provisioned_across_a_restart_of_serve(tmp_path: Any) -> None:
    state = tmp_path / "state"
    server = start_server(state)
    try:
        client = server.client()
        published(client, "pc-kept", alias=None)
        put = client.put_provisioned_concurrency_config(
            FunctionName="pc-kept", Qualifier="1", ProvisionedConcurrentExecutions=1
        )
        assert wait_ready(client, "pc-kept", "1")["Status"] == "READY"
    finally:
        assert server.stop() == 0, server.log()
    again = start_server(state)
    try:
        client = again.client()
        got = wait_ready(client, "pc-kept", "1")
        assert answer_of(got) == (
            200,
            {
                "RequestedProvisionedConcurrentExecutions": 1,
                "AvailableProvisionedConcurrentExecutions": 1,
                "AllocatedProvisionedConcurrentExecutions": 1,
                "Status": "READY",
                "LastModified": put["LastModified"],
            },
        )
        told = json.loads(client.invoke(FunctionName="pc-kept", Qualifier="1")["Payload"].read())
        assert told["init_type"] == "provisioned-concurrency"
    finally:
        assert again.stop() == 0, again.log()


def test_the_provisioned_environments_stay_warm_past_idle_reclaim_and_busy_ones_spill_over(
    tmp_path: Any,
) -> None:
    # Idle on-demand environments are stopped after 1 s here; provisioned ones are kept.
    server = start_server(tmp_path / "state", "--keep-alive", "1")
    try:
        client = server.client()
        published(client, "pc-warm")
        client.put_provisioned_concurrency_config(
            FunctionName="pc-warm", Qualifier="live", ProvisionedConcurrentExecutions=1
        )
        assert wait_ready(client, "pc-warm", "live")["Status"] == "READY"
        first = json.loads(client.invoke(FunctionName="pc-warm", Qualifier="live")["Payload"].read())
        on_demand = json.loads(client.invoke(FunctionName="pc-warm")["Payload"].read())
        assert on_demand["init_type"] == "on-demand"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(containers_of(server.process.pid)) > 1:
            time.sleep(0.2)  # the idle $LATEST environment is reclaimed
        assert len(containers_of(server.process.pid)) == 1
        again = json.loads(client.invoke(FunctionName="pc-warm", Qualifier="live")["Payload"].read())
        assert again == first and again["init_type"] == "provisioned-concurrency"  # the same environment

        # Two calls at once: the one provisioned environment takes one, the other starts on demand.
        results: list[dict[str, Any]] = []

        def call() -> None:
            answer = server.client().invoke(FunctionName="pc-warm", Qualifier="live", Payload=b'{"sleep": 2}')
            results.append(json.loads(answer["Payload"].read()))

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert sorted(r["init_type"] for r in results) == ["on-demand", "provisioned-concurrency"], results
    finally:
        assert server.stop() == 0, server.log()
