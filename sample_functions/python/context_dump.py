"""Returns every attribute of the context object, with types, and remaining time read twice."""

import time


def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(event.get("sleep_ms", 50) / 1000)
    second = context.get_remaining_time_in_millis()
    client_context = context.client_context
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_limit_type": type(context.memory_limit_in_mb).__name__,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": {
            "cognito_identity_id": context.identity.cognito_identity_id,
            "cognito_identity_pool_id": context.identity.cognito_identity_pool_id,
        },
        "client_context": None if client_context is None else {"custom": client_context.custom},
        "remaining_first": first,
        "remaining_second": second,
        "now_ms": int(time.time() * 1000),
    }
