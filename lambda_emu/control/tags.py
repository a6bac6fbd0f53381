"""A function's tags (TagResource, UntagResource, ListTags): kept on its $LATEST record, which the store
persists, so every version shares them, as Lambda's tags belong to the function, not to a version."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lambda_emu.control.model import FunctionRecord
from lambda_emu.control.registry import FunctionRegistry
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)

_FUNCTION_MARK = ":function:"


def list_tags(registry: FunctionRegistry, resource: str) -> dict[str, Any]:
    validate_function_request("ListTags", {"Resource": resource})
    return {"Tags": dict(_tagged(registry, resource).tags)}


def tag_resource(registry: FunctionRegistry, resource: str, body: Mapping[str, Any]) -> None:
    validate_function_request("TagResource", {**body, "Resource": resource})
    with registry.store.lock:
        record = _tagged(registry, resource)
        # Tags are not configuration: the RevisionId stays (a tag never races an update's RevisionId check).
        registry.store.put_latest(replace(record, tags={**record.tags, **body["Tags"]}))
    LOG.info("tagged %s: %s", resource, sorted(body["Tags"]))


def untag_resource(registry: FunctionRegistry, resource: str, keys: Sequence[str]) -> None:
    validate_function_request("UntagResource", {"Resource": resource, "TagKeys": list(keys) or None})
    with registry.store.lock:
        record = _tagged(registry, resource)
        kept = {key: value for key, value in record.tags.items() if key not in keys}
        registry.store.put_latest(replace(record, tags=kept))


def _tagged(registry: FunctionRegistry, resource: str) -> FunctionRecord:
    """The $LATEST record of the function `resource` names (an unqualified function ARN)."""
    if _FUNCTION_MARK not in resource:
        # A code signing config, event source mapping or capacity provider: lambda-emu keeps none yet.
        raise FunctionNotFoundError("The resource you requested does not exist.")
    name, qualifier = registry.parse(resource)
    if qualifier is not None:
        raise ConfigError(
            "Tags on function aliases and versions are not supported. Please specify a function ARN."
        )
    return registry.record(name)
