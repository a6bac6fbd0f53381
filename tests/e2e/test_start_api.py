"""`lambda-emu start-api` as a user runs it, against sample_functions/http, with a real HTTP client: REST and
HTTP API routes with path and greedy parameters, query strings, binary bodies both ways, cookies, the
simplified 2.0 answer, API Gateway's own errors (502 / 500 / 504, 403 / 404), CORS, one line per request."""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import containers_of
from tests.e2e.test_api_function_urls import _signed

SAMPLE = Path(__file__).resolve().parents[2] / "sample_functions" / "http"


@dataclass
class Api:
    process: subprocess.Popen[str]
    host: str
    port: int
    log_path: Path

    def call(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def event(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Any:
        status, _, answer = self.call(method, target, body, headers)
        assert status == 200, answer
        return json.loads(answer)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


def start_api(state_dir: Path, template: Path, *args: str) -> Api:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "start-api.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [exe, "--state-dir", str(state_dir), "start-api", "-t", str(template), "--port", "0", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"at http://([\d.]+):(\d+):", log_path.read_text())
        if found:
            return Api(process, found.group(1), int(found.group(2)), log_path)
        if process.poll() is not None:
            raise AssertionError(f"start-api exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"start-api did not come up within 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = start_api(tmp_path_factory.mktemp("start-api"), SAMPLE / "template.yaml", "--no-watch")
    yield served
    pid = served.process.pid
    assert served.stop() == 0, served.log()
    assert containers_of(pid) == [], "start-api left containers behind"


def test_a_rest_route_gets_api_gateway_s_payload_1_event(api: Api) -> None:
    event = api.event("GET", "/items/42?color=red&size=s&size=m", headers={"X-Trace": "t1"})
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/items/{id}", "/items/42", "GET")
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"color": "red", "size": "m"}
    assert event["multiValueQueryStringParameters"] == {"color": ["red"], "size": ["s", "m"]}
    assert event["headers"]["X-Trace"] == "t1" and event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["stage"], context["resourcePath"], context["path"]) == (
        "Prod",
        "/items/{id}",
        "/Prod/items/42",
    )
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["requestId"] and context["apiId"]


def test_a_greedy_rest_path_takes_the_rest_and_binary_bodies_arrive_base64(api: Api) -> None:
    data = bytes(range(256))
    event = api.event("PUT", "/files/photos/2024/cat.png", data, {"Content-Type": "image/png"})
    assert event["httpMethod"] == "PUT" and event["pathParameters"] == {"key": "photos/2024/cat.png"}
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == data
    event = api.event("POST", "/files/notes.txt", b"some text", {"Content-Type": "text/plain"})
    assert (event["body"], event["isBase64Encoded"]) == ("some text", False)


def test_an_http_route_gets_api_gateway_s_payload_2_event(api: Api) -> None:
    headers = {"Content-Type": "application/json", "Cookie": "a=1; b=2"}
    event = api.event("POST", "/users/ana?q=1&q=2", b'{"n": 1}', headers)
    assert (event["version"], event["routeKey"]) == ("2.0", "POST /users/{name}")
    assert (event["rawPath"], event["rawQueryString"]) == ("/users/ana", "q=1&q=2")
    assert event["queryStringParameters"] == {"q": "1,2"} and event["pathParameters"] == {"name": "ana"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["content-type"] == "application/json"
    assert (event["body"], event["isBase64Encoded"]) == ('{"n": 1}', False)
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "$default" and context["routeKey"] == "POST /users/{name}"
    # An HTTP API passes only text as text: a form post arrives base64-encoded.
    form = api.event("DELETE", "/http/a/b", b"x=1", {"Content-Type": "application/x-www-form-urlencoded"})
    assert form["routeKey"] == "ANY /http/{proxy+}" and form["pathParameters"] == {"proxy": "a/b"}
    assert form["isBase64Encoded"] is True and base64.b64decode(form["body"]) == b"x=1"
    legacy = api.event("GET", "/legacy")
    assert legacy["httpMethod"] == "GET" and "version" not in legacy  # PayloadFormatVersion 1.0


def test_answers_are_mapped_as_api_gateway_maps_them(api: Api) -> None:
    status, headers, body = api.call("GET", "/hello/bob")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {"hello": "bob"})
    status, headers, body = api.call("GET", "/cookies")
    assert (status, body) == (200, b"cookies set")
    assert headers.get_all("Set-Cookie") == ["session=abc; HttpOnly; Path=/", "theme=dark"]
    status, headers, body = api.call("GET", "/pixel")
    assert (status, headers["Content-Type"], body[:8]) == (200, "image/png", b"\x89PNG\r\n\x1a\n")
    # A REST API sends binary only to a client that accepts a binary media type.
    assert api.call("GET", "/pixel.png", headers={"Accept": "image/png"})[2][:4] == b"\x89PNG"
    assert api.call("GET", "/pixel.png", headers={"Accept": "text/html"})[2].startswith(b"iVBOR")


def test_api_gateway_answers_failures_itself(api: Api) -> None:
    status, headers, body = api.call("GET", "/malformed")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert api.call("GET", "/boom")[::2] == (502, b'{"message": "Internal server error"}')
    assert api.call("GET", "/boom-http")[::2] == (500, b'{"message":"Internal Server Error"}')
    # The route's TimeoutInMillis (1 s) passes before the function (3 s) answers.
    assert api.call("GET", "/slow")[::2] == (504, b'{"message": "Endpoint request timed out"}')
    status, headers, body = api.call("GET", "/no/such/route")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    assert api.call("DELETE", "/items/1")[0] == 403  # the resource has no DELETE


def test_every_request_gets_one_line(api: Api) -> None:
    api.call("GET", "/hello/line-check")
    api.call("GET", "/nothing-here")
    deadline = time.monotonic() + 10
    while "GET /nothing-here" not in api.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = api.log()
    assert re.search(r"^GET /hello/line-check -> HelloFunction 200 \(\d+\.\d ms\)$", log, re.M), log
    assert re.search(r"^GET /nothing-here -> - 403 \(\d+\.\d ms\)$", log, re.M), log


HTTP_ONLY = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.hello
      CodeUri: {code}
      Events:
        Hello:
          Type: HttpApi
          Properties: {{Path: /hello, Method: GET, ApiId: {{Ref: Api}}}}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: {{AllowOrigins: ["https://app.example"], AllowMethods: [GET], MaxAge: 300}}
"""


def test_an_http_api_answers_unknown_routes_404_and_cors_preflights(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(HTTP_ONLY.format(code=SAMPLE)))
    api = start_api(tmp_path / "state", template, "--no-watch")
    try:
        status, _, body = api.call("GET", "/nowhere")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})
        preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
        status, headers, _ = api.call("OPTIONS", "/hello", headers=preflight)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert (headers["Access-Control-Allow-Methods"], headers["Access-Control-Max-Age"]) == ("GET", "300")
    finally:
        assert api.stop() == 0, api.log()


RELOADED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      Events:
        First: {Type: HttpApi, Properties: {Path: /first, Method: GET}}
"""


def wait_for(api: Api, target: str, expected: tuple[int, bytes], timeout: float = 60) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        got = api.call("GET", target)[::2]
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_a_saved_handler_and_a_saved_template_are_served_without_a_restart(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    handler = tmp_path / "src" / "app.py"
    handler.write_text("def handler(event, context):\n    return 'one'\n")
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(RELOADED))
    api = start_api(tmp_path / "state", template)
    try:
        assert api.call("GET", "/first")[::2] == (200, b'"one"')
        handler.write_text("def handler(event, context):\n    return 'two'\n")
        assert wait_for(api, "/first", (200, b'"two"')) == (200, b'"two"')
        assert api.call("GET", "/second")[0] == 404
        template.write_text(template.read_text().replace("/first", "/second"))
        assert wait_for(api, "/second", (200, b'"two"')) == (200, b'"two"')
        assert api.call("GET", "/first")[0] == 404
    finally:
        assert api.stop() == 0, api.log()


GUARDED = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {{Runtime: python3.11, CodeUri: {code}}}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        Rest: {{Type: Api, Properties: {{Path: /rest, Method: GET, RestApiId: {{Ref: Rest}}}}}}
        Http: {{Type: HttpApi, Properties: {{Path: /http, Method: GET, ApiId: {{Ref: Http}}}}}}
  TokenAuth:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.token_authorizer}}
  SimpleAuth:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.simple_authorizer}}
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token: {{FunctionArn: !GetAtt TokenAuth.Arn}}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Simple
        Authorizers:
          Simple:
            FunctionArn: !GetAtt SimpleAuth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {{Headers: [Authorization]}}
