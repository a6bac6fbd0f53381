"""Event source mappings at work: one poller thread per enabled SQS mapping, receiving from the queue at
the endpoint the user named, invoking the function synchronously with each batch, and deleting what the
outcome says (event_sources.sqs); Kinesis and DynamoDB Streams mappings are polled per shard
(event_sources.stream_pollers). `EventSources` is what the API calls: the store, with the pollers kept in
step with it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lambda_emu import arns
from lambda_emu.async_invoke.sinks import Sinks
from lambda_emu.aws_clients import AwsClients, endpoint_of, require_boto3
from lambda_emu.engine.logstore import LogStore
from lambda_emu.errors import ConfigError, ThrottledError
from lambda_emu.event_sources.filters import matches_any, parse_filters, sqs_view
from lambda_emu.event_sources.journal import MappingLog
from lambda_emu.event_sources.mappings import EventSourceMapping, MappingStore
from lambda_emu.event_sources.positions import ShardPositions
from lambda_emu.event_sources.settings import DYNAMODB, KINESIS, SQS, source_kind
from lambda_emu.event_sources.sqs import deleted_after, sqs_event
from lambda_emu.event_sources.stream_pollers import SERVICE, StreamPoller

LOG = logging.getLogger(__name__)

# Invokes a function (name or name:qualifier) synchronously: (failed, payload). Raises when it could not
# run at all (throttled, not found): the batch then stays in the queue, as Lambda leaves it.
InvokeBatch = Callable[[str, bytes], "tuple[bool, bytes]"]

LONG_POLL_S = 1  # each ReceiveMessage waits at most this long, so a stop or an update is seen within it
RETRY_PAUSE_S = 1.0  # after an endpoint error, before the next receive
# "When messages are available, Lambda starts processing five batches at a time with five concurrent
# invocations of your function" (Lambda's SQS scaling); it scales up from there with the backlog, which a
# local queue seldom has. ScalingConfig.MaximumConcurrency (2-1,000) caps it; here at most MAX_SQS_POLLERS.
SQS_POLLERS = 5
MAX_SQS_POLLERS = 10
_JOIN_S = 10.0
# What each kind of source is polled through: the boto3 service, and how its endpoint is set.
_ENDPOINT_HINTS = {
    SQS: ("SQS", "--sqs-endpoint-url http://127.0.0.1:PORT (or set AWS_ENDPOINT_URL_SQS)"),
    KINESIS: ("Kinesis", "AWS_ENDPOINT_URL_KINESIS (or AWS_ENDPOINT_URL) set to http://127.0.0.1:PORT"),
    DYNAMODB: (
        "DynamoDB Streams",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS (or AWS_ENDPOINT_URL) set to http://127.0.0.1:PORT",
    ),
}


class Poller(Protocol):
    mapping: EventSourceMapping

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float) -> None: ...


class EventSources:
    """The API's view of event source mappings (create, get, update, delete, list) with the pollers
    following every change; `close()` stops every poller."""

    def __init__(
        self,
        store: MappingStore,
        invoke: InvokeBatch,
        *,
        endpoint_url: str | None,
        stream_endpoints: Mapping[str, str | None] | None = None,
    ) -> None:
        """`endpoint_url` is SQS's; `stream_endpoints` Kinesis's and DynamoDB Streams' (by boto3 service
        name), else AWS_ENDPOINT_URL_KINESIS / _DYNAMODB_STREAMS / AWS_ENDPOINT_URL of this process."""
        self.store = store
        self._invoke = invoke
        self._endpoint_url = endpoint_url
        self._clients = AwsClients(endpoint_url, read_timeout=LONG_POLL_S + 10) if endpoint_url else None
        if stream_endpoints is None:
            stream_endpoints = {service: endpoint_of(service, os.environ) for service in SERVICE.values()}
        self._stream_clients = {
            kind: AwsClients(url)
            for kind, service in SERVICE.items()
            if (url := stream_endpoints.get(service))
        }
        self._positions = ShardPositions(store.state_dir)
        # A stream's discarded batches' records go to its on-failure destination (an SQS queue or SNS topic
        # at the SQS endpoint), and are kept under the state directory as the async destinations' are.
        self._sinks = Sinks(store.state_dir, endpoint_url=endpoint_url)
        self._logs = LogStore.of_state_dir(store.state_dir)  # the pollers' own lines (event_sources.journal)
        self._lock = threading.Lock()
        self._pollers: dict[str, Poller] = {}
        self._closed = False

    def start(self, template: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> EventSources:
        """Poll every enabled mapping, the template's (logical name, request) made or replaced first."""
        self.store.keep_template(template)
        for mapping in self.store.all():
            if mapping.origin == "template" and not self._can_poll(mapping):
                what, how = _ENDPOINT_HINTS[mapping.kind]
                LOG.warning(
                    "the template's event source %s is not polled: serve has no %s endpoint (%s)",
                    mapping.event_source_arn,
                    what,
                    how,
                )
        self._sync()
        return self

    # ---- the API's operations
    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._need_endpoint(str(body.get("EventSourceArn") or ""))
        mapping = self.store.create(body)
        answer = self.store.render(mapping)
        self._sync()
        return answer

    def get(self, mapping_id: str) -> dict[str, Any]:
        return self.store.render(self.store.get(mapping_id))

    def update(self, mapping_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.store.render(self.store.update(mapping_id, body))
        self._sync()
        return answer

    def delete(self, mapping_id: str) -> dict[str, Any]:
        answer = self.store.render(self.store.delete(mapping_id))
        self._sync()
        return answer

    def list_mappings(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self.store.list_mappings(query)

    def forget_function(self, function_arn: str) -> None:
        self.store.remove_function(function_arn)
        self._sync()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pollers, self._pollers = list(self._pollers.values()), {}
        for poller in pollers:
            poller.stop()
        for poller in pollers:
            poller.join(_JOIN_S)
        self._logs.close()

    # ---- keeping the pollers in step with the store
    def _sync(self) -> None:
        """One poller per enabled mapping, each with the mapping's current configuration; then the mappings'
        Creating/Updating states settle."""
        mappings = {m.uuid: m for m in self.store.all()}
        stale: list[Poller] = []
        with self._lock:
            if self._closed:
                return
            for mapping_id, poller in list(self._pollers.items()):
                wanted = mappings.get(mapping_id)
                if wanted is None or not wanted.enabled or _changed(poller.mapping, wanted):
                    stale.append(self._pollers.pop(mapping_id))
        for poller in stale:
            poller.stop()
        for poller in stale:
            if poller.mapping.kind != SQS:  # one reader per shard: the old one is gone before a new one reads
                poller.join(_JOIN_S)
        self._positions.forget({m.uuid for m in mappings.values() if m.kind != SQS})
        with self._lock:
            if self._closed:
                return
            for mapping_id, mapping in mappings.items():
                if mapping.enabled and mapping_id not in self._pollers and self._can_poll(mapping):
                    poller = self._poller(mapping)
                    self._pollers[mapping_id] = poller
                    poller.start()
        for mapping_id in mappings:
            self.store.settle(mapping_id)

    def _can_poll(self, mapping: EventSourceMapping) -> bool:
        if mapping.kind == SQS:
            return self._clients is not None
        return mapping.kind in self._stream_clients

    def _poller(self, mapping: EventSourceMapping) -> Poller:
        if mapping.kind == SQS:
            assert self._clients is not None
            return SqsPoller(mapping, self._clients, self._invoke, MappingLog(mapping.uuid, self._logs))
        # The mapping's start is recorded before CreateEventSourceMapping answers: LATEST means the records
        # that come after the answer, however soon the shards' threads read.
        self._positions.begin(mapping.uuid)
        return StreamPoller(
            mapping,
            self._stream_clients[mapping.kind],
            self._invoke,
            self._positions,
            self._sinks.destination,
            MappingLog(mapping.uuid, self._logs),
        )

    def _need_endpoint(self, source: str) -> None:
        kind = source_kind(source)
        if kind not in _ENDPOINT_HINTS:
            return  # the store answers for a source it does not know
        what, how = _ENDPOINT_HINTS[kind]
        polled = self._clients is not None if kind == SQS else kind in self._stream_clients
        if not polled:
            raise ConfigError(
                f"An {what} event source mapping needs an {what} endpoint to poll.",
                hint=f"Start serve with {how}, pointing at moto, LocalStack, ElasticMQ or DynamoDB Local.",
            )
        require_boto3(f"Polling {what}")


def sqs_pollers(mapping: EventSourceMapping) -> int:
    """How many batches of an SQS mapping are in flight at once."""
    if mapping.maximum_concurrency is None:
        return SQS_POLLERS
    return min(mapping.maximum_concurrency, MAX_SQS_POLLERS)


def _changed(running: EventSourceMapping, wanted: EventSourceMapping) -> bool:
    keys = (
        "function_name",
        "batch_size",
        "window_s",
        "response_types",
        "maximum_concurrency",
        "event_source_arn",
        "filter_criteria",
        "bisect",
        "max_retries",
        "max_record_age_s",
        "on_failure",
    )
    return any(getattr(running, key) != getattr(wanted, key) for key in keys)


class SqsPoller:
    """Receives batches from one queue and hands each to the function, until stopped: several receivers at
    once, as Lambda's pollers are (a FIFO queue keeps each message group's order itself: SQS hands no
    message of a group while another of that group is in flight)."""

    def __init__(
        self, mapping: EventSourceMapping, clients: AwsClients, invoke: InvokeBatch, log: MappingLog
    ) -> None:
        self.mapping = mapping
        self._log = log
        self._clients = clients
        self._invoke = invoke
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"sqs-poller-{mapping.uuid[:8]}-{lane}", daemon=True)
            for lane in range(sqs_pollers(mapping))
        ]
        self._url: str | None = None

    def start(self) -> None:
        self._log.info(
            "polling %s for %s, %d batch(es) at a time",
            self.mapping.event_source_arn,
            self.mapping.function_name,
            len(self._threads),
        )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._receive()
                if batch:
                    self._deliver(batch)
            except Exception as exc:  # the endpoint's trouble: keep polling, as Lambda's poller does
                self._log.warning("%s", exc)
                self._url = None
                self._stop.wait(RETRY_PAUSE_S)

    def _client(self) -> Any:
        return self._clients.client("sqs", self.mapping.region)

    def _queue_url(self) -> str:
        if self._url is None:
            parsed = arns.parse(self.mapping.event_source_arn)
            account = parsed.account if parsed else ""
            answer = self._client().get_queue_url(
                QueueName=self.mapping.queue_name, QueueOwnerAWSAccountId=account
            )
            self._url = str(answer["QueueUrl"])
        return self._url

    def _receive(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: what one receive brings without a batching window, else what arrives
        until the batch is full or the window has passed."""
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.mapping.window_s
        while not self._stop.is_set() and len(batch) < self.mapping.batch_size:
            answer = self._client().receive_message(
                QueueUrl=self._queue_url(),
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(batch)),
                WaitTimeSeconds=LONG_POLL_S,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch.extend(answer.get("Messages") or [])
            if batch and (self.mapping.window_s == 0 or time.monotonic() >= deadline):
                break
        return batch

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        event = sqs_event(batch, self.mapping.event_source_arn, self.mapping.region)
        patterns = parse_filters(self.mapping.filter_criteria)
        if patterns:
            passed = [matches_any(patterns, sqs_view(record)) for record in event["Records"]]
            # A message that no filter matches is deleted without reaching the function, as Lambda does.
            self._delete([message for message, ok in zip(batch, passed, strict=True) if not ok])
            batch = [message for message, ok in zip(batch, passed, strict=True) if ok]
            if len(batch) < len(passed):
                self._log.info("%d message(s) matched no filter: deleted", len(passed) - len(batch))
            event = {"Records": [record for record, ok in zip(event["Records"], passed, strict=True) if ok]}
            if not batch:
                return
        try:
            failed, payload = self._invoke(self.mapping.function_name, json.dumps(event).encode())
        except ThrottledError as exc:  # the messages come back after the visibility timeout, as in Lambda
            self._log.warning(
                "throttled (%s): the batch of %d comes back after the visibility timeout",
                exc.reason,
                len(batch),
            )
            return
        except Exception as exc:  # gone, or could not run: the same
            self._log.warning(
                "invoke failed, the batch of %d comes back after the visibility timeout: %s", len(batch), exc
            )
            return
        done = deleted_after(
            batch, failed=failed, payload=payload, reports_failures=self.mapping.reports_failures
        )
        self._delete(done)
        self._log.info(
            "batch of %d, %s, %d deleted",
            len(batch),
            "function error" if failed else "ok",
            len(done),
        )

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(messages), 10):  # DeleteMessageBatch takes 10 entries at most
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages[start : start + 10])
            ]
            self._client().delete_message_batch(QueueUrl=self._queue_url(), Entries=entries)
