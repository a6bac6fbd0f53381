"""The management operations without HTTP: create, update, the RevisionId precondition, InProgress and its
conflicts, settling (Failed with a reason code), pagination, versions and aliases, rendering."""

from __future__ import annotations

import base64
import io
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lambda_emu.config import EmulatorConfig
from lambda_emu.control.plane import ControlPlane
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.store import open_store
from lambda_emu.errors import ConfigError, LambdaEmuError, api_code


def zip_b64(source: str = "def handler(event, context):\n    return 1\n") -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return base64.b64encode(buffer.getvalue()).decode()


class Retirements:
    """Emulator.retire stand-in that can hold a settle in progress (to observe InProgress)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, name: str) -> int:
        self.gate.wait(10)
        self.names.append(name)
        return 0


@pytest.fixture
def retire() -> Retirements:
    return Retirements()


@pytest.fixture
def plane(tmp_path: Path, retire: Retirements) -> ControlPlane:
    config = EmulatorConfig(state_dir=tmp_path)
    return ControlPlane(FunctionRegistry(config, store=open_store(tmp_path)), retire, config)


def create(plane: ControlPlane, name: str = "fn", **fields: Any) -> dict[str, Any]:
    body = {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": "arn:aws:iam::123456789012:role/lambda",
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_b64()},
        **fields,
    }
    answer = plane.create_function(body)
    assert plane.wait_settled(name, 10)
    return answer


def test_create_answers_pending_then_the_function_is_active(plane: ControlPlane) -> None:
    answer = create(plane, Description="hello", Tags={"team": "a"})
    assert answer["State"] == "Pending" and answer["StateReasonCode"] == "Creating"
    assert answer["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert answer["Version"] == "$LATEST" and answer["CodeSize"] > 0 and len(answer["CodeSha256"]) == 44
    now = plane.get_function_configuration("fn", None)
    assert (now["State"], now["LastUpdateStatus"]) == ("Active", "Successful")
    assert plane.get_function("fn", None, 5)["Tags"] == {"team": "a"}
    assert plane.get_function("fn", None, 5)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    with pytest.raises(LambdaEmuError) as conflict:
        create(plane)
    assert api_code(conflict.value) == "ResourceConflictException"


def test_update_keeps_omitted_fields_and_changes_the_revision(
    plane: ControlPlane, retire: Retirements
) -> None:
    before = create(plane, MemorySize=256, Environment={"Variables": {"AB": "1"}}, Description="d")
    after = plane.update_function_configuration("fn", {"Timeout": 30})
    assert (after["Timeout"], after["MemorySize"], after["Description"]) == (30, 256, "d")
    assert after["Environment"] == {"Variables": {"AB": "1"}}
    assert after["RevisionId"] != before["RevisionId"] and after["LastUpdateStatus"] == "InProgress"
    assert plane.wait_settled("fn", 10)
    assert "fn" in retire.names  # the old configuration's environments were retired


def test_every_state_change_is_a_new_revision(plane: ControlPlane, retire: Retirements) -> None:
    created = create(plane)["RevisionId"]  # answered Pending; create() waits until it is Active
    active = plane.get_function_configuration("fn", None)["RevisionId"]
    assert active != created, "Pending -> Active is a new revision"
    retire.gate.clear()  # hold the settle: the update stays InProgress
    in_progress = plane.update_function_configuration("fn", {"MemorySize": 256})["RevisionId"]
    assert plane.get_function_configuration("fn", None)["RevisionId"] == in_progress != active
    retire.gate.set()
    assert plane.wait_settled("fn", 10)
    successful = plane.get_function_configuration("fn", None)["RevisionId"]
    assert successful != in_progress, "InProgress -> Successful is a new revision"
    published = plane.publish_version("fn", {})
    assert published["RevisionId"] != successful
    latest = plane.get_function_configuration("fn", None)["RevisionId"]
    assert latest not in (successful, published["RevisionId"]), "publishing changes $LATEST's revision"
    assert plane.publish_version("fn", {})["Version"] == published["Version"]  # nothing changed since
    assert plane.get_function_configuration("fn", None)["RevisionId"] == latest  # so nothing was published


def test_a_stale_revision_id_is_refused_with_412(plane: ControlPlane) -> None:
    create(plane)
    revision = plane.get_function_configuration("fn", None)["RevisionId"]  # read once Active, as users do
    plane.update_function_configuration("fn", {"MemorySize": 512, "RevisionId": revision})
    plane.wait_settled("fn", 10)
    with pytest.raises(LambdaEmuError) as stale:
        plane.update_function_configuration("fn", {"MemorySize": 1024, "RevisionId": revision})
    assert api_code(stale.value) == "PreconditionFailedException"
    assert "does not match the latest Revision Id" in stale.value.message
    assert plane.get_function_configuration("fn", None)["MemorySize"] == 512


def test_an_update_while_one_is_in_progress_conflicts_and_invokes_use_the_old_one(
    plane: ControlPlane, retire: Retirements
) -> None:
    create(plane, MemorySize=128)
    retire.gate.clear()  # hold the settle: the update stays InProgress
    plane.update_function_configuration("fn", {"MemorySize": 256})
    assert plane.registry.resolve("fn").function.memory_size == 128
    with pytest.raises(LambdaEmuError) as busy:
        plane.update_function_configuration("fn", {"MemorySize": 512})
    assert api_code(busy.value) == "ResourceConflictException"
    assert "An update is in progress for resource: arn:aws:lambda:" in busy.value.message
    retire.gate.set()
    assert plane.wait_settled("fn", 10)
    assert plane.registry.resolve("fn").function.memory_size == 256


def test_a_runtime_lambda_emu_cannot_run_fails_the_update_with_a_reason_code(plane: ControlPlane) -> None:
    create(plane)
    plane.update_function_configuration("fn", {"Runtime": "java21"})
    assert plane.wait_settled("fn", 10)
    now = plane.get_function_configuration("fn", None)
    assert (now["LastUpdateStatus"], now["LastUpdateStatusReasonCode"]) == ("Failed", "InvalidRuntime")
    assert plane.registry.resolve("fn").function.runtime == "python3.11"  # the last good configuration


def test_a_qualified_name_cannot_be_updated(plane: ControlPlane) -> None:
    create(plane)
    with pytest.raises(LambdaEmuError, match="does not support versions other than \\$LATEST"):
        plane.update_function_configuration("fn:1", {"Timeout": 5})


def test_list_functions_paginates_with_next_marker(plane: ControlPlane) -> None:
    for index in range(5):
        create(plane, f"fn{index}")
    seen: list[str] = []
    query: dict[str, str] = {"MaxItems": "2"}
    pages = 0
    while True:
        page = plane.list_functions(query)
        seen += [item["FunctionName"] for item in page["Functions"]]
        pages += 1
        if "NextMarker" not in page:
            break
        query = {"MaxItems": "2", "Marker": page["NextMarker"]}
    assert (seen, pages) == ([f"fn{index}" for index in range(5)], 3)
    with pytest.raises(LambdaEmuError) as bad:
        plane.list_functions({"MaxItems": "0"})
    assert api_code(bad.value) == "ValidationException"


def test_versions_aliases_and_their_rules(plane: ControlPlane) -> None:
    create(plane, MemorySize=128)
    one = plane.publish_version("fn", {"Description": "first"})
    assert (one["Version"], one["Description"], one["FunctionArn"][-2:]) == ("1", "first", ":1")
    assert plane.publish_version("fn", {})["Version"] == "1"  # nothing changed: the same version
    plane.update_function_configuration("fn", {"MemorySize": 256})
    plane.wait_settled("fn", 10)
    assert plane.publish_version("fn", {})["Version"] == "2"
    versions = plane.list_versions("fn", {})["Versions"]
    assert [(v["Version"], v["MemorySize"]) for v in versions] == [("$LATEST", 256), ("1", 128), ("2", 256)]

    alias = plane.create_alias(
        "fn",
        {"Name": "live", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}},
    )
    assert alias["AliasArn"].endswith(":fn:live") and alias["RoutingConfig"]["AdditionalVersionWeights"] == {
        "2": 0.5
    }
    with pytest.raises(LambdaEmuError) as stale:
        plane.update_alias("fn", "live", {"FunctionVersion": "2", "RevisionId": "stale"})
    assert api_code(stale.value) == "PreconditionFailedException"
    updated = plane.update_alias("fn", "live", {"RoutingConfig": {}, "RevisionId": alias["RevisionId"]})
    assert "RoutingConfig" not in updated and updated["RevisionId"] != alias["RevisionId"]
    with pytest.raises(LambdaEmuError) as in_use:
        plane.delete_function("fn", "1")
    assert api_code(in_use.value) == "ResourceConflictException"
    assert [a["Name"] for a in plane.list_aliases("fn", {"FunctionVersion": "1"})["Aliases"]] == ["live"]
    plane.delete_alias("fn", "live")
    plane.delete_function("fn", "1")
    assert [v["Version"] for v in plane.list_versions("fn", {})["Versions"]] == ["$LATEST", "2"]
    plane.delete_function("fn", None)
    with pytest.raises(LambdaEmuError) as gone:
        plane.get_function_configuration("fn", None)
    assert api_code(gone.value) == "ResourceNotFoundException"


def _rooted_plane(tmp_path: Path, root: Path) -> ControlPlane:
    config = EmulatorConfig(state_dir=tmp_path / "state", code_roots=(root,))
    return ControlPlane(FunctionRegistry(config, store=open_store(tmp_path / "state")), Retirements(), config)


def test_local_folder_code_and_no_s3(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    plane = _rooted_plane(tmp_path, tmp_path)
    answer = create(plane, Code={"S3Bucket": "lambda-emu-local", "S3Key": str(folder)})
    assert plane.registry.resolve("fn").function.code_path == folder
    assert answer["CodeSize"] > 0
    with pytest.raises(LambdaEmuError, match="no S3"):
        create(plane, "other", Code={"S3Bucket": "my-bucket", "S3Key": "code.zip"})


def test_local_folder_code_is_refused_unless_serve_names_its_root(
    plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(LambdaEmuError, match="--code-root") as refused:
        create(plane, Code={"S3Bucket": "lambda-emu-local", "S3Key": str(tmp_path / "src")})
    assert api_code(refused.value) == "InvalidParameterValueException"


@pytest.mark.parametrize("key", ["/dev/zero", "/proc/self", "/etc", "{root}/../outside", "{root}/link"])
def test_local_code_comes_only_from_under_the_roots_and_never_from_devices(tmp_path: Path, key: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")  # a link out of the root is outside it
    plane = _rooted_plane(tmp_path, root)
    with pytest.raises(LambdaEmuError, match="outside the folders"):
        create(plane, Code={"S3Bucket": "lambda-emu-local", "S3Key": key.format(root=root)})


def test_local_code_is_neither_a_device_nor_over_lambdas_unzipped_limit(tmp_path: Path) -> None:
    import os

    from lambda_emu.control import packages

    root = tmp_path / "root"
    (root / "big").mkdir(parents=True)
    os.mkfifo(root / "fifo.zip")
    with open(root / "big" / "sparse.bin", "wb") as sparse:  # 300 MB that take no disk and are never read
        sparse.truncate(300 * 1024 * 1024)
    plane = _rooted_plane(tmp_path, root)
    with pytest.raises(LambdaEmuError, match="neither a folder nor a .zip"):
        create(plane, Code={"S3Bucket": "lambda-emu-local", "S3Key": str(root / "fifo.zip")})
    with pytest.raises(
        ConfigError, match=f"Unzipped size must be smaller than {packages.MAX_UNZIPPED} bytes"
    ):
        create(plane, Code={"S3Bucket": "lambda-emu-local", "S3Key": str(root / "big")})


def test_an_uploaded_zip_bomb_is_refused_by_its_unzipped_size(plane: ControlPlane) -> None:
    import base64
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (270 * 1024 * 1024))  # compresses to ~260 KB
    with pytest.raises(LambdaEmuError, match="Unzipped size must be smaller than 262144000 bytes"):
        create(plane, Code={"ZipFile": base64.b64encode(buffer.getvalue()).decode()})


def test_get_function_configuration_is_lambdas_whole_answer_qualified_as_asked(plane: ControlPlane) -> None:
    create(plane)
    plane.publish_version("fn", {})
    plane.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    for asked, suffix, version in (
        (None, "", "$LATEST"),
        ("$LATEST", ":$LATEST", "$LATEST"),
        ("1", ":1", "1"),
    ):
        answer = plane.get_function_configuration("fn", asked)
        revision, modified, sha, runtime_arn = (
            answer.pop("RevisionId"),
            answer.pop("LastModified"),
            answer.pop("CodeSha256"),
            answer["RuntimeVersionConfig"].pop("RuntimeVersionArn"),
        )
        assert re.fullmatch(r"[0-9a-f-]{36}", revision) and re.fullmatch(r"\d{4}-.*\.\d{3}\+0000", modified)
        assert len(sha) == 44 and re.fullmatch(r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}", runtime_arn)
        assert answer == {
            "FunctionName": "fn",
            "FunctionArn": arn + suffix,
            "Runtime": "python3.11",
            "Role": "arn:aws:iam::123456789012:role/lambda",
            "Handler": "app.handler",
            "CodeSize": answer["CodeSize"],
            "Description": "",
            "Timeout": 3,
            "MemorySize": 128,
            "Version": version,
            "Environment": {"Variables": {}},  # answered even without variables
            "TracingConfig": {"Mode": "PassThrough"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"},
        }, asked
    by_alias = plane.get_function_configuration("fn", "live")
    assert (by_alias["FunctionArn"], by_alias["Version"]) == (arn + ":live", "1")
    assert plane.get_function("fn:live", None, None)["Configuration"]["FunctionArn"] == arn + ":live"


def test_alias_not_found_is_lambdas_text_and_deleting_a_missing_alias_is_idempotent(
    plane: ControlPlane,
) -> None:
    create(plane)
    with pytest.raises(LambdaEmuError) as missing:
        plane.get_alias("fn", "nope")
    assert (api_code(missing.value), missing.value.message) == (
        "ResourceNotFoundException",
        "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:fn:nope",
    )
    plane.delete_alias("fn", "nope")  # Lambda answers 204: nothing raised
    with pytest.raises(LambdaEmuError) as no_function:
        plane.delete_alias("no-such-fn", "nope")
    assert api_code(no_function.value) == "ResourceNotFoundException"


def test_an_arn_of_another_region_is_lambdas_not_reachable_answer(plane: ControlPlane) -> None:
    create(plane)
    with pytest.raises(LambdaEmuError) as elsewhere:
        plane.get_function_configuration("arn:aws:lambda:eu-central-1:123456789012:function:fn", None)
    assert (api_code(elsewhere.value), elsewhere.value.message) == (
        "ResourceNotFoundException",
        "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')",
    )
    here = plane.get_function_configuration("arn:aws:lambda:us-east-1:123456789012:function:fn", None)
    assert here["FunctionName"] == "fn"


def test_a_description_change_alone_is_a_change_publish_version_publishes(
    plane: ControlPlane, tmp_path: Path
) -> None:
    create(plane, Description="first")
    plane.wait_settled("fn", 10)
    assert plane.publish_version("fn", {"Description": "release"})["Version"] == "1"
    assert plane.publish_version("fn", {})["Version"] == "1"  # the version's own Description is no change
    plane.update_function_configuration("fn", {"Description": "second"})
    plane.wait_settled("fn", 10)
    two = plane.publish_version("fn", {})
    assert (two["Version"], two["Description"]) == ("2", "second")
    # Kept in the state directory: a restarted server still knows what version 2 was published from.
    config = EmulatorConfig(state_dir=tmp_path)
    again = ControlPlane(FunctionRegistry(config, store=open_store(tmp_path)), lambda name: None, config)
    assert again.publish_version("fn", {})["Version"] == "2"


def test_a_settled_update_keeps_no_reason_of_the_update_in_progress(plane: ControlPlane) -> None:
    create(plane)
    plane.wait_settled("fn", 10)
    updating = plane.update_function_configuration("fn", {"MemorySize": 256})
    assert (updating["LastUpdateStatus"], updating["LastUpdateStatusReason"]) == (
        "InProgress",
        "The function is being created.",
    )
    assert updating["LastUpdateStatusReasonCode"] == "Creating"
    plane.wait_settled("fn", 10)
    settled = plane.get_function_configuration("fn", None)
    assert settled["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in settled and "LastUpdateStatusReasonCode" not in settled
