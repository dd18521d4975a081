"""Benchmark: array-wide cryostat sweep, e2ckit against the published client's pattern.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_sweep.py [--repeat 5] [--no-cli]

One simulated array of 66 antennas (0.5 ms per request on each CAN channel), in one
run, three ways of reading the 25 ``cryo`` points of every antenna:

* ``e2ckit.sweep("cryo")``: one connection per antenna, all in parallel, to a wide
  DataFrame;
* the published client's pattern: ``e2c_client.E2CClient``, antenna after antenna,
  request after request (what ``e2c-client tools cryo --all`` does inside);
* ``e2c-client tools cryo --all`` itself, as a process, against the same array bound
  one loopback address per antenna (host names mapped by ``tests/hostshim.py``);

then again with three antennas silent (accept, never answer). Ratios are against
the sequential pattern measured in the same run. Target: ≥ 20× with all alive, and
within deadline + 0.2 s with silent antennas.

With all alive it also times ``e2ckit.diagnose()`` over the 66 antennas against one
``e2ckit.sweep`` of the same points (``DIAGNOSE_WHAT``: the static points and the
``versions`` group, whose node discovery is part of the sweep), runs interleaved, medians
compared. Target: diagnose ≤ 1.5 × that sweep (issue #14).

And ``sweep("power")`` (FEPS flags per rail, interlocks, outputs, rails, cartridges, ACU
flag) against ``sweep("cryo")`` over the 66 antennas, interleaved, medians compared per
point read. Target: ≤ 1.5 × per point read (issue 23). ``--power-only`` runs just that.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import e2ckit
from e2ckit.array import Array
from e2ckit.catalog import default_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the host-name shim is test code
from hostshim import shim_env  # noqa: E402

SILENT = ["DV05", "DA50", "CM07"]


def sequential_pattern(sim: ExternalSim, timeout: float = 1.0) -> float:
    """The published client's loop: one antenna at a time, one request at a time."""
    from e2c_client import E2CClient

    points = default_catalog().resolve("cryo")
    t0 = time.perf_counter()
    for name, ep in sim.array.items():
        try:
            with E2CClient(ep.host, ep.port, timeout=timeout, verbose=False) as c:
                for p in points:
                    c.send_request(0, p.channel_for(name), p.node, p.rca, 0, b"")
        except OSError:
            pass  # a silent host times out: the published tools print and move on
    return time.perf_counter() - t0


def e2ckit_sweep(sim: ExternalSim, deadline: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    wide = e2ckit.sweep("cryo", array=sim.array, timeout=deadline, deadline=deadline)
    return time.perf_counter() - t0, int(wide["error"].notna().sum())


def diagnose_ratio(sim: ExternalSim, repeat: int, deadline: float) -> tuple[float, float]:
    """Median seconds of ``diagnose()`` and of a sweep of the same points, interleaved."""
    from e2ckit.triage.diagnose import DIAGNOSE_WHAT

    kw = {"array": sim.array, "timeout": deadline, "deadline": 2 * deadline}
    e2ckit.diagnose(**kw)  # warm-up: rules, limits, pandas
    e2ckit.sweep(DIAGNOSE_WHAT, **kw)
    d, s = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        e2ckit.sweep(DIAGNOSE_WHAT, **kw)
        s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        e2ckit.diagnose(**kw)
        d.append(time.perf_counter() - t0)
    return statistics.median(d), statistics.median(s)


def power_ratio(sim: ExternalSim, repeat: int, deadline: float) -> tuple[float, float, int, int]:
    """Median seconds of ``sweep("power")`` and ``sweep("cryo")``, interleaved, and their
    point counts."""
    kw = {"array": sim.array, "timeout": deadline, "deadline": 2 * deadline}
    e2ckit.sweep("power", **kw)  # warm-up
    e2ckit.sweep("cryo", **kw)
    p, c = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        e2ckit.sweep("cryo", **kw)
        c.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        e2ckit.sweep("power", **kw)
        p.append(time.perf_counter() - t0)
    cat = default_catalog()
    return statistics.median(p), statistics.median(c), len(cat.resolve("power")), len(cat.resolve("cryo"))


def print_power(power: tuple[float, float, int, int]) -> None:
    p, c, n_p, n_c = power
    per_p, per_c = p / (66 * n_p), c / (66 * n_c)
    print(f"\nsweep('power') {p:.3f} s for 66 × {n_p} points ({per_p * 1e6:.1f} µs per point read); "
          f"sweep('cryo') {c:.3f} s for 66 × {n_c} ({per_c * 1e6:.1f} µs per point read) (medians): "
          f"ratio per point read {per_p / per_c:.2f} (target <= 1.5)")  # fmt: skip


def published_cli(sim: ExternalSim, tmp: Path) -> float:
    env = shim_env(tmp / "shim", sim.host_names())
    exe = Path(sys.executable).with_name("e2c-client")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "tools", "cryo", "--all"], env=env, capture_output=True, check=False)
    return time.perf_counter() - t0


