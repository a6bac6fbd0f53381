"""A function's answer mapped to the HTTP response API Gateway sends, and API Gateway's own error answers.
Pure: payload in, status, headers and body out."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambda_emu import wire
from lambda_emu.gateway.requests import media_type, media_type_in
from lambda_emu.template.apis import REST, URL

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    error: str | None = None  # why API Gateway answered itself (a malformed response, a timeout), for the log


def _gateway_error(status: int, body: str, error_type: str | None, why: str) -> HttpResponse:
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    if error_type:  # REST APIs name the error in x-amzn-ErrorType
        headers += (("x-amzn-ErrorType", error_type),)
    return HttpResponse(status, headers, body.encode(), error=why)


# API Gateway's own answers, as each kind of API words them. REST APIs: a function error or a malformed
# response is 502 {"message": "Internal server error"} ("Handling Lambda errors with an API Gateway API"),
# an integration past its timeout 504, an unknown resource or method 403 Missing Authentication Token. HTTP
# APIs: 500 {"message":"Internal Server Error"} for a function error or a malformed response, 503 Service
# Unavailable past the integration timeout, 404 Not Found for a request no route takes.
# Function URLs answer a function error, a malformed answer or a failed invocation with 502 "Internal
# Server Error" (awslabs/aws-lambda-cpp#200, awsdocs/aws-lambda-developer-guide#430 report it so).
_URL_ERROR = "Internal Server Error"


def internal_error(kind: str, why: str) -> HttpResponse:
    if kind == URL:
        return _gateway_error(502, _URL_ERROR, None, why)
    if kind == REST:
        return _gateway_error(
            502, '{"message": "Internal server error"}', "InternalServerErrorException", why
        )
    return _gateway_error(500, '{"message":"Internal Server Error"}', None, why)


def timed_out(kind: str, why: str) -> HttpResponse:
    if kind == URL:  # its wait outlasts the function's timeout: the function's own timeout comes first
        return _gateway_error(502, _URL_ERROR, None, why)
    if kind == REST:
        return _gateway_error(504, '{"message": "Endpoint request timed out"}', None, why)
    return _gateway_error(503, '{"message":"Service Unavailable"}', None, why)


def rejected(kind: str, why: str) -> HttpResponse:
    """Lambda refused the invocation (too large, no such function) or could not run it: API Gateway's 500
    ("Handling Lambda errors with an API Gateway API")."""
    if kind == URL:
        return _gateway_error(502, _URL_ERROR, None, why)
    if kind == REST:
        return _gateway_error(
            500, '{"message": "Internal server error"}', "InternalServerErrorException", why
        )
    return _gateway_error(500, '{"message":"Internal Server Error"}', None, why)


def forbidden(why: str) -> HttpResponse:
    """A Function URL of AuthType AWS_IAM asked without a SigV4 signature."""
    return _gateway_error(403, '{"Message":"Forbidden"}', None, why)


def too_large(kind: str) -> HttpResponse:
    """A request past API Gateway's 10 MB payload quota."""
    return _gateway_error(413, '{"message":"Request Too Long"}', None, "request too large")


def no_route(kind: str) -> HttpResponse:
    if kind == REST:
        return _gateway_error(
            403,
            '{"message":"Missing Authentication Token"}',
            "MissingAuthenticationTokenException",
            "no route",
        )
    return _gateway_error(404, '{"message":"Not Found"}', None, "no route")


class _Malformed(Exception):
    pass


def _status(value: Any) -> int:
    if isinstance(value, bool):
        raise _Malformed("statusCode must be a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or not 100 <= value <= 599:
        raise _Malformed(f"statusCode {value!r} is not an HTTP status")
    return value


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise _Malformed(f"header {name} has a {type(value).__name__} value")


def _body(fields: dict[str, Any], decode: bool) -> bytes:
    body = fields.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise _Malformed("body must be a string")
    if not fields.get("isBase64Encoded") or not decode:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise _Malformed("isBase64Encoded is true but body is not base64") from None


# The fields of a payload 1.0 answer ("Output format of a Lambda function for proxy integration"); a REST API
# finds any other field malformed.
_V1_FIELDS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


def _v1(payload: Any, kind: str, accept: str, binary_media_types: Sequence[str]) -> HttpResponse:
    if not isinstance(payload, dict):
        raise _Malformed("the answer is not a JSON object")
    unknown = set(payload) - _V1_FIELDS - ({"cookies"} if kind != REST else set())
    if unknown:
        raise _Malformed(f"unknown field(s) {', '.join(sorted(unknown))}")
    if "statusCode" not in payload:
        raise _Malformed("statusCode is missing")
    status = _status(payload["statusCode"])
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise _Malformed("headers and multiValueHeaders must be objects")
    # Both maps merge; a name in multiValueHeaders takes its values from there only (Lambda proxy output).
    headers = [(n, _scalar(n, v)) for n, v in single.items() if n not in multi]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise _Malformed(f"multiValueHeaders {name} must be a list")
        headers += [(name, _scalar(name, v)) for v in values]
    # A REST API sends a base64 body as binary only when the client accepts one of its binary media types
    # (it goes by the first Accept type); else the client gets the base64 text. HTTP APIs always decode.
    decode = kind != REST or media_type_in(media_type(accept.split(",", 1)[0]), binary_media_types)
    return HttpResponse(status, tuple(headers), _body(payload, decode))


def _v2(payload: Any) -> HttpResponse:
    if not isinstance(payload, dict) or "statusCode" not in payload:
        raise LookupError  # the simplified answer: the caller sends the JSON as it is
    status = _status(payload["statusCode"])
    single = payload.get("headers") or {}
    if not isinstance(single, dict):
        raise _Malformed("headers must be an object")
    headers = [(n, _scalar(n, v)) for n, v in single.items()]
    cookies = payload.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise _Malformed("cookies must be a list of strings")
    headers += [("Set-Cookie", cookie) for cookie in cookies]
    return HttpResponse(status, tuple(headers), _body(payload, True))


def _with_content_type(response: HttpResponse) -> HttpResponse:
    if any(name.lower() == "content-type" for name, _ in response.headers):
        return response
    # API Gateway's default when the function names none.
    return HttpResponse(
        response.status, (*response.headers, ("Content-Type", "application/json")), response.body
    )


def function_response(
    payload: bytes, *, kind: str, version: str, accept: str = "", binary_media_types: Sequence[str] = ()
) -> HttpResponse:
    """The HTTP response for a function's successful answer; a malformed one is API Gateway's internal
    error (with the reason in `error`, for the log)."""
    try:
        value = wire.loads_json(payload)
    except ValueError:
        return internal_error(kind, "the function's answer is not JSON")
    try:
        if version == "1.0":
            return _with_content_type(_v1(value, kind, accept, binary_media_types))
        try:
            return _with_content_type(_v2(value))
        except LookupError:
            # Payload 2.0's simplified answer: valid JSON without a statusCode is a 200 with that JSON as the
            # body ("Working with AWS Lambda proxy integrations for HTTP APIs": response format).
            return HttpResponse(200, (("Content-Type", "application/json"),), payload)
    except _Malformed as exc:
        return internal_error(kind, f"malformed Lambda proxy response: {exc}")
