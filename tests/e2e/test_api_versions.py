"""PublishVersion through boto3 against a live `lambda-emu serve`, answered whole: a new version whenever
$LATEST's code or configuration changed since the last one (a Description change is enough), the last one
again when nothing did (Lambda API Reference: PublishVersion)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Served, start_server
from tests.e2e.test_api_management import create, updated
from tests.e2e.test_api_provisioned import answer_of

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("versions") / "state")
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def as_version(
    latest: dict[str, Any], number: str, published: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    """What PublishVersion answers for `number` published from `latest`: the same configuration under the
    version's ARN and number, with a RevisionId of its own."""
    assert UUID.match(published["RevisionId"]) and published["RevisionId"] != latest["RevisionId"]
    return {
        **latest,
        "FunctionArn": latest["FunctionArn"] + ":" + number,
        "Version": number,
        "RevisionId": published["RevisionId"],
        "LastModified": published["LastModified"],
        **changes,
    }


def differences(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Every member whose value differs, (got, expected): an empty mapping when the answers are the same."""
    return {
        key: (got.get(key), expected.get(key))
        for key in {*got, *expected}
        if got.get(key) != expected.get(key)
    }


def test_a_description_change_alone_publishes_a_new_version(served: Served) -> None:
    client = served.client()
    create(client, "ver-described", Description="first")
    latest = answer_of(client.get_function_configuration(FunctionName="ver-described"))[1]
    status, one = answer_of(client.publish_version(FunctionName="ver-described"))
    assert (status, one) == (201, as_version(latest, "1", one))

    # Nothing changed since: the last version again, whatever Description PublishVersion is given.
    assert answer_of(client.publish_version(FunctionName="ver-described", Description="other")) == (201, one)

    client.update_function_configuration(FunctionName="ver-described", Description="second")
    updated(client, "ver-described")
    latest = answer_of(client.get_function_configuration(FunctionName="ver-described"))[1]
    status, two = answer_of(client.publish_version(FunctionName="ver-described"))
    assert status == 201
    assert differences(two, as_version(latest, "2", two, Description="second")) == {}
    assert answer_of(client.get_function_configuration(FunctionName="ver-described", Qualifier="2")) == (
        200,
        two,
    )
    # The version's own Description, when PublishVersion gives one, is the version's only.
    client.update_function_configuration(FunctionName="ver-described", Description="third")
    updated(client, "ver-described")
    latest = answer_of(client.get_function_configuration(FunctionName="ver-described"))[1]
    status, three = answer_of(client.publish_version(FunctionName="ver-described", Description="release 3"))
    assert (status, three) == (201, as_version(latest, "3", three, Description="release 3"))
    assert client.publish_version(FunctionName="ver-described")["Version"] == "3"
