"""Resource-based policies: statements in Lambda's shape, principal forms, conditions, the allow decision,
the 20 KB limit, StatementId and RevisionId rules, and durability across a reopened store."""

from __future__ import annotations

import json

import pytest

from lambda_emu.control.policy import (
    INVOKE_ACTION,
    MAX_POLICY_BYTES,
    Permission,
    PolicyStore,
    Principal,
    allows,
    denial_message,
    load_principals,
    principal_element,
    render,
)
from lambda_emu.errors import LambdaEmuError, api_code

FN = "arn:aws:lambda:us-east-1:123456789012:function:my-function"
ALICE = "arn:aws:iam::210987654321:user/alice"


def code_of(call) -> tuple[str, str]:
    with pytest.raises(LambdaEmuError) as caught:
        call()
    return api_code(caught.value), caught.value.message


def permission(**fields: object) -> Permission:
    body = {"StatementId": "sid", "Action": INVOKE_ACTION, "Principal": "s3.amazonaws.com", **fields}
    return Permission.from_request(body)


def test_a_service_permission_renders_as_lambda_writes_it_with_its_conditions():
    statement = permission(
        StatementId="s3invoke", SourceArn="arn:aws:s3:::my-bucket", SourceAccount="123456789012"
    ).statement(FN)
    assert statement == {
        "Sid": "s3invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FN,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "123456789012"},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
        },
    }
    assert list(statement) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]


def test_organization_function_url_and_token_conditions():
    statement = Permission(
        statement_id="sid",
        action=INVOKE_ACTION,
        principal="*",
        principal_org_id="o-a1b2c3d4e5f",
        function_url_auth_type="NONE",
        event_source_token="tok",
        invoked_via_function_url=True,
    ).statement(FN)
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:PrincipalOrgID": "o-a1b2c3d4e5f",
            "lambda:EventSourceToken": "tok",
            "lambda:FunctionUrlAuthType": "NONE",
        },
        "Bool": {"lambda:InvokedViaFunctionUrl": "true"},
    }
    assert "Condition" not in permission().statement(FN)


@pytest.mark.parametrize(
    ("principal", "element"),
    [
        ("s3.amazonaws.com", {"Service": "s3.amazonaws.com"}),
        ("alexa-appkit.amazon.com", {"Service": "alexa-appkit.amazon.com"}),
        ("123456789012", {"AWS": "arn:aws:iam::123456789012:root"}),
        ("*", "*"),
        (ALICE, {"AWS": ALICE}),
        ("arn:aws:iam::210987654321:role/deployer", {"AWS": "arn:aws:iam::210987654321:role/deployer"}),
    ],
)
def test_principal_forms(principal, element):
    assert principal_element(principal) == element


@pytest.mark.parametrize("principal", ["alice", "12345", "s3"])
def test_a_principal_of_no_known_form_is_invalid(principal):
    code, message = code_of(lambda: principal_element(principal))
    assert code == "InvalidParameterValueException"
    assert message == "The provided principal was invalid. Please check the principal and try again."


def test_requests_are_checked_against_the_api_model_first():
    code, message = code_of(lambda: Permission.from_request({"StatementId": "a", "Action": "lambda:*"}))
    assert code == "ValidationException"
    assert "Value null at 'principal'" in message
    code, message = code_of(lambda: permission(StatementId="has space"))
    assert (code, message) == (
        "ValidationException",
        "1 validation error detected: Value 'has space' at 'statementId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
    )


def test_policy_document_is_compact_json_with_version_and_default_id():
    text = render([permission().statement(FN)])
    assert text.startswith('{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"sid",')
    assert json.loads(text)["Statement"][0]["Resource"] == FN


# ---- the decision
def _statement(principal: str, action: str = INVOKE_ACTION, resource: str = FN, **fields: object):
    return permission(Principal=principal, Action=action, **fields).statement(resource)


@pytest.mark.parametrize("action", ["lambda:InvokeFunction", "lambda:*", "*", "lambda:invokefunction"])
def test_invoke_is_allowed_by_invoke_any_lambda_action_or_any_action(action):
    assert allows([_statement(ALICE, action)], caller=ALICE, action=INVOKE_ACTION, resource=FN)


def test_other_actions_do_not_allow_invoke():
    assert not allows(
        [_statement(ALICE, "lambda:GetFunction")], caller=ALICE, action=INVOKE_ACTION, resource=FN
    )


