"""Lambda's account and tagging API over HTTP: GetAccountSettings, TagResource, UntagResource and ListTags,
thin shells around the control plane's state."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from lambda_emu import wire
from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object
from lambda_emu.control import tags
from lambda_emu.control.account import account_settings

LOG = logging.getLogger(__name__)


def _untag(service: LambdaService, request: Request) -> Reply:
    # tagKeys repeats in the query (tagKeys=a&tagKeys=b): every value counts, not only the last.
    keys = parse_qs(request.query_string).get("tagKeys", [])
    tags.untag_resource(service.registry, request.params["arn"], keys, service.code_signing)
    return Reply(204)


def _tag(service: LambdaService, request: Request) -> Reply:
    tags.tag_resource(
        service.registry, request.params["arn"], json_object(request.body), service.code_signing
    )
    return Reply(204)


ROUTES: RouteTable = [
    (
        "GET",
        path(wire.ACCOUNT_SETTINGS_PATH),
        lambda s, r: json_reply(200, account_settings(s.registry.store, s.limits)),
    ),
    (
        "GET",
        path(wire.ACCOUNT_SETTINGS_PATH + "/"),
        lambda s, r: json_reply(200, account_settings(s.registry.store, s.limits)),
    ),
    (
        "GET",
        path(wire.TAGS_PATH),
        lambda s, r: json_reply(200, tags.list_tags(s.registry, r.params["arn"], s.code_signing)),
    ),
    ("POST", path(wire.TAGS_PATH), _tag),
    ("DELETE", path(wire.TAGS_PATH), _untag),
]