"""


def test_lambda_authorizers_allow_and_deny(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(GUARDED.format(code=SAMPLE)))
    api = start_api(tmp_path / "state", template, "--no-watch")
    try:
        event = api.event("GET", "/rest", headers={"Authorization": "allow"})
        authorizer = event["requestContext"]["authorizer"]
        assert (authorizer["plan"], authorizer["principalId"]) == ("gold", "sample-user")
        status, _, body = api.call("GET", "/rest", headers={"Authorization": "deny"})
        assert status == 403 and b"explicit deny" in body
        assert api.call("GET", "/rest", headers={"Authorization": "nonsense"})[::2] == (
            401,
            b'{"message":"Unauthorized"}',
        )
        assert api.call("GET", "/rest")[0] == 401  # no token: the authorizer is not called
        event = api.event("GET", "/http", headers={"Authorization": "let-me-in"})
        assert event["requestContext"]["authorizer"] == {"lambda": {"who": "sample-user"}}
        assert api.call("GET", "/http", headers={"Authorization": "wrong"})[::2] == (
            403,
            b'{"message":"Forbidden"}',
        )
    finally:
        assert api.stop() == 0, api.log()


def test_serve_serves_the_apis_beside_the_lambda_api(tmp_path: Path) -> None:
    from tests.e2e.conftest import start_server

    served = start_server(
        tmp_path / "state", "--api-port", "0", "--no-watch", template=SAMPLE / "template.yaml"
    )
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"APIs at http://([\d.]+):(\d+)", served.log())):
            assert time.monotonic() < deadline, served.log()
            time.sleep(0.05)
        api = Api(served.process, found.group(1), int(found.group(2)), served.log_path)
        status, _, body = api.call("GET", "/hello/serve")
        assert (status, json.loads(body)) == (200, {"hello": "serve"})
        assert api.call("GET", "/nowhere")[0] == 403
        # The same function through the Lambda API of the same process.
        answer = served.client().invoke(
            FunctionName="HelloFunction", Payload=b'{"pathParameters": {"name": "x"}}'
        )
        assert json.loads(answer["Payload"].read()) == {"hello": "x"}
    finally:
        assert served.stop() == 0, served.log()


URLS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {code}
      Handler: app.echo
      FunctionUrlConfig: {{AuthType: NONE}}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {code}
      Handler: app.hello
      FunctionUrlConfig: {{AuthType: AWS_IAM}}
"""


