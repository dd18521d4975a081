"""Where a command talks: the active host map (``--array``, ``$E2CKIT_ARRAY``, the deferred
``--simulate`` array, the ALMA defaults) and ``--host`` resolved against it."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from typing import Any

from e2ckit.array import DEFAULT_PORT, Array, Endpoint, default_array
from e2ckit.cli.options import BadInput, check_port
from e2ckit.names import ANTENNA_FAMILY_RE


class _Simulation:
    """The ``--simulate`` array of this command: started by the first command step that
    needs an array (so every option is checked before 66 simulated E2Cs start), and the
    source of the array it makes active, which messages call "the --simulate array"."""

    start: Callable[[], str] | None = None
    source: str | None = None


def defer_simulation(start: Callable[[], str] | None) -> None:
    """Register (or, with None, forget) the ``--simulate`` start; ``start`` makes the
    simulated array the active one (:func:`e2ckit.array.use_array`) and returns its source."""
    _Simulation.start, _Simulation.source = start, None


def start_simulation() -> None:
    """Start the deferred ``--simulate`` array now, if there is one and it has not started."""
    start, _Simulation.start = _Simulation.start, None
    if start is not None:
        _Simulation.source = start()


def check_antennas(antennas: Any) -> None:
    """``--antennas`` checked before a deferred ``--simulate`` array starts (it holds the
    66 ALMA antennas, as the default map does); with any other map, on use."""
    if _Simulation.start is not None and antennas is not None:
        Array.default().select(antennas)


def array_name(arr: Array) -> str:
    """Where the host map came from, in words a user knows (no temporary paths)."""
    if _Simulation.source is not None and arr.source == _Simulation.source:
        return "the --simulate array"
    return arr.source or "in memory"


def active_array() -> Array:
    """The host map commands talk to (``--array``, ``$E2CKIT_ARRAY``, ``--simulate``, the
    ALMA defaults); starts the ``--simulate`` array on first use."""
    start_simulation()
    return default_array()


def resolve_target(host: str | None, port: int | None) -> tuple[str, Endpoint]:
    """``--host``/``--port`` → (label, endpoint).

    An antenna of the active array (``DV01``, ``dv01-e2c``, ``dv01-e2c.some.domain``)
    uses its host-map entry (``--port`` overrides the port). A name shaped like an
    antenna that the array does not hold is an error (a typo, not a host). Anything
    else is taken as a host name or address, on ``--port`` or 2000.
    """
    if host is None or not host.strip():
        raise BadInput("missing --host (an antenna such as DV01, or an E2C host name or address)")
    check_port(port)
    h = host.strip()
    if any(c.isspace() or not c.isprintable() for c in h):
        raise BadInput(f"--host {h!r} is not a host name")
    name = h if _looks_like_ip(h) else h.split(".")[0].upper()
    if name.endswith("-E2C"):
        name = name[: -len("-E2C")]
    arr = active_array()
    if name in arr.antennas:
        ep = arr[name]
        if h.upper() in (name, f"{name}-E2C", ep.host.upper()):
            return name, ep if port is None else dataclasses.replace(ep, port=port)  # keeps its transport
        # a fully qualified name of a known antenna (dv01-e2c.site.domain): that host
        return name, Endpoint(name, h, DEFAULT_PORT if port is None else port)
    if ANTENNA_FAMILY_RE.match(name):  # shaped like an antenna (a family and digits): a typo, not a host
        raise BadInput(
            f"unknown antenna {h!r}: not in the active array ({array_name(arr)})"
        )
    known = [e for e in arr.values() if e.host == h and (port is None or e.port == port)]
    if len(known) == 1:  # an address the map knows: show its antenna, not the address
        return known[0].antenna, Endpoint(known[0].antenna, h, known[0].port)
    return h, Endpoint(h, h, DEFAULT_PORT if port is None else port)


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
