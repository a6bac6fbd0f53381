"""`lambda-emu serve` assembled: the emulator, its functions, concurrency limits, the Event pipeline and the
Lambda API on loopback; an idle-environment reaper; a discovery file so terminal invokes find the server."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_emu import wire
from lambda_emu.api.discovery import remove_discovery, write_discovery
from lambda_emu.api.http import InvokeApiServer
from lambda_emu.api.permissions import signed_caller
from lambda_emu.api.service import EventSink, InvokeOutcome, LambdaService
from lambda_emu.async_invoke import QUEUE_FILE, EventDispatcher, EventQueue, Pacing, RetryDelays, Sinks
from lambda_emu.async_invoke.queue import FunctionScope
from lambda_emu.config import TIMEOUT_RANGE, EmulatorConfig, FunctionConfig
from lambda_emu.control.concurrency import DEFAULT_ACCOUNT_LIMIT, ConcurrencyLimits
from lambda_emu.control.function_urls import INVOKE_URL_ACTION, UrlConfig, cors_fields, timestamp
from lambda_emu.control.policy import allows
from lambda_emu.control.registry import FunctionRef, FunctionRegistry
from lambda_emu.control.store import FunctionStore, open_store
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError, LambdaEmuError
from lambda_emu.event_sources.mappings import MappingStore
from lambda_emu.event_sources.pollers import EventSources
from lambda_emu.facade import Emulator
from lambda_emu.gateway.front import ApiFront, Gateway, RequestRecord
from lambda_emu.gateway.front import Invoke as GatewayInvoke
from lambda_emu.gateway.managed_urls import UrlGateway
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.gateway.routes import RouteTable
from lambda_emu.gateway.signatures import signature_refusal
from lambda_emu.models import Invocation, InvocationResult, ResponseStream
from lambda_emu.template.apis import DEFAULT_ROUTE, DEFAULT_STAGE, URL, TemplateApi, TemplateRoute, cors_of
from lambda_emu.template.event_sources import TemplateMapping

if TYPE_CHECKING:
    from lambda_emu.reload.watcher import Reloader, WatchConfig

LOG = logging.getLogger(__name__)

# Lambda's documented retry delays for Event invocations: about 1 minute, then 2 (Lambda's asynchronous
# invocation).
LAMBDA_RETRY_DELAYS = (60.0, 120.0)


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 3001
    keep_alive: float = 600.0  # seconds an idle environment is kept warm; Lambda keeps them minutes too
    account_concurrency: int = DEFAULT_ACCOUNT_LIMIT
    retry_delays: Sequence[float] = LAMBDA_RETRY_DELAYS
    sqs_endpoint_url: str | None = None  # where SQS/SNS dead letters and destinations are sent
    async_workers: int = 4  # Event invocations delivered at once
    template: Path | None = None  # recorded in the discovery file: invokes of this template come here
    allow_functions_api: bool = False  # functions may call this API (refused by default: SECURITY.md)
    api_port: int | None = None  # where the template's API Gateway APIs are served too (None: they are not)
    function_url_port: int = 0  # where the Function URLs made through the API are served (0: any free port)

    def validate(self) -> ServeConfig:
        if self.keep_alive <= 0:
            raise ConfigError("--keep-alive must be more than 0 seconds.")
        if self.async_workers < 1:
            raise ConfigError("--async-workers must be 1 or more.")
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
        self,
        emulator: Emulator,
        functions: Iterable[FunctionConfig],
        config: ServeConfig = ServeConfig(),
        *,
        watch: WatchConfig | None = None,  # hot reload of the functions' code, layers and template
        mappings: Sequence[TemplateMapping] = (),  # the template's event source mappings
        # The template's functions that could not be loaded, by logical ID and FunctionName: why.
        unloaded: Mapping[str, LambdaEmuError] | None = None,
        apis: Sequence[TemplateApi] = (),  # the template's API Gateway APIs, served at config.api_port
        # The template's Function URLs (FunctionUrlConfig, AWS::Lambda::Url): served with those the API makes.
        function_urls: Sequence[TemplateApi] = (),
        on_request: Callable[[RequestRecord], None] | None = None,  # told of each API request served
    ) -> None:
        self.config = config.validate()
        self.emulator = emulator
        functions = list(functions)
        self._watch = watch
        self._mappings = mappings
        self._functions = functions
        self.reloader: Reloader | None = None
        # The control plane's state (functions made through the API, versions, aliases) outlives the server.
        self._store = store = open_store(emulator.config.state_dir)
        self.events: EventDispatcher  # made by lambda_service, through _event_pipeline
        self.service = lambda_service(
            emulator, functions, config, store=store, events=self._event_pipeline, unloaded=unloaded
        )
        self.event_sources = self.service.event_sources = event_sources(self.service, config)
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="idle-reaper", daemon=True)
        self.api: InvokeApiServer | None = None
        self._apis = apis
        self._function_urls = function_urls
        self._on_request = on_request
        self.gateway: ApiFront | None = None
        self.url_front: ApiFront | None = None  # the Function URLs made through the API

    def set_unloaded(self, unloaded: Mapping[str, LambdaEmuError]) -> None:
        """The functions a reloaded template could not load (by logical ID and FunctionName): why."""
        registry = self.service.registry
        if isinstance(registry, TemplateRegistry):
            registry.unloaded = dict(unloaded)

    def _event_pipeline(self, service: LambdaService) -> EventDispatcher:
        # The registry's names, read at every claim: a function created through the API or a template
        # reload while the server runs has its Event invocations delivered too.
        self.events = event_pipeline(
            service, self.emulator.config.state_dir, self.config, functions=service.registry.names
        )
        return self.events

    def start(self) -> LambdaServer:
        # Provisioned concurrency stored by an earlier server: its environments are initialised again.
        if self.service.provisioned.restore():
            LOG.info("provisioned concurrency: allocating the stored configs again")
        self.events.start()
        self.event_sources.start([(m.name, m.request) for m in self._mappings])
        self.api = InvokeApiServer(
            self.service,
            host=self.config.host,
            port=self.config.port,
            allow_functions=self.config.allow_functions_api,
        )
        self._reaper.start()
        if self.config.api_port is not None:
            self.gateway = api_front(self.service, self._apis, self.config, on_request=self._on_request)
        self.url_front = url_front(self.service, self.config, on_request=self._on_request)
        self.service.function_url_port = self.url_front.port
        for api in self._function_urls:
            self.service.function_urls.replace(template_url(api, self.service))
        if self._watch is not None:
            from lambda_emu.reload.watcher import Reloader

            table = _ReloadedFunctions(self.service)
            self.reloader = Reloader(self.emulator, table, self._functions, self._watch).start()
        write_discovery(self.emulator.config.state_dir, self.url, self.config.template)
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

    def close(self, grace: float = 30.0) -> None:
        self._stop.set()
        if self.reloader is not None:
            self.reloader.close()  # no reload may retire environments while they are being removed
        remove_discovery(self.emulator.config.state_dir)
        for front in (self.gateway, self.url_front):
            if front is not None:
                front.close()
        if self.api is not None:
            self.api.stop_accepting()
            if not self.api.wait_idle(grace):
                LOG.warning("in-flight invocations did not finish within %.0f s; stopping them", grace)
        # Messages being handled stay in their queue: they come back after its visibility timeout.
        self.event_sources.close()
        # Undelivered events stay in the queue on disk: the next serve of this state directory sends them.
        self.events.close(timeout=grace)
        self.emulator.close()  # removes every environment: cuts any invocation still running
        if self.api is not None:
            self.api.close()
        if self._reaper.is_alive():
            self._reaper.join(timeout=5)
        self.service.control.close()  # changes still settling write to the store: let them finish
        self._store.close()  # after the API: no operation is left to write to it

    def __enter__(self) -> LambdaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ReloadedFunctions:
    """What a template reload changes in a running server: the registry and the reserved concurrency the
    template sets, when the template changed it (as a deploy sets it); the functions whose Event
    invocations this server delivers follow the registry (the event queue reads its names)."""

    def __init__(self, service: LambdaService) -> None:
        self._service = service

    def put(self, function: FunctionConfig) -> None:
        registry = self._service.registry
        try:
            before = registry.get(function.name).reserved_concurrency
        except FunctionNotFoundError:  # new in this template
            before = None
        registry.put(function)
        if function.auto_publish_alias:  # the alias may have moved: its provisioned environments follow
            self._service.provisioned.alias_moved(function.name, function.auto_publish_alias)
        if function.reserved_concurrency == before:
            # The template did not change it: a reservation made through the API stands, as a deploy that
            # leaves the property alone leaves the function's concurrency alone.
            return
        try:
            if function.reserved_concurrency is None:
                self._service.limits.unreserve(function.name)
            else:
                self._service.limits.reserve(function.name, function.reserved_concurrency)
        except (ConfigError, ApiError) as exc:
            LOG.warning("%s: %s", function.name, exc.message)

    def remove(self, name: str) -> None:
        self._service.registry.remove(name)
        self._service.forget(name)


class TemplateRegistry(FunctionRegistry):
    """The registry `serve` invokes through. Invoke also finds a template's function by its logical ID, as
    SAM CLI's start-lambda does (the name serve's banner lists); a real function name wins. A function the
    template could not load answers Lambda's not-found error with why. The management API reads the
    registry by name only (parse, record), so it keeps Lambda's names."""

    def __init__(
        self,
        config: EmulatorConfig,
        functions: Iterable[FunctionConfig] = (),
        store: FunctionStore | None = None,
        *,
        unloaded: Mapping[str, LambdaEmuError] | None = None,
    ) -> None:
        super().__init__(config, functions, store)
        self.unloaded: Mapping[str, LambdaEmuError] = dict(unloaded or {})  # replaced whole on a reload
        self._emulator_config = config

    def resolve(self, function_name: str, qualifier: str | None = None) -> FunctionRef:
        if "/" in function_name:
            # A nested application's function by its logical path (`Child/Function`, as SAM CLI names it);
            # no name, ARN or qualifier holds a slash.
            path, colon, suffix = function_name.partition(":")
            name = self.named_by_logical_id(path)
            if name is not None:
                return super().resolve(name + colon + suffix, qualifier)
            if path in self.unloaded:
                raise self._unloaded(path, qualifier)
        try:
            return super().resolve(function_name, qualifier)
        except FunctionNotFoundError:
            name, parsed_qualifier = self.parse(function_name, qualifier)
            if self.store.latest(name) is not None:
                raise  # the function is there, its qualifier is not
            by_logical_id = self.named_by_logical_id(name)
            if by_logical_id is not None:
                return super().resolve(by_logical_id, parsed_qualifier)
            if name not in self.unloaded:
                raise
            raise self._unloaded(name, parsed_qualifier) from None

    def spelled(self, function_name: str) -> str:
        """A nested application's function by its logical path stands for its FunctionName, which the API's
        model checks (a slash is in no FunctionName)."""
        if "/" in function_name:
            path, colon, suffix = function_name.partition(":")
            name = self.named_by_logical_id(path)
            if name is not None:
                return name + colon + suffix
        return function_name

    def _unloaded(self, name: str, qualifier: str | None) -> FunctionNotFoundError:
        problem = self.unloaded[name]
        hint = f" Hint: {problem.hint}" if problem.hint else ""
        arn = self._emulator_config.function_arn(name, qualifier)
        return FunctionNotFoundError(
            f"Function not found: {arn}. lambda-emu did not load it: {problem.message}{hint}",
            hint=problem.hint,
        )

    def named_by_logical_id(self, logical_id: str) -> str | None:
        """The name of the template function with this logical ID, if one is served."""
        for name in self.names():
            record = self.store.latest(name)
            if record is not None and record.config.logical_id == logical_id:
                return name
        return None


