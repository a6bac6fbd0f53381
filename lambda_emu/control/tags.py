"""Tags (TagResource, UntagResource, ListTags): a function's are kept on its $LATEST record, which the store
persists, so every version shares them, as Lambda's tags belong to the function, not to a version; a code
signing config's are kept with it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lambda_emu.control.code_signing import CodeSigningConfigs
from lambda_emu.control.model import FunctionRecord
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)

_FUNCTION_MARK = ":function:"
_SIGNING_MARK = ":code-signing-config:"
_NO_RESOURCE = "The resource you requested does not exist."


def list_tags(
    registry: FunctionRegistry, resource: str, signing: CodeSigningConfigs | None = None
) -> dict[str, Any]:
    validate_function_request("ListTags", {"Resource": resource})
    if signing is not None and _SIGNING_MARK in resource:
        return {"Tags": signing.tags(_existing(signing, resource))}
    return {"Tags": dict(_tagged(registry, resource).tags)}


def tag_resource(
    registry: FunctionRegistry,
    resource: str,
    body: Mapping[str, Any],
    signing: CodeSigningConfigs | None = None,
) -> None:
    validate_function_request("TagResource", {**body, "Resource": resource})
    if signing is not None and _SIGNING_MARK in resource:
        signing.tag(_existing(signing, resource), body["Tags"])
        return
    with registry.store.lock:
        record = _tagged(registry, resource)
        # Tags are not configuration: the RevisionId stays (a tag never races an update's RevisionId check).
        registry.store.put_latest(replace(record, tags={**record.tags, **body["Tags"]}))
    LOG.info("tagged %s: %s", resource, sorted(body["Tags"]))


def untag_resource(
    registry: FunctionRegistry, resource: str, keys: Sequence[str], signing: CodeSigningConfigs | None = None
) -> None:
    validate_function_request("UntagResource", {"Resource": resource, "TagKeys": list(keys) or None})
    if signing is not None and _SIGNING_MARK in resource:
        signing.untag(_existing(signing, resource), list(keys))
        return
    with registry.store.lock:
        record = _tagged(registry, resource)
        kept = {key: value for key, value in record.tags.items() if key not in keys}
        registry.store.put_latest(replace(record, tags=kept))


def _existing(signing: CodeSigningConfigs, arn: str) -> str:
    if not signing.exists(arn):
        raise FunctionNotFoundError(_NO_RESOURCE)
    return arn


def _tagged(registry: FunctionRegistry, resource: str) -> FunctionRecord:
    """The $LATEST record of the function `resource` names (an unqualified function ARN)."""
    if _FUNCTION_MARK not in resource:
        # An event source mapping or capacity provider: lambda-emu tags none yet.
        raise FunctionNotFoundError(_NO_RESOURCE)
    name, qualifier = registry.parse(resource)
    if qualifier is not None:
        raise ConfigError(
            "Tags on function aliases and versions are not supported. Please specify a function ARN."
        )
    return registry.record(name)
