"""The local API Gateway with a fake invoke: the events functions get (payload 1.0 and 2.0), the mapping of
their answers, API Gateway's own errors, timeouts, CORS, served over real HTTP on loopback."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_emu.gateway.front import ApiFront, Gateway, RequestRecord
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.gateway.routes import RouteTable
from lambda_emu.models import InvocationResult
from lambda_emu.template.apis import HTTP, REST, URL, Cors, TemplateApi, TemplateRoute


def rest_api(**options: Any) -> TemplateApi:
    routes = (
        TemplateRoute("GET", "/items/{id}", "items", "1.0", 29_000, "Items.Get"),
        TemplateRoute("ANY", "/files/{key+}", "files", "1.0", 29_000, "Files.Any"),
    )
    return TemplateApi("ServerlessRestApi", REST, "Prod", routes, **options)


def http_api(**options: Any) -> TemplateApi:
    routes = (
        TemplateRoute("POST", "/users/{name}", "users", "2.0", 30_000, "Users.Post"),
        TemplateRoute("GET", "/old", "old", "1.0", 30_000, "Old.Get"),
        TemplateRoute("GET", "/slow", "slow", "2.0", 200, "Slow.Get"),
    )
    return TemplateApi("ServerlessHttpApi", HTTP, "$default", routes, **options)


class Functions:
    """A fake invoke: records each event and answers with what the test set for the function."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Callable[[dict[str, Any]], InvocationResult]] = {}

    def answer(self, function: str, value: Any, *, error: str | None = None) -> None:
        def reply(_event: dict[str, Any]) -> InvocationResult:
            return InvocationResult("req", json.dumps(value).encode(), error_type=error)

        self.answers[function] = reply

    def __call__(
        self, function: str, payload: bytes, answered: Any = None, stream: Any = None
    ) -> InvocationResult:
        event = json.loads(payload)
        self.events.append((function, event))
        reply = self.answers.get(function)
        if reply is None:
            return InvocationResult("req", json.dumps({"statusCode": 200, "body": "ok"}).encode())
        return reply(event)


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def front(functions: Functions, records: list[RequestRecord]) -> Iterator[ApiFront]:
    table = RouteTable([rest_api(binary_media_types=("image/png",)), http_api()])
    gateway = Gateway(table, functions, account_id="123456789012", on_request=records.append)
    with ApiFront(gateway, port=0) as served:
        yield served


def call(
    front: ApiFront, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    host, port = front.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_a_rest_route_gets_the_payload_1_event(front: ApiFront, functions: Functions) -> None:
    status, _, body = call(
        front, "GET", "/items/42?tag=a&tag=b&x=1", headers={"X-Custom": "v", "User-Agent": "t/1"}
    )
    assert (status, body) == (200, b"ok")
    function, event = functions.events[0]
    assert function == "items"
    assert (
        event["resource"] == "/items/{id}" and event["path"] == "/items/42" and event["httpMethod"] == "GET"
    )
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "b", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "x": ["1"]}
    assert event["headers"]["X-Custom"] == "v" and event["multiValueHeaders"]["X-Custom"] == ["v"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["stageVariables"] is None and event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/items/{id}" and context["stage"] == "Prod"
    assert context["path"] == "/Prod/items/42" and context["accountId"] == "123456789012"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["userAgent"] == "t/1"
    assert context["protocol"] == "HTTP/1.1" and len(context["apiId"]) == 10
    for key in ("requestId", "extendedRequestId", "requestTime", "requestTimeEpoch", "domainName"):
        assert context[key]


def test_an_http_route_gets_the_payload_2_event(front: ApiFront, functions: Functions) -> None:
    headers = {"Content-Type": "application/json", "Cookie": "a=1; b=2", "X-Multi": "one"}
    call(front, "POST", "/users/j%C3%B6rg?q=1&q=2", b'{"n": 1}', headers)
    function, event = functions.events[0]
    assert function == "users"
    assert event["version"] == "2.0" and event["routeKey"] == "POST /users/{name}"
    assert event["rawPath"] == "/users/j%C3%B6rg" and event["rawQueryString"] == "q=1&q=2"
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["content-type"] == "application/json" and event["headers"]["x-multi"] == "one"
    assert event["queryStringParameters"] == {"q": "1,2"}
    assert event["pathParameters"] == {"name": "jörg"}
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/users/j%C3%B6rg"
    assert context["http"]["sourceIp"] == "127.0.0.1" and context["stage"] == "$default"
    assert context["routeKey"] == "POST /users/{name}" and context["timeEpoch"] > 0


def test_binary_bodies_are_base64_by_api_kind(front: ApiFront, functions: Functions) -> None:
    png = bytes(range(256))
    call(front, "PUT", "/files/a/b.png", png, {"Content-Type": "image/png"})
    call(front, "PUT", "/files/a/b.txt", b"plain", {"Content-Type": "text/plain"})
    # An HTTP API base64-encodes whatever is not text, form posts included.
    call(front, "POST", "/users/x", b"a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"})
    (_, rest_png), (_, rest_text), (_, form) = functions.events
    assert rest_png["isBase64Encoded"] is True and base64.b64decode(rest_png["body"]) == png
    assert rest_png["pathParameters"] == {"key": "a/b.png"}
    assert (rest_text["body"], rest_text["isBase64Encoded"]) == ("plain", False)
    assert form["isBase64Encoded"] is True and base64.b64decode(form["body"]) == b"a=1&b=2"


