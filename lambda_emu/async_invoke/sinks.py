"""Where dead letters and destination records go: a local JSON-lines store under the state dir, always;
SQS, SNS and EventBridge when an AWS endpoint is configured (aws_clients); local functions as
new Event invocations. A failed delivery is logged and dropped, as Lambda drops it."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu import arns, wire
from lambda_emu.async_invoke.records import timestamp
from lambda_emu.aws_clients import AwsClients, require_boto3
from lambda_emu.errors import ConfigError
from lambda_emu.statedir import open_private

LOG = logging.getLogger(__name__)

DEAD_LETTERS_DIR = "dead-letters"
DESTINATIONS_DIR = "destinations"
EVENTBRIDGE_SUCCESS = "Lambda Function Invocation Result - Success"
EVENTBRIDGE_FAILURE = "Lambda Function Invocation Result - Failure"

_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Accepts an Event invocation of a local function: (name, qualifier, payload, request id), the
# dispatcher's accept.
AcceptEvent = Callable[[str, str | None, bytes, str], None]


@dataclass(frozen=True)
class Target:
    """A parsed destination ARN."""

    arn: str
    service: str  # sqs | sns | lambda | events | s3 | ...
    region: str
    account: str
    name: str  # queue name, topic name, function name (without its qualifier), ...
    qualifier: str | None = None  # a function's alias or version, when the ARN names one

    @classmethod
    def parse(cls, arn: str) -> Target:
        parsed = arns.parse(arn)
        if parsed is None:
            raise ConfigError(f"{arn!r} is not an ARN.")
        service, rest = parsed.service, parsed.resource
        name, qualifier = rest, None
        if service == "lambda":
            parts = rest.split(":")
            if parts[0] != "function" or len(parts) < 2:
                raise ConfigError(f"{arn!r} is not the ARN of a Lambda function.")
            name = parts[1]
            qualifier = parts[2] if len(parts) > 2 and parts[2] else None
        return cls(arn, service, parsed.region, parsed.account, name, qualifier)


class Sinks:
    """Delivers what the dispatcher hands it. `accept` delivers Lambda destinations; `endpoint_url` (such
    as a moto or LocalStack server) turns on delivery to SQS and SNS; `credentials` are the standard
    AWS_* variables (else boto3's own chain, else dummy ones, which local endpoints accept)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        endpoint_url: str | None = None,
        region: str = wire.DEFAULT_REGION,
        credentials: Mapping[str, str] | None = None,
        accept: AcceptEvent | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = dict(credentials or {})
        self.accept = accept
        self._clock = clock
        self._file_lock = threading.Lock()
        self._aws = AwsClients(endpoint_url, self.credentials)
        if endpoint_url:
            require_boto3("Delivering dead letters and destination records to an AWS endpoint")

    # ---- what the dispatcher calls
    def dead_letter(
        self, function_name: str, target_arn: str, body: bytes, attributes: Mapping[str, Mapping[str, str]]
    ) -> None:
        """Send a discarded event (its body unchanged) to the function's DLQ."""
        text = body.decode("utf-8", "replace")
        delivered, problem = None, None
        try:
            target = Target.parse(target_arn)
            if target.service not in ("sqs", "sns"):
                raise ConfigError(f"A dead-letter queue must be an SQS queue or SNS topic; got {target_arn}.")
            if self.endpoint_url:
                self._send(target, text, attributes)
                delivered = target.service
        except Exception as exc:  # any failure: log and drop, as Lambda does
            problem = _describe(exc)
            LOG.warning("dead letter of %s to %s not delivered: %s", function_name, target_arn, problem)
        self._append(
            DEAD_LETTERS_DIR,
            function_name,
            {
                "function": function_name,
                "target": target_arn,
                "timestamp": timestamp(self._clock()),
                "requestId": attributes.get("RequestID", {}).get("StringValue"),
                "body": text,
                "messageAttributes": {key: dict(value) for key, value in attributes.items()},
                "deliveredTo": delivered,
                "deliveryError": problem,
            },
        )

    def destination(self, function_name: str, target_arn: str, record: Mapping[str, Any]) -> None:
        """Send an invocation record to an on-success or on-failure destination."""
        text = json.dumps(record)
        delivered, problem = None, None
        try:
            target = Target.parse(target_arn)
            if target.service == "lambda":
                if self.accept is None:
                    raise ConfigError("no local function can be invoked from here")
                self.accept(target.name, target.qualifier, text.encode(), str(uuid.uuid4()))
                delivered = "lambda"
            elif target.service in ("sqs", "sns") and self.endpoint_url:
                self._send(target, text, {})
                delivered = target.service
            elif target.service == "events" and self.endpoint_url:
                self._put_event(target, record)
                delivered = target.service
            elif target.service not in ("sqs", "sns", "events"):
                # S3 (on-failure) destinations are kept locally only.
                LOG.info("destination %s of %s is kept locally only", target_arn, function_name)
        except Exception as exc:
            problem = _describe(exc)
            LOG.warning("record of %s to %s not delivered: %s", function_name, target_arn, problem)
        self._append(
            DESTINATIONS_DIR,
            function_name,
            {
                "function": function_name,
                "target": target_arn,
                "record": dict(record),
                "deliveredTo": delivered,
                "deliveryError": problem,
            },
        )

    # ---- AWS delivery
    def _send(self, target: Target, message: str, attributes: Mapping[str, Mapping[str, str]]) -> None:
        client = self._client(target.service, target.region or self.region)
        attrs = {key: dict(value) for key, value in attributes.items()}
        if target.service == "sqs":
            url = client.get_queue_url(QueueName=target.name)["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody=message, MessageAttributes=attrs)
        else:
            client.publish(TopicArn=target.arn, Message=message, MessageAttributes=attrs)

    def _put_event(self, target: Target, record: Mapping[str, Any]) -> None:
        # The record is the event's detail; source "lambda", and the function and destination as resources.
        success = record.get("requestContext", {}).get("condition") == "Success"
        entry = {
            "Source": "lambda",
            "DetailType": EVENTBRIDGE_SUCCESS if success else EVENTBRIDGE_FAILURE,
            "Detail": json.dumps(record),
            "EventBusName": target.arn,
            "Resources": [str(record.get("requestContext", {}).get("functionArn", "")), target.arn],
        }
        answer = self._client("events", target.region or self.region).put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            raise ConfigError(f"EventBridge refused the record: {answer.get('Entries')}")

    def _client(self, service: str, region: str) -> Any:
        return self._aws.client(service, region)

    # ---- local store
    def _append(self, folder: str, function_name: str, entry: Mapping[str, Any]) -> None:
        try:
            path = _store_file(self.state_dir, folder, function_name)
            with self._file_lock:
                with os.fdopen(open_private(path), "a", encoding="utf-8") as out:
                    out.write(json.dumps(entry) + "\n")
        except (OSError, ConfigError) as exc:
            LOG.warning("could not keep a record of %s under %s: %s", function_name, self.state_dir, exc)


def read_dead_letters(state_dir: Path, function: str | None = None) -> list[dict[str, Any]]:
    """Dead letters kept under `state_dir`, oldest first within a function, functions by name."""
    return _read(Path(state_dir), DEAD_LETTERS_DIR, function)


def read_destination_records(state_dir: Path, function: str | None = None) -> list[dict[str, Any]]:
    """Destination records kept under `state_dir` (with where each was delivered)."""
    return _read(Path(state_dir), DESTINATIONS_DIR, function)


def _read(state_dir: Path, folder: str, function: str | None) -> list[dict[str, Any]]:
    if function is not None:
        paths = [_store_file(state_dir, folder, function)]
    else:
        paths = sorted((state_dir / folder).glob("*.jsonl"))
    entries: list[dict[str, Any]] = []
    for path in paths:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:  # a line cut short by a crash mid-write
                LOG.warning("skipping an unreadable line of %s", path)
    return entries


def _store_file(state_dir: Path, folder: str, function_name: str) -> Path:
    if not _FILE_NAME.fullmatch(function_name):
        raise ConfigError(f"{function_name!r} is not a function name.")
    return state_dir / folder / f"{function_name}.jsonl"


def _describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"
