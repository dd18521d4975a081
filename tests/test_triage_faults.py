"""Issue 22: judgement that holds when readings are stale, slow, missing or contradictory —
the faults of items 3, 6, 11, 12 and 13 (audit), each against the simulator or real files."""

from __future__ import annotations

import pytest

from e2ckit.sim import SimulatedArray
from e2ckit.sim.clock import SimClock
from e2ckit.triage.diagnose import SILENT_BUS, diagnose


def _silence_the_bus(sim: SimulatedArray, antenna: str) -> None:
    model = sim.models[antenna]
    for abbrev in sorted(model._by_abbrev):
        if abbrev != "E2C":
            model.set_missing(abbrev)


def test_a_silent_can_bus_is_an_inventory_alarm():
    """Item 3: an E2C that answers, lists no node on any channel and times out every LRU
    request was "UNKNOWN: some subsystems could not be read" — milder than one missing LRU."""
    with SimulatedArray(["DV01", "DV02"], seed=5, clock=SimClock(rate=None)) as sim:
        _silence_the_bus(sim, "DV01")
        d = diagnose("DV01,DV02", array=sim, limits=False).set_index(["antenna", "subsystem"])
    assert d.at[("DV01", "inventory"), "verdict"] == "alarm"
    assert d.at[("DV01", "inventory"), "reason"] == SILENT_BUS
    assert d.at[("DV01", "reachability"), "verdict"] == "ok"  # the E2C answered
    assert d.at[("DV01", "inventory"), "rule"] == "lru-missing"
    assert d.at[("DV02", "inventory"), "verdict"] == "ok"
