"""How often the cool-down ETA's 80 % interval holds the truth, on the simulator.

    python benchmarks/eta_coverage.py [--seeds 1-10] [--step 600]

Runs the simulator's ``recovery`` scenario (DV01 and DV02 lose power for 6 h, then the
documented recovery sequence restarts the compressor) for each seed on a stepped clock,
straight on the antenna models (no sockets, no sleeping), reading FEMC.TEMP0, TEMP5 and
TEMP9 every ``--step`` seconds until every stage is cold. At 1, 3, 6, 12 and 24 h after the
restart it asks :func:`e2ckit.triage.eta.cooldown_interval` for each stage not yet cold and
checks whether the stated interval holds the time the stage's reading really went below its
target (the targets and cold ranges ``recovery()`` uses). The baseline is the estimator
``recovery()`` used before (e2ckit 1b2fb37: a quadratic fit of ln(T − 4 K) ± the spread
against a straight line, 4K stage only), measured the same way in the same run.

This is **agreement with the simulator's inferred physics** (``e2ckit/sim/physics.py``),
not a measured accuracy on real cryostats.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from typing import Any

import numpy as np

from e2ckit.clock import SimClock
from e2ckit.sim.model import AntennaModel
from e2ckit.sim.scenario import load_scenario
from e2ckit.triage.eta import cooldown_interval
from e2ckit.catalog.limits import load_limits
from e2ckit.triage.recovery import _stage_goals

ANTENNAS = ("DV01", "DV02")
ASK_HOURS = (1, 3, 6, 12, 24)
STAGE_NAMES = ("4K", "15K", "110K")
LABEL = "agreement with the simulator's inferred physics, not a measured accuracy on real cryostats"


def goals() -> list[tuple[str, float, tuple[float, float]]]:
    """(point, target, cold range) per stage, as recovery() uses them (catalog limits only)."""
    return _stage_goals(load_limits(False))


@functools.lru_cache(maxsize=None)
def simulate(seed: int, step: float = 600.0, max_days: float = 5.0) -> dict[str, dict[str, Any]]:
    """Per antenna: ``restart`` (sim time the compressor drive came back on), ``t`` (sample
    times), ``temps`` (samples × stages), ``cold`` (first sample time each stage read at or
    below its target after the restart). Cached: one run per (seed, step)."""
    g = goals()
    points = [p for p, _, _ in g]
    clock = SimClock(rate=None)
    models = {a: AntennaModel(a, seed=seed, clock=clock) for a in ANTENNAS}
    load_scenario("recovery").apply(models, clock)
    t: list[float] = []
    temps: dict[str, list[list[float]]] = {a: [] for a in ANTENNAS}
    cold: dict[str, list[float]] = {a: [math.nan] * len(g) for a in ANTENNAS}
    end = clock.start + max_days * 86400
    while clock.now() < end:
        now = clock.advance(step)
        t.append(now)
        for a, m in models.items():
            row = [float(m.peek(p)) for p in points]
            temps[a].append(row)
            if _restart(m) is not None:
                for i, (v, (_, target, _)) in enumerate(zip(row, g, strict=True)):
                    if math.isnan(cold[a][i]) and v < target:
                        cold[a][i] = now
        if not np.isnan(np.array(list(cold.values()))).any():
            break
    return {a: {"restart": _restart(models[a]), "t": np.array(t), "temps": np.array(temps[a]), "cold": cold[a]}
            for a in ANTENNAS}  # fmt: skip


def _restart(model: AntennaModel) -> float | None:
    """When the compressor drive was last turned on (a physics event), if it was."""
    on = [t for t, kind, value in model.physics.events if kind == "drive" and value]
    return on[-1] if on else None


def asks(seeds: Any, estimator: Any, stages: tuple[int, ...] = (0, 1, 2), step: float = 600.0) -> list[tuple]:
    """One row per question asked: (seed, antenna, stage, ask hour, truth h, central, low, high),
    hours counted from the last sample; stages already cold at the ask are skipped."""
    g = goals()
    rows = []
    for seed in seeds:
        for a, run in simulate(seed, step).items():
            rs, t = run["restart"], run["t"]
            for h in ASK_HOURS:
                m = (t >= rs) & (t <= rs + h * 3600)
                for i in stages:
                    if run["cold"][i] <= t[m][-1]:
                        continue
                    _, target, floor = g[i]
                    est = estimator((t[m] - rs) / 3600, run["temps"][m, i], target, floor)
                    rows.append((seed, a, i, h, (run["cold"][i] - t[m][-1]) / 3600, *est))
    return rows


def coverage(rows: list[tuple]) -> dict[Any, tuple[int, int, int]]:
    """(held, stated, too early) per ask hour and in all ("all")."""
    out: dict[Any, tuple[int, int, int]] = {}
    for key in (*ASK_HOURS, "all"):
        sel = [r for r in rows if key == "all" or r[3] == key]
        stated = [r for r in sel if not math.isnan(r[6])]
        held = sum(r[6] <= r[4] <= r[7] for r in stated)
        out[key] = (held, len(stated), len(sel) - len(stated))
    return out


def new_estimator(hours: Any, temps: Any, target: float, floor: tuple[float, float]) -> tuple[float, float, float]:
    return tuple(cooldown_interval(hours, temps, target, floor))


def old_estimator(hours: Any, temps: Any, target: float, floor: Any = None) -> tuple[float, float, float]:
    """The estimator of e2ckit 1b2fb37 (``recovery.cooldown_eta``), reproduced as the
    baseline, as (central, central − error, central + error)."""
    t, y = np.asarray(hours, float), np.asarray(temps, float)
    ok = ~np.isnan(y) & ~np.isnan(t)
    t, y = t[ok], y[ok]
    if len(t) == 0 or len(t) < 5 or t[-1] - t[0] < 0.5:
        return (math.nan,) * 3
    now, fl = float(t[-1]), 4.0
    if y[-1] <= target:
        return 0.0, 0.0, 0.0
    keep = y > fl
    t, y = t[keep], y[keep]
    z, goal = np.log(y - fl), math.log(target - fl)

    def reach(coef: Any) -> float:
        ts = now + np.arange(0.0, 24 * 14, 0.02)
        i = np.nonzero(np.polyval(coef, ts) <= goal)[0]
        return float(ts[i[0]] - now) if len(i) else math.inf

    m3 = t >= now - 3.0
    if len(t) < 5 or m3.sum() < 3:
        return (math.nan,) * 3
    lin_coef = np.polyfit(t[m3], z[m3], 1)
    if lin_coef[0] >= 0:
        return math.inf, math.nan, math.nan
    m = t >= now - max((now - t[0]) / 2, 2.0)
    quad = reach(np.polyfit(t[m], z[m], 2)) if m.sum() >= 5 else math.inf
    lin = reach(lin_coef)
    quad = quad if math.isfinite(quad) else lin
    if not math.isfinite(quad):
        return math.inf, math.nan, math.nan
    err = max(abs(quad - lin) if math.isfinite(lin) else quad, 0.1 * quad)
    return quad, quad - err, quad + err


def _seeds(text: str) -> range:
    lo, _, hi = text.partition("-")
    return range(int(lo), int(hi or lo) + 1)


_CELL = 25  # characters per table cell


def _line(name: str, cov: dict[Any, tuple[int, int, int]]) -> str:
    cells = []
    for key in (*ASK_HOURS, "all"):
        held, stated, early = cov[key]
        pct = f"{100 * held / stated:3.0f} %" if stated else "  —  "
        cells.append(f"{held:3d}/{stated:<3d} {pct} ({early:2d} early)".ljust(_CELL))
    return f"{name:<22}" + " | ".join(cells)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-10", help="seed range, e.g. 1-10 (default) or 11-60")
    ap.add_argument("--step", type=float, default=600.0, help="seconds between readings (default 600)")
    args = ap.parse_args(argv)
    seeds = _seeds(args.seeds)
    print(f"Cool-down ETA: share of stated 80 % intervals holding the truth, recovery scenario, seeds {args.seeds},")
    print(f"{', '.join(ANTENNAS)}, readings every {args.step:g} s; columns: hours after the restart; ({LABEL})")
    print(f"{'':<22}" + " | ".join(f"{str(h) + ' h':<{_CELL}}" for h in (*ASK_HOURS, "all")))
    old = coverage(asks(seeds, old_estimator, stages=(0,), step=args.step))
    print(_line("before (4K, ±error)", old))
    for i, name in enumerate(STAGE_NAMES):
        print(_line(f"now: {name}", coverage(asks(seeds, new_estimator, stages=(i,), step=args.step))))
    new = coverage(asks(seeds, new_estimator, step=args.step))
    print(_line("now: all stages", new))
    h, n, _ = new["all"]
    ho, no, _ = old["all"]
    print(f"coverage now {100 * h / max(n, 1):.0f} % (target 70-90 %), before {100 * ho / max(no, 1):.0f} %: "
          f"ratio {(h / max(n, 1)) / max(ho / max(no, 1), 1e-9):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
