"""A template's Function URLs: SAM's `FunctionUrlConfig` on a function and CloudFormation's AWS::Lambda::Url,
each as an API of kind URL with one $default route to its function (payload 2.0), its AuthType and CORS."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template.apis import (
    DEFAULT_ROUTE,
    DEFAULT_STAGE,
    URL,
    Cors,
    TemplateApi,
    TemplateRoute,
    cors_of,
)
from lambda_emu.template.intrinsics import Resolver
from lambda_emu.template.openapi import function_of
from lambda_emu.template.reader import ResourceReader

LOG = logging.getLogger(__name__)

LAMBDA_URL = "AWS::Lambda::Url"


def function_urls(
    path: Path,
    resources: Mapping[str, Any],
    functions: Mapping[str, FunctionConfig],
    resolver: Resolver,
    emulator: EmulatorConfig,
) -> tuple[TemplateApi, ...]:
    by_name = {config.name: config for config in functions.values()}
    found = []
    for lid, resource in resources.items():
        properties = resource.get("Properties") or {}
        if not isinstance(properties, dict):
            continue
        if lid in functions and "FunctionUrlConfig" in properties:
            reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
            config = reader.get("FunctionUrlConfig")
            if not isinstance(config, dict):
                raise reader.error("FunctionUrlConfig", "must be a mapping")
            found.append(_url(reader, "FunctionUrlConfig", lid, functions[lid], config))
        elif resource.get("Type") == LAMBDA_URL:
            reader = ResourceReader(path, lid, resource, resolver, emulator, properties)
            if not reader.included():
                continue
            target = reader.get("TargetFunctionArn", None)
            name = function_of(target) or (target if isinstance(target, str) else None)
            if name not in by_name:
                raise reader.error("TargetFunctionArn", f"{target!r} is no function of this template")
            assert name is not None
            found.append(
                _url(reader, "Properties", lid, by_name[name], {k: reader.get(k) for k in properties})
            )
    return tuple(found)


def _url(
    reader: ResourceReader, key: str, lid: str, function: FunctionConfig, config: Mapping[str, Any]
) -> TemplateApi:
    auth = str(config.get("AuthType", "")).upper()
    if auth not in ("NONE", "AWS_IAM"):
        raise reader.error(f"{key}.AuthType", "must be NONE or AWS_IAM")
    mode = str(config.get("InvokeMode", "BUFFERED")).upper()
    if mode not in ("BUFFERED", "RESPONSE_STREAM"):
        raise reader.error(f"{key}.InvokeMode", "must be BUFFERED or RESPONSE_STREAM")
    cors = config.get("Cors")
    if cors is not None and not isinstance(cors, dict):
        raise reader.error(f"{key}.Cors", "must be a mapping")
    # A Function URL waits for the function as long as the function may run (no integration timeout).
    route = TemplateRoute(
        "ANY", DEFAULT_ROUTE, function.name, "2.0", function.timeout * 1000 + 1000, f"{lid}.FunctionUrl"
    )
    return TemplateApi(
        lid, URL, DEFAULT_STAGE, (route,), cors=_cors(cors) if cors else None, url_auth=auth, invoke_mode=mode
    )


def _cors(value: Mapping[str, Any]) -> Cors:
    return cors_of(value, lambda key: TemplateError(f"Function URL Cors: {key} must be a list."))
