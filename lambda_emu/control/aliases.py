"""Aliases' routing and SAM's AutoPublishAlias: which version an alias sends a call to (pure), and the
publish-then-point step a template deploy does."""

from __future__ import annotations

import logging
from dataclasses import replace

from lambda_emu.control.model import AliasRecord, new_revision
from lambda_emu.control.store import FunctionStore

LOG = logging.getLogger(__name__)


def pick_version(alias: AliasRecord, draw: float) -> str:
    """The version for one invoke of `alias`, given a uniform draw in [0, 1): each additional version gets
    its weight's share of calls, the primary version the rest (Lambda picks per invoke, at random by
    weight)."""
    threshold = 0.0
    for version, weight in alias.weights.items():
        threshold += weight
        if draw < threshold:
            return version
    return alias.function_version


def auto_publish(store: FunctionStore, name: str, alias_name: str) -> AliasRecord:
    """Publish $LATEST (the existing version when nothing changed) and point `alias_name` at it."""
    with store.lock:
        version, _ = store.publish(name)
        current = store.alias(name, alias_name)
        if current is not None and current.function_version == version.version and not current.weights:
            return current
        alias = AliasRecord(name=alias_name, function_version=version.version)
        if current is not None:
            alias = replace(current, function_version=version.version, weights={}, revision_id=new_revision())
        store.put_alias(name, alias)
        LOG.info("AutoPublishAlias: %s:%s → version %s", name, alias_name, version.version)
        return alias