def test_an_http_api_may_ask_for_payload_1(front: ApiFront, functions: Functions) -> None:
    call(front, "GET", "/old")
    _, event = functions.events[0]
    assert event["httpMethod"] == "GET" and event["resource"] == "/old" and "version" not in event


def test_answers_map_to_status_headers_cookies_and_body(front: ApiFront, functions: Functions) -> None:
    functions.answer(
        "items",
        {
            "statusCode": 201,
            "headers": {"X-One": "1", "Content-Type": "text/plain"},
            "multiValueHeaders": {"X-Many": ["a", "b"]},
            "body": "made",
        },
    )
    status, headers, body = call(front, "GET", "/items/1")
    assert (status, body, headers["Content-Type"], headers["X-One"]) == (201, b"made", "text/plain", "1")
    assert headers.get_all("X-Many") == ["a", "b"] and headers["x-amzn-RequestId"]
    functions.answer("users", {"statusCode": 200, "cookies": ["s=1; HttpOnly", "t=2"], "body": "hi"})
    status, headers, body = call(front, "POST", "/users/x")
    assert headers.get_all("Set-Cookie") == ["s=1; HttpOnly", "t=2"] and headers["Apigw-Requestid"]


def test_a_base64_answer_is_binary(front: ApiFront, functions: Functions) -> None:
    data = b"\x89PNG\x00\xff"
    answer = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True}
    functions.answer("users", {**answer, "body": base64.b64encode(data).decode()})
    assert call(front, "POST", "/users/x")[2] == data
    # A REST API decodes only when the client accepts a binary media type; else it sends the base64 text.
    functions.answer("items", {**answer, "body": base64.b64encode(data).decode()})
    assert call(front, "GET", "/items/1", headers={"Accept": "image/png"})[2] == data
    assert call(front, "GET", "/items/1", headers={"Accept": "text/html"})[2] == base64.b64encode(data)


def test_the_simplified_http_answer_is_a_200_json(front: ApiFront, functions: Functions) -> None:
    functions.answer("users", {"message": "hello"})
    status, headers, body = call(front, "POST", "/users/x")
    assert (status, headers["Content-Type"], json.loads(body)) == (
        200,
        "application/json",
        {"message": "hello"},
    )
    functions.answer("users", "just text")
    assert call(front, "POST", "/users/x")[2] == b'"just text"'


