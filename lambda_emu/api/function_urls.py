"""Lambda's Function URL config API over HTTP (Lambda API Reference): CreateFunctionUrlConfig,
GetFunctionUrlConfig, UpdateFunctionUrlConfig, DeleteFunctionUrlConfig and ListFunctionUrlConfigs. Each URL
is served by `serve`'s Function URL front, named by its url-id in the host:
http://<url-id>.lambda-url.<region>.localhost:<port>/."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from lambda_emu.api.routes import Reply, Request, RouteTable, json_reply, path
from lambda_emu.api.service import LambdaService, json_object
from lambda_emu.control.function_urls import UrlConfig, new_url_id, rendered, timestamp
from lambda_emu.control.request_shapes import OPERATIONS
from lambda_emu.control.validation import check_request
from lambda_emu.errors import ApiError

LOG = logging.getLogger(__name__)

URL_PATH = "/2021-10-31/functions/{name}/url"
URLS_PATH = "/2021-10-31/functions/{name}/urls"
_NOT_FOUND = "The resource you requested does not exist."


def function_url(service: LambdaService, url_id: str) -> str:
    """The URL a url-id is served at (the port of serve's Function URL front, once it runs)."""
    port = service.function_url_port
    where = f":{port}" if port is not None else ""
    return f"http://{url_id}.lambda-url.{service.emulator.config.region}.localhost{where}/"


def _target(
    service: LambdaService, request: Request, operation: str, body: dict[str, Any]
) -> tuple[str, str | None]:
    """The function and qualifier (None: the unqualified function) the request names, checked against the
    operation's shape and found as GetFunction finds them (404 for an unknown function or alias)."""
    qualifier = request.query.get("Qualifier")
    fields = {**body, "FunctionName": request.function_name}
    if qualifier is not None:
        fields["Qualifier"] = qualifier
    check_request(OPERATIONS[operation], fields)
    name, qualifier = service.registry.parse(request.function_name, qualifier)
    service.registry.record(name, qualifier)
    return name, qualifier


def _answer(service: LambdaService, config: UrlConfig, operation: str, status: int) -> Reply:
    qualifier = None if config.qualifier == "$LATEST" else config.qualifier
    arn = service.emulator.config.function_arn(config.function, qualifier)
    url = function_url(service, config.url_id)
    return json_reply(status, rendered(config, url=url, arn=arn, operation=operation))


def create(service: LambdaService, request: Request) -> Reply:
    body = json_object(request.body)
    name, qualifier = _target(service, request, "CreateFunctionUrlConfig", body)
    now = timestamp()
    config = UrlConfig(
        function=name,
        qualifier=qualifier or "$LATEST",
        url_id=new_url_id(),
        auth_type=body["AuthType"],
        invoke_mode=body.get("InvokeMode") or "BUFFERED",
        cors=body.get("Cors"),
        created=now,
        modified=now,
    )
    service.function_urls.create(config, service.emulator.config.function_arn(name, qualifier))
    return _answer(service, config, "CreateFunctionUrlConfig", 201)


def _stored(service: LambdaService, name: str, qualifier: str | None) -> UrlConfig:
    config = service.function_urls.get(name, qualifier)
    if config is None:
        raise ApiError("ResourceNotFoundException", _NOT_FOUND)
    return config


def get(service: LambdaService, request: Request) -> Reply:
    name, qualifier = _target(service, request, "GetFunctionUrlConfig", {})
    return _answer(service, _stored(service, name, qualifier), "GetFunctionUrlConfig", 200)


def update(service: LambdaService, request: Request) -> Reply:
    body = json_object(request.body)
    name, qualifier = _target(service, request, "UpdateFunctionUrlConfig", body)
    config = _stored(service, name, qualifier)
    changes: dict[str, Any] = {"modified": timestamp()}
    if body.get("AuthType") is not None:
        changes["auth_type"] = body["AuthType"]
    if body.get("InvokeMode") is not None:
        changes["invoke_mode"] = body["InvokeMode"]
    if "Cors" in body:
        changes["cors"] = body["Cors"]
    config = dataclasses.replace(config, **changes)
    service.function_urls.replace(config)
    return _answer(service, config, "UpdateFunctionUrlConfig", 200)


def delete(service: LambdaService, request: Request) -> Reply:
    name, qualifier = _target(service, request, "DeleteFunctionUrlConfig", {})
    if not service.function_urls.delete(name, qualifier):
        raise ApiError("ResourceNotFoundException", _NOT_FOUND)
    return Reply(204)


def list_configs(service: LambdaService, request: Request) -> Reply:
    max_items = request.query.get("MaxItems")
    fields: dict[str, Any] = {"FunctionName": request.function_name}
    if max_items is not None:
        try:
            fields["MaxItems"] = int(max_items)
        except ValueError:
            raise ApiError("InvalidParameterValueException", f"Invalid MaxItems: {max_items}") from None
    check_request(OPERATIONS["ListFunctionUrlConfigs"], fields)
    name, _ = service.registry.parse(request.function_name)
    service.registry.record(name)
    configs = service.function_urls.all(name)
    start = _marker(request.query.get("Marker"), len(configs))
    end = start + int(fields.get("MaxItems", 50))
    page = [
        rendered(
            config,
            url=function_url(service, config.url_id),
            arn=service.emulator.config.function_arn(
                name, None if config.qualifier == "$LATEST" else config.qualifier
            ),
            operation="ListFunctionUrlConfigs",
        )
        for config in configs[start:end]
    ]
    answer: dict[str, Any] = {"FunctionUrlConfigs": page}
    if end < len(configs):
        answer["NextMarker"] = str(end)
    return json_reply(200, answer)


def _marker(marker: str | None, count: int) -> int:
    if marker is None:
        return 0
    if not marker.isdigit() or int(marker) > count:
        raise ApiError("InvalidParameterValueException", f"Invalid marker: {marker}")
    return int(marker)


ROUTES: RouteTable = [
    ("POST", path(URL_PATH), create),
    ("GET", path(URL_PATH), get),
    ("PUT", path(URL_PATH), update),
    ("DELETE", path(URL_PATH), delete),
    ("GET", path(URLS_PATH), list_configs),
]
