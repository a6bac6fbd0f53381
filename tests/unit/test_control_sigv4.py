"""The SigV4 verifier against signatures made by botocore's own signer (SigV4Auth), as boto3 and the AWS CLI
sign Lambda's requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambda_emu.control.sigv4 import SignedRequest, access_key, canonical_uri, verify
from lambda_emu.errors import ApiError

KEY = "AKIAALICE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


def _signed(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    secret: str = SECRET,
    service: str = "lambda",
    headers: dict[str, str] | None = None,
) -> SignedRequest:
    """`url` signed by botocore, as the HTTP client then sends it (with the Host header it signed)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(KEY, secret), service, "eu-west-1").add_auth(request)
    parts = urlsplit(request.url)
    sent = [("Host", parts.netloc), *request.headers.items()]
    return SignedRequest(method, parts.path, parts.query, sent, body)


def _error(request: SignedRequest, **options: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        verify(request, SECRET, service="lambda", **options)  # type: ignore[arg-type]
    return caught.value


def test_a_get_with_a_query_string_signed_by_botocore_verifies() -> None:
    url = "http://127.0.0.1:9001/2015-03-31/functions/?FunctionVersion=ALL&Marker=a%20b%2Fc&MaxItems=5"
    verify(_signed("GET", url), SECRET, service="lambda")


def test_a_post_with_a_body_and_an_encoded_path_signed_by_botocore_verifies() -> None:
    # boto3 puts an ARN in the path %-encoded; SigV4 encodes the path once more (every service but S3).
    arn = "arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Af"
    url = f"http://127.0.0.1:9001/2015-03-31/functions/{arn}/invocations?Qualifier=live"
    request = _signed("POST", url, b'{"hello": "world"}', headers={"X-Amz-Invocation-Type": "DryRun"})
    verify(request, SECRET, service="lambda")
    assert access_key(dict((k.lower(), v) for k, v in request.headers)["authorization"]) == KEY


def test_a_declared_content_hash_verifies() -> None:
    url = "http://127.0.0.1:9001/2015-03-31/functions/f/invocations"
    body = b"payload"
    import hashlib

    declared = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    verify(_signed("POST", url, body, headers=declared), SECRET, service="lambda")


def test_a_tampered_body_does_not_verify() -> None:
    signed = _signed("POST", "http://127.0.0.1:9001/2015-03-31/functions/f/invocations", b'{"n": 1}')
    tampered = SignedRequest(signed.method, signed.path, signed.query, signed.headers, b'{"n": 2}')
    error = _error(tampered)
    assert (error.code, error.status, error.message) == ("InvalidSignatureException", 403, MISMATCH)


def test_a_tampered_query_or_path_does_not_verify() -> None:
    signed = _signed("GET", "http://127.0.0.1:9001/2015-03-31/functions/f?Qualifier=1")
    for path, query in (("/2015-03-31/functions/g", "Qualifier=1"), (signed.path, "Qualifier=2")):
        changed = SignedRequest(signed.method, path, query, signed.headers, signed.body)
        assert _error(changed).message == MISMATCH


def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    signed = _signed("GET", "http://127.0.0.1:9001/2015-03-31/functions/f", secret="not-the-secret")
    error = _error(signed)
    assert (error.code, error.status, error.message) == ("InvalidSignatureException", 403, MISMATCH)


def test_another_service_scope_does_not_verify() -> None:
    signed = _signed("GET", "http://127.0.0.1:9001/2015-03-31/functions/f", service="s3")
    assert _error(signed).message == "Credential should be scoped to correct service: 'lambda'. "


def test_a_signature_older_than_five_minutes_has_expired() -> None:
    signed = _signed("GET", "http://127.0.0.1:9001/2015-03-31/functions/f")
    stamp = dict((k.lower(), v) for k, v in signed.headers)["x-amz-date"]
    at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    verify(signed, SECRET, service="lambda", now=at + timedelta(minutes=4))
    now = at + timedelta(minutes=6)
    error = _error(signed, now=now)
    fmt = "%Y%m%dT%H%M%SZ"
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert error.message == (
        f"Signature expired: {stamp} is now earlier than {(now - timedelta(minutes=5)).strftime(fmt)} "
        f"({now.strftime(fmt)} - 5 min.)"
    )
    assert _error(signed, now=at - timedelta(minutes=6)).message.startswith("Signature not yet current: ")


def test_a_header_it_signed_that_is_missing_does_not_verify() -> None:
    signed = _signed("GET", "http://127.0.0.1:9001/2015-03-31/functions/f")
    without_host = [(k, v) for k, v in signed.headers if k.lower() != "host"]
    assert _error(SignedRequest("GET", signed.path, "", without_host, b"")).message == MISMATCH


def test_a_malformed_authorization_is_an_incomplete_signature() -> None:
    request = SignedRequest(
        "GET", "/", "", [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAALICE/x")], b""
    )
    error = _error(request)
    assert (error.code, error.status) == ("IncompleteSignatureException", 400)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("", "/"),
        ("/a/./b/../c", "/a/c"),
        ("/a//b/", "/a/b/"),
        ("/f%3Aq", "/f%253Aq"),
        ("/~user/a b", "/~user/a%20b"),
    ],
)
def test_the_canonical_uri_is_normalised_and_encoded_twice(path: str, canonical: str) -> None:
    assert canonical_uri(path) == canonical


def test_a_request_dated_by_its_date_header_verifies() -> None:
    # botocore signs with the Date header instead of X-Amz-Date when the request carries one.
    signed = _signed("GET", "http://127.0.0.1:9001/2015-03-31/functions/f", headers={"Date": "now"})
    names = [name.lower() for name, _ in signed.headers]
    assert "date" in names and "x-amz-date" not in names
    verify(signed, SECRET, service="lambda")
