"""Identifiers, clocks and ARNs for sample events: realistic in form (the digits, lengths and time formats
AWS uses), random in content, built from the emulator's region and account."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timezone

from lambda_emu import wire
from lambda_emu.config import EmulatorConfig, host_environ

LOG = logging.getLogger(__name__)


def default_region() -> str:
    """The emulator's region (AWS_REGION / AWS_DEFAULT_REGION, else us-east-1): what functions see."""
    return EmulatorConfig.from_environ(host_environ()).region


def default_account() -> str:
    return wire.DEFAULT_ACCOUNT_ID


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso_millis(at: datetime) -> str:
    """1970-01-01T00:00:00.000Z: S3's eventTime and SNS's Timestamp."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def iso_seconds(at: datetime) -> str:
    """2015-10-08T16:53:06Z: EventBridge's time."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def clf_time(at: datetime) -> str:
    """09/Apr/2015:12:34:56 +0000: API Gateway's requestTime (Common Log Format), English month names
    whatever the locale."""
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[at.month - 1]
    return f"{at.day:02d}/{month}/{at.year}:{at:%H:%M:%S} +0000"


def epoch_millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def request_uuid() -> str:
    return str(uuid.uuid4())


def hex_id(length: int) -> str:
    """Upper-case hexadecimal, as S3's x-amz-request-id and sequencer are."""
    return secrets.token_hex((length + 1) // 2)[:length].upper()


def lower_hex(length: int) -> str:
    return secrets.token_hex((length + 1) // 2)[:length]


def digits(length: int) -> str:
    """A decimal number of exactly `length` digits (Kinesis and DynamoDB sequence numbers, log event ids)."""
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(length - 1))


def b64_token(nbytes: int) -> str:
    return base64.b64encode(secrets.token_bytes(nbytes)).decode()


def short_request_id() -> str:
    """HTTP API's requestId: 16 characters of URL-safe base64 ending in '=' (e.g. JKJaXmPLvHcESHA=)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()[:15] + "="


def api_id() -> str:
    """An API Gateway id: 10 lower-case letters and digits."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def trace_id(at: datetime) -> str:
    """X-Amzn-Trace-Id: Root=1-<8 hex of epoch seconds>-<24 hex>."""
    return f"Root=1-{int(at.timestamp()):08x}-{lower_hex(24)}"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
