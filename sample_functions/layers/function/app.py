"""A function whose imports come from its layers at /opt (see ../template.yaml)."""

import os
import shutil
import sys

import greeting  # layer CommonLayer: /opt/python/greeting.py
import which_copy  # in both layers; Lambda's path puts site-packages before /opt/python


def handler(event, context):
    if event.get("action") == "write_opt":
        try:
            with open("/opt/python/new.txt", "w") as stream:
                stream.write("layers are read-only")
        except OSError as exc:
            return {"written": False, "errno": exc.errno, "error": type(exc).__name__}
        return {"written": True}
    with open("/opt/overlap.txt") as stream:
        overlap = stream.read().strip()
    return {
        "greeting": greeting.hello(event.get("name", "world")),
        "which_copy": which_copy.WHERE,
        "overlap": overlap,
        "only_in_common": os.path.isfile("/opt/only-in-common.txt"),
        "tool": shutil.which("layer-tool"),
        "sys_path_head": sys.path[:4],
    }
