"""The installed `lambda-emu generate-event` command, as a user runs it."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

EXE = shutil.which("lambda-emu")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    assert EXE, "lambda-emu is not installed (make install)"
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60)


def test_s3_put_prints_json_with_the_given_bucket_and_encoded_key() -> None:
    done = run("generate-event", "s3", "put", "--bucket", "photos", "--key", "2024/cat 1.jpg", "--size", "7")
    assert done.returncode == 0, done.stderr
    obj = json.loads(done.stdout)["Records"][0]["s3"]
    assert obj["bucket"]["name"] == "photos"
    assert (obj["object"]["key"], obj["object"]["size"]) == ("2024/cat+1.jpg", 7)


def test_json_fields_and_sam_style_options() -> None:
    done = run(
        "generate-event", "dynamodb", "update", "--table", "Orders", "--keys", '{"pk": "o#1"}',
        "--event-name", "INSERT",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["Records"][0]
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "o#1"}}
    assert record["eventSourceARN"].split(":")[5].startswith("table/Orders/stream/")
    done = run("generate-event", "sqs", "receive-message", "--queue-name", "jobs", "--body", "hi")
    assert json.loads(done.stdout)["Records"][0]["eventSourceARN"].endswith(":jobs")


def test_every_listed_event_prints_parseable_json() -> None:
    listing = run("generate-event", "--help")
    assert listing.returncode == 0, listing.stderr
    section = listing.stdout.split("Events (SERVICE EVENT):", 1)[1].splitlines()
    # entries start at column 2; wrapped help continues further right
    pairs = [line.split()[:2] for line in section if line.startswith("  ") and not line[2].isspace()]
    assert ["s3", "put"] in pairs and ["cloudwatch", "logs"] in pairs and len(pairs) >= 10
    for service, event in pairs:
        done = run("generate-event", service, event)
        assert done.returncode == 0, (service, event, done.stderr)
        assert isinstance(json.loads(done.stdout), dict)


def test_cloudwatch_logs_message_decodes() -> None:
    done = run("generate-event", "cloudwatch", "logs", "--message", "hello", "--log-group", "/aws/lambda/x")
    data = json.loads(done.stdout)["awslogs"]["data"]
    document = json.loads(gzip.decompress(base64.b64decode(data)))
    assert document["logGroup"] == "/aws/lambda/x" and document["logEvents"][0]["message"] == "hello"


def test_event_help_lists_its_fields() -> None:
    done = run("generate-event", "apigateway", "aws-proxy", "--help")
    assert done.returncode == 0
    for option in ("--method", "--path", "--body", "--query", "--headers", "--stage", "--region"):
        assert option in done.stdout, option


def test_region_follows_aws_region() -> None:
    assert EXE
    done = subprocess.run(
        [EXE, "generate-event", "sns", "notification", "--topic", "t"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **{k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"},
            "AWS_REGION": "ap-south-1",
        },
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Records"][0]["Sns"]["TopicArn"] == "arn:aws:sns:ap-south-1:123456789012:t"


def test_unknown_service_event_or_bad_value_exit_2_with_the_choices() -> None:
    done = run("generate-event", "s4", "put")
    assert done.returncode == 2 and done.stdout == ""
    assert "unknown event service 's4'; choose from: apigateway, cloudwatch, dynamodb" in done.stderr
    done = run("generate-event", "s3", "copy")
    assert done.returncode == 2 and "unknown s3 event 'copy'; choose from: delete, put" in done.stderr
    done = run("generate-event", "dynamodb", "update", "--keys", "{not json")
    assert done.returncode == 2 and "not JSON" in done.stderr
    done = run("generate-event", "dynamodb", "update", "--event-name", "UPSERT")
    assert done.returncode == 2 and "INSERT, MODIFY, REMOVE" in done.stderr


def test_readme_pipe_into_invoke() -> None:
    """The README's example: a generated event piped into `lambda-emu invoke ... -e -`."""
    samples = Path(__file__).resolve().parents[2] / "sample_functions"
    line = (
        "lambda-emu generate-event s3 put --bucket photos --key 'cat 1.jpg' "
        "| lambda-emu invoke EchoFunction -e -"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line], cwd=samples, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["event"]["Records"][0]
    assert record["s3"]["bucket"]["name"] == "photos" and record["s3"]["object"]["key"] == "cat+1.jpg"


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    # `lambda-emu generate-event … | head -0`, made certain: the pipe's reader is gone before any output.
    read_end, write_end = os.pipe()
    os.close(read_end)
    assert EXE, "lambda-emu is not installed (make install)"
    done = subprocess.run(
        [EXE, "generate-event", "s3", "put"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60
    )
    os.close(write_end)
    assert done.returncode == 141  # as a shell reports a command whose pipe's reader left (128 + SIGPIPE)
    assert done.stderr == ""  # no traceback, no "unexpected error"
