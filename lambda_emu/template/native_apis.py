"""CloudFormation's own API Gateway resources: AWS::ApiGateway::RestApi (its OpenAPI Body, or its
AWS::ApiGateway::Resource tree with AWS::ApiGateway::Method proxy integrations) and AWS::ApiGatewayV2::Api
of protocol HTTP (its Body, its quick-create Target, or AWS::ApiGatewayV2::Route resources with their
Integrations), each with the stage and stage variables of its Stage resource."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig
from lambda_emu.template.apis import HTTP, REST, TemplateApi, TemplateRoute, http_cors, make_route
from lambda_emu.template.intrinsics import Resolver
from lambda_emu.template.openapi import binary_media_types, definition_routes, function_of, read_definition
from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

REST_API = "AWS::ApiGateway::RestApi"
REST_RESOURCE = "AWS::ApiGateway::Resource"
REST_METHOD = "AWS::ApiGateway::Method"
REST_STAGE = "AWS::ApiGateway::Stage"
REST_DEPLOYMENT = "AWS::ApiGateway::Deployment"
HTTP_API = "AWS::ApiGatewayV2::Api"
HTTP_ROUTE = "AWS::ApiGatewayV2::Route"
HTTP_INTEGRATION = "AWS::ApiGatewayV2::Integration"
HTTP_STAGE = "AWS::ApiGatewayV2::Stage"


def _names_in(value: Any) -> Iterator[str]:
    """Logical IDs a raw (unresolved) value refers to: Ref, Fn::GetAtt and ${Name} in Fn::Sub."""
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            yield value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            yield attribute[0]
        elif isinstance(attribute, str):
            yield attribute.split(".", 1)[0]
        for inner in value.values():
            yield from _names_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _names_in(inner)
    elif isinstance(value, str):
        yield from (name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", value))


def _refers_to(value: Any, lid: str) -> bool:
    return lid in set(_names_in(value))


def _of_api(resources: Mapping[str, Any], kind: str, key: str, api: str) -> list[tuple[str, dict[str, Any]]]:
    """The resources of type `kind` whose `key` property refers to the API `api`."""
    return [
        (lid, resource.get("Properties") or {})
        for lid, resource in resources.items()
        if resource.get("Type") == kind and _refers_to((resource.get("Properties") or {}).get(key), api)
    ]


def native_apis(
    path: Path,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    functions: set[str],
) -> list[TemplateApi]:
    apis = []
    for lid, resource in resources.items():
        if resource.get("Type") not in (REST_API, HTTP_API):
            continue
        properties = resource.get("Properties") or {}
        reader = ResourceReader(
            path, lid, resource, resolver, emulator, properties if isinstance(properties, dict) else {}
        )
        if not reader.included():
            continue
        if resource["Type"] == REST_API:
            apis.append(_rest_api(reader, resources, resolver, emulator, functions))
        elif str(reader.get("ProtocolType", "HTTP")).upper() == "HTTP":
            apis.append(_http_api(reader, resources, resolver, emulator, functions))
        else:
            LOG.warning("%s: a %s API is not served (HTTP APIs only)", lid, reader.get("ProtocolType"))
    return [api for api in apis if api.routes]


def _definition(
    reader: ResourceReader, kind: str, functions: set[str]
) -> tuple[list[TemplateRoute], tuple[str, ...]]:
    definition = read_definition(reader, "Body", "BodyS3Location")
    if definition is None:
        return [], ()
    routes = []
    for fields in definition_routes(reader, definition, kind == REST, "Body"):
        if fields["function"] not in functions:
            LOG.warning(
                "%s: %s names function %s, which the template lacks",
                reader.lid,
                fields["event"],
                fields["function"],
            )
            continue
        version, timeout = fields.pop("payload_version"), fields.pop("timeout_ms")
        routes.append(make_route(reader, "Body", kind=kind, version=version, timeout=timeout, **fields))
    return routes, binary_media_types(definition)


def _stage(
    reader: ResourceReader, resources: Mapping[str, Any], kind: str, key: str, default: str
) -> tuple[str, dict[str, str]]:
    """The API's stage (its Stage resource's, the $default one first for an HTTP API) and variables."""
    stages = _of_api(resources, kind, key, reader.lid)
    if not stages and kind == REST_STAGE:
        deployments = _of_api(resources, REST_DEPLOYMENT, "RestApiId", reader.lid)
        names = [str(p["StageName"]) for _, p in deployments if isinstance(p.get("StageName"), str)]
        return (names[0] if names else default), {}
    stages.sort(key=lambda found: found[1].get("StageName") != "$default")
    for lid, properties in stages:
        stage = ResourceReader(reader.path, lid, resources[lid], reader.resolver, reader.emulator, properties)
        if not stage.included():
            continue
        variables = stage.get("Variables" if kind == REST_STAGE else "StageVariables", {}) or {}
        return str(stage.get("StageName", default)), {str(k): str(v) for k, v in dict(variables).items()}
    return default, {}


def _rest_api(
    reader: ResourceReader,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    functions: set[str],
) -> TemplateApi:
    routes, binary = _definition(reader, REST, functions)
    # The Resource tree: each Resource's PathPart under its parent (the API's root: RootResourceId).
    parts = {lid: props for lid, props in _of_api(resources, REST_RESOURCE, "RestApiId", reader.lid)}

    def path_of(resource_ref: Any, depth: int = 0) -> str | None:
        names = [name for name in _names_in(resource_ref) if name in parts]
        if not names:
            return "" if _refers_to(resource_ref, reader.lid) else None  # GetAtt Api.RootResourceId
        props = parts[names[0]]
        parent = path_of(props.get("ParentId"), depth + 1) if depth < 30 else None
        return None if parent is None else f"{parent}/{props.get('PathPart', '')}"

    for lid, props in _of_api(resources, REST_METHOD, "RestApiId", reader.lid):
        method_reader = ResourceReader(reader.path, lid, resources[lid], resolver, emulator, props)
        integration = props.get("Integration") or {}
        if not isinstance(integration, dict) or str(integration.get("Type", "")).upper() != "AWS_PROXY":
            LOG.warning("%s: method %s is not a Lambda proxy integration; it is not served", reader.lid, lid)
            continue
        function = function_of(method_reader.resolve_as("Integration.Uri", integration.get("Uri")))
        resource_path = path_of(props.get("ResourceId"))
        if function is None or function not in functions or resource_path is None:
            LOG.warning("%s: method %s names no function of the template; it is not served", reader.lid, lid)
            continue
        routes.append(
            make_route(
                method_reader,
                "Properties",
                kind=REST,
                method=method_reader.get("HttpMethod"),
                path=resource_path or "/",
                function=function,
                version=None,
                timeout=integration.get("TimeoutInMillis"),
                event=lid,
            )
        )
    stage, variables = _stage(reader, resources, REST_STAGE, "RestApiId", "Prod")
    binary += tuple(str(t).replace("~1", "/") for t in reader.get("BinaryMediaTypes", []) or [])
    return TemplateApi(
        reader.lid, REST, stage, tuple(routes), stage_variables=variables, binary_media_types=binary
    )


def _http_api(
    reader: ResourceReader,
    resources: Mapping[str, Any],
    resolver: Resolver,
    emulator: EmulatorConfig,
    functions: set[str],
) -> TemplateApi:
    routes, _ = _definition(reader, HTTP, functions)
    target = function_of(reader.get("Target", None))
    if target is not None and target in functions:
        # Quick create: one route (RouteKey, $default by default) to the Target function, payload 2.0.
        method, _, path = str(reader.get("RouteKey", "$default")).partition(" ")
        routes.append(
            make_route(
                reader,
                "Target",
                kind=HTTP,
                method=method if path else "ANY",
                path=path or method,
                function=target,
                version="2.0",
                timeout=None,
                event=reader.lid,
            )
        )
    integrations = {lid: props for lid, props in _of_api(resources, HTTP_INTEGRATION, "ApiId", reader.lid)}
    for lid, props in _of_api(resources, HTTP_ROUTE, "ApiId", reader.lid):
        route_reader = ResourceReader(reader.path, lid, resources[lid], resolver, emulator, props)
        named = [name for name in _names_in(props.get("Target")) if name in integrations]
        if not named:
            LOG.warning("%s: route %s has no integration of the template; it is not served", reader.lid, lid)
            continue
        integration = integrations[named[0]]
        integration_reader = ResourceReader(
            reader.path, named[0], resources[named[0]], resolver, emulator, integration
        )
        function = function_of(integration_reader.get("IntegrationUri", None))
        if str(integration.get("IntegrationType", "")).upper() != "AWS_PROXY" or function not in functions:
            LOG.warning("%s: route %s is not a Lambda proxy integration; it is not served", reader.lid, lid)
            continue
        assert function is not None
        key = str(route_reader.get("RouteKey"))
        method, _, path = key.partition(" ")
        routes.append(
            make_route(
                route_reader,
                "RouteKey",
                kind=HTTP,
                method=method if path else "ANY",
                path=path or method,
                function=function,
                version=integration_reader.get("PayloadFormatVersion", "2.0"),
                timeout=integration_reader.get("TimeoutInMillis", None),
                event=lid,
            )
        )
    stage, variables = _stage(reader, resources, HTTP_STAGE, "ApiId", "$default")
    cors = http_cors(reader, reader.get("CorsConfiguration", None))
    return TemplateApi(reader.lid, HTTP, stage, tuple(routes), stage_variables=variables, cors=cors)
