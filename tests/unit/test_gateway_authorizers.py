"""Lambda authorizers: read from SAM's Auth, run as API Gateway runs them (events, policies, simple
responses, 401 / 403 / 500), their context reaching the integration's event, their answers cached."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import TemplateError
from lambda_emu.gateway.authorizers import AuthorizerCache
from lambda_emu.gateway.front import Gateway
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.gateway.routes import RouteTable
from lambda_emu.models import InvocationResult
from lambda_emu.template import load_template
from lambda_emu.template.apis import HTTP, REST, TemplateApi, TemplateRoute
from lambda_emu.template.authorizers import IdentitySource, TemplateAuthorizer

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src, Handler: app.handler}
Resources:
  Auth:
    Type: AWS::Serverless::Function
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Guarded: {Type: Api, Properties: {Path: /a, Method: GET, RestApiId: {Ref: Rest}}}
        Open:
          Type: Api
          Properties: {Path: /open, Method: GET, RestApiId: {Ref: Rest}, Auth: {Authorizer: NONE}}
        Other:
          Type: Api
          Properties: {Path: /b, Method: GET, RestApiId: {Ref: Rest}, Auth: {Authorizer: Req}}
        Http: {Type: HttpApi, Properties: {Path: /h, Method: GET, ApiId: {Ref: Http}}}
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Auth:
        DefaultAuthorizer: Tok
        Authorizers:
          Tok:
            FunctionArn: !GetAtt Auth.Arn
            Identity: {ReauthorizeEvery: 60, ValidationExpression: "Bearer .*"}
          Req:
            FunctionArn: !GetAtt Auth.Arn
            FunctionPayloadType: REQUEST
            Identity: {Headers: [X-Key], QueryStrings: [user]}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Simple
        Authorizers:
          Simple:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], ReauthorizeEvery: 0}
"""


def load(tmp_path: Path, text: str = TEMPLATE):
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    config = EmulatorConfig(region="eu-west-1", account_id="111122223333", state_dir=tmp_path / "state")
    return load_template(path, emulator=config)


def test_authorizers_and_each_route_s_choice_are_read(tmp_path: Path) -> None:
    rest, http = load(tmp_path).apis
    assert [(r.path, r.authorizer) for r in rest.routes] == [("/a", "Tok"), ("/open", None), ("/b", "Req")]
    assert rest.authorizers["Tok"] == TemplateAuthorizer(
        "Tok", "Auth", kind="TOKEN", validation_expression="Bearer .*", ttl_s=60
    )
    assert rest.authorizers["Req"].identity == (
        IdentitySource("header", "X-Key"),
        IdentitySource("query", "user"),
    )
    assert rest.authorizers["Req"].kind == "REQUEST"
    simple = http.authorizers["Simple"]
    assert (simple.kind, simple.payload_version, simple.simple_responses, simple.ttl_s) == (
        "REQUEST",
        "2.0",
        True,
        0,
    )
    assert [(r.path, r.authorizer) for r in http.routes] == [("/h", "Simple")]


def test_a_route_naming_an_unknown_authorizer_is_an_error(tmp_path: Path) -> None:
    loaded = load(tmp_path, TEMPLATE.replace("Auth: {Authorizer: Req}", "Auth: {Authorizer: Nope}"))
    assert isinstance(loaded.api_error, TemplateError) and "authorizer Nope" in loaded.api_error.message


def allow(effect: str = "Allow", resource: str = "*", **context: Any) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": context,
    }


class Functions:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.authorizer_answer: Any = allow()
        self.authorizer_error: str | None = None

    def __call__(
        self, name: str, payload: bytes, answered: Any = None, stream: Any = None
    ) -> InvocationResult:
        event = json.loads(payload)
        self.calls.append((name, event))
        if name == "auth":
            if self.authorizer_error:
                body = {"errorMessage": self.authorizer_error, "errorType": "Exception"}
                return InvocationResult("r", json.dumps(body).encode(), error_type="Exception")
            return InvocationResult("r", json.dumps(self.authorizer_answer).encode())
        return InvocationResult("r", json.dumps({"statusCode": 200, "body": "ok"}).encode())

    def events_of(self, name: str) -> list[dict[str, Any]]:
        return [event for called, event in self.calls if called == name]


def gateway(functions: Functions, *authorizers: TemplateAuthorizer, kind: str = REST) -> Gateway:
    routes = (
        TemplateRoute(
            "GET", "/items/{id}", "fn", "1.0" if kind == REST else "2.0", 29_000, "Fn.E", authorizers[0].name
        ),
    )
    api = TemplateApi("Api", kind, "dev", routes, authorizers={a.name: a for a in authorizers})
    return Gateway(RouteTable([api]), functions, account_id="111122223333", region="eu-west-1")


def get(gw: Gateway, target: str = "/items/1", **headers: str):
    return gw.handle(HttpRequest("GET", target, tuple(headers.items())))


TOKEN = TemplateAuthorizer("Tok", "auth", ttl_s=0)


def test_a_token_authorizer_gets_the_token_and_the_method_arn_and_its_context_reaches_the_function() -> None:
    functions = Functions()
    functions.authorizer_answer = allow(tier="gold", n=3)
    answer = get(gateway(functions, TOKEN), Authorization="Bearer abc")
    assert answer.status == 200
    (event,) = functions.events_of("auth")
    assert event["type"] == "TOKEN" and event["authorizationToken"] == "Bearer abc"
    assert re.fullmatch(
        r"arn:aws:execute-api:eu-west-1:111122223333:\w{10}/dev/GET/items/1", event["methodArn"]
    )
    (integration,) = functions.events_of("fn")
    context = integration["requestContext"]["authorizer"]
    assert (context["tier"], context["n"], context["principalId"]) == ("gold", "3", "user-1")


