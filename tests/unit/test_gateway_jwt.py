"""JWT authorizers: tokens checked as API Gateway checks them (RS256 by a configured key, exp / nbf / iss /
aud / scopes), read from SAM's JwtConfiguration, their claims reaching the function."""

from __future__ import annotations

import base64
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import ConfigError
from lambda_emu.gateway.front import Gateway
from lambda_emu.gateway.jwt import JwtError, ScopeError, load_keys, verify
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.gateway.routes import RouteTable
from lambda_emu.models import InvocationResult
from lambda_emu.template import load_template
from lambda_emu.template.apis import HTTP, TemplateApi, TemplateRoute
from lambda_emu.template.authorizers import IdentitySource, TemplateAuthorizer

ISSUER = "https://issuer.example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks(tmp_path: Path) -> Path:
    numbers = KEY.public_key().public_numbers()
    key = {
        "kty": "RSA",
        "kid": "k1",
        "n": b64(numbers.n.to_bytes(256, "big")),
        "e": b64(numbers.e.to_bytes(3, "big")),
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key]}))
    return path


def token(kid: str = "k1", **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": "app", "exp": time.time() + 600, "sub": "ana", **claims}
    head = b64(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    signed = f"{head}.{b64(json.dumps(body).encode())}"
    signature = KEY.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{b64(signature)}"


def test_a_good_token_gives_its_claims_and_scopes(tmp_path: Path) -> None:
    keys = load_keys(jwks(tmp_path))
    claims, scopes = verify(f"Bearer {token(scope='read write')}", keys, issuer=ISSUER, audience=["app"])
    assert claims["sub"] == "ana" and scopes == ["read", "write"]
    verify(token(), keys, issuer=ISSUER, audience=["other", "app"], scopes=())


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: token(exp=time.time() - 1), "expired"),
        (lambda: token(nbf=time.time() + 600), "nbf"),
        (lambda: token(iss="https://evil.example"), "issuer"),
        (lambda: token(aud="someone-else"), "audience"),
        (lambda: token(kid="unknown"), "kid"),
        (lambda: token()[:-4] + "AAAA", "signature"),
        (lambda: "not.a.jwt", "JWT"),
    ],
)
def test_a_bad_token_is_refused_with_its_reason(tmp_path: Path, make: Any, reason: str) -> None:
    with pytest.raises(JwtError, match=reason):
        verify(make(), load_keys(jwks(tmp_path)), issuer=ISSUER, audience=["app"])


def test_a_token_without_the_route_s_scopes_is_a_scope_error(tmp_path: Path) -> None:
    with pytest.raises(ScopeError):
        verify(
            token(scope="read"), load_keys(jwks(tmp_path)), issuer=ISSUER, audience=["app"], scopes=["admin"]
        )


def test_a_key_set_without_rsa_keys_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"kty": "oct", "k": "x"}]}')
    with pytest.raises(ConfigError, match="RS256"):
        load_keys(path)


def test_the_gateway_checks_tokens_and_hands_the_claims_on(tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def invoke(name: str, payload: bytes, answered: Any = None, stream: Any = None) -> InvocationResult:
        calls.append(json.loads(payload))
        return InvocationResult("r", b'{"statusCode": 200, "body": "ok"}')

    authorizer = TemplateAuthorizer(
        "Jwt",
        "",
        kind="JWT",
        identity=(IdentitySource("header", "Authorization"),),
        ttl_s=0,
        issuer=ISSUER,
        audience=("app",),
        scopes=("read",),
    )
    route = TemplateRoute("GET", "/me", "fn", "2.0", 30_000, "Fn.E", "Jwt")
    api = TemplateApi("Http", HTTP, "$default", (route,), authorizers={"Jwt": authorizer})
    gateway = Gateway(RouteTable([api]), invoke, account_id="1", jwt_keys=load_keys(jwks(tmp_path)))

    def get(**headers: str):
        return gateway.handle(HttpRequest("GET", "/me", tuple(headers.items())))

    assert get(Authorization=f"Bearer {token(scope='read')}").status == 200
    jwt = calls[0]["requestContext"]["authorizer"]["jwt"]
    assert jwt["scopes"] == ["read"]
    assert (jwt["claims"]["sub"], jwt["claims"]["aud"], jwt["claims"]["iss"]) == ("ana", "app", ISSUER)
    assert float(jwt["claims"]["exp"]) > time.time()  # claims arrive as strings, as API Gateway sends them
    assert (get().status, get(Authorization="Bearer x.y.z").status) == (401, 401)
    answer = get(Authorization=token(scope="write"))
    assert (answer.status, answer.body) == (403, b'{"message":"Forbidden"}')
    assert len(calls) == 1


def test_jwt_authorizers_and_route_scopes_are_read_from_the_template(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.11
                  CodeUri: src
                  Handler: app.handler
                  Events:
                    Me: {Type: HttpApi, Properties: {Path: /me, Method: GET, ApiId: !Ref Http}}
                    Admin:
                      Type: HttpApi
                      Properties:
                        Path: /admin
                        Method: GET
                        ApiId: !Ref Http
                        Auth: {AuthorizationScopes: [admin]}
              Http:
                Type: AWS::Serverless::HttpApi
                Properties:
                  Auth:
                    DefaultAuthorizer: Jwt
                    Authorizers:
                      Jwt:
                        IdentitySource: $request.header.X-Token
                        AuthorizationScopes: [read]
                        JwtConfiguration: {issuer: "https://issuer.example", audience: [app]}
            """
        )
    )
    config = EmulatorConfig(region="eu-west-1", account_id="111122223333", state_dir=tmp_path / "state")
    (api,) = load_template(path, emulator=config).apis
    jwt = api.authorizers["Jwt"]
    assert (jwt.kind, jwt.issuer, jwt.audience, jwt.scopes) == ("JWT", ISSUER, ("app",), ("read",))
    assert jwt.identity == (IdentitySource("header", "X-Token"),)
    assert [(r.path, r.authorizer, r.scopes) for r in api.routes] == [
        ("/me", "Jwt", None),
        ("/admin", "Jwt", ("admin",)),
    ]
