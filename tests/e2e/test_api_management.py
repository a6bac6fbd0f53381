"""Function management through boto3 against a live `lambda-emu serve` (Lambda API Reference): create, get,
list, update code and configuration (seen by the next invoke), versions, aliases, the RevisionId race, delete,
and a restart that keeps a created function."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Served, start_server
from tests.timing import assert_timed_out

HANDLER = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"memory": context.memory_limit_in_mb, "version": context.function_version,
            "arn": context.invoked_function_arn, "tag": os.environ.get("TAG"), "code": CODE}
"""
ROLE = "arn:aws:iam::123456789012:role/lambda-emu-test"


def package(code: str = "one") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER + f"CODE = {code!r}\n")
    return buffer.getvalue()


def create(client: Any, name: str, **fields: Any) -> dict[str, Any]:
    answer = client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package()},
        **fields,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    return answer


def updated(client: Any, name: str) -> None:
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def invoke(client: Any, name: str, event: dict[str, Any] | None = None, **fields: Any) -> tuple[dict, dict]:
    answer = client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **fields)
    return answer, json.loads(answer["Payload"].read())


def test_create_get_list_update_delete(served: Served) -> None:
    client = served.client()
    created = create(client, "mgmt-crud", Description="first", Environment={"Variables": {"TAG": "a"}})
    assert created["State"] == "Pending" and created["FunctionArn"].endswith(":function:mgmt-crud")
    got = client.get_function(FunctionName="mgmt-crud")
    assert got["Configuration"]["State"] == "Active" and got["Code"]["RepositoryType"] == "S3"
    assert got["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert invoke(client, "mgmt-crud")[1]["tag"] == "a"

    # The template's functions and the created one are listed together, page by page.
    names = [
        f["FunctionName"]
        for page in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        for f in page["Functions"]
    ]
    assert "mgmt-crud" in names and "NoOpFunction" in names and len(names) == len(set(names))

    code = client.update_function_code(FunctionName="mgmt-crud", ZipFile=package("two"))
    assert code["CodeSha256"] != created["CodeSha256"] and code["LastUpdateStatus"] == "InProgress"
    updated(client, "mgmt-crud")
    assert invoke(client, "mgmt-crud")[1]["code"] == "two"

    client.delete_function(FunctionName="mgmt-crud")
    with pytest.raises(ClientError) as gone:
        client.get_function_configuration(FunctionName="mgmt-crud")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_memory_size_and_timeout_updates_are_both_seen_by_the_next_invoke(served: Served) -> None:
    client = served.client()
    create(client, "mgmt-limits", MemorySize=128, Timeout=10)
    answer, body = invoke(client, "mgmt-limits", {"sleep": 2})
    assert body["memory"] == "128" and "FunctionError" not in answer
    client.update_function_configuration(FunctionName="mgmt-limits", MemorySize=256, Timeout=1)
    updated(client, "mgmt-limits")
    assert invoke(client, "mgmt-limits")[1]["memory"] == "256"
    answer, body = invoke(client, "mgmt-limits", {"sleep": 2})
    assert answer["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert_timed_out(body["errorMessage"], 1)


def test_a_published_version_keeps_its_old_configuration(served: Served) -> None:
    client = served.client()
    create(client, "mgmt-versions", MemorySize=128, Environment={"Variables": {"TAG": "old"}})
    version = client.publish_version(FunctionName="mgmt-versions")
    assert version["Version"] == "1"
    client.update_function_configuration(
        FunctionName="mgmt-versions", MemorySize=512, Environment={"Variables": {"TAG": "new"}}
    )
    updated(client, "mgmt-versions")
    answer, old = invoke(client, "mgmt-versions", Qualifier="1")
    assert (old["memory"], old["tag"], old["version"], answer["ExecutedVersion"]) == ("128", "old", "1", "1")
    assert old["arn"].endswith(":mgmt-versions:1")
    answer, new = invoke(client, "mgmt-versions")
    assert (new["memory"], new["tag"], answer["ExecutedVersion"]) == ("512", "new", "$LATEST")
    listed = client.list_versions_by_function(FunctionName="mgmt-versions")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1"]


def test_two_updates_with_the_same_revision_id_one_wins_the_other_gets_412(served: Served) -> None:
    client = served.client()
    create(client, "mgmt-race")
    revision = client.get_function_configuration(FunctionName="mgmt-race")["RevisionId"]  # once Active
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def update(memory: int) -> None:
        racer = served.client()
        start.wait()
        try:
            racer.update_function_configuration(
                FunctionName="mgmt-race", MemorySize=memory, RevisionId=revision
            )
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=update, args=(memory,)) for memory in (256, 512)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["PreconditionFailedException", "ok"]


def test_an_alias_splits_invokes_by_its_weights(served: Served) -> None:
    client = served.client()
    create(client, "mgmt-alias")
    client.publish_version(FunctionName="mgmt-alias")
    client.update_function_code(FunctionName="mgmt-alias", ZipFile=package("two"))
    updated(client, "mgmt-alias")
    client.publish_version(FunctionName="mgmt-alias")
    alias = client.create_alias(
        FunctionName="mgmt-alias",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert alias["AliasArn"].endswith(":mgmt-alias:live")
    counts: Counter[str] = Counter()
    for _ in range(200):
        answer, body = invoke(client, "mgmt-alias", Qualifier="live")
        assert body["code"] == {"1": "one", "2": "two"}[answer["ExecutedVersion"]]
        counts[answer["ExecutedVersion"]] += 1
    # 200 draws at p=0.25: 50 expected, standard deviation ~6; 25..75 is beyond 4 deviations.
    assert 25 <= counts["2"] <= 75, counts
    assert client.get_alias(FunctionName="mgmt-alias", Name="live")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"2": 0.25}
    }


