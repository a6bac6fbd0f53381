"""Validation of function-management requests: each rule with a bad value and good bodies (the table itself
is held to botocore's Lambda model by test_service_model.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_emu.control.request_shapes import RETIRED_RUNTIMES, RUNTIMES
from lambda_emu.control.validation import validate_function_request
from lambda_emu.errors import LambdaEmuError, api_code

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:{}:1"
PREFIX = "1 validation error detected: "
IMAGE_RULE = (
    "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image."
)


def _layers(count: int) -> list[str]:
    return [LAYER.format(f"layer{i}") for i in range(count)]


# (operation, body, error code, the message a user sees)
BAD = [
    (
        "UpdateFunctionConfiguration",
        {"MemorySize": 127},
        "ValidationException",
        "'MemorySize' value failed to satisfy constraint: "
        "Member must have value greater than or equal to 128",
    ),
    (
        "UpdateFunctionConfiguration",
        {"MemorySize": 10_241},
        "ValidationException",
        "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Description": "d" * 257},
        "ValidationException",
        PREFIX + f"Value '{'d' * 257}' at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Handler": "app handler"},
        "ValidationException",
        PREFIX + "Value 'app handler' at 'handler' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [^\s]+",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Handler": "h" * 129},
        "ValidationException",
        PREFIX + f"Value '{'h' * 129}' at 'handler' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Role": "lambda-role"},
        "ValidationException",
        PREFIX + "Value 'lambda-role' at 'role' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Timeout": 0},
        "ValidationException",
        PREFIX + "Value '0' at 'timeout' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Timeout": 901},
        "ValidationException",
        PREFIX + "Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    ),
    (
        "UpdateFunctionConfiguration",
        {"EphemeralStorage": {"Size": 511}},
        "ValidationException",
        PREFIX + "Value '511' at 'ephemeralStorage.size' failed to satisfy constraint: "
        "Member must have value greater than or equal to 512",
    ),
    (
        "UpdateFunctionConfiguration",
        {"EphemeralStorage": {"Size": 10_241}},
        "ValidationException",
        PREFIX + "Value '10241' at 'ephemeralStorage.size' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240",
    ),
    (
        "UpdateFunctionConfiguration",
        {"EphemeralStorage": {}},
        "ValidationException",
        PREFIX
        + "Value null at 'ephemeralStorage.size' failed to satisfy constraint: Member must not be null",
    ),
    (
        "UpdateFunctionConfiguration",
        {"TracingConfig": {"Mode": "On"}},
        "ValidationException",
        PREFIX + "Value 'On' at 'tracingConfig.mode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Active, PassThrough]",
    ),
    (
        "UpdateFunctionConfiguration",
        {"SnapStart": {"ApplyOn": "Always"}},
        "ValidationException",
        PREFIX + "Value 'Always' at 'snapStart.applyOn' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PublishedVersions, None]",
    ),
    (
        "UpdateFunctionConfiguration",
        {"LoggingConfig": {"LogFormat": "XML"}},
        "ValidationException",
        PREFIX + "Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: "
        "Member must satisfy enum value set: [JSON, Text]",
    ),
    (
        "UpdateFunctionConfiguration",
        {"LoggingConfig": {"ApplicationLogLevel": "VERBOSE"}},
        "ValidationException",
        PREFIX + "Value 'VERBOSE' at 'loggingConfig.applicationLogLevel' failed to satisfy constraint: "
        "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]",
    ),
    (
        "UpdateFunctionConfiguration",
        {"LoggingConfig": {"LogGroup": ""}},
        "ValidationException",
        "2 validation errors detected: Value '' at 'loggingConfig.logGroup' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+; Value '' at "
        "'loggingConfig.logGroup' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ),
    (
        "UpdateFunctionConfiguration",
        {"DeadLetterConfig": {"TargetArn": "my-queue"}},
        "ValidationException",
        PREFIX + "Value 'my-queue' at 'deadLetterConfig.targetArn' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()",
    ),
    (
        "UpdateFunctionConfiguration",
        {"KMSKeyArn": "my-key"},
        "ValidationException",
        PREFIX + "Value 'my-key' at 'kMSKeyArn' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()",
    ),
    (
        "UpdateFunctionConfiguration",
        {"VpcConfig": {"SubnetIds": [f"subnet-{i}" for i in range(17)], "SecurityGroupIds": ["sg-1"] * 6}},
        "ValidationException",
        "2 validation errors detected: Value '[subnet-0, subnet-1, subnet-2, subnet-3, subnet-4, subnet-5, "
        "subnet-6, subnet-7, subnet-8, subnet-9, subnet-10, subnet-11, subnet-12, subnet-13, subnet-14, "
        "subnet-15, subnet-16]' at 'vpcConfig.subnetIds' failed to satisfy constraint: "
        "Member must have length less than or equal to 16; Value '[sg-1, sg-1, sg-1, sg-1, sg-1, sg-1]' at "
        "'vpcConfig.securityGroupIds' failed to satisfy constraint: "
        "Member must have length less than or equal to 5",
    ),
    (
        "UpdateFunctionConfiguration",
        {"FileSystemConfigs": [{"Arn": "efs", "LocalMountPath": "/data"}]},
        "ValidationException",
        "2 validation errors detected: Value 'efs' at 'fileSystemConfigs.1.member.arn' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        r"arn:aws[a-zA-Z-]*:elasticfilesystem:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
        r"access-point/fsap-[a-f0-9]{17}$|^arn:aws[-a-z]*:s3files:[0-9a-z-:]+:file-system/"
        r"fs-[0-9a-f]{17,40}/access-point/fsap-[0-9a-f]{17,40}; "
        "Value '/data' at 'fileSystemConfigs.1.member.localMountPath' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: /mnt/[a-zA-Z0-9-_.]+",
    ),
    (
        "UpdateFunctionConfiguration",
        {"ImageConfig": {"EntryPoint": ["x"] * 1501}},
        "ValidationException",
        PREFIX + f"Value '[{', '.join(['x'] * 1501)}]' at 'imageConfig.entryPoint' failed to satisfy "
        "constraint: Member must have length less than or equal to 1500",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Layers": ["my-layer"]},
        "ValidationException",
        PREFIX
        + "Value '[my-layer]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must have length less than or equal to 2048, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
        r"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
        r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)), "
        "Member must not be null]",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Environment": {"Variables": {"1ST": "secret-value"}}},
        "ValidationException",
        # The variables are sensitive: the message quotes no value.
        PREFIX + "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Runtime": "python3.99"},
        "InvalidParameterValueException",
        "Value python3.99 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["
        + ", ".join(r for r in RUNTIMES if r not in RETIRED_RUNTIMES)
        + "] or be a valid ARN",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Runtime": "python2.7"},
        "InvalidParameterValueException",
        "The runtime parameter of python2.7 is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use the new runtime (python3.15) while creating or updating functions.",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Layers": _layers(6)},
        "InvalidParameterValueException",
        "Cannot reference more than 5 layers.",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Layers": [LAYER.format("same"), LAYER.format("same")[:-1] + "2"]},
        "InvalidParameterValueException",
        "Two different versions of the same layer are not allowed to be referenced in the same function. "
        f"{LAYER.format('same')} and {LAYER.format('same')[:-1]}2 are versions of the same layer.",
    ),
    (
        "UpdateFunctionConfiguration",
        {"Environment": {"Variables": {"BIG": "x" * 4096}}},
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment variables you "
        f'have provided exceeded the 4KB limit. String measured: {{"BIG":"{"x" * 4096}"}}',
    ),
    (
        "UpdateFunctionConfiguration",
        {
            "Environment": {
                "Variables": {"STAGE": "dev", "AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "x"}
            }
        },
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment variables you "
        "have provided contains reserved keys that are currently not supported for modification. "
        "Reserved keys used in this request: AWS_LAMBDA_FUNCTION_NAME,AWS_REGION",
    ),
    (
        "CreateFunction",
        {"FunctionName": "f", "Role": ROLE, "Code": {"ZipFile": "UEsFBg=="}, "Handler": "app.handler"},
        "InvalidParameterValueException",
        "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
    ),
    (
        "CreateFunction",
        {
            "FunctionName": "f",
            "Role": ROLE,
            "Code": {"ImageUri": "img"},
            "PackageType": "Image",
            "Runtime": "python3.13",
        },
        "InvalidParameterValueException",
        IMAGE_RULE,
    ),
    (
        "CreateFunction",
        {
            "FunctionName": "f",
            "Role": ROLE,
            "Code": {"ZipFile": "UEsFBg=="},
            "Runtime": "python3.13",
            "Handler": "app.handler",
            "ImageConfig": {"Command": ["app.handler"]},
        },
        "InvalidParameterValueException",
        "Please don't provide ImageConfig when the intended function PackageType is Zip.",
    ),
    (
        "CreateFunction",
        {"FunctionName": "my function", "Code": {}, "Architectures": ["x86_64", "arm64"]},
        "ValidationException",
        "3 validation errors detected: Value 'my function' at 'functionName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}("
        r"(-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        "; "
        "Value null at 'role' failed to satisfy constraint: Member must not be null; "
        "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
        "Member must have length less than or equal to 1",
    ),
    (
        "CreateFunction",
        {"FunctionName": "f", "Role": ROLE, "Code": {}, "PackageType": "Jar"},
        "ValidationException",
        PREFIX + "Value 'Jar' at 'packageType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Zip, Image]",
    ),
    (
        "PublishVersion",
        {"Description": "v" * 257},
        "ValidationException",
        PREFIX + f"Value '{'v' * 257}' at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
    ),
    (
        "CreateAlias",
        {"Name": "123", "FunctionVersion": "1"},
        "ValidationException",
        PREFIX + "Value '123' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
    ),
    (
        "CreateAlias",
        {"Name": "live"},
        "ValidationException",
        PREFIX + "Value null at 'functionVersion' failed to satisfy constraint: Member must not be null",
    ),
    (
        "CreateAlias",
        {"Name": "live", "FunctionVersion": "latest"},
        "ValidationException",
        PREFIX + "Value 'latest' at 'functionVersion' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: (\$LATEST(\.PUBLISHED)?|[0-9]+)",
    ),
    (
        "CreateAlias",
        {"Name": "live", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}},
        "ValidationException",
        PREFIX + "Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
        "Member must have value greater than or equal to 0.0, Member must not be null]",
    ),
    (
        "UpdateAlias",
        {"Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {"2": -0.1}}},
        "ValidationException",
        PREFIX + "Value '{2=-0.1}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
        "Member must have value greater than or equal to 0.0, Member must not be null]",
    ),
    (
        "UpdateAlias",
        {"Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {"two": 0.5}}},
        "ValidationException",
        PREFIX
        + "Value '{two=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
        "[0-9]+, Member must not be null]",
    ),
    (
        "CreateAlias",
        {
            "Name": "live",
            "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}},
        },
        "InvalidParameterValueException",
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
    ),
    (
        "CreateAlias",
        {
            "Name": "live",
            "FunctionVersion": "$LATEST",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}},
        },
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version",
    ),
    (
        "CreateAlias",
        {"Name": "live", "FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}}},
        "InvalidParameterValueException",
        "Invalid function version 2. Function version 2 is already included in routing configuration.",
    ),
    # Texts of botocore's current model (1.44): Timeout's range, the tag keys' Java pattern, Runtime's enum.
    (
        "UpdateFunctionConfiguration",
        {"Timeout": 5401},
        "ValidationException",
        PREFIX + "Value '5401' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 5400",
    ),
    (
        "TagResource",
        {"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Tags": {"team!": "a"}},
        "ValidationException",
        PREFIX
        + "Value '{team!=a}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 128, Member must have length greater than or equal "
        r"to 1, Member must satisfy regular expression pattern: ([\p{L}\p{Z}\p{N}_.:/=+\-@]*), "
        "Member must not be null]",
    ),
    (
        "PublishLayerVersion",
        {"LayerName": "l", "Content": {}, "CompatibleRuntimes": ["python3.99"]},
        "ValidationException",
        PREFIX + "Value '[python3.99]' at 'compatibleRuntimes' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [nodejs, nodejs4.3, nodejs6.10, "
        "nodejs8.10, nodejs10.x, nodejs12.x, nodejs14.x, nodejs16.x, nodejs18.x, nodejs20.x, nodejs22.x, "
        "nodejs24.x, java8, java8.al2, java11, java17, java21, java25, python2.7, python3.6, python3.7, "
        "python3.8, python3.9, python3.10, python3.11, python3.12, python3.13, python3.14, dotnetcore1.0, "
        "dotnetcore2.0, dotnetcore2.1, dotnetcore3.1, dotnet6, dotnet8, dotnet10, nodejs4.3-edge, go1.x, "
        "ruby2.5, ruby2.7, ruby3.2, ruby3.3, ruby3.4, ruby4.0, provided, provided.al2, provided.al2023, "
        "nodejs26.x, python3.15, java8.al2023, java11.al2023, java17.al2023, custom], "
        "Member must not be null]",
    ),
    (
        # Today's model allows this much; Lambda's quota for a function's /tmp is 10,240 MB.
        "UpdateFunctionConfiguration",
        {"EphemeralStorage": {"Size": 32_768}},
        "ValidationException",
        PREFIX + "Value '32768' at 'ephemeralStorage.size' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240",
    ),
    (
        "AddPermission",
        {"StatementId": "allow s3", "Action": "lambda:Invoke*", "Principal": "s3.amazonaws.com"},
        "ValidationException",
        "2 validation errors detected: Value 'allow s3' at 'statementId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+); "
        "Value 'lambda:Invoke*' at 'action' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
        "(lambda:[*]|lambda:[a-zA-Z]+|[*])",
    ),
    (
        "AddPermission",
        {"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "*", "SourceAccount": "12345"},
        "ValidationException",
        PREFIX + "Value '12345' at 'sourceAccount' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: \d{12}",
    ),
    (
        "AddPermission",
        {"Action": "lambda:InvokeFunction", "Principal": "*", "FunctionUrlAuthType": "OPEN"},
        "ValidationException",
        "2 validation errors detected: Value null at 'statementId' failed to satisfy constraint: "
        "Member must not be null; Value 'OPEN' at 'functionUrlAuthType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [NONE, AWS_IAM]",
    ),
]


@pytest.mark.parametrize(("operation", "body", "code", "message"), BAD)
def test_each_rule_is_answered_with_lambdas_exception_and_message(
    operation: str, body: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(LambdaEmuError) as caught:
        validate_function_request(operation, body)
    assert (api_code(caught.value), caught.value.message) == (code, message)


def test_all_model_violations_of_a_request_come_in_one_message() -> None:
    body = {"Timeout": 0, "Description": "d" * 257, "Handler": "a b", "TracingConfig": {"Mode": "On"}}
    with pytest.raises(LambdaEmuError) as caught:
        validate_function_request("UpdateFunctionConfiguration", body)
    message = caught.value.message
    assert api_code(caught.value) == "ValidationException"
    assert message.startswith("4 validation errors detected: Value 'a b' at 'handler'")
    assert message.count("; Value ") == 3
    for path in ("'handler'", "'description'", "'timeout'", "'tracingConfig.mode'"):
        assert path in message


def test_model_constraints_are_reported_before_the_services_rules() -> None:
    # Seven layers (a service rule) and a bad Timeout (the model): the model's answer comes first.
    with pytest.raises(LambdaEmuError) as caught:
        validate_function_request("UpdateFunctionConfiguration", {"Layers": _layers(7), "Timeout": 0})
    assert api_code(caught.value) == "ValidationException"
    assert "'timeout'" in caught.value.message


def test_environment_size_is_measured_as_the_json_of_the_variables() -> None:
    # 400 variables of 5+1 characters: 2,400 characters of keys and values, but 4,801 bytes as JSON.
    variables = {f"K{i:04d}": "v" for i in range(400)}
    with pytest.raises(LambdaEmuError) as caught:
        validate_function_request("UpdateFunctionConfiguration", {"Environment": {"Variables": variables}})
    assert api_code(caught.value) == "InvalidParameterValueException"
    assert caught.value.message.endswith(f"String measured: {json.dumps(variables, separators=(',', ':'))}")
    # Just under the limit passes: {"BIG":"..."} is 10 bytes plus the value.
    validate_function_request(
        "UpdateFunctionConfiguration", {"Environment": {"Variables": {"BIG": "x" * 4086}}}
    )


def test_a_wrongly_typed_member_is_an_unreadable_request() -> None:
    for body in (
        {"MemorySize": "256"},
        {"Timeout": True},
        {"Layers": "arn"},
        {"Environment": {"Variables": {"A1": 1}}},
    ):
        with pytest.raises(LambdaEmuError) as caught:
            validate_function_request("UpdateFunctionConfiguration", body)
        assert api_code(caught.value) == "InvalidRequestContentException"


@pytest.mark.parametrize(
    ("operation", "body", "package_type", "message"),
    [
        (
            "UpdateFunctionConfiguration",
            {"Handler": "app.handler"},
            "Image",
            IMAGE_RULE,
        ),
        (
            "UpdateFunctionConfiguration",
            {"ImageConfig": {"Command": ["x"]}},
            "Zip",
            "Please don't provide ImageConfig when the intended function PackageType is Zip.",
        ),
        (
            "UpdateFunctionCode",
            {"ImageUri": "repo/image:1"},
            "Zip",
            "Please don't provide ImageUri when updating a function with packageType Zip.",
        ),
        (
            "UpdateFunctionCode",
            {"ZipFile": "UEsFBg=="},
            "Image",
            "Please provide ImageUri when updating a function with packageType Image.",
        ),
    ],
)
def test_rules_of_the_functions_package_type(
    operation: str, body: dict[str, Any], package_type: str, message: str
) -> None:
    with pytest.raises(LambdaEmuError) as caught:
        validate_function_request(operation, body, package_type=package_type)
    assert (api_code(caught.value), caught.value.message) == ("InvalidParameterValueException", message)
    validate_function_request(operation, body)  # unknown package type: nothing to hold it to


FULL_CONFIGURATION: dict[str, Any] = {
    "Role": ROLE,
    "Handler": "app.handler",
    "Description": "d" * 256,
    "Timeout": 900,
    "MemorySize": 10_240,
    "VpcConfig": {
        "SubnetIds": ["subnet-1"] * 16,
        "SecurityGroupIds": ["sg-1"] * 5,
        "Ipv6AllowedForDualStack": False,
    },
    "Environment": {"Variables": {"STAGE": "dev", "TZ": "Europe/Paris", "LOG_LEVEL": "x" * 3000}},
    "Runtime": "python3.13",
    "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
    "KMSKeyArn": "",
    "TracingConfig": {"Mode": "Active"},
    "Layers": _layers(5),
    "FileSystemConfigs": [
        {
            "Arn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0",
            "LocalMountPath": "/mnt/data",
        }
    ],
    "EphemeralStorage": {"Size": 10_240},
    "SnapStart": {"ApplyOn": "None"},
    "LoggingConfig": {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "WARN",
        "LogGroup": "/aws/lambda/f",
    },
}

GOOD = [
    ("UpdateFunctionConfiguration", {"FunctionName": "my-function", **FULL_CONFIGURATION, "RevisionId": "r"}),
    ("UpdateFunctionConfiguration", {"MemorySize": 128, "Timeout": 1, "EphemeralStorage": {"Size": 512}}),
    ("UpdateFunctionConfiguration", {"Environment": {"Variables": {}}, "Layers": [], "Description": ""}),
    ("UpdateFunctionConfiguration", {"Runtime": "provided.al2023", "Handler": "bootstrap"}),
    (
        "CreateFunction",
        {
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:my-function",
            **FULL_CONFIGURATION,
            "Code": {"ZipFile": "UEsFBg=="},
            "Publish": True,
            "PackageType": "Zip",
            "Tags": {"team": "a"},
            "Architectures": ["arm64"],
        },
    ),
    (
        "CreateFunction",
        {
            "FunctionName": "image-function",
            "Role": ROLE,
            "Code": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:1"},
            "PackageType": "Image",
            "ImageConfig": {"EntryPoint": ["/app"], "Command": ["run"], "WorkingDirectory": "/app"},
        },
    ),
    (
        "UpdateFunctionCode",
        {"ZipFile": "UEsFBg==", "Publish": True, "RevisionId": "r", "Architectures": ["x86_64"]},
    ),
    ("UpdateFunctionCode", {"S3Bucket": "my-bucket", "S3Key": "code.zip", "DryRun": True}),
    ("PublishVersion", {"CodeSha256": "abc", "Description": "first", "RevisionId": "r"}),
    (
        "CreateAlias",
        {
            "Name": "live",
            "FunctionVersion": "1",
            "Description": "",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.3}},
        },
    ),
    ("CreateAlias", {"Name": "v1-beta_2", "FunctionVersion": "$LATEST"}),
    (
        "UpdateAlias",
        {"Name": "live", "FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {}}},
    ),
    ("UpdateAlias", {"Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {"4": 1}}}),
    (
        "AddPermission",
        {
            "FunctionName": "my-function",
            "StatementId": "allow-s3",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "SourceArn": "arn:aws:s3:::my-bucket",
            "SourceAccount": "123456789012",
            "Qualifier": "live",
            "PrincipalOrgID": "o-a1b2c3d4e5",
            "FunctionUrlAuthType": "AWS_IAM",
        },
    ),
    ("AddPermission", {"StatementId": "all", "Action": "*", "Principal": "*"}),
    # Today's model: the EU sovereign cloud's region prefix, letters of any script in tags, a new runtime.
    (
        "TagResource",
        {"Resource": "arn:aws:lambda:eusc-de-east-1:123456789012:function:f", "Tags": {"Équipe 東京": "ß 1"}},
    ),
    ("PublishLayerVersion", {"LayerName": "l", "Content": {}, "CompatibleRuntimes": ["python3.15"]}),
]


@pytest.mark.parametrize(("operation", "body"), GOOD)
def test_good_requests_pass(operation: str, body: dict[str, Any]) -> None:
    validate_function_request(operation, body)


def test_an_unknown_operation_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_function_request("DeleteEverything", {})
