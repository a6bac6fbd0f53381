"""A mapping's settings from a Create/UpdateEventSourceMapping request, checked as Lambda checks them for
its kind of source ("Lambda parameters for Amazon SQS / Kinesis Data Streams / DynamoDB event source
mappings"). Pure: event_sources.mappings keeps what this returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lambda_emu import arns
from lambda_emu.errors import ApiError, ConfigError
from lambda_emu.event_sources.filters import parse_filters

LOG = logging.getLogger(__name__)

REPORT_FAILURES = "ReportBatchItemFailures"
SQS, KINESIS, DYNAMODB = "sqs", "kinesis", "dynamodb"
# "Using Lambda with Amazon SQS": batch size 1-10,000 for standard queues (over 10 needs a batching window),
# 1-10 for FIFO queues; the batching window 0-300 s; MaximumConcurrency 2-1,000.
SQS_BATCH_DEFAULT, SQS_BATCH_MAX, FIFO_BATCH_MAX = 10, 10_000, 10
# Kinesis and DynamoDB Streams: batch size 1-10,000, default 100; retries and record age -1 (forever) up to
# 10,000 and 604,800 s (a record age of 0-59 s is refused); 1-10 concurrent batches per shard; tumbling
# windows up to 900 s.
STREAM_BATCH_DEFAULT, STREAM_BATCH_MAX = 100, 10_000
MAX_WINDOW_S = 300
MAX_RETRIES, MAX_RECORD_AGE_S, MIN_RECORD_AGE_S = 10_000, 604_800, 60
MAX_PARALLELIZATION, MAX_TUMBLING_S = 10, 900
POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
# The request fields that only stream sources take, and the mapping attributes they set.
STREAM_FIELDS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "DestinationConfig",
    "TumblingWindowInSeconds",
)


def source_kind(arn: str) -> str:
    """SQS, KINESIS or DYNAMODB, from the event source's ARN (its service)."""
    parsed = arns.parse(arn)
    return parsed.service if parsed is not None else ""


def configured(
    kind: str, current: Mapping[str, Any], body: Mapping[str, Any], *, create: bool
) -> dict[str, Any]:
    """The mapping attributes the request changes (names of EventSourceMapping's fields), checked."""
    if kind == SQS:
        return _sqs(current, body)
    return _stream(kind, current, body, create=create)


def _common(current: Mapping[str, Any], body: Mapping[str, Any], batch_max: int) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    batch = body.get("BatchSize", current["batch_size"])
    window = body.get("MaximumBatchingWindowInSeconds", current["window_s"])
    _whole(batch, "batchSize", 1, batch_max)
    _whole(window, "maximumBatchingWindowInSeconds", 0, MAX_WINDOW_S)
    changes.update(batch_size=batch, window_s=window)
    if "Enabled" in body:
        changes["enabled"] = bool(body["Enabled"])
    if "FunctionResponseTypes" in body:
        types = tuple(body["FunctionResponseTypes"] or ())
        if any(t != REPORT_FAILURES for t in types):
            raise validation(
                "functionResponseTypes",
                list(types),
                "Member must satisfy enum value set: [ReportBatchItemFailures]",
            )
        changes["response_types"] = types
    if "FilterCriteria" in body:
        criteria = dict(body["FilterCriteria"] or {})
        parse_filters(criteria)  # a pattern Lambda would refuse is refused at create/update, not at poll
        changes["filter_criteria"] = criteria if criteria.get("Filters") else None
    return changes