def test_a_restart_keeps_a_created_function_and_its_event_invoke_config(tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = start_server(state)
    try:
        client = server.client()
        create(client, "mgmt-kept", MemorySize=256, Environment={"Variables": {"TAG": "secret-value"}})
        client.publish_version(FunctionName="mgmt-kept")
        client.put_function_event_invoke_config(
            FunctionName="mgmt-kept", Qualifier="1", MaximumRetryAttempts=0
        )
    finally:
        assert server.stop() == 0, server.log()
    for file in state.iterdir():
        if file.is_file() and file.name != "serve.log":
            assert b"secret-value" not in file.read_bytes(), file
    again = start_server(state)
    try:
        client = again.client()
        configuration = client.get_function_configuration(FunctionName="mgmt-kept")
        assert configuration["MemorySize"] == 256
        assert invoke(client, "mgmt-kept")[1]["tag"] == "secret-value"
        kept = client.get_function_event_invoke_config(FunctionName="mgmt-kept", Qualifier="1")
        assert kept["MaximumRetryAttempts"] == 0
    finally:
        assert again.stop() == 0, again.log()


def test_event_invoke_configs_per_alias_and_version(served: Served) -> None:
    client = served.client()
    arn = create(client, "mgmt-event-configs")["FunctionArn"]
    client.publish_version(FunctionName="mgmt-event-configs")
    client.create_alias(FunctionName="mgmt-event-configs", Name="live", FunctionVersion="1")
    put = client.put_function_event_invoke_config(
        FunctionName="mgmt-event-configs", Qualifier="live", MaximumRetryAttempts=0
    )
    assert put["FunctionArn"] == f"{arn}:live"
    client.put_function_event_invoke_config(FunctionName="mgmt-event-configs:1", MaximumEventAgeInSeconds=60)
    got = client.get_function_event_invoke_config(FunctionName="mgmt-event-configs", Qualifier="live")
    assert (got["FunctionArn"], got["MaximumRetryAttempts"]) == (f"{arn}:live", 0)
    listed = client.list_function_event_invoke_configs(FunctionName="mgmt-event-configs")
    by_arn = {c["FunctionArn"]: c for c in listed["FunctionEventInvokeConfigs"]}
    assert set(by_arn) == {f"{arn}:live", f"{arn}:1"}
    assert by_arn[f"{arn}:1"]["MaximumEventAgeInSeconds"] == 60
    # Neither is the unqualified function's ($LATEST's): it has none.
    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.get_function_event_invoke_config(FunctionName="mgmt-event-configs")
    assert f"{arn}:$LATEST" in missing.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="mgmt-event-configs", Qualifier="nope")


def test_a_function_created_again_inherits_nothing_of_the_deleted_one(served: Served) -> None:
    client = served.client()
    create(client, "reborn")
    client.add_permission(
        FunctionName="reborn", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
    )
    assert json.loads(client.get_policy(FunctionName="reborn")["Policy"])["Statement"]
    client.put_function_concurrency(FunctionName="reborn", ReservedConcurrentExecutions=0)
    client.put_function_event_invoke_config(FunctionName="reborn", MaximumRetryAttempts=0)
    client.delete_function(FunctionName="reborn")
    create(client, "reborn")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_policy(FunctionName="reborn")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="reborn")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="reborn")
    answer, _ = invoke(client, "reborn")  # not throttled by the deleted function's reservation of 0
    assert answer["StatusCode"] == 200
