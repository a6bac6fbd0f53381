"""Amazon S3 sample events: object created (Put) and object removed (Delete) notifications, as S3
delivers them to Lambda."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote_plus

from lambda_emu import arns
from lambda_emu.errors import ConfigError
from lambda_emu.events import ids
from lambda_emu.events.catalog import sample_event

LOG = logging.getLogger(__name__)

_FIELDS = {
    "bucket": "bucket name",
    "key": "object key, as stored (the event carries it URL-encoded)",
    "version_id": "object version id (absent when the bucket is not versioned)",
    "source_ip": "IP address the request came from",
    "configuration_id": "the bucket notification configuration's id",
    "region": "AWS region (follows AWS_REGION, as the emulator does)",
}


def encode_key(key: str) -> str:
    """S3 puts keys in events URL-encoded with spaces as '+' ("red flower.jpg" → "red+flower.jpg",
    S3 User Guide "Event message structure"); '/' is left as it is."""
    return quote_plus(key, safe="/")


def _record(
    event_name: str,
    bucket: str,
    obj: dict[str, Any],
    source_ip: str,
    configuration_id: str,
    region: str | None,
) -> dict[str, Any]:
    if not bucket:
        raise ConfigError("an S3 event needs a bucket name")
    region = region or ids.default_region()
    # A requester's IAM principal and the bucket owner's canonical (retail) id, in their usual forms.
    principal = "AWS:AIDA" + ids.hex_id(17)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": ids.iso_millis(ids.now()),
                "eventName": event_name,
                "userIdentity": {"principalId": principal},
                "requestParameters": {"sourceIPAddress": source_ip},
                "responseElements": {"x-amz-request-id": ids.hex_id(16), "x-amz-id-2": ids.b64_token(48)},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": ids.hex_id(14)},
                        "arn": f"arn:{arns.partition(region)}:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


@sample_event(
    "s3",
    "put",
    "Amazon S3 object created (ObjectCreated:Put) notification",
    {
        **_FIELDS,
        "size": "object size in bytes",
        "etag": "object ETag (random when not given)",
    },
)
def s3_put(
    *,
    bucket: str = "example-bucket",
    key: str = "test/key",
    size: int = 1024,
    etag: str | None = None,
    version_id: str | None = None,
    source_ip: str = "203.0.113.10",
    configuration_id: str = "lambda-emu-notification",
    region: str | None = None,
) -> dict[str, Any]:
    """An S3 Put notification for s3://bucket/key."""
    if size < 0:
        raise ConfigError(f"object size must be 0 or more; got {size}")
    obj: dict[str, Any] = {"key": encode_key(key), "size": size, "eTag": etag or secrets.token_hex(16)}
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = ids.hex_id(18)
    return _record("ObjectCreated:Put", bucket, obj, source_ip, configuration_id, region)


@sample_event("s3", "delete", "Amazon S3 object removed (ObjectRemoved:Delete) notification", _FIELDS)
def s3_delete(
    *,
    bucket: str = "example-bucket",
    key: str = "test/key",
    version_id: str | None = None,
    source_ip: str = "203.0.113.10",
    configuration_id: str = "lambda-emu-notification",
    region: str | None = None,
) -> dict[str, Any]:
    """An S3 Delete notification: a removed object has no size or eTag in the event."""
    obj: dict[str, Any] = {"key": encode_key(key)}
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = ids.hex_id(18)
    return _record("ObjectRemoved:Delete", bucket, obj, source_ip, configuration_id, region)
