"""The functions an emulator serves, found as Lambda's Invoke API finds them: by name, partial ARN or
full ARN, with or without a qualifier (contract §5)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from emulator import wire
from emulator.config import EmulatorConfig, FunctionConfig
from emulator.errors import ConfigError, FunctionNotFoundError

LOG = logging.getLogger(__name__)

# name, name:qualifier, 123456789012:function:name[:qualifier], arn:aws:lambda:region:acct:function:name[:q]
_ARN = re.compile(
    r"^(?:arn:(?P<partition>[a-z-]+):lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


@dataclass(frozen=True)
class FunctionRef:
    """What a FunctionName (+ Qualifier) names: the function and the qualifier it was invoked with."""

    function: FunctionConfig
    qualifier: str | None  # as given (None: unqualified, i.e. $LATEST)

    @property
    def executed_version(self) -> str:
        return wire.LATEST


class FunctionRegistry:
    """Thread-safe: the server's handlers read it while a reload may replace a function."""

    def __init__(self, config: EmulatorConfig, functions: Iterable[FunctionConfig] = ()) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._functions: dict[str, FunctionConfig] = {}
        for function in functions:
            self.put(function)

    def put(self, function: FunctionConfig) -> None:
        with self._lock:
            self._functions[function.name] = function

    def remove(self, name: str) -> None:
        with self._lock:
            self._functions.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._functions)

    def get(self, name: str) -> FunctionConfig:
        with self._lock:
            function = self._functions.get(name)
        if function is None:
            raise FunctionNotFoundError(f"Function not found: {self._config.function_arn(name)}")
        return function

    def resolve(self, function_name: str, qualifier: str | None = None) -> FunctionRef:
        """Lambda's resolution of the Invoke API's FunctionName path parameter and Qualifier."""
        match = _ARN.match(function_name or "")
        if not match or len(function_name) > 256:
            raise ConfigError(
                f"1 validation error detected: Value '{function_name}' at 'functionName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
                "([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
                error_code="ValidationException",
            )
        derived = match.group("qualifier")
        if derived and qualifier and derived != qualifier:
            raise ConfigError(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        qualifier = qualifier or derived
        name = match.group("name")
        full_arn = self._config.function_arn(name, qualifier)
        wrong_place = (match.group("account") and match.group("account") != self._config.account_id) or (
            match.group("region") and match.group("region") != self._config.region
        )
        with self._lock:
            function = self._functions.get(name)
        if function is None or wrong_place:
            raise FunctionNotFoundError(f"Function not found: {full_arn}")
        if qualifier not in (None, wire.LATEST):
            # Versions and aliases come with function management; until then only $LATEST exists.
            raise FunctionNotFoundError(f"Function not found: {full_arn}")
        return FunctionRef(function, qualifier)
