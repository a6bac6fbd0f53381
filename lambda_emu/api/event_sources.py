"""Lambda's event source mapping API over HTTP: Create/Get/Update/Delete/ListEventSourceMappings, thin
shells around event_sources.EventSources (which serve attaches to the service)."""

from __future__ import annotations

import logging

from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object
from lambda_emu.errors import ApiError
from lambda_emu.event_sources.pollers import EventSources

LOG = logging.getLogger(__name__)

MAPPINGS = "/2015-03-31/event-source-mappings"
MAPPING = MAPPINGS + "/{uuid}"


def _sources(service: LambdaService) -> EventSources:
    if service.event_sources is None:
        raise ApiError("ServiceException", "This emulator runs no event source mappings.")
    return service.event_sources


def _create(service: LambdaService, request: Request) -> Reply:
    return json_reply(202, _sources(service).create(json_object(request.body)))


def _list(service: LambdaService, request: Request) -> Reply:
    return json_reply(200, _sources(service).list_mappings(request.query))


ROUTES: RouteTable = [
    ("POST", path(MAPPINGS + "/"), _create),
    ("POST", path(MAPPINGS), _create),
    ("GET", path(MAPPINGS + "/"), _list),
    ("GET", path(MAPPINGS), _list),
    ("GET", path(MAPPING), lambda s, r: json_reply(200, _sources(s).get(r.params["uuid"]))),
    (
        "PUT",
        path(MAPPING),
        lambda s, r: json_reply(202, _sources(s).update(r.params["uuid"], json_object(r.body))),
    ),
    ("DELETE", path(MAPPING), lambda s, r: json_reply(202, _sources(s).delete(r.params["uuid"]))),
]
