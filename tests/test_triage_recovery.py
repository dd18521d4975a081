"""recovery(): power back, targets, flags, and the cool-down ETAs of the three stages with
their 80 % intervals (issues #14.5, #24.5; the intervals' calibration is in test_triage_eta.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import e2ckit
from e2ckit.errors import ValidationError
from e2ckit.triage import recovery
from e2ckit.triage.eta import Eta, cooldown_interval
from e2ckit.triage.recovery import RECOVERY_COLUMNS, STAGES

ANTENNAS = ["DV01", "DV02"]


def _record(path: Path, hours: float, interval: float, scenario: str = "recovery", seed: int = 2026):
    """Log a scenario on the simulator with a stepped clock; return the antennas' physics."""
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=None)
    with SimulatedArray(ANTENNAS, seed=seed, clock=clock, scenario=scenario, latency=0.0) as sim:
        with e2ckit.Logger("outage", ANTENNAS, interval=interval, path=path, array=sim, clock=clock,
                           timeout=2.0, deadline=5.0, flush_rows=50_000) as log:  # fmt: skip
            log.run(cycles=int(hours * 3600 / interval))
        return {a: sim.models[a].physics for a in ANTENNAS}, sim.models[ANTENNAS[0]].t0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "log"
    physics, _t0 = _record(path, hours=72.0, interval=600.0)
    return e2ckit.load(path), physics


def _direct(log: pd.DataFrame, antenna: str, point: str, since: pd.Timestamp, target: float, floor) -> Eta:
    """cooldown_interval on one stage's logged samples since ``since``, from the log's end."""
    s = log[(log["antenna"] == antenna) & (log["point"] == point) & log["error"].isna() & (log["time"] >= since)]
    hours = ((s["time"] - since) / pd.Timedelta(hours=1)).to_numpy()
    lag = (log.loc[log["antenna"] == antenna, "time"].max() - s["time"].max()) / pd.Timedelta(hours=1)
    return cooldown_interval(hours, s["value"].to_numpy(dtype=float), target, floor).shifted(lag)


@pytest.mark.parametrize("hours", [1, 6, 12, 24])
def test_recovery_states_each_stages_eta_and_interval(recorded, hours):
    """The 4K, 15K and 110K columns are the estimator's answers on the logged readings since
    the restart, toward "cold" (4K < 5 K, 15K < 30 K: the end of pumping, e2c-protocol.md §15)
    and the 110K stage's warn bound; ``too early`` while an interval is NaN."""
    log, _ = recorded
    restarted = recovery(log).set_index("antenna")["restarted"]
    for a in ANTENNAS:
        cut = log[log["time"] <= restarted[a] + pd.Timedelta(hours=hours)]
        r = recovery(cut).set_index("antenna").loc[a]
        early = False
        for prefix, point, target in (("eta", "FEMC.TEMP0", 5.0), ("eta_15k", "FEMC.TEMP5", 30.0),
                                      ("eta_110k", "FEMC.TEMP9", 130.0)):  # fmt: skip
            floor = next(f for p, pt, _, f in STAGES if p == prefix)
            want = _direct(cut, a, point, restarted[a], target, floor)
            got = Eta(r[f"{prefix}_hours"], r[f"{prefix}_low_hours"], r[f"{prefix}_high_hours"])
            assert np.allclose(got, want, equal_nan=True), (a, prefix, got, want)
            early |= want.too_early
        assert ("too early" in r["flags"]) == early, r["flags"]
        if hours >= 12:  # the simulator's cool-down is constrained by then
            assert not early and r["eta_low_hours"] <= r["eta_hours"] <= r["eta_high_hours"]
        if hours == 1:  # the 4K stage's fast first hour says little about the rest
            assert "too early" in r["flags"] and math.isnan(r["eta_low_hours"])


def test_the_eta_counts_from_now_when_a_stage_reading_is_older(recorded):
    """A 4K reading an hour older than the log's latest cycle: the ETA is counted from the
    latest cycle, not from that reading."""
    log, _ = recorded
    restarted = recovery(log).set_index("antenna").at["DV01", "restarted"]
    now = restarted + pd.Timedelta(hours=12)
    cut = log[log["time"] <= now]
    stale = cut[~((cut["point"] == "FEMC.TEMP0") & (cut["time"] > now - pd.Timedelta(hours=1)))]
    fresh = recovery(cut[cut["time"] <= now - pd.Timedelta(hours=1)]).set_index("antenna").loc["DV01"]
    late = recovery(stale).set_index("antenna").loc["DV01"]
    lag = (late["now"] - fresh["now"]) / pd.Timedelta(hours=1)
    assert lag >= 0.9
    for c in ("eta_hours", "eta_low_hours", "eta_high_hours"):
        assert late[c] == pytest.approx(fresh[c] - lag), c


