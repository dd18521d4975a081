""""Cold" has one definition (issue 24 item 1): the end of pumping, 4K stage < 5 K and 15K stage
< 30 K (e2c-protocol.md §15), read by the recovery steps, recovery() and the expected states."""

from __future__ import annotations

import math

import pytest

from e2ckit.catalog.limits import COLD_BELOW_K, Reading, is_cold, judge, load_limits
from e2ckit.triage.plan import load_steps


def test_is_cold_needs_both_stages_strictly_below() -> None:
    assert COLD_BELOW_K == {"FEMC.TEMP0": 5.0, "FEMC.TEMP5": 30.0}
    assert is_cold({"FEMC.TEMP0": 3.1, "FEMC.TEMP5": 15.0})
    assert not is_cold({"FEMC.TEMP0": 5.0, "FEMC.TEMP5": 15.0})
    assert not is_cold({"FEMC.TEMP0": 3.1, "FEMC.TEMP5": 30.0})
    assert not is_cold({"FEMC.TEMP0": 3.1, "FEMC.TEMP5": math.nan})  # unknown is never cold
    assert not is_cold({"FEMC.TEMP0": 3.1})


def test_the_plan_steps_read_the_one_definition() -> None:
    steps = {s.id: s for s in load_steps()}
    cold = {(c.point, c.op, c.lo) for c in steps["cold"].done[0]}
    assert cold == {(p, "<", k) for p, k in COLD_BELOW_K.items()}
    assert cold <= {(c.point, c.op, c.lo) for c in steps["operational"].done[0]}


@pytest.mark.parametrize(
    ("t4", "t15", "state"),
    [(3.2, 15.0, "warn"), (5.5, 20.0, "ok"), (3.2, 31.0, "ok")],
)
def test_pumps_on_are_a_warning_only_once_cold(t4: float, t15: float, state: str) -> None:
    """The gate valve open (the pumps still at work) is expected until the end of pumping:
    a 4K stage at 5.5 K (was a warning: "cold" was 4K < 6 K) or a 15K stage at 31 K is not cold."""
    readings = {
        "FEMC.TEMP0": Reading(t4, f"{t4}"), "FEMC.TEMP5": Reading(t15, f"{t15}"),
        "FEMC.GATE_VALVE": Reading(1.0, "OPEN"),
    }  # fmt: skip
    f = judge("FEMC.GATE_VALVE", readings["FEMC.GATE_VALVE"], readings, limits=load_limits(False))
    assert f.state == state, f
