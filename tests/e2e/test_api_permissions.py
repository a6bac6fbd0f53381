"""Resource-based policies through a live `lambda-emu serve`, driven by boto3: AddPermission, GetPolicy,
RemovePermission with Lambda's errors, and a signed DryRun answered by the function's policy."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import start_server

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
ALICE = "arn:aws:iam::210987654321:user/alice"
BOB = "arn:aws:iam::210987654321:user/bob"


def error_of(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def signed_client(served, access_key: str, secret: str = "secret"):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=served.url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_add_get_and_remove_a_permission_in_lambdas_shape(served):
    client = served.client()
    added = client.add_permission(
        FunctionName="NoOpFunction",
        StatementId="s3invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket",
        SourceAccount="123456789012",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": f"{FUNCTION_ARN}:NoOpFunction",
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "123456789012"},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
        },
    }
    client.add_permission(
        FunctionName=f"{FUNCTION_ARN}:NoOpFunction",
        StatementId="account",
        Action="lambda:*",
        Principal="210987654321",
    )
    answer = client.get_policy(FunctionName="NoOpFunction")
    policy = json.loads(answer["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["s3invoke", "account"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert answer["RevisionId"]

    removed = client.remove_permission(FunctionName="NoOpFunction", StatementId="s3invoke")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    remaining = json.loads(client.get_policy(FunctionName="NoOpFunction")["Policy"])["Statement"]
    assert [s["Sid"] for s in remaining] == ["account"]
    client.remove_permission(FunctionName="NoOpFunction", StatementId="account")
    gone = error_of(lambda: client.get_policy(FunctionName="NoOpFunction"))
    assert gone.response["Error"]["Code"] == "ResourceNotFoundException"
    assert gone.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_get_policy_of_a_function_without_one_is_not_found(served):
    error = error_of(lambda: served.client().get_policy(FunctionName="SleeperFunction"))
    assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.response["Error"]["Message"] == "No policy is associated with the given resource."


def test_a_duplicate_statement_id_is_a_409_conflict(served):
    client = served.client()
    kwargs = {"FunctionName": "AttemptsFunction", "StatementId": "dup", "Action": "lambda:InvokeFunction"}
    client.add_permission(Principal="events.amazonaws.com", **kwargs)
    error = error_of(lambda: client.add_permission(Principal="sns.amazonaws.com", **kwargs))
    assert error.response["Error"]["Code"] == "ResourceConflictException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert error.response["Error"]["Message"] == (
        "The statement id (dup) provided already exists. Please provide a new statement id, "
        "or remove the existing statement."
    )


def test_a_stale_revision_id_is_a_412_and_the_current_one_succeeds(served):
    client = served.client()
    client.add_permission(
        FunctionName="OneAtATimeFunction", StatementId="first", Action="lambda:InvokeFunction", Principal="*"
    )
    current = client.get_policy(FunctionName="OneAtATimeFunction")["RevisionId"]
    stale = error_of(
        lambda: client.add_permission(
            FunctionName="OneAtATimeFunction",
            StatementId="second",
            Action="lambda:InvokeFunction",
            Principal="*",
            RevisionId="not-the-revision",
        )
    )
    assert stale.response["Error"]["Code"] == "PreconditionFailedException"
    assert stale.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    client.add_permission(
        FunctionName="OneAtATimeFunction",
        StatementId="second",
        Action="lambda:InvokeFunction",
        Principal="*",
        RevisionId=current,
    )
    removal = error_of(
        lambda: client.remove_permission(
            FunctionName="OneAtATimeFunction", StatementId="first", RevisionId=current
        )
    )
    assert removal.response["Error"]["Code"] == "PreconditionFailedException"


def test_removing_an_unknown_statement_is_not_found(served):
    error = error_of(
        lambda: served.client().remove_permission(FunctionName="NeverFunction", StatementId="nope")
    )
    assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.response["Error"]["Message"] == "The resource you requested does not exist."


def test_latest_unknown_functions_and_bad_principals_are_refused(served):
    client = served.client()
    kwargs = {"StatementId": "x", "Action": "lambda:InvokeFunction", "Principal": "*"}
    latest = error_of(
        lambda: client.add_permission(FunctionName="NeverFunction", Qualifier="$LATEST", **kwargs)
    )
    assert latest.response["Error"]["Code"] == "InvalidParameterValueException"
    assert latest.response["Error"]["Message"] == "We currently do not support adding policies for $LATEST."
    missing = error_of(lambda: client.add_permission(FunctionName="NoSuchFunction", **kwargs))
    assert missing.response["Error"]["Code"] == "ResourceNotFoundException"
    bad = error_of(
        lambda: client.add_permission(FunctionName="NeverFunction", **{**kwargs, "Principal": "alice"})
    )
    assert bad.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_policy_past_20_kb_is_policy_length_exceeded(served):
    client = served.client()
    with pytest.raises(ClientError) as caught:
        for n in range(200):
            client.add_permission(
                FunctionName="RetriedFunction",
                StatementId=f"s{n}",
                Action="lambda:InvokeFunction",
                Principal="s3.amazonaws.com",
                SourceArn="arn:aws:s3:::" + "b" * 200,
            )
    error = caught.value.response
    assert error["Error"]["Code"] == "PolicyLengthExceededException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"].endswith("is bigger than the limit (20480).")
    assert len(client.get_policy(FunctionName="RetriedFunction")["Policy"].encode()) <= 20480


def test_signed_dry_run_is_answered_by_the_functions_policy(served):
    (served.state_dir / "principals.json").write_text(json.dumps({"AKIAALICE": ALICE, "AKIABOB": BOB}))
    served.client().add_permission(
        FunctionName="OneRetryFunction", StatementId="alice", Action="lambda:InvokeFunction", Principal=ALICE
    )
    allowed = signed_client(served, "AKIAALICE").invoke(
        FunctionName="OneRetryFunction", InvocationType="DryRun"
    )
    assert allowed["StatusCode"] == 204

    denied = error_of(
        lambda: signed_client(served, "AKIABOB").invoke(
            FunctionName="OneRetryFunction", InvocationType="DryRun"
        )
    )
    assert denied.response["Error"]["Code"] == "AccessDeniedException"
    assert denied.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denied.response["Error"]["Message"] == (
        f"User: {BOB} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{FUNCTION_ARN}:OneRetryFunction because no resource-based policy allows the "
        "lambda:InvokeFunction action"
    )
    # A function without any policy denies a mapped caller too.
    nothing = error_of(
        lambda: signed_client(served, "AKIAALICE").invoke(
            FunctionName="SleeperFunction", InvocationType="DryRun"
        )
    )
    assert nothing.response["Error"]["Code"] == "AccessDeniedException"


def test_a_key_with_its_secret_is_trusted_only_when_the_signature_holds(served):
    principals = {"AKIAALICE": {"principal": ALICE, "secret": "alice-secret"}, "AKIABOB": BOB}
    (served.state_dir / "principals.json").write_text(json.dumps(principals))
    served.client().add_permission(
        FunctionName="NoOpFunction", StatementId="alice-only", Action="lambda:InvokeFunction", Principal=ALICE
    )
    try:
        allowed = signed_client(served, "AKIAALICE", "alice-secret").invoke(
            FunctionName="NoOpFunction", InvocationType="DryRun"
        )
        assert allowed["StatusCode"] == 204
        for call in (
            lambda client: client.invoke(FunctionName="NoOpFunction", InvocationType="DryRun"),
            lambda client: client.get_function(FunctionName="NoOpFunction"),
        ):
            wrong = error_of(lambda call=call: call(signed_client(served, "AKIAALICE", "not-alices-secret")))
            assert wrong.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert wrong.response["Error"] == {
                "Code": "InvalidSignatureException",
                "Message": "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service documentation "
                "for details.",
            }
        # Signed as boto3 signs an ARN in the path (%-encoded, then encoded again) and a query string.
        alice = signed_client(served, "AKIAALICE", "alice-secret")
        by_arn = alice.invoke(FunctionName=f"{FUNCTION_ARN}:NoOpFunction", InvocationType="DryRun")
        assert by_arn["StatusCode"] == 204
        listed = alice.list_functions(MaxItems=1, FunctionVersion="ALL")
        assert len(listed["Functions"]) == 1
        # A key without a secret is still taken at its word (its principal judged by the policy).
        bob = error_of(
            lambda: signed_client(served, "AKIABOB", "anything").invoke(
                FunctionName="NoOpFunction", InvocationType="DryRun"
            )
        )
        assert bob.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        served.client().remove_permission(FunctionName="NoOpFunction", StatementId="alice-only")
        (served.state_dir / "principals.json").unlink()


def test_unmapped_keys_and_unsigned_dry_runs_answer_204_as_before(served):
    (served.state_dir / "principals.json").write_text(json.dumps({"AKIABOB": BOB}))
    unmapped = signed_client(served, "AKIASOMEONE").invoke(
        FunctionName="SleeperFunction", InvocationType="DryRun"
    )
    assert unmapped["StatusCode"] == 204
    import urllib.request

    request = urllib.request.Request(
        f"{served.url}/2015-03-31/functions/SleeperFunction/invocations",
        data=b"{}",
        headers={"X-Amz-Invocation-Type": "DryRun"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204


def test_policies_survive_a_restart_of_serve(tmp_path):
    first = start_server(tmp_path / "state")
    try:
        first.client().add_permission(
            FunctionName="NoOpFunction", StatementId="kept", Action="lambda:InvokeFunction", Principal="*"
        )
        revision = first.client().get_policy(FunctionName="NoOpFunction")["RevisionId"]
    finally:
        assert first.stop() == 0, first.log()
    second = start_server(tmp_path / "state")
    try:
        answer = second.client().get_policy(FunctionName="NoOpFunction")
        assert [s["Sid"] for s in json.loads(answer["Policy"])["Statement"]] == ["kept"]
        assert answer["RevisionId"] == revision
    finally:
        assert second.stop() == 0, second.log()


def test_a_permission_on_an_alias_governs_only_invokes_through_that_alias(served):
    # "Versioning, aliases, and resource policies": a permission applies only to the ARN it was added for.
    (served.state_dir / "principals.json").write_text(json.dumps({"AKIAALICE": ALICE}))
    client = served.client()
    version = client.publish_version(FunctionName="NeverFunction")["Version"]
    client.create_alias(FunctionName="NeverFunction", Name="PROD", FunctionVersion=version)
    added = client.add_permission(
        FunctionName="NeverFunction",
        Qualifier="PROD",
        StatementId="alias",
        Action="lambda:InvokeFunction",
        Principal=ALICE,
    )
    assert json.loads(added["Statement"])["Resource"] == f"{FUNCTION_ARN}:NeverFunction:PROD"
    policy = json.loads(client.get_policy(FunctionName="NeverFunction:PROD")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["alias"]
    unqualified = error_of(lambda: client.get_policy(FunctionName="NeverFunction"))
    assert unqualified.response["Error"]["Code"] == "ResourceNotFoundException"

    alice = signed_client(served, "AKIAALICE")
    answer = alice.invoke(FunctionName="NeverFunction", Qualifier="PROD", InvocationType="DryRun")
    assert answer["StatusCode"] == 204
    for kwargs in ({}, {"Qualifier": version}):
        denied = error_of(
            lambda kw=kwargs: alice.invoke(FunctionName="NeverFunction", InvocationType="DryRun", **kw)
        )
        assert denied.response["Error"]["Code"] == "AccessDeniedException"
