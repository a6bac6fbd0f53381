"""An SQS event source mapping's throughput: records per second from a queue on a local SQS (moto's server,
on loopback) through a live `lambda-emu serve`'s mapping to a no-op function, beside the floor measured in
the same run: the same SQS server drained by the same number of receivers doing only ReceiveMessage and
DeleteMessageBatch, which is all a poller asks of SQS. Rounds alternate (floor, mapping, floor, ...), each
on a fresh backlog; medians. Run by `make bench`."""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from api_bench import start_server  # bench/: run as a script, its folder is on the path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "sample_functions" / "api" / "template.yaml"
NOOP = "NoOpFunction"
RECEIVERS = 5  # lambda_emu/event_sources/pollers.py: SQS_POLLERS, the batches a mapping has in flight
REGION = "us-east-1"
LONG_POLL_S = 1  # pollers.py: LONG_POLL_S, the longest a poller's receive waits


def _client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="b", aws_secret_access_key="b"
    )


def _fill(sqs: Any, url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {"Id": str(n), "MessageBody": f'{{"n": {n}}}'} for n in range(start, min(count, start + 10))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _left(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def _drain_alone(endpoint: str, url: str, count: int) -> float:
    """Seconds for RECEIVERS threads to receive and delete `count` messages, 10 at a time."""
    done = 0
    lock = threading.Lock()

    def receive() -> None:
        nonlocal done
        sqs = _client("sqs", endpoint)
        while True:
            with lock:
                if done >= count:
                    return
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages"
            )
            if not messages:
                continue
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            with lock:
                done += len(messages)

    started = time.perf_counter()
    threads = [threading.Thread(target=receive) for _ in range(RECEIVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _drain_through_mapping(lam: Any, sqs: Any, mapping_id: str, url: str) -> float:
    """Seconds from enabling the mapping until the queue is empty (every batch handed and deleted)."""
    started = time.perf_counter()
    lam.update_event_source_mapping(UUID=mapping_id, Enabled=True)
    while _left(sqs, url):
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    lam.update_event_source_mapping(UUID=mapping_id, Enabled=False)
    time.sleep(LONG_POLL_S + 0.5)  # the stopped pollers' last long polls end before the next backlog is sent
    return elapsed


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in a process of its own (not sharing this one's interpreter lock with the floor's
    receivers), on a free loopback port, once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # its request log
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("moto's server did not start within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500, help="messages per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    moto, endpoint = _start_moto()
    state_dir = Path(tempfile.mkdtemp(prefix="lambda-emu-bench-sqs-"))
    serve, serve_url = start_server(
        state_dir, "--sqs-endpoint-url", endpoint, "--no-cpu-limit", "--no-watch", template=TEMPLATE
    )
    try:
        sqs = _client("sqs", endpoint)
        lam = _client("lambda", serve_url)
        alone_url = sqs.create_queue(QueueName="floor")["QueueUrl"]
        mapped_url = sqs.create_queue(QueueName="mapped")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=mapped_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=NOOP, BatchSize=10)
        mapping_id = mapping["UUID"]
        # Warm-up, not measured: the function's environments started, one per poller.
        lam.update_event_source_mapping(UUID=mapping_id, Enabled=False)
        _fill(sqs, mapped_url, 100)
        _drain_through_mapping(lam, sqs, mapping_id, mapped_url)
        alone: list[float] = []
        mapped: list[float] = []
        for _ in range(args.rounds):
            _fill(sqs, alone_url, args.messages)
            alone.append(args.messages / _drain_alone(endpoint, alone_url, args.messages))
            _fill(sqs, mapped_url, args.messages)
            mapped.append(args.messages / _drain_through_mapping(lam, sqs, mapping_id, mapped_url))
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(120)
        moto.terminate()
        moto.wait(30)
        shutil.rmtree(state_dir, ignore_errors=True)

    floor, through = statistics.median(alone), statistics.median(mapped)
    print(
        f"\nSQS event source mapping: {args.messages} messages a round, BatchSize 10, {RECEIVERS} pollers, "
        f"no-op python3.11 function, moto's SQS on loopback; medians of {args.rounds} rounds, in turns\n"
    )
    print("| what                                                    | records/s |  min  |  max  |")
    print("|---------------------------------------------------------|----------:|------:|------:|")
    for label, samples in (
        ("SQS alone: receive + delete, same receivers (the floor)", alone),
        ("through lambda-emu's mapping to the function", mapped),
    ):
        low, mid, high = min(samples), statistics.median(samples), max(samples)
        print(f"| {label:<55} | {mid:>9.0f} | {low:>5.0f} | {high:>5.0f} |")
    print(f"\nthe mapping runs at {through / floor:.2f}x the SQS server's own rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