@pytest.mark.parametrize(
    ("principal", "caller", "allowed"),
    [
        (ALICE, ALICE, True),
        (ALICE, "arn:aws:iam::210987654321:user/bob", False),
        ("210987654321", ALICE, True),  # the account's root stands for all its principals
        ("123456789012", ALICE, False),
        ("*", ALICE, True),
        ("s3.amazonaws.com", ALICE, False),
        (
            "arn:aws:iam::210987654321:role/deployer",
            "arn:aws:sts::210987654321:assumed-role/deployer/s1",
            True,
        ),
        (
            "arn:aws:iam::210987654321:role/ops/deployer",
            "arn:aws:sts::210987654321:assumed-role/deployer/s",
            True,
        ),
        ("arn:aws:iam::210987654321:role/deployer", "arn:aws:sts::210987654321:assumed-role/other/s1", False),
    ],
)
def test_principal_matching(principal, caller, allowed):
    assert allows([_statement(principal)], caller=caller, action=INVOKE_ACTION, resource=FN) is allowed


def test_the_resource_must_be_the_arn_the_permission_was_added_for():
    # "Versioning, aliases and resource policies": a permission applies only to the ARN it was added with.
    unqualified, alias = [_statement(ALICE)], [_statement(ALICE, resource=f"{FN}:PROD")]
    assert allows(unqualified, caller=ALICE, action=INVOKE_ACTION, resource=FN)
    assert not allows(unqualified, caller=ALICE, action=INVOKE_ACTION, resource=f"{FN}:PROD")
    assert allows(alias, caller=ALICE, action=INVOKE_ACTION, resource=f"{FN}:PROD")
    assert not allows(alias, caller=ALICE, action=INVOKE_ACTION, resource=FN)


def test_conditions_hold_only_when_the_request_context_satisfies_them():
    limited = [
        _statement("s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket-*", SourceAccount="123456789012")
    ]
    kwargs = {"caller": "s3.amazonaws.com", "action": INVOKE_ACTION, "resource": FN}
    assert allows(
        limited,
        **kwargs,
        context={"aws:SourceArn": "arn:aws:s3:::bucket-1", "aws:SourceAccount": "123456789012"},
    )
    assert not allows(
        limited,
        **kwargs,
        context={"aws:SourceArn": "arn:aws:s3:::other", "aws:SourceAccount": "123456789012"},
    )
    assert not allows(limited, **kwargs)  # a key missing from the request fails the condition


def test_no_statements_deny_and_the_denial_message_is_lambdas():
    assert not allows([], caller=ALICE, action=INVOKE_ACTION, resource=FN)
    assert denial_message(ALICE, INVOKE_ACTION, FN) == (
        f"User: {ALICE} is not authorized to perform: lambda:InvokeFunction on resource: {FN} "
        "because no resource-based policy allows the lambda:InvokeFunction action"
    )


# ---- the store
def test_add_get_remove_and_revision_ids(tmp_path):
    store = PolicyStore(tmp_path / "policies.json")
    assert code_of(lambda: store.get("fn", None)) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )
    store.add("fn", None, _statement(ALICE), revision_id=None)
    statements, first = store.get("fn", None)
    assert [s["Sid"] for s in statements] == ["sid"]
    store.add("fn", None, permission(StatementId="two").statement(FN), revision_id=first)
    _, second = store.get("fn", None)
    assert second != first
    store.remove("fn", None, "sid", revision_id=second)
    assert [s["Sid"] for s in store.get("fn", None)[0]] == ["two"]
    store.remove("fn", None, "two", revision_id=None)
    assert code_of(lambda: store.get("fn", None))[0] == "ResourceNotFoundException"


def test_a_duplicate_statement_id_conflicts(tmp_path):
    store = PolicyStore(tmp_path / "policies.json")
    store.add("fn", None, _statement(ALICE), revision_id=None)
    code, message = code_of(lambda: store.add("fn", None, _statement("*"), revision_id=None))
    assert code == "ResourceConflictException"
    assert message == (
        "The statement id (sid) provided already exists. Please provide a new statement id, "
        "or remove the existing statement."
    )
    store.add("fn", "PROD", _statement(ALICE, resource=f"{FN}:PROD"), revision_id=None)  # another policy


def test_a_stale_revision_id_fails_the_precondition_and_changes_nothing(tmp_path):
    store = PolicyStore(tmp_path / "policies.json")
    store.add("fn", None, _statement(ALICE), revision_id=None)
    code, _ = code_of(
        lambda: store.add("fn", None, permission(StatementId="b").statement(FN), revision_id="old")
    )
    assert code == "PreconditionFailedException"
    assert (
        code_of(lambda: store.remove("fn", None, "sid", revision_id="old"))[0]
        == "PreconditionFailedException"
    )
    assert [s["Sid"] for s in store.get("fn", None)[0]] == ["sid"]


