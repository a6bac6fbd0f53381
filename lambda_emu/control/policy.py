"""Functions' resource-based policies (AddPermission / RemovePermission / GetPolicy): statements in Lambda's
shape per function and qualifier, kept durably in the state directory, and the pure allow decision."""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu import arns
from lambda_emu.control.statefile import JsonStateFile
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import ApiError, ConfigError

LOG = logging.getLogger(__name__)

POLICY_FILE = "policies.json"
PRINCIPALS_FILE = "principals.json"
# "Lambda quotas": a function's resource-based policy is at most 20 KB.
MAX_POLICY_BYTES = 20 * 1024
INVOKE_ACTION = "lambda:InvokeFunction"

_NOT_FOUND = "The resource you requested does not exist."
_NO_POLICY = "No policy is associated with the given resource."  # GetPolicy's own answer
_ACCOUNT = re.compile(r"^\d{12}$")
# Service principals are DNS names of a service: s3.amazonaws.com, alexa-appkit.amazon.com, ...cn.
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazon(aws)?\.com(\.cn)?$")
_ROLE_SESSION = re.compile(
    r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/"
)
_ARN_ACCOUNT = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:(?P<account>\d{12}):")
Statement = dict[str, Any]
_PRINCIPALS_HINT = (
    'For example {"AKIAEXAMPLE": "arn:aws:iam::123456789012:user/alice"}, or with the key\'s secret '
    '{"AKIAEXAMPLE": {"principal": "arn:aws:iam::123456789012:user/alice", "secret": "…"}}.'
)
# The principals files whose keys without a secret were already told (once per file and process).
_WARNED: dict[Path, list[str]] = {}
# principals.json as last read, by path: the file's (inode, mtime, size) then, and what it held.
_READ: dict[Path, tuple[tuple[int, int, int], dict[str, Principal]]] = {}
_FILE_HINT = "Fix or remove the file (it holds what AddPermission stored)."


@dataclass(frozen=True)
class Permission:
    """An AddPermission request's fields (the API model's names)."""

    statement_id: str
    action: str
    principal: str
    source_arn: str | None = None
    source_account: str | None = None
    principal_org_id: str | None = None
    event_source_token: str | None = None
    function_url_auth_type: str | None = None
    invoked_via_function_url: bool | None = None

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> Permission:
        """The fields of an AddPermission body, after the API model's checks (ValidationException)."""
        validate_function_request("AddPermission", body)
        return cls(
            statement_id=body["StatementId"],
            action=body["Action"],
            principal=body["Principal"],
            source_arn=body.get("SourceArn"),
            source_account=body.get("SourceAccount"),
            principal_org_id=body.get("PrincipalOrgID"),
            event_source_token=body.get("EventSourceToken"),
            function_url_auth_type=body.get("FunctionUrlAuthType"),
            invoked_via_function_url=body.get("InvokedViaFunctionUrl"),
        )

    def statement(self, resource_arn: str) -> Statement:
        """The policy statement Lambda writes for this permission on `resource_arn` (the function's ARN,
        with the qualifier when one was given), keys in Lambda's order."""
        statement: Statement = {
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": principal_element(self.principal),
            "Action": self.action,
            "Resource": resource_arn,
        }
        condition: dict[str, dict[str, str]] = {}
        equals: dict[str, str] = {}
        if self.source_account:
            equals["AWS:SourceAccount"] = self.source_account
        if self.principal_org_id:
            equals["aws:PrincipalOrgID"] = self.principal_org_id
        if self.event_source_token:
            equals["lambda:EventSourceToken"] = self.event_source_token
        if self.function_url_auth_type:
            equals["lambda:FunctionUrlAuthType"] = self.function_url_auth_type
        if equals:
            condition["StringEquals"] = equals
        if self.source_arn:
            # The API model: "Lambda configures the comparison using the StringLike operator"; the
            # statements it writes use ArnLike, which compares the same way part by part.
            condition["ArnLike"] = {"AWS:SourceArn": self.source_arn}
        if self.invoked_via_function_url:
            condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
        if condition:
            statement["Condition"] = condition
        return statement


def principal_element(principal: str) -> str | dict[str, str]:
    """AddPermission's Principal as the policy states it: `*`, an account (its root ARN), an IAM ARN or a
    service principal."""
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": arns.arn("iam", "", principal, "root")}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    if _SERVICE.match(principal):
        return {"Service": principal}
    raise ConfigError("The provided principal was invalid. Please check the principal and try again.")


def render(statements: Iterable[Statement]) -> str:
    """The policy document as GetPolicy returns it: compact JSON, Id "default"."""
    document = {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}
    return json.dumps(document, separators=(",", ":"))


