"""Hostile Python handlers for tests/docker/test_hostile_functions.py: the event's "case" picks what the
function does to its environment; "ok" is the healthy invoke that follows each case."""

import os
import signal
import subprocess
import sys
import threading
import time


def ok(event):
    return {"ok": True, "pid": os.getpid()}


def infinite_loop(event):
    while True:
        pass


def memory_bomb(event):
    hog = []
    while True:
        hog.append(b"x" * (8 * 2**20))  # written pages: real memory, not lazily zeroed ones


def fork_bomb(event):
    while True:
        try:
            os.fork()
        except OSError:
            pass


def fill_tmp(event):
    chunk = b"x" * 2**20
    with open("/tmp/fill", "wb") as file:
        while True:
            file.write(chunk)


def output_100mb(event):
    line = "y" * (2**17 - 1) + "\n"  # 128 KiB lines
    for _ in range(800):
        sys.stdout.write(line)
    print("last line of the flood")
    return {"ok": True}


def print_few_mb(event):
    line = "p" * 999
    for _ in range(5000):
        print(line)
    return {"ok": True}


def close_output(event):
    sys.stdout.close()
    sys.stderr.close()
    os.close(1)
    os.close(2)
    return {"closed": True}


def kill_self(event):
    os.kill(os.getpid(), signal.SIGKILL)


def exit_runtime(event):
    os._exit(3)


def ignore_sigterm(event):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.01)


def huge_result(event):
    return "z" * (7 * 2**20)


def not_json(event):
    return {"value": object()}


def thread_after_response(event):
    def chatter():
        for n in range(20):
            print(f"background line {n}")
            time.sleep(0.05)

    threading.Thread(target=chatter, daemon=True).start()
    return {"ok": True}


def sleep_long(event):
    time.sleep(60)


def subprocess_ok(event):
    return {"echo": subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout}


def handler(event, context):
    return globals()[event["case"]](event)