def test_recovery_reports_power_back_restart_and_cold(recorded):
    log, _ = recorded
    r = recovery(log).set_index("antenna")
    # the scenario: power lost 30 min in for 6 h; the compressor restarted after the pump-down
    start = log["time"].min()
    assert r.at["DV01", "power_back"] == start + pd.Timedelta(hours=6, minutes=30)
    assert r.at["DV01", "restarted"] > r.at["DV01", "power_back"]
    assert (r["target_4k"] == 5.0).all()
    # three days later both are cold and nothing is flagged
    assert r["cold"].all() and (r["eta_hours"] == 0).all() and (r["flags"] == "").all()
    # every stage's ETA and interval too, in the documented columns
    assert list(r.reset_index().columns) == RECOVERY_COLUMNS and "eta_error_hours" not in RECOVERY_COLUMNS
    assert (r[[c for c in RECOVERY_COLUMNS if c.startswith("eta_")]] == 0).all().all()


def test_flags_an_antenna_whose_compressor_stays_off(tmp_path):
    # the outage scenario: power back with the drive off, nobody restarts it
    _record(tmp_path / "log", hours=5.0, interval=300.0, scenario="outage")
    r = recovery(tmp_path / "log").set_index("antenna")
    for a in ANTENNAS:
        assert pd.notna(r.at[a, "power_back"])
        assert pd.isna(r.at[a, "restarted"])
        assert not r.at[a, "cold"] and math.isnan(r.at[a, "eta_hours"])
        assert "compressor off" in r.at[a, "flags"]
        assert "4K not falling" in r.at[a, "flags"]
        assert "pressure above 5e-4 mbar" in r.at[a, "flags"]


def test_site_limits_move_the_110k_target_but_never_cold(tmp_path, recorded):
    """"Cold" is a procedure's rule (the end of pumping), not a judgement's bound: a site's
    warn bound on the 4K stage does not move it; the 110K stage's target (its warn bound) moves."""
    log, _ = recorded
    site = tmp_path / "site.csv"
    site.write_text("point,warn_high\nFEMC.TEMP0,8\nFEMC.TEMP9,200\n")
    restarted = recovery(log).set_index("antenna").at["DV01", "restarted"]
    early = log[log["time"] <= restarted + pd.Timedelta(hours=5)]
    default = recovery(early, limits=False).set_index("antenna")
    moved = recovery(early, limits=site).set_index("antenna")
    assert (moved["target_4k"] == 5.0).all()
    assert math.isfinite(default.at["DV01", "eta_hours"]) and math.isfinite(default.at["DV01", "eta_110k_hours"])
    assert moved.at["DV01", "eta_hours"] == default.at["DV01", "eta_hours"]
    assert moved.at["DV01", "eta_110k_hours"] < default.at["DV01", "eta_110k_hours"]


def test_cold_needs_both_stages_the_one_definition(recorded):
    """recovery()'s ``cold`` is the plan's ``cold`` step: 4K < 5 K and 15K < 30 K now; a 15K
    stage at 30 K keeps a 4K stage at 3 K from being cold, and ``eta`` is the later stage's."""
    log, _ = recorded
    assert recovery(log).set_index("antenna").at["DV01", "cold"]
    last = log["time"].max()
    warm15 = log.copy()
    hit = (warm15["point"] == "FEMC.TEMP5") & (warm15["antenna"] == "DV01") & (warm15["time"] == last)
    assert hit.sum() == 1
    warm15.loc[hit, "value"] = 30.0
    r = recovery(warm15).set_index("antenna")
    assert r.at["DV01", "temp_4k"] < 5.0 and not r.at["DV01", "cold"]
    assert r.at["DV02", "cold"]
    # mid-way: the cold time is the later of the 4K (to 5 K) and 15K (to 30 K) estimates
    restarted = r.at["DV01", "restarted"]
    mid = recovery(log[log["time"] <= restarted + pd.Timedelta(hours=12)]).set_index("antenna").loc["DV01"]
    later = max(mid["eta_hours"], mid["eta_15k_hours"])
    assert mid["eta"] == mid["now"] + pd.Timedelta(hours=later) and not mid["cold"]


def test_a_log_without_the_needed_points_is_one_clear_error(recorded):
    log, _ = recorded
    with pytest.raises(ValidationError, match=r"no CMPR\.DRIVE: log the 'outage' group"):
        recovery(log[log["point"] != "CMPR.DRIVE"])
    with pytest.raises(ValidationError, match="loaded log"):
        recovery(42)