def lambda_service(
    emulator: Emulator,
    functions: Iterable[FunctionConfig],
    config: ServeConfig,
    store: FunctionStore | None = None,
    events: Callable[[LambdaService], EventSink] | None = None,
    unloaded: Mapping[str, LambdaEmuError] | None = None,
) -> LambdaService:
    """The Lambda API's operations over `functions` (and `store`'s, when given), reserved concurrency carved
    out of the account's; `events` makes its Event pipeline, before functions gone from the template are
    forgotten (their queued events go too)."""
    functions = list(functions)
    gone: list[str] = []
    if store is not None:
        # Before any reservation is made: a function an earlier template had must not hold one still.
        gone = store.keep_template_functions(function.name for function in functions)
    registry = TemplateRegistry(emulator.config, functions, store, unloaded=unloaded)
    limits = ConcurrencyLimits(config.account_concurrency)
    service = LambdaService(emulator, registry, limits)
    if events is not None:
        service.events = events(service)
    for name in gone:
        service.forget(name)  # its resource policies and queued events, kept in the state directory, go too
    for name in registry.names():
        reserved = registry.get(name).reserved_concurrency
        if reserved is not None:
            limits.reserve(name, reserved)
    return service


def event_pipeline(
    service: LambdaService, state_dir: Path, config: ServeConfig, functions: FunctionScope | None = None
) -> EventDispatcher:
    """The durable Event pipeline in front of the service's synchronous invoke: accepted events wait in
    SQLite under the state directory, attempts go through the same concurrency limits."""
    emulator = service.emulator.config
    return EventDispatcher(
        EventQueue(state_dir / QUEUE_FILE, functions=functions),
        service.deliver_event,
        service.async_config,
        Sinks(
            state_dir,
            endpoint_url=config.sqs_endpoint_url,
            region=emulator.region,
            credentials=emulator.credentials,
        ),
        pacing=Pacing(workers=config.async_workers, delays=RetryDelays(tuple(config.retry_delays))),
        reserved_concurrency=service.limits.reserved,
        function_arn=emulator.function_arn,
    )


