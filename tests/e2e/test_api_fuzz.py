"""Property-based fuzzing of every route of serve's Lambda API (hypothesis): whatever the method, path,
query, headers and body, the answer is never a 5xx, and every error is in Lambda's shape (JSON with
x-amzn-ErrorType). Raw bytes on a socket (broken framing, junk request lines) get a 4xx or nothing, never
a 5xx. Bounded: a few hundred requests to 127.0.0.1. Prints what it sent and saw."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import string
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import psutil
import pytest
from conftest import Served, start_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_emu.api.http import _ROUTES

SEEN: Counter[str] = Counter()
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))  # more for a deeper local run

# Each route's pattern as a template: the named groups become {group}.
TEMPLATES = sorted(
    {
        (verb, re.sub(r"\\(.)", r"\1", re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", pattern.pattern))[1:-1])
        for verb, pattern, _ in _ROUTES
    }
)
# Real names now and then (the sample template's NoOpFunction answers at once), mostly junk.
SEGMENTS = st.one_of(
    st.sampled_from(
        ["NoOpFunction", "nope", "a" * 300, "..", "fn:1", "$LATEST", "%00", "%ZZ", "NoOpFunction:live"]
    ),
    st.sampled_from(
        ["arn:aws:lambda:us-east-1:123456789012:function:NoOpFunction", "arn:aws:lambda:eu-west-9:1:x"]
    ),
    st.text(string.ascii_letters + string.digits + "-_.:$%@!*'()", min_size=1, max_size=80),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=20,
)
CODE = st.one_of(
    st.fixed_dictionaries({"ZipFile": st.binary(max_size=100).map(lambda b: base64.b64encode(b).decode())}),
    st.fixed_dictionaries(
        {
            "S3Bucket": st.just("lambda-emu-local"),
            "S3Key": st.sampled_from(["/dev/zero", "/proc/self", "/etc", "/", "relative", "/nonexistent"]),
        }
    ),
    st.fixed_dictionaries({"S3Bucket": st.text(max_size=10), "S3Key": st.text(max_size=10)}),
    JSON,
)
FUNCTION_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "FunctionName": SEGMENTS,
        "Runtime": st.sampled_from(["python3.11", "nodejs20.x", "python2.7", "cobol", ""]) | JSON,
        "Handler": st.text(max_size=30) | JSON,
        "Role": st.just("arn:aws:iam::123456789012:role/r") | JSON,
        "Code": CODE,
        "MemorySize": st.integers(-10, 20000) | JSON,
        "Timeout": st.integers(-10, 2000) | JSON,
        "Environment": st.fixed_dictionaries({"Variables": st.dictionaries(st.text(max_size=10), JSON)})
        | JSON,
        "Layers": st.lists(st.text(max_size=60), max_size=3) | JSON,
        "Name": SEGMENTS,
        "FunctionVersion": st.sampled_from(["$LATEST", "1", "x"]) | JSON,
        "ReservedConcurrentExecutions": st.integers(-5, 5000) | JSON,
        "MaximumRetryAttempts": st.integers(-5, 5) | JSON,
        "EventSourceArn": st.text(max_size=60),
        "StatementId": st.text(max_size=20),
        "Action": st.text(max_size=20),
        "Principal": st.text(max_size=20),
    },
)
BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode()),
    FUNCTION_FIELDS.map(lambda value: json.dumps(value).encode()),
    st.integers(1_000, 200_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1_000, 200_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain", "application/x-amz-json-1.1", "\x7f"]
        ),
        "X-Amz-Invocation-Type": st.sampled_from(["Event", "RequestResponse", "DryRun", "bogus", ""]),
        "X-Amz-Log-Type": st.sampled_from(["Tail", "None", "junk"]),
        "X-Amz-Client-Context": st.one_of(
            st.text(string.printable.strip(), max_size=40),
            JSON.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
        ),
        "Authorization": st.text(string.ascii_letters + " =,/", max_size=60),
    },
)
QUERY = st.dictionaries(
    st.sampled_from(["Qualifier", "Marker", "MaxItems", "FunctionVersion", "MasterRegion", "EventSourceArn"]),
    st.text(max_size=30),
    max_size=3,
)


def _usage(pid: int) -> tuple[int, int, int]:
    """Threads, open descriptors and resident MB of serve."""
    process = psutil.Process(pid)
    return process.num_threads(), process.num_fds(), process.memory_info().rss >> 20


def _settled_usage(pid: int, baseline: tuple[int, int, int], timeout: float = 20) -> tuple[int, int, int]:
    """serve's usage once its connection threads have ended (each ends as its client closes)."""
    deadline = time.monotonic() + timeout
    usage = _usage(pid)
    while time.monotonic() < deadline and (usage[0] > baseline[0] + 2 or usage[1] > baseline[1] + 4):
        time.sleep(0.2)
        usage = _usage(pid)
    return usage


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("fuzz"), "--no-watch", "--async-retry-delays", "0.1,0.1")
    server.client().invoke(FunctionName="NoOpFunction")  # warm: the baseline has its environment already
    baseline = _usage(server.process.pid)
    yield server
    after = _settled_usage(server.process.pid, baseline)
    print(f"\nfuzz: {sum(SEEN.values())} requests and raw exchanges; by answer: {dict(sorted(SEEN.items()))}")
    print(f"serve before and after (threads, fds, RSS MB): {baseline} -> {after}")
    assert server.stop() == 0, server.log()
    assert "Traceback" not in server.log(), server.log()[-3000:]
    # Environments that fuzzed functions started hold a few threads and sockets each, and stay warm.
    assert after[0] <= baseline[0] + 12 and after[1] <= baseline[1] + 24, (baseline, after)
    assert after[2] <= baseline[2] + 64, (baseline, after)


