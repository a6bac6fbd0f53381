"""The embedded backend's OCI bundle, as pure data: what the function runs with and what it is kept in."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_emu.containers.base import ContainerSpec, Mount
from lambda_emu.containers.embedded import CgroupSupport, oci_config, process_config
from lambda_emu.errors import ContainerError

IMAGE = {
    "Env": ["PATH=/usr/bin:/bin", "LANG=en_US.UTF-8"],
    "Cmd": ["/var/runtime/bootstrap"],
    "WorkingDir": "/var/task",
}


def spec(**changes: object) -> ContainerSpec:
    fields: dict[str, object] = {
        "image": "/cache/rootfs",
        "name": "env",
        "environment": {"LANG": "C.UTF-8", "AWS_LAMBDA_RUNTIME_API": "runtime-x:9001"},
        "labels": {},
        "memory_mb": 128,
        "user": "993:990",
        "extra_hosts": (("runtime-x", "127.0.0.1"),),
        "mounts": (Mount("/code", "/var/task"), Mount("/layers", "/opt")),
        "tmpfs_mb": 512,
    }
    fields.update(changes)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


def test_the_process_is_the_images_command_as_the_sandbox_user_without_capabilities() -> None:
    process = process_config(spec(), IMAGE, init=None)
    assert process["args"] == ["/var/runtime/bootstrap"]
    assert (process["user"]["uid"], process["user"]["gid"]) == (993, 990)
    # The function's environment overrides the image's, as `docker create -e` does.
    assert "LANG=C.UTF-8" in process["env"] and "PATH=/usr/bin:/bin" in process["env"]
    assert process["cwd"] == "/var/task"
    assert process["noNewPrivileges"] is True
    assert all(caps == [] for caps in process["capabilities"].values())
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]


def test_an_entrypoint_replaces_the_images_command_and_an_init_runs_it() -> None:
    process = process_config(spec(entrypoint=("/lambda-entrypoint.sh",)), IMAGE, init="/usr/bin/docker-init")
    assert process["args"] == ["/dev/init", "--", "/lambda-entrypoint.sh"]
    command = process_config(spec(command=("app.handler",)), {**IMAGE, "Entrypoint": ["/e"]}, init=None)
    assert command["args"] == ["/e", "app.handler"]


def test_a_named_user_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ContainerError, match="numeric user"):
        process_config(spec(user="app"), IMAGE, init=None)


def test_the_bundle_shares_only_the_hosts_network_and_keeps_the_root_read_only(tmp_path: Path) -> None:
    config = oci_config(spec(), process_config(spec(), IMAGE, init=None), tmp_path, init=None)
    namespaces = {n["type"] for n in config["linux"]["namespaces"]}
    assert namespaces == {"pid", "ipc", "uts", "mount", "cgroup"}  # no "network": the Runtime API on loopback
    assert config["root"] == {"path": "/cache/rootfs", "readonly": True}
    mounts = {m["destination"]: m for m in config["mounts"]}
    assert "size=512m" in mounts["/tmp"]["options"]
    assert "ro" in mounts["/var/task"]["options"] and "ro" in mounts["/opt"]["options"]
    assert mounts["/etc/hosts"]["source"] == str(tmp_path / "hosts")


def test_a_disk_backed_tmp_is_bound_writable_instead_of_a_tmpfs(tmp_path: Path) -> None:
    disk = spec(tmpfs_mb=None, mounts=(Mount("/disks/env", "/tmp", read_only=False),))
    mounts = {m["destination"]: m for m in oci_config(disk, {}, tmp_path, init=None)["mounts"]}
    assert mounts["/tmp"]["type"] == "bind" and "rw" in mounts["/tmp"]["options"]


def test_limits_the_host_cannot_enforce_are_named() -> None:
    assert CgroupSupport(1, True, False, True, False).missing() == ["no swap", "pids limit"]
    assert CgroupSupport(None, False, False, False, False).missing() == [
        "memory hard limit",
        "no swap",
        "CPU quota",
        "pids limit",
    ]
