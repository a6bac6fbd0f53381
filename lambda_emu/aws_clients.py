"""boto3 clients for the AWS endpoints the user points lambda-emu at (a moto or LocalStack server, or AWS):
the one module that imports boto3, which is the `aws` extra, loaded only when an endpoint is used."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Mapping
from typing import Any

from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

# The services lambda-emu itself calls and the suffix of their AWS_ENDPOINT_URL_<SERVICE> variable (the
# service id of botocore's model, upper case with underscores, as the SDKs spell it).
ENDPOINT_VARIABLES = {
    "sqs": "AWS_ENDPOINT_URL_SQS",
    "kinesis": "AWS_ENDPOINT_URL_KINESIS",
    "dynamodbstreams": "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
}


def endpoint_of(service: str, environ: Mapping[str, str]) -> str | None:
    """The endpoint the user points `service` at: its own AWS_ENDPOINT_URL_<SERVICE>, else the general
    AWS_ENDPOINT_URL, else None (no endpoint: lambda-emu does not call AWS itself for it)."""
    variable = ENDPOINT_VARIABLES.get(service)
    return (environ.get(variable) if variable else None) or environ.get("AWS_ENDPOINT_URL") or None


def require_boto3(purpose: str) -> None:
    """ConfigError with the install hint when boto3 (the `aws` extra) is missing."""
    if importlib.util.find_spec("boto3") is None:
        raise ConfigError(f"{purpose} needs boto3.", hint="pip install 'lambda-emu[aws]'")


class AwsClients:
    """One client per (service, region), made on first use and shared by threads (boto3 clients are thread
    safe). `credentials` are the standard AWS_* variables; without them boto3's own chain, and without that
    dummy keys, which local endpoints accept."""

    def __init__(
        self,
        endpoint_url: str | None,
        credentials: Mapping[str, str] | None = None,
        *,
        read_timeout: float = 15,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._credentials = dict(credentials or {})
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._session: Any = None

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                import boto3
                from botocore.config import Config

                if self._session is None:
                    self._session = _session(boto3, self._credentials)
                config = Config(
                    connect_timeout=5, read_timeout=self._read_timeout, retries={"max_attempts": 2}
                )
                self._clients[key] = self._session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=config
                )
            return self._clients[key]


def _session(boto3: Any, credentials: Mapping[str, str]) -> Any:
    if credentials.get("AWS_ACCESS_KEY_ID"):
        return boto3.session.Session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        )
    session = boto3.session.Session()
    if session.get_credentials() is None:
        # Local endpoints (moto, LocalStack) accept any key; without one boto3 would refuse to sign.
        return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test")
    return session
