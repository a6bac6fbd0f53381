"""SAM CLI's --docker-network and --container-host: their host-network values are taken (what lambda-emu
runs), any other is a usage error that says why, before anything runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lambda_emu.cli import main


@pytest.mark.parametrize("command", ["invoke", "serve"])
@pytest.mark.parametrize(
    ("option", "value", "why"),
    [("--docker-network", "my-net", "only 'host' is taken"), ("--container-host", "10.1.2.3", "127.0.0.1")],
)
def test_other_networks_are_refused_saying_why(command: str, option: str, value: str, why: str) -> None:
    # A bad value of another option too: if ours were not refused first, the command would still fail.
    other = ["--port", "not-a-port"] if command == "serve" else ["--memory-size", "not-a-size"]
    result = CliRunner().invoke(main, [command, *other, option, value], catch_exceptions=False)
    assert result.exit_code == 2
    assert why in result.output and value in result.output


@pytest.mark.parametrize("command", ["invoke", "serve"])
def test_the_host_network_values_are_taken(command: str) -> None:
    args = [command, "--docker-network", "host", "--container-host", "localhost", "--help"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and "--docker-network" in result.output
