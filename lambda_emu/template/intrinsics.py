"""Resolving CloudFormation parameters, conditions and intrinsic functions to the values known locally."""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

from lambda_emu import arns
from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import TemplateError

LOG = logging.getLogger(__name__)

# The stack a template is "deployed" as locally: what AWS::StackName and AWS::StackId stand for.
STACK_NAME = "lambda-emu"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")

_LAYER_ARN = "arn:{partition}:lambda:{region}:{account}:layer:{name}:1"
# Resources whose Ref and some attributes lambda-emu can know, given the physical name: the name property
# the template sets, or else the logical ID (the rule lambda-emu names functions by). type → (name
# property, Ref format, attribute formats); formats take {name}, {region} and {account}.
_NAMED_TYPES: dict[str, tuple[str, str, Mapping[str, str]]] = {
    "AWS::Serverless::Function": ("FunctionName", "{name}", {}),
    "AWS::Lambda::Function": ("FunctionName", "{name}", {}),
    "AWS::DynamoDB::Table": (
        "TableName", "{name}", {"Arn": "arn:{partition}:dynamodb:{region}:{account}:table/{name}"}
    ),
    "AWS::Serverless::SimpleTable": ("TableName", "{name}", {}),
    "AWS::S3::Bucket": (
        "BucketName",
        "{name}",
        {"Arn": "arn:{partition}:s3:::{name}", "DomainName": "{name}.s3.amazonaws.com"},
    ),
    "AWS::SQS::Queue": (
        "QueueName",
        "https://sqs.{region}.amazonaws.com/{account}/{name}",
        {
            "Arn": "arn:{partition}:sqs:{region}:{account}:{name}",
            "QueueName": "{name}",
            "QueueUrl": "https://sqs.{region}.amazonaws.com/{account}/{name}",
        },
    ),
    "AWS::SNS::Topic": (
        "TopicName",
        "arn:{partition}:sns:{region}:{account}:{name}",
        {"TopicArn": "arn:{partition}:sns:{region}:{account}:{name}", "TopicName": "{name}"},
    ),
    "AWS::SSM::Parameter": ("Name", "{name}", {}),
    # Ref to a layer version is its ARN; lambda-emu numbers every local layer version 1.
    "AWS::Serverless::LayerVersion": ("LayerName", _LAYER_ARN, {}),
    "AWS::Lambda::LayerVersion": ("LayerName", _LAYER_ARN, {"LayerVersionArn": _LAYER_ARN}),
}  # fmt: skip
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class IntrinsicError(TemplateError):
    """A mistake CloudFormation would reject too: a Ref to nothing, a malformed function, a cycle."""


class UnresolvableError(TemplateError):
    """A valid value that only a deployed stack knows (Fn::ImportValue, most Fn::GetAtt)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} cannot be resolved locally")
        self.what = what


class _NoValue:
    """AWS::NoValue: the key or list item holding it is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


class Unknown:
    """A parameter value only CloudFormation can fetch (an SSM parameter type's Default): Ref to it fails."""

    def __init__(self, what: str) -> None:
        self.what = what


class Unset:
    """A parameter without a usable value (no Default and no override, or a Default its own rules refuse):
    only a Ref to it fails, so the functions that do not use it still load."""

    def __init__(self, error: IntrinsicError) -> None:
        self.error = error


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", *_FUNCTIONS)


def text_of(value: Any, what: str) -> str:
    """A scalar as CloudFormation writes it into a string: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    kind = "AWS::NoValue" if value is NO_VALUE else type(value).__name__.replace("dict", "mapping")
    raise IntrinsicError(f"{what} must be a string; got a {kind}")


def whole_number(value: Any) -> int | None:
    """An integer, or the text of one (YAML templates keep numbers as text); None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    return None


