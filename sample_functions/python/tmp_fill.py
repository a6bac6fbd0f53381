"""Writes event["mb"] megabytes to /tmp/fill-<name> and reports what happened."""

import os


def handler(event, context):
    path = f"/tmp/fill-{event.get('name', 'data')}"
    chunk = b"\0" * (1024 * 1024)
    written = 0
    try:
        with open(path, "wb") as target:
            for _ in range(event.get("mb", 10)):
                target.write(chunk)
                written += 1
            target.flush()
            os.fsync(target.fileno())
        outcome = "ok"
    except OSError as exc:
        outcome = exc.strerror
    if event.get("remove"):
        os.remove(path)
    return {"written_mb": written, "outcome": outcome, "files": sorted(os.listdir("/tmp"))}
