"""Lambda's permission API over HTTP (Lambda API Reference): AddPermission, GetPolicy and RemovePermission on
the functions' resource-based policies, who signed a request (SigV4 access key → principal) and whether its
signature holds (when principals.json has the key's secret)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lambda_emu import wire
from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object
from lambda_emu.control.policy import Permission, compact, load_principals, render
from lambda_emu.control.sigv4 import access_key
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

POLICY_PATH = "/2015-03-31/functions/{name}/policy"
STATEMENT_PATH = "/2015-03-31/functions/{name}/policy/{sid}"


def _policy_target(service: LambdaService, request: Request) -> tuple[str, str | None]:
    """The function and qualifier (None: the unqualified function) whose policy the request names."""
    name, qualifier = service.registry.parse(request.function_name, request.query.get("Qualifier"))
    # Found as GetFunction finds it (404 for an unknown function, version or alias), not as Invoke resolves
    # it: a function's policy can be managed whatever its state.
    service.registry.record(name, qualifier)
    # A policy of $LATEST cannot be added (AddPermission: "Lambda does not support adding policies to
    # version $LATEST"); invoking $LATEST is governed by the unqualified function's policy.
    return name, qualifier


def add_permission(service: LambdaService, request: Request) -> Reply:
    name, qualifier = _policy_target(service, request)
    if qualifier == wire.LATEST:
        raise ConfigError("We currently do not support adding policies for $LATEST.")
    body = json_object(request.body)
    statement = Permission.from_request(body).statement(service.emulator.config.function_arn(name, qualifier))
    revision_id = body.get("RevisionId")
    service.policies.add(
        name, qualifier, statement, revision_id=revision_id if isinstance(revision_id, str) else None
    )
    return json_reply(201, {"Statement": compact(statement)})


def get_policy(service: LambdaService, request: Request) -> Reply:
    name, qualifier = _policy_target(service, request)
    statements, revision_id = service.policies.get(name, qualifier)
    return json_reply(200, {"Policy": render(statements), "RevisionId": revision_id})


def remove_permission(service: LambdaService, request: Request) -> Reply:
    name, qualifier = _policy_target(service, request)
    service.policies.remove(
        name, qualifier, request.params["sid"], revision_id=request.query.get("RevisionId")
    )
    return Reply(204)


def signed_caller(service: LambdaService, headers: Mapping[str, str]) -> str | None:
    """The principal a SigV4-signed request comes from: its access key id looked up in the state
    directory's principals.json; None when unsigned or the key is not mapped. A key with a secret there
    has had its signature checked first (`sigv4.check_signed`, for every request to the API)."""
    key = access_key(headers.get("authorization", ""))
    found = None if key is None else load_principals(service.emulator.config.state_dir).get(key)
    return None if found is None else found.arn


ROUTES: RouteTable = [
    ("POST", path(POLICY_PATH), add_permission),
    ("GET", path(POLICY_PATH), get_policy),
    ("DELETE", path(STATEMENT_PATH), remove_permission),
]