def _sqs(current: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    for name in STREAM_FIELDS:
        if name in body and name != "StartingPosition":
            raise ConfigError(f"Unsupported {name} parameter for given event source mapping type.")
    if body.get("StartingPosition"):
        raise ConfigError(f"Unsupported starting position for arn type: {current['event_source_arn']}")
    changes = _common(current, body, SQS_BATCH_MAX)
    batch, window = changes["batch_size"], changes["window_s"]
    if current["event_source_arn"].endswith(".fifo") and batch > FIFO_BATCH_MAX:
        raise ConfigError(f"BatchSize must be less than or equal to {FIFO_BATCH_MAX} for SQS FIFO queues.")
    if batch > SQS_BATCH_DEFAULT and window < 1:
        raise ConfigError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    if "ScalingConfig" in body:
        scaling = body["ScalingConfig"] or {}
        if not isinstance(scaling, Mapping):
            raise ConfigError("ScalingConfig must be an object.")
        maximum = scaling.get("MaximumConcurrency")
        if maximum is not None and (not isinstance(maximum, int) or not 2 <= maximum <= 1000):
            raise validation(
                "scalingConfig.maximumConcurrency",
                maximum,
                "Member must have value greater than or equal to 2",
            )
        changes["maximum_concurrency"] = maximum
    return changes


def _stream(
    kind: str, current: Mapping[str, Any], body: Mapping[str, Any], *, create: bool
) -> dict[str, Any]:
    arn = current["event_source_arn"]
    if "ScalingConfig" in body:
        raise ConfigError("Unsupported ScalingConfig parameter for given event source mapping type.")
    changes = _common(current, body, STREAM_BATCH_MAX)
    if create:
        position = body.get("StartingPosition")
        if not position:
            raise ConfigError(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                "constraint: Member must not be null."
            )
        if position not in POSITIONS:
            raise validation(
                "startingPosition",
                position,
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            )
        if kind == DYNAMODB and position == "AT_TIMESTAMP":  # DynamoDB Streams have no AT_TIMESTAMP iterator
            raise ConfigError(f"Unsupported starting position for arn type: {arn}")
        stamp = body.get("StartingPositionTimestamp")
        if position == "AT_TIMESTAMP":
            if stamp is None:
                raise ConfigError("Need to specify a timestamp when StartingPosition is AT_TIMESTAMP.")
            changes["starting_position_timestamp"] = _epoch(stamp)
        elif stamp is not None:
            raise ConfigError("StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP.")
        changes["starting_position"] = position
    if "BisectBatchOnFunctionError" in body:
        changes["bisect"] = bool(body["BisectBatchOnFunctionError"])
    if "MaximumRetryAttempts" in body:
        changes["max_retries"] = _whole(body["MaximumRetryAttempts"], "maximumRetryAttempts", -1, MAX_RETRIES)
    if "MaximumRecordAgeInSeconds" in body:
        age = _whole(body["MaximumRecordAgeInSeconds"], "maximumRecordAgeInSeconds", -1, MAX_RECORD_AGE_S)
        if 0 <= age < MIN_RECORD_AGE_S:
            raise ConfigError(
                f"MaximumRecordAgeInSeconds must be -1 (forever) or between {MIN_RECORD_AGE_S} and "
                f"{MAX_RECORD_AGE_S}."
            )
        changes["max_record_age_s"] = age
    if "ParallelizationFactor" in body:
        changes["parallelization"] = _whole(
            body["ParallelizationFactor"], "parallelizationFactor", 1, MAX_PARALLELIZATION
        )
    if "TumblingWindowInSeconds" in body:
        changes["tumbling_window_s"] = _whole(
            body["TumblingWindowInSeconds"], "tumblingWindowInSeconds", 0, MAX_TUMBLING_S
        )
    if "DestinationConfig" in body:
        changes["on_failure"] = _on_failure(body["DestinationConfig"])
    return changes


def _on_failure(config: Any) -> str | None:
    """The on-failure destination's ARN: Kinesis and DynamoDB mappings send discarded batches' records to
    an SQS queue or SNS topic, and have no on-success destination."""
    if not isinstance(config, Mapping):
        raise ConfigError("DestinationConfig must be an object.")
    if config.get("OnSuccess"):
        raise ConfigError("Unsupported DestinationConfig parameter for given event source mapping type.")
    on_failure = config.get("OnFailure") or {}
    if not isinstance(on_failure, Mapping):
        raise ConfigError("DestinationConfig.OnFailure must be an object.")
    destination = on_failure.get("Destination")
    if not destination:
        return None
    parsed = arns.parse(str(destination))
    if parsed is None or parsed.service not in ("sqs", "sns"):
        raise ConfigError(
            f"The provided destination config DestinationConfig.OnFailure.Destination ({destination}) is "
            "not valid: a stream's failed records go to an SQS queue or an SNS topic."
        )
    return str(destination)


def _epoch(stamp: Any) -> float:
    """StartingPositionTimestamp: epoch seconds (what boto3 sends a datetime as) or ISO 8601 text."""
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return float(stamp)
    if isinstance(stamp, str):
        try:
            return float(stamp)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise validation("startingPositionTimestamp", stamp, "Member must be a timestamp")


def _whole(value: Any, member: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise validation(member, value, "Member must be an integer")
    if value < low:
        raise validation(member, value, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise validation(member, value, f"Member must have value less than or equal to {high}")
    return value


def validation(member: str, value: object, rule: str) -> ApiError:
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}",
    )
