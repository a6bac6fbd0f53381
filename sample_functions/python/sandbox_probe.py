"""Reports the sandbox the function runs in: user, capabilities, limits, CPU share, /tmp size."""

import os
import resource


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        return f"error: {exc.strerror}"


def _status(field):
    for line in _read("/proc/self/status").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def handler(event, context):
    try:
        with open("/etc/lambda-emu-probe", "w") as handle:
            handle.write("x")
        root_write = "allowed"
    except OSError as exc:
        root_write = exc.strerror
    tmp = os.statvfs("/tmp")
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cap_eff": _status("CapEff"),
        "no_new_privs": _status("NoNewPrivs"),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "pids_max": _read("/sys/fs/cgroup/pids/pids.max"),
        "cpu_quota_us": _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
        "cpu_period_us": _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
        "cpu_shares": _read("/sys/fs/cgroup/cpu/cpu.shares"),
        "root_write": root_write,
        "tmp_size_mb": tmp.f_blocks * tmp.f_frsize // (1024 * 1024),
    }
