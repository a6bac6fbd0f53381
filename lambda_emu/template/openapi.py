"""Routes from an API's OpenAPI (or Swagger 2) definition: each operation whose
`x-amazon-apigateway-integration` is a Lambda proxy integration (type aws_proxy, its uri naming a function)
becomes a route; the definition's `x-amazon-apigateway-binary-media-types` are the API's binary types."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from lambda_emu.errors import TemplateError
from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY_METHOD = "x-amazon-apigateway-any-method"
INTEGRATION = "x-amazon-apigateway-integration"
BINARY_TYPES = "x-amazon-apigateway-binary-media-types"
# A function's ARN inside an integration uri (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/
# arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations), or the function ARN itself (HTTP APIs).
_FUNCTION = re.compile(r"arn:[\w-]+:lambda:[\w-]*:\d*:function:([^/:]+)")


def function_of(uri: Any) -> str | None:
    """The function name an integration uri names, or None when it names none."""
    found = _FUNCTION.search(uri) if isinstance(uri, str) else None
    return found.group(1) if found else None


def read_definition(reader: ResourceReader, body_key: str, uri_key: str) -> Mapping[str, Any] | None:
    """The API's definition: inline (`body_key`, unresolved: only the parts read are resolved), or a local
    file (`uri_key`, relative to the template); None when it has neither. An S3 location cannot be read."""
    if body_key in reader.properties:
        body = reader.properties[body_key]
        if isinstance(body, dict) and "Fn::Transform" in body:
            LOG.warning(
                "%s: %s uses Fn::Transform (AWS::Include): its routes are not read", reader.lid, body_key
            )
            return None
        if not isinstance(body, dict):
            raise reader.error(body_key, "must be an OpenAPI document (a mapping)")
        return body
    if uri_key not in reader.properties:
        return None
    location = reader.get(uri_key)
    if not isinstance(location, str) or location.startswith("s3://"):
        LOG.warning("%s: %s is not a local file: its routes are not read", reader.lid, uri_key)
        return None
    from lambda_emu.template.source import read_template

    file = reader.path.parent / location
    try:
        return read_template(file)
    except TemplateError as exc:
        raise reader.error(uri_key, exc.message) from exc


def definition_routes(
    reader: ResourceReader, definition: Mapping[str, Any], kind_is_rest: bool, key: str
) -> list[dict[str, Any]]:
    """The definition's Lambda proxy operations as route fields (method, path, function, payload version,
    timeout): the caller makes routes of them."""
    paths = definition.get("paths") or {}
    if not isinstance(paths, dict):
        raise reader.error(f"{key}.paths", "must be a mapping of path to operations")
    found = []
    for path, operations in paths.items():
        if not isinstance(operations, dict):
            continue
        for name, operation in operations.items():
            method = "ANY" if name == ANY_METHOD else name.upper() if name in _OPERATIONS else None
            if method is None or not isinstance(operation, dict):
                continue
            integration = operation.get(INTEGRATION)
            if not isinstance(integration, dict):
                continue
            kind = str(integration.get("type", "")).lower()
            where = f"{key}.paths.{path}.{name}"
            uri = reader.resolve_as(f"{where}.{INTEGRATION}.uri", integration.get("uri"))
            function = function_of(uri)
            if kind != "aws_proxy" or function is None:
                LOG.warning("%s: %s is not a Lambda proxy integration; it is not served", reader.lid, where)
                continue
            version = integration.get("payloadFormatVersion", "1.0" if kind_is_rest else "2.0")
            found.append(
                {
                    "method": method,
                    "path": "$default" if path in ("$default", "/$default") else path,
                    "function": function,
                    "payload_version": str(version),
                    "timeout_ms": integration.get("timeoutInMillis"),
                    "event": f"{reader.lid}.{key}.{method} {path}",
                }
            )
    return found


def binary_media_types(definition: Mapping[str, Any]) -> tuple[str, ...]:
    found = definition.get(BINARY_TYPES) or []
    return tuple(str(t) for t in found) if isinstance(found, list) else ()
