"""Writes where Lambda lets a function write (/tmp) and where it does not (/var/task)."""

import os


def handler(event, context):
    result = {"uid": os.getuid()}
    with open("/tmp/count", "a+") as counter:
        counter.write("x")
        counter.seek(0)
        result["tmp_writes"] = len(counter.read())
    try:
        with open("/var/task/written.txt", "w") as target:
            target.write("should fail")
        result["task_write"] = "allowed"
    except OSError as exc:
        result["task_write"] = exc.strerror
    return result
