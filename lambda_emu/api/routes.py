"""What a route of the Lambda API is: the request it receives (path groups, query, headers, body), the reply
it returns, and how its path template becomes a pattern. Route tables (http.py, management.py) use these."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lambda_emu.engine.httpserver import ChunkedOut

if TYPE_CHECKING:
    from lambda_emu.api.service import LambdaService

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Request:
    function_name: str  # the {name} of the path, unquoted ("" on paths without one)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: Mapping[str, str] = field(default_factory=dict)  # every {group} of the path, unquoted
    # Sends a reply before the route returns (the route's own reply is then dropped): Invoke answers as
    # soon as the function has, and finishes the invocation's bookkeeping after. None: not over HTTP.
    answer: Callable[[Reply], None] | None = None
    query_string: str = ""  # the raw query, for the operations whose members repeat (UntagResource's tagKeys)
    chunked: ChunkedOut | None = (
        None  # for a reply streamed as it is made (starting it answers); None: not over HTTP
    )


Route = Callable[["LambdaService", Request], Reply]
RouteTable = list[tuple[str, re.Pattern[str], Route]]


def json_reply(status: int, value: object) -> Reply:
    return Reply(status, json.dumps(value).encode())


def path(template: str) -> re.Pattern[str]:
    """`/2015-03-31/functions/{name}/aliases/{alias}` as an anchored pattern with one named group per
    `{group}`, each matching one path segment."""
    escaped = re.escape(template)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", escaped)
    return re.compile("^" + pattern + "$")
