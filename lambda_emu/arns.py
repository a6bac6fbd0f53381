"""Amazon Resource Names, built and read in one place: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, the
partition following the region as AWS's does (aws-cn in China, aws-us-gov in GovCloud, aws elsewhere)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

LOG = logging.getLogger(__name__)

_ARN = re.compile(
    r"arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)"
)


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn(service: str, region: str, account: str, resource: str) -> str:
    """`region` may be "" (IAM, S3) and still picks no partition but the default one."""
    return f"arn:{partition(region)}:{service}:{region}:{account}:{resource}"


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    return arn("lambda", region, account, f"function:{name}" + (f":{qualifier}" if qualifier else ""))


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str  # what follows the account: "function:name:qualifier", a queue's name, "role/x", ...


def parse(text: str) -> Arn | None:
    """The parts of an ARN; None when `text` is not one."""
    match = _ARN.fullmatch(text)
    if match is None:
        return None
    return Arn(match["partition"], match["service"], match["region"], match["account"], match["resource"])
