"""Point unmodified host-name clients (the published ``e2c-client``) at a simulated array.

Test and benchmark code, not part of the package (it was ``e2ckit.sim.hostshim``):
tests import it as ``hostshim``, benchmarks put ``tests/`` on ``sys.path`` first.

The published client connects to ``dv01-e2c:2000`` and takes no address map. Rather
than editing ``/etc/hosts``, :func:`write_shim` writes a ``sitecustomize.py`` that a
child Python process picks up from ``PYTHONPATH``: it resolves the simulated
antennas' host names to their loopback addresses and refuses every other ``*-e2c``
name, so a test can never reach a real antenna.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

_TEMPLATE = '''\
# Written by tests/hostshim.py: resolve simulated E2C host names to loopback.
import socket as _socket

_MAP = {mapping}
_orig_getaddrinfo = _socket.getaddrinfo
_orig_gethostbyname = _socket.gethostbyname


def _lookup(host):
    if isinstance(host, bytes):
        host = host.decode()
    if isinstance(host, str):
        key = host.lower()
        if key in _MAP:
            return _MAP[key]
        if key.endswith("-e2c") or ".ape" in key:
            raise _socket.gaierror(_socket.EAI_NONAME, "not a simulated E2C host: " + host)
    return host


def getaddrinfo(host, *args, **kwargs):
    return _orig_getaddrinfo(_lookup(host), *args, **kwargs)


def gethostbyname(host):
    return _orig_gethostbyname(_lookup(host))


def _mapped(address):
    if isinstance(address, tuple) and address and isinstance(address[0], (str, bytes)):
        return (_lookup(address[0]),) + tuple(address[1:])
    return address


# socket.connect((name, port)) resolves in C, past getaddrinfo: map the name first.
_orig_connect = _socket.socket.connect
_orig_connect_ex = _socket.socket.connect_ex


def _connect(self, address):
    return _orig_connect(self, _mapped(address))


def _connect_ex(self, address):
    return _orig_connect_ex(self, _mapped(address))


_socket.getaddrinfo = getaddrinfo
_socket.gethostbyname = gethostbyname
_socket.socket.connect = _connect
_socket.socket.connect_ex = _connect_ex
'''


def write_shim(directory: str | os.PathLike[str], mapping: Mapping[str, str]) -> Path:
    """Write ``sitecustomize.py`` into ``directory``; put it first on the child's PYTHONPATH."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "sitecustomize.py"
    clean = {k.lower(): v for k, v in mapping.items()}
    path.write_text(_TEMPLATE.format(mapping=json.dumps(clean, indent=1, sort_keys=True)))
    return path


def shim_env(directory: str | os.PathLike[str], mapping: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a child process that resolves ``mapping`` through the shim."""
    write_shim(directory, mapping)
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(directory), env.get("PYTHONPATH", "")) if p)
    return env
