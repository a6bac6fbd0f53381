"""The API model's shapes for the function-management operations that lambda-emu validates: each member's
type and constraints (min/max/pattern/enum/required), as data, held to botocore's model by a test."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lambda_emu import wire
from lambda_emu.config import EPHEMERAL_RANGE

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shape:
    """One shape of the API model: its type and the constraints AWS validates before the service runs."""

    kind: str  # string | integer | double | boolean | blob | list | map | structure
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    members: Mapping[str, Shape] = field(default_factory=dict)  # structure
    required: tuple[str, ...] = ()  # structure
    in_uri: tuple[str, ...] = ()  # structure members the route supplies (never "missing" from a body)
    item: Shape | None = None  # list member or map value
    key: Shape | None = None  # map key
    sensitive: bool = False  # the value is left out of messages (the model's "sensitive" trait)


def _string(min: int | None = None, max: int | None = None, pattern: str | None = None) -> Shape:
    return Shape("string", min, max, pattern)


def _enum(*values: str) -> Shape:
    return Shape("string", enum=values)


def _integer(min: int | None = None, max: int | None = None) -> Shape:
    return Shape("integer", min, max)


def _list(item: Shape, min: int | None = None, max: int | None = None) -> Shape:
    return Shape("list", min, max, item=item)


def _struct(members: Mapping[str, Shape], required: Sequence[str] = (), in_uri: Sequence[str] = ()) -> Shape:
    return Shape("structure", members=members, required=tuple(required), in_uri=tuple(in_uri))


_BOOLEAN = Shape("boolean")
_TEXT = _string()

# Shapes of botocore's lambda/2015-03-31 model (the test holds this table to the installed model).
ARN = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"
FUNCTION_NAME = _string(
    1,
    140,
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
)
NAMESPACED_FUNCTION_NAME = _string(
    1,
    256,
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
)
ROLE = _string(pattern=r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
HANDLER = _string(0, 128, r"[^\s]+")
DESCRIPTION = _string(0, 256)
TIMEOUT = _integer(1)
# Lambda checks MemorySize's range itself, in its own form, on both sides (validation.py): the model pass
# keeps only the model's far ceiling.
MEMORY_SIZE = _integer(None, 32_768)
KMS_KEY_ARN = _string(pattern=ARN)
# Lambda checks Runtime itself (a runtime ARN is accepted too), so it is a plain string to the model pass.
RUNTIME = _TEXT
# Lambda's runtime identifiers (the model's Runtime enum) and the retired ones: named in wire.py.
RUNTIMES = wire.LAMBDA_RUNTIMES
RETIRED_RUNTIMES = wire.RETIRED_RUNTIMES
LAYER_ARN = _string(1, 140, r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+")
ENVIRONMENT = _struct(
    {"Variables": Shape("map", key=_string(pattern=r"[a-zA-Z]([a-zA-Z0-9_])+"), item=_TEXT, sensitive=True)}
)
VPC_CONFIG = _struct(
    {
        "SubnetIds": _list(_TEXT, 0, 16),
        "SecurityGroupIds": _list(_TEXT, 0, 5),
        "Ipv6AllowedForDualStack": _BOOLEAN,
    }
)
DEAD_LETTER_CONFIG = _struct({"TargetArn": _string(pattern=ARN)})
TRACING_CONFIG = _struct({"Mode": _enum("Active", "PassThrough")})
FILE_SYSTEM_CONFIGS = _list(
    _struct(
        {
            "Arn": _string(
                0,
                256,
                r"arn:aws[a-zA-Z-]*:elasticfilesystem:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:"
                r"access-point/fsap-[a-f0-9]{17}$|^arn:aws[-a-z]*:s3files:[0-9a-z-:]+:file-system/"
                r"fs-[0-9a-f]{17,40}/access-point/fsap-[0-9a-f]{17,40}",
            ),
            "LocalMountPath": _string(0, 160, r"/mnt/[a-zA-Z0-9-_.]+"),
        },
        required=("Arn", "LocalMountPath"),
    ),
    0,
    1,
)
IMAGE_CONFIG = _struct(
    {
        "EntryPoint": _list(_TEXT, 0, 1500),
        "Command": _list(_TEXT, 0, 1500),
        "WorkingDirectory": _string(0, 1000),
    }
)
EPHEMERAL_STORAGE = _struct({"Size": _integer(*EPHEMERAL_RANGE)}, required=("Size",))  # Lambda's rule too
SNAP_START = _struct({"ApplyOn": _enum("PublishedVersions", "None")})
LOGGING_CONFIG = _struct(
    {
        "LogFormat": _enum("JSON", "Text"),
        "ApplicationLogLevel": _enum("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"),
        "SystemLogLevel": _enum("DEBUG", "INFO", "WARN"),
        "LogGroup": _string(1, 512, r"[\.\-_/#A-Za-z0-9]+"),
    }
)
ARCHITECTURES = _list(_enum("x86_64", "arm64"), 1, 1)
CODE_SIGNING_CONFIG_ARN = _string(
    0,
    200,
    r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:code-signing-config:"
    r"csc-[a-z0-9]{17}",
)
S3_BUCKET = _string(3, 63, r"[0-9A-Za-z\.\-_]*(?<!\.)")
S3_KEY = _string(1, 1024)
PUBLISH_TO = _enum("LATEST_PUBLISHED")
FUNCTION_CODE = _struct(
    {
        "ZipFile": Shape("blob"),
        "S3Bucket": S3_BUCKET,
        "S3Key": S3_KEY,
        "S3ObjectVersion": S3_KEY,
        "ImageUri": _TEXT,
        "SourceKMSKeyArn": KMS_KEY_ARN,
    }
)
ALIAS = _string(1, 128, r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
ALIAS_VERSION = _string(1, 1024, r"(\$LATEST(\.PUBLISHED)?|[0-9]+)")
ROUTING_CONFIG = _struct(
    {
        "AdditionalVersionWeights": Shape(
            "map", key=_string(1, 1024, r"[0-9]+"), item=Shape("double", 0.0, 1.0)
        )
    }
)

_CONFIGURATION = {
    "Role": ROLE,
    "Handler": HANDLER,
    "Description": DESCRIPTION,
    "Timeout": TIMEOUT,
    "MemorySize": MEMORY_SIZE,
    "VpcConfig": VPC_CONFIG,
    "Environment": ENVIRONMENT,
    "Runtime": RUNTIME,
    "DeadLetterConfig": DEAD_LETTER_CONFIG,
    "KMSKeyArn": KMS_KEY_ARN,
    "TracingConfig": TRACING_CONFIG,
    "Layers": _list(LAYER_ARN),
    "FileSystemConfigs": FILE_SYSTEM_CONFIGS,
    "ImageConfig": IMAGE_CONFIG,
    "EphemeralStorage": EPHEMERAL_STORAGE,
    "SnapStart": SNAP_START,
    "LoggingConfig": LOGGING_CONFIG,
}

# TagResource, UntagResource and ListTags name their resource by ARN (botocore's TaggableResource).
TAGGABLE_RESOURCE = _string(
    1,
    256,
    r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+"
    r"(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)",
)
TAGS = Shape("map", key=_TEXT, item=_TEXT)

# Each operation's input (URI members included: callers may merge them into the body to have them checked).
OPERATIONS: Mapping[str, Shape] = {
    "CreateFunction": _struct(
        {
            "FunctionName": FUNCTION_NAME,
            **_CONFIGURATION,
            "Code": FUNCTION_CODE,
            "Publish": _BOOLEAN,
            "PackageType": _enum("Zip", "Image"),
            "Tags": TAGS,
            "CodeSigningConfigArn": CODE_SIGNING_CONFIG_ARN,
            "Architectures": ARCHITECTURES,
            "PublishTo": PUBLISH_TO,
            "TenancyConfig": _struct(
                {"TenantIsolationMode": _enum("PER_TENANT")}, required=("TenantIsolationMode",)
            ),
        },
        required=("FunctionName", "Role", "Code"),
    ),
    "UpdateFunctionConfiguration": _struct(
        {"FunctionName": FUNCTION_NAME, **_CONFIGURATION, "RevisionId": _TEXT},
        required=("FunctionName",),
        in_uri=("FunctionName",),
    ),
    "UpdateFunctionCode": _struct(
        {
            "FunctionName": FUNCTION_NAME,
            "ZipFile": Shape("blob"),
            "S3Bucket": S3_BUCKET,
            "S3Key": S3_KEY,
            "S3ObjectVersion": S3_KEY,
            "ImageUri": _TEXT,
            "Publish": _BOOLEAN,
            "DryRun": _BOOLEAN,
            "RevisionId": _TEXT,
            "Architectures": ARCHITECTURES,
            "SourceKMSKeyArn": KMS_KEY_ARN,
            "PublishTo": PUBLISH_TO,
        },
        required=("FunctionName",),
        in_uri=("FunctionName",),
    ),
    "PublishVersion": _struct(
        {
            "FunctionName": FUNCTION_NAME,
            "CodeSha256": _TEXT,
            "Description": DESCRIPTION,
            "RevisionId": _TEXT,
            "PublishTo": PUBLISH_TO,
        },
        required=("FunctionName",),
        in_uri=("FunctionName",),
    ),
    "CreateAlias": _struct(
        {
            "FunctionName": FUNCTION_NAME,
            "Name": ALIAS,
            "FunctionVersion": ALIAS_VERSION,
            "Description": DESCRIPTION,
            "RoutingConfig": ROUTING_CONFIG,
        },
        required=("FunctionName", "Name", "FunctionVersion"),
        in_uri=("FunctionName",),
    ),
    "UpdateAlias": _struct(
        {
            "FunctionName": FUNCTION_NAME,
            "Name": ALIAS,
            "FunctionVersion": ALIAS_VERSION,
            "Description": DESCRIPTION,
            "RoutingConfig": ROUTING_CONFIG,
            "RevisionId": _TEXT,
        },
        required=("FunctionName", "Name"),
        in_uri=("FunctionName", "Name"),
    ),
    "AddPermission": _struct(
        {
            "FunctionName": NAMESPACED_FUNCTION_NAME,
            "StatementId": _string(1, 100, r"([a-zA-Z0-9-_]+)"),
            "Action": _string(pattern=r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"),
            "Principal": _string(pattern=r"[^\s]+"),
            "SourceArn": _string(
                pattern=r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
            ),
            "SourceAccount": _string(0, 12, r"\d{12}"),
            "EventSourceToken": _string(0, 256, r"[a-zA-Z0-9._\-]+"),
            "Qualifier": _string(1, 128, r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"),
            "RevisionId": _TEXT,
            "PrincipalOrgID": _string(12, 34, r"o-[a-z0-9]{10,32}"),
            "FunctionUrlAuthType": _enum("NONE", "AWS_IAM"),
            "InvokedViaFunctionUrl": _BOOLEAN,
        },
        required=("FunctionName", "StatementId", "Action", "Principal"),
        in_uri=("FunctionName", "Qualifier"),
    ),
    "TagResource": _struct(
        {"Resource": TAGGABLE_RESOURCE, "Tags": TAGS}, required=("Resource", "Tags"), in_uri=("Resource",)
    ),
    "UntagResource": _struct(
        {"Resource": TAGGABLE_RESOURCE, "TagKeys": _list(_TEXT)},
        required=("Resource", "TagKeys"),
        in_uri=("Resource", "TagKeys"),
    ),
    "ListTags": _struct({"Resource": TAGGABLE_RESOURCE}, required=("Resource",), in_uri=("Resource",)),
    "PublishLayerVersion": _struct(
        {
            "LayerName": _string(
                1, 140, r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
            ),
            "Description": DESCRIPTION,
            "Content": _struct(
                {"S3Bucket": S3_BUCKET, "S3Key": S3_KEY, "S3ObjectVersion": S3_KEY, "ZipFile": Shape("blob")}
            ),
            "CompatibleRuntimes": _list(_enum(*RUNTIMES), 0, 15),
            "LicenseInfo": _string(0, 512),
            "CompatibleArchitectures": _list(_enum("x86_64", "arm64"), 0, 2),
        },
        required=("LayerName", "Content"),
        in_uri=("LayerName",),
    ),
}
