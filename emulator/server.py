"""`lambda-emu serve` assembled: the emulator, its functions, concurrency limits, the Event pipeline and the
Lambda API on loopback; an idle-environment reaper; a discovery file so terminal invokes find the server."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from emulator.api.http import InvokeApiServer
from emulator.api.service import LambdaService
from emulator.concurrency import DEFAULT_ACCOUNT_LIMIT, ConcurrencyLimits
from emulator.config import FunctionConfig
from emulator.errors import ConfigError
from emulator.facade import Emulator
from emulator.registry import FunctionRegistry

LOG = logging.getLogger(__name__)

DISCOVERY_FILE = "server.json"
# Lambda's documented retry delays for Event invocations: about 1 minute, then 2 (contract §7).
LAMBDA_RETRY_DELAYS = (60.0, 120.0)


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 3001
    keep_alive: float = 600.0  # seconds an idle environment is kept warm; Lambda keeps them minutes too
    account_concurrency: int = DEFAULT_ACCOUNT_LIMIT
    retry_delays: Sequence[float] = LAMBDA_RETRY_DELAYS
    sqs_endpoint_url: str | None = None  # where SQS/SNS dead letters and destinations are sent
    template: Path | None = None  # recorded in the discovery file: invokes of this template come here

    def validate(self) -> ServeConfig:
        if self.keep_alive <= 0:
            raise ConfigError("--keep-alive must be more than 0 seconds.")
        if self.account_concurrency < 1:
            raise ConfigError("--account-concurrency must be 1 or more.")
        if len(self.retry_delays) != 2 or any(delay < 0 for delay in self.retry_delays):
            raise ConfigError("--async-retry-delays takes two numbers of seconds, e.g. 1,1.")
        return self


class LambdaServer:
    """Owns everything `serve` starts; `close()` (or leaving the `with`) stops it all, in order: no new
    requests, in-flight invokes finish (or are cut at `grace`), the Event pipeline stops (undelivered events
    stay queued on disk), then every environment is removed."""

    def __init__(
        self, emulator: Emulator, functions: Iterable[FunctionConfig], config: ServeConfig = ServeConfig()
    ) -> None:
        self.config = config.validate()
        self.emulator = emulator
        self.registry = FunctionRegistry(emulator.config, functions)
        self.limits = ConcurrencyLimits(config.account_concurrency)
        for name in self.registry.names():
            reserved = self.registry.get(name).reserved_concurrency
            if reserved is not None:
                self.limits.reserve(name, reserved)
        self.service = LambdaService(emulator, self.registry, self.limits)
        self.events = _event_pipeline(self.service, emulator.config.state_dir, config)
        self.service.events = self.events
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="idle-reaper", daemon=True)
        self.api: InvokeApiServer | None = None

    def start(self) -> LambdaServer:
        if self.events is not None:
            self.events.start()
        self.api = InvokeApiServer(self.service, host=self.config.host, port=self.config.port)
        self._reaper.start()
        self._write_discovery()
        LOG.info("Lambda API at %s", self.api.url)
        return self

    @property
    def url(self) -> str:
        assert self.api is not None, "start() first"
        return self.api.url

    def _reap(self) -> None:
        # A check every quarter keep-alive stops an idle environment within 1.25 keep-alives of its last use.
        interval = max(0.05, self.config.keep_alive / 4)
        while not self._stop.wait(interval):
            stopped = self.emulator.stop_idle(self.config.keep_alive)
            if stopped:
                LOG.info("stopped %d idle environment(s)", stopped)

    def _discovery_path(self) -> Path:
        return self.emulator.config.state_dir / DISCOVERY_FILE

    def _write_discovery(self) -> None:
        path = self._discovery_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "pid": os.getpid(),
            "url": self.url,
            "template": str(self.config.template.resolve()) if self.config.template else None,
        }
        staging = path.with_suffix(".tmp")
        staging.write_text(json.dumps(record))
        os.replace(staging, path)

    def _remove_discovery(self) -> None:
        path = self._discovery_path()
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    def close(self, grace: float = 30.0) -> None:
        self._stop.set()
        self._remove_discovery()
        if self.api is not None:
            self.api.stop_accepting()
            if not self.api.wait_idle(grace):
                LOG.warning("in-flight invocations did not finish within %.0f s; stopping them", grace)
        if self.events is not None:
            self.events.stop(timeout=grace)
        self.emulator.close()  # removes every environment: cuts any invocation still running
        if self.api is not None:
            self.api.close()
        if self._reaper.is_alive():
            self._reaper.join(timeout=5)

    def __enter__(self) -> LambdaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event_pipeline(service: LambdaService, state_dir: Path, config: ServeConfig):  # type: ignore[no-untyped-def]
    """The durable Event pipeline, or None while it is not available."""
    return None


def find_server(state_dir: Path, template: Path | None) -> str | None:
    """The URL of a running `serve` of `template` that keeps its state in `state_dir`, else None."""
    try:
        record = json.loads((state_dir / DISCOVERY_FILE).read_text())
    except (OSError, ValueError):
        return None
    wanted = str(template.resolve()) if template else None
    if not isinstance(record, dict) or record.get("template") != wanted:
        return None
    pid = record.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None
    url = record.get("url")
    return url if isinstance(url, str) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
