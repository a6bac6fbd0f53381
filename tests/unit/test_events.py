"""Sample events: each event's shape as Lambda delivers it (fields, types, encodings, formats), settable
fields, the catalog and its errors."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import datetime
from urllib.parse import unquote_plus

import pytest

from lambda_emu import events
from lambda_emu.errors import ConfigError

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CLF = re.compile(r"\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d\d:\d\d:\d\d \+0000")


@pytest.fixture(autouse=True)
def _no_region_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


def test_catalog_has_every_required_event_with_sams_names() -> None:
    names = {(service, event) for service, evs in events.catalog().items() for event in evs}
    assert names >= {
        ("apigateway", "aws-proxy"),
        ("apigateway", "http-api"),
        ("s3", "put"),
        ("s3", "delete"),
        ("sqs", "receive-message"),
        ("sns", "notification"),
        ("dynamodb", "update"),
        ("kinesis", "get-records"),
        ("cloudwatch", "scheduled-event"),
        ("cloudwatch", "logs"),
    }


def test_catalog_fields_have_help_and_the_functions_defaults() -> None:
    spec = events.catalog()["s3"]["put"]
    assert spec.help
    assert spec.fields["bucket"].default == "example-bucket"
    assert spec.fields["size"].default == 1024 and spec.fields["size"].kind == "int"
    assert spec.fields["region"].default == "us-east-1"  # the emulator's default, resolved
    assert all(
        field.help for evs in events.catalog().values() for s in evs.values() for field in s.fields.values()
    )
    assert events.catalog()["dynamodb"]["update"].fields["keys"].kind == "json"


def test_region_defaults_to_the_emulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    record = events.sqs_message()["Records"][0]
    assert record["awsRegion"] == "eu-west-3"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-west-3:123456789012:MyQueue"
    assert events.catalog()["sqs"]["receive-message"].fields["region"].default == "eu-west-3"


def test_arns_use_the_regions_partition() -> None:
    record = events.sns_notification(region="cn-north-1", account_id="210987654321")["Records"][0]
    assert record["Sns"]["TopicArn"] == "arn:aws-cn:sns:cn-north-1:210987654321:ExampleTopic"


def test_generate_by_name_equals_the_function_and_accepts_dashed_names() -> None:
    event = events.generate("sqs", "receive-message", **{"queue-name": "orders", "body": "x"})
    assert event["Records"][0]["eventSourceARN"].endswith(":orders")
    assert event["Records"][0]["body"] == "x"


def test_unknown_service_event_and_field_name_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown event service 'nope'; choose from: apigateway, cloudwatch"
    ):
        events.generate("nope", "put")
    with pytest.raises(ConfigError, match=r"unknown s3 event 'get'; choose from: delete, put"):
        events.generate("s3", "get")
    with pytest.raises(ConfigError, match=r"s3 put has no field colour; its fields: bucket, key"):
        events.generate("s3", "put", colour="red")


def test_aliases_reach_the_same_events() -> None:
    assert events.generate("events", "scheduled")["detail-type"] == "Scheduled Event"
    assert events.generate("apigateway", "http-api-proxy")["version"] == "2.0"


# --- API Gateway REST (v1) -------------------------------------------------------------------------


def test_rest_proxy_has_the_v1_fields_and_absent_maps_are_null() -> None:
    event = events.api_gateway_proxy(path="/ping", resource="/ping")
    assert set(event) == {
        "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
        "isBase64Encoded",
    }  # fmt: skip
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    required = "accountId apiId resourceId resourcePath httpMethod path stage requestId requestTime"
    assert set(ctx) >= set(required.split()) | {"requestTimeEpoch", "protocol", "domainName", "identity"}
    assert "authorizer" not in ctx  # no authorizer configured
    assert ctx["path"] == "/prod/ping" and ctx["stage"] == "prod"
    assert UUID.fullmatch(ctx["requestId"])
    assert CLF.fullmatch(ctx["requestTime"])
    assert isinstance(ctx["requestTimeEpoch"], int) and ctx["requestTimeEpoch"] > 1_600_000_000_000
    assert ctx["domainName"] == f"{ctx['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert event["headers"]["Host"] == ctx["domainName"]
    assert ctx["identity"]["sourceIp"] == "203.0.113.10" and ctx["identity"]["userAgent"]


def test_rest_proxy_settable_fields() -> None:
    event = events.api_gateway_proxy(
        method="post",
        path="/orders/42/items",
        resource="/orders/{id}/items",
        body={"qty": 2},
        query="tag=a&tag=b&page=1",
        headers={"X-Api-Key": "k", "Accept": "application/json"},
        stage="dev",
        stage_variables={"table": "orders-dev"},
        authorizer={"principalId": "user-1"},
    )
    assert event["httpMethod"] == "POST" and event["requestContext"]["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"}
    assert json.loads(event["body"]) == {"qty": 2}
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["headers"]["Content-Length"] == str(len(event["body"]))
    # REST v1: the single-value map keeps the last value, the multi-value map all of them
    assert event["queryStringParameters"] == {"tag": "b", "page": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "page": ["1"]}
    assert event["headers"]["X-Api-Key"] == "k" and event["multiValueHeaders"]["X-Api-Key"] == ["k"]
    assert event["headers"]["Accept"] == "application/json"  # replaces the default, case-insensitively
    assert "*/*" not in json.dumps(event["multiValueHeaders"])
    assert event["stageVariables"] == {"table": "orders-dev"}
    assert event["requestContext"]["authorizer"] == {"principalId": "user-1"}
    assert event["requestContext"]["path"] == "/dev/orders/42/items"


def test_rest_proxy_root_path_has_its_own_resource() -> None:
    event = events.api_gateway_proxy()
    assert (event["path"], event["resource"], event["pathParameters"]) == ("/", "/", None)


def test_rest_proxy_greedy_resource_and_binary_body() -> None:
    event = events.api_gateway_proxy(path="/a/b/c", body=b"\x00\xff")
    assert event["resource"] == "/{proxy+}" and event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"


def test_path_that_does_not_match_the_resource_is_refused() -> None:
    with pytest.raises(ConfigError, match="does not match"):
        events.api_gateway_proxy(path="/users/1", resource="/orders/{id}")
    with pytest.raises(ConfigError, match="unknown HTTP method"):
        events.api_gateway_proxy(method="FETCH")


# --- HTTP API (v2) ---------------------------------------------------------------------------------


def test_http_api_has_the_v2_fields_and_absent_maps_are_left_out() -> None:
    event = events.http_api_proxy()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/" and event["rawQueryString"] == ""
    for absent in ("queryStringParameters", "pathParameters", "stageVariables", "cookies", "body"):
        assert absent not in event, absent
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert set(ctx) >= {"accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey",
                        "stage", "time", "timeEpoch"}  # fmt: skip
    assert set(ctx["http"]) == {"method", "path", "protocol", "sourceIp", "userAgent"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", ctx["requestId"])
    assert CLF.fullmatch(ctx["time"]) and isinstance(ctx["timeEpoch"], int)
    assert all(name == name.lower() for name in event["headers"])


def test_http_api_joins_repeats_with_commas_and_moves_cookies() -> None:
    event = events.http_api_proxy(
        method="PUT",
        path="/items/7",
        route_key="PUT /items/{id}",
        query="a=1&a=2&b=x%20y",
        headers={"X-Tag": ["one", "two"], "Cookie": "s=1; theme=dark", "Content-Type": "text/plain"},
        body="hi",
        stage="prod",
    )
    assert event["headers"]["x-tag"] == "one,two"
    assert event["headers"]["content-type"] == "text/plain"
    assert "cookie" not in event["headers"] and event["cookies"] == ["s=1", "theme=dark"]
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"id": "7"}
    assert event["body"] == "hi"
    assert event["rawPath"] == "/prod/items/7"  # a named stage starts the raw path
    assert event["requestContext"]["http"]["method"] == "PUT"


# --- S3 --------------------------------------------------------------------------------------------


def test_s3_put_record_shape_and_url_encoded_key() -> None:
    event = events.s3_put(bucket="photos", key="holiday 2024/beach+sun.jpg", size=2048)
    (record,) = event["Records"]
    fields = "eventVersion eventSource awsRegion eventTime eventName userIdentity requestParameters"
    assert set(record) == set(fields.split()) | {"responseElements", "s3"}
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert ISO_MILLIS.fullmatch(record["eventTime"])
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0" and s3["configurationId"]
    assert s3["bucket"]["name"] == "photos" and s3["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert s3["bucket"]["ownerIdentity"]["principalId"]
    obj = s3["object"]
    assert obj["key"] == "holiday+2024/beach%2Bsun.jpg"  # spaces as '+', a real '+' as %2B
    assert unquote_plus(obj["key"]) == "holiday 2024/beach+sun.jpg"
    assert obj["size"] == 2048 and isinstance(obj["size"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", obj["eTag"])
    assert re.fullmatch(r"[0-9A-F]+", obj["sequencer"])
    assert "versionId" not in obj
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}


def test_s3_delete_has_no_size_or_etag() -> None:
    obj = events.s3_delete(bucket="b", key="k 1", version_id="v1")["Records"][0]["s3"]["object"]
    assert obj.keys() == {"key", "versionId", "sequencer"}
    assert obj["key"] == "k+1"
    assert events.s3_delete()["Records"][0]["eventName"] == "ObjectRemoved:Delete"


# --- SQS / SNS -------------------------------------------------------------------------------------


def test_sqs_record_shape_with_the_real_md5_of_the_body() -> None:
    (record,) = events.sqs_message(body="Hello from SQS!", queue_name="jobs", account_id="111122223333")[
        "Records"
    ]
    fields = "messageId receiptHandle body attributes messageAttributes md5OfBody md5OfMessageAttributes"
    assert set(record) == set(fields.split()) | {"eventSource", "eventSourceARN", "awsRegion"}
    assert record["md5OfBody"] == hashlib.md5(b"Hello from SQS!").hexdigest()
    assert record["md5OfMessageAttributes"] is None and record["messageAttributes"] == {}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:111122223333:jobs"
    assert UUID.fullmatch(record["messageId"])
    attrs = record["attributes"]
    assert set(attrs) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attrs["ApproximateReceiveCount"] == "1" and attrs["SentTimestamp"].isdigit()


def test_sqs_message_attributes_and_their_md5() -> None:
    (record,) = events.sqs_message(message_attributes={"Author": "Ann", "Count": 3, "Blob": b"\x00\x01"})[
        "Records"
    ]
    assert record["messageAttributes"]["Author"] == {
        "stringValue": "Ann", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }  # fmt: skip
    assert record["messageAttributes"]["Count"]["dataType"] == "Number"
    assert record["messageAttributes"]["Count"]["stringValue"] == "3"
    assert record["messageAttributes"]["Blob"]["binaryValue"] == "AAE="
    # SQS's digest of these attributes (as SQS itself, and moto's SQS, compute it)
    assert record["md5OfMessageAttributes"] == "529d9d74ec83c1598f108621237c8d65"


def test_sqs_batch_json_bodies_and_fifo_attributes() -> None:
    records = events.sqs_message(body=[{"id": 1}, "two"], queue_name="orders.fifo", message_group_id="g")[
        "Records"
    ]
    assert [r["body"] for r in records] == ['{"id": 1}', "two"]
    assert records[0]["md5OfBody"] == hashlib.md5(b'{"id": 1}').hexdigest()
    assert records[0]["messageId"] != records[1]["messageId"]
    assert records[0]["attributes"]["MessageGroupId"] == "g"
    assert {"SequenceNumber", "MessageDeduplicationId"} <= set(records[0]["attributes"])


def test_sns_record_shape() -> None:
    (record,) = events.sns_notification(
        message={"order": 1}, subject="New order", topic="orders", message_attributes={"kind": "new", "n": 2}
    )["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    sns = record["Sns"]
    fields = "Type MessageId TopicArn Subject Message Timestamp SignatureVersion Signature SigningCertUrl"
    assert set(sns) == set(fields.split()) | {"UnsubscribeUrl", "MessageAttributes"}
    assert sns["Type"] == "Notification"
    assert sns["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:orders"
    assert record["EventSubscriptionArn"].startswith(sns["TopicArn"] + ":")
    assert json.loads(sns["Message"]) == {"order": 1} and sns["Subject"] == "New order"
    assert ISO_MILLIS.fullmatch(sns["Timestamp"])
    assert sns["MessageAttributes"] == {
        "kind": {"Type": "String", "Value": "new"},
        "n": {"Type": "Number", "Value": "2"},
    }
    assert events.sns_notification()["Records"][0]["Sns"]["Subject"] is None


# --- DynamoDB / Kinesis ----------------------------------------------------------------------------


def test_dynamodb_record_shape_with_typed_values() -> None:
    (record,) = events.dynamodb_stream(
        table="Orders",
        keys={"pk": "order#1", "sk": 7},
        new_image={
            "pk": "order#1",
            "sk": 7,
            "paid": True,
            "tags": {"a", "b"},
            "lines": [{"qty": 2}],
            "note": None,
        },
        old_image={"pk": "order#1", "sk": 7, "paid": False},
    )["Records"]
    assert record["eventName"] == "MODIFY" and record["eventSource"] == "aws:dynamodb"
    assert record["eventVersion"] == "1.1" and re.fullmatch(r"[0-9a-f]{32}", record["eventID"])
    stream_arn = r"arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/\d{4}-\d\d-\d\dT[\d:.]+"
    assert re.fullmatch(stream_arn, record["eventSourceARN"])
    ddb = record["dynamodb"]
    assert ddb["Keys"] == {"pk": {"S": "order#1"}, "sk": {"N": "7"}}
    assert ddb["NewImage"]["paid"] == {"BOOL": True}
    assert ddb["NewImage"]["tags"] == {"SS": ["a", "b"]}
    assert ddb["NewImage"]["lines"] == {"L": [{"M": {"qty": {"N": "2"}}}]}
    assert ddb["NewImage"]["note"] == {"NULL": True}
    assert ddb["OldImage"]["paid"] == {"BOOL": False}
    assert ddb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert ddb["SequenceNumber"].isdigit() and isinstance(ddb["SizeBytes"], int) and ddb["SizeBytes"] > 0
    assert isinstance(ddb["ApproximateCreationDateTime"], int)


def test_dynamodb_images_follow_the_event_and_the_view_type() -> None:
    insert = events.dynamodb_stream(event_name="INSERT")["Records"][0]["dynamodb"]
    assert "NewImage" in insert and "OldImage" not in insert
    remove = events.dynamodb_stream(event_name="REMOVE")["Records"][0]["dynamodb"]
    assert "OldImage" in remove and "NewImage" not in remove
    keys_only = events.dynamodb_stream(stream_view_type="KEYS_ONLY")["Records"][0]["dynamodb"]
    assert "NewImage" not in keys_only and "OldImage" not in keys_only
    with pytest.raises(ConfigError, match="INSERT, MODIFY, REMOVE"):
        events.dynamodb_stream(event_name="UPDATE")


def test_dynamodb_value_types() -> None:
    assert events.dynamodb_value(b"\x01") == {"B": "AQ=="}
    assert events.dynamodb_value({1, 2}) == {"NS": ["1", "2"]}
    assert events.dynamodb_value({"S": "already typed"}) == {"S": "already typed"}
    assert events.dynamodb_value(1.5) == {"N": "1.5"}


def test_kinesis_record_shape_with_base64_data() -> None:
    (record,) = events.kinesis_record(data={"temp": 21}, partition_key="sensor-1", stream="telemetry")[
        "Records"
    ]
    kinesis = record["kinesis"]
    assert json.loads(base64.b64decode(kinesis["data"])) == {"temp": 21}
    assert kinesis["partitionKey"] == "sensor-1" and kinesis["kinesisSchemaVersion"] == "1.0"
    assert re.fullmatch(r"\d{56}", kinesis["sequenceNumber"])
    assert isinstance(kinesis["approximateArrivalTimestamp"], float)
    assert record["eventID"] == f"shardId-000000000000:{kinesis['sequenceNumber']}"
    assert record["eventName"] == "aws:kinesis:record" and record["eventVersion"] == "1.0"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventSourceARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry"
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::123456789012:role/")


def test_kinesis_batch_has_increasing_sequence_numbers() -> None:
    records = events.kinesis_record(data=["a", "b", "c"], sequence="1" * 56)["Records"]
    numbers = [int(r["kinesis"]["sequenceNumber"]) for r in records]
    assert numbers[0] == int("1" * 56) and numbers == sorted(numbers) and len(set(numbers)) == 3
    assert [base64.b64decode(r["kinesis"]["data"]) for r in records] == [b"a", b"b", b"c"]


# --- EventBridge / CloudWatch Logs -----------------------------------------------------------------


def test_scheduled_event_shape() -> None:
    event = events.scheduled_event(rule="nightly", region="eu-central-1", account_id="111122223333")
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert (
        event["version"] == "0"
        and event["detail-type"] == "Scheduled Event"
        and event["source"] == "aws.events"
    )
    assert event["resources"] == ["arn:aws:events:eu-central-1:111122223333:rule/nightly"]
    assert event["detail"] == {} and event["account"] == "111122223333" and event["region"] == "eu-central-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert UUID.fullmatch(event["id"])


def test_cloudwatch_logs_payload_is_gzip_json_in_base64() -> None:
    event = events.cloudwatch_logs(message=["START", "hello"], log_group="/aws/lambda/orders")
    assert set(event) == {"awslogs"} and set(event["awslogs"]) == {"data"}
    document = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert document["messageType"] == "DATA_MESSAGE" and document["owner"] == "123456789012"
    assert document["logGroup"] == "/aws/lambda/orders"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", document["logStream"])
    assert document["subscriptionFilters"] and isinstance(document["subscriptionFilters"], list)
    assert [e["message"] for e in document["logEvents"]] == ["START", "hello"]
    first = document["logEvents"][0]
    assert re.fullmatch(r"\d{56}", first["id"]) and isinstance(first["timestamp"], int)
    assert abs(first["timestamp"] / 1000 - datetime.now().timestamp()) < 3600
    assert events.decode_logs(event) == document


def test_every_event_is_json_and_fresh_ids_each_time() -> None:
    for service, evs in events.catalog().items():
        for name in evs:
            one, two = events.generate(service, name), events.generate(service, name)
            assert json.loads(json.dumps(one)) == one
            assert one != two, f"{service} {name} repeats its ids"
