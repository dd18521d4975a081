"""Benchmark: array-wide cryostat sweep, e2ckit against the published client's pattern.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_sweep.py [--repeat 5] [--no-cli]

One simulated array of 66 antennas (0.5 ms per request on each CAN channel), in one
run, three ways of reading the 22 ``cryo`` points of every antenna:

* ``e2ckit.sweep("cryo")``: one asyncio connection per antenna, all in parallel;
* the published client's pattern: ``e2c_client.E2CClient``, antenna after antenna,
  request after request (what ``e2c-client tools cryo --all`` does inside);
* ``e2c-client tools cryo --all`` itself, as a process, against the same array bound
  one loopback address per antenna (host names mapped by ``e2ckit.sim.hostshim``);

then again with three antennas silent (accept, never answer). Ratios are against
the sequential pattern measured in the same run. Target: ≥ 20× with all alive, and
within deadline + 0.2 s with silent antennas.
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
from e2ckit.catalog import default_catalog
from e2ckit.sim import SimulatedArray
from e2ckit.sim.hostshim import shim_env

SILENT = ["DV05", "DA50", "CM07"]


def sequential_pattern(sim: SimulatedArray, timeout: float = 1.0) -> float:
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


def e2ckit_sweep(sim: SimulatedArray, deadline: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    wide = e2ckit.sweep("cryo", array=sim, timeout=deadline, deadline=deadline)
    return time.perf_counter() - t0, int(wide["error"].notna().sum())


def published_cli(sim: SimulatedArray, tmp: Path) -> float:
    env = shim_env(tmp / "shim", sim.host_names())
    exe = Path(sys.executable).with_name("e2c-client")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "tools", "cryo", "--all"], env=env, capture_output=True, check=False)
    return time.perf_counter() - t0


def e2ckit_cli(sim: SimulatedArray, tmp: Path) -> float:
    csv = sim.write_array(tmp / "array.csv")
    exe = Path(sys.executable).with_name("e2ckit")
    env = {**__import__("os").environ, "E2CKIT_ARRAY": str(csv)}
    t0 = time.perf_counter()
    subprocess.run([str(exe), "tools", "cryo", "--all", "--format", "csv"], env=env, capture_output=True, check=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--deadline", type=float, default=1.0)
    ap.add_argument("--no-cli", action="store_true", help="skip the process-level comparisons")
    args = ap.parse_args()
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as d, SimulatedArray(seed=1, latency=0.0005, bind="address", port=2000) as sim:
        tmp = Path(d)
        for state in ("all alive", "3 silent"):
            if state == "3 silent":
                for a in SILENT:
                    sim.fault(a, "silent")
            base = statistics.median(sequential_pattern(sim) for _ in range(1 if state == "3 silent" else args.repeat))
            rows.append((state, "sequential (published pattern)", base, 1.0))
            runs = [e2ckit_sweep(sim, args.deadline) for _ in range(args.repeat)]
            t = statistics.median(r[0] for r in runs)
            rows.append((state, f"e2ckit.sweep (deadline {args.deadline:g} s)", t, base / t))
            if not args.no_cli:
                pc = published_cli(sim, tmp)
                rows.append((state, "e2c-client tools cryo --all (process)", pc, base / pc))
                ec = statistics.median(e2ckit_cli(sim, tmp) for _ in range(3))
                rows.append((state, "e2ckit tools cryo --all (process)", ec, base / ec))
    print(f"\n66 antennas × 22 cryo points = {66 * 22} requests, 0.5 ms per request per channel")
    print(f"{'state':10s}  {'method':42s}  {'seconds':>8s}  {'× faster than sequential':>24s}")
    for state, method, secs, ratio in rows:
        print(f"{state:10s}  {method:42s}  {secs:8.3f}  {ratio:24.1f}")


if __name__ == "__main__":
    main()
