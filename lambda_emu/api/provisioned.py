"""Lambda's provisioned concurrency API over HTTP: Put/Get/Delete/ListProvisionedConcurrencyConfig(s), thin
shells around the control plane's configs (one path; List is ?List=ALL)."""

from __future__ import annotations

import logging

from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object

LOG = logging.getLogger(__name__)

PROVISIONED = path("/2019-09-30/functions/{name}/provisioned-concurrency")


def _get(service: LambdaService, request: Request) -> Reply:
    if request.query.get("List") == "ALL":
        return json_reply(200, service.provisioned.list(request.function_name, request.query))
    return json_reply(200, service.provisioned.get(request.function_name, request.query.get("Qualifier")))


def _put(service: LambdaService, request: Request) -> Reply:
    body = json_object(request.body)
    answer = service.provisioned.put(request.function_name, request.query.get("Qualifier"), body)
    # 202: the config is accepted, its environments are being initialised (Lambda API Reference).
    return json_reply(202, answer)


def _delete(service: LambdaService, request: Request) -> Reply:
    service.provisioned.delete(request.function_name, request.query.get("Qualifier"))
    return Reply(204)


ROUTES: RouteTable = [
    ("GET", PROVISIONED, _get),
    ("PUT", PROVISIONED, _put),
    ("DELETE", PROVISIONED, _delete),
]
