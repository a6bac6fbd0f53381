"""Which route of the template's APIs serves a request, chosen as API Gateway chooses: literal path segments
beat {variables}, which beat a greedy {proxy+}; a route's own method beats ANY; an HTTP API's $default route
takes what no route matches. Pure: no sockets, no functions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from lambda_emu.template.apis import DEFAULT_ROUTE, HTTP, REST, URL, TemplateApi, TemplateRoute

LOG = logging.getLogger(__name__)

_LITERAL, _VARIABLE, _GREEDY = 2, 1, 0


@dataclass(frozen=True)
class RouteMatch:
    """The route a request goes to, on its API, with the path parameters its variables took."""

    api: TemplateApi
    route: TemplateRoute
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        """HTTP APIs' routeKey: "GET /items/{id}", or $default."""
        if self.route.path == DEFAULT_ROUTE:
            return DEFAULT_ROUTE
        return f"{self.route.method} {self.route.path}"


def segments(path: str) -> list[str]:
    """A request path's segments, still percent-encoded (an encoded / stays inside its segment); empty
    segments and a trailing slash do not count."""
    return [s for s in path.split("/") if s]


def _fit(template: str, parts: Sequence[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How specifically `template` (a route path) matches the path `parts`, and the parameters it takes;
    None when it does not match."""
    pattern = segments(template)
    rank: list[int] = []
    parameters: dict[str, str] = {}
    for index, segment in enumerate(pattern):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = parts[index:]
            if not rest:  # a greedy variable takes one segment at least: /{proxy+} does not match /
                return None
            parameters[segment[1:-2]] = unquote("/".join(rest))
            rank.append(_GREEDY)
            return tuple(rank), parameters
        if index >= len(parts):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = unquote(parts[index])
            rank.append(_VARIABLE)
        elif segment == parts[index]:
            rank.append(_LITERAL)
        else:
            return None
    if len(pattern) != len(parts):
        return None
    return tuple(rank), parameters


class RouteTable:
    """The routes of every API the template declares, all served from one origin (as `sam local start-api`
    serves them): a request goes to the most specific match among them."""

    def __init__(self, apis: Sequence[TemplateApi]) -> None:
        self.apis = tuple(apis)

    @property
    def kind(self) -> str:
        """Whose "no such route" answer an unmatched request gets: an HTTP API's when the template has only
        HTTP APIs, else a REST API's."""
        if self.apis and all(api.kind == URL for api in self.apis):
            return URL
        return HTTP if self.apis and all(api.kind != REST for api in self.apis) else REST

    def routes(self) -> list[tuple[TemplateApi, TemplateRoute]]:
        return [(api, route) for api in self.apis for route in api.routes]

    def match(self, method: str, path: str) -> RouteMatch | None:
        method = method.upper()
        parts = segments(path)
        best: tuple[tuple[tuple[int, ...], bool], RouteMatch] | None = None
        for api in self.apis:
            found = self._rest(api, method, parts) if api.kind == REST else self._http(api, method, parts)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        if best is not None:
            return best[1]
        for api in self.apis:
            for route in api.routes:
                if route.path == DEFAULT_ROUTE and route.method in (method, "ANY"):
                    return RouteMatch(api, route, {})
        return None

    def methods(self, path: str) -> list[str]:
        """The methods routes of this path take (ANY included), for a CORS preflight."""
        parts = segments(path)
        return [
            route.method
            for _, route in self.routes()
            if route.path != DEFAULT_ROUTE and _fit(route.path, parts) is not None
        ]

    @staticmethod
    def _rest(
        api: TemplateApi, method: str, parts: Sequence[str]
    ) -> tuple[tuple[tuple[int, ...], bool], RouteMatch] | None:
        """A REST API picks the resource first (its most specific path), then the resource's method or its
        ANY; a method the resource lacks is no match, even where a less specific resource has it."""
        best: tuple[tuple[int, ...], dict[str, str], str] | None = None
        for route in api.routes:
            fit = _fit(route.path, parts)
            if fit is not None and (best is None or fit[0] > best[0]):
                best = (fit[0], fit[1], route.path)
        if best is None:
            return None
        rank, parameters, resource = best
        on_resource = [route for route in api.routes if route.path == resource]
        for wanted in (method, "ANY"):
            for route in on_resource:
                if route.method == wanted:
                    return (rank, wanted != "ANY"), RouteMatch(api, route, parameters)
        return None

    @staticmethod
    def _http(
        api: TemplateApi, method: str, parts: Sequence[str]
    ) -> tuple[tuple[tuple[int, ...], bool], RouteMatch] | None:
        """An HTTP API takes the most specific route whose method (or ANY) fits; $default is left to the
        caller, for when no API has a route."""
        best: tuple[tuple[tuple[int, ...], bool], RouteMatch] | None = None
        for route in api.routes:
            if route.path == DEFAULT_ROUTE or route.method not in (method, "ANY"):
                continue
            fit = _fit(route.path, parts)
            if fit is None:
                continue
            score = (fit[0], route.method != "ANY")
            if best is None or score > best[0]:
                best = (score, RouteMatch(api, route, fit[1]))
        return best