def _connection(server: Served) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=60)


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(TEMPLATES),
    method=st.one_of(
        st.none(), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
    ),
    segments=st.lists(SEGMENTS, min_size=3, max_size=3),
    query=QUERY,
    headers=HEADERS,
    body=BODIES,
)
def test_no_request_to_any_route_gets_a_5xx_or_leaves_lambdas_error_shape(
    fuzzed: Served,
    route: tuple[str, str],
    method: str | None,
    segments: list[str],
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> None:
    verb, template = route
    names = iter(segments)
    path = re.sub(r"\{\w+\}", lambda _: quote(next(names), safe=":$%@!*'()"), template)
    if query:
        path += "?" + urlencode(query)
    conn = _connection(fuzzed)
    try:
        conn.request(method or verb, path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
    finally:
        conn.close()
    SEEN[str(reply.status)] += 1
    assert reply.status < 500, (method or verb, path, body[:200], reply.status, data[:500])
    if reply.status >= 400:
        assert reply.getheader("x-amzn-ErrorType"), (path, reply.status, data[:300])
        assert isinstance(json.loads(data), dict), data[:300]


RAW_LINES = st.one_of(
    st.sampled_from(
        [
            b"POST /2015-03-31/functions/NoOpFunction/invocations HTTP/1.1",
            b"GET /2015-03-31/functions/ HTTP/1.1",
            b"GET / HTTP/1.0",
            b"GET /2015-03-31/functions/ HTTP/9.9",
            b"\x00\xff\xfe",
            b"GET",
        ]
    ),
    st.binary(max_size=100).filter(lambda b: b"\n" not in b),
)
RAW_HEADERS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"Content-Length: 5",
                b"Content-Length: -1",
                b"Content-Length: 99999999999999999999",
                b"Content-Length: abc",
                b"Content-Length: 3, 4",
                b"Transfer-Encoding: chunked",
                b"Transfer-Encoding: gzip, chunked",
                b"Expect: 100-continue",
                b"Connection: close",
                b": no name",
                b"no colon",
            ]
        ),
        st.binary(max_size=60).filter(lambda b: b"\n" not in b),
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(line=RAW_LINES, headers=RAW_HEADERS, rest=st.binary(max_size=200))
def test_raw_bytes_on_the_socket_never_get_a_5xx(
    fuzzed: Served, line: bytes, headers: list[bytes], rest: bytes
) -> None:
    host, port = fuzzed.url.removeprefix("http://").split(":")
    raw = line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + rest
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)  # the end of the request: a server waiting for more sees it
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)
    SEEN["raw " + (statuses[0].decode() if statuses else "closed")] += 1
    assert all(int(status) < 500 for status in statuses), (raw[:300], answer[:500])


def test_a_burst_of_connections_is_taken_and_each_is_answered(fuzzed: Served) -> None:
    """A load test opens hundreds of connections at once: the listen backlog takes them all, each gets its
    answer, and their threads end with them."""
    host, port = fuzzed.url.removeprefix("http://").split(":")
    baseline = _usage(fuzzed.process.pid)
    started = time.monotonic()
    conns = [socket.create_connection((host, int(port)), timeout=30) for _ in range(400)]
    opened = time.monotonic() - started
    try:
        for conn in conns:
            conn.sendall(b"GET /2015-03-31/functions/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        statuses = [conn.recv(65536).split(b" ", 2)[1] for conn in conns]
    finally:
        for conn in conns:
            conn.close()
    print(f"\n400 connections opened in {opened * 1000:.0f} ms ({400 / opened:.0f}/s)")
    assert statuses == [b"404"] * 400
    after = _settled_usage(fuzzed.process.pid, baseline)
    assert after[0] <= baseline[0] + 2, (baseline, after)
