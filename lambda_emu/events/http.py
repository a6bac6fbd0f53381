"""API Gateway sample events: the REST API proxy event (payload format 1.0) and the HTTP API event
(payload format 2.0), as API Gateway hands them to Lambda."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from lambda_emu.errors import ConfigError
from lambda_emu.events import ids
from lambda_emu.events.catalog import sample_event

LOG = logging.getLogger(__name__)

Query = str | Mapping[str, str | Sequence[str]] | None
Headers = Mapping[str, str | Sequence[str]] | None
Body = str | bytes | Mapping[str, Any] | Sequence[Any] | None

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_USER_AGENT = "curl/8.5.0"

_COMMON_HELP = {
    "method": f"HTTP method ({', '.join(_METHODS)})",
    "path": "request path, e.g. /items/42",
    "body": "request body (text; JSON for a dict or list; bytes arrive base64-encoded)",
    "query": "query string, e.g. 'a=1&b=2&b=3' (or a mapping of name to value or values)",
    "headers": "extra request headers, a mapping of name to value (or values)",
    "stage": "API stage",
    "stage_variables": "stage variables, a mapping (null when none)",
    "path_parameters": "path parameters (derived from the resource or route when not given)",
    "source_ip": "client IP address",
    "authorizer": "the authorizer's context, a mapping (absent when none)",
    "api_id": "API id (random when not given)",
    "region": "AWS region (follows AWS_REGION, as the emulator does)",
    "account_id": "AWS account id",
}


def _body(body: Body) -> tuple[str | None, bool]:
    """The event's body and isBase64Encoded: binary bodies arrive base64-encoded, as API Gateway sends
    them ("Return binary media from a Lambda proxy integration")."""
    if body is None:
        return None, False
    if isinstance(body, bytes):
        return base64.b64encode(body).decode(), True
    if isinstance(body, str):
        return body, False
    return json.dumps(body), False


def _query_pairs(query: Query) -> tuple[str, list[tuple[str, str]]]:
    """The raw query string and its decoded (name, value) pairs, in order."""
    if query is None:
        return "", []
    if isinstance(query, str):
        raw = query.removeprefix("?")
        return raw, parse_qsl(raw, keep_blank_values=True)
    pairs = _pairs(query)
    return urlencode(pairs), pairs


def _pairs(values: Headers) -> list[tuple[str, str]]:
    """(name, value) pairs of a mapping of name to value or values, in order."""
    if values is None:
        return []
    return [(k, v) for k, vs in values.items() for v in ([vs] if isinstance(vs, str) else vs)]


def _merge_headers(defaults: list[tuple[str, str]], given: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Default headers, each replaced (case-insensitively) by the caller's headers of that name."""
    overridden = {name.lower() for name, _ in given}
    return [(n, v) for n, v in defaults if n.lower() not in overridden] + given


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _check_method(method: str) -> str:
    upper = method.upper()
    if upper not in _METHODS and upper != "ANY":
        raise ConfigError(f"unknown HTTP method {method!r}; choose from: {', '.join(_METHODS)}")
    return upper


