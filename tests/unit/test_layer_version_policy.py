"""A layer version's resource-based policy in the layer store: the statements Lambda writes, the policy
document and its RevisionId, each refusal, and the policy kept in the state directory with its version (a
new store over the same directory finds it; deleting the version deletes it)."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig
from lambda_emu.control.layer_versions import LayerStore
from lambda_emu.errors import ApiError

VERSION_ARN = "arn:aws:lambda:eu-west-1:111122223333:layer:shared:1"


def _store(state_dir: Path) -> LayerStore:
    config = EmulatorConfig(region="eu-west-1", account_id="111122223333", state_dir=state_dir)
    return LayerStore(state_dir, config)


@pytest.fixture
def store(tmp_path: Path) -> LayerStore:
    layers = _store(tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/shared.py", "X = 1\n")
    layers.publish("shared", {"Content": {"ZipFile": base64.b64encode(buffer.getvalue()).decode()}})
    return layers


def _grant(sid: str, principal: str, **more: str) -> dict[str, str]:
    return {"StatementId": sid, "Action": "lambda:GetLayerVersion", "Principal": principal, **more}


def _refusal(call: Callable[..., object], *args: object) -> tuple[str, str]:
    with pytest.raises(ApiError) as refused:
        call(*args)
    return refused.value.code, str(refused.value)


def test_statements_are_lambdas_and_the_policy_holds_them_in_order(store: LayerStore) -> None:
    account = store.add_permission("shared", "1", _grant("xaccount", "444455556666"), None)
    assert json.loads(account["Statement"]) == {
        "Sid": "xaccount",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        "Action": "lambda:GetLayerVersion",
        "Resource": VERSION_ARN,
    }
    org = store.add_permission(
        "shared", "1", _grant("org", "*", OrganizationId="o-t194hfs8cz"), account["RevisionId"]
    )
    assert json.loads(org["Statement"])["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-t194hfs8cz"}
    }
    root = store.add_permission("shared", "1", _grant("root", "arn:aws:iam::777788889999:root"), None)
    policy = store.policy("shared", "1")
    assert policy["RevisionId"] == root["RevisionId"] != org["RevisionId"] != account["RevisionId"]
    assert json.loads(policy["Policy"]) == {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [json.loads(a["Statement"]) for a in (account, org, root)],
    }


def test_the_policy_is_kept_in_the_state_directory_and_goes_with_its_version(
    store: LayerStore, tmp_path: Path
) -> None:
    store.add_permission("shared", "1", _grant("everyone", "*"), None)
    again = _store(tmp_path)  # a restart of serve
    assert json.loads(again.policy("shared", "1")["Policy"])["Statement"][0]["Sid"] == "everyone"
    again.delete("shared", "1")
    assert _refusal(again.policy, "shared", "1") == (
        "ResourceNotFoundException",
        f"Layer version {VERSION_ARN} does not exist.",
    )
    assert "everyone" not in (tmp_path / "layers.json").read_text()


def test_removing_statements_changes_the_revision_and_the_last_one_leaves_no_policy(
    store: LayerStore,
) -> None:
    first = store.add_permission("shared", "1", _grant("a", "*"), None)
    second = store.add_permission("shared", "1", _grant("b", "444455556666"), None)
    store.remove_permission("shared", "1", "a", second["RevisionId"])
    left = store.policy("shared", "1")
    assert left["RevisionId"] not in (first["RevisionId"], second["RevisionId"])
    assert [s["Sid"] for s in json.loads(left["Policy"])["Statement"]] == ["b"]
    store.remove_permission("shared", "1", "b", None)
    assert _refusal(store.policy, "shared", "1") == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )


def test_refusals_are_lambdas_and_change_nothing(store: LayerStore) -> None:
    missing = ("ResourceNotFoundException", f"Layer version {VERSION_ARN[:-1]}2 does not exist.")
    assert _refusal(store.add_permission, "shared", "2", _grant("a", "*"), None) == missing
    assert _refusal(store.remove_permission, "shared", "2", "a", None) == missing
    assert _refusal(store.remove_permission, "shared", "1", "a", None) == (
        "ResourceNotFoundException",
        "Statement a is not found in resource policy.",
    )
    revision = store.add_permission("shared", "1", _grant("a", "*"), None)["RevisionId"]
    assert _refusal(store.add_permission, "shared", "1", _grant("a", "444455556666"), None) == (
        "ResourceConflictException",
        "The statement id (a) provided already exists. Please provide a new statement id, or remove the "
        "existing statement.",
    )
    stale = (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to "
        "retrieve the latest Revision Id",
    )
    assert _refusal(store.add_permission, "shared", "1", _grant("b", "*"), "not-it") == stale
    assert _refusal(store.remove_permission, "shared", "1", "a", "not-it") == stale
    assert store.policy("shared", "1")["RevisionId"] == revision


def test_a_policy_past_20_kb_is_refused_whole(store: LayerStore) -> None:
    added = 0
    with pytest.raises(ApiError) as refused:
        for n in range(200):
            store.add_permission("shared", "1", _grant(f"{n:03d}" + "x" * 90, "444455556666"), None)
            added += 1
    assert refused.value.code == "PolicyLengthExceededException"
    found = re.fullmatch(
        r"The final policy size \((\d+)\) is bigger than the limit \(20480\)\.", str(refused.value)
    )
    assert found is not None and int(found[1]) > 20480
    statements = json.loads(store.policy("shared", "1")["Policy"])["Statement"]
    assert len(statements) == added and len(store.policy("shared", "1")["Policy"]) <= 20480
