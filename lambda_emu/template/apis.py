"""A template's HTTP APIs: SAM's `Events` of type Api (REST APIs, payload 1.0) and HttpApi (HTTP APIs,
payload 2.0 unless PayloadFormatVersion says 1.0) on functions, gathered per API with the settings of its
AWS::Serverless::Api / AWS::Serverless::HttpApi resource and of Globals.Api / Globals.HttpApi."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template.authorizers import (
    NO_AUTHORIZER,
    TemplateAuthorizer,
    read_authorizers,
    route_authorizer,
    route_scopes,
)
from lambda_emu.template.intrinsics import Resolver
from lambda_emu.template.openapi import binary_media_types, definition_routes, read_definition
from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

REST = "REST"
HTTP = "HTTP"
URL = "URL"  # a Function URL: one $default route to its function, payload 2.0, on an origin of its own
SERVERLESS_API = "AWS::Serverless::Api"
SERVERLESS_HTTP_API = "AWS::Serverless::HttpApi"
# The APIs SAM makes for events that name none (AWS SAM, "AWS::Serverless::Api": implicit API; its stage is
# Prod; the implicit HTTP API serves the $default stage).
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
DEFAULT_ROUTE = "$default"
DEFAULT_STAGE = "$default"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
# API Gateway's integration timeouts: at most 29 s for REST APIs, 30 s for HTTP APIs (API Gateway quotas);
# SAM's TimeoutInMillis lowers them (50 ms at least).
REST_TIMEOUT_MS = 29_000
HTTP_TIMEOUT_MS = 30_000
_MIN_TIMEOUT_MS = 50


@dataclass(frozen=True)
class Cors:
    """An API's CORS settings, as lists of values (SAM's Cors strings are quoted and comma-separated)."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class TemplateRoute:
    """One route: `method` (upper case, or ANY) and `path` (/items/{id}, /{proxy+}, or $default) to a
    function (by FunctionName), with the payload format the function gets and the integration timeout."""

    method: str
    path: str
    function: str
    payload_version: str
    timeout_ms: int
    event: str  # the function's event that made it: "LogicalId.EventName"
    # The event's Auth.Authorizer as written (NONE: none), then, once the API is read, the authorizer
    # the route uses (its own, else the API's DefaultAuthorizer), or None.
    authorizer: str | None = None
    scopes: tuple[str, ...] | None = None  # the event's AuthorizationScopes (a JWT authorizer's otherwise)


@dataclass(frozen=True)
class TemplateApi:
    """One API of the template, REST or HTTP, with its routes."""

    name: str  # logical ID (ServerlessRestApi / ServerlessHttpApi for SAM's implicit ones)
    kind: str  # REST or HTTP
    stage: str
    routes: tuple[TemplateRoute, ...] = ()
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()  # REST only: HTTP APIs decide by content type
    cors: Cors | None = None
    authorizers: Mapping[str, TemplateAuthorizer] = field(default_factory=dict)
    url_auth: str = "NONE"  # a Function URL's AuthType: NONE or AWS_IAM
    invoke_mode: str = "BUFFERED"  # a Function URL's InvokeMode: BUFFERED or RESPONSE_STREAM


