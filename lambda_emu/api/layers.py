"""Lambda's layers API over HTTP: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
ListLayerVersions and DeleteLayerVersion, thin shells around the layer store."""

from __future__ import annotations

import logging

from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object

LOG = logging.getLogger(__name__)

LAYERS = "/2018-10-31/layers"
VERSIONS = LAYERS + "/{layer}/versions"
VERSION = VERSIONS + "/{number}"


def _layers(service: LambdaService, request: Request) -> Reply:
    # One path, two operations: GetLayerVersionByArn is ListLayers' path with ?find=LayerVersion.
    if request.query.get("find") == "LayerVersion":
        return json_reply(200, service.layers.get_by_arn(request.query.get("Arn", "")))
    return json_reply(200, service.layers.list_layers(request.query))


def _delete(service: LambdaService, request: Request) -> Reply:
    service.layers.delete(request.params["layer"], request.params["number"])
    return Reply(204)


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
]
