"""The one exception hierarchy of lambda-emu.

    LambdaEmuError                 anything the emulator reports; carries an optional hint
    ├── ConfigError                bad usage or configuration (CLI exit status 2; the API's
    │   │                          InvalidParameterValueException)
    │   └── TemplateError          a SAM/CloudFormation template that cannot be loaded
    ├── ApiError                   an error as Lambda's API answers it: exception name, HTTP status,
    │   │                          message (a 4xx is a usage error, exit 2; a 5xx is not)
    │   └── FunctionNotFoundError  no such function (ResourceNotFoundException)
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
    """Bad usage or configuration (through the API: InvalidParameterValueException, as Lambda names it)."""


class TemplateError(ConfigError):
    """A template that cannot be read or resolved."""


# The HTTP status of each exception Lambda's API answers with (Lambda API Reference, each action's Errors);
# any other name is a 500.
API_STATUS = {
    "InvalidParameterValueException": 400,
    "InvalidRequestContentException": 400,
    "PolicyLengthExceededException": 400,
    "ValidationException": 400,
    "AccessDeniedException": 403,
    # The errors every AWS API shares when a signature is wrong or incomplete (AWS's common errors; Lambda's
    # answers to a signature it cannot match are 403 InvalidSignatureException).
    "IncompleteSignatureException": 400,
    "InvalidSignatureException": 403,
    "ResourceNotFoundException": 404,
    "ProvisionedConcurrencyConfigNotFoundException": 404,
    "CodeSigningConfigNotFoundException": 404,
    "ResourceConflictException": 409,
    "PreconditionFailedException": 412,
    "RequestEntityTooLargeException": 413,
    "UnsupportedMediaTypeException": 415,
    "TooManyRequestsException": 429,
    "ServiceException": 500,
}


class ApiError(LambdaEmuError):
    """An error of Lambda's API: `code` is Lambda's exception name (x-amzn-ErrorType), `status` its HTTP
    status. The caller's mistake when the status is 4xx."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code

    @property
    def status(self) -> int:
        return API_STATUS.get(self.code, 500)

    @property
    def is_usage(self) -> bool:
        return self.status < 500


def api_code(exc: BaseException) -> str:
    """The exception name Lambda's API answers `exc` with."""
    if isinstance(exc, ApiError):
        return exc.code
    if isinstance(exc, ConfigError):
        return "InvalidParameterValueException"
    return "ServiceException"


class FunctionNotFoundError(ApiError):
    """The named function is not defined."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__("ResourceNotFoundException", message, hint=hint)


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