@pytest.mark.parametrize(
    "answer",
    [
        {"body": "no status"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "extra": 1},
        "text",
    ],
)
def test_a_malformed_rest_answer_is_502(front: ApiFront, functions: Functions, answer: Any) -> None:
    functions.answer("items", answer)
    status, headers, body = call(front, "GET", "/items/1")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"


def test_a_function_error_is_an_internal_error(front: ApiFront, functions: Functions, records: list) -> None:
    functions.answer("items", {"errorMessage": "boom", "errorType": "Exception"}, error="Exception")
    functions.answer("users", {"errorMessage": "boom", "errorType": "Exception"}, error="Exception")
    assert call(front, "GET", "/items/1")[::2] == (502, b'{"message": "Internal server error"}')
    assert call(front, "POST", "/users/x")[::2] == (500, b'{"message":"Internal Server Error"}')
    assert (
        records[0].function == "items"
        and records[0].status == 502
        and "Exception" in (records[0].error or "")
    )


def test_an_unknown_route_gets_api_gateway_s_answer(functions: Functions) -> None:
    for api, expected in (
        (rest_api(), (403, b'{"message":"Missing Authentication Token"}')),
        (http_api(), (404, b'{"message":"Not Found"}')),
    ):
        with ApiFront(Gateway(RouteTable([api]), functions, account_id="1"), port=0) as front:
            assert call(front, "GET", "/nowhere")[::2] == expected
    assert functions.events == []


def test_past_the_integration_timeout_the_answer_is_api_gateway_s(
    front: ApiFront, functions: Functions
) -> None:
    release = threading.Event()

    def slow(_event: dict[str, Any]) -> InvocationResult:
        release.wait(10)
        return InvocationResult("req", b'{"statusCode": 200}')

    functions.answers["slow"] = slow
    try:
        assert call(front, "GET", "/slow")[::2] == (503, b'{"message":"Service Unavailable"}')
    finally:
        release.set()


def test_head_requests_get_no_body(front: ApiFront, functions: Functions) -> None:
    functions.answer("files", {"statusCode": 200, "body": "content"})
    status, headers, body = call(front, "HEAD", "/files/x")
    assert (status, body, headers["Content-Length"]) == (200, b"", "7")


def test_every_request_is_recorded(front: ApiFront, records: list[RequestRecord]) -> None:
    call(front, "GET", "/items/7?x=1")
    call(front, "GET", "/nowhere")
    assert [(r.method, r.path, r.function, r.status) for r in records] == [
        ("GET", "/items/7?x=1", "items", 200),
        ("GET", "/nowhere", None, 403),
    ]
    assert all(r.duration_ms >= 0 for r in records)


def test_cors_preflights_and_headers(functions: Functions) -> None:
    rest = rest_api(cors=Cors(allow_origins=("https://a.example",), allow_headers=("X-Key",), max_age=60))
    cors = Cors(allow_origins=("https://b.example",), allow_methods=("GET", "POST"), expose_headers=("X-Id",))
    table = RouteTable([rest, http_api(cors=cors)])
    gateway = Gateway(table, functions, account_id="1")
    preflight = {"Origin": "https://b.example", "Access-Control-Request-Method": "POST"}
    answer = gateway.handle(HttpRequest("OPTIONS", "/users/x", tuple(preflight.items())))
    assert answer.status == 204 and ("Access-Control-Allow-Origin", "https://b.example") in answer.headers
    assert ("Access-Control-Allow-Methods", "GET,POST") in answer.headers
    stranger = {**preflight, "Origin": "https://evil.example"}
    answer = gateway.handle(HttpRequest("OPTIONS", "/users/x", tuple(stranger.items())))
    assert not any(n.startswith("Access-Control") for n, _ in answer.headers)
    functions.answer("users", {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}})
    answer = gateway.handle(HttpRequest("POST", "/users/x", (("Origin", "https://b.example"),)))
    cors_headers = [h for h in answer.headers if h[0].startswith("Access-Control")]
    assert cors_headers == [
        ("Access-Control-Allow-Origin", "https://b.example"),
        ("Access-Control-Expose-Headers", "X-Id"),
    ]
    answer = gateway.handle(HttpRequest("OPTIONS", "/items/1", ()))
    assert answer.status == 200 and ("Access-Control-Allow-Origin", "https://a.example") in answer.headers
    assert ("Access-Control-Allow-Methods", "GET,OPTIONS") in answer.headers
    assert ("Access-Control-Max-Age", "60") in answer.headers
    assert functions.events[-1][0] == "users" and len(functions.events) == 1