def test_removing_an_unknown_statement_is_not_found(tmp_path):
    store = PolicyStore(tmp_path / "policies.json")
    assert (
        code_of(lambda: store.remove("fn", None, "nope", revision_id=None))[0] == "ResourceNotFoundException"
    )
    store.add("fn", None, _statement(ALICE), revision_id=None)
    code, message = code_of(lambda: store.remove("fn", None, "nope", revision_id=None))
    assert (code, message) == ("ResourceNotFoundException", "The resource you requested does not exist.")


def test_a_policy_past_20_kb_is_refused_and_left_as_it_was(tmp_path):
    store = PolicyStore(tmp_path / "policies.json")
    count = 0
    with pytest.raises(LambdaEmuError) as caught:
        while True:
            arn = "arn:aws:s3:::" + "b" * 200 + str(count)
            store.add(
                "fn", None, permission(StatementId=f"s{count}", SourceArn=arn).statement(FN), revision_id=None
            )
            count += 1
    assert api_code(caught.value) == "PolicyLengthExceededException"
    assert caught.value.message.endswith(f"is bigger than the limit ({MAX_POLICY_BYTES}).")
    statements, _ = store.get("fn", None)
    assert len(statements) == count
    assert len(render(statements).encode()) <= MAX_POLICY_BYTES


def test_policies_survive_a_reopened_store(tmp_path):
    path = tmp_path / "state" / "policies.json"
    store = PolicyStore(path)
    store.add("fn", None, _statement(ALICE), revision_id=None)
    store.add("fn", "PROD", _statement("*", resource=f"{FN}:PROD"), revision_id=None)
    _, revision = store.get("fn", None)
    reopened = PolicyStore(path)
    statements, same_revision = reopened.get("fn", None)
    assert statements == [_statement(ALICE)]
    assert same_revision == revision
    assert reopened.statements("fn", "PROD")[0]["Resource"] == f"{FN}:PROD"
    reopened.forget("fn")
    assert PolicyStore(path).statements("fn", None) == []


def test_a_corrupt_policy_file_is_a_config_error_with_a_hint(tmp_path):
    path = tmp_path / "policies.json"
    path.write_text("{not json")
    with pytest.raises(LambdaEmuError) as caught:
        PolicyStore(path).statements("fn", None)
    assert caught.value.hint


def test_principals_file_maps_access_keys_to_arns(tmp_path):
    assert load_principals(tmp_path) == {}
    (tmp_path / "principals.json").write_text(json.dumps({"AKIAEXAMPLE": ALICE}))
    assert load_principals(tmp_path) == {"AKIAEXAMPLE": Principal(ALICE)}
    (tmp_path / "principals.json").write_text(json.dumps(["AKIAEXAMPLE"]))
    with pytest.raises(LambdaEmuError):
        load_principals(tmp_path)


def test_principals_file_may_hold_each_keys_secret(tmp_path, caplog):
    file = tmp_path / "principals.json"
    file.write_text(json.dumps({"AKIAA": {"principal": ALICE, "secret": "s3cr3t"}, "AKIAB": ALICE}))
    with caplog.at_level("INFO", logger="lambda_emu.control.policy"):
        first = load_principals(tmp_path)
        again = load_principals(tmp_path)
    assert first == again == {"AKIAA": Principal(ALICE, "s3cr3t"), "AKIAB": Principal(ALICE)}
    # Said once: the keys without a secret are trusted without their signature being checked.
    told = [r.getMessage() for r in caplog.records if "AKIAB" in r.getMessage()]
    assert len(told) == 1 and "unchecked" in told[0]
    for wrong in ({"AKIAA": {"principal": ALICE, "secret": 1}}, {"AKIAA": {"secret": "s"}}, {"AKIAA": ""}):
        file.write_text(json.dumps(wrong))
        with pytest.raises(LambdaEmuError):
            load_principals(tmp_path)


def test_a_changed_principals_file_is_read_again(tmp_path):
    import os
    import time

    file = tmp_path / "principals.json"
    file.write_text(json.dumps({"AKIAA": ALICE}))
    old = time.time() - 10
    os.utime(file, (old, old))
    assert load_principals(tmp_path) == {"AKIAA": Principal(ALICE)}
    file.write_text(json.dumps({"AKIAB": ALICE}))  # the same size, a new time
    assert load_principals(tmp_path) == {"AKIAB": Principal(ALICE)}
    file.write_text(json.dumps({"AKIAC": ALICE}))  # again within the clock's tick: still read again
    assert load_principals(tmp_path) == {"AKIAC": Principal(ALICE)}
    file.unlink()
    assert load_principals(tmp_path) == {}
