"""Loaded by the fake container processes of tests/fakes.py (on their PYTHONPATH): the names a container's
/etc/hosts would hold (ContainerSpec.extra_hosts, passed in _FAKE_HOSTS as name=address,...) resolve here,
so the runtime client addresses the Runtime API by its secret name as it does in a real container."""

import os
import socket

_HOSTS = dict(pair.split("=", 1) for pair in os.environ.pop("_FAKE_HOSTS", "").split(",") if pair)
if _HOSTS:
    _resolve = socket.getaddrinfo

    def _getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        return _resolve(_HOSTS.get(host.lower(), host) if isinstance(host, str) else host, *args, **kwargs)

    socket.getaddrinfo = _getaddrinfo