def deliver_event_here(
    emulator: Emulator, function: FunctionConfig, invocation: Invocation, config: ServeConfig
) -> None:
    """An Event invocation from the terminal with no server running: queued durably like the server's,
    then delivered in this process with Lambda's retries; returns once it is delivered or discarded."""
    service = lambda_service(emulator, [function], config)
    events = event_pipeline(service, emulator.config.state_dir, config, functions=[function.name])
    events.start()
    try:
        events.accept(function.name, None, invocation.payload, invocation.request_id)
        events.wait_idle(timeout=float("inf"))
    finally:
        events.close(timeout=30)


def api_front(
    service: LambdaService,
    apis: Sequence[TemplateApi],
    config: ServeConfig,
    *,
    on_request: Callable[[RequestRecord], None] | None = None,
) -> ApiFront:
    """The template's API Gateway APIs on `config.api_port`, their functions invoked through the service
    (so reserved and account concurrency apply to them as to any Invoke)."""
    emulator = service.emulator.config
    gateway = Gateway(
        RouteTable(apis),
        _gateway_invoke(service),
        account_id=emulator.account_id,
        region=emulator.region,
        on_request=on_request,
    )
    return ApiFront(gateway, host=config.host, port=config.api_port or 0)


def url_front(
    service: LambdaService, config: ServeConfig, *, on_request: Callable[[RequestRecord], None] | None = None
) -> ApiFront:
    """The Function URLs made through the API (CreateFunctionUrlConfig), on `config.function_url_port`,
    each told by the url-id its Host begins with; invoked through the service, as any Invoke."""
    emulator = service.emulator.config

    def lookup(url_id: str) -> TemplateApi | None:
        found = service.function_urls.by_url_id(url_id)
        if found is None:
            return None
        target = found.function if found.qualifier == wire.LATEST else f"{found.function}:{found.qualifier}"
        # A Function URL waits as long as its function may run: the function's own timeout comes first.
        route = TemplateRoute(
            "ANY", DEFAULT_ROUTE, target, "2.0", (TIMEOUT_RANGE[1] + 1) * 1000, "FunctionUrl"
        )
        cors = (
            cors_of(found.cors, lambda key: ConfigError(f"Cors.{key} must be a list")) if found.cors else None
        )
        return TemplateApi(
            found.url_id,
            URL,
            DEFAULT_STAGE,
            (route,),
            cors=cors,
            url_auth=found.auth_type,
            invoke_mode=found.invoke_mode,
        )

    bad_signature = signature_refusal(emulator.state_dir)

    def iam_refusal(request: HttpRequest, api: TemplateApi) -> str:
        # As a signed request to Lambda's API is judged: the signature checked when principals.json holds
        # the key's secret, then the key's principal against the function's resource-based policy; a key
        # mapped to no principal is let through, as DryRun lets it.
        why = bad_signature(request, api)
        if why:
            return why
        caller = signed_caller(service, {"authorization": request.header("authorization")})
        found = service.function_urls.by_url_id(api.name)
        if found is None:
            return "AuthType AWS_IAM: the Function URL is gone"
        if caller is None:
            return ""
        qualifier = None if found.qualifier == wire.LATEST else found.qualifier
        allowed = allows(
            service.policies.statements(found.function, qualifier),
            caller=caller,
            action=INVOKE_URL_ACTION,
            resource=emulator.function_arn(found.function, qualifier),
            context={"lambda:FunctionUrlAuthType": "AWS_IAM"},
        )
        denied = "AuthType AWS_IAM: the function's policy does not allow the signer lambda:InvokeFunctionUrl"
        return "" if allowed else denied

    gateway = UrlGateway(
        lookup,
        _gateway_invoke(service),
        account_id=emulator.account_id,
        region=emulator.region,
        on_request=on_request,
        iam_refusal=iam_refusal,
    )
    return ApiFront(gateway, host=config.host, port=config.function_url_port)


