"""Lambda's layers API over HTTP: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
ListLayerVersions, DeleteLayerVersion and a version's policy (Add/RemoveLayerVersionPermission,
GetLayerVersionPolicy), thin shells around the layer store, after the model's checks (api/inputs)."""

from __future__ import annotations

import logging

from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object

LOG = logging.getLogger(__name__)

LAYERS = "/2018-10-31/layers"
VERSIONS = LAYERS + "/{layer}/versions"
VERSION = VERSIONS + "/{number}"
POLICY = VERSION + "/policy"


def _layers(service: LambdaService, request: Request) -> Reply:
    # One path, two operations: GetLayerVersionByArn is ListLayers' path with ?find=LayerVersion.
    if request.query.get("find") == "LayerVersion":
        return json_reply(200, service.layers.get_by_arn(request.query.get("Arn", "")))
    return json_reply(200, service.layers.list_layers(request.query))


def _delete(service: LambdaService, request: Request) -> Reply:
    service.layers.delete(request.params["layer"], request.params["number"])
    return Reply(204)


def _add_permission(service: LambdaService, request: Request) -> Reply:
    answer = service.layers.add_permission(
        request.params["layer"],
        request.params["number"],
        json_object(request.body),
        request.query.get("RevisionId"),
    )
    return json_reply(201, answer)


def _remove_permission(service: LambdaService, request: Request) -> Reply:
    params = request.params
    service.layers.remove_permission(
        params["layer"], params["number"], params["sid"], request.query.get("RevisionId")
    )
    return Reply(204)


def _policy(service: LambdaService, request: Request) -> Reply:
    return json_reply(200, service.layers.policy(request.params["layer"], request.params["number"]))


ROUTES: RouteTable = [
    ("GET", path(LAYERS), _layers),
    ("GET", path(LAYERS + "/"), _layers),
    (
        "POST",
        path(VERSIONS),
        lambda s, r: json_reply(201, s.layers.publish(r.params["layer"], json_object(r.body))),
    ),
    ("GET", path(VERSIONS), lambda s, r: json_reply(200, s.layers.list_versions(r.params["layer"], r.query))),
    ("GET", path(VERSION), lambda s, r: json_reply(200, s.layers.get(r.params["layer"], r.params["number"]))),
    ("DELETE", path(VERSION), _delete),
    ("POST", path(POLICY), _add_permission),
    ("GET", path(POLICY), _policy),
    ("DELETE", path(POLICY + "/{sid}"), _remove_permission),
]
