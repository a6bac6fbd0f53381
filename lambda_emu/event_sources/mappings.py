"""Event source mappings as Lambda's API keeps them (Create/Get/Update/Delete/ListEventSourceMappings): the
configuration, validated and rendered in Lambda's shape, persisted in the state directory. Which sources
are polled, and how, is the pollers' business (event_sources.pollers)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lambda_emu import arns
from lambda_emu.control import bodies
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError
from lambda_emu.event_sources.settings import (
    REPORT_FAILURES,
    SQS,
    SQS_BATCH_DEFAULT,
    STREAM_BATCH_DEFAULT,
    configured,
    source_kind,
    validation,
)
from lambda_emu.event_sources.streams import StreamArn

LOG = logging.getLogger(__name__)

MAPPINGS_FILE = "event-source-mappings.json"
ENABLED, DISABLED, CREATING, UPDATING, DELETING = "Enabled", "Disabled", "Creating", "Updating", "Deleting"
_NOT_FOUND = "The resource you requested does not exist."
_QUEUE_NAME = re.compile(r"[\w.-]+")  # letters, digits, - and _, and a FIFO queue's .fifo


def queue_name(arn: str) -> str | None:
    """The queue's name when `arn` (through arns.parse) is an SQS queue's ARN, else None."""
    parts = arns.parse(arn)
    if parts is None or parts.service != "sqs" or not parts.region:
        return None
    if not (parts.account.isdigit() and len(parts.account) == 12 and _QUEUE_NAME.fullmatch(parts.resource)):
        return None
    return parts.resource


@dataclass(frozen=True)
class EventSourceMapping:
    uuid: str
    event_source_arn: str
    function_arn: str
    function_name: str  # the name (and qualifier) the caller gave, resolved again at each invoke
    batch_size: int
    window_s: int = 0
    enabled: bool = True
    response_types: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    filter_criteria: Mapping[str, Any] | None = None
    last_modified: float = field(default_factory=time.time)
    state: str = CREATING
    origin: str = "api"  # "template": made from a function's Events at serve start
    # Kinesis and DynamoDB Streams only
    starting_position: str | None = None
    starting_position_timestamp: float | None = None
    bisect: bool = False
    max_retries: int = -1
    max_record_age_s: int = -1
    parallelization: int = 1
    tumbling_window_s: int = 0
    on_failure: str | None = None

    @property
    def kind(self) -> str:
        """SQS, KINESIS or DYNAMODB (event_sources.settings)."""
        return source_kind(self.event_source_arn)

    @property
    def queue_name(self) -> str:
        name = queue_name(self.event_source_arn)
        assert name is not None
        return name

    @property
    def region(self) -> str:
        parsed = arns.parse(self.event_source_arn)
        assert parsed is not None
        return parsed.region

    @property
    def reports_failures(self) -> bool:
        return REPORT_FAILURES in self.response_types


class MappingStore:
    """Mappings by UUID, kept in `event-source-mappings.json`. `function_arn` resolves a FunctionName as
    the control plane does (FunctionNotFoundError when there is none); `arn_of` names a mapping."""

    def __init__(
        self, state_dir: Path, *, function_arn: Callable[[str], str], region: str, account_id: str
    ) -> None:
        self._file = JsonStateFile(
            state_dir / MAPPINGS_FILE,
            "mappings",
            holds="the event source mappings",
            hint=f"Remove {state_dir / MAPPINGS_FILE} to forget every event source mapping.",
        )
        self.state_dir = state_dir
        self._function_arn = function_arn
        self._region = region
        self._account_id = account_id

    # ---- the API's operations
    def create(
        self, body: Mapping[str, Any], *, origin: str = "api", mapping_id: str | None = None
    ) -> EventSourceMapping:
        source = str(body.get("EventSourceArn") or "")
        function_name = str(body.get("FunctionName") or "")
        if not function_name:
            raise validation("functionName", function_name, "Member must not be null")
        kind = source_kind(source) if _known_source(source) else ""
        if not kind:
            parts = arns.parse(source)
            if parts is not None and parts.service in ("kafka", "mq"):
                raise ConfigError(
                    f"lambda-emu does not poll this kind of event source yet: {source}",
                    hint="Event source mappings of SQS queues, Kinesis streams and DynamoDB streams are "
                    "supported; Kafka and MQ are not yet.",
                )
            raise ConfigError("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        mapping = EventSourceMapping(
            uuid=mapping_id or str(uuid.uuid4()),
            event_source_arn=source,
            function_arn=self._function_arn(function_name),
            function_name=function_name,
            batch_size=SQS_BATCH_DEFAULT if kind == SQS else STREAM_BATCH_DEFAULT,
            origin=origin,
        )
        mapping = _configured(mapping, body, create=True)
        with self._file.lock:
            mappings = self._file.content()
            for other in mappings.values():
                if other["event_source_arn"] == source and other["function_arn"] == mapping.function_arn:
                    raise ApiError(
                        "ResourceConflictException",
                        "The event source arn (" + source + ") and function (" + function_name + ") provided "
                        f"mapping already exists. Please update or delete the existing mapping with UUID "
                        f"{other['uuid']}",
                    )
            mappings[mapping.uuid] = _stored(mapping)
            self._file.save()
        LOG.info("event source mapping %s: %s -> %s", mapping.uuid, source, mapping.function_arn)
        return mapping

    def get(self, mapping_id: str) -> EventSourceMapping:
        with self._file.lock:
            return self.get_locked(mapping_id)

    def update(self, mapping_id: str, body: Mapping[str, Any]) -> EventSourceMapping:
        with self._file.lock:
            current = self.get_locked(mapping_id)
            changed = _configured(current, body, create=False)
            if body.get("FunctionName"):
                changed = replace(
                    changed,
                    function_arn=self._function_arn(str(body["FunctionName"])),
                    function_name=str(body["FunctionName"]),
                )
            changed = replace(changed, last_modified=time.time(), state=UPDATING)
            self._file.content()[mapping_id] = _stored(changed)
            self._file.save()
        return changed

    def delete(self, mapping_id: str) -> EventSourceMapping:
        with self._file.lock:
            current = self.get_locked(mapping_id)
            del self._file.content()[mapping_id]
            self._file.save()
        return replace(current, state=DELETING)

    def list_mappings(self, query: Mapping[str, str]) -> dict[str, Any]:
        source, function_name = query.get("EventSourceArn"), query.get("FunctionName")
        function_arn = self._function_arn(function_name) if function_name else None
        items = [
            m
            for m in self.all()
            if (source is None or m.event_source_arn == source)
            and (function_arn is None or m.function_arn == function_arn)
        ]
        page, marker = bodies.page(items, query)
        return {"EventSourceMappings": [self.render(m) for m in page], **marker}

    # ---- the template's mappings
    def keep_template(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """The template's mappings (logical name, CreateEventSourceMapping request) as they are now: each
        under a UUID of its own that stays the same across starts, made or replaced; the template's earlier
        mappings that it no longer has are removed. One that cannot be made is reported and skipped."""
        wanted: set[str] = set()
        for name, request in requests:
            mapping_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lambda-emu:{name}"))
            wanted.add(mapping_id)
            with self._file.lock:
                self._file.content().pop(mapping_id, None)
            try:
                self.create(request, origin="template", mapping_id=mapping_id)
            except (ConfigError, ApiError) as exc:
                LOG.warning("event source mapping %s of the template is not made: %s", name, exc.message)
        with self._file.lock:
            mappings = self._file.content()
            stale = [k for k, m in mappings.items() if m.get("origin") == "template" and k not in wanted]
            for key in stale:
                del mappings[key]
            self._file.save()

    # ---- for the pollers
    def all(self) -> list[EventSourceMapping]:
        with self._file.lock:
            return [_loaded(stored) for stored in self._file.content().values()]

    def settle(self, mapping_id: str) -> None:
        """Creating / Updating → Enabled or Disabled, once the pollers follow the configuration."""
        with self._file.lock:
            stored = self._file.content().get(mapping_id)
            if stored is not None and stored["state"] in (CREATING, UPDATING):
                stored["state"] = ENABLED if stored["enabled"] else DISABLED
                self._file.save()

    def remove_function(self, function_arn_prefix: str) -> None:
        """A deleted function's mappings go with it."""
        with self._file.lock:
            mappings = self._file.content()
            gone = [k for k, m in mappings.items() if _unqualified(m["function_arn"]) == function_arn_prefix]
            for key in gone:
                del mappings[key]
            if gone:
                self._file.save()

    def get_locked(self, mapping_id: str) -> EventSourceMapping:
        stored = self._file.content().get(mapping_id)
        if stored is None:
            raise FunctionNotFoundError(_NOT_FOUND)
        return _loaded(stored)

    # ---- Lambda's shape
    def render(self, mapping: EventSourceMapping) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "UUID": mapping.uuid,
            "BatchSize": mapping.batch_size,
            "MaximumBatchingWindowInSeconds": mapping.window_s,
            "EventSourceArn": mapping.event_source_arn,
            "FunctionArn": mapping.function_arn,
            "LastModified": mapping.last_modified,
            "State": mapping.state,
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": list(mapping.response_types),
            "EventSourceMappingArn": arns.arn(
                "lambda", self._region, self._account_id, f"event-source-mapping:{mapping.uuid}"
            ),
        }
        if mapping.filter_criteria:
            answer["FilterCriteria"] = dict(mapping.filter_criteria)
        if mapping.maximum_concurrency is not None:
            answer["ScalingConfig"] = {"MaximumConcurrency": mapping.maximum_concurrency}
        if mapping.kind != SQS:  # a stream mapping's answer has its position and error handling too
            answer.update(
                StartingPosition=mapping.starting_position,
                ParallelizationFactor=mapping.parallelization,
                LastProcessingResult="No records processed",
                StateTransitionReason="User action",
                DestinationConfig={
                    "OnFailure": {"Destination": mapping.on_failure} if mapping.on_failure else {}
                },
                MaximumRecordAgeInSeconds=mapping.max_record_age_s,
                BisectBatchOnFunctionError=mapping.bisect,
                MaximumRetryAttempts=mapping.max_retries,
                TumblingWindowInSeconds=mapping.tumbling_window_s,
            )
            if mapping.starting_position_timestamp is not None:
                answer["StartingPositionTimestamp"] = mapping.starting_position_timestamp
        return answer


def _configured(mapping: EventSourceMapping, body: Mapping[str, Any], *, create: bool) -> EventSourceMapping:
    """The mapping with the request's settings, checked as Lambda checks them for its kind of source."""
    return replace(mapping, **configured(mapping.kind, _stored(mapping), body, create=create))


def _known_source(arn: str) -> bool:
    return queue_name(arn) is not None or StreamArn.parse(arn) is not None


_FIELDS = tuple(f.name for f in fields(EventSourceMapping))


def _stored(mapping: EventSourceMapping) -> dict[str, Any]:
    stored = {name: getattr(mapping, name) for name in _FIELDS}
    stored["response_types"] = list(mapping.response_types)
    stored["filter_criteria"] = dict(mapping.filter_criteria) if mapping.filter_criteria else None
    return stored


def _loaded(stored: Mapping[str, Any]) -> EventSourceMapping:
    """A stored mapping; a field an older state file lacks takes its default."""
    known = {name: stored[name] for name in _FIELDS if name in stored}
    known["response_types"] = tuple(known.get("response_types") or ())
    return EventSourceMapping(**known)


def _unqualified(function_arn: str) -> str:
    parts = function_arn.split(":")
    return ":".join(parts[:7])