def compact(statement: Statement) -> str:
    return json.dumps(statement, separators=(",", ":"))


# ---- the decision
def allows(
    statements: Iterable[Statement],
    *,
    caller: str,
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
) -> bool:
    """Whether a statement allows `caller` (an IAM ARN, or a service principal) to do `action` on
    `resource`. Every statement is Allow; a condition key missing from `context` fails its condition, as
    IAM evaluates it (so a statement limited by SourceArn never allows a direct call)."""
    keys = {key.lower(): value for key, value in (context or {}).items()}
    return any(
        _principal_matches(s.get("Principal"), caller)
        and _any_matches(s.get("Action"), action, fold_case=True)
        and _any_matches(s.get("Resource"), resource, fold_case=False)
        and _conditions_hold(s.get("Condition") or {}, keys)
        for s in statements
        if s.get("Effect") == "Allow"
    )


def denial_message(caller: str, action: str, resource: str) -> str:
    return (
        f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
        f"because no resource-based policy allows the {action} action"
    )


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _principal_matches(element: object, caller: str) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    if caller in _as_list(element.get("Service")):
        return True
    account = _ARN_ACCOUNT.match(caller)
    session = _ROLE_SESSION.match(caller)
    for named in _as_list(element.get("AWS")):
        if named in ("*", caller):
            return True
        # An account's root ARN stands for every principal of that account ("AWS JSON policy elements:
        # Principal"); a role's ARN for each of its sessions (arn:aws:sts::…:assumed-role/ROLE/SESSION).
        root = arns.parse(named)
        if (
            account
            and root
            and (root.service, root.account, root.resource) == ("iam", account["account"], "root")
        ):
            return True
        if session and re.match(
            rf"^arn:[^:]+:iam::{session['account']}:role/(.*/)?{re.escape(session['role'])}$", named
        ):
            return True
    return False


def _any_matches(patterns: object, value: str, *, fold_case: bool) -> bool:
    # IAM: action names are case-insensitive, resource ARNs are not; both take * and ? wildcards.
    if fold_case:
        return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in _as_list(patterns))
    return any(fnmatch.fnmatchcase(value, p) for p in _as_list(patterns))


def _conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None or not _compare(operator, actual, _as_list(expected)):
                return False
    return True


def _compare(operator: str, actual: str, expected: list[str]) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in [e.lower() for e in expected]
    if operator in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    return False  # an operator this emulator does not evaluate never allows


# ---- storage
class PolicyStore:
    """Every function's policy, one per (function, qualifier; None = the unqualified function), in one JSON
    file under the state directory, replaced atomically on each change. Loaded on first use."""

    def __init__(self, path: Path) -> None:
        # name → qualifier ("" for the unqualified function) → {"Statement": [...], "RevisionId": ...}
        self._file = JsonStateFile(path, "policies", holds="the functions' policies", hint=_FILE_HINT)
        self._lock = self._file.lock

    def get(self, function: str, qualifier: str | None) -> tuple[list[Statement], str]:
        """The policy's statements and RevisionId; ResourceNotFoundException when there is none."""
        with self._lock:
            policy = self._loaded().get(function, {}).get(qualifier or "")
            if not policy:
                raise ApiError("ResourceNotFoundException", _NO_POLICY)
            return list(policy["Statement"]), policy["RevisionId"]

    def statements(self, function: str, qualifier: str | None) -> list[Statement]:
        with self._lock:
            policy = self._loaded().get(function, {}).get(qualifier or "")
            return list(policy["Statement"]) if policy else []

    def check_invoke(self, caller: str, function: str, qualifier: str | None, resource_arn: str) -> None:
        """AccessDeniedException unless the policy of `function` at `qualifier` lets `caller` invoke
        `resource_arn` (only the resource-based policy counts: the emulator has no identity policies)."""
        if not allows(
            self.statements(function, qualifier), caller=caller, action=INVOKE_ACTION, resource=resource_arn
        ):
            raise ApiError("AccessDeniedException", denial_message(caller, INVOKE_ACTION, resource_arn))

    def add(
        self, function: str, qualifier: str | None, statement: Statement, *, revision_id: str | None
    ) -> None:
        with self._lock:
            policies = self._loaded().setdefault(function, {})
            current = policies.get(qualifier or "") or {"Statement": [], "RevisionId": None}
            check_revision(revision_id, current["RevisionId"])
            check_new_statement_id(current["Statement"], statement["Sid"])
            policies[qualifier or ""] = revised([*current["Statement"], statement])
            self._save()

    def remove(
        self, function: str, qualifier: str | None, statement_id: str, *, revision_id: str | None
    ) -> None:
        with self._lock:
            policies = self._loaded().get(function, {})
            current = policies.get(qualifier or "")
            if not current or not any(s["Sid"] == statement_id for s in current["Statement"]):
                raise ApiError("ResourceNotFoundException", _NOT_FOUND)
            check_revision(revision_id, current["RevisionId"])
            remaining = [s for s in current["Statement"] if s["Sid"] != statement_id]
            if remaining:
                policies[qualifier or ""] = {"Statement": remaining, "RevisionId": new_revision_id()}
            else:  # the last statement gone, the function has no policy: GetPolicy answers 404 again
                del policies[qualifier or ""]
            self._save()

    def forget(self, function: str, qualifier: str | None = None, *, every_qualifier: bool = True) -> None:
        """Drop a deleted function's policies (all of them, or one qualifier's, e.g. a deleted alias)."""
        with self._lock:
            policies = self._loaded()
            if every_qualifier:
                found = policies.pop(function, None) is not None
            else:
                found = policies.get(function, {}).pop(qualifier or "", None) is not None
            if found:
                self._save()

    def _loaded(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self._file.content()

    def _save(self) -> None:
        self._file.save()


def check_revision(given: str | None, current: str | None, *, getter: str = "GetPolicy") -> None:
    """PreconditionFailedException when a RevisionId was given and is not the policy's (None: no policy);
    `getter` is the call the message sends the caller to (GetPolicy, or GetLayerPolicy for a layer's)."""
    if given is not None and given != current:
        raise ApiError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            f"Call the {getter} API to retrieve the latest Revision Id",
        )


