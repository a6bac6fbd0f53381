"""A request as it arrived, and the event API Gateway's Lambda proxy integration makes of it: payload 1.0
(REST APIs, and HTTP APIs that ask for it) or 2.0. Pure: the server hands in what it read."""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from lambda_emu.events import ids
from lambda_emu.events.http import http_event, rest_event
from lambda_emu.gateway.routes import RouteMatch
from lambda_emu.template.apis import DEFAULT_STAGE, REST, URL

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpRequest:
    """What the client sent: the request line's method and target, the headers in order with their names as
    sent, the body, and where it came from."""

    method: str
    target: str  # path and query, as on the request line
    headers: Sequence[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    port: int = 3000

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0] or "/"

    @property
    def raw_query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @functools.cached_property
    def _first_values(self) -> dict[str, str]:
        first: dict[str, str] = {}
        for name, value in self.headers:
            first.setdefault(name.lower(), value)
        return first

    def header(self, name: str, default: str = "") -> str:
        """The first value of a header, by any case of its name."""
        return self._first_values.get(name.lower(), default)


class RequestIds:
    """The ids API Gateway gives one request (its request id also goes back in the response's headers),
    each made when first asked for: a REST API's and an HTTP API's are not the same ids."""

    def __init__(self) -> None:
        self.at: datetime = ids.now()

    @functools.cached_property
    def request_id(self) -> str:
        return ids.request_uuid()

    @functools.cached_property
    def extended_request_id(self) -> str:
        return ids.b64_token(12)[:15] + "="

    @functools.cached_property
    def short_id(self) -> str:
        return ids.short_request_id()


@functools.lru_cache(maxsize=256)
def api_id(name: str) -> str:
    """A stable 10-character id for the template's API `name` (API Gateway's ids are 10 lower-case
    letters and digits), so a function sees the same apiId on every run."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(10):
        digest, index = divmod(digest, 36)
        out += alphabet[index]
    return out


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def media_type_in(media_type: str, patterns: Sequence[str]) -> bool:
    """Whether a media type is one of `patterns` (which may be wildcards: image/*, */*)."""
    kind, _, sub = media_type.partition("/")
    for pattern in patterns:
        p_kind, _, p_sub = pattern.strip().lower().partition("/")
        if p_kind in ("*", kind) and p_sub in ("*", sub):
            return True
    return False


# What HTTP APIs pass as text; every other body (form posts included) arrives base64-encoded ("Working with
# AWS Lambda proxy integrations for HTTP APIs": isBase64Encoded).
_TEXT_TYPES = ("text/*", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")


def _is_text(content_type: str) -> bool:
    media = media_type(content_type)
    return bool(media) and (media_type_in(media, _TEXT_TYPES) or media.endswith(_TEXT_SUFFIXES))


def encoded_body(
    request: HttpRequest, kind: str, binary_media_types: Sequence[str]
) -> tuple[str | None, bool]:
    """The event's body and isBase64Encoded. A REST API base64-encodes a body whose Content-Type is one of
    its BinaryMediaTypes and passes any other as text ("Working with binary media types for REST APIs"); an
    HTTP API passes text types as text and base64-encodes the rest."""
    if not request.body:
        return None, False
    content_type = request.header("content-type")
    if kind == REST:
        binary = bool(content_type) and media_type_in(media_type(content_type), binary_media_types)
        if not binary:
            return request.body.decode("utf-8", errors="replace"), False
    elif _is_text(content_type):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def _forwarded_headers(request: HttpRequest, trace_id: str) -> list[tuple[str, str]]:
    """The request's headers with those API Gateway adds: X-Forwarded-For (the client appended to any the
    request had), -Port, -Proto and X-Amzn-Trace-Id."""
    headers = [(n, v) for n, v in request.headers if n.lower() not in ("x-forwarded-for", "connection")]
    earlier = request.header("x-forwarded-for")
    added = [
        ("X-Amzn-Trace-Id", request.header("x-amzn-trace-id") or trace_id),
        ("X-Forwarded-For", f"{earlier}, {request.source_ip}" if earlier else request.source_ip),
        ("X-Forwarded-Port", str(request.port)),
        ("X-Forwarded-Proto", "http"),
    ]
    return [(n, v) for n, v in headers if n.lower() != "x-amzn-trace-id"] + added


def integration_event(
    request: HttpRequest,
    match: RouteMatch,
    ids_: RequestIds,
    *,
    account_id: str,
    version: str | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event the route's function gets, in its route's payload format (or `version`'s), with the
    authorizer's context in its requestContext when one let the request through."""
    api, route = match.api, match.route
    version = version or route.payload_version
    text, is_b64 = encoded_body(request, api.kind, api.binary_media_types)
    query_pairs = parse_qsl(request.raw_query, keep_blank_values=True)
    domain = request.header("host") or f"127.0.0.1:{request.port}"
    headers = _forwarded_headers(request, ids.trace_id(ids_.at))
    # What both payload versions are made of; each adds its own way of naming the path and the request.
    common: dict[str, Any] = {
        "method": request.method,
        "header_pairs": headers,
        "query_pairs": query_pairs,
        "text": text,
        "is_b64": is_b64,
        "stage": api.stage,
        "path_parameters": match.path_parameters,
        "stage_variables": api.stage_variables,
        "source_ip": request.source_ip,
        "authorizer": authorizer,
        "api_id": api_id(api.name),
        "domain": domain,
        "account_id": account_id,
        "at": ids_.at,
    }
    if version == "1.0":
        return rest_event(
            **common,
            path=unquote(request.path),
            resource=route.path,
            request_id=ids_.request_id,
            extended_request_id=ids_.extended_request_id,
        )
    # A named stage is the first segment of an HTTP API's path, and rawPath keeps it.
    raw_path = request.path if api.stage == DEFAULT_STAGE else f"/{api.stage}{request.path}"
    event = http_event(
        **common,
        raw_path=raw_path,
        raw_query=request.raw_query,
        route_key=match.route_key,
        request_id=ids_.short_id,
    )
    if api.kind == URL:
        return _function_url_event(event, api.url_auth)
    return event


def _function_url_event(event: dict[str, Any], auth_type: str) -> dict[str, Any]:
    """A Function URL's event: payload 2.0 with its null fields, and an anonymous caller for AuthType NONE
    ("Invoking Lambda function URLs": request payload format)."""
    context = event["requestContext"]
    if auth_type == "NONE":
        context["accountId"] = "anonymous"
    context["authentication"] = None
    event["requestContext"] = {key: context[key] for key in sorted(context)}
    event.setdefault("pathParameters", None)
    event.setdefault("stageVariables", None)
    return event
