"""CLI benchmark (on demand): start-up, and `tools cryo --all` against e2c-client 0.2.2.

    /work/venv/bin/python benchmarks/bench_cli.py [--repeat 7] [--sweeps 3] [--silent 3]

1. Start-up: ``python -c pass`` vs ``e2ckit --help`` vs ``e2c-client --help``.
2. ``e2ckit tools cryo --all`` vs ``e2c-client tools cryo --all`` on one simulated array
   of 66 antennas, one loopback address per antenna on port 2000
   (``SimulatedArray(bind="address")``). e2c-client reaches it through the host-name
   shim (``tests/hostshim.py``), e2ckit through ``E2CKIT_ARRAY``. Process
   start included; both write into a pipe. Run once with every antenna alive and once
   with ``--silent`` antennas that accept and never answer.
3. ``e2ckit monitor nodes --host`` vs ``e2c-client monitor nodes --host`` on one
   simulated E2C (median of ``--repeat`` runs; target: e2ckit within 1.2x of e2c-client).

e2ckit's bytecode is compiled first (as an installed package has it). Prints one table:
median and best wall-clock seconds, and each tool's ratio to the
baseline of its block (``python -c pass`` for start-up, e2ckit for the sweeps).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _exe(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found next to {sys.executable} or on PATH")
    return found


def timed(
    cmd: list[str], env: dict[str, str] | None, repeat: int
) -> tuple[list[float], subprocess.CompletedProcess[bytes]]:
    times = []
    last = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        last = subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    assert last is not None
    return times, last


def _compile_bytecode() -> None:
    """Compile e2ckit's bytecode first, as an installed package has it: e2c-client's came
    with its wheel, while an editable e2ckit under PYTHONDONTWRITEBYTECODE=1 would be
    compiled from source on every run (about 0.1 s each, nothing to do with e2ckit)."""
    import compileall

    import e2ckit

    compileall.compile_dir(os.path.dirname(e2ckit.__file__), quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="runs per start-up case")
    ap.add_argument("--sweeps", type=int, default=3, help="runs per sweep case")
    ap.add_argument(
        "--silent", type=int, default=3, help="silent antennas in the second sweep case (0: skip)"
    )
    args = ap.parse_args()

    from e2ckit.sim import SimulatedArray
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the host-name shim is test code
    from hostshim import shim_env

    _compile_bytecode()

    rows: list[tuple[str, str, list[float], float | None, str]] = []

    # -- 1. start-up ---------------------------------------------------------------------
    base, _ = timed([sys.executable, "-c", "pass"], None, args.repeat)
    ours, r1 = timed([_exe("e2ckit"), "--help"], None, args.repeat)
    theirs, r2 = timed([_exe("e2c-client"), "--help"], None, args.repeat)
    b = statistics.median(base)
    rows.append(("start-up", "python -c pass", base, 1.0, "baseline"))
    rows.append(
        ("start-up", "e2ckit --help", ours, statistics.median(ours) / b, f"exit {r1.returncode}")
    )
    rows.append(
        (
            "start-up",
            "e2c-client --help",
            theirs,
            statistics.median(theirs) / b,
            f"exit {r2.returncode}",
        )
    )
    ver, r3 = timed([_exe("e2ckit"), "version"], None, args.repeat)
    rows.append(
        ("start-up", "e2ckit version", ver, statistics.median(ver) / b, f"exit {r3.returncode}")
    )

    # -- 2. monitor nodes --host: one E2C, process start included ------------------------------
    with SimulatedArray(["DV01"], seed=1) as one:
        where = ["--host", one.array["DV01"].host, "--port", str(one.array["DV01"].port)]
        t_theirs, rt = timed([_exe("e2c-client"), "monitor", "nodes", *where], None, args.repeat)
        t_ours, ro = timed([_exe("e2ckit"), "monitor", "nodes", *where], None, args.repeat)
        t_text, rx = timed([_exe("e2ckit"), "monitor", "nodes", *where, "--format", "e2c"], None, args.repeat)
    m = statistics.median(t_theirs)
    rows.append(("monitor nodes --host", "e2c-client monitor nodes", t_theirs, 1.0, f"exit {rt.returncode}, baseline"))
    rows.append(("monitor nodes --host", "e2ckit monitor nodes", t_ours, statistics.median(t_ours) / m,
                 f"exit {ro.returncode}, target <= 1.2x"))  # fmt: skip
    rows.append(("monitor nodes --host", "e2ckit ... --format e2c", t_text, statistics.median(t_text) / m,
                 f"exit {rx.returncode}, same text as e2c-client: {rx.stdout == rt.stdout}"))  # fmt: skip

    # -- 3. cryo --all on 66 antennas, one address each ----------------------------------------
    cases = [("66 alive", 0)] + ([(f"{args.silent} silent", args.silent)] if args.silent else [])
    if args.sweeps <= 0:  # --sweeps 0: start-up and monitor nodes only
        cases = []
    served = 0
    if cases:
        with (
            tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp,
            SimulatedArray(seed=1, bind="address") as sim,
        ):
            array_csv = sim.write_array(Path(tmp) / "array.csv")
            ours_env = dict(os.environ, E2CKIT_ARRAY=str(array_csv))
            theirs_env = shim_env(Path(tmp) / "shim", sim.host_names())
            for label, n_silent in cases:
                silent = sim.antennas[5 : 5 + n_silent]
                for a in silent:
                    sim.fault(a, "silent")
                t_ours, ro = timed([_exe("e2ckit"), "tools", "cryo", "--all"], ours_env, args.sweeps)
                t_theirs, rt = timed(
                    [_exe("e2c-client"), "tools", "cryo", "--all"], theirs_env, args.sweeps
                )
                ours_rows = max(len(ro.stdout.splitlines()) - 2, 0)
                their_hosts = sum(
                    1 for ln in rt.stdout.decode(errors="replace").splitlines() if ln.startswith("│")
                )
                m = statistics.median(t_ours)
                rows.append((f"cryo --all, {label}", "e2ckit tools cryo --all", t_ours, 1.0,
                             f"exit {ro.returncode}, {ours_rows} rows"))  # fmt: skip
                rows.append((f"cryo --all, {label}", "e2c-client tools cryo --all", t_theirs, statistics.median(t_theirs) / m,
                             f"exit {rt.returncode}, {their_hosts} rows (truncated cells)"))  # fmt: skip
                for a in silent:
                    sim.clear_faults(a)
            served = sim.requests_served()

    print(f"{'case':24s} {'command':30s} {'median s':>9s} {'best s':>8s} {'ratio':>7s}  note")
    for case, cmd, times, ratio, note in rows:
        r = f"{ratio:6.2f}x" if ratio is not None else ""
        print(
            f"{case:24s} {cmd:30s} {statistics.median(times):9.3f} {min(times):8.3f} {r:>7s}  {note}"
        )
    print(f"(start-up ratios vs python -c pass; nodes ratios vs e2c-client; sweep ratios vs e2ckit; {served} requests served; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]})")  # fmt: skip


if __name__ == "__main__":
    main()
