def handler(event, context):
    return {"victim_saw": event, "request_id": context.aws_request_id}
