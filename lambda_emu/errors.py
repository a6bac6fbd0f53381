"""The one exception hierarchy of lambda-emu.

    LambdaEmuError                 anything the emulator reports; carries an optional hint
    ├── ConfigError                bad usage or configuration (CLI exit status 2)
    │   ├── TemplateError          a SAM/CloudFormation template that cannot be loaded
    │   └── FunctionNotFoundError  no such function in the template
    ├── ThrottledError             over a concurrency limit (429 TooManyRequestsException + Reason)
    ├── ImageError                 a runtime image is missing or cannot be built
    ├── ContainerError             the container engine refused or failed
    ├── ClosedError                a closed part (the environment pool, the event queue) was asked to work
    └── RuntimeApiError            a Runtime API protocol breach (status + Lambda's error type)

Function failures (exceptions, timeouts, crashes) are not exceptions here: they are results
(InvocationResult with an error payload), as Lambda returns them with HTTP 200.
"""

from __future__ import annotations


class LambdaEmuError(Exception):
    """Base of every error lambda-emu raises; `hint` says what the user can do about it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(LambdaEmuError):
    """Bad usage or configuration. `error_code` is Lambda's exception name for the same mistake."""

    def __init__(
        self, message: str, *, hint: str | None = None, error_code: str = "InvalidParameterValueException"
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_code = error_code


class TemplateError(ConfigError):
    """A template that cannot be read or resolved."""


class FunctionNotFoundError(ConfigError):
    """The named function is not defined."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, error_code="ResourceNotFoundException")


class ThrottledError(LambdaEmuError):
    """No capacity for the call; `reason` is Lambda's, such as ConcurrentInvocationLimitExceeded."""

    def __init__(self, reason: str, message: str = "Rate Exceeded.") -> None:
        super().__init__(message)
        self.reason = reason


class ImageError(LambdaEmuError):
    """A runtime image is missing or its build failed."""


class ContainerError(LambdaEmuError):
    """The container engine is unreachable or refused an operation."""


class ClosedError(LambdaEmuError):
    """A part asked to work after it was closed: serve is stopping (the API answers ServiceException)."""


class RuntimeApiError(LambdaEmuError):
    """A call to the Runtime API that breaks the protocol: answered with `status` and `error_type`."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
