"""Isolation between a function and everything else on the host's loopback, probed from inside a function
as hostile code would (tests/e2e/isolation/thief.py): another environment's Runtime API does not hand it
events, and serve's Lambda API refuses it unless serve was started with --allow-functions-api."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Served, containers_of, start_server

TEMPLATE = Path(__file__).resolve().parent / "isolation" / "template.yaml"


def _serve(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[Served]:
    server = start_server(tmp_path_factory.mktemp("isolation"), "--no-watch", *args, template=TEMPLATE)
    yield server
    pid = server.process.pid
    assert server.stop() == 0, server.log()
    assert containers_of(pid) == []


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory)


def _invoke(server: Served, name: str, event: dict) -> dict:
    answer = server.client().invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def test_a_function_cannot_take_another_environments_invocations(guarded: Served) -> None:
    before = _invoke(guarded, "Victim", {"n": 1})  # warm: its runtime now waits in GET /next
    report = _invoke(guarded, "Thief", {"api": guarded.url})
    print(
        f"thief: {report['listeners']} loopback listeners tried, {report['refused']} refused with 403, "
        f"events stolen from {len(report['stolen'])}"
    )
    assert report["stolen"] == []
    assert report["refused"] >= 1  # the victim's Runtime API at least (and serve's own endpoint)
    after = _invoke(guarded, "Victim", {"n": 2})  # the victim's runtime got its next event, unharmed
    assert after["victim_saw"] == {"n": 2} and after["request_id"] != before["request_id"]


def test_serve_refuses_a_functions_call_to_its_lambda_api(guarded: Served) -> None:
    report = _invoke(guarded, "Thief", {"api": guarded.url})
    assert report["api"]["status"] == 403
    assert report["api"]["type"] == "AccessDeniedException"
    body = json.loads(report["api"]["body"])
    assert body["Type"] == "User" and "--allow-functions-api" in body["message"]
    # The user's own clients are answered as ever.
    names = {f["FunctionName"] for f in guarded.client().list_functions()["Functions"]}
    assert {"Victim", "Thief"} <= names


def test_allow_functions_api_lets_functions_call_serve(tmp_path_factory: pytest.TempPathFactory) -> None:
    for server in _serve(tmp_path_factory, "--allow-functions-api"):
        report = _invoke(server, "Thief", {"api": server.url})
        assert report["api"]["status"] == 200
        listed = {f["FunctionName"] for f in json.loads(report["api"]["body"])["Functions"]}
        assert listed == {"Victim", "Thief"}
        assert report["stolen"] == []  # the Runtime APIs stay closed to it all the same
