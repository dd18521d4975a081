"""Staleness as one rule (issue 22 item 1): a "now" taken from a log uses only readings of the
antenna's last two cycles; anything older is unknown, "not read since HH:MM UTC", never ok and
never cold."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2ckit import analysis
from e2ckit.triage.board import board_frame
from e2ckit.triage.recovery import recovery

T0 = pd.Timestamp("2026-01-01T12:00Z")
CAN_TIMEOUT = "E2C:TIMEOUT_ERROR: the CAN request timed out"


def _log(cycles: int, femc_silent_from: int | None = None, down_from: int | None = None, temp: float = 3.5) -> pd.DataFrame:
    """A one-minute log of DV01: the 4K and 15K stages, the pressure and the compressor drive. From
    cycle ``femc_silent_from`` the FEMC answers only CAN timeouts (the compressor still
    answers); from ``down_from`` nothing answers."""
    rows = []
    for k in range(cycles):
        t = T0 + pd.Timedelta(minutes=k)
        # the 15K stage too: "cold" is both stages (4K < 5 K and 15K < 30 K, the end of pumping)
        for point, value, unit in (("FEMC.TEMP0", temp, "K"), ("FEMC.TEMP5", 15.0, "K"),
                                   ("FEMC.CRYOSTAT_PRESSURE", 2e-7, "mbar"), ("CMPR.DRIVE", 1.0, "")):  # fmt: skip
            error = None
            if down_from is not None and k >= down_from:
                error = "refused: connection refused"
            elif femc_silent_from is not None and k >= femc_silent_from and point.startswith("FEMC"):
                error = CAN_TIMEOUT
            rows.append((t, "DV01", point, math.nan if error else value, unit, "error" if error else "ok", error))
    return pd.DataFrame(rows, columns=["time", "antenna", "point", "value", "unit", "status", "error"])


def test_a_silent_femc_is_not_cold_forty_minutes_later():
    """The FEMC stops answering (CAN timeouts) at 12:20; the compressor still answers. At
    13:00 recovery() and the board called DV01 cold from the 12:19 reading, with no flag."""
    log = _log(61, femc_silent_from=20)
    r = recovery(log).set_index("antenna").loc["DV01"]
    assert not r["cold"] and math.isnan(r["temp_4k"]) and math.isnan(r["pressure"])
    assert "FEMC.TEMP0 not read since 12:19 UTC" in r["flags"]
    assert r["eta_hours"] != 0
    b = board_frame(log).set_index("antenna").loc["DV01"]
    assert b["verdict"] != "ok" and math.isnan(b["temp_4k"])
    assert "FEMC.TEMP0 not read since 12:19 UTC" in b["flags"] and "cold" not in b["flags"]


def test_during_an_outage_the_pre_outage_value_is_not_now():
    log = _log(30, down_from=10)
    r = recovery(log).set_index("antenna").loc["DV01"]
    assert r["flags"].startswith("no answer") and math.isnan(r["temp_4k"]) and not r["cold"]
    b = board_frame(log).set_index("antenna").loc["DV01"]
    assert b["verdict"] == "alarm" and math.isnan(b["temp_4k"])


def test_a_reading_of_the_cycle_before_is_still_now():
    """Two cycles, not one: a point missed once (one lost reply) keeps its last reading."""
    log = _log(10, femc_silent_from=9)
    r = recovery(log).set_index("antenna").loc["DV01"]
    assert r["cold"] and r["temp_4k"] == 3.5 and "not read" not in r["flags"]
    cur = analysis.current(log).set_index("point")
    assert cur.at["FEMC.TEMP0", "fresh"] and cur.at["FEMC.TEMP0", "value"] == 3.5


@settings(max_examples=40, deadline=None)
@given(cycles=st.integers(1, 12), silent=st.integers(0, 12), step=st.integers(1, 3600))
def test_the_rule_counts_cycles_not_seconds(cycles, silent, step):
    """However far apart the cycles are, a point is now only when one of the last two
    cycles read it; otherwise it has no value and says since when."""
    log = _log(cycles, femc_silent_from=silent)
    log["time"] = T0 + (log["time"] - T0) / pd.Timedelta(minutes=1) * pd.Timedelta(seconds=step)
    cur = analysis.current(log).set_index("point")
    fresh = any(k < silent for k in range(max(cycles - 2, 0), cycles))
    assert bool(cur.at["FEMC.TEMP0", "fresh"]) == fresh
    if fresh:
        assert cur.at["FEMC.TEMP0", "value"] == 3.5 and cur.at["FEMC.TEMP0", "flag"] == ""
    else:
        assert math.isnan(cur.at["FEMC.TEMP0", "value"])
        assert cur.at["FEMC.TEMP0", "flag"].startswith("never read" if silent == 0 else "not read since")
    assert cur.at["CMPR.DRIVE", "fresh"]  # the compressor answered throughout


def test_cycle_age_uses_a_cycle_column_when_the_log_has_one():
    log = _log(3)
    log["cycle"] = log["time"].rank(method="dense").astype(int)
    log["time"] = log["time"].iloc[::-1].to_numpy()  # a clock step back: times out of order
    age = analysis.cycle_age(log)
    assert list(age[log["cycle"] == 3].unique()) == [0]


@pytest.mark.parametrize("when", ["12:19", "2025-12-31 12:19"])
def test_not_read_since_says_the_date_when_it_is_another_day(when):
    last = pd.Timestamp("2026-01-01T12:19Z") if ":" in when and "-" not in when else pd.Timestamp("2025-12-31T12:19Z")
    assert analysis.not_read_since(last, T0) == f"not read since {when} UTC"


def test_alarms_over_a_log_say_when_a_point_stopped_being_logged():
    from e2ckit.triage.alarms import alarms

    log = _log(30, temp=8.0)  # a warm 4K stage: a warn episode
    log = log[~((log["point"] == "FEMC.TEMP0") & (log["time"] >= T0 + pd.Timedelta(minutes=20)))]
    a = alarms(log, limits=False)
    stale = a[(a["point"] == "FEMC.TEMP0") & (a["limit"] == "unavailable")]
    assert len(stale) == 1 and stale.iloc[0]["reason"] == "not read since 12:19 UTC" and pd.isna(stale.iloc[0]["end"])
    assert alarms(_log(30), limits=False).empty  # nothing stale, nothing wrong


def test_an_e2c_answering_only_can_timeouts_is_not_down():
    """E2C error replies are answers: the E2C is up (its CAN bus is not). The board and
    recovery() used to call such an antenna down ("no answer")."""
    log = _log(10)
    late = log["time"] >= T0 + pd.Timedelta(minutes=8)
    log.loc[late, ["value", "status", "error"]] = [math.nan, "error", CAN_TIMEOUT]
    b = board_frame(log).set_index("antenna").loc["DV01"]
    assert b["verdict"] != "ok" and "down" not in b["reason"] and not b["flags"].startswith("no answer")
    r = recovery(log).set_index("antenna").loc["DV01"]
    assert not r["flags"].startswith("no answer") and "FEMC.TEMP0 not read since 12:07 UTC" in r["flags"]
    assert analysis.answered(CAN_TIMEOUT) and not analysis.answered("timeout: no reply") and analysis.answered("timeout: x", b"\x00")