def template_apis(
    path: Path,
    data: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> tuple[TemplateApi, ...]:
    """Every API the template's functions are reached through, in template order (implicit APIs first)."""
    resources: Mapping[str, Any] = data.get("Resources") or {}
    found_globals = data.get("Globals")
    sections: Mapping[str, Any] = found_globals if isinstance(found_globals, dict) else {}
    routes, kinds = _event_routes(path, resources, functions, resolver, emulator)
    for lid, resource in resources.items():  # APIs that only their definition gives routes
        defined = {SERVERLESS_API: REST, SERVERLESS_HTTP_API: HTTP}.get(resource.get("Type"))
        properties = resource.get("Properties") or {}
        if defined is not None and lid not in routes and isinstance(properties, dict):
            if "DefinitionBody" in properties or "DefinitionUri" in properties:
                routes[lid], kinds[lid] = [], defined
    names = {function.name for function in functions.values()}
    apis: list[TemplateApi] = []
    for api, found in routes.items():
        reader = _api_reader(path, resources, sections, api, kinds[api], found, resolver, emulator)
        if reader.included():
            apis.append(_api(reader, api, kinds[api], tuple(found), names))
    from lambda_emu.template.native_apis import native_apis  # it builds its routes with make_route, here

    apis += native_apis(path, resources, resolver, emulator, names)
    return tuple(apis)


def _event_routes(
    path: Path,
    resources: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> tuple[dict[str, list[TemplateRoute]], dict[str, str]]:
    """The routes the functions' `Api` and `HttpApi` events declare, by API, and each API's kind."""
    routes: dict[str, list[TemplateRoute]] = {}
    kinds: dict[str, str] = {}
    for lid, function in functions.items():
        properties = resources[lid].get("Properties") or {}
        events = properties.get("Events") if isinstance(properties, dict) else None
        for event_name, event in events.items() if isinstance(events, dict) else ():
            if not isinstance(event, dict) or event.get("Type") not in ("Api", "HttpApi"):
                continue
            fields = event.get("Properties") or {}
            if not isinstance(fields, dict):
                raise TemplateError(
                    f"{path}: resource {lid}, event {event_name}: Properties must be a mapping."
                )
            reader = ResourceReader(path, lid, resources[lid], resolver, emulator, fields)
            kind = REST if event["Type"] == "Api" else HTTP
            api = _api_name(path, lid, event_name, fields.get("RestApiId" if kind == REST else "ApiId"), kind)
            if kinds.setdefault(api, kind) != kind:
                raise TemplateError(f"{path}: resource {lid}, event {event_name}: {api} is not a {kind} API.")
            routes.setdefault(api, []).append(_route(reader, f"{lid}.{event_name}", function.name, kind))
    return routes, kinds


def _api_reader(
    path: Path,
    resources: Mapping[str, Any],
    sections: Mapping[str, Any],
    api: str,
    kind: str,
    found: list[TemplateRoute],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> ResourceReader:
    """The reader of an API's properties: the Globals section of its kind under its own (SAM's implicit
    API has Globals only, without a definition)."""
    resource = resources.get(api)
    if resource is None and api not in (IMPLICIT_REST_API, IMPLICIT_HTTP_API):
        raise TemplateError(f"{path}: {found[0].event} names API {api}, which the template lacks.")
    expected = SERVERLESS_API if kind == REST else SERVERLESS_HTTP_API
    if resource is not None and resource.get("Type") != expected:
        raise TemplateError(f"{path}: {found[0].event} names {api}, which is not an {expected}.")
    shared = sections.get("Api" if kind == REST else "HttpApi") or {}
    if resource is None and isinstance(shared, dict):
        shared = {k: v for k, v in shared.items() if k not in ("DefinitionBody", "DefinitionUri")}
    own = (resource or {}).get("Properties") or {}
    if not isinstance(shared, dict) or not isinstance(own, dict):
        raise TemplateError(f"{path}: the properties of API {api} must be a mapping.")
    return ResourceReader(path, api, resource or {"Type": expected}, resolver, emulator, {**shared, **own})


def _api_name(path: Path, lid: str, event: str, ref: Any, kind: str) -> str:
    """The logical ID an event's RestApiId / ApiId names (a Ref, or the ID itself)."""
    if ref is None:
        return IMPLICIT_REST_API if kind == REST else IMPLICIT_HTTP_API
    if isinstance(ref, dict) and set(ref) == {"Ref"} and isinstance(ref["Ref"], str):
        return ref["Ref"]
    if isinstance(ref, str):
        return ref
    key = "RestApiId" if kind == REST else "ApiId"
    raise TemplateError(f"{path}: resource {lid}, event {event}, property {key}: must be a Ref to an API.")


def _route(reader: ResourceReader, event: str, function: str, kind: str) -> TemplateRoute:
    where = f"Events.{event.split('.', 1)[1]}"
    path, method = reader.get("Path", None), reader.get("Method", None)
    if kind == HTTP and path is None and method is None:
        # An HttpApi event without Path and Method is the API's $default route (AWS SAM, HttpApi event).
        path, method = DEFAULT_ROUTE, "ANY"
    return make_route(
        reader,
        where,
        kind=kind,
        method=method,
        path=path,
        function=function,
        version=None if kind == REST else reader.get("PayloadFormatVersion", "2.0"),
        timeout=reader.get("TimeoutInMillis", None),
        event=event,
        authorizer=route_authorizer(reader, where, reader.properties),
        scopes=route_scopes(reader, where, reader.properties),
    )


def make_route(
    reader: ResourceReader,
    where: str,
    *,
    kind: str,
    method: Any,
    path: Any,
    function: str,
    version: Any,
    timeout: Any,
    event: str,
    authorizer: str | None = None,
    scopes: tuple[str, ...] | None = None,
) -> TemplateRoute:
    """A route checked as API Gateway checks one; errors name `where` (the property it came from)."""
    if not isinstance(path, str) or not path.startswith("/") and path != DEFAULT_ROUTE:
        raise reader.error(f"{where}.Path", "must be a path starting with /")
    if (
        not isinstance(method, str)
        or method.upper() not in _METHODS
        and method.lower() != "x-amazon-apigateway-any-method"
    ):
        raise reader.error(f"{where}.Method", f"must be one of {', '.join(_METHODS)}")
    method = "ANY" if method.lower() in ("any", "x-amazon-apigateway-any-method") else method.upper()
    _check_path(reader, f"{where}.Path", path)
    version = "1.0" if version is None else str(version)
    if version not in ("1.0", "2.0") or (kind == REST and version != "1.0"):
        raise reader.error(f"{where}.PayloadFormatVersion", "must be 1.0 or 2.0 (REST APIs: 1.0)")
    ceiling = REST_TIMEOUT_MS if kind == REST else HTTP_TIMEOUT_MS
    try:
        timeout = ceiling if timeout is None else int(timeout)
    except (TypeError, ValueError):
        raise reader.error(f"{where}.TimeoutInMillis", "must be a whole number of milliseconds") from None
    if not _MIN_TIMEOUT_MS <= timeout <= ceiling:
        raise reader.error(f"{where}.TimeoutInMillis", f"must be {_MIN_TIMEOUT_MS} to {ceiling}")
    return TemplateRoute(method, _normal_path(path), function, version, timeout, event, authorizer, scopes)


def _check_path(reader: ResourceReader, key: str, path: str) -> None:
    """API Gateway's path rules: a variable is a whole segment, and a greedy one ({name+}) comes last."""
    if path == DEFAULT_ROUTE:
        return
    segments = [s for s in path.split("/") if s]
    for index, segment in enumerate(segments):
        if "{" in segment or "}" in segment:
            if not (segment.startswith("{") and segment.endswith("}") and len(segment) > 2):
                raise reader.error(key, f"{segment!r}: a path variable is a whole segment, e.g. {{id}}")
            if segment.endswith("+}") and index != len(segments) - 1:
                raise reader.error(key, f"{segment!r}: a greedy path variable must be the last segment")


def _normal_path(path: str) -> str:
    if path == DEFAULT_ROUTE:
        return path
    return "/" + "/".join(s for s in path.split("/") if s)


def _api(
    reader: ResourceReader, name: str, kind: str, routes: tuple[TemplateRoute, ...], functions: set[str]
) -> TemplateApi:
    definition = read_definition(reader, "DefinitionBody", "DefinitionUri")
    defined: list[TemplateRoute] = []
    if definition is not None:
        for fields in definition_routes(reader, definition, kind == REST, "DefinitionBody"):
            if fields["function"] not in functions:
                LOG.warning(
                    "%s: %s names function %s, which the template lacks",
                    name,
                    fields["event"],
                    fields["function"],
                )
                continue
            defined.append(
                make_route(
                    reader,
                    "DefinitionBody",
                    kind=kind,
                    version=fields.pop("payload_version"),
                    timeout=fields.pop("timeout_ms"),
                    **fields,
                )
            )
    routes = (*defined, *routes)
    if kind == REST:
        stage = str(reader.get("StageName", "Prod"))
        variables = reader.get("Variables", {})
        # SAM escapes the slash of a media type as ~1 (a JSON Pointer escape): image~1png is image/png.
        binary = tuple(str(t).replace("~1", "/") for t in reader.get("BinaryMediaTypes", []) or [])
        binary += binary_media_types(definition or {})
        cors = _rest_cors(reader, reader.get("Cors", None))
    else:
        stage = str(reader.get("StageName", DEFAULT_STAGE))
        variables = reader.get("StageVariables", {})
        binary = ()
        cors = http_cors(reader, reader.get("CorsConfiguration", None))
    if not isinstance(variables, dict):
        raise reader.error("Variables" if kind == REST else "StageVariables", "must be a mapping")
    authorizers, default = read_authorizers(reader, kind == REST)
    guarded = []
    for route in routes:
        chosen = default if route.authorizer is None else route.authorizer
        if chosen == NO_AUTHORIZER:
            chosen = None
        if chosen is not None and chosen not in authorizers:
            raise TemplateError(
                f"{reader.path}: {route.event} names authorizer {chosen}, which {name} lacks."
            )
        guarded.append(replace(route, authorizer=chosen))
    return TemplateApi(
        name,
        kind,
        stage,
        tuple(guarded),
        stage_variables={str(k): str(v) for k, v in variables.items()},
        binary_media_types=binary,
        cors=cors,
        authorizers=authorizers,
    )


def _unquoted(value: Any) -> tuple[str, ...]:
    """SAM's Cors values are header values in single quotes ("'GET,POST'"): the values inside."""
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _rest_cors(reader: ResourceReader, value: Any) -> Cors | None:
    """A REST API's Cors: an origin string, or AllowOrigin, AllowMethods, AllowHeaders, MaxAge,
    AllowCredentials (AWS SAM, CorsConfiguration of AWS::Serverless::Api)."""
    if value is None:
        return None
    if isinstance(value, str):
        return Cors(allow_origins=_unquoted(value))
    if not isinstance(value, dict):
        raise reader.error("Cors", "must be an origin string or a mapping")
    origin = value.get("AllowOrigin")
    if origin is None:
        raise reader.error("Cors", "AllowOrigin is required")
    max_age = value.get("MaxAge")
    return Cors(
        allow_origins=_unquoted(origin),
        # Without AllowMethods, SAM's preflight names the methods of the path.
        allow_methods=_unquoted(value.get("AllowMethods", "")),
        allow_headers=_unquoted(value.get("AllowHeaders", "")),
        max_age=int(_unquoted(max_age)[0]) if max_age is not None else None,
        allow_credentials=str(value.get("AllowCredentials", False)).lower() == "true",
    )


def http_cors(reader: ResourceReader, value: Any) -> Cors | None:
    """An HTTP API's CorsConfiguration: true (every origin, method and header) or AllowOrigins,
    AllowMethods, AllowHeaders, ExposeHeaders, MaxAge, AllowCredentials (lists, not quoted strings)."""
    if value is None or value is False:
        return None
    if value is True:
        return Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    if not isinstance(value, dict):
        raise reader.error("CorsConfiguration", "must be true or a mapping")
    return cors_of(value, lambda key: reader.error("CorsConfiguration", f"{key} must be a list"))


def cors_of(value: Mapping[str, Any], not_a_list: Callable[[str], Exception]) -> Cors:
    """A CORS configuration in the shape HTTP APIs and Function URLs share: AllowOrigins, AllowMethods,
    AllowHeaders, ExposeHeaders (lists), MaxAge, AllowCredentials (true or "true")."""

    def values(key: str) -> tuple[str, ...]:
        found = value.get(key) or []
        if not isinstance(found, list):
            raise not_a_list(key)
        return tuple(str(v) for v in found)

    max_age = value.get("MaxAge")
    return Cors(
        allow_origins=values("AllowOrigins"),
        allow_methods=values("AllowMethods"),
        allow_headers=values("AllowHeaders"),
        expose_headers=values("ExposeHeaders"),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=str(value.get("AllowCredentials", False)).lower() == "true",
    )
