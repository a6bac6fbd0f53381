"""Event source mappings as Lambda's API keeps them (Create/Get/Update/Delete/ListEventSourceMappings): the
configuration, validated and rendered in Lambda's shape, persisted in the state directory. Which sources
are polled, and how, is the pollers' business (event_sources.pollers)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambda_emu import arns
from lambda_emu.control import bodies
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError
from lambda_emu.event_sources.filters import parse_filters

LOG = logging.getLogger(__name__)

MAPPINGS_FILE = "event-source-mappings.json"
ENABLED, DISABLED, CREATING, UPDATING, DELETING = "Enabled", "Disabled", "Creating", "Updating", "Deleting"
REPORT_FAILURES = "ReportBatchItemFailures"
_NOT_FOUND = "The resource you requested does not exist."
_SQS_ARN = re.compile(r"arn:aws[a-zA-Z-]*:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<queue>[\w.-]+)")
# "Using Lambda with Amazon SQS": batch size 1-10,000 for standard queues (over 10 needs a batching window),
# 1-10 for FIFO queues; the batching window 0-300 s; MaximumConcurrency 2-1,000.
SQS_BATCH_DEFAULT, SQS_BATCH_MAX, FIFO_BATCH_MAX = 10, 10_000, 10
MAX_WINDOW_S = 300


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

    @property
    def queue_name(self) -> str:
        match = _SQS_ARN.fullmatch(self.event_source_arn)
        assert match is not None
        return match["queue"]

    @property
    def region(self) -> str:
        match = _SQS_ARN.fullmatch(self.event_source_arn)
        assert match is not None
        return match["region"]

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
            raise _validation("functionName", function_name, "Member must not be null")
        if not _SQS_ARN.fullmatch(source):
            if re.match(r"arn:aws[a-zA-Z-]*:(kinesis|dynamodb|kafka|mq):", source):
                raise ConfigError(
                    f"lambda-emu does not poll this kind of event source yet: {source}",
                    hint="Event source mappings of SQS queues are supported; Kinesis, DynamoDB Streams, "
                    "Kafka and MQ are not yet.",
                )
            raise ConfigError("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        mapping = EventSourceMapping(
            uuid=mapping_id or str(uuid.uuid4()),
            event_source_arn=source,
            function_arn=self._function_arn(function_name),
            function_name=function_name,
            batch_size=SQS_BATCH_DEFAULT,
            origin=origin,
        )
        mapping = _configured(mapping, body)
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
            changed = _configured(current, body)
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
        return answer


def _configured(mapping: EventSourceMapping, body: Mapping[str, Any]) -> EventSourceMapping:
    """The mapping with the request's settings, checked as Lambda checks them for an SQS source."""
    changes: dict[str, Any] = {}
    fifo = mapping.queue_name.endswith(".fifo")
    batch = body.get("BatchSize", mapping.batch_size)
    window = body.get("MaximumBatchingWindowInSeconds", mapping.window_s)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= SQS_BATCH_MAX:
        raise _validation("batchSize", batch, f"Member must have value less than or equal to {SQS_BATCH_MAX}")
    if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= MAX_WINDOW_S:
        raise _validation(
            "maximumBatchingWindowInSeconds",
            window,
            f"Member must have value less than or equal to {MAX_WINDOW_S}",
        )
    if fifo and batch > FIFO_BATCH_MAX:
        raise ConfigError(
            f"BatchSize must be less than or equal to {FIFO_BATCH_MAX} for SQS FIFO queues.",
        )
    if batch > SQS_BATCH_DEFAULT and window < 1:
        raise ConfigError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    changes.update(batch_size=batch, window_s=window)
    if "Enabled" in body:
        changes["enabled"] = bool(body["Enabled"])
    if "FunctionResponseTypes" in body:
        types = tuple(body["FunctionResponseTypes"] or ())
        if any(t != REPORT_FAILURES for t in types):
            raise _validation(
                "functionResponseTypes",
                list(types),
                "Member must satisfy enum value set: [ReportBatchItemFailures]",
            )
        changes["response_types"] = types
    if "ScalingConfig" in body:
        maximum = (body["ScalingConfig"] or {}).get("MaximumConcurrency")
        if maximum is not None and (not isinstance(maximum, int) or not 2 <= maximum <= 1000):
            raise _validation(
                "scalingConfig.maximumConcurrency",
                maximum,
                "Member must have value greater than or equal to 2",
            )
        changes["maximum_concurrency"] = maximum
    if "FilterCriteria" in body:
        criteria = dict(body["FilterCriteria"] or {})
        parse_filters(criteria)  # a pattern Lambda would refuse is refused at create/update, not at poll
        changes["filter_criteria"] = criteria if criteria.get("Filters") else None
    return replace(mapping, **changes)


def _validation(member: str, value: object, rule: str) -> ApiError:
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}",
    )


def _stored(mapping: EventSourceMapping) -> dict[str, Any]:
    return {
        "uuid": mapping.uuid,
        "event_source_arn": mapping.event_source_arn,
        "function_arn": mapping.function_arn,
        "function_name": mapping.function_name,
        "batch_size": mapping.batch_size,
        "window_s": mapping.window_s,
        "enabled": mapping.enabled,
        "response_types": list(mapping.response_types),
        "maximum_concurrency": mapping.maximum_concurrency,
        "filter_criteria": dict(mapping.filter_criteria) if mapping.filter_criteria else None,
        "last_modified": mapping.last_modified,
        "state": mapping.state,
        "origin": mapping.origin,
    }


def _loaded(stored: Mapping[str, Any]) -> EventSourceMapping:
    return EventSourceMapping(
        uuid=stored["uuid"],
        event_source_arn=stored["event_source_arn"],
        function_arn=stored["function_arn"],
        function_name=stored["function_name"],
        batch_size=stored["batch_size"],
        window_s=stored["window_s"],
        enabled=stored["enabled"],
        response_types=tuple(stored["response_types"]),
        maximum_concurrency=stored["maximum_concurrency"],
        filter_criteria=stored["filter_criteria"],
        last_modified=stored["last_modified"],
        state=stored["state"],
        origin=stored.get("origin", "api"),
    )


def _unqualified(function_arn: str) -> str:
    parts = function_arn.split(":")
    return ":".join(parts[:7])
