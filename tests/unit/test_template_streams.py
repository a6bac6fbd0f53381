"""Templates: SAM's Kinesis and DynamoDB events and AWS::Lambda::EventSourceMapping resources of streams
become CreateEventSourceMapping requests."""

import textwrap
from pathlib import Path

from lambda_emu.config import EmulatorConfig
from lambda_emu.template import load_template

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
TABLE_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024-01-01T00:00:00.000"


def load(tmp_path: Path, resources: str):
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    body = textwrap.indent(textwrap.dedent(resources), "  ")
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + body)
    return load_template(path, emulator=EmulatorConfig(state_dir=tmp_path / "state"))


def test_kinesis_and_dynamodb_events_are_stream_mappings(tmp_path):
    loaded = load(
        tmp_path,
        f"""
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Runtime: python3.11
            Handler: app.handler
            CodeUri: src
            Events:
              Clicks:
                Type: Kinesis
                Properties:
                  Stream: !Sub "arn:aws:kinesis:${{AWS::Region}}:${{AWS::AccountId}}:stream/clicks"
                  StartingPosition: TRIM_HORIZON
                  BatchSize: "50"
                  BisectBatchOnFunctionError: "true"
                  MaximumRetryAttempts: 2
                  DestinationConfig:
                    OnFailure:
                      Destination: arn:aws:sqs:us-east-1:123456789012:failed
              Orders:
                Type: DynamoDB
                Properties:
                  Stream: {TABLE_STREAM}
                  StartingPosition: LATEST
                  FunctionResponseTypes: [ReportBatchItemFailures]
              Pushed:
                Type: Api
                Properties: {{Path: /, Method: get}}
        """,
    )
    requests = {m.name: dict(m.request) for m in loaded.event_sources}
    assert requests == {
        "Fn.Clicks": {
            "EventSourceArn": STREAM_ARN,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 50,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:failed"}},
            "FunctionName": "Fn",
        },
        "Fn.Orders": {
            "EventSourceArn": TABLE_STREAM,
            "StartingPosition": "LATEST",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FunctionName": "Fn",
        },
    }


def test_an_event_source_mapping_resource_of_a_stream_keeps_its_stream_settings(tmp_path):
    loaded = load(
        tmp_path,
        f"""
        Fn:
          Type: AWS::Serverless::Function
          Properties: {{Runtime: python3.11, Handler: app.handler, CodeUri: src}}
        Mapping:
          Type: AWS::Lambda::EventSourceMapping
          Properties:
            FunctionName: !GetAtt Fn.Arn
            EventSourceArn: {STREAM_ARN}
            StartingPosition: AT_TIMESTAMP
            StartingPositionTimestamp: 1700000000
            MaximumRecordAgeInSeconds: "-1"
            ParallelizationFactor: 2
        """,
    )
    (mapping,) = loaded.event_sources
    assert dict(mapping.request) == {
        "EventSourceArn": STREAM_ARN,
        "FunctionName": "Fn",
        "StartingPosition": "AT_TIMESTAMP",
        "StartingPositionTimestamp": "1700000000",  # the API reads it (event_sources.settings)
        "MaximumRecordAgeInSeconds": -1,
        "ParallelizationFactor": 2,
    }


def test_a_tables_stream_arn_names_its_latest_stream_and_an_unknowable_source_is_left_out(tmp_path):
    loaded = load(
        tmp_path,
        """
        Orders:
          Type: AWS::DynamoDB::Table
          Properties: {TableName: orders}
        Elsewhere:
          Type: AWS::Kinesis::Stream
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Runtime: python3.11
            Handler: app.handler
            CodeUri: src
            Events:
              Changes:
                Type: DynamoDB
                Properties: {Stream: !GetAtt Orders.StreamArn, StartingPosition: LATEST}
              Clicks:
                Type: Kinesis
                Properties: {Stream: !GetAtt Elsewhere.Arn, StartingPosition: LATEST}
        """,
    )
    (mapping,) = loaded.event_sources  # the function still loads; the unknowable stream is left out
    assert mapping.name == "Fn.Changes"
    assert mapping.request["EventSourceArn"] == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/lambda-emu-latest"
    )
    assert loaded.function("Fn").name == "Fn"
