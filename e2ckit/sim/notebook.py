"""A simulated array described by a few settings, as the notebooks and their tests use it.

The settings are those of ``tests/notebooks/notebooks.toml``: ``antennas`` (names or
families, ``"all"``), ``seed``, ``scenarios`` (shipped names, applied in order),
``advance`` (simulated time to let pass first, ``"6h"``) and ``faults`` (transport
faults, as :meth:`SimulatedArray.fault` takes them). A notebook states the settings its
stored outputs came from in a ``SETUP`` cell and can start that same array with
:func:`use`; the notebook tests start it with :func:`build`, and a test checks the two
agree.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from e2ckit.clock import SimClock, parse_duration
from e2ckit.sim.server import SimulatedArray

__all__ = ["build", "use"]


def build(setup: dict[str, Any], *, serve: bool = True) -> SimulatedArray:
    """A started, seeded SimulatedArray with a stepped clock, as ``setup`` describes it;
    serving loopback sockets (a notebook's kernel and e2c-client reach it by host:port)
    unless ``serve=False`` (the memory driver: nothing to open)."""
    antennas = setup.get("antennas", "all")
    clock = SimClock(rate=None)  # stepped: simulated time moves only when told
    sim = SimulatedArray(None if antennas == "all" else antennas, seed=int(setup.get("seed", 0)), clock=clock,
                         serve=serve)  # fmt: skip
    for name in setup.get("scenarios", []):
        sim.apply_scenario(name)
    if setup.get("advance"):
        clock.advance(parse_duration(setup["advance"]))
    sim.start()
    for fault in setup.get("faults", []):
        fault = dict(fault)
        sim.fault(fault.pop("antenna"), fault.pop("kind"), **fault)
    return sim


def use(setup: dict[str, Any], host_map: str | os.PathLike[str] | None = None) -> SimulatedArray:
    """:func:`build`, then point ``$E2CKIT_ARRAY`` (this process) at it, so that every
    e2ckit call that names no array talks to it; the host map goes to ``host_map`` or a
    temporary file. Stop it with ``sim.stop()``."""
    sim = build(setup)
    if host_map is None:
        host_map = Path(tempfile.mkdtemp(prefix="e2ckit-sim-")) / "array.csv"
    os.environ["E2CKIT_ARRAY"] = str(sim.write_array(host_map))
    return sim