def template_url(api: TemplateApi, service: LambdaService) -> UrlConfig:
    """A template's Function URL as the API keeps one: its url-id the same at every start (derived from
    the account, region and function), so its URL stays while the port does; created when first served."""
    emulator = service.emulator.config
    function = api.routes[0].function
    url_id = hashlib.sha256(f"{emulator.account_id}:{emulator.region}:{function}".encode()).hexdigest()[:32]
    known = service.function_urls.get(function, None)
    now = timestamp()
    cors = api.cors
    return UrlConfig(
        function=function,
        qualifier=wire.LATEST,
        url_id=url_id,
        auth_type=api.url_auth,
        invoke_mode=api.invoke_mode,
        cors=None if cors is None else cors_fields(cors),
        created=known.created if known is not None and known.url_id == url_id else now,
        modified=now,
    )


def _gateway_invoke(service: LambdaService) -> GatewayInvoke:
    """The gateway's invoke through the service; a call Lambda refuses (a throttle, say) raises."""

    def invoke(
        name: str,
        payload: bytes,
        answered: Callable[[InvocationResult], None],
        stream: ResponseStream | None = None,
    ) -> InvocationResult:
        def respond(outcome: InvokeOutcome) -> None:
            if outcome.result is not None:
                answered(outcome.result)

        outcome = service.invoke(
            name, payload, respond=respond, stream=None if stream is None else lambda _id, _version: stream
        )
        if outcome.result is None:  # Lambda refused the call (a throttle, say): API Gateway's 500
            raise LambdaEmuError(
                f"Lambda answered {outcome.status}: {outcome.payload[:200].decode(errors='replace')}"
            )
        return outcome.result

    return invoke


def event_sources(service: LambdaService, config: ServeConfig) -> EventSources:
    """The event source mappings of the state directory, polling the SQS endpoint of `config`."""
    emulator = service.emulator.config

    def function_arn(function_name: str) -> str:
        name, qualifier = service.registry.parse(function_name)
        service.registry.record(name, qualifier)  # Lambda's not-found answer for a function that is not there
        return emulator.function_arn(name, qualifier)

    def invoke(function_name: str, payload: bytes) -> tuple[bool, bytes]:
        outcome = service.invoke(function_name, payload)
        failed = outcome.result.failed if outcome.result is not None else outcome.status >= 300
        return failed, outcome.payload

    store = MappingStore(
        emulator.state_dir, function_arn=function_arn, region=emulator.region, account_id=emulator.account_id
    )
    return EventSources(store, invoke, endpoint_url=config.sqs_endpoint_url)
