"""Lambda's function management API over HTTP (Lambda API Reference): the routes of CreateFunction,
GetFunction, ListFunctions, Update*, DeleteFunction, versions and aliases, each a thin shell around the
control plane."""

from __future__ import annotations

import logging

from lambda_emu import wire
from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object
from lambda_emu.control.validation import validate_function_request

LOG = logging.getLogger(__name__)

FUNCTIONS = wire.FUNCTIONS_PATH
FUNCTION = wire.FUNCTION_PATH


def _create_function(service: LambdaService, request: Request) -> Reply:
    body = json_object(request.body)
    signing = body.get("CodeSigningConfigArn")
    if signing:  # the config must exist (CodeSigningConfigNotFoundException), once the request is well formed
        validate_function_request("CreateFunction", body)
        service.code_signing.require_for_function(signing)
    answer = service.control.create_function(body)
    if signing:
        service.settings.link_code_signing(answer["FunctionName"], signing)
    return json_reply(201, answer)


def _get_function(service: LambdaService, request: Request) -> Reply:
    # The control plane answers 404 for a function that does not exist, whatever the limits hold.
    reserved = service.limits.reserved(service.registry.parse(request.function_name)[0])
    answer = service.control.get_function(request.function_name, request.query.get("Qualifier"), reserved)
    return json_reply(200, answer)


def _delete_function(service: LambdaService, request: Request) -> Reply:
    qualifier = request.query.get("Qualifier")
    service.control.delete_function(request.function_name, qualifier)
    name, qualifier = service.registry.parse(request.function_name, qualifier)
    if qualifier is None:
        service.forget(name)
    else:  # a version: what is attached to it goes, the function's settings stay
        service.forget_qualifier(name, qualifier)
    return Reply(204)


def _delete_alias(service: LambdaService, request: Request) -> Reply:
    alias = request.params["alias"]
    service.control.delete_alias(request.function_name, alias)
    name, _ = service.registry.parse(request.function_name, None)
    service.forget_qualifier(name, alias)
    return Reply(204)


def _update_alias(service: LambdaService, request: Request) -> Reply:
    alias = request.params["alias"]
    answer = service.control.update_alias(request.function_name, alias, json_object(request.body))
    # An alias's provisioned environments follow it to the version it points at now.
    service.provisioned.alias_moved(service.registry.parse(request.function_name)[0], alias)
    return json_reply(200, answer)


ROUTES: RouteTable = [
    ("GET", path(FUNCTIONS + "/"), lambda s, r: json_reply(200, s.control.list_functions(r.query))),
    ("GET", path(FUNCTIONS), lambda s, r: json_reply(200, s.control.list_functions(r.query))),
    ("POST", path(FUNCTIONS), _create_function),
    ("POST", path(FUNCTIONS + "/"), _create_function),
    ("GET", path(FUNCTION), _get_function),
    ("DELETE", path(FUNCTION), _delete_function),
    (
        "GET",
        path(wire.CONFIGURATION_PATH),
        lambda s, r: json_reply(
            200, s.control.get_function_configuration(r.function_name, r.query.get("Qualifier"))
        ),
    ),
    (
        "PUT",
        path(wire.CONFIGURATION_PATH),
        lambda s, r: json_reply(
            200, s.control.update_function_configuration(r.function_name, json_object(r.body))
        ),
    ),
    (
        "PUT",
        path(FUNCTION + "/code"),
        lambda s, r: json_reply(200, s.control.update_function_code(r.function_name, json_object(r.body))),
    ),
    (
        "POST",
        path(FUNCTION + "/versions"),
        lambda s, r: json_reply(201, s.control.publish_version(r.function_name, json_object(r.body))),
    ),
    (
        "GET",
        path(FUNCTION + "/versions"),
        lambda s, r: json_reply(200, s.control.list_versions(r.function_name, r.query)),
    ),
    (
        "POST",
        path(FUNCTION + "/aliases"),
        lambda s, r: json_reply(201, s.control.create_alias(r.function_name, json_object(r.body))),
    ),
    (
        "GET",
        path(FUNCTION + "/aliases"),
        lambda s, r: json_reply(200, s.control.list_aliases(r.function_name, r.query)),
    ),
    (
        "GET",
        path(FUNCTION + "/aliases/{alias}"),
        lambda s, r: json_reply(200, s.control.get_alias(r.function_name, r.params["alias"])),
    ),
    ("PUT", path(FUNCTION + "/aliases/{alias}"), _update_alias),
    ("DELETE", path(FUNCTION + "/aliases/{alias}"), _delete_alias),
]
