"""CORS as the template configures it: a REST API's `Cors` (SAM answers OPTIONS on each of the API's paths
with the configured headers; the function's own answers carry what the function sets), and an HTTP API's
`CorsConfiguration` (API Gateway answers preflights itself and puts its CORS headers on every answer to an
allowed origin, ignoring the function's: "Configuring CORS for an HTTP API")."""

from __future__ import annotations

import logging

from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.gateway.responses import HttpResponse
from lambda_emu.gateway.routes import RouteTable
from lambda_emu.template.apis import DEFAULT_ROUTE, REST, Cors, TemplateApi

LOG = logging.getLogger(__name__)

_ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
Headers = tuple[tuple[str, str], ...]


def _api_of(table: RouteTable, path: str) -> TemplateApi | None:
    """The API whose routes take this path (any method), else an HTTP API with a $default route."""
    for api in table.apis:
        if api.cors is not None and RouteTable([api]).methods(path):
            return api
    for api in table.apis:
        if api.cors is not None and api.kind != REST and any(r.path == DEFAULT_ROUTE for r in api.routes):
            return api
    return None


def _allowed_origin(cors: Cors, origin: str) -> str | None:
    if "*" in cors.allow_origins:
        return "*"
    return origin if origin in cors.allow_origins else None


def preflight(table: RouteTable, request: HttpRequest) -> HttpResponse | None:
    """API Gateway's own answer to a CORS preflight, or None when the request is not one it answers (a
    route of the template's own for OPTIONS always takes it)."""
    if request.method != "OPTIONS":
        return None
    match = table.match("OPTIONS", request.path)
    if match is not None and match.route.method == "OPTIONS":
        return None
    api = _api_of(table, request.path)
    if api is None or api.cors is None:
        return None
    cors = api.cors
    if api.kind == REST:
        methods = cors.allow_methods or _path_methods(RouteTable([api]), request.path)
        headers: list[tuple[str, str]] = [
            ("Access-Control-Allow-Origin", ",".join(cors.allow_origins)),
            ("Access-Control-Allow-Methods", ",".join(methods)),
        ]
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return HttpResponse(
            200, (("Content-Type", "application/json"), *headers), b"", error="CORS preflight"
        )
    origin = request.header("origin")
    if not origin or not request.header("access-control-request-method"):
        return None  # not a preflight: the OPTIONS request goes to its route, if any
    allowed = _allowed_origin(cors, origin)
    headers = []
    if allowed is not None:
        headers.append(("Access-Control-Allow-Origin", allowed))
        if cors.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
        wanted = request.header("access-control-request-headers")
        if "*" in cors.allow_headers and wanted:
            headers.append(("Access-Control-Allow-Headers", wanted))
        elif cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
    return HttpResponse(204, tuple(headers), b"", error="CORS preflight")


def _path_methods(table: RouteTable, path: str) -> list[str]:
    methods = set(table.methods(path))
    if "ANY" in methods:
        return list(_ALL_METHODS)
    return sorted(methods | {"OPTIONS"})


def with_cors(api: TemplateApi, request: HttpRequest, headers: Headers) -> Headers:
    """An answer's headers as an HTTP API with CORS sends them to an allowed origin: its own CORS headers in
    place of the function's."""
    if api.kind == REST or api.cors is None:  # an HTTP API's or a Function URL's CORS
        return headers
    origin = request.header("origin")
    allowed = _allowed_origin(api.cors, origin) if origin else None
    if allowed is None:
        return headers
    kept = tuple((n, v) for n, v in headers if not n.lower().startswith("access-control-"))
    added = [("Access-Control-Allow-Origin", allowed)]
    if api.cors.expose_headers:
        added.append(("Access-Control-Expose-Headers", ",".join(api.cors.expose_headers)))
    if api.cors.allow_credentials:
        added.append(("Access-Control-Allow-Credentials", "true"))
    return kept + tuple(added)