def test_function_urls_are_served_each_on_its_own_port(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(URLS.format(code=SAMPLE)))
    (tmp_path / "state").mkdir()
    alice = {"principal": "arn:aws:iam::210987654321:user/alice", "secret": "alice-secret"}
    (tmp_path / "state" / "principals.json").write_text(json.dumps({"AKIAALICE": alice}))
    api = start_api(tmp_path / "state", template, "--no-watch", "--function-url-port", "0")
    try:
        deadline = time.monotonic() + 30
        while (
            len(
                found := re.findall(
                    r"Function URL of (\w+) \(AuthType \w+\): http://([\d.]+):(\d+)/", api.log()
                )
            )
            < 2
        ):
            assert time.monotonic() < deadline, api.log()
            time.sleep(0.05)
        ports = {name: (host, int(port)) for name, host, port in found}
        echo = Api(api.process, *ports["Echo"], api.log_path)
        event = echo.event("POST", "/some/path?x=1", b"payload", {"Content-Type": "text/plain"})
        assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
            "$default",
            "/some/path",
            "x=1",
        )
        assert event["requestContext"]["accountId"] == "anonymous" and event["body"] == "payload"
        assert event["pathParameters"] is None
        iam = Api(api.process, *ports["Hello"], api.log_path)
        assert iam.call("GET", "/")[::2] == (403, b'{"Message":"Forbidden"}')
        # A key whose secret principals.json holds: its SigV4 signature must hold.
        url = f"http://{iam.host}:{iam.port}/"
        assert iam.call("GET", "/", headers=_signed(url, "AKIAALICE", "alice-secret"))[0] == 200
        wrong = _signed(url, "AKIAALICE", "not-alices-secret")
        assert iam.call("GET", "/", headers=wrong)[::2] == (403, b'{"Message":"Forbidden"}')
    finally:
        assert api.stop() == 0, api.log()


JWT_GUARDED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {code}
      Handler: app.echo
      Events:
        Me: {{Type: HttpApi, Properties: {{Path: /me, Method: GET, ApiId: !Ref Http}}}}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt: {{JwtConfiguration: {{issuer: "https://issuer.example", audience: [app]}}}}
"""


def test_a_jwt_authorizer_checks_tokens_with_the_configured_keys(tmp_path: Path) -> None:
    from tests.unit.test_gateway_jwt import jwks, token

    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(JWT_GUARDED.format(code=SAMPLE)))
    api = start_api(tmp_path / "state", template, "--no-watch", "--jwt-keys", str(jwks(tmp_path)))
    try:
        event = api.event("GET", "/me", headers={"Authorization": f"Bearer {token()}"})
        assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "ana"
        assert api.call("GET", "/me", headers={"Authorization": "Bearer nope"})[0] == 401
        assert api.call("GET", "/me")[0] == 401
    finally:
        assert api.stop() == 0, api.log()


def test_a_broken_api_event_stops_start_api_but_not_invoke(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(
            f"""
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Hello:
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.11
                  CodeUri: {SAMPLE}
                  Handler: app.hello
                  Events:
                    Bad: {{Type: HttpApi, Properties: {{Path: no-slash, Method: GET}}}}
            """
        )
    )
    exe = shutil.which("lambda-emu")
    assert exe
    state = ["--state-dir", str(tmp_path / "state")]
    done = subprocess.run(
        [exe, *state, "start-api", "-t", str(template)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "Events.Bad.Path" in done.stderr, done.stderr
    done = subprocess.run(
        [exe, *state, "invoke", "Hello", "-t", str(template)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and json.loads(done.stdout) == {"hello": "world"}, done.stderr
