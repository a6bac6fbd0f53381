"""Handlers behind the sample APIs of template.yaml (`lambda-emu start-api`)."""

import base64
import json
import time

# The smallest PNG: one transparent pixel.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def echo(event, context):
    """The event this function got, as JSON: what API Gateway made of the request."""
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


def hello(event, context):
    """Payload 2.0's simplified answer: no statusCode, so API Gateway sends this object as a 200 JSON body."""
    return {"hello": event["pathParameters"]["name"] if event.get("pathParameters") else "world"}


def cookies(event, context):
    return {
        "statusCode": 200,
        "cookies": ["session=abc; HttpOnly; Path=/", "theme=dark"],
        "headers": {"Content-Type": "text/plain"},
        "body": "cookies set",
    }


def pixel(event, context):
    """A binary answer: base64 in the response, bytes on the wire."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "isBase64Encoded": True,
        "body": base64.b64encode(PIXEL).decode(),
    }


def malformed(event, context):
    """Not a proxy answer (the body is not a string): API Gateway answers with its internal error."""
    return {"statusCode": 200, "body": {"not": "a string"}}


def boom(event, context):
    raise RuntimeError("failing on purpose")


def slow(event, context):
    time.sleep(3)
    return {"statusCode": 200, "body": "late"}


def token_authorizer(event, context):
    """A REST TOKEN authorizer: "allow" and "deny" get a policy saying so; any other token is refused."""
    token = event["authorizationToken"]
    if token not in ("allow", "deny"):
        raise Exception("Unauthorized")  # API Gateway's 401
    statement = {"Action": "execute-api:Invoke", "Effect": token.capitalize(), "Resource": event["methodArn"]}
    return {
        "principalId": "sample-user",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"plan": "gold"},
    }


def simple_authorizer(event, context):
    """An HTTP API authorizer with simple responses."""
    allowed = event["headers"].get("authorization") == "let-me-in"
    return {"isAuthorized": allowed, "context": {"who": "sample-user"}}
