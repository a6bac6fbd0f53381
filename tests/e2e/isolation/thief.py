"""A function that attacks its neighbours from inside its container, as a malicious dependency would: it
finds every loopback listener in the kernel's socket table and asks each, as a runtime would, for the next
invocation; then it calls serve's Lambda API. It reports what it got."""

import os
import socket
import urllib.error
import urllib.request


def _loopback_listeners():
    ports = set()
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[1].startswith("0100007F:"):  # LISTEN on 127.0.0.1
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def _ask_for_next(port):
    """The raw answer of GET /next sent to `port` the way a runtime would (but without its secret name)."""
    request = f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(request.encode())
            return conn.recv(65536)
    except OSError:
        return b""


def handler(event, context):
    own = int(os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")[2])
    answers = {port: _ask_for_next(port) for port in sorted(_loopback_listeners() - {own})}
    stolen = [port for port, raw in answers.items() if b"lambda-runtime-aws-request-id" in raw.lower()]
    refused = [port for port, raw in answers.items() if raw.startswith(b"HTTP/1.1 403")]
    api = {}
    try:
        with urllib.request.urlopen(event["api"] + "/2015-03-31/functions/", timeout=10) as reply:
            api = {"status": reply.status, "body": reply.read().decode()}
    except urllib.error.HTTPError as exc:
        api = {"status": exc.code, "type": exc.headers.get("x-amzn-ErrorType"), "body": exc.read().decode()}
    return {"listeners": len(answers), "stolen": stolen, "refused": len(refused), "api": api}
