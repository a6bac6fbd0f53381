"""UpdateFunctionConfiguration against a live `lambda-emu serve`, one bad value per rule, through boto3 with
its own parameter validation off: each is answered 400 with Lambda's exception name and message, and changes
nothing."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

FUNCTION = "AttemptsFunction"
ONE = "1 validation error detected: "
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:layer{}:1"
RESERVED = (
    "Lambda was unable to configure your environment variables because the environment variables you "
    "have provided contains reserved keys that are currently not supported for modification. "
    "Reserved keys used in this request: AWS_REGION"
)

# (parameters, exception name, the message the user sees)
CASES: list[tuple[dict[str, Any], str, str]] = [
    (
        {"MemorySize": 127},
        "ValidationException",
        "'MemorySize' value failed to satisfy constraint: "
        "Member must have value greater than or equal to 128",
    ),
    (
        {"MemorySize": 10_241},
        "ValidationException",
        "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240",
    ),
    (
        {"Description": "d" * 257},
        "ValidationException",
        ONE + f"Value '{'d' * 257}' at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
    ),
    (
        {"Handler": "app handler"},
        "ValidationException",
        ONE + "Value 'app handler' at 'handler' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [^\s]+",
    ),
    (
        {"Role": "lambda-role"},
        "ValidationException",
        ONE + "Value 'lambda-role' at 'role' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    ),
    (
        {"Timeout": 0},
        "ValidationException",
        ONE + "Value '0' at 'timeout' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    (
        {"Timeout": 901},
        "ValidationException",
        ONE + "Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    ),
    (
        {"EphemeralStorage": {"Size": 511}},
        "ValidationException",
        ONE + "Value '511' at 'ephemeralStorage.size' failed to satisfy constraint: "
        "Member must have value greater than or equal to 512",
    ),
    (
        {"TracingConfig": {"Mode": "On"}},
        "ValidationException",
        ONE + "Value 'On' at 'tracingConfig.mode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Active, PassThrough]",
    ),
    (
        {"LoggingConfig": {"LogFormat": "XML"}},
        "ValidationException",
        ONE + "Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: "
        "Member must satisfy enum value set: [JSON, Text]",
    ),
    (
        {"Timeout": 0, "Handler": "a b"},
        "ValidationException",
        "2 validation errors detected: Value 'a b' at 'handler' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [^\s]+; Value '0' at 'timeout' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        {"Runtime": "python2.7"},
        "InvalidParameterValueException",
        "The runtime parameter of python2.7 is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use the new runtime (python3.15) while creating or updating functions.",
    ),
    (
        {"Layers": [LAYER.format(i) for i in range(6)]},
        "InvalidParameterValueException",
        "Cannot reference more than 5 layers.",
    ),
    (
        {"Environment": {"Variables": {"STAGE": "dev", "AWS_REGION": "eu-west-1"}}},
        "InvalidParameterValueException",
        RESERVED,
    ),
    (
        {"Environment": {"Variables": {"BIG": "x" * 4096}}},
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment variables you "
        f'have provided exceeded the 4KB limit. String measured: {{"BIG":"{"x" * 4096}"}}',
    ),
]


def _client(served):
    return served.client(parameter_validation=False)


@pytest.mark.parametrize(("parameters", "code", "message"), CASES)
def test_a_bad_value_is_answered_400_with_lambdas_exception_and_message(served, parameters, code, message):
    with pytest.raises(ClientError) as caught:
        _client(served).update_function_configuration(FunctionName=FUNCTION, **parameters)
    answer = caught.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == code
    assert (answer["Error"]["Code"], answer["Error"]["Message"]) == (code, message)


def test_an_unknown_runtime_names_the_runtimes_lambda_accepts(served):
    with pytest.raises(ClientError) as caught:
        _client(served).update_function_configuration(FunctionName=FUNCTION, Runtime="python3.99")
    answer = caught.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Today's Runtime enum (botocore's current model), in its order, without the retired runtimes.
    assert (answer["Error"]["Code"], answer["Error"]["Message"]) == (
        "InvalidParameterValueException",
        "Value python3.99 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["
        "nodejs12.x, nodejs14.x, nodejs16.x, nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x, java8, "
        "java8.al2, java11, java17, java21, java25, python3.7, python3.8, python3.9, python3.10, python3.11, "
        "python3.12, python3.13, python3.14, dotnetcore3.1, dotnet6, dotnet8, dotnet10, go1.x, ruby2.7, "
        "ruby3.2, ruby3.3, ruby3.4, ruby4.0, provided, provided.al2, provided.al2023, nodejs26.x, "
        "python3.15, java8.al2023, java11.al2023, java17.al2023, custom] or be a valid ARN",
    )


def test_a_rejected_update_changes_nothing(served):
    client = _client(served)
    before = client.get_function_configuration(FunctionName=FUNCTION)
    with pytest.raises(ClientError):
        # MemorySize and Timeout are good; the reserved variable refuses the whole request.
        client.update_function_configuration(
            FunctionName=FUNCTION,
            MemorySize=before["MemorySize"] + 128,
            Timeout=before["Timeout"] + 1,
            Environment={"Variables": {"AWS_REGION": "eu-west-1"}},
        )
    after = client.get_function_configuration(FunctionName=FUNCTION)
    assert (after["MemorySize"], after["Timeout"], after["RevisionId"]) == (
        before["MemorySize"],
        before["Timeout"],
        before["RevisionId"],
    )


def test_a_value_of_the_wrong_type_is_an_unreadable_request(served):
    with pytest.raises(ClientError) as caught:
        _client(served).update_function_configuration(FunctionName=FUNCTION, MemorySize="256")
    answer = caught.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Code"] == "InvalidRequestContentException"
    assert "'memorySize'" in answer["Error"]["Message"]


# ---- path and query members, checked against the operation's model before anything is looked up

NAMESPACED_NAME = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


def _refused(call, **parameters) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**parameters)
    answer = caught.value.response
    return {
        "status": answer["ResponseMetadata"]["HTTPStatusCode"],
        "type": answer["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype"),
        "code": answer["Error"]["Code"],
        "message": answer["Error"]["Message"],
    }


def _validation(message: str) -> dict:
    return {"status": 400, "type": "ValidationException", "code": "ValidationException", "message": message}


def test_a_malformed_function_name_is_a_validation_error_and_an_unknown_one_is_not_found(served):
    client = _client(served)
    assert _refused(client.get_function, FunctionName="bad name!") == _validation(
        ONE + "Value 'bad name!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAMESPACED_NAME}"
    )
    assert _refused(client.get_function, FunctionName="no-such-function") == {
        "status": 404,
        "type": "ResourceNotFoundException",
        "code": "ResourceNotFoundException",
        "message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-function",
    }


def test_a_too_long_qualifier_on_invoke_is_refused_before_the_function_runs(served):
    qualifier = "q" * 129
    assert _refused(_client(served).invoke, FunctionName=FUNCTION, Qualifier=qualifier) == _validation(
        ONE + f"Value '{qualifier}' at 'qualifier' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )


def test_a_malformed_alias_name_on_get_alias_is_a_validation_error(served):
    assert _refused(_client(served).get_alias, FunctionName=FUNCTION, Name="live alias") == _validation(
        ONE + "Value 'live alias' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
    )


def test_a_negative_reserved_concurrency_is_refused_and_changes_nothing(served):
    client = _client(served)
    before = client.get_function_concurrency(FunctionName=FUNCTION)
    before.pop("ResponseMetadata")
    refused = _refused(
        client.put_function_concurrency, FunctionName=FUNCTION, ReservedConcurrentExecutions=-1
    )
    assert refused == _validation(
        ONE + "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0"
    )
    after = client.get_function_concurrency(FunctionName=FUNCTION)
    after.pop("ResponseMetadata")
    assert after == before


@pytest.mark.parametrize(
    ("max_items", "rule"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (10_001, "Member must have value less than or equal to 10000"),
    ],
)
def test_list_functions_max_items_out_of_the_models_range_is_refused(served, max_items, rule):
    assert _refused(_client(served).list_functions, MaxItems=max_items) == _validation(
        ONE + f"Value '{max_items}' at 'maxItems' failed to satisfy constraint: {rule}"
    )


def test_every_broken_member_of_path_and_query_is_named_in_one_raw_answer(served):
    # Over plain HTTP, as any client may send it: the whole answer (status, headers, body).
    url = urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request("GET", f"/2015-03-31/functions/a%20b/configuration?Qualifier={'v' * 129}")
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert (response.status, response.getheader("x-amzn-ErrorType")) == (400, "ValidationException")
    assert body == {
        "Type": "User",
        "message": "2 validation errors detected: Value 'a b' at 'functionName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAMESPACED_NAME}; "
        f"Value '{'v' * 129}' at 'qualifier' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
    }


def test_a_layer_version_number_the_model_leaves_unbounded_is_looked_up(served):
    # LayerVersionNumber is a plain long in the model: 0 is well formed, and names no version.
    refused = _refused(_client(served).get_layer_version, LayerName="no-such-layer", VersionNumber=0)
    assert refused == {
        "status": 404,
        "type": "ResourceNotFoundException",
        "code": "ResourceNotFoundException",
        "message": "The resource you requested does not exist.",
    }


def test_header_members_are_checked_before_the_function_is_looked_up(served):
    # A malformed TenantId and LogType on a function that does not exist: 400 naming both, not a 404.
    refused = _refused(
        _client(served).invoke, FunctionName="no-such-function", TenantId="no#hash", LogType="All"
    )
    assert refused == _validation(
        "2 validation errors detected: Value 'All' at 'logType' failed to satisfy constraint: Member must "
        "satisfy enum value set: [None, Tail]; Value 'no#hash' at 'tenantId' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [a-zA-Z0-9\._:\/=+\-@ ]+"
    )
