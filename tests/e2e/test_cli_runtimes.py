"""The installed `lambda-emu` command with the Node.js and OS-only runtimes, as a user runs it."""

from __future__ import annotations

import json

from tests.e2e import test_cli as cli

run = cli.run  # the command as the other CLI tests run it, from sample_functions/


def invoke_ok(function: str) -> dict[str, object]:
    done = run("invoke", function, "--payload", '{"name": "Ada"}')
    assert done.returncode == 0, done.stderr
    assert "START RequestId: " in done.stderr and "\tInit Duration: " in done.stderr
    answer = json.loads(done.stdout)
    assert isinstance(answer, dict)
    return answer


def test_invoke_runs_a_node_function() -> None:
    assert invoke_ok("NodeHelloFunction") == {"message": "Hello, Ada!", "calls": 1}


def test_invoke_runs_a_custom_runtime_bootstrap() -> None:
    assert invoke_ok("ProvidedFunction")["event"] == {"name": "Ada"}


def test_a_node_error_exits_1_with_the_node_error_shape() -> None:
    done = run("invoke", "NodeErrorFunction", "--payload", '{"amount": 3}')
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert (error["errorType"], error["errorMessage"]) == ("PaymentDeclined", "card declined for 3")
    assert "\tERROR\tInvoke Error \t" in done.stderr


def test_runtimes_list_names_every_runtime() -> None:
    done = run("runtimes", "list")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:]}
    assert {"nodejs18.x", "nodejs20.x", "provided", "provided.al2023"} <= listed
