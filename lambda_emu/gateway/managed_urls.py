"""The Function URLs made through the API (CreateFunctionUrlConfig), all served on one port and told
apart by the url-id that begins the Host: http://<url-id>.lambda-url.<region>.localhost:<port>/, as Lambda
names each URL by its own host. The same gateway code serves them as serves a template's Function URLs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from lambda_emu.gateway.front import Gateway
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.gateway.routes import RouteTable
from lambda_emu.template.apis import DEFAULT_STAGE, URL, TemplateApi

LOG = logging.getLogger(__name__)

# A url-id → its URL as the gateway serves one (None: no such URL).
UrlLookup = Callable[[str], TemplateApi | None]
# What a host no URL has is answered with: a Function URL's own "not found".
_NOWHERE = RouteTable([TemplateApi("NoFunctionUrl", URL, DEFAULT_STAGE)])


def url_id_of(host: str) -> str:
    """The url-id a Host header names ("<url-id>.lambda-url.<region>.localhost:<port>"); "" for another."""
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    label, _, rest = name.lower().partition(".")
    return label if rest.startswith("lambda-url.") else ""


class UrlGateway(Gateway):
    """A Gateway whose route table is the Function URL its request's Host names, looked up per request
    (a URL created, updated or deleted through the API takes effect on the next request)."""

    def __init__(self, lookup: UrlLookup, *args: object, **kwargs: object) -> None:
        super().__init__(_NOWHERE, *args, **kwargs)  # type: ignore[arg-type]
        self._lookup = lookup

    def table_for(self, request: HttpRequest) -> RouteTable:
        url_id = url_id_of(request.header("host"))
        api = self._lookup(url_id) if url_id else None
        if api is None:
            LOG.info("no Function URL has the host %r", request.header("host"))
            return _NOWHERE
        return RouteTable([api])
