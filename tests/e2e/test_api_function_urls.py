"""The Function URL config API through a live `serve` with boto3 (Create, Get, Update, List and Delete
FunctionUrlConfig(s)) answered in Lambda's shapes and errors, and each URL made so served at once by serve's
Function URL front, told apart by the url-id in its Host."""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from conftest import Served

ARN = "arn:aws:lambda:us-east-1:123456789012:function:AttemptsFunction"
URL = re.compile(r"^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def request(
    url: str, method: str = "GET", target: str = "/", body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """A request to a Function URL: sent to the loopback port, the URL's own host in the Host header (not
    every resolver maps *.localhost to loopback)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=120)
    try:
        connection.request(method, target, body=body, headers={"Host": parts.netloc, **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _error(call: object, *args: object, **kwargs: object) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.response["Error"]


def test_a_url_is_created_served_updated_listed_and_deleted(served: Served) -> None:
    client = served.client()
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 60}
    created = client.create_function_url_config(FunctionName="AttemptsFunction", AuthType="NONE", Cors=cors)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    del created["ResponseMetadata"]
    found = URL.match(created["FunctionUrl"])
    assert found, created["FunctionUrl"]
    assert TIME.match(created["CreationTime"])
    assert created == {
        "FunctionUrl": created["FunctionUrl"],
        "FunctionArn": ARN,
        "AuthType": "NONE",
        "Cors": cors,
        "CreationTime": created["CreationTime"],
        "InvokeMode": "BUFFERED",
    }
    url = created["FunctionUrl"]

    got = client.get_function_url_config(FunctionName="AttemptsFunction")
    del got["ResponseMetadata"]
    assert got == {**created, "LastModifiedTime": created["CreationTime"]}

    status, headers, body = request(url, "GET", "/some/path?x=1", Origin="https://app.example")
    assert status == 200, body
    assert json.loads(body)["id"] is None and json.loads(body)["environment"]
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert request(url.replace(found.group(1), "x" * 32))[0] == 404  # no URL has that id

    updated = client.update_function_url_config(FunctionName="AttemptsFunction", AuthType="AWS_IAM")
    assert (updated["AuthType"], updated["FunctionUrl"], updated["Cors"]) == ("AWS_IAM", url, cors)
    assert updated["LastModifiedTime"] >= created["CreationTime"]
    assert request(url)[::2] == (403, b'{"Message":"Forbidden"}')  # AWS_IAM: an unsigned request

    listed = client.list_function_url_configs(FunctionName="AttemptsFunction")["FunctionUrlConfigs"]
    assert [item["FunctionUrl"] for item in listed] == [url]
    assert (
        list(listed[0])
        == "FunctionUrl FunctionArn CreationTime LastModifiedTime Cors AuthType InvokeMode".split()
    )

    deleted = client.delete_function_url_config(FunctionName="AttemptsFunction")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert request(url)[0] == 404
    assert client.list_function_url_configs(FunctionName="AttemptsFunction")["FunctionUrlConfigs"] == []


def test_the_api_s_errors_are_lambdas(served: Served) -> None:
    client = served.client()
    client.create_function_url_config(FunctionName="NoOpFunction", AuthType="NONE")
    try:
        conflict = _error(client.create_function_url_config, FunctionName="NoOpFunction", AuthType="NONE")
        assert conflict["Code"] == "ResourceConflictException"
        assert conflict["Message"] == (
            "Failed to create function url config for [functionArn = "
            "arn:aws:lambda:us-east-1:123456789012:function:NoOpFunction]. Error message:  "
            "FunctionUrlConfig exists for this Lambda function"
        )
    finally:
        client.delete_function_url_config(FunctionName="NoOpFunction")
    missing = _error(client.get_function_url_config, FunctionName="NoOpFunction")
    assert (missing["Code"], missing["Message"]) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    assert _error(client.delete_function_url_config, FunctionName="NoOpFunction")["Code"] == (
        "ResourceNotFoundException"
    )
    version = _error(client.get_function_url_config, FunctionName="NoOpFunction", Qualifier="1")
    assert version["Code"] == "ValidationException"
    assert "at 'qualifier' failed to satisfy constraint" in version["Message"]
    unknown = _error(client.create_function_url_config, FunctionName="NoSuchFunction", AuthType="NONE")
    assert unknown["Code"] == "ResourceNotFoundException"


def _signed(
    url: str, access_key: str, secret: str = "secret", method: str = "GET", body: bytes = b""
) -> dict[str, str]:
    """SigV4 headers for a request to `url`, signed by botocore as an SDK signs."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(access_key, secret), "lambda", "us-east-1").add_auth(signed)
    return {name: value for name, value in signed.headers.items() if name.lower() != "host"}


def _allow_url(client: object, sid: str, principal: str) -> None:
    """Let `principal` invoke AttemptsFunction's AWS_IAM Function URL."""
    client.add_permission(  # type: ignore[attr-defined]
        FunctionName="AttemptsFunction",
        StatementId=sid,
        Action="lambda:InvokeFunctionUrl",
        Principal=principal,
        FunctionUrlAuthType="AWS_IAM",
    )


def test_an_aws_iam_url_lets_in_the_signers_its_policy_allows(served: Served) -> None:
    alice = "arn:aws:iam::210987654321:user/alice"
    (served.state_dir / "principals.json").write_text(json.dumps({"AKIAALICE": alice}))
    client = served.client()
    url = client.create_function_url_config(FunctionName="AttemptsFunction", AuthType="AWS_IAM")[
        "FunctionUrl"
    ]
    try:
        assert request(url)[::2] == (403, b'{"Message":"Forbidden"}')  # unsigned
        assert request(url, **_signed(url, "AKIAALICE"))[::2] == (403, b'{"Message":"Forbidden"}')
        _allow_url(client, "alice-url", alice)
        status, _, body = request(url, **_signed(url, "AKIAALICE"))
        assert status == 200 and json.loads(body)["environment"]
        assert request(url, **_signed(url, "AKIAUNMAPPED"))[0] == 200  # no principal to judge: as DryRun
    finally:
        client.delete_function_url_config(FunctionName="AttemptsFunction")
        client.remove_permission(FunctionName="AttemptsFunction", StatementId="alice-url")
        (served.state_dir / "principals.json").unlink()


def test_an_aws_iam_url_checks_the_signature_of_a_key_whose_secret_it_holds(served: Served) -> None:
    alice = "arn:aws:iam::210987654321:user/alice"
    principals = {"AKIAALICE": {"principal": alice, "secret": "alice-secret"}}
    (served.state_dir / "principals.json").write_text(json.dumps(principals))
    client = served.client()
    url = client.create_function_url_config(FunctionName="AttemptsFunction", AuthType="AWS_IAM")[
        "FunctionUrl"
    ]
    _allow_url(client, "alice-signed", alice)
    try:
        status, _, body = request(url, **_signed(url, "AKIAALICE", "alice-secret"))
        assert status == 200 and json.loads(body)["environment"]
        target = url + "items?color=red%20and%20blue&size=2"
        payload = b'{"order": 1}'
        signed = _signed(target, "AKIAALICE", "alice-secret", "POST", payload)
        assert request(url, "POST", "/items?color=red%20and%20blue&size=2", payload, **signed)[0] == 200
        forbidden = (403, b'{"Message":"Forbidden"}')
        assert request(url, **_signed(url, "AKIAALICE", "not-alices-secret"))[::2] == forbidden
        # The same signature over another body does not hold.
        assert (
            request(url, "POST", "/items?color=red%20and%20blue&size=2", b'{"order": 2}', **signed)[::2]
            == forbidden
        )
    finally:
        client.delete_function_url_config(FunctionName="AttemptsFunction")
        client.remove_permission(FunctionName="AttemptsFunction", StatementId="alice-signed")
        (served.state_dir / "principals.json").unlink()
