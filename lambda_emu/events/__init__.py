"""Sample events in the shapes Lambda delivers them: one factory per event source (a plain function with
keyword fields), and a catalog by SAM's service/event names for `lambda-emu generate-event` and tests.

    generate("s3", "put", bucket="photos", key="a b.jpg")   # by name, as the command line does
    s3_put(bucket="photos", key="a b.jpg")                  # the same, as a function
"""

from __future__ import annotations

import logging

from lambda_emu.events import ids
from lambda_emu.events.catalog import (
    EventSpec,
    FieldSpec,
    aliases,
    catalog,
    generate,
    lookup,
    resolved_default,
)
from lambda_emu.events.cloudwatch import cloudwatch_logs, decode_logs, scheduled_event
from lambda_emu.events.http import api_gateway_proxy, http_api_proxy
from lambda_emu.events.messaging import md5_of_message_attributes, sns_notification, sqs_message
from lambda_emu.events.storage import s3_delete, s3_put
from lambda_emu.events.streams import dynamodb_stream, dynamodb_value, kinesis_record

LOG = logging.getLogger(__name__)

# Region and account default to the emulator's: what the function itself sees as AWS_REGION.
resolved_default("region", ids.default_region)
resolved_default("account_id", ids.default_account)

__all__ = [
    "EventSpec",
    "FieldSpec",
    "aliases",
    "api_gateway_proxy",
    "catalog",
    "cloudwatch_logs",
    "decode_logs",
    "dynamodb_stream",
    "dynamodb_value",
    "generate",
    "http_api_proxy",
    "kinesis_record",
    "lookup",
    "md5_of_message_attributes",
    "s3_delete",
    "s3_put",
    "scheduled_event",
    "sns_notification",
    "sqs_message",
]
