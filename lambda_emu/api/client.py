"""The terminal's way into a running `serve`: one call over loopback HTTP (standard library only), with
the invocation's whole log, so `lambda-emu invoke` prints what it prints when it runs the call itself."""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lambda_emu import wire
from lambda_emu.errors import ApiError, LambdaEmuError, ThrottledError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteOutcome:
    status: int
    payload: bytes = b""
    function_error: str | None = None
    log: str = ""


def invoke_through(
    url: str,
    function_name: str,
    payload: bytes,
    *,
    invocation_type: str = "RequestResponse",
    client_context: str | None = None,
    timeout: float = 960.0,  # past Lambda's longest timeout (900 s) plus an init
) -> RemoteOutcome:
    headers = {"Content-Type": "application/json", wire.X_INVOCATION_TYPE: invocation_type}
    if client_context:
        headers[wire.X_CLIENT_CONTEXT] = client_context
    full_log = invocation_type == "RequestResponse"
    path = wire.LOCAL_INVOKE_PATH if full_log else wire.INVOKE_PATH
    request = urllib.request.Request(
        url + path.format(name=quote(function_name, safe="")), data=payload, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        raise _error_of(exc.code, exc.headers.get(wire.X_ERROR_TYPE), exc.read()) from None
    except OSError as exc:
        raise LambdaEmuError(f"The server at {url} did not answer: {exc}.", hint="Use --no-server.") from exc
    if not full_log:
        return RemoteOutcome(status)
    answer = json.loads(body)
    return RemoteOutcome(
        status,
        base64.b64decode(answer["Payload"]),
        answer.get("FunctionError"),
        answer.get("Log", ""),
    )


def error_fields(status: int, body: bytes) -> tuple[str, dict[str, Any]]:
    """An error answer's message and fields, as Lambda writes them ({"Type", "message"} or "Message")."""
    try:
        fields = json.loads(body)
    except ValueError:
        fields = {}
    if not isinstance(fields, dict):
        fields = {}
    return str(fields.get("message") or fields.get("Message") or f"HTTP {status}"), fields


def _error_of(status: int, code: str | None, body: bytes) -> LambdaEmuError:
    """The server's error answer as the exception the emulator would have raised running the call here."""
    message, fields = error_fields(status, body)
    if status == 429:
        return ThrottledError(fields.get("Reason", "ConcurrentInvocationLimitExceeded"))
    if status < 500 and code:
        return ApiError(code, message)
    return LambdaEmuError(f"{code or 'ServiceException'}: {message}")
