"""A fixed amount of CPU-bound work (event "loops", default 2,000,000), for the CPU-share benchmark."""

import time


def handler(event, context):
    started = time.perf_counter()
    total = 0
    for value in range(event.get("loops", 2_000_000)):
        total += value * value % 7
    return {"seconds": time.perf_counter() - started, "total": total}
