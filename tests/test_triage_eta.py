"""The cool-down ETA's 80 % interval (issue #24.5): calibrated against the simulator's
``recovery`` scenario, stepped clock, straight on the antenna models (no sockets, no sleeping).

What the coverage checks is agreement with the simulator's *inferred* physics
(``e2ckit/sim/physics.py``), not a measured accuracy on real cryostats. The truth is when each
stage's reading really went below its target in the simulation; nothing here is a stored ETA.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from e2ckit.triage.eta import Eta, cooldown_interval

_BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "eta_coverage.py"


def _harness():
    """benchmarks/eta_coverage.py: the same runs and table the benchmark prints."""
    if "eta_coverage" not in sys.modules:
        spec = importlib.util.spec_from_file_location("eta_coverage", _BENCH)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["eta_coverage"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["eta_coverage"]


#: fixed seeds: ten runs of the scenario, DV01 and DV02 each
SEEDS = range(1, 11)


@pytest.fixture(scope="module")
def harness():
    h = _harness()
    for seed in SEEDS:  # simulated once per seed for the whole module (cached)
        h.simulate(seed)
    return h


def test_80_percent_intervals_hold_the_truth_70_to_90_percent_of_the_time(harness):
    rows = harness.asks(SEEDS, harness.new_estimator)
    cov = harness.coverage(rows)
    print("\n" + harness._line("all stages", cov))
    held, stated, _ = cov["all"]
    assert stated >= 100, "too few stated intervals for a coverage figure"
    assert 0.70 <= held / stated <= 0.90, cov
    # every ask time states intervals, and nothing says "too early" from 12 h on
    assert all(cov[h][1] > 0 for h in harness.ASK_HOURS), cov
    assert cov[12][2] == 0 and cov[24][2] == 0, cov
    # each stage is asked about (and the 4K stage from 6 h on every time)
    assert {r[2] for r in rows} == {0, 1, 2}
    assert cov[6][1] >= 2 * len(SEEDS) and cov[12][1] >= 2 * len(SEEDS)


def test_the_check_tells_a_bad_estimator_the_old_one_failed_it(harness):
    """The same check on the estimator recovery() used before (a fit ± its spread): most of
    its intervals missed, so the coverage check above can fail."""
    cov = harness.coverage(harness.asks(SEEDS, harness.old_estimator, stages=(0,)))
    print("\n" + harness._line("before (4K)", cov))
    held, stated, early = cov["all"]
    assert held / stated < 0.70 and early == 0


def test_the_interval_narrows_as_the_data_grow(harness):
    """Relative width at 6 h against 12 h for the 4K stage, same runs: more data, surer."""
    rows = [r for r in harness.asks(SEEDS, harness.new_estimator, stages=(0,)) if r[3] in (6, 12)]
    rel = {h: np.median([(r[7] - r[6]) / r[5] for r in rows if r[3] == h]) for h in (6, 12)}
    assert rel[12] < rel[6]


def test_too_early_when_one_hour_of_a_cool_down_says_little(harness):
    """An hour after the restart the 4K stage has fallen fast for a while: nothing yet says
    whether it takes 10 or 40 hours more. The estimator says so instead of guessing."""
    rows = [r for r in harness.asks(SEEDS, harness.new_estimator, stages=(0,)) if r[3] == 1]
    assert rows and all(math.isnan(r[5]) and math.isnan(r[6]) for r in rows)


def _decay(hours, tau=8.0, floor=3.0, start=100.0):
    return floor + (start - floor) * np.exp(-np.asarray(hours) / tau)


def test_a_plain_exponential_is_bracketed():
    hours = np.arange(0, 12.01, 1 / 6)
    e = cooldown_interval(hours, _decay(hours), 6.0, (2.7, 4.0))
    truth = 8.0 * math.log(97.0 / 3.0) - 12.0  # exp. decay to 3 K crosses 6 K here
    assert e.low <= truth <= e.high and not e.too_early and not e.stalled


def test_edge_cases():
    assert cooldown_interval([0, 1, 2], [5.0, 4.0, 3.0], 6.0, (2.7, 4.0)) == Eta(0.0, 0.0, 0.0)
    hours = [i / 6 for i in range(60)]
    warming = cooldown_interval(hours, [50.0 + h for h in hours], 6.0, (2.7, 4.0))
    assert warming.stalled and not warming.too_early
    few = cooldown_interval([0.0, 0.1, 0.2], [90.0, 80.0, 70.0], 6.0, (2.7, 4.0))
    assert few.too_early and math.isnan(few.hours)
    assert cooldown_interval([], [], 6.0, (2.7, 4.0)).too_early
    nan_skipped = cooldown_interval([0, 1, 2, 3], [math.nan, 9.0, 8.0, 5.0], 6.0, (2.7, 4.0))
    assert nan_skipped == Eta(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="3 times but 2 temperatures"):
        cooldown_interval([0, 1, 2], [5.0, 4.0], 6.0, (2.7, 4.0))
    with pytest.raises(ValueError, match=r"floor \(4.0, 2.7\) is not \(low, high\)"):
        cooldown_interval([0, 1, 2], [5.0, 4.0, 3.0], 6.0, (4.0, 2.7))


def test_shifted_counts_from_a_later_now():
    assert Eta(5.0, 4.0, 7.0).shifted(1.5) == Eta(3.5, 2.5, 5.5)
    assert Eta(1.0, 0.5, 2.0).shifted(1.5) == Eta(0.0, 0.0, 0.5)
    s = Eta(math.inf, math.nan, math.nan).shifted(2.0)
    assert s.stalled and math.isnan(s.low)


def test_samples_out_of_order_and_a_cold_range_above_the_target():
    hours = np.arange(0, 12.01, 1 / 6)
    temps = _decay(hours)
    in_order = cooldown_interval(hours, temps, 6.0, (2.7, 4.0))
    assert cooldown_interval(hours[::-1], temps[::-1], 6.0, (2.7, 4.0)) == in_order
    # a site's target below the whole cold range: still an answer, not "too early" forever
    odd = cooldown_interval(hours, temps, 3.5, (4.0, 5.0))
    assert math.isfinite(odd.hours) and odd.hours > in_order.hours


def test_pumpdown_seconds_holds_the_recent_rate_of_fall():
    from e2ckit.triage.eta import pumpdown_seconds

    t = np.arange(0.0, 601.0, 60.0)
    p = 1e-2 * np.exp(-t / 300.0)  # falling e-fold every 300 s
    want = 300.0 * math.log(p[-1] / 5e-4)
    assert pumpdown_seconds(t, p, 5e-4) == pytest.approx(want)
    # readings before the pump-down began (flat, then the highest) are not part of it
    t2 = np.concatenate([t - 1200.0, t[1:]])
    flat = np.concatenate([np.full(len(t), 9e-3), [1.1e-2], p[2:]])
    assert math.isfinite(pumpdown_seconds(t2[: len(flat)], flat, 5e-4))
    assert pumpdown_seconds(t, p[::-1], 5e-4) == math.inf  # rising: never
    assert pumpdown_seconds([0.0, 30.0], [1e-2, 5e-3], 5e-4) != pumpdown_seconds([0.0, 30.0], [1e-2, 5e-3], 5e-4)
    assert pumpdown_seconds([0.0, 60.0, 120.0], [1e-2, 1e-3, 4e-4], 5e-4) == 0.0
    with pytest.raises(ValueError, match="2 times but 3 pressures"):
        pumpdown_seconds([0, 1], [1, 2, 3], 5e-4)
