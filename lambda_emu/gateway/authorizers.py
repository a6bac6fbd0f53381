"""Lambda authorizers as API Gateway runs them: the identity a request must carry, the event the authorizer
function gets (REST TOKEN and REQUEST; HTTP API payload 1.0 and 2.0), its answer judged (an IAM policy
against the request's method ARN, or an HTTP API's simple response), results cached for their TTL, and
API Gateway's 401 / 403 / 500 answers. Pure but for the cache's clock."""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lambda_emu import arns, wire
from lambda_emu.gateway.jwt import JwtError, RsaKey, ScopeError, verify
from lambda_emu.gateway.requests import HttpRequest, RequestIds, api_id, integration_event
from lambda_emu.gateway.responses import HttpResponse
from lambda_emu.gateway.routes import RouteMatch
from lambda_emu.models import InvocationResult
from lambda_emu.template.apis import REST
from lambda_emu.template.authorizers import TemplateAuthorizer

LOG = logging.getLogger(__name__)


def _answer(status: int, body: str, why: str, error_type: str | None = None) -> HttpResponse:
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    if error_type:
        headers += (("x-amzn-ErrorType", error_type),)
    return HttpResponse(status, headers, body.encode(), error=why)


# API Gateway's answers for a request its authorizer does not let through ("Lambda authorizers": REST APIs;
# "Working with AWS Lambda authorizers for HTTP APIs").
def unauthorized(why: str) -> HttpResponse:
    return _answer(401, '{"message":"Unauthorized"}', why, "UnauthorizedException")


def denied(kind: str, explicit: bool, why: str) -> HttpResponse:
    if kind != REST:
        return _answer(403, '{"message":"Forbidden"}', why)
    text = "User is not authorized to access this resource" + (" with an explicit deny" if explicit else "")
    return _answer(403, json.dumps({"Message": text}, separators=(",", ":")), why, "AccessDeniedException")


def authorizer_failed(kind: str, why: str) -> HttpResponse:
    if kind == REST:
        return _answer(500, '{"message": null}', why, "AuthorizerConfigurationException")
    return _answer(500, '{"message":"Internal Server Error"}', why)


@dataclass(frozen=True)
class Verdict:
    """Let through (with the context the integration's event carries), or API Gateway's answer."""

    context: dict[str, Any] | None = None
    answer: HttpResponse | None = None


def identity(authorizer: TemplateAuthorizer, request: HttpRequest, match: RouteMatch) -> list[str] | None:
    """The values of the authorizer's identity sources, in order; None when one is missing (API Gateway
    then answers 401 without calling the authorizer)."""
    values = []
    query = dict(_query_pairs(request.raw_query))
    for source in authorizer.identity:
        if source.where == "header":
            value = request.header(source.name) or None
        elif source.where == "query":
            value = query.get(source.name) or None
        elif source.where == "stage":
            value = match.api.stage_variables.get(source.name) or None
        else:  # a context variable: always there locally
            value = source.name
        if value is None:
            return None
        values.append(value)
    return values


def _query_pairs(raw: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(raw, keep_blank_values=True)


def method_arn(match: RouteMatch, request: HttpRequest, *, region: str, account_id: str) -> str:
    """The ARN of what the request calls, as a policy's Resource names it:
    arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH."""
    resource = f"{api_id(match.api.name)}/{match.api.stage}/{request.method}{request.path}"
    return arns.arn("execute-api", region, account_id, resource)


def authorizer_event(
    authorizer: TemplateAuthorizer,
    request: HttpRequest,
    match: RouteMatch,
    ids_: RequestIds,
    *,
    values: list[str],
    arn: str,
    account_id: str,
) -> dict[str, Any]:
    """The event the authorizer function gets."""
    if authorizer.kind == "TOKEN":
        return {"type": "TOKEN", "methodArn": arn, "authorizationToken": values[0]}
    event = integration_event(request, match, ids_, account_id=account_id, version=authorizer.payload_version)
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    if authorizer.payload_version == "2.0":
        return {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": values, **event}
    head: dict[str, Any] = {"type": "REQUEST", "methodArn": arn}
    if match.api.kind != REST:  # an HTTP API's payload 1.0 names its version and the identity it read
        head = {
            "version": "1.0",
            **head,
            "identitySource": ",".join(values),
            "authorizationToken": ",".join(values),
        }
    event.pop("version", None)
    return {**head, **event}


def _statements(policy: Any) -> list[dict[str, Any]]:
    if not isinstance(policy, dict):
        raise ValueError("policyDocument must be an object")
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise ValueError("policyDocument.Statement must be a list of statements")
    return statements


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]


def _covers(statement: dict[str, Any], arn: str) -> bool:
    actions = _listed(statement.get("Action"))
    if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
        return False
    # IAM's wildcards: * any run of characters, ? one.
    return any(
        fnmatch.fnmatchcase(arn, resource.replace("[", "[[]"))
        for resource in _listed(statement.get("Resource"))
    )


def judge(authorizer: TemplateAuthorizer, kind: str, answer: Any, arn: str, latency_ms: int) -> Verdict:
    """The authorizer function's answer judged for this request: a simple response's isAuthorized, or an
    IAM policy (an explicit Deny of the method ARN wins; else an Allow of it lets the request through)."""
    try:
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON object")
        context = answer.get("context") or {}
        if not isinstance(context, dict):
            raise ValueError("context must be an object")
        if authorizer.simple_responses:
            allowed = answer.get("isAuthorized")
            if not isinstance(allowed, bool):
                raise ValueError("isAuthorized must be true or false")
            if not allowed:
                return Verdict(answer=denied(kind, False, f"authorizer {authorizer.name}: not authorized"))
            return Verdict(context={"lambda": context})
        statements = _statements(answer.get("policyDocument"))
        matching = [s for s in statements if _covers(s, arn)]
        if any(str(s.get("Effect")).lower() == "deny" for s in matching):
            return Verdict(answer=denied(kind, True, f"authorizer {authorizer.name}: denied {arn}"))
        if not any(str(s.get("Effect")).lower() == "allow" for s in matching):
            return Verdict(answer=denied(kind, False, f"authorizer {authorizer.name}: no Allow of {arn}"))
    except ValueError as exc:
        return Verdict(
            answer=authorizer_failed(kind, f"authorizer {authorizer.name}: malformed answer: {exc}")
        )
    principal = answer.get("principalId")
    if kind == REST or authorizer.payload_version == "1.0":
        # A REST API hands the context on with its values as strings, beside principalId.
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in context.items()}
        return Verdict(context={**flat, "principalId": principal, "integrationLatency": latency_ms})
    return Verdict(context={"lambda": context})


