"""Lambda layers published through the API (PublishLayerVersion and the calls around it): each version's
content a zip under the state directory, its metadata and resource-based policy in `layers.json` (a restart
of serve keeps them); functions name them by ARN in `Layers` as they name a layer in Lambda."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lambda_emu import arns
from lambda_emu.config import EmulatorConfig
from lambda_emu.control import bodies, packages
from lambda_emu.control.model import lambda_timestamp
from lambda_emu.control.policy import (
    check_new_statement_id,
    check_revision,
    compact,
    principal_element,
    render,
    revised,
)
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)

LAYERS_FILE = "layers.json"
LAYER_CONTENT_DIR = "layer-content"
# A layer version ARN of a region and account (the model's LayerVersionArn also admits AWS's own
# "arn:aws:lambda:::awslayer:..." layers, which lambda-emu does not have).
_VERSION_ARN = re.compile(
    r"arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]+)"
    r":(?P<version>[0-9]+)"
)
_NOT_FOUND = "The resource you requested does not exist."
_NO_POLICY = "No policy is associated with the given resource."


class LayerStore:
    """Layer versions by name, numbered from 1 per name and never reused (a deleted number stays gone)."""

    def __init__(self, state_dir: Path, emulator: EmulatorConfig) -> None:
        self._file = JsonStateFile(
            state_dir / LAYERS_FILE,
            "layers",
            holds="the published layers",
            hint=f"Remove {state_dir / LAYERS_FILE} to forget every published layer.",
        )
        self._content_dir = state_dir / LAYER_CONTENT_DIR
        self._emulator = emulator

    # ---- the API's operations
    def publish(self, layer_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        validate_function_request("PublishLayerVersion", {**body, "LayerName": layer_name})
        name = _name(layer_name)
        content = body.get("Content") or {}
        code = bodies.code_package(content, "Zip", self._content_dir)
        if code.path.is_dir():  # the local bucket's folder form: a layer version's content is frozen
            code = packages.freeze(code, self._content_dir)
        with self._file.lock:
            layers = self._file.content()
            entry = layers.setdefault(name, {"last": 0, "versions": {}})
            number = entry["last"] + 1
            record = {
                "path": str(code.path),
                "sha256": code.sha256,
                "size": code.size,
                "created": lambda_timestamp(),
                "description": body.get("Description") or "",
                "runtimes": list(body.get("CompatibleRuntimes") or []),
                "architectures": list(body.get("CompatibleArchitectures") or []),
                "license": body.get("LicenseInfo"),
            }
            entry["last"] = number
            entry["versions"][str(number)] = record
            self._file.save()
        LOG.info("published layer %s version %d", name, number)
        return self._render(name, number, record)

    def get(self, layer_name: str, version: str) -> dict[str, Any]:
        name = _checked_name("GetLayerVersion", layer_name)
        return self._render(name, _number(version), self._version(name, version))

    def get_by_arn(self, arn: str) -> dict[str, Any]:
        validate_function_request("GetLayerVersionByArn", {"Arn": arn})
        name, version = self._parse_version_arn(arn)
        return self._render(name, int(version), self._version(name, version))

    def delete(self, layer_name: str, version: str) -> None:
        """Lambda answers 204 whether or not the version was there: deleting is idempotent. Functions that
        use it keep their copy of its content, as in Lambda."""
        name = _checked_name("DeleteLayerVersion", layer_name)
        with self._file.lock:
            entry = self._file.content().get(name)
            if entry is not None and entry["versions"].pop(str(_number(version)), None) is not None:
                self._file.save()

    def list_versions(self, layer_name: str, query: Mapping[str, str]) -> dict[str, Any]:
        name = _checked_name("ListLayerVersions", layer_name)
        with self._file.lock:
            entry = self._file.content().get(name) or {"versions": {}}
            versions = sorted(((int(n), dict(r)) for n, r in entry["versions"].items()), reverse=True)
        matching = [(n, r) for n, r in versions if _matches(r, query)]
        page, marker = bodies.page(matching, query)
        return {"LayerVersions": [self._list_item(name, n, r) for n, r in page], **marker}

    def list_layers(self, query: Mapping[str, str]) -> dict[str, Any]:
        with self._file.lock:
            layers = {name: dict(entry["versions"]) for name, entry in self._file.content().items()}
        items = []
        for name in sorted(layers):
            matching = [(int(n), r) for n, r in layers[name].items() if _matches(r, query)]
            if matching:
                number, record = max(matching, key=lambda item: item[0])
                items.append(
                    {
                        "LayerName": name,
                        "LayerArn": self._layer_arn(name),
                        "LatestMatchingVersion": self._list_item(name, number, record),
                    }
                )
        page, marker = bodies.page(items, query)
        return {"Layers": list(page), **marker}

    # ---- its resource-based policy (AddLayerVersionPermission, GetLayerVersionPolicy,
    # RemoveLayerVersionPermission), kept in the version's record: deleting the version deletes it.
    def add_permission(
        self, layer_name: str, version: str, body: Mapping[str, Any], revision_id: str | None
    ) -> dict[str, Any]:
        """The statement Lambda writes for the permission, as AddLayerVersionPermission answers it (compact
        JSON) with the policy's new RevisionId. The body passed the model's checks (api/inputs)."""
        name, number = _name(layer_name), _number(version)
        statement: dict[str, Any] = {
            "Sid": body["StatementId"],
            "Effect": "Allow",
            "Principal": principal_element(body["Principal"]),
            "Action": body["Action"],
            "Resource": self._version_arn(name, number),
        }
        if body.get("OrganizationId"):
            # "Granting Lambda layer access to other accounts": an organization's grant is Principal "*"
            # with this condition.
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": body["OrganizationId"]}}
        with self._file.lock:
            record = self._record_or_refuse(name, number)
            current = record.get("policy") or {"Statement": [], "RevisionId": None}
            check_new_statement_id(current["Statement"], statement["Sid"])
            check_revision(revision_id, current["RevisionId"], getter="GetLayerPolicy")
            record["policy"] = revised([*current["Statement"], statement])
            self._file.save()
        return {"Statement": compact(statement), "RevisionId": record["policy"]["RevisionId"]}

    def policy(self, layer_name: str, version: str) -> dict[str, Any]:
        name, number = _name(layer_name), _number(version)
        with self._file.lock:
            policy = self._record_or_refuse(name, number).get("policy")
            if not policy:
                raise ApiError("ResourceNotFoundException", _NO_POLICY)
            return {"Policy": render(policy["Statement"]), "RevisionId": policy["RevisionId"]}

    def remove_permission(
        self, layer_name: str, version: str, statement_id: str, revision_id: str | None
    ) -> None:
        name, number = _name(layer_name), _number(version)
        with self._file.lock:
            record = self._record_or_refuse(name, number)
            current = record.get("policy") or {"Statement": [], "RevisionId": None}
            check_revision(revision_id, current["RevisionId"], getter="GetLayerPolicy")
            remaining = [s for s in current["Statement"] if s["Sid"] != statement_id]
            if len(remaining) == len(current["Statement"]):
                raise ApiError(
                    "ResourceNotFoundException", f"Statement {statement_id} is not found in resource policy."
                )
            if remaining:
                record["policy"] = revised(remaining)
            else:  # its last statement gone, the version has no policy: GetLayerVersionPolicy answers 404
                del record["policy"]
            self._file.save()

    def _record_or_refuse(self, name: str, number: int) -> dict[str, Any]:
        """The stored record itself (changed in place, saved by the caller, under the file's lock)."""
        record = (self._file.content().get(name) or {"versions": {}})["versions"].get(str(number))
        if record is None:
            arn = self._version_arn(name, number)
            raise ApiError("ResourceNotFoundException", f"Layer version {arn} does not exist.")
        return record

    # ---- for functions
    def content_of(self, arns: Sequence[str]) -> tuple[Path, ...]:
        """The local content of each layer version of this account that a function's `Layers` names, in
        order; Lambda's error for one that does not exist."""
        paths = []
        for arn in arns:
            match = _VERSION_ARN.fullmatch(arn)
            if match is None or (match["region"], match["account"]) != (
                self._emulator.region,
                self._emulator.account_id,
            ):
                continue  # another account's layer: stored with the function, not fetched (README)
            name, version = match["name"], str(int(match["version"]))
            with self._file.lock:
                record = (self._file.content().get(name) or {"versions": {}})["versions"].get(version)
            if record is None:
                raise ConfigError(f"Layer version {arn} does not exist.")
            paths.append(Path(record["path"]))
        return tuple(paths)

    # ---- helpers
    def _parse_version_arn(self, arn: str) -> tuple[str, str]:
        match = _VERSION_ARN.fullmatch(arn)
        if match is None or (match["region"], match["account"]) != (
            self._emulator.region,
            self._emulator.account_id,
        ):
            # AWS's own layers, or another account's or region's: lambda-emu has only this machine's.
            raise FunctionNotFoundError(_NOT_FOUND)
        return match["name"], str(int(match["version"]))

    def _version(self, name: str, version: str) -> dict[str, Any]:
        number = str(_number(version))
        with self._file.lock:
            record = (self._file.content().get(name) or {"versions": {}})["versions"].get(number)
        if record is None:
            raise FunctionNotFoundError(_NOT_FOUND)
        return dict(record)

    def _layer_arn(self, name: str) -> str:
        return arns.arn("lambda", self._emulator.region, self._emulator.account_id, f"layer:{name}")

    def _version_arn(self, name: str, number: int) -> str:
        return f"{self._layer_arn(name)}:{number}"

    def _list_item(self, name: str, number: int, record: Mapping[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "LayerVersionArn": self._version_arn(name, number),
            "Version": number,
            "Description": record["description"],
            "CreatedDate": record["created"],
        }
        if record["runtimes"]:
            item["CompatibleRuntimes"] = list(record["runtimes"])
        if record["license"] is not None:
            item["LicenseInfo"] = record["license"]
        if record["architectures"]:
            item["CompatibleArchitectures"] = list(record["architectures"])
        return item

    def _render(self, name: str, number: int, record: Mapping[str, Any]) -> dict[str, Any]:
        return {
            # Lambda answers a presigned S3 URL; the content here is a file on this machine.
            "Content": {
                "Location": Path(record["path"]).resolve().as_uri(),
                "CodeSha256": record["sha256"],
                "CodeSize": record["size"],
            },
            "LayerArn": self._layer_arn(name),
            **self._list_item(name, number, record),
        }


def _checked_name(operation: str, layer_name: str) -> str:
    """The layer's name, once the path's LayerName passed the model's constraints (in the model's words)."""
    validate_function_request(operation, {"LayerName": layer_name})
    return _name(layer_name)


def _name(layer_name: str) -> str:
    return layer_name.rsplit(":", 1)[-1] if layer_name.startswith("arn:") else layer_name


def _number(version: str) -> int:
    """The VersionNumber of the path (a long in Lambda's model)."""
    if not version.isdigit():
        raise ConfigError(f"Invalid version number: {version}.")
    return int(version)


def _matches(record: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    runtime, architecture = query.get("CompatibleRuntime"), query.get("CompatibleArchitecture")
    return (runtime is None or runtime in record["runtimes"]) and (
        architecture is None or architecture in record["architectures"]
    )
