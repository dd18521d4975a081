"""Helpers shared by the loopback-socket test modules.

A plain module rather than ``from conftest import ...``: ``tests/notebooks/conftest.py``
shadows the name ``conftest`` once both directories are on ``sys.path``.
"""

from __future__ import annotations

from e2ckit.client import Client


def client_for(sim, antenna: str, timeout: float = 2.0) -> Client:
    """A ``Client`` for one antenna of a started simulated array (not yet connected)."""
    ep = sim.array[antenna]
    return Client(ep.host, ep.port, timeout=timeout)