class Resolver:
    """Resolves the values of one template; lazily, so only the properties read need be resolvable."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        emulator: EmulatorConfig,
        parameters: Mapping[str, Any],
        function_prefix: str = "",
    ):
        self._emulator = emulator
        # A nested stack's functions without a FunctionName are named "<Application>-<LogicalId>": unique
        # beside the parent's, as CloudFormation gives each nested stack's resources names of their own.
        self._function_prefix = function_prefix
        self._parameters = parameters
        self._resources: Mapping[str, Any] = _section(template, "Resources")
        self._mappings = _section(template, "Mappings")
        self._conditions = _section(template, "Conditions")
        region, account = emulator.region, emulator.account_id
        self._pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": arns.arn(
                "cloudformation", region, account, f"stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": arns.partition(region),  # as every ARN lambda-emu makes
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._truths: dict[str, bool] = {}
        self._names: dict[str, str] = {}
        self._in_progress: set[str] = set()

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced; NO_VALUE where AWS::NoValue removes it."""
        if isinstance(value, dict):
            if is_intrinsic(value):
                ((name, argument),) = value.items()
                return self._ref(argument) if name == "Ref" else _FUNCTIONS[name](self, argument)
            if len(value) == 1 and next(iter(value)).startswith("Fn::"):
                raise UnresolvableError(next(iter(value)))
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        return value

    def condition(self, name: Any) -> bool:
        """The truth of a condition named in Conditions."""
        if not isinstance(name, str) or name not in self._conditions:
            raise IntrinsicError(f"condition {name!r} is not defined in Conditions")
        if name not in self._truths:
            with self._guard(f"condition {name}"):
                self._truths[name] = self._truth(self._conditions[name])
        return self._truths[name]

    def physical_name(self, logical_id: str) -> str:
        """The resource's declared name (FunctionName, TableName...), else its logical ID."""
        if logical_id not in self._names:
            spec = _NAMED_TYPES.get(self._type(logical_id))
            properties = self._resources[logical_id].get("Properties")
            declared = properties.get(spec[0]) if spec and isinstance(properties, dict) else None
            name = (
                self._function_prefix + logical_id if self._type(logical_id) in FUNCTION_TYPES else logical_id
            )
            if spec and declared is not None:
                with self._guard(f"{logical_id}.{spec[0]}"):
                    value = self.resolve(declared)
                if value is not NO_VALUE:
                    if not isinstance(value, str):
                        raise IntrinsicError(f"{spec[0]} of {logical_id} must be a string; got {value!r}")
                    name = value
            self._names[logical_id] = name
        return self._names[logical_id]

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        if what in self._in_progress:
            raise IntrinsicError(f"circular reference through {what}")
        self._in_progress.add(what)
        try:
            yield
        finally:
            self._in_progress.discard(what)

    def _type(self, logical_id: str) -> str:
        resource = self._resources.get(logical_id)
        return str(resource.get("Type", "")) if isinstance(resource, dict) else ""

    def _missing(self, logical_id: str, what: str) -> NoReturn:
        # The SAM transform adds resources the template never lists: an implicit API, each
        # function's role; they are real, but only a deployment knows them.
        base = re.sub(r"(Role|\.Alias|\.Version)$", "", logical_id)
        generated = logical_id in ("ServerlessRestApi", "ServerlessHttpApi") or (
            base != logical_id and self._type(base) == "AWS::Serverless::Function"
        )
        if generated:
            raise UnresolvableError(what)
        raise IntrinsicError(f"{what} names {logical_id!r}, which is neither a parameter nor a resource")

    def _format(self, template: str, logical_id: str) -> str:
        region, account = self._emulator.region, self._emulator.account_id
        return template.format(
            name=self.physical_name(logical_id),
            region=region,
            account=account,
            partition=arns.partition(region),
        )

    def _truth(self, expression: Any) -> bool:
        if isinstance(expression, str):
            return self.condition(expression)
        name = next(iter(expression)) if isinstance(expression, dict) and len(expression) == 1 else None
        argument = expression[name] if name else None
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::Equals":
            left, right = _arguments(name, argument, 2)
            return _comparable(self.resolve(left)) == _comparable(self.resolve(right))
        if name == "Fn::Not":
            return not self._truth(_arguments(name, argument, 1)[0])
        if name in ("Fn::And", "Fn::Or"):
            truths = [self._truth(item) for item in _arguments(name, argument)]
            return all(truths) if name == "Fn::And" else any(truths)
        raise IntrinsicError(
            f"{expression!r} is not a condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)"
        )

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise IntrinsicError(f"Ref takes a name; got {name!r}")
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            value = self._parameters[name]
            if isinstance(value, Unknown):
                raise UnresolvableError(value.what)
            if isinstance(value, Unset):
                raise IntrinsicError(value.error.message, hint=value.error.hint)
            return value
        if name in self._resources:
            spec = _NAMED_TYPES.get(self._type(name))
            if spec is None:
                raise UnresolvableError(f"Ref {name} (a {self._type(name) or 'resource'})")
            return self._format(spec[1], name)
        self._missing(name, f"Ref {name}")

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = _arguments("Fn::GetAtt", argument, 2)
        attribute = self.resolve(attribute)
        if not isinstance(logical_id, str) or not isinstance(attribute, str):
            raise IntrinsicError(f"Fn::GetAtt takes a resource and an attribute name; got {argument!r}")
        what = f"Fn::GetAtt {logical_id}.{attribute}"
        if logical_id not in self._resources:
            self._missing(logical_id, what)
        kind = self._type(logical_id)
        if kind in FUNCTION_TYPES and attribute == "Arn":
            return self._emulator.function_arn(self.physical_name(logical_id))
        template = _NAMED_TYPES.get(kind, ("", "", {}))[2].get(attribute)
        if template is None:
            raise UnresolvableError(what)
        return self._format(template, logical_id)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else _arguments("Fn::Sub", argument, 2)
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise IntrinsicError(f"Fn::Sub takes a string, or a string and a mapping; got {argument!r}")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):  # ${!Literal} writes ${Literal}
                return "${" + match.group(1)[1:] + "}"
            if name in variables:
                value = self.resolve(variables[name])
            elif "." in name and not name.startswith("AWS::"):
                value = self._get_att(name.split(".", 1))
            else:
                value = self._ref(name)
            return text_of(value, f"${{{name}}} in Fn::Sub")

        return _SUB_VARIABLE.sub(substitute, text)

    def _join(self, argument: Any) -> str:
        delimiter, items = (self.resolve(a) for a in _arguments("Fn::Join", argument, 2))
        if not isinstance(delimiter, str) or not isinstance(items, list):
            raise IntrinsicError(f"Fn::Join takes a delimiter and a list; got {argument!r}")
        return delimiter.join(text_of(item, "an item of Fn::Join") for item in items)

    def _select(self, argument: Any) -> Any:
        index, items = (self.resolve(a) for a in _arguments("Fn::Select", argument, 2))
        position = whole_number(index)
        if not isinstance(items, list) or position is None or not 0 <= position < len(items):
            raise IntrinsicError(f"Fn::Select index {index!r} is out of range of {items!r}")
        return items[position]

    def _split(self, argument: Any) -> list[str]:
        delimiter, source = (self.resolve(a) for a in _arguments("Fn::Split", argument, 2))
        if not isinstance(delimiter, str) or not delimiter:
            raise IntrinsicError(f"Fn::Split takes a delimiter and a string; got {argument!r}")
        return text_of(source, "the string of Fn::Split").split(delimiter)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = _arguments("Fn::If", argument, 3)
        return self.resolve(when_true if self.condition(name) else when_false)

    def _find_in_map(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) not in (3, 4):
            raise IntrinsicError(f"Fn::FindInMap takes a map name and two keys; got {argument!r}")
        keys = [text_of(self.resolve(key), "a key of Fn::FindInMap") for key in argument[:3]]
        found: Any = self._mappings
        for key in keys:
            found = found.get(key, NO_VALUE) if isinstance(found, dict) else NO_VALUE
        if found is NO_VALUE:
            default = argument[3] if len(argument) == 4 else None
            if not isinstance(default, dict) or "DefaultValue" not in default:  # AWS::LanguageExtensions
                raise IntrinsicError(f"Fn::FindInMap: {'.'.join(keys)} is not in Mappings")
            found = default["DefaultValue"]
        return self.resolve(found)

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(text_of(self.resolve(argument), "Fn::Base64").encode()).decode()

    def _cidr(self, argument: Any) -> list[str]:
        block, count, bits = (self.resolve(a) for a in _arguments("Fn::Cidr", argument, 3))
        try:
            network = ipaddress.ip_network(text_of(block, "the block of Fn::Cidr"), strict=False)
            subnets = network.subnets(new_prefix=network.max_prefixlen - int(bits))
            return [str(subnet) for subnet in itertools.islice(subnets, int(count))]
        except ValueError as exc:
            raise IntrinsicError(f"Fn::Cidr {argument!r}: {exc}") from None

    def _import_value(self, argument: Any) -> NoReturn:
        raise UnresolvableError(f"Fn::ImportValue {self.resolve(argument)}")

    def _get_azs(self, argument: Any) -> NoReturn:
        raise UnresolvableError("Fn::GetAZs")

    def _length(self, argument: Any) -> int:
        items = self.resolve(argument)
        if not isinstance(items, list):
            raise IntrinsicError(f"Fn::Length takes a list; got {items!r}")
        return len(items)

    def _to_json_string(self, argument: Any) -> str:
        return json.dumps(self.resolve(argument), separators=(",", ":"))


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Base64": Resolver._base64,
    "Fn::Cidr": Resolver._cidr,
    "Fn::ImportValue": Resolver._import_value,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::Length": Resolver._length,
    "Fn::ToJsonString": Resolver._to_json_string,
}


def _section(template: Mapping[str, Any], name: str) -> dict[str, Any]:
    section = template.get(name) or {}
    if not isinstance(section, dict):
        raise IntrinsicError(f"{name} must be a mapping")
    return section


def _arguments(function: str, argument: Any, count: int | None = None) -> list[Any]:
    if not isinstance(argument, list) or (len(argument) != count if count else not argument):
        expected = f"{count} arguments" if count else "arguments"
        raise IntrinsicError(f"{function} takes a list of {expected}; got {argument!r}")
    return argument


def _comparable(value: Any) -> Any:
    # Fn::Equals compares what CloudFormation would render: "1" equals 1, "true" equals true.
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return text_of(value, "an argument of Fn::Equals") if value is not None else ""
