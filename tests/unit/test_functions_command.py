"""`lambda-emu functions` against a stand-in Lambda API (no Docker): pagination, masking, what update sends,
and errors printed as "<Type>: <message>"."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambda_emu.cleanup import owner_token
from lambda_emu.cli import main

CONFIG = {
    "FunctionName": "fn",
    "Runtime": "python3.11",
    "MemorySize": 128,
    "Timeout": 3,
    "Handler": "app.handler",
    "LastModified": "2026-01-01T00:00:00.000+0000",
    "Environment": {"Variables": {"TOKEN": "s3cret", "STAGE": "dev"}},
    "RevisionId": "rev-1",
}


class FakeApi:
    """Answers ListFunctions in two pages, GetFunction, Get/UpdateFunctionConfiguration; records PUTs."""

    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object, error: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/2015-03-31/functions/":
                    self._answer(200, {"Functions": [CONFIG], "NextMarker": "page2"})
                elif self.path == "/2015-03-31/functions/?Marker=page2":
                    self._answer(
                        200, {"Functions": [{**CONFIG, "FunctionName": "second", "MemorySize": 512}]}
                    )
                elif self.path == "/2015-03-31/functions/fn":
                    self._answer(200, {"Configuration": CONFIG, "Code": {"RepositoryType": "S3"}})
                elif self.path == "/2015-03-31/functions/fn/configuration":
                    self._answer(200, CONFIG)
                else:
                    message = {"Type": "User", "Message": "Function not found: arn:…:nope"}
                    self._answer(404, message, "ResourceNotFoundException")

            def do_PUT(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.puts.append(body)
                if body.get("MemorySize") == 64:
                    self._answer(
                        400, {"Type": "User", "message": "1 validation error detected"}, "ValidationException"
                    )
                    return
                self._answer(200, {**CONFIG, **body})

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeApi]:
    fake = FakeApi()
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    record = {"pid": 1, "owner": owner_token(), "url": fake.url, "template": str(template.resolve())}
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "server.json").write_text(json.dumps(record))
    yield fake
    fake.close()


def cli(tmp_path: Path, *args: str):
    template = str(tmp_path / "template.yaml")
    return CliRunner().invoke(
        main, ["--state-dir", str(tmp_path / "state"), "functions", *args, "-t", template]
    )


def test_list_follows_every_page_into_one_table(api, tmp_path):
    done = cli(tmp_path, "list")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].split()[:4] == ["NAME", "RUNTIME", "MEMORY", "TIMEOUT"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["fn", "python3.11", "128"],
        ["second", "python3.11", "512"],
    ]


def test_show_hides_environment_values_unless_asked(api, tmp_path):
    hidden = cli(tmp_path, "show", "fn")
    assert hidden.exit_code == 0, hidden.output
    assert "  TOKEN=****" in hidden.output and "s3cret" not in hidden.output
    shown = cli(tmp_path, "show", "fn", "--show-values")
    assert "  TOKEN=s3cret" in shown.output
    as_json = json.loads(cli(tmp_path, "show", "fn", "--json").output)
    assert as_json["Configuration"]["Environment"]["Variables"]["TOKEN"] == "****"


def test_update_sends_only_the_changes_merges_env_and_guards_with_the_revision(api, tmp_path):
    done = cli(tmp_path, "update", "fn", "--memory-size", "256", "--env", "NEW=1", "--unset-env", "STAGE")
    assert done.exit_code == 0, done.output
    assert api.puts == [
        {
            "MemorySize": 256,
            "Environment": {"Variables": {"TOKEN": "s3cret", "NEW": "1"}},
            "RevisionId": "rev-1",
        }
    ]
    assert "s3cret" not in done.output


def test_api_errors_print_type_and_message_and_exit_2(api, tmp_path):
    bad = cli(tmp_path, "update", "fn", "--memory-size", "64")
    assert bad.exit_code == 2
    assert "lambda-emu: error: ValidationException: 1 validation error detected" in bad.output
    missing = cli(tmp_path, "show", "nope")
    assert missing.exit_code == 2
    assert "lambda-emu: error: ResourceNotFoundException: Function not found" in missing.output


def test_update_without_a_change_is_a_usage_error(api, tmp_path):
    done = cli(tmp_path, "update", "fn")
    assert done.exit_code == 2
    assert "Nothing to update." in done.output
    assert api.puts == []
