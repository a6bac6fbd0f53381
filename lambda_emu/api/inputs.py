"""Each API request checked against its operation's input shape in botocore's model before its route runs:
the path labels, the query and header members and (where the control plane does not check it whole) the
JSON body, every violation in one ValidationException naming members as AWS does ('functionName',
'qualifier', 'maxItems'). AWS validates a request against the model before the service looks anything up,
so a malformed name or qualifier is a 400 ValidationException, and only a well-formed one that names
nothing is a 404."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote

from lambda_emu import service_model, wire
from lambda_emu.control.request_shapes import OPERATIONS, Shape
from lambda_emu.control.validation import check_request

LOG = logging.getLogger(__name__)

# Operations whose whole body the control plane checks against the model itself, with its service rules
# after: their bodies carry a zip of up to 70 MB, read once (by the control plane), not twice. Their path
# and query members are checked here all the same.
_BODY_CHECKED_BY_CONTROL = frozenset({"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"})
_LABEL = re.compile(r"\{(\w+)\+?\}")
_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Operation:
    """One operation of the model as a request reaches it."""

    name: str
    path: re.Pattern[str]  # the model's requestUri, one named group per {Label} (the member's name)
    fixed: tuple[tuple[str, str], ...]  # the query pairs that select it ("?find=LayerVersion")
    shape: Shape  # the members checked here: the located ones, and the body's unless the control plane's
    body: bool  # its JSON body is checked here


def _operation(name: str) -> Operation:
    _method, uri = service_model.HTTP[name]
    uri_path, _, fixed_query = uri.partition("?")
    parts = _LABEL.split(uri_path.rstrip("/"))  # literal, label, literal, ...
    pattern = "".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    shape = OPERATIONS[name]
    # A body is read only where the operation has members that travel in it (a DELETE's body is ignored).
    body = (
        shape.payload is None
        and name not in _BODY_CHECKED_BY_CONTROL
        and any(member not in shape.locations for member in shape.members)
    )
    if not body:  # only what the route supplies
        located = {member: shape.members[member] for member in shape.locations}
        shape = replace(shape, members=located, required=())
    fixed = tuple((key, values[-1]) for key, values in parse_qs(fixed_query).items())
    return Operation(name, re.compile(f"^{pattern}/?$"), fixed, shape, body)


_BY_ROUTE: dict[tuple[str, re.Pattern[str]], tuple[Operation, ...]] = {}


def operations_of(method: str, route: re.Pattern[str]) -> tuple[Operation, ...]:
    """The model's operations a route serves (its method, and the model's path with sample labels matching
    the route's pattern), those selected by fixed query pairs first; () for a route of ours alone."""
    found = _BY_ROUTE.get((method, route))
    if found is None:
        candidates = []
        for name, (verb, uri) in service_model.HTTP.items():
            sample = _LABEL.sub("sample", uri.partition("?")[0])
            if verb == method and (route.match(sample) or route.match(sample.rstrip("/") + "/")):
                candidates.append(_operation(name))
        found = _BY_ROUTE[(method, route)] = tuple(sorted(candidates, key=lambda op: -len(op.fixed)))
    return found


def operation_for(method: str, route: re.Pattern[str], query: Mapping[str, str]) -> Operation | None:
    for operation in operations_of(method, route):
        if all(query.get(key) == value for key, value in operation.fixed):
            return operation
    return None


def check(
    method: str,
    route: re.Pattern[str],
    url_path: str,
    query: Mapping[str, str],
    query_string: str,
    body: bytes,
    headers: Mapping[str, str],  # lower-case names
) -> None:
    """Raise ApiError (ValidationException) as AWS answers a request breaking its operation's model."""
    operation = operation_for(method, route, query)
    if operation is None:
        return
    fields: dict[str, Any] = {}
    if operation.body and body.strip():
        try:
            parsed = wire.loads_json(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return  # unreadable: read before it is validated, the route answers it in Lambda's words
        fields.update(parsed)
    shape = operation.shape
    match = operation.path.match(url_path)
    labels = match.groupdict() if match is not None else {}
    for member, (where, wire_name) in shape.locations.items():
        if member not in shape.members:
            continue
        if where == "uri" and member in labels:
            value = _typed(shape.members[member], unquote(labels[member]))
        elif where == "querystring":
            value = _query_value(shape.members[member], wire_name, query, query_string)
        elif where == "header" and wire_name.lower() in headers:
            value = _typed(shape.members[member], headers[wire_name.lower()])
        else:
            continue
        if value is not None:
            fields[member] = value
    check_request(shape, fields)


def _query_value(shape: Shape, wire_name: str, query: Mapping[str, str], query_string: str) -> Any:
    if shape.kind == "list":  # repeated in the query (tagKeys=a&tagKeys=b)
        values = parse_qs(query_string).get(wire_name)
        return values or None
    text = query.get(wire_name)
    return None if text is None else _typed(shape, text)


def _typed(shape: Shape, text: str) -> Any:
    """A path or query member as the model types it: text, a whole number or a boolean. Text that is not of
    its type is left out (None): the route answers it in its own words ("Invalid version number: x.")."""
    if shape.kind == "integer":
        return int(text) if _INTEGER.fullmatch(text) else None
    if shape.kind == "boolean":
        return text == "true" if text in ("true", "false") else None
    if shape.kind in ("string", "blob"):
        return text
    return None
