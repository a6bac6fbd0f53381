"""JWT authorizers of HTTP APIs, as API Gateway checks a token: an RS256 signature by a key of the JSON Web
Key Set the user configures locally (`start-api --jwt-keys FILE`: API Gateway would fetch the issuer's), then
exp, nbf, iat, iss, aud (or client_id) and the route's scopes ("Controlling access to HTTP APIs with JWT
authorizers"). Standard library only: an RS256 check is one modular exponentiation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu import wire
from lambda_emu.errors import ConfigError

LOG = logging.getLogger(__name__)

# The DER prefix of a SHA-256 DigestInfo (RFC 8017, EMSA-PKCS1-v1_5): what an RS256 signature wraps.
_SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class JwtError(Exception):
    """The token is refused (API Gateway's 401), with the reason for the log."""


class ScopeError(JwtError):
    """A valid token without the route's scopes (API Gateway's 403)."""


@dataclass(frozen=True)
class RsaKey:
    n: int
    e: int


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_keys(path: Path) -> dict[str, RsaKey]:
    """The RSA keys of a JWKS file ({"keys": [{"kty": "RSA", "kid": ..., "n": ..., "e": ...}]}) by kid."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the JSON Web Key Set {path}: {exc}.") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise ConfigError(f"{path} is not a JSON Web Key Set: it has no list of keys.")
    found = {}
    for key in keys:
        if isinstance(key, dict) and key.get("kty") == "RSA" and {"kid", "n", "e"} <= set(key):
            found[str(key["kid"])] = RsaKey(
                int.from_bytes(_b64url(key["n"]), "big"), int.from_bytes(_b64url(key["e"]), "big")
            )
    if not found:
        raise ConfigError(f"{path} has no RSA key with a kid: API Gateway's JWT authorizers take RS256 only.")
    return found


def _rs256_valid(key: RsaKey, signed: bytes, signature: bytes) -> bool:
    size = (key.n.bit_length() + 7) // 8
    value = int.from_bytes(signature, "big")
    if len(signature) != size or value >= key.n:
        return False
    block = pow(value, key.e, key.n).to_bytes(size, "big")
    digest = _SHA256_INFO + hashlib.sha256(signed).digest()
    expected = b"\x00\x01" + b"\xff" * (size - 3 - len(digest)) + b"\x00" + digest
    return hmac.compare_digest(block, expected)


def verify(
    token: str,
    keys: Mapping[str, RsaKey],
    *,
    issuer: str,
    audience: Sequence[str],
    scopes: Sequence[str] = (),
    now: float | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The token's claims and scopes, or JwtError / ScopeError saying why API Gateway refuses it."""
    token = token.removeprefix("Bearer ").strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("not a JWT")
    try:
        header = wire.loads_json(_b64url(parts[0]))
        claims = wire.loads_json(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtError(f"not a JWT: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("not a JWT")
    if header.get("alg") != "RS256":
        raise JwtError(f"alg {header.get('alg')!r}: API Gateway takes RS256 only")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise JwtError(f"no key with kid {header.get('kid')!r} in the configured key set")
    if not _rs256_valid(key, f"{parts[0]}.{parts[1]}".encode(), signature):
        raise JwtError("the signature does not verify")
    now = time.time() if now is None else now
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        raise JwtError("expired (exp)")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now:
        raise JwtError("not yet valid (nbf)")
    if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now:
        raise JwtError("issued in the future (iat)")
    if claims.get("iss") != issuer:
        raise JwtError(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    audiences = claims.get("aud", claims.get("client_id"))
    given = [audiences] if isinstance(audiences, str) else list(audiences or [])
    if not set(given) & set(audience):
        raise JwtError(f"audience {audiences!r} is none of {list(audience)}")
    held = claims.get("scope", claims.get("scp", ""))
    token_scopes = held.split() if isinstance(held, str) else [str(s) for s in held or []]
    if scopes and not set(scopes) & set(token_scopes):
        raise ScopeError(f"the token has none of the route's scopes {list(scopes)}")
    return claims, token_scopes
