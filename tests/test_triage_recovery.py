"""recovery(): power back, targets, flags, and the cool-down ETA checked against the
simulator's own physics (issue #14.5)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import e2ckit
from e2ckit.errors import ValidationError
from e2ckit.triage import recovery
from e2ckit.triage.recovery import cooldown_eta

ANTENNAS = ["DV01", "DV02"]
#: hours after the compressor restarted at which the ETA is checked
MOMENTS = (6, 9, 12, 18, 24)


def _record(path: Path, hours: float, interval: float, scenario: str = "recovery", seed: int = 2026):
    """Log a scenario on the simulator with a stepped clock; return the antennas' physics."""
    from e2ckit.sim import SimulatedArray
    from e2ckit.sim.clock import SimClock

    clock = SimClock(rate=None)
    with SimulatedArray(ANTENNAS, seed=seed, clock=clock, scenario=scenario, latency=0.0) as sim:
        with e2ckit.Logger("outage", ANTENNAS, interval=interval, path=path, array=sim, clock=clock,
                           timeout=2.0, deadline=5.0, flush_rows=50_000) as log:  # fmt: skip
            log.run(cycles=int(hours * 3600 / interval))
        return {a: sim.models[a].physics for a in ANTENNAS}, sim.models[ANTENNAS[0]].t0


def _cold_time(physics, t_from: float, target: float) -> float:
    """Simulated UNIX time at which the 4K stage first reads below ``target`` (1-min steps)."""
    t = t_from
    while physics.state(t).t4 > target:
        t += 60.0
        assert t - t_from < 5 * 86400, "never cold"
    return t


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "log"
    physics, _t0 = _record(path, hours=48.0, interval=600.0)
    return e2ckit.load(path), physics


def eta_table(log: pd.DataFrame, physics) -> pd.DataFrame:
    """Predicted against actual hours to cold at several moments of the recovery."""
    full = recovery(log)
    rows = []
    for a in ANTENNAS:
        restarted = full.set_index("antenna").at[a, "restarted"]
        target = full.set_index("antenna").at[a, "target_4k"]
        cold_at = pd.Timestamp(_cold_time(physics[a], restarted.timestamp(), target), unit="s", tz="UTC")
        for h in MOMENTS:
            now = restarted + pd.Timedelta(hours=h)
            if now >= cold_at:
                continue
            r = recovery(log[log["time"] <= now]).set_index("antenna").loc[a]
            actual = (cold_at - r["now"]) / pd.Timedelta(hours=1)
            err = (r["eta_hours"] - actual) / actual
            rows.append((a, h, round(actual, 1), round(r["eta_hours"], 1), round(r["eta_error_hours"], 1), round(100 * err, 1)))
    return pd.DataFrame(rows, columns=["antenna", "hours_into_recovery", "actual_h", "predicted_h", "uncertainty_h", "error_pct"])


def test_eta_within_15_percent_from_6h_into_the_recovery(recorded):
    log, physics = recorded
    table = eta_table(log, physics)
    print("\n" + table.to_string(index=False))
    assert len(table) >= 6  # several moments on both antennas
    assert (table["error_pct"].abs() <= 15).all(), table.to_string()


@pytest.mark.parametrize("seed", [7, 42])
def test_eta_on_other_seeds(tmp_path, seed):
    """Seeds the fit was not tuned on (its constants were chosen on the shipped log, seed
    2026): within 15 %, or within one 10-minute sample once less than an hour is left."""
    physics, _ = _record(tmp_path / "log", hours=48.0, interval=600.0, seed=seed)
    table = eta_table(e2ckit.load(tmp_path / "log"), physics)
    print("\n" + table.to_string(index=False))
    assert len(table) >= 6
    close = (table["error_pct"].abs() <= 15) | ((table["predicted_h"] - table["actual_h"]).abs() <= 1 / 6)
    assert close.all(), table.to_string()


def test_recovery_reports_power_back_restart_and_cold(recorded):
    log, _ = recorded
    r = recovery(log).set_index("antenna")
    # the scenario: power lost 30 min in for 6 h; the compressor restarted after the pump-down
    start = log["time"].min()
    assert r.at["DV01", "power_back"] == start + pd.Timedelta(hours=6, minutes=30)
    assert r.at["DV01", "restarted"] > r.at["DV01", "power_back"]
    assert (r["target_4k"] == 6.0).all()
    # two days later both are cold and nothing is flagged
    assert r["cold"].all() and (r["eta_hours"] == 0).all() and (r["flags"] == "").all()


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


def test_site_limits_move_the_target(tmp_path, recorded):
    log, _ = recorded
    site = tmp_path / "site.csv"
    site.write_text("point,warn_high\nFEMC.TEMP0,8\n")
    early = log[log["time"] <= log["time"].min() + pd.Timedelta(hours=20)]
    default = recovery(early, limits=False).set_index("antenna")
    moved = recovery(early, limits=site).set_index("antenna")
    assert (moved["target_4k"] == 8.0).all()
    assert moved.at["DV01", "eta_hours"] < default.at["DV01", "eta_hours"]


def test_a_log_without_the_needed_points_is_one_clear_error(recorded):
    log, _ = recorded
    with pytest.raises(ValidationError, match=r"no CMPR\.DRIVE: log the 'outage' group"):
        recovery(log[log["point"] != "CMPR.DRIVE"])
    with pytest.raises(ValidationError, match="loaded log"):
        recovery(42)


def test_cooldown_eta_edge_cases():
    assert cooldown_eta([0, 1, 2], [5.0, 4.0, 3.0], 6.0) == (0.0, 0.0)  # already cold
    hours = [i / 6 for i in range(60)]
    eta, err = cooldown_eta(hours, [50.0 + h for h in hours], 6.0)  # warming: never
    assert eta == math.inf