def test_without_the_token_api_gateway_answers_401_without_calling_the_authorizer() -> None:
    functions = Functions()
    answer = get(gateway(functions, TOKEN))
    assert (answer.status, json.loads(answer.body)) == (401, {"message": "Unauthorized"})
    expressed = TemplateAuthorizer("Tok", "auth", validation_expression="Bearer .+", ttl_s=0)
    assert get(gateway(functions, expressed), Authorization="Basic x").status == 401
    assert functions.calls == []


def test_a_deny_or_a_policy_that_does_not_cover_the_method_is_403() -> None:
    functions = Functions()
    functions.authorizer_answer = allow("Deny")
    answer = get(gateway(functions, TOKEN), Authorization="t")
    assert (answer.status, json.loads(answer.body)) == (
        403,
        {"Message": "User is not authorized to access this resource with an explicit deny"},
    )
    functions.authorizer_answer = allow(resource="arn:aws:execute-api:*:*:*/dev/POST/*")
    answer = get(gateway(functions, TOKEN), Authorization="t")
    assert (answer.status, json.loads(answer.body)) == (
        403,
        {"Message": "User is not authorized to access this resource"},
    )
    functions.authorizer_answer = allow(resource="arn:aws:execute-api:*:*:*/dev/GET/items/*")
    assert get(gateway(functions, TOKEN), Authorization="t").status == 200
    assert len(functions.events_of("fn")) == 1


def test_an_unauthorized_error_is_401_and_any_other_error_500() -> None:
    functions = Functions()
    functions.authorizer_error = "Unauthorized"
    assert get(gateway(functions, TOKEN), Authorization="t").status == 401
    functions.authorizer_error = "boom"
    answer = get(gateway(functions, TOKEN), Authorization="t")
    assert (answer.status, answer.body) == (500, b'{"message": null}')


def test_answers_are_cached_by_identity_for_their_ttl_and_judged_again_per_method() -> None:
    functions = Functions()
    cached = TemplateAuthorizer("Tok", "auth", ttl_s=300)
    gw = gateway(functions, cached)
    functions.authorizer_answer = allow(resource="arn:aws:execute-api:*:*:*/dev/GET/items/1")
    assert get(gw, "/items/1", Authorization="t").status == 200
    assert get(gw, "/items/1", Authorization="t").status == 200
    assert get(gw, "/items/2", Authorization="t").status == 403  # the cached policy does not cover it
    assert len(functions.events_of("auth")) == 1
    assert get(gw, "/items/1", Authorization="other").status == 200
    assert len(functions.events_of("auth")) == 2


def test_the_cache_forgets_after_the_ttl() -> None:
    now = [100.0]
    cache = AuthorizerCache(clock=lambda: now[0])
    authorizer = TemplateAuthorizer("Tok", "auth", ttl_s=10)
    cache.put(authorizer, ["t"], {"a": 1})
    assert cache.get(authorizer, ["t"]) == {"a": 1}
    now[0] = 110.0
    assert cache.get(authorizer, ["t"]) is None


def test_a_request_authorizer_gets_the_request_and_its_identity_sources() -> None:
    functions = Functions()
    request_auth = TemplateAuthorizer(
        "Req",
        "auth",
        kind="REQUEST",
        identity=(IdentitySource("header", "X-Key"), IdentitySource("query", "u")),
        ttl_s=0,
    )
    gw = gateway(functions, request_auth)
    assert get(gw, "/items/1?u=ana").status == 401  # no X-Key
    assert get(gw, "/items/1?u=ana", **{"X-Key": "k"}).status == 200
    (event,) = functions.events_of("auth")
    assert event["type"] == "REQUEST" and event["methodArn"].endswith("/dev/GET/items/1")
    assert event["headers"]["X-Key"] == "k" and event["queryStringParameters"] == {"u": "ana"}
    assert event["pathParameters"] == {"id": "1"} and "body" not in event


def test_an_http_api_simple_response_authorizer() -> None:
    functions = Functions()
    simple = TemplateAuthorizer(
        "S",
        "auth",
        kind="REQUEST",
        payload_version="2.0",
        simple_responses=True,
        identity=(IdentitySource("header", "Authorization"),),
        ttl_s=0,
    )
    gw = gateway(functions, simple, kind=HTTP)
    functions.authorizer_answer = {"isAuthorized": False}
    answer = get(gw, Authorization="t")
    assert (answer.status, json.loads(answer.body)) == (403, {"message": "Forbidden"})
    functions.authorizer_answer = {"isAuthorized": True, "context": {"user": "ana", "admin": True}}
    assert get(gw, Authorization="t").status == 200
    first, second = functions.events_of("auth")
    assert (second["version"], second["type"], second["identitySource"]) == ("2.0", "REQUEST", ["t"])
    assert second["routeArn"].endswith("/dev/GET/items/1") and second["routeKey"] == "GET /items/{id}"
    (integration,) = functions.events_of("fn")
    assert integration["requestContext"]["authorizer"] == {"lambda": {"user": "ana", "admin": True}}
    answer = get(gw)
    assert (answer.status, json.loads(answer.body)) == (401, {"message": "Unauthorized"})
