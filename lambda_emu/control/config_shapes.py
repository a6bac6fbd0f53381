"""The API model's shapes for the configuration operations lambda-emu validates beside the function-management
ones (provisioned concurrency, runtime management, recursion, code signing), as data, held to botocore's model
by the same test."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lambda_emu.control.request_shapes import (
    CODE_SIGNING_CONFIG_ARN,
    DESCRIPTION,
    FUNCTION_NAME,
    NAMESPACED_FUNCTION_NAME,
    TAGS,
    Shape,
)

LOG = logging.getLogger(__name__)

QUALIFIER = Shape("string", 1, 128, r"(|[a-zA-Z0-9$_-]+)")
POSITIVE_INTEGER = Shape("integer", 1)
UNQUALIFIED_FUNCTION_NAME = Shape(
    "string",
    1,
    140,
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_]+)",
)
VERSION_QUALIFIER = Shape("string", 1, 128, r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+")
RUNTIME_VERSION_ARN = Shape(
    "string", 26, 2048, r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}::runtime:.+"
)
ALLOWED_PUBLISHERS = Shape(
    "structure",
    members={
        "SigningProfileVersionArns": Shape(
            "list",
            1,
            20,
            item=Shape(
                "string",
                pattern=r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)",
            ),
        )
    },
    required=("SigningProfileVersionArns",),
)
CODE_SIGNING_POLICIES = Shape(
    "structure", members={"UntrustedArtifactOnDeployment": Shape("string", enum=("Warn", "Enforce"))}
)
MAX_LIST_ITEMS = Shape("integer", 1, 10_000)

OPERATIONS: Mapping[str, Shape] = {
    "PutProvisionedConcurrencyConfig": Shape(
        "structure",
        members={
            "FunctionName": FUNCTION_NAME,
            "Qualifier": QUALIFIER,
            "ProvisionedConcurrentExecutions": POSITIVE_INTEGER,
        },
        required=("FunctionName", "Qualifier", "ProvisionedConcurrentExecutions"),
        in_uri=("FunctionName", "Qualifier"),
    ),
    "GetProvisionedConcurrencyConfig": Shape(
        "structure",
        members={"FunctionName": FUNCTION_NAME, "Qualifier": QUALIFIER},
        required=("FunctionName", "Qualifier"),
        in_uri=("FunctionName", "Qualifier"),
    ),
    "DeleteProvisionedConcurrencyConfig": Shape(
        "structure",
        members={"FunctionName": FUNCTION_NAME, "Qualifier": QUALIFIER},
        required=("FunctionName", "Qualifier"),
        in_uri=("FunctionName", "Qualifier"),
    ),
    "ListProvisionedConcurrencyConfigs": Shape(
        "structure",
        members={
            "FunctionName": FUNCTION_NAME,
            "Marker": Shape("string"),
            "MaxItems": Shape("integer", 1, 50),
        },
        required=("FunctionName",),
        in_uri=("FunctionName", "Marker", "MaxItems"),
    ),
    "PutRuntimeManagementConfig": Shape(
        "structure",
        members={
            "FunctionName": NAMESPACED_FUNCTION_NAME,
            "Qualifier": VERSION_QUALIFIER,
            "UpdateRuntimeOn": Shape("string", enum=("Auto", "Manual", "FunctionUpdate")),
            "RuntimeVersionArn": RUNTIME_VERSION_ARN,
        },
        required=("FunctionName", "UpdateRuntimeOn"),
        in_uri=("FunctionName", "Qualifier"),
    ),
    "GetRuntimeManagementConfig": Shape(
        "structure",
        members={"FunctionName": NAMESPACED_FUNCTION_NAME, "Qualifier": VERSION_QUALIFIER},
        required=("FunctionName",),
        in_uri=("FunctionName", "Qualifier"),
    ),
    "PutFunctionRecursionConfig": Shape(
        "structure",
        members={
            "FunctionName": UNQUALIFIED_FUNCTION_NAME,
            "RecursiveLoop": Shape("string", enum=("Allow", "Terminate")),
        },
        required=("FunctionName", "RecursiveLoop"),
        in_uri=("FunctionName",),
    ),
    "GetFunctionRecursionConfig": Shape(
        "structure",
        members={"FunctionName": UNQUALIFIED_FUNCTION_NAME},
        required=("FunctionName",),
        in_uri=("FunctionName",),
    ),
    "CreateCodeSigningConfig": Shape(
        "structure",
        members={
            "Description": DESCRIPTION,
            "AllowedPublishers": ALLOWED_PUBLISHERS,
            "CodeSigningPolicies": CODE_SIGNING_POLICIES,
            "Tags": TAGS,
        },
        required=("AllowedPublishers",),
    ),
    "UpdateCodeSigningConfig": Shape(
        "structure",
        members={
            "CodeSigningConfigArn": CODE_SIGNING_CONFIG_ARN,
            "Description": DESCRIPTION,
            "AllowedPublishers": ALLOWED_PUBLISHERS,
            "CodeSigningPolicies": CODE_SIGNING_POLICIES,
        },
        required=("CodeSigningConfigArn",),
        in_uri=("CodeSigningConfigArn",),
    ),
    "GetCodeSigningConfig": Shape(
        "structure",
        members={"CodeSigningConfigArn": CODE_SIGNING_CONFIG_ARN},
        required=("CodeSigningConfigArn",),
        in_uri=("CodeSigningConfigArn",),
    ),
    "DeleteCodeSigningConfig": Shape(
        "structure",
        members={"CodeSigningConfigArn": CODE_SIGNING_CONFIG_ARN},
        required=("CodeSigningConfigArn",),
        in_uri=("CodeSigningConfigArn",),
    ),
    "ListCodeSigningConfigs": Shape(
        "structure",
        members={"Marker": Shape("string"), "MaxItems": MAX_LIST_ITEMS},
        in_uri=("Marker", "MaxItems"),
    ),
    "ListFunctionsByCodeSigningConfig": Shape(
        "structure",
        members={
            "CodeSigningConfigArn": CODE_SIGNING_CONFIG_ARN,
            "Marker": Shape("string"),
            "MaxItems": MAX_LIST_ITEMS,
        },
        required=("CodeSigningConfigArn",),
        in_uri=("CodeSigningConfigArn", "Marker", "MaxItems"),
    ),
    "PutFunctionCodeSigningConfig": Shape(
        "structure",
        members={"CodeSigningConfigArn": CODE_SIGNING_CONFIG_ARN, "FunctionName": NAMESPACED_FUNCTION_NAME},
        required=("CodeSigningConfigArn", "FunctionName"),
        in_uri=("FunctionName",),
    ),
    "GetFunctionCodeSigningConfig": Shape(
        "structure",
        members={"FunctionName": NAMESPACED_FUNCTION_NAME},
        required=("FunctionName",),
        in_uri=("FunctionName",),
    ),
    "DeleteFunctionCodeSigningConfig": Shape(
        "structure",
        members={"FunctionName": NAMESPACED_FUNCTION_NAME},
        required=("FunctionName",),
        in_uri=("FunctionName",),
    ),
}