def check_new_statement_id(statements: Iterable[Statement], sid: str) -> None:
    if any(existing["Sid"] == sid for existing in statements):
        raise ApiError(
            "ResourceConflictException",
            f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement.",
        )


def revised(statements: list[Statement]) -> dict[str, Any]:
    """A policy of `statements` with a new RevisionId (each change gets one), refused past the size limit."""
    size = len(render(statements).encode())
    if size > MAX_POLICY_BYTES:
        raise ApiError(
            "PolicyLengthExceededException",
            f"The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES}).",
        )
    return {"Statement": statements, "RevisionId": new_revision_id()}


def new_revision_id() -> str:
    return str(uuid.uuid4())


# ---- callers: who signed a request
@dataclass(frozen=True)
class Principal:
    """Who an access key belongs to, and its secret access key when the state directory holds it (None:
    the key's signatures cannot be checked)."""

    arn: str
    secret: str | None = None


def load_principals(state_dir: Path) -> dict[str, Principal]:
    """`principals.json` of the state directory: access key id → the principal's ARN, alone or with the
    key's secret, e.g. {"AKIAEXAMPLE": "arn:aws:iam::123456789012:user/alice"} or {"AKIAEXAMPLE":
    {"principal": "arn:…", "secret": "…"}}; empty when there is no such file."""
    path = state_dir / PRINCIPALS_FILE
    # Looked up on every signed request to the API: read again only when the file changed (a stat, where
    # a read and parse cost several times as much). File times are coarse (a clock tick), so a file changed
    # within the last second is read every time, as git treats a "racily clean" index entry.
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.", hint=_PRINCIPALS_HINT) from exc
    version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _READ.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    try:
        mapping = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.", hint=_PRINCIPALS_HINT) from exc
    principals = (
        {key: _principal(value) for key, value in mapping.items()} if isinstance(mapping, dict) else {}
    )
    checked = {key: found for key, found in principals.items() if found is not None}
    if not isinstance(mapping, dict) or len(checked) != len(mapping):
        raise ConfigError(
            f"{path} must be a JSON object of access key ids to principal ARNs.", hint=_PRINCIPALS_HINT
        )
    unverifiable = sorted(key for key, found in checked.items() if found.secret is None)
    if unverifiable and _WARNED.get(path) != unverifiable:
        _WARNED[path] = unverifiable
        LOG.info(
            "%s: no secret for %s: requests signed with these keys are taken as their principal's, "
            "their signature unchecked",
            path,
            ", ".join(unverifiable),
        )
    if stat.st_mtime_ns < time.time_ns() - 1_000_000_000:
        _READ[path] = (version, checked)
    return checked


def _principal(value: object) -> Principal | None:
    if isinstance(value, str) and value:
        return Principal(value)
    if isinstance(value, dict) and set(value) <= {"principal", "secret"}:
        arn, secret = value.get("principal"), value.get("secret")
        if isinstance(arn, str) and arn and (secret is None or (isinstance(secret, str) and secret)):
            return Principal(arn, secret)
    return None
