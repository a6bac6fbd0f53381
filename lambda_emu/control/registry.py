"""The functions an emulator serves, found as Lambda's Invoke API finds them: by name, partial ARN or
full ARN, with or without a qualifier (Lambda API Reference: Invoke)."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lambda_emu import wire
from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.control.aliases import auto_publish, pick_version
from lambda_emu.control.model import ACTIVE, FunctionRecord, template_record
from lambda_emu.control.request_shapes import OPERATIONS
from lambda_emu.control.store import CODE_DIR, FunctionStore
from lambda_emu.control.validation import check_request
from lambda_emu.errors import ApiError, ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)

# name, name:qualifier, 123456789012:function:name[:qualifier], arn:aws:lambda:region:acct:function:name[:q]:
# the parts of what the model's NamespacedFunctionName pattern accepts (a '.' in the name, $LATEST.PUBLISHED),
# whose text the API checks before it gets here (api/inputs.py).
_ARN = re.compile(
    r"^(?:arn:(?P<partition>[a-zA-Z-]+):lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$"
)

# Invoke's input: its FunctionName is the model's NamespacedFunctionName (up to 256, any qualifier).
_ANY_FUNCTION_NAME = OPERATIONS["Invoke"]


@dataclass(frozen=True)
class FunctionRef:
    """What a FunctionName (+ Qualifier) names: the configuration that runs and the qualifier given."""

    function: FunctionConfig  # of the version that runs: $LATEST, a number, or the one an alias picked
    qualifier: str | None  # as given (None: unqualified, i.e. $LATEST)

    @property
    def executed_version(self) -> str:
        return self.function.version


class FunctionRegistry:
    """The functions an emulator serves: a view over the control plane's FunctionStore (thread-safe: the
    server's handlers read it while a reload or an API call changes a function). `put` and `remove` are how
    a template's functions come and go; API changes go through lambda_emu.control.plane."""

    def __init__(
        self,
        config: EmulatorConfig,
        functions: Iterable[FunctionConfig] = (),
        store: FunctionStore | None = None,
    ) -> None:
        self._config = config
        self.store = store if store is not None else FunctionStore(config.state_dir / CODE_DIR)
        for function in functions:
            self.put(function)

    def put(self, function: FunctionConfig) -> None:
        """A template's function, new or changed: its $LATEST is the template's (AutoPublishAlias: a version
        is published and the alias pointed at it, as SAM deploys do)."""
        with self.store.lock:
            self.store.put_latest(template_record(function, self.store.latest(function.name)))
            if function.auto_publish_alias:
                auto_publish(self.store, function.name, function.auto_publish_alias)

    def remove(self, name: str) -> None:
        self.store.remove(name)

    def names(self) -> list[str]:
        return self.store.names()

    def get(self, name: str) -> FunctionConfig:
        record = self.store.latest(name)
        if record is None:
            raise FunctionNotFoundError(f"Function not found: {self._config.function_arn(name)}")
        return record.serving

    def spelled(self, function_name: str) -> str:
        """The name as Lambda's API model sees it (a registry that knows other spellings maps them)."""
        return function_name

    def parse(self, function_name: str, qualifier: str | None = None) -> tuple[str, str | None]:
        """(name, qualifier) of a FunctionName path parameter (name, partial or full ARN, optionally with a
        qualifier suffix) and a Qualifier, checked as Lambda checks them (Lambda API Reference: Invoke)."""
        match = _ARN.match(function_name or "")
        if not match:
            # Over HTTP the request's operation has checked the name already; a caller in-process is
            # answered in the model's words for the widest name an operation takes.
            check_request(_ANY_FUNCTION_NAME, {"FunctionName": function_name})
            raise FunctionNotFoundError(f"Function not found: {function_name}")
        derived = match.group("qualifier")
        if derived and qualifier and derived != qualifier:
            raise ConfigError(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        qualifier = qualifier or derived
        name = match.group("name")
        region = match.group("region")
        if region and region != self._config.region:
            # Lambda's answer to an ARN of another region (ResourceNotFoundException, 404).
            raise FunctionNotFoundError(
                f"Functions from '{region}' are not reachable in this region ('{self._config.region}')"
            )
        if match.group("account") and match.group("account") != self._config.account_id:
            raise FunctionNotFoundError(f"Function not found: {self._config.function_arn(name, qualifier)}")
        return name, qualifier

    def record(self, function_name: str, qualifier: str | None = None) -> FunctionRecord:
        """The stored version a FunctionName + Qualifier names ($LATEST, a number or an alias's primary)."""
        return self._found(*self.parse(function_name, qualifier))

    def resolve(self, function_name: str, qualifier: str | None = None) -> FunctionRef:
        """Lambda's resolution of the Invoke API's FunctionName path parameter and Qualifier; an alias with
        a routing configuration picks its version at random by weight, per call."""
        name, qualifier = self.parse(function_name, qualifier)
        record = self._found(name, qualifier, route=True)
        if record.state != ACTIVE:
            # Lambda refuses invokes while a function is Pending (being created) or Failed ("Lambda function
            # states" in the Lambda Developer Guide).
            raise ApiError(
                "ResourceConflictException",
                "The operation cannot be performed at this time. The function is currently in the following "
                f"state: {record.state}",
            )
        return FunctionRef(record.serving, qualifier)

    def _found(self, name: str, qualifier: str | None, *, route: bool = False) -> FunctionRecord:
        """The record `_lookup` finds; FunctionNotFoundError when there is none."""
        record = self._lookup(name, qualifier, route=route)
        if record is None:
            raise FunctionNotFoundError(f"Function not found: {self._config.function_arn(name, qualifier)}")
        return record

    def _lookup(self, name: str, qualifier: str | None, *, route: bool = False) -> FunctionRecord | None:
        latest = self.store.latest(name)
        if latest is None or qualifier is None or qualifier == wire.LATEST:
            return latest
        if qualifier.isdigit():
            return self.store.version(name, qualifier)
        alias = self.store.alias(name, qualifier)
        if alias is None:
            return None
        version = pick_version(alias, random.random()) if route else alias.function_version
        return latest if version == wire.LATEST else self.store.version(name, version)
