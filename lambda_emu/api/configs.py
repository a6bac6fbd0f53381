"""Lambda's configuration APIs over HTTP, thin shells around the control plane: provisioned concurrency
(Put/Get/Delete/ListProvisionedConcurrencyConfig(s): one path, List is ?List=ALL), code signing
(Create/Get/Update/Delete/ListCodeSigningConfig(s), ListFunctionsByCodeSigningConfig,
Put/Get/DeleteFunctionCodeSigningConfig), Put/GetRuntimeManagementConfig, Put/GetFunctionRecursionConfig."""

from __future__ import annotations

import logging

from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object

LOG = logging.getLogger(__name__)

PROVISIONED = path("/2019-09-30/functions/{name}/provisioned-concurrency")
CODE_SIGNING_CONFIGS = "/2020-04-22/code-signing-configs"
CODE_SIGNING_CONFIG = CODE_SIGNING_CONFIGS + "/{arn}"
FUNCTION_CODE_SIGNING = path("/2020-06-30/functions/{name}/code-signing-config")
RUNTIME_MANAGEMENT = path("/2021-07-20/functions/{name}/runtime-management-config")
RECURSION = path("/2024-08-31/functions/{name}/recursion-config")


def _get_provisioned(service: LambdaService, request: Request) -> Reply:
    if request.query.get("List") == "ALL":
        return json_reply(200, service.provisioned.list(request.function_name, request.query))
    return json_reply(200, service.provisioned.get(request.function_name, request.query.get("Qualifier")))


def _put_provisioned(service: LambdaService, request: Request) -> Reply:
    body = json_object(request.body)
    answer = service.provisioned.put(request.function_name, request.query.get("Qualifier"), body)
    # 202: the config is accepted, its environments are being initialised (Lambda API Reference).
    return json_reply(202, answer)


def _delete_provisioned(service: LambdaService, request: Request) -> Reply:
    service.provisioned.delete(request.function_name, request.query.get("Qualifier"))
    return Reply(204)


def _delete_config(service: LambdaService, request: Request) -> Reply:
    service.code_signing.delete(request.params["arn"])
    return Reply(204)


def _delete_function_code_signing(service: LambdaService, request: Request) -> Reply:
    service.settings.delete_code_signing(request.function_name)
    return Reply(204)


def _list_configs(service: LambdaService, request: Request) -> Reply:
    return json_reply(200, service.code_signing.list(request.query))


ROUTES: RouteTable = [
    ("GET", PROVISIONED, _get_provisioned),
    ("PUT", PROVISIONED, _put_provisioned),
    ("DELETE", PROVISIONED, _delete_provisioned),
    (
        "POST",
        path(CODE_SIGNING_CONFIGS),
        lambda s, r: json_reply(201, s.code_signing.create(json_object(r.body))),
    ),
    (
        "POST",
        path(CODE_SIGNING_CONFIGS + "/"),
        lambda s, r: json_reply(201, s.code_signing.create(json_object(r.body))),
    ),
    ("GET", path(CODE_SIGNING_CONFIGS), _list_configs),
    ("GET", path(CODE_SIGNING_CONFIGS + "/"), _list_configs),
    ("GET", path(CODE_SIGNING_CONFIG), lambda s, r: json_reply(200, s.code_signing.get(r.params["arn"]))),
    (
        "PUT",
        path(CODE_SIGNING_CONFIG),
        lambda s, r: json_reply(200, s.code_signing.update(r.params["arn"], json_object(r.body))),
    ),
    ("DELETE", path(CODE_SIGNING_CONFIG), _delete_config),
    (
        "GET",
        path(CODE_SIGNING_CONFIG + "/functions"),
        lambda s, r: json_reply(200, s.settings.functions_signed_by(r.params["arn"], r.query)),
    ),
    (
        "PUT",
        FUNCTION_CODE_SIGNING,
        lambda s, r: json_reply(200, s.settings.put_code_signing(r.function_name, json_object(r.body))),
    ),
    (
        "GET",
        FUNCTION_CODE_SIGNING,
        lambda s, r: json_reply(200, s.settings.get_code_signing(r.function_name)),
    ),
    ("DELETE", FUNCTION_CODE_SIGNING, _delete_function_code_signing),
    (
        "PUT",
        RUNTIME_MANAGEMENT,
        lambda s, r: json_reply(
            200, s.settings.put_runtime(r.function_name, r.query.get("Qualifier"), json_object(r.body))
        ),
    ),
    (
        "GET",
        RUNTIME_MANAGEMENT,
        lambda s, r: json_reply(200, s.settings.get_runtime(r.function_name, r.query.get("Qualifier"))),
    ),
    (
        "PUT",
        RECURSION,
        lambda s, r: json_reply(200, s.settings.put_recursion(r.function_name, json_object(r.body))),
    ),
    ("GET", RECURSION, lambda s, r: json_reply(200, s.settings.get_recursion(r.function_name))),
]