def match_path(template: str, path: str) -> dict[str, str] | None:
    """Path parameters of `path` under a resource or route template such as /items/{id} or /{proxy+}
    ({name+} takes the rest of the path); None when the template has none; ConfigError when the path
    does not match."""
    names = re.findall(r"\{([^}+]+)\+?\}", template)
    if not names:
        return None
    pattern = ""
    for literal, name, greedy in re.findall(r"([^{]*)(?:\{([^}+]+)(\+?)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
    found = re.fullmatch(pattern, path)
    if found is None:
        raise ConfigError(f"path {path!r} does not match the template {template!r}")
    return {k: v for k, v in found.groupdict().items()}


def _content_type(body: Body) -> str:
    if isinstance(body, bytes):
        return "application/octet-stream"
    if isinstance(body, str):
        try:
            json.loads(body)
        except ValueError:
            return "text/plain"
    return "application/json"


def _request_headers(
    host: str, source_ip: str, body: Body, text: str | None, at: datetime
) -> list[tuple[str, str]]:
    """The headers a client such as curl sends, and those API Gateway adds (X-Forwarded-*, trace id)."""
    headers = [
        ("accept", "*/*"),
        ("host", host),
        ("user-agent", _USER_AGENT),
        ("x-amzn-trace-id", ids.trace_id(at)),
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ]
    if text is not None:
        length = len(body) if isinstance(body, bytes) else len(text.encode())
        headers[1:1] = [("content-length", str(length)), ("content-type", _content_type(body))]
    return headers


@sample_event(
    "apigateway",
    "aws-proxy",
    "API Gateway REST API proxy integration request (payload format 1.0)",
    {
        **_COMMON_HELP,
        "resource": "resource template, e.g. /items/{id}; path parameters come from it (default: / for the "
        "root path, else /{proxy+})",
    },
    json_fields=frozenset({"headers", "stage_variables", "path_parameters", "authorizer"}),
)
def api_gateway_proxy(
    *,
    method: str = "GET",
    path: str = "/",
    body: Body = None,
    query: Query = None,
    headers: Headers = None,
    resource: str | None = None,
    stage: str = "prod",
    stage_variables: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    authorizer: Mapping[str, Any] | None = None,
    api_id: str | None = None,
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event. Absent maps are null, repeated headers and query parameters keep
    their last value in `headers` / `queryStringParameters` and all values in the multiValue maps
    ("Set up a proxy integration with a proxy resource", input format)."""
    method = _check_method(method)
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    api_id = api_id or ids.api_id()
    at = ids.now()
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    text, is_b64 = _body(body)
    _, query_pairs = _query_pairs(query)
    header_pairs = _merge_headers(
        # REST APIs pass header names as the client sent them; curl sends these capitalised.
        [
            ("-".join(p.capitalize() for p in n.split("-")), v)
            for n, v in _request_headers(domain, source_ip, body, text, at)
        ],
        _pairs(headers),
    )
    # A greedy {proxy+} resource does not match the root: an API answers / with a resource of its own.
    resource = resource or ("/" if path == "/" else "/{proxy+}")
    if path_parameters is None and resource != path:
        path_parameters = match_path(resource, path)
    return rest_event(
        method=method,
        path=path,
        header_pairs=header_pairs,
        query_pairs=query_pairs,
        text=text,
        is_b64=is_b64,
        resource=resource,
        path_parameters=path_parameters,
        stage=stage,
        stage_variables=stage_variables,
        source_ip=source_ip,
        authorizer=authorizer,
        api_id=api_id,
        domain=domain,
        account_id=account_id,
        at=at,
    )


def rest_event(
    *,
    method: str,
    path: str,
    header_pairs: Sequence[tuple[str, str]],
    query_pairs: Sequence[tuple[str, str]],
    text: str | None,
    is_b64: bool,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    stage: str,
    stage_variables: Mapping[str, str] | None,
    source_ip: str,
    authorizer: Mapping[str, Any] | None,
    api_id: str,
    domain: str,
    account_id: str,
    at: datetime,
    request_id: str | None = None,
    extended_request_id: str | None = None,
) -> dict[str, Any]:
    """A REST API proxy event (payload 1.0) of a request as it arrived: headers and query parameters in
    order (repeats keep their last value in the single-value maps), absent maps null."""
    multi_headers = _grouped(list(header_pairs))
    multi_query = _grouped(list(query_pairs))
    user_agent = next((v for n, v in header_pairs if n.lower() == "user-agent"), None)
    context: dict[str, Any] = {
        "resourceId": ids.api_id()[:6],
        "resourcePath": resource,
        "httpMethod": method,
        "extendedRequestId": extended_request_id or ids.b64_token(12)[:15] + "=",
        "requestTime": ids.clf_time(at),
        "path": f"/{stage}{path}",
        "accountId": account_id,
        "protocol": "HTTP/1.1",
        "stage": stage,
        "domainPrefix": domain.split(".", 1)[0],
        "requestTimeEpoch": ids.epoch_millis(at),
        "requestId": request_id or ids.request_uuid(),
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": user_agent,
            "user": None,
        },
        "domainName": domain,
        "apiId": api_id,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {k: vs[-1] for k, vs in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: vs[-1] for k, vs in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": is_b64,
    }


@sample_event(
    "apigateway",
    "http-api",
    "API Gateway HTTP API request (payload format 2.0)",
    {
        **_COMMON_HELP,
        "stage": "API stage ($default: no stage in the path)",
        "route_key": "route, e.g. 'GET /items/{id}' (path parameters come from it), or $default",
        "cookies": "cookies, a list of 'name=value' (also taken from a Cookie header)",
    },
    json_fields=frozenset({"headers", "stage_variables", "path_parameters", "authorizer", "cookies"}),
    aliases=(("apigateway", "http-api-proxy"),),
)
def http_api_proxy(
    *,
    method: str = "GET",
    path: str = "/",
    body: Body = None,
    query: Query = None,
    headers: Headers = None,
    cookies: Sequence[str] | None = None,
    route_key: str = "$default",
    stage: str = "$default",
    stage_variables: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    authorizer: Mapping[str, Any] | None = None,
    api_id: str | None = None,
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """An HTTP API (v2) event: header names lower-case, repeated headers and query parameters joined with
    commas, cookies in their own list, absent maps and body left out, and a named stage at the start of
    rawPath ("Working with AWS Lambda proxy integrations for HTTP APIs", payload format 2.0)."""
    method = _check_method(method)
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    api_id = api_id or ids.api_id()
    at = ids.now()
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    text, is_b64 = _body(body)
    raw_query, query_pairs = _query_pairs(query)
    header_pairs = _merge_headers(
        _request_headers(domain, source_ip, body, text, at),
        [(n.lower(), v) for n, v in _pairs(headers)],
    )
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    if path_parameters is None and route_key != "$default":
        path_parameters = match_path(route_key.split(" ", 1)[-1], path)
    return http_event(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        header_pairs=header_pairs,
        query_pairs=query_pairs,
        cookies=cookies,
        text=text,
        is_b64=is_b64,
        route_key=route_key,
        stage=stage,
        path_parameters=path_parameters,
        stage_variables=stage_variables,
        source_ip=source_ip,
        authorizer=authorizer,
        api_id=api_id,
        domain=domain,
        account_id=account_id,
        at=at,
    )


def http_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    header_pairs: Sequence[tuple[str, str]],
    query_pairs: Sequence[tuple[str, str]],
    text: str | None,
    is_b64: bool,
    route_key: str,
    stage: str,
    path_parameters: Mapping[str, str] | None,
    stage_variables: Mapping[str, str] | None,
    source_ip: str,
    authorizer: Mapping[str, Any] | None,
    api_id: str,
    domain: str,
    account_id: str,
    at: datetime,
    cookies: Sequence[str] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An HTTP API event (payload 2.0) of a request as it arrived: header names lower-case, repeats joined
    with commas, the Cookie header's cookies in their own list, absent maps and body left out."""
    header_pairs = [(n.lower(), v) for n, v in header_pairs]
    all_cookies = list(cookies or [])
    for name, value in header_pairs:
        if name == "cookie":
            all_cookies += [c.strip() for c in value.split(";") if c.strip()]
    joined = {k: ",".join(vs) for k, vs in _grouped([p for p in header_pairs if p[0] != "cookie"]).items()}
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id or ids.short_request_id(),
        "routeKey": route_key,
        "stage": stage,
        "time": ids.clf_time(at),
        "timeEpoch": ids.epoch_millis(at),
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if all_cookies:
        event["cookies"] = all_cookies
    event["headers"] = joined
    if query_pairs:
        event["queryStringParameters"] = {k: ",".join(vs) for k, vs in _grouped(list(query_pairs)).items()}
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    event["requestContext"] = context
    if text is not None:
        event["body"] = text
    event["isBase64Encoded"] = is_b64
    return event
