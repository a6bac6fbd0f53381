"""Tenant isolation mode through boto3 against a live `lambda-emu serve`: a function created with
`TenancyConfig` PER_TENANT shows it, needs X-Amz-Tenant-Id on every invoke, hands it to the handler as
`context.tenant_id`, and runs each tenant in environments of its own (Developer Guide: tenant isolation)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Reports, Served, start_server
from tests.e2e.test_api_account_tags import error_of
from tests.e2e.test_api_management import ROLE, create
from tests.e2e.test_api_provisioned import zipped

# Which environment ran the call (one id per runtime process) and for which tenant; an Event invocation
# tells it to the test's loopback sink, as nothing answers it.
HANDLER = """
import json, urllib.request, uuid
ENVIRONMENT = uuid.uuid4().hex
def handler(event, context):
    ran = {"tenant": context.tenant_id, "environment": ENVIRONMENT}
    if event.get("report_to"):
        record = json.dumps({"event": event, **ran}).encode()
        urllib.request.urlopen(urllib.request.Request(event["report_to"], data=record), timeout=5).close()
    return ran
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("tenancy") / "state")
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def told(client: Any, **fields: Any) -> dict[str, Any]:
    answer = client.invoke(FunctionName="tenant-fn", **fields)
    assert "FunctionError" not in answer, answer
    return json.loads(answer["Payload"].read())  # type: ignore[no-any-return]


def test_each_tenant_runs_in_environments_of_its_own_and_sees_its_id(
    served: Served, reports: Reports
) -> None:
    client = served.client()
    created = client.create_function(
        FunctionName="tenant-fn",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped(HANDLER)},
        TenancyConfig={"TenantIsolationMode": "PER_TENANT"},
    )
    assert created["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    client.get_waiter("function_active_v2").wait(FunctionName="tenant-fn", WaiterConfig={"Delay": 1})
    assert client.get_function_configuration(FunctionName="tenant-fn")["TenancyConfig"] == {
        "TenantIsolationMode": "PER_TENANT"
    }

    blue = told(client, TenantId="blue")
    assert blue["tenant"] == "blue"
    assert told(client, TenantId="blue") == blue  # the tenant's warm environment again
    green = told(client, TenantId="green")
    assert green["tenant"] == "green" and green["environment"] != blue["environment"]
    assert told(client, TenantId="blue") == blue  # never green's

    # An Event invocation keeps its tenant through the queue: it runs as blue, in an environment of blue's.
    # Which one is not promised (Lambda does not guarantee reuse: a sync call in flight when the queue
    # delivers gets another), only that no environment ever serves two tenants.
    accepted = client.invoke(
        FunctionName="tenant-fn",
        InvocationType="Event",
        TenantId="blue",
        Payload=json.dumps({"report_to": reports.url, "id": "queued"}).encode(),
    )
    assert accepted["StatusCode"] == 202
    (queued,) = reports.wait_for(1, id="queued")
    assert queued["tenant"] == "blue" and queued["environment"] != green["environment"]
    seen = {"blue": {blue["environment"], queued["environment"]}, "green": {green["environment"]}}
    for tenant in ["green", "blue", "green", "blue"]:
        ran = told(client, TenantId=tenant)
        assert ran["tenant"] == tenant
        seen[tenant].add(ran["environment"])
    assert not seen["blue"] & seen["green"], seen

    status, code, _ = error_of(client.invoke, FunctionName="tenant-fn")
    assert (status, code) == (400, "InvalidParameterValueException")
    assert error_of(client.invoke, FunctionName="tenant-fn", TenantId="no#hash") == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'no#hash' at 'tenantId' failed to satisfy constraint: Member "
        r"must satisfy regular expression pattern: [a-zA-Z0-9\._:\/=+\-@ ]+",
    )
    # A function without tenant isolation takes no TenantId, and its handler sees none.
    create(client, "tenant-none")
    status, code, _ = error_of(client.invoke, FunctionName="tenant-none", TenantId="blue")
    assert (status, code) == (400, "InvalidParameterValueException")
