"""The API model's shapes for the per-function configuration operations lambda-emu validates beside the
function-management ones (provisioned concurrency), as data, held to botocore's model by the same test."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lambda_emu.control.request_shapes import FUNCTION_NAME, Shape

LOG = logging.getLogger(__name__)

QUALIFIER = Shape("string", 1, 128, r"(|[a-zA-Z0-9$_-]+)")
POSITIVE_INTEGER = Shape("integer", 1)

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
}
