"""S3 ObjectCreated events: the keys of new uploads (URL-decoded, as S3 encodes them in events)."""

import os
import urllib.parse


def handler(event, context):
    prefix = os.environ["UPLOAD_PREFIX"]
    keys = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        if not key.startswith(prefix):
            raise ValueError(f"s3://{bucket}/{key} is not under {prefix}")
        print(f"new upload s3://{bucket}/{key}")
        keys.append(key)
    return {"uploaded": keys}
