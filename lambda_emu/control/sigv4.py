"""AWS Signature Version 4 checked as AWS checks a request signed in its Authorization header: the canonical
request, the string to sign and the signing key derived from the secret access key (IAM User Guide, "Create
a signed AWS API request"), the request's time, and Lambda's answers when they do not hold."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote

from lambda_emu.control.policy import load_principals
from lambda_emu.errors import ApiError

LOG = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
# The credential scope's service of Lambda's API and of Function URLs ("…/<region>/lambda/aws4_request").
LAMBDA_SERVICE = "lambda"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# "A request must reach AWS within 5 minutes of the timestamp in the request", and Lambda's answer otherwise
# reads "Signature expired: <date> is now earlier than <now - 5 min> (<now> - 5 min.)" (AWS re:Post,
# "Signature expired" error when invoking a Lambda function).
MAX_SKEW = timedelta(minutes=5)
# x-amz-content-sha256 values that stand for a body that is not hashed (S3's streaming uploads).
_UNHASHED = ("UNSIGNED-PAYLOAD", "STREAMING-")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]+)\s*$"
)
_KEY = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/")


@dataclass(frozen=True)
class SignedRequest:
    """A request as it came over the wire: the path and query as on the request line (still %-encoded),
    every header (any case of its name, repeated ones as often as sent) and the body."""

    method: str
    path: str
    query: str
    headers: Iterable[tuple[str, str]]
    body: bytes


def access_key(authorization: str) -> str | None:
    """The access key id a SigV4 Authorization header names (None: not a SigV4 signature)."""
    match = _KEY.match(authorization)
    return None if match is None else match["key"]


def check_signed(state_dir: Path, request: SignedRequest) -> None:
    """Check the SigV4 signature of a request signed with a key whose secret the state directory's
    principals.json holds, as Lambda checks it (the ApiError it answers otherwise). Requests unsigned, or
    signed with a key whose secret it does not hold, are not checked: the emulator cannot, and lets them
    in."""
    authorization = next((v for k, v in request.headers if k.lower() == "authorization"), "")
    key = access_key(authorization)
    found = None if key is None else load_principals(state_dir).get(key)
    if found is not None and found.secret is not None:
        verify(request, found.secret, service=LAMBDA_SERVICE)


def signature_error(message: str = _MISMATCH) -> ApiError:
    return ApiError("InvalidSignatureException", message)


def verify(request: SignedRequest, secret: str, *, service: str, now: datetime | None = None) -> None:
    """Check `request`'s SigV4 signature with `secret`, the secret access key of the key it names, for
    `service` (the credential scope's service, `lambda` for Lambda's API and Function URLs); raises the
    ApiError Lambda answers with (InvalidSignatureException, IncompleteSignatureException)."""
    headers = _headers(request.headers)
    authorization = ",".join(headers.get("authorization", []))
    match = _AUTHORIZATION.match(authorization)
    if match is None:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. "
            f"Authorization={authorization}",
        )
    scope = match["credential"].split("/", 1)[1] if "/" in match["credential"] else ""
    parts = scope.split("/")
    if len(parts) != 4 or parts[3] != "aws4_request":
        raise signature_error()
    if parts[2] != service:
        raise signature_error(f"Credential should be scoped to correct service: '{service}'. ")
    stamp = _timestamp(headers)
    at = datetime.strptime(stamp, _AMZ_DATE).replace(tzinfo=timezone.utc)
    _check_time(at, now or datetime.now(timezone.utc))
    if parts[0] != stamp[:8]:
        raise signature_error(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{parts[0]}' != '{stamp[:8]}', from '{stamp}'."
        )
    signed = match["headers"].split(";")
    canonical = canonical_request(request, headers, signed)
    string_to_sign = "\n".join((ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()))
    key = signing_key(secret, parts[0], parts[1], parts[2])
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        LOG.debug("SigV4 mismatch; the canonical request was:\n%s", canonical)
        raise signature_error()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(request: SignedRequest, headers: dict[str, list[str]], signed: list[str]) -> str:
    """Method, canonical URI, canonical query string, canonical headers, signed headers, hashed payload."""
    lines = [f"{name}:{','.join(' '.join(v.split()) for v in headers.get(name, []))}" for name in signed]
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            "\n".join(lines) + "\n",
            ";".join(signed),
            _payload_hash(request.body, headers),
        )
    )


def canonical_uri(path: str) -> str:
    """The path as every service but S3 signs it: dot segments and empty segments removed (RFC 3986
    normalisation), then URI-encoded once more on top of the request line's own encoding ("each path
    segment must be URI-encoded twice, except for Amazon S3")."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    normal = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normal += "/"
    return quote(normal, safe="/~")


def canonical_query(query: str) -> str:
    """Each name and value URI-encoded (unreserved characters left as they are), sorted by name, then by
    value."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _headers(raw: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in raw:
        headers.setdefault(name.lower().strip(), []).append(value)
    return headers


def _payload_hash(body: bytes, headers: dict[str, list[str]]) -> str:
    digest = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256", [digest])[0]
    # A declared hash stands for the body in the canonical request: a body that is not the one it hashes is
    # as wrong as a changed signature.
    if not declared.startswith(_UNHASHED) and declared != digest:
        raise signature_error()
    return declared


def _timestamp(headers: dict[str, list[str]]) -> str:
    """The request's time as SigV4 signs it: X-Amz-Date, else the Date header."""
    if "x-amz-date" in headers:
        stamp = headers["x-amz-date"][0].strip()
        try:
            datetime.strptime(stamp, _AMZ_DATE)
        except ValueError:
            raise signature_error(_MISMATCH) from None
        return stamp
    if "date" in headers:
        try:
            return parsedate_to_datetime(headers["date"][0]).astimezone(timezone.utc).strftime(_AMZ_DATE)
        except (TypeError, ValueError):
            raise signature_error(_MISMATCH) from None
    raise ApiError(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )


def _check_time(at: datetime, now: datetime) -> None:
    def stamp(moment: datetime) -> str:
        return moment.strftime(_AMZ_DATE)

    if at < now - MAX_SKEW:
        raise signature_error(
            f"Signature expired: {stamp(at)} is now earlier than {stamp(now - MAX_SKEW)} "
            f"({stamp(now)} - 5 min.)"
        )
    if at > now + MAX_SKEW:
        raise signature_error(
            f"Signature not yet current: {stamp(at)} is still later than {stamp(now + MAX_SKEW)} "
            f"({stamp(now)} + 5 min.)"
        )
