"""Regenerate ``data/outage-recovery/``: a recorded outage and recovery, two simulated days.

    .venv/bin/python data/make_outage_dataset.py            # rewrite the dataset
    .venv/bin/python data/make_outage_dataset.py --check    # regenerate into a temp dir and compare

What it records: the ``recovery`` scenario on four simulated antennas (DV01 and DV02
lose power 30 minutes in for 6 hours, then the documented recovery sequence runs;
DV03 and DA41 stay up as references), logged by :class:`e2ckit.Logger` over real
loopback sockets with the points of the ``outage`` group as it was then (stage temperatures, vacuum, pumps, gate
valve, compressor drive, pressures and timers, ACU power flag, LORR lock, E2C
temperature), one sample per simulated minute for 48 simulated hours, then compacted
to one file per partition. The simulator's clock is stepped, so the same seed gives
the same values: "exactly" means every (time, antenna, point) row has the same value,
unit, status, error and raw bytes. The request latencies are real round-trip times
on the machine that ran it and differ from run to run, as do the part file names.

Values are simulated (see ``e2ckit/sim/physics.py`` for what is sourced and what is
inferred); they are not measurements of a real antenna.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET = HERE / "outage-recovery"
ANTENNAS = ["DV01", "DV02", "DV03", "DA41"]
SEED = 2026
SCENARIO = "recovery"
#: the ``outage`` group as it was when the dataset was recorded (the group has since grown:
#: FEPS outputs, FETIM shutdown, safe to cool, issue 23); pinned so the dataset regenerates
GROUP = [
    "ACU.POWER_FAILURE", "CMPR.DRIVE", "CMPR.FAULT", "CMPR.TIME_SINCE_POWER_ON", "CMPR.SUPPLY_PRESSURE",
    "CMPR.RETURN_PRESSURE", "FEMC.TEMP0", "FEMC.TEMP5", "FEMC.TEMP9", "FEMC.CRYOSTAT_PRESSURE",
    "FEMC.BACKING_PUMP", "FEMC.TURBO_PUMP", "FEMC.GATE_VALVE", "LORR.DCM_LOCKED", "E2C.PROCESSOR_TEMP",
]  # fmt: skip
INTERVAL_S = 60.0
HOURS = 48.0
#: Columns that must match exactly on regeneration (latency_ms is a real measurement).
EXACT = ["time", "antenna", "point", "value", "unit", "status", "error", "raw"]


def record(path: Path, hours: float = HOURS) -> int:
    """Log the scenario into ``path`` (which must not exist yet); return the sample count."""
    from e2ckit.logger import Logger, compact
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    if path.exists():
        raise SystemExit(f"{path} exists; remove it first")
    cycles = int(round(hours * 3600 / INTERVAL_S))
    clock = SimClock(rate=None)
    with SimulatedArray(ANTENNAS, seed=SEED, clock=clock, scenario=SCENARIO, latency=0.0) as sim:
        with Logger(GROUP, ANTENNAS, interval=INTERVAL_S, path=path, array=sim, clock=clock,
                    timeout=2.0, deadline=5.0, flush_rows=50_000) as log:  # fmt: skip
            status = log.run(cycles=cycles)
    compact(path)
    return int(status.samples_written)


def frame(path: Path):
    """The dataset as a tidy frame sorted into a canonical order."""
    import e2ckit

    df = e2ckit.load(path)
    return df.sort_values(["time", "antenna", "point"]).reset_index(drop=True)


def same_rows(a, b) -> list[str]:
    """Differences between two datasets in the columns that must match exactly."""
    problems = []
    if len(a) != len(b):
        problems.append(f"{len(a)} rows against {len(b)}")
        n = min(len(a), len(b))
        a, b = a.iloc[:n], b.iloc[:n]
    for col in EXACT:
        x, y = a[col].reset_index(drop=True), b[col].reset_index(drop=True)
        equal = (x == y) | (x.isna() & y.isna())
        if not equal.all():
            i = int((~equal).to_numpy().argmax())
            problems.append(f"column {col} differs first at row {i}: {x.iloc[i]!r} against {y.iloc[i]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="regenerate into a temporary directory and compare")
    ap.add_argument("--hours", type=float, default=HOURS, help="simulated hours to record (default 48)")
    args = ap.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as d:
            fresh = Path(d) / "outage-recovery"
            record(fresh, args.hours)
            new, old = frame(fresh), frame(DATASET)
            old = old[old["time"] <= new["time"].max()]
            problems = same_rows(new, old)
        for p in problems:
            print(p, file=sys.stderr)
        print("identical" if not problems else "DIFFERENT")
        return 1 if problems else 0
    tmp = DATASET.with_name(DATASET.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    n = record(tmp, args.hours)
    shutil.rmtree(DATASET, ignore_errors=True)
    tmp.rename(DATASET)
    size = sum(f.stat().st_size for f in DATASET.rglob("*.parquet"))
    print(f"{n} samples, {size / 1e3:.0f} kB ({size / n:.2f} bytes/sample) in {DATASET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
