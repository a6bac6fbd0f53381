"""What Lambda sends about a finished Event invocation, as pure data: a dead letter's message attributes and
the invocation record of a destination (Lambda's asynchronous invocation)."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from lambda_emu import wire
from lambda_emu.async_invoke.retry import STATUS_OK, LastError

LOG = logging.getLogger(__name__)

RECORD_VERSION = "1.0"
DLQ_MESSAGE_LIMIT = 1024  # ErrorMessage carries the first 1 KB of the error


def dead_letter_attributes(request_id: str, error: LastError | None) -> dict[str, dict[str, str]]:
    """The message attributes of a dead letter, in the shape SQS SendMessage and SNS Publish take."""
    status = error.status if error else STATUS_OK
    message = _truncate(error.message if error else "", DLQ_MESSAGE_LIMIT)
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(status)},
    }
    if message:  # SQS refuses an attribute with an empty value
        attributes["ErrorMessage"] = {"DataType": "String", "StringValue": message}
    return attributes


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: bytes,
    status: int,
    executed_version: str = wire.LATEST,
    function_error: str | None = None,
    response_payload: bytes | None = None,
    now: float,
) -> dict[str, Any]:
    """The JSON document a destination receives (as the SQS/SNS message or the Lambda payload)."""
    response_context: dict[str, Any] = {"statusCode": status, "executedVersion": executed_version}
    if function_error:
        response_context["functionError"] = function_error
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "timestamp": timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
        "responseContext": response_context,
    }
    # Only an attempt in which the function ran has a response to report.
    if response_payload is not None:
        record["responsePayload"] = _json_or_text(response_payload)
    return record


def failure_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: bytes,
    error: LastError | None,
    now: float,
) -> dict[str, Any]:
    """The on-failure record of a discarded event, from the last error it met."""
    version = error.executed_version if error else wire.LATEST
    return invocation_record(
        request_id=request_id,
        function_arn=function_arn,
        condition=condition,
        invoke_count=invoke_count,
        request_payload=request_payload,
        status=error.status if error else STATUS_OK,
        executed_version=version,
        function_error="Unhandled" if error and error.error_type else None,
        response_payload=error.response if error else None,
        now=now,
    )


def error_message(payload: bytes) -> str:
    """The errorMessage of a function's error payload, else the payload's text."""
    try:
        body = wire.loads_json(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")
    if isinstance(body, dict) and isinstance(body.get("errorMessage"), str):
        return str(body["errorMessage"])
    return payload.decode("utf-8", "replace")


def _json_or_text(payload: bytes) -> Any:
    try:
        value = wire.loads_json(payload)
        json.dumps(value)  # what the record is written with must handle it too
        return value
    except (ValueError, RecursionError):
        return payload.decode("utf-8", "replace")


def _truncate(text: str, limit: int) -> str:
    # Cut by bytes, dropping a character split at the edge, so the attribute stays valid UTF-8.
    return text.encode()[:limit].decode("utf-8", "ignore")


def timestamp(now: float) -> str:
    """Epoch seconds as UTC with milliseconds: 2026-11-23T10:00:00.123Z."""
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
