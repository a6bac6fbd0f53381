"""The user's AWS settings that functions inherit as their execution role's would be: region, credentials
and endpoints, read as the AWS CLI, SDKs and SAM read them (environment first, then the profile of
~/.aws/credentials and ~/.aws/config)."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_PROFILE_KEYS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}
ENDPOINT_PREFIX = "AWS_ENDPOINT_URL"


@dataclass(frozen=True)
class AwsSettings:
    region: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)
    # AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>: every current SDK honours them, so a function
    # reaches what the user points it at (a moto or LocalStack server) without a code change.
    endpoints: Mapping[str, str] = field(default_factory=dict)


def read_settings(environ: Mapping[str, str]) -> AwsSettings:
    """Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's. Credentials: the environment's when it
    has any, else the profile's (AWS_PROFILE, else "default")."""
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    # HOME from the environment given (a test's own dict has none, so no user's file leaks into it).
    home = Path(environ.get("HOME") or "/nonexistent")
    config = _section(Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config"), _config_name(profile))
    stored = _section(
        Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"), profile
    )
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or config.get("region") or None
    if any(environ.get(key) for key in CREDENTIAL_KEYS):
        credentials = {key: environ[key] for key in CREDENTIAL_KEYS if environ.get(key)}
    else:
        # The credentials file first, then keys written into the config file (both are allowed).
        merged = {**config, **stored}
        credentials = {env: merged[key] for key, env in _PROFILE_KEYS.items() if merged.get(key)}
    endpoints = {
        key: value
        for key, value in environ.items()
        if value and (key == ENDPOINT_PREFIX or key.startswith(f"{ENDPOINT_PREFIX}_"))
    }
    return AwsSettings(region=region, credentials=credentials, endpoints=endpoints)


def _config_name(profile: str) -> str:
    return profile if profile == "default" else f"profile {profile}"


def _section(path: Path, name: str) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError):
        return {}  # an unreadable file is treated as absent, as the SDKs do for a missing one
    return dict(parser.items(name)) if parser.has_section(name) else {}
