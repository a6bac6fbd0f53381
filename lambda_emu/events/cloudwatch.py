"""CloudWatch sample events: the EventBridge (CloudWatch Events) scheduled event and the CloudWatch Logs
subscription event, whose payload is gzip-compressed JSON in base64."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from collections.abc import Sequence
from typing import Any

from lambda_emu import arns, wire
from lambda_emu.config import log_stream_name
from lambda_emu.events import ids
from lambda_emu.events.catalog import sample_event

LOG = logging.getLogger(__name__)


@sample_event(
    "cloudwatch",
    "scheduled-event",
    "Amazon EventBridge (CloudWatch Events) scheduled event",
    {
        "rule": "the schedule rule's name",
        "region": "AWS region (follows AWS_REGION, as the emulator does)",
        "account_id": "AWS account id",
    },
    aliases=(("events", "scheduled"), ("eventbridge", "scheduled")),
)
def scheduled_event(
    *, rule: str = "ExampleRule", region: str | None = None, account_id: str | None = None
) -> dict[str, Any]:
    """A scheduled event: time in whole seconds, the rule's ARN in resources, an empty detail ("Using
    Lambda with Amazon EventBridge (schedule)")."""
    region = region or ids.default_region()
    account_id = account_id or ids.default_account()
    return {
        "version": "0",
        "id": ids.request_uuid(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": ids.iso_seconds(ids.now()),
        "region": region,
        "resources": [arns.arn("events", region, account_id, f"rule/{rule}")],
        "detail": {},
    }


def decode_logs(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON document inside a CloudWatch Logs event (what a handler does with awslogs.data)."""
    decoded: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    return decoded


@sample_event(
    "cloudwatch",
    "logs",
    "Amazon CloudWatch Logs subscription filter event",
    {
        "message": "log message (a list makes one log event per message)",
        "log_group": "log group name",
        "log_stream": "log stream name (today's Lambda-style stream when not given)",
        "filter_name": "the subscription filter's name",
        "account_id": "AWS account id (the payload's owner)",
    },
)
def cloudwatch_logs(
    *,
    message: str | Sequence[str] = "[INFO] hello from lambda-emu",
    log_group: str = "/aws/lambda/example-function",
    log_stream: str | None = None,
    filter_name: str = "LambdaStream_example",
    account_id: str | None = None,
) -> dict[str, Any]:
    """A CloudWatch Logs event: {"awslogs": {"data": base64(gzip(JSON))}}, the JSON a DATA_MESSAGE with
    owner, logGroup, logStream, subscriptionFilters and logEvents (id, timestamp in ms, message)
    ("Using Lambda with CloudWatch Logs")."""
    at = ids.now()
    messages = [message] if isinstance(message, str) else list(message)
    stamp = ids.epoch_millis(at)
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id or ids.default_account(),
        "logGroup": log_group,
        "logStream": log_stream or log_stream_name(f"{at:%Y/%m/%d}", wire.LATEST, ids.lower_hex(32)),
        "subscriptionFilters": [filter_name],
        "logEvents": [
            {"id": ids.digits(56), "timestamp": stamp + i, "message": m} for i, m in enumerate(messages)
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    return {"awslogs": {"data": data}}
