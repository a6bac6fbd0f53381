"""A live `lambda-emu serve` for the API tests: started as users start it, stopped with SIGTERM, and
checked for leftovers; and the container backends the backend-dependent tests run on, each in turn."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

API_SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions" / "api"
# What runs execution environments: tests of what a backend is responsible for (invoke, error shapes, the
# timeout's kill, memory and /tmp limits, environment variables, async retries) run on each.
BACKENDS = ("docker", "embedded")
SERVE_OPTIONS = ("--async-retry-delays", "0.5,0.5", "--keep-alive", "120")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's name, for `--backend`; the embedded one needs root and runc (never skipped in CI)."""
    if request.param == "embedded":
        request.getfixturevalue("embedded_host")
    return str(request.param)


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    state_dir: Path
    log_path: Path
    backend: str = "docker"

    def client(self, **config: object):  # boto3's Lambda client pointed at the server
        import boto3
        from botocore.config import Config

        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, **config),
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def start_server(
    state_dir: Path, *args: str, template: Path = API_SAMPLES / "template.yaml", backend: str = "docker"
) -> Served:
    exe = shutil.which("lambda-emu")
    assert exe, "lambda-emu is not installed (make install)"
    state_dir.mkdir(parents=True, exist_ok=True)
    discovery = state_dir / "server.json"
    discovery.unlink(missing_ok=True)
    log_path = state_dir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                exe,
                "--backend",
                backend,
                "--state-dir",
                str(state_dir),
                "serve",
                "-t",
                str(template),
                "--port",
                "0",
            ]
            + list(args),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            record = json.loads(discovery.read_text())
            if record.get("pid") == process.pid:
                return Served(process, record["url"], state_dir, log_path, backend)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"serve did not come up within 120 s:\n{log_path.read_text()}")


def containers_of(pid: int) -> list[str]:
    """Our containers owned by process `pid`."""
    from lambda_emu.cleanup import OWNER_LABEL, owner_token

    try:
        token = owner_token(pid)
    except Exception:  # the process is gone: look its containers up by pid prefix below
        token = None
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={OWNER_LABEL}", "--format", "{{.ID}} {{.Labels}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found = []
    for line in out:
        container, _, labels = line.partition(" ")
        for label in labels.split(","):
            key, _, value = label.partition("=")
            if key == OWNER_LABEL and (value == token or value.startswith(f"{pid}:")):
                found.append(container)
    return found


def bundles_of(pid: int) -> list[str]:
    """The embedded backend's environments (OCI bundles) owned by process `pid`."""
    from lambda_emu.cleanup import OWNER_LABEL
    from lambda_emu.containers.embedded import state_root

    found = []
    for state in (state_root() / "bundles").glob("*/state.json"):
        try:
            labels = json.loads(state.read_text()).get("labels") or {}
        except (OSError, ValueError):  # removed meanwhile
            continue
        if str(labels.get(OWNER_LABEL, "")).startswith(f"{pid}:"):
            found.append(state.parent.name)
    return found


def leftovers_of(pid: int, backend: str) -> list[str]:
    """What process `pid` left running on `backend`: Docker containers or embedded environments."""
    return containers_of(pid) if backend == "docker" else bundles_of(pid)


def serving(state_dir: Path, template: Path, backend: str = "docker") -> Iterator[Served]:
    """A `serve` of `template` on `backend` for a module's tests (`yield from` it in a fixture), checked when
    they are done: it exits 0 on SIGTERM and leaves nothing running behind."""
    server = start_server(state_dir, template=template, backend=backend)
    yield server
    stop_and_check(server)


def stop_and_check(server: Served) -> None:
    pid = server.process.pid
    status = server.stop()
    assert status == 0, server.log()
    assert leftovers_of(pid, server.backend) == [], "serve left containers behind"
    assert not (server.state_dir / "server.json").exists()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("serve"), *SERVE_OPTIONS)
    yield server
    stop_and_check(server)


@pytest.fixture(scope="module", params=BACKENDS)
def served_on(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`served`, on each backend in turn: the module's Docker server, and one of its own on embedded."""
    if request.param == "docker":
        yield request.getfixturevalue("served")
        return
    request.getfixturevalue("embedded_host")
    server = start_server(tmp_path_factory.mktemp("serve-embedded"), *SERVE_OPTIONS, backend="embedded")
    yield server
    stop_and_check(server)


class Reports:
    """A loopback HTTP sink the sample functions post each attempt to (from inside their containers)."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.records: list[dict] = []
        self._cond = threading.Condition()
        reports = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with reports._cond:
                    reports.records.append(json.loads(body))
                    reports._cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="reports", daemon=True)
        self._thread.start()

    def where(self, **fields: object) -> list[dict]:
        with self._cond:
            return [r for r in self.records if all(r["event"].get(k) == v for k, v in fields.items())]

    def wait_for(self, count: int, timeout: float = 60, **fields: object) -> list[dict]:
        """At least `count` records whose event has `fields`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := self.where(**fields)) < count and time.monotonic() < deadline:
                self._cond.wait(0.2)
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def reports() -> Iterator[Reports]:
    sink = Reports()
    yield sink
    sink.close()
