"""An API's Lambda authorizers as SAM declares them (`Auth.Authorizers` and `Auth.DefaultAuthorizer` of an
AWS::Serverless::Api or AWS::Serverless::HttpApi, or of Globals.Api / Globals.HttpApi), and which one each
route uses (the event's `Auth.Authorizer`; NONE for none)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

NO_AUTHORIZER = "NONE"
# SAM's default time-to-live of a Lambda authorizer's result ("ReauthorizeEvery": 300 seconds).
DEFAULT_TTL_S = 300


@dataclass(frozen=True)
class IdentitySource:
    """Where a piece of the caller's identity is read: a header, a query string, a stage variable or a
    context variable, by name."""

    where: str  # header, query, stage or context
    name: str


@dataclass(frozen=True)
class TemplateAuthorizer:
    """A Lambda authorizer: its function (by FunctionName), REST's TOKEN or REQUEST type (an HTTP API's is
    always REQUEST), the payload format of an HTTP API's (1.0 or 2.0) and whether it answers with simple
    responses, the identity sources the request must carry (they key the cache), REST's
    ValidationExpression for a token, and the time-to-live of a result (0: not cached)."""

    name: str
    function: str
    kind: str = "TOKEN"
    payload_version: str = "1.0"
    simple_responses: bool = False
    identity: tuple[IdentitySource, ...] = (IdentitySource("header", "Authorization"),)
    validation_expression: str | None = None
    ttl_s: int = DEFAULT_TTL_S
    # A JWT authorizer (kind JWT) checks tokens itself: no function; the issuer and audiences its
    # JwtConfiguration names, and the scopes its routes require unless a route names its own.
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


def _function_name(reader: ResourceReader, key: str, value: Any) -> str:
    """FunctionArn: a function ARN (what !GetAtt Fn.Arn gives) or a function's name."""
    if not isinstance(value, str) or not value:
        raise reader.error(key, "must be a function's ARN, e.g. !GetAtt AuthFunction.Arn")
    return value.split(":function:", 1)[1].split(":", 1)[0] if ":function:" in value else value