def _jwt_verdict(
    authorizer: TemplateAuthorizer, match: RouteMatch, token: str, keys: Mapping[str, RsaKey] | None
) -> Verdict:
    """A JWT authorizer's check: 401 for a token it refuses, 403 for one without the route's scopes; the
    claims (as strings) and scopes go to the function under requestContext.authorizer.jwt."""
    if not keys:
        why = f"authorizer {authorizer.name}: no keys to check tokens with (start-api --jwt-keys FILE)"
        LOG.warning("%s", why)
        return Verdict(answer=unauthorized(why))
    scopes = match.route.scopes if match.route.scopes is not None else authorizer.scopes
    assert authorizer.issuer is not None
    try:
        claims, held = verify(
            token, keys, issuer=authorizer.issuer, audience=authorizer.audience, scopes=scopes
        )
    except ScopeError as exc:
        return Verdict(answer=denied(match.api.kind, False, f"authorizer {authorizer.name}: {exc}"))
    except JwtError as exc:
        return Verdict(answer=unauthorized(f"authorizer {authorizer.name}: {exc}"))
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in claims.items()}
    return Verdict(context={"jwt": {"claims": flat, "scopes": held or None}})


class AuthorizerCache:
    """Authorizer answers by authorizer and identity, for their time-to-live (ReauthorizeEvery). An answer
    is judged again for each request: a cached policy that allows one method denies the others, as in
    API Gateway."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, tuple[str, ...]], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, authorizer: TemplateAuthorizer, values: list[str]) -> Any | None:
        with self._lock:
            entry = self._entries.get((authorizer.name, tuple(values)))
            if entry is None or entry[0] <= self._clock():
                return None
            return entry[1]

    def put(self, authorizer: TemplateAuthorizer, values: list[str], answer: Any) -> None:
        if authorizer.ttl_s <= 0 or not values:
            return
        with self._lock:
            self._entries[(authorizer.name, tuple(values))] = (self._clock() + authorizer.ttl_s, answer)


def authorize(
    authorizer: TemplateAuthorizer,
    request: HttpRequest,
    match: RouteMatch,
    ids_: RequestIds,
    *,
    invoke: Callable[[str, bytes], InvocationResult],
    cache: AuthorizerCache,
    region: str,
    account_id: str,
    jwt_keys: Mapping[str, RsaKey] | None = None,
) -> Verdict:
    """Run the route's authorizer for this request (or take its cached answer)."""
    kind = match.api.kind
    values = identity(authorizer, request, match)
    if values is None:
        return Verdict(answer=unauthorized(f"authorizer {authorizer.name}: the request lacks its identity"))
    if authorizer.kind == "JWT":
        return _jwt_verdict(authorizer, match, values[0], jwt_keys)
    if authorizer.validation_expression is not None and not re.fullmatch(
        authorizer.validation_expression, values[0]
    ):
        return Verdict(
            answer=unauthorized(f"authorizer {authorizer.name}: the token fails ValidationExpression")
        )
    arn = method_arn(match, request, region=region, account_id=account_id)
    answer = cache.get(authorizer, values)
    started = time.monotonic()
    if answer is None:
        event = authorizer_event(
            authorizer, request, match, ids_, values=values, arn=arn, account_id=account_id
        )
        result = invoke(authorizer.function, json.dumps(event).encode())
        if result.failed:
            message = (result.error_payload() or {}).get("errorMessage")
            if message == "Unauthorized":  # the documented way for an authorizer to refuse a token
                return Verdict(answer=unauthorized(f"authorizer {authorizer.name}: Unauthorized"))
            return Verdict(
                answer=authorizer_failed(kind, f"authorizer {authorizer.name} failed: {result.error_type}")
            )
        try:
            answer = wire.loads_json(result.payload)
        except ValueError:
            return Verdict(
                answer=authorizer_failed(kind, f"authorizer {authorizer.name}: its answer is not JSON")
            )
        verdict = judge(authorizer, kind, answer, arn, int((time.monotonic() - started) * 1000))
        if verdict.answer is None or verdict.answer.status == 403:
            cache.put(authorizer, values, answer)
        return verdict
    return judge(authorizer, kind, answer, arn, 0)