def e2ckit_cli(sim: ExternalSim, tmp: Path) -> float:
    csv = sim.write_array(tmp / "array.csv")
    exe = Path(sys.executable).with_name("e2ckit")
    env = {**__import__("os").environ, "E2CKIT_ARRAY": str(csv)}
    t0 = time.perf_counter()
    subprocess.run([str(exe), "tools", "cryo", "--all", "--format", "csv"], env=env, capture_output=True, check=False)
    return time.perf_counter() - t0


SILENT_SCENARIO = """
name = "bench-silent"
description = "three antennas accept connections and never answer"
seed = 1
""" + "".join(f"""
[[faults]]
antenna = "{a}"
kind = "silent"
probability = 1.0
""" for a in SILENT)


class ExternalSim:
    """The simulated array in its own process (``python -m e2ckit.sim``), so that the
    client under test does not share a GIL with the server it measures."""

    def __init__(self, tmp: Path, scenario: str | None, latency: float) -> None:
        self.tmp = tmp
        csv = tmp / "array.csv"
        cmd = [sys.executable, "-m", "e2ckit.sim", "--seed", "1", "--latency", str(latency),
               "--bind", "address", "--write-array", str(csv)]  # fmt: skip
        if scenario:
            cmd += ["--scenario", scenario]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        for _ in range(66):  # one line per antenna once every listener is open
            if not self.proc.stdout.readline():
                raise SystemExit(f"simulator failed: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.array = Array.from_csv(csv)

    def host_names(self) -> dict[str, str]:
        return {f"{a.lower()}-e2c": ep.host for a, ep in self.array.items()}

    def write_array(self, path: Path) -> Path:
        return self.array.to_csv(path)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--deadline", type=float, default=1.0)
    ap.add_argument("--latency", type=float, default=0.0005, help="simulated seconds per request per CAN channel")
    ap.add_argument("--no-cli", action="store_true", help="skip the process-level comparisons")
    ap.add_argument("--power-only", action="store_true", help="only sweep('power') against sweep('cryo')")
    args = ap.parse_args()
    if args.power_only:
        with tempfile.TemporaryDirectory() as d:
            sim = ExternalSim(Path(d), None, args.latency)
            try:
                print_power(power_ratio(sim, max(args.repeat, 5), args.deadline))
            finally:
                sim.close()
        return
    rows: list[tuple[str, str, float, float]] = []
    diag: tuple[float, float] | None = None
    power: tuple[float, float, int, int] | None = None
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "silent.toml").write_text(SILENT_SCENARIO)
        for state, scenario in (("all alive", None), ("3 silent", str(tmp / "silent.toml"))):
            sim = ExternalSim(tmp, scenario, args.latency)
            try:
                n = 1 if scenario else args.repeat
                base = statistics.median(sequential_pattern(sim) for _ in range(n))
                rows.append((state, "sequential (published pattern)", base, 1.0))
                e2ckit_sweep(sim, args.deadline)  # warm-up: imports, catalog, engine loop
                runs = [e2ckit_sweep(sim, args.deadline) for _ in range(args.repeat)]
                t = statistics.median(r[0] for r in runs)
                rows.append((state, f"e2ckit.sweep (deadline {args.deadline:g} s), median", t, base / t))
                t = min(r[0] for r in runs)
                rows.append((state, "e2ckit.sweep, best", t, base / t))
                if not scenario:
                    diag = diagnose_ratio(sim, max(args.repeat, 5), args.deadline)
                    power = power_ratio(sim, max(args.repeat, 5), args.deadline)
                if not args.no_cli:
                    pc = published_cli(sim, tmp)
                    rows.append((state, "e2c-client tools cryo --all (process)", pc, base / pc))
                    ec = statistics.median(e2ckit_cli(sim, tmp) for _ in range(3))
                    rows.append((state, "e2ckit tools cryo --all (process)", ec, base / ec))
            finally:
                sim.close()
    n_points = len(default_catalog().resolve("cryo"))
    print(f"\n66 antennas × {n_points} cryo points = {66 * n_points} requests, "
          f"{args.latency * 1e3:g} ms per request per channel, simulator in its own process")  # fmt: skip
    print(f"{'state':10s}  {'method':48s}  {'seconds':>8s}  {'× faster than sequential':>24s}")
    for state, method, secs, ratio in rows:
        print(f"{state:10s}  {method:48s}  {secs:8.3f}  {ratio:24.1f}")
    if diag is not None:
        d, s = diag
        print(f"\ndiagnose(66 antennas) {d:.3f} s, sweep of the same points {s:.3f} s (medians): "
              f"ratio {d / s:.2f} (target <= 1.5)")  # fmt: skip
    if power is not None:
        print_power(power)


if __name__ == "__main__":
    main()