def _names(reader: ResourceReader, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise reader.error(key, "must be a list of names")
    return list(value)


def read_authorizers(
    reader: ResourceReader, kind_is_rest: bool
) -> tuple[dict[str, TemplateAuthorizer], str | None]:
    """The API's Lambda authorizers by name, and its DefaultAuthorizer (None when it has none). Other
    authorizers (Cognito, JWT, IAM) are left out with a warning: their routes are served unguarded."""
    auth = reader.get("Auth", None)
    if auth is None:
        return {}, None
    if not isinstance(auth, dict):
        raise reader.error("Auth", "must be a mapping")
    declared = auth.get("Authorizers") or {}
    if not isinstance(declared, dict):
        raise reader.error("Auth.Authorizers", "must be a mapping of name to authorizer")
    found: dict[str, TemplateAuthorizer] = {}
    for name, spec in declared.items():
        key = f"Auth.Authorizers.{name}"
        if not isinstance(spec, dict):
            raise reader.error(key, "must be a mapping")
        if not kind_is_rest and "JwtConfiguration" in spec:
            found[name] = _jwt(reader, key, name, spec)
        elif "FunctionArn" in spec:
            found[name] = _lambda_authorizer(reader, key, name, spec, kind_is_rest)
        else:
            LOG.warning(
                "%s: authorizer %s is not a Lambda authorizer; its routes are served unguarded",
                reader.lid,
                name,
            )
    default = auth.get("DefaultAuthorizer")
    if default is not None and default not in declared:
        raise reader.error("Auth.DefaultAuthorizer", f"names {default}, which Auth.Authorizers lacks")
    return found, default if default in found else None


def _lambda_authorizer(
    reader: ResourceReader, key: str, name: str, spec: Mapping[str, Any], kind_is_rest: bool
) -> TemplateAuthorizer:
    """A Lambda authorizer: its function, payload kind and version, identity sources and cache TTL."""
    function = _function_name(reader, f"{key}.FunctionArn", spec["FunctionArn"])
    identity = spec.get("Identity") or {}
    if not isinstance(identity, dict):
        raise reader.error(f"{key}.Identity", "must be a mapping")
    ttl = identity.get("ReauthorizeEvery", DEFAULT_TTL_S)
    try:
        ttl = int(ttl)
    except (TypeError, ValueError):
        raise reader.error(f"{key}.Identity.ReauthorizeEvery", "must be a number of seconds") from None
    kind, version, simple = _payload(reader, key, spec, kind_is_rest)
    expression = identity.get("ValidationExpression") if kind == "TOKEN" else None
    return TemplateAuthorizer(
        name,
        function,
        kind=kind,
        payload_version=version,
        simple_responses=simple,
        identity=_identity_sources(reader, key, kind, identity),
        validation_expression=str(expression) if expression is not None else None,
        ttl_s=max(0, ttl),
    )


def _payload(
    reader: ResourceReader, key: str, spec: Mapping[str, Any], kind_is_rest: bool
) -> tuple[str, str, bool]:
    """(kind, payload format version, simple responses): a REST API's TOKEN or REQUEST authorizer gets
    payload 1.0; an HTTP API's is a REQUEST one, 2.0 by default, simple responses only with 2.0."""
    if kind_is_rest:
        kind = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
        if kind not in ("TOKEN", "REQUEST"):
            raise reader.error(f"{key}.FunctionPayloadType", "must be TOKEN or REQUEST")
        return kind, "1.0", False
    version = str(spec.get("AuthorizerPayloadFormatVersion", "2.0"))
    if version not in ("1.0", "2.0"):
        raise reader.error(f"{key}.AuthorizerPayloadFormatVersion", "must be 1.0 or 2.0")
    simple = str(spec.get("EnableSimpleResponses", False)).lower() == "true"
    if simple and version != "2.0":
        raise reader.error(f"{key}.EnableSimpleResponses", "needs AuthorizerPayloadFormatVersion 2.0")
    return "REQUEST", version, simple


def _identity_sources(
    reader: ResourceReader, key: str, kind: str, identity: Mapping[str, Any]
) -> tuple[IdentitySource, ...]:
    """Where the request's identity is read: a TOKEN authorizer's one header (Authorization by default), a
    REQUEST authorizer's headers, query strings, stage variables and context values."""
    if kind == "TOKEN":
        return (IdentitySource("header", str(identity.get("Header", "Authorization"))),)
    return tuple(
        IdentitySource(where, value)
        for where, prop in (
            ("header", "Headers"),
            ("query", "QueryStrings"),
            ("stage", "StageVariables"),
            ("context", "Context"),
        )
        for value in _names(reader, f"{key}.Identity.{prop}", identity.get(prop))
    )


def _jwt(reader: ResourceReader, key: str, name: str, spec: Mapping[str, Any]) -> TemplateAuthorizer:
    """An HTTP API's JWT authorizer: JwtConfiguration's issuer and audience, the token's IdentitySource
    ($request.header.Authorization by default), AuthorizationScopes."""
    config = spec.get("JwtConfiguration")
    if not isinstance(config, dict) or not isinstance(config.get("issuer"), str):
        raise reader.error(f"{key}.JwtConfiguration", "must name an issuer")
    audience = config.get("audience") or []
    if isinstance(audience, str):
        audience = [audience]
    source = str(spec.get("IdentitySource", "$request.header.Authorization"))
    if not source.startswith("$request.header."):
        raise reader.error(f"{key}.IdentitySource", "must be a header: $request.header.NAME")
    return TemplateAuthorizer(
        name,
        function="",
        kind="JWT",
        identity=(IdentitySource("header", source.removeprefix("$request.header.")),),
        ttl_s=0,
        issuer=config["issuer"],
        audience=tuple(str(a) for a in audience),
        scopes=tuple(
            str(s) for s in _names(reader, f"{key}.AuthorizationScopes", spec.get("AuthorizationScopes"))
        ),
    )


def route_scopes(reader: ResourceReader, where: str, fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The event's Auth.AuthorizationScopes (for a JWT authorizer), or None when it names none."""
    auth = fields.get("Auth")
    if not isinstance(auth, dict) or "AuthorizationScopes" not in auth:
        return None
    return tuple(_names(reader, f"{where}.Auth.AuthorizationScopes", auth["AuthorizationScopes"]))


def route_authorizer(reader: ResourceReader, where: str, fields: Mapping[str, Any]) -> str | None:
    """The event's Auth.Authorizer: a name, NONE, or None when the event names none (the API's default)."""
    auth = fields.get("Auth")
    if auth is None:
        return None
    if not isinstance(auth, dict):
        raise reader.error(f"{where}.Auth", "must be a mapping")
    name = auth.get("Authorizer")
    if name is not None and not isinstance(name, str):
        raise reader.error(f"{where}.Auth.Authorizer", "must be an authorizer's name or NONE")
    return name
