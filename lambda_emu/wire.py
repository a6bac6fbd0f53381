"""Names on the wire, defined once: Runtime API paths and headers, error types, Lambda's fixed values."""

import json
from typing import Any


def loads_json(data: str | bytes) -> Any:
    """json.loads, where a document nested deeper than the parser goes is a ValueError like any other
    malformed JSON (json.loads raises RecursionError): request bodies, payloads and functions' answers
    come from strangers."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


RUNTIME_API_VERSION = "2018-06-01"
RUNTIME_PREFIX = f"/{RUNTIME_API_VERSION}/runtime"
PATH_NEXT = f"{RUNTIME_PREFIX}/invocation/next"
PATH_INIT_ERROR = f"{RUNTIME_PREFIX}/init/error"
INVOCATION_PREFIX = f"{RUNTIME_PREFIX}/invocation/"

# Headers the runtime receives with an event (GET /next).
H_REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
H_DEADLINE_MS = "Lambda-Runtime-Deadline-Ms"
H_FUNCTION_ARN = "Lambda-Runtime-Invoked-Function-Arn"
H_TRACE_ID = "Lambda-Runtime-Trace-Id"
H_CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
H_COGNITO_IDENTITY = "Lambda-Runtime-Cognito-Identity"
H_TENANT_ID = "Lambda-Runtime-Aws-Tenant-Id"
# Headers the runtime may send with an error.
H_FUNCTION_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
# A streamed response (Lambda's Runtime API, "Response streaming"): the mode header on POST /response, sent
# chunked; an error mid-stream comes as trailers, the type and the error's JSON base64-encoded.
H_RESPONSE_MODE = "Lambda-Runtime-Function-Response-Mode"
RESPONSE_MODE_STREAMING = "streaming"
H_FUNCTION_ERROR_BODY = "Lambda-Runtime-Function-Error-Body"
# What awslambda.HttpResponseStream.from sends first: a JSON prelude (statusCode, headers, cookies), then
# eight NUL bytes, then the body (Function URLs in RESPONSE_STREAM mode read it so).
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
HTTP_PRELUDE_END = b"\x00" * 8

# The Invoke API (Lambda API Reference: Invoke): its path and headers, request and response.
FUNCTIONS_PATH = "/2015-03-31/functions"  # the management API's functions (Lambda API Reference)
FUNCTION_PATH = FUNCTIONS_PATH + "/{name}"
CONFIGURATION_PATH = FUNCTION_PATH + "/configuration"
INVOKE_PATH = FUNCTION_PATH + "/invocations"
TAGS_PATH = "/2017-03-31/tags/{arn}"  # TagResource, UntagResource, ListTags: the resource by ARN
ACCOUNT_SETTINGS_PATH = "/2016-08-19/account-settings"
# Ours, beside Lambda's routes: an Invoke whose answer carries the whole log (Tail keeps only 4 KB).
LOCAL_INVOKE_PATH = "/lambda-emu/functions/{name}/invocations"
STREAMING_INVOKE_PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"
X_INVOCATION_TYPE = "X-Amz-Invocation-Type"
X_LOG_TYPE = "X-Amz-Log-Type"
X_CLIENT_CONTEXT = "X-Amz-Client-Context"
X_TENANT_ID = "X-Amz-Tenant-Id"  # the tenant of a function in tenant isolation mode
X_LOG_RESULT = "X-Amz-Log-Result"
X_FUNCTION_ERROR = "X-Amz-Function-Error"
X_EXECUTED_VERSION = "X-Amz-Executed-Version"
X_ERROR_TYPE = "x-amzn-ErrorType"
X_REQUEST_ID = "x-amzn-RequestId"

# Runtime API error types (RAPID's bodies: {"errorMessage": ..., "errorType": ...}).
E_INVALID_REQUEST_ID = "InvalidRequestID"
E_INVALID_STATE_TRANSITION = "InvalidStateTransition"
E_REQUEST_TOO_LARGE = "RequestEntityTooLarge"

# Function error types reported to callers.
E_TIMEOUT = "Sandbox.Timedout"
E_EXIT = "Runtime.ExitError"
E_INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
E_OUT_OF_MEMORY = "Runtime.OutOfMemory"
E_RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
E_SANDBOX_FAILURE = "Sandbox.Failure"

# Payload limits. RAPID accepts a response of 6 MiB + 100 bytes; a sync request must stay under 6 MiB.
MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
# A streamed response's limit: 200 MB since July 2025 (it was a 20 MB soft limit before; Lambda Developer
# Guide, "Response streaming for Lambda functions"). An Invoke of a streaming function buffers it: 6 MB.
MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024
# Code size quotas ("Lambda quotas"): a zip uploaded directly, and a function's code with its layers unzipped.
MAX_ZIPPED_CODE_BYTES = 52_428_800
# A request carrying a zip (CreateFunction, UpdateFunctionCode, PublishLayerVersion), as AWS answers it:
# "Request must be smaller than 70167211 bytes for the CreateFunction operation".
MAX_CODE_REQUEST_BYTES = 70_167_211
MAX_UNZIPPED_CODE_BYTES = 262_144_000
# Lambda's on-demand init phase limit.
INIT_TIMEOUT_S = 10.0
# An environment initialised ahead for provisioned concurrency may take longer: max(130 s, Timeout).
PROVISIONED_INIT_TIMEOUT_S = 130.0
# AWS_LAMBDA_INITIALIZATION_TYPE: how the environment was initialised (Lambda's reserved variables).
INIT_ON_DEMAND = "on-demand"
INIT_PROVISIONED = "provisioned-concurrency"

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
LATEST = "$LATEST"

# The container contract between the emulator and its own runtime clients (runtimes/README.md).
# With this variable set, the runtime client takes the environment's log token from PATH_LOG_TOKEN (once
# per runtime start, before any user code: a second call is refused, and the token is in no environment
# a function could read) and writes "<token> READY" before its first GET /next and
# "<token> END <request id>" after each invocation's output and before posting the result: the
# emulator's log reader cuts the output stream there.
ENV_LOG_MARKER = "_LAMBDA_EMU_LOG_MARKER"
PATH_LOG_TOKEN = "/lambda-emu/log-token"
# host:port our runtime clients connect their stdout and stderr to (lambda_emu/engine/direct_output.py)
ENV_LOG_ADDRESS = "_LAMBDA_EMU_LOG_ADDRESS"
# A debug run (invoke/serve -d PORT): the bootstrap starts the runtime client under a debugger listening on
# 127.0.0.1:<this port> and waiting for the IDE; Python's debugpy is mounted read-only at DEBUGGER_DIR.
ENV_DEBUG_PORT = "_LAMBDA_EMU_DEBUG_PORT"
DEBUGGER_DIR = "/var/lambda-emu-debug"

# fmt: off
# Runtimes long past "Block function update" in the Developer Guide's "Lambda runtimes" (deprecated runtimes).
RETIRED_RUNTIMES = frozenset(
    {
        "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x", "python2.7",
        "python3.6", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "ruby2.5",
    }
)
# fmt: on