def test_a_function_url_gets_its_event_and_answers_as_function_urls_do() -> None:
    functions = Functions()
    route = TemplateRoute("ANY", "$default", "fn", "2.0", 4_000, "Fn.FunctionUrl")
    url = TemplateApi("Fn", URL, "$default", (route,), cors=Cors(allow_origins=("*",)))
    gateway = Gateway(RouteTable([url]), functions, account_id="123456789012")
    answer = gateway.handle(HttpRequest("POST", "/any/path?a=1", (("Content-Type", "text/plain"),), b"hi"))
    assert answer.status == 200 and ("x-amzn-RequestId" in dict(answer.headers))
    ((_, event),) = functions.events
    assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == ("$default", "/any/path", "a=1")
    assert event["pathParameters"] is None and event["stageVariables"] is None and event["body"] == "hi"
    context = event["requestContext"]
    assert (context["accountId"], context["authentication"], context["stage"]) == (
        "anonymous",
        None,
        "$default",
    )
    functions.answer("fn", {"errorMessage": "x"}, error="Exception")
    answer = gateway.handle(HttpRequest("GET", "/", ()))
    assert (answer.status, answer.body) == (502, b"Internal Server Error")
    answer = gateway.handle(HttpRequest("GET", "/", (("Origin", "https://x.example"),)))
    assert ("Access-Control-Allow-Origin", "*") in answer.headers


def test_an_aws_iam_function_url_refuses_unsigned_requests() -> None:
    functions = Functions()
    route = TemplateRoute("ANY", "$default", "fn", "2.0", 4_000, "Fn.FunctionUrl")
    url = TemplateApi("Fn", URL, "$default", (route,), url_auth="AWS_IAM")
    gateway = Gateway(RouteTable([url]), functions, account_id="123456789012")
    answer = gateway.handle(HttpRequest("GET", "/", ()))
    assert (answer.status, answer.body) == (403, b'{"Message":"Forbidden"}')
    signed = (("Authorization", "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/lambda/aws4_request, ..."),)
    assert gateway.handle(HttpRequest("GET", "/", signed)).status == 200
    assert functions.events[0][1]["requestContext"]["accountId"] == "123456789012"


def test_an_aws_iam_function_url_answers_403_when_its_check_refuses_the_signed_request() -> None:
    functions = Functions()
    route = TemplateRoute("ANY", "$default", "fn", "2.0", 4_000, "Fn.FunctionUrl")
    url = TemplateApi("Fn", URL, "$default", (route,), url_auth="AWS_IAM")
    seen: list[HttpRequest] = []

    def refusal(request: HttpRequest, api: TemplateApi) -> str:
        seen.append(request)
        return "" if request.header("x-good") else "InvalidSignatureException"

    gateway = Gateway(RouteTable([url]), functions, account_id="123456789012", iam_refusal=refusal)
    signed = ("Authorization", "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/lambda/aws4_request, ...")
    answer = gateway.handle(HttpRequest("GET", "/", (signed,)))
    assert (answer.status, answer.body) == (403, b'{"Message":"Forbidden"}')
    assert "InvalidSignatureException" in (answer.error or "")  # the terminal's line says why
    assert functions.events == []
    assert gateway.handle(HttpRequest("GET", "/", (signed, ("X-Good", "1")))).status == 200
    assert len(seen) == 2 and len(functions.events) == 1
