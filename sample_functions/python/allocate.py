"""Holds event["mb"] megabytes of memory while it runs (default 10)."""


def handler(event, context):
    megabytes = event.get("mb", 10)
    block = bytearray(megabytes * 1024 * 1024)
    for offset in range(0, len(block), 4096):  # touch every page so it is really resident
        block[offset] = 1
    return {"allocated_mb": megabytes}
