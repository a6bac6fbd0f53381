"""`lambda-emu start-api`: the template's API Gateway APIs (SAM's Api and HttpApi events) on a local HTTP
port, each request run by its function as API Gateway's Lambda proxy integration runs it."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambda_emu.cli.group import errors_to_exit_status, local_emulator, main, progress
from lambda_emu.cli.loading import template_path
from lambda_emu.cli.options import CPU_LIMIT_OPTION, aws_options, template_options
from lambda_emu.cli.terminal import TERMINAL

if TYPE_CHECKING:
    from lambda_emu.config import FunctionConfig
    from lambda_emu.gateway.front import RequestRecord
    from lambda_emu.template.apis import TemplateApi


def request_line(record: RequestRecord) -> str:
    """One line per request, as a dev server prints it: method, path, function, status, duration."""
    function = record.function or "-"
    line = f"{record.method} {record.path} -> {function} {record.status} ({record.duration_ms:.1f} ms)"
    if record.error and record.status >= 500:
        line += f": {record.error}"
    return line


def show_request(record: RequestRecord) -> None:
    TERMINAL.write(request_line(record) + "\n")


def route_lines(apis: tuple[TemplateApi, ...]) -> list[str]:
    routes = [(api, route) for api in apis for route in api.routes]
    width = max((len(route.path) for _, route in routes), default=0)
    return [
        f"  {route.method:<7} {route.path:<{width}}  -> {route.function} ({api.kind} API {api.name}, "
        f"payload {route.payload_version}"
        + (f", authorizer {route.authorizer})" if route.authorizer else ")")
        for api, route in routes
    ]


def _invoker(emulator: Any, functions: Any) -> Any:
    """What the gateway calls: the named function invoked synchronously (its answer streamed where the
    route streams)."""
    from lambda_emu.errors import FunctionNotFoundError

    def invoke(name: str, payload: bytes, answered: Any, stream: Any = None) -> Any:
        function = functions.by_name.get(name)
        if function is None:
            raise FunctionNotFoundError(f"Function not found: {name}")
        invocation = emulator.invocation(function, payload)
        if stream is not None:
            invocation = dataclasses.replace(invocation, response_stream=stream)
        return emulator.invoke(function, invocation, answered=answered)

    return invoke


def _url_fronts(
    loaded: Any, invoke: Any, emulator_config: Any, host: str, function_url_port: int
) -> list[tuple[Any, Any]]:
    """Each Function URL of the template and the front (not yet started) that serves it alone: ports from
    --function-url-port up (0: any free one)."""
    from lambda_emu.gateway.front import ApiFront, Gateway
    from lambda_emu.gateway.routes import RouteTable
    from lambda_emu.gateway.signatures import signature_refusal

    fronts = []
    for index, url in enumerate(loaded.function_urls):
        url_gateway = Gateway(
            RouteTable([url]),
            invoke,
            account_id=emulator_config.account_id,
            region=emulator_config.region,
            on_request=show_request,
            iam_refusal=signature_refusal(emulator_config.state_dir),  # AWS_IAM URLs: the signature must hold
        )
        url_port = function_url_port + index if function_url_port else 0
        fronts.append((url, ApiFront(url_gateway, host=host, port=url_port)))
    return fronts


def _reloader(
    state_dir: Path,
    path: Path,
    options: tuple[tuple[str, ...], Path | None],
    load: Any,
    gateway: Any,
    emulator: Any,
    functions: Any,
    loaded: Any,
) -> Any:
    """The template's and the code's watcher: a saved template's routes take the next request (a template
    that fails to load leaves the previous routes serving); saved code is picked up as by serve."""
    from lambda_emu.cli.watching import template_watch
    from lambda_emu.gateway.routes import RouteTable
    from lambda_emu.reload.watcher import Reloader

    def reload_all() -> list[FunctionConfig]:
        _, again = load()
        if again.api_error is not None:
            raise again.api_error
        gateway.table = RouteTable(again.apis)
        return list(again.functions.values())

    parameter_overrides, env_vars_file = options
    config = template_watch(
        path,
        state_dir=state_dir,
        parameter_overrides=parameter_overrides,
        env_vars_file=env_vars_file,
        load=reload_all,
    )
    return Reloader(emulator, functions, loaded.functions.values(), config)


def _announce(address: str, loaded: Any, urls: list[tuple[Any, str]], watch: bool) -> None:
    routes = sum(len(api.routes) for api in loaded.apis)
    progress(f"serving {routes} route(s) at {address}:")
    TERMINAL.write("".join(line + "\n" for line in route_lines(loaded.apis)))
    for url, served_at in urls:
        progress(f"Function URL of {url.routes[0].function} (AuthType {url.url_auth}): {served_at}/")
    progress(("watching for changes; " if watch else "") + "Ctrl-C to stop")


class _Functions:
    """The template's functions by name, as a reload changes them (the reloader's FunctionTable)."""

    def __init__(self, functions: dict[str, FunctionConfig]) -> None:
        self.by_name = functions

    def put(self, function: FunctionConfig) -> None:
        self.by_name[function.name] = function

    def remove(self, name: str) -> None:
        self.by_name.pop(name, None)


@main.command("start-api")
@template_options
@aws_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3000, show_default=True, type=int, help="Port to listen on (0: any free).")
@click.option(
    "--function-url-port",
    default=3100,
    show_default=True,
    type=int,
    help="The first port of the template's Function URLs (FunctionUrlConfig, AWS::Lambda::Url), one port "
    "each in template order (0: any free).",
)
@click.option(
    "--jwt-keys",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON Web Key Set file (RS256 keys by kid) that JWT authorizers check tokens with, in place "
    "of the issuer's, which API Gateway would fetch.",
)
@CPU_LIMIT_OPTION
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Hot reload: a saved handler is used by the next request (a cold start); a saved template changes "
    "the routes and functions without a restart.",
)
@click.pass_context
def start_api(
    ctx: click.Context,
    template: Path | None,
    parameter_overrides: tuple[str, ...],
    env_vars_file: Path | None,
    host: str,
    port: int,
    function_url_port: int,
    jwt_keys: Path | None,
    cpu_limit: bool,
    watch: bool,
) -> None:
    """Serve the template's REST and HTTP APIs (Events of type Api and HttpApi) on a local port.

    Each request gets the route's function with the event API Gateway sends (payload 1.0 for REST APIs,
    2.0 for HTTP APIs unless PayloadFormatVersion says 1.0), and the answer is mapped back as API Gateway
    maps it, errors included. Every API is served from the root of one origin, without the stage in the
    path. One line per request shows the method, path, function, status and duration.

    \b
    Examples:
      lambda-emu start-api -t template.yaml
      curl http://127.0.0.1:3000/hello
    """
    with errors_to_exit_status():
        from lambda_emu.errors import ConfigError
        from lambda_emu.gateway.front import ApiFront, Gateway
        from lambda_emu.gateway.routes import RouteTable
        from lambda_emu.template import load_functions

        path = template_path(template)

        def load() -> Any:
            return load_functions(
                path,
                state_dir=ctx.obj["state_dir"],
                parameter_overrides=parameter_overrides,
                env_vars_file=env_vars_file,
                cpu_limit=cpu_limit,
            )

        emulator_config, loaded = load()
        if loaded.api_error is not None:
            raise loaded.api_error
        if not loaded.apis and not loaded.function_urls:
            raise ConfigError(
                f"{path} declares no API: no event of type Api or HttpApi, no Function URL.",
                hint="Add an Events entry such as {Type: HttpApi, Properties: {Path: /hello, Method: GET}}.",
            )
        from lambda_emu.gateway.jwt import load_keys

        keys = load_keys(jwt_keys) if jwt_keys is not None else None
        functions = _Functions({f.name: f for f in loaded.functions.values()})
        emulator = local_emulator(emulator_config, served=list(functions.by_name))

        invoke = _invoker(emulator, functions)
        gateway = Gateway(
            RouteTable(loaded.apis),
            invoke,
            account_id=emulator_config.account_id,
            region=emulator_config.region,
            on_request=show_request,
            jwt_keys=keys,
        )
        reloader = None
        with contextlib.ExitStack() as fronts:
            fronts.enter_context(emulator)
            front = fronts.enter_context(ApiFront(gateway, host=host, port=port))
            urls = [
                (url, fronts.enter_context(front_of).url)
                for url, front_of in _url_fronts(loaded, invoke, emulator_config, host, function_url_port)
            ]
            if watch:
                options = (parameter_overrides, env_vars_file)
                reloader = _reloader(
                    ctx.obj["state_dir"], path, options, load, gateway, emulator, functions, loaded
                )
                reloader = reloader.start()
            try:
                _announce(front.url, loaded, urls, watch)
                try:
                    threading.Event().wait()  # until Ctrl-C or SIGTERM (raised here as KeyboardInterrupt)
                except KeyboardInterrupt:
                    progress("stopping: every container is removed")
            finally:
                if reloader is not None:
                    reloader.close()
        progress("stopped")
