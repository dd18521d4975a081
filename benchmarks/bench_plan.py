"""Benchmark: e2ckit.plan_recovery() over 66 antennas against one sweep of its points.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_plan.py [--repeat 7]

One simulated array of 66 antennas (the ``outage`` scenario, 6 h in: five antennas back
and warm, the rest cold), stepped clock. Interleaved runs of

* ``e2ckit.api.sweep_rows(points)``: one sweep of the points the recovery steps read
  (the baseline: what the plan cannot do without);
* ``e2ckit.plan_recovery("all")``: that sweep, the steps evaluated per antenna and the
  DataFrame of one row per (antenna, step);

medians compared. Target: the plan within 1.5 x the sweep (issue 24.8).

Also the CPU time of one plan (process time; it includes the simulated array's own work
in this process, so it is an upper bound) as a share of a core at ``recover --watch``'s
default 10 s interval. Target: under 5 % of a core.
"""

from __future__ import annotations

import argparse
import statistics
import time

from e2ckit.api import sweep_rows
from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock
from e2ckit.triage.plan import load_steps, plan_points, plan_recovery


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    points = plan_points(load_steps())
    clock = SimClock(rate=None)
    with SimulatedArray(seed=1, clock=clock, scenario="outage") as sim:
        clock.advance(hours=6)
        plan_recovery(array=sim)  # warm: connections, catalog, pandas
        sweeps, plans, cpu = [], [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            sweep_rows(points, "all", array=sim)
            sweeps.append(time.perf_counter() - t)
            t, c = time.perf_counter(), time.process_time()
            df = plan_recovery(array=sim)
            plans.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    s, p = statistics.median(sweeps), statistics.median(plans)
    print(f"66 antennas, {len(points)} points each, {len(df)} plan rows, median of {args.repeat} interleaved runs")
    print(f"{'what':<34}{'median s':>10}{'ratio':>8}")
    print(f"{'sweep of the plan points':<34}{s:>10.3f}{1.0:>8.2f}")
    print(f"{'plan_recovery(all)':<34}{p:>10.3f}{p / s:>8.2f}   target <= 1.50")
    c = statistics.median(cpu)
    print(f"CPU per plan {c * 1e3:.0f} ms (simulator included): {100 * c / 10:.1f} % of a core at a 10 s --watch interval"
          "   target < 5 %")


if __name__ == "__main__":
    main()
