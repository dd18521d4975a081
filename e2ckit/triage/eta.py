"""When a cooling cryostat stage will be cold: a central estimate and an 80 % interval, or
"too early to tell" while the data do not constrain it. Pure numpy, no I/O.

Why an ensemble
---------------
A cryocooler stage after a restart relaxes toward its cold temperature ``Tc`` ever more
slowly or ever faster, depending on how its cooling power, its heat capacity and the heat
load from the warmer stage above it change as it cools. None of that is known here, so
the estimate does not trust one curve. It fits ``z = ln(T − Tc)`` against time with an
*ensemble* of plausible models and reads the spread of their answers as the uncertainty:

* ``Tc`` at three points across the stage's nominal cold range (the catalog's nominal
  bounds, e.g. 2.7–4 K for the 4K stage, ``e2c-protocol.md`` §7): close to the target the
  unknown floor dominates;
* three fitting windows, the last third, half and two thirds of the time since the
  restart: the early transient (the cold stage dropping fast before the warmer stage holds
  it back) weighs less the longer the recovery runs;
* two rate laws for ``r = −dz/dt`` from now on: constant (a plain exponential approach),
  and ``r ∝ exp(β·(z − z_now))`` with ``β`` measured from the two halves of the window
  (the relaxation slowing down, or speeding up, as the stage cools, at the rate seen).

The estimate is the members' median. The interval is their :data:`QUANTILE`–(1 −
:data:`QUANTILE`) quantiles, its late side stretched by :data:`HORIZON_PENALTY` per unit of
extrapolation (the estimate over the time already observed: extrapolating further than one
has watched is less sure, and a stage held back by a warmer one that is still cooling ends
slower than a short window shows), and never narrower than ± :data:`MIN_SPREAD` of the
estimate (the members share their forms' error, so their agreement alone overstates how sure
they are). With few data the members disagree and the interval is wide; past a width of
:data:`MAX_WIDTH` times the estimate (and at least 2 h), or when some member never gets
there, the answer is "too early": all NaN, no number that looks sure.

Calibration, honestly
---------------------
``QUANTILE``, ``HORIZON_PENALTY`` and ``MIN_SPREAD`` were chosen on the simulator's
``recovery`` scenario (seeds 1–10, DV01 and DV02, asked 1, 3, 6, 12 and 24 h after the
restart) so that about 80–85 % of the stated intervals hold the time the stage's reading
really went below its target, and checked on seeds 11–60 (``benchmarks/eta_coverage.py``,
``tests/test_triage_eta.py``). The targets are those of ``recovery()``: "cold" (4K stage
< 5 K, 15K stage < 30 K, ``catalog.limits.COLD_BELOW_K``) and the 110K stage's warn bound.
Recalibrated when "cold" became that one definition (the 4K target 6 → 5 K, the 15K 22 →
30 K; ``HORIZON_PENALTY`` 0.1 → 0.05): 86 % on seeds 1–10 (145 of 169; by stage 4K 83 %,
15K 97 %, 110K 71 %) and 86 % on 11–60 (730 of 850), nothing "too early" from 12 h on; the
old fit ± its error: 40 % and 43 %. The simulator's
cool-down is its own *inferred* physics (``e2ckit/sim/physics.py``), not a measured
cryostat: the coverage figures are agreement with that model, not a measured accuracy on
real ALMA cryostats, whose curves may differ in shape.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

__all__ = ["HORIZON_PENALTY", "MAX_WIDTH", "MIN_SPREAD", "QUANTILE", "Eta", "cooldown_interval", "pumpdown_seconds"]

#: the interval is the ensemble's QUANTILE..1-QUANTILE quantiles (calibrated, see above)
QUANTILE = 0.2
#: the high end grows by this fraction per unit of (estimate / time observed)
HORIZON_PENALTY = 0.05
#: the interval is never narrower than ± this fraction of the estimate
MIN_SPREAD = 0.1
#: wider than this many times the estimate (or 2 h when that is less) is "too early"
MAX_WIDTH = 2.0
#: fewer samples or a shorter span than this is "too early" whatever the fits say
MIN_SAMPLES = 6
MIN_SPAN_H = 0.5
#: no one plans on an ETA beyond two weeks: further is "too early" too
HORIZON_H = 24.0 * 14
_WINDOWS = (1 / 3, 1 / 2, 2 / 3)
_FLOOR_POINTS = 3


class Eta(NamedTuple):
    """Hours from the last sample until a stage is cold: ``hours`` (central), ``low`` and
    ``high`` (an 80 % interval). ``0, 0, 0``: already cold; ``inf, nan, nan``: not cooling
    (the trend never gets there); all three NaN: too early to tell (too few data, or the
    models they allow disagree by more than :data:`MAX_WIDTH` times the estimate)."""

    hours: float
    low: float
    high: float

    @property
    def too_early(self) -> bool:
        """No interval yet, while the stage is (as far as one can tell) cooling."""
        return math.isnan(self.low) and not math.isinf(self.hours)

    @property
    def stalled(self) -> bool:
        """The trend does not get the stage to its target."""
        return math.isinf(self.hours)

    def shifted(self, lag_h: float) -> Eta:
        """The same ETA counted from ``lag_h`` hours after the last sample (never below 0)."""
        return Eta(*(max(v - lag_h, 0.0) if math.isfinite(v) else v for v in self))


_NOT_YET = Eta(math.nan, math.nan, math.nan)


def _rate(t: Any, z: Any) -> tuple[float, float]:
    """(−slope of the least-squares line through (t, z), mean z)."""
    slope = np.polyfit(t, z, 1)[0]
    return -float(slope), float(np.mean(z))


def _window_members(tw: Any, zw: Any, goal: float) -> tuple[float, float]:
    """Hours to ``goal`` from the end of one window of ``z = ln(T − Tc)`` by both rate laws:
    (constant rate, rate changing with z as seen)."""
    r, _ = _rate(tw, zw)
    if r <= 0:
        return math.inf, math.inf  # not falling over this window
    # z now: the median of the last samples, not the fitted line's end, which lies below a
    # decelerating curve and would make every member early
    dz = max(float(np.median(zw[-3:])) - goal, 0.0)
    half = len(tw) // 2
    r1, z1 = _rate(tw[:half], zw[:half])
    r2, z2 = _rate(tw[half:], zw[half:])
    if r2 <= 0:
        return dz / r, math.inf
    beta = math.log(r1 / r2) / (z1 - z2) if r1 > 0 and z1 > z2 else 0.0
    if beta * dz > 50:  # slowing so fast that it gets there in no useful time
        return dz / r, math.inf
    # r(z) = r2·exp(β(z − z_now)) integrated from z_now down to the goal
    return dz / r, (math.expm1(beta * dz) / (beta * r2) if abs(beta) > 1e-9 else dz / r2)


def _members(t: Any, y: Any, target: float, floor: tuple[float, float]) -> np.ndarray:
    """Every ensemble member's hours to ``target`` (inf: that member never gets there), one
    row per (floor, window): (constant rate, changing rate)."""
    lo, hi = floor
    out: list[tuple[float, float]] = []
    span = float(t[-1] - t[0])
    # a cold range reaching the target (a site's odd limits) keeps the floors below it, or
    # falls back on 0 K
    floors = [tc for tc in np.linspace(lo, hi, _FLOOR_POINTS) if tc < target] or [0.0]
    for tc in floors:
        z = np.log(np.maximum(y - tc, 1e-6))
        goal = math.log(target - tc)
        for frac in _WINDOWS:
            m = t >= t[-1] - frac * span
            if m.sum() >= 4:
                out.append(_window_members(t[m], z[m], goal))
    return np.asarray(out, dtype=float).reshape(-1, 2)


def cooldown_interval(hours: Any, temps: Any, target: float, floor: tuple[float, float]) -> Eta:
    """Hours from the last sample until ``temps`` reaches ``target``, with an 80 % interval.

    ``hours``: sample times (h, e.g. since the compressor restarted); ``temps``: the
    stage's readings there (NaN skipped); ``floor``: the range (low, high) the stage's cold
    temperature lies in, e.g. its nominal range. See :class:`Eta` for what comes back."""
    t = np.asarray(hours, dtype=float)
    y = np.asarray(temps, dtype=float)
    if t.shape != y.shape:
        raise ValueError(f"cooldown_interval: {t.size} times but {y.size} temperatures")
    if not floor[0] <= floor[1]:
        raise ValueError(f"cooldown_interval: floor {floor!r} is not (low, high)")
    ok = np.isfinite(t) & np.isfinite(y)
    order = np.argsort(t[ok], kind="stable")
    t, y = t[ok][order], y[ok][order]
    if len(t) == 0:
        return _NOT_YET
    if y[-1] < target:  # strictly below, as "cold" is (catalog.limits.COLD_BELOW_K)
        return Eta(0.0, 0.0, 0.0)
    if len(t) < MIN_SAMPLES or t[-1] - t[0] < MIN_SPAN_H:
        return _NOT_YET
    e = _members(t, y, target, floor)
    if len(e) == 0:
        return _NOT_YET
    central = float(np.median(e))
    if math.isinf(central):
        return Eta(math.inf, math.nan, math.nan)
    if not np.isfinite(e).all():
        return _NOT_YET  # some members never get there: too early
    low = float(np.quantile(e, QUANTILE))
    high = float(np.quantile(e, 1 - QUANTILE))
    # extrapolating further than one has watched is less sure, and a stage held back by a
    # warmer stage that is itself still cooling ends slower than a short window shows:
    # the late side grows with the horizon
    high *= 1 + HORIZON_PENALTY * central / float(t[-1] - t[0])
    # the members share their form's error, so their agreement is never better than this
    low, high = min(low, central * (1 - MIN_SPREAD)), max(high, central * (1 + MIN_SPREAD))
    if high - low > MAX_WIDTH * max(central, 1.0) or high > HORIZON_H:
        return _NOT_YET  # a central figure would be read as an estimate: none
    return Eta(central, low, high)


#: the pump-down ETA reads at most the last this many seconds of readings, from the highest
#: of them on (the pump-down so far), and needs this many over at least this span (else
#: "too early")
PUMP_WINDOW_S = 3600.0
PUMP_MIN_SAMPLES = 3
PUMP_MIN_SPAN_S = 60.0


def pumpdown_seconds(times_s: Any, mbar: Any, target: float) -> float:
    """Seconds from the last reading until a falling pressure reaches ``target`` (mbar) if it
    keeps falling by the same factor per unit time as since its highest reading within the
    last :data:`PUMP_WINDOW_S`: ``ln p`` extrapolated along its least-squares line (a vessel
    pumped at a constant speed, ``dp/dt = −(S/V)·p``, the first-order pump-down model). No
    public pump-down curve of an ALMA cryostat exists: this is the recent rate held, no more.
    A pump-down slowing as outgassing takes over gets there later than it says; one just
    begun (a valve still opening) may get there sooner. No interval is claimed.

    ``0``: already at or below ``target``; ``inf``: not falling over the window; NaN: too
    early to tell (fewer than :data:`PUMP_MIN_SAMPLES` good readings, or a span under
    :data:`PUMP_MIN_SPAN_S`). Non-positive or NaN readings are skipped."""
    t = np.asarray(times_s, dtype=float)
    p = np.asarray(mbar, dtype=float)
    if t.shape != p.shape:
        raise ValueError(f"pumpdown_seconds: {t.size} times but {p.size} pressures")
    ok = np.isfinite(t) & np.isfinite(p) & (p > 0)
    order = np.argsort(t[ok], kind="stable")
    t, p = t[ok][order], p[ok][order]
    if len(t) and p[-1] <= target:
        return 0.0
    keep = t >= (t[-1] - PUMP_WINDOW_S if len(t) else 0.0)
    t, p = t[keep], p[keep]
    if len(t) >= PUMP_MIN_SAMPLES and t[-1] - t[0] >= PUMP_MIN_SPAN_S and p[-1] >= p.max():
        return math.inf  # the latest reading is the highest: rising (or flat), not pumping down
    if len(t):  # the pump-down began at the highest reading: what came before is not it
        top = int(np.argmax(p))
        t, p = t[top:], p[top:]
    if len(t) < PUMP_MIN_SAMPLES or t[-1] - t[0] < PUMP_MIN_SPAN_S:
        return math.nan
    slope = float(np.polyfit(t - t[-1], np.log(p), 1)[0])
    if slope >= 0:
        return math.inf
    return (math.log(target) - math.log(float(p[-1]))) / slope
