"""The SigV4 check of a request to a Function URL of AuthType AWS_IAM: its signature against the secret
keys of the state directory's principals.json, as Lambda checks it before it looks at the policy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from lambda_emu.control.sigv4 import SignedRequest, check_signed
from lambda_emu.errors import ApiError
from lambda_emu.gateway.requests import HttpRequest
from lambda_emu.template.apis import TemplateApi

LOG = logging.getLogger(__name__)


def signature_refusal(state_dir: Path) -> Callable[[HttpRequest, TemplateApi], str]:
    """A Gateway's `iam_refusal` that refuses a signature that does not hold ("" when it holds, or when
    principals.json has no secret for its key)."""

    def refusal(request: HttpRequest, api: TemplateApi) -> str:
        signed = SignedRequest(request.method, request.path, request.raw_query, request.headers, request.body)
        try:
            check_signed(state_dir, signed)
        except ApiError as exc:
            return f"AuthType AWS_IAM: {exc.code}: {exc.message}"
        return ""

    return refusal
