"""Handlers of the container-image sample: the CMD picks one (ImageConfig.Command can pick another)."""

import os


def handler(event, context):
    if event.get("fail"):
        raise ValueError(f"asked to fail: {event['fail']}")
    print(f"image handler got {event}")
    return {
        "handler": "app.handler",
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "cwd": os.getcwd(),
        "uid": os.getuid(),
    }


def shout(event, context):
    return {"handler": "app.shout", "text": str(event.get("text", "")).upper()}
