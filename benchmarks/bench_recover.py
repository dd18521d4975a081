"""Benchmark: ``e2ckit recover --watch`` over 66 antennas, carrying the recovery out, as a
share of one CPU core (issue 24.8).

Run on demand (not part of the test suite; Linux: it reads /proc)::

    .venv/bin/python benchmarks/bench_recover.py [--window 180] [--rate 1] [--interval 10s]

A simulated array of 66 antennas, every one of them just back from a power outage (the
``outage`` scenario, 6 h in: the whole recovery ahead), is served in a process of its own
(``e2ckit simulate`` on 127.0.0.1, its own clock at ``--rate``), so that what is measured is
the recover process alone. Then, one after the other, against a fresh simulator each:

* baseline: ``e2ckit recover all --dry-run --watch`` (re-plans every interval: one sweep
  of the plan's points, sends nothing);
* ``e2ckit recover all --yes --watch --until cold``: carries the recovery out (each
  antenna in its own thread: reads its gates every interval, sends its ready controls,
  audited and journaled, reads each effect back).

Each runs at the default interval (10 s) for ``--window`` seconds of wall time after a
warm-up (the start-up and the first plan, which every run pays once, are left out); its CPU
time (user + system, from /proc/PID/stat) over that window divided by the window is its
share of one core. Target: under 5 % of a core. The controls it sent (from the audit log)
show it did carry the recovery out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2ckit.array import default_array

PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def serve(tmp: Path, names: list[str], rate: float) -> tuple[subprocess.Popen, Path]:
    """``e2ckit simulate`` in its own process; returns it and its host map once written."""
    hosts = tmp / f"array-{time.monotonic_ns()}.csv"
    log = open(hosts.with_suffix(".err"), "w")  # noqa: SIM115 (the process writes it; closed with it)
    proc = subprocess.Popen(
        [PY, "-m", "e2ckit", "simulate", "--scenario", "outage", "--outage", ",".join(names),
         "--advance", "6h", "--rate", str(rate), "--write-array", str(hosts)],
        stdout=subprocess.DEVNULL, stderr=log, text=True, preexec_fn=_ctrl_c_on,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (hosts.exists() and len(hosts.read_text().splitlines()) > len(names)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the simulator did not start: {hosts.with_suffix('.err').read_text()}")
        time.sleep(0.2)
    return proc, hosts


def _ctrl_c_on() -> None:
    """In the child: SIGINT as a terminal gives it (a benchmark started in the background
    inherits it ignored, and Python then never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(proc: subprocess.Popen) -> None:
    """Ctrl-C to a process this benchmark started; killed if it has not ended 15 s later."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(tmp: Path, names: list[str], args: argparse.Namespace, recover_args: list[str]) -> dict:
    """One recover run against a fresh simulator: CPU share over the window, controls sent."""
    sim, hosts = serve(tmp, names, args.rate)
    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    env = {**os.environ, "E2CKIT_AUDIT_LOG": str(run_dir / "audit.jsonl"),
           "E2CKIT_RECOVER_JOURNAL": str(run_dir / "journal")}  # fmt: skip
    cmd = [PY, "-m", "e2ckit", "--array", str(hosts), "recover", "all", "--watch",
           "--interval", args.interval, *recover_args]  # fmt: skip
    # its lines go to files: a pipe nobody reads while it runs would fill and hold it up
    out_file = open(run_dir / "stdout", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=out_file, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=_ctrl_c_on)
    try:
        time.sleep(args.warmup)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.window)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        alive = proc.poll() is None
    finally:
        t_int = time.monotonic()
        stop(proc)
        stopped_in = time.monotonic() - t_int
        out_file.close()
        stop(sim)
    out = (run_dir / "stdout").read_text()
    audit = run_dir / "audit.jsonl"
    sent = [json.loads(x) for x in audit.read_text().splitlines()] if audit.exists() else []
    return {
        "cpu": c1 - c0, "wall": t1 - t0, "alive": alive, "stopped_in": stopped_in, "code": proc.returncode,
        "sent": sum(1 for e in sent if e.get("outcome") == "sent"),
        "refused": sum(1 for e in sent if e.get("outcome") not in ("intent", "sent")),
        "transitions": sum(1 for x in out.splitlines() if x[:4].isdigit()),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=180.0, help="wall seconds measured per run (default 180)")
    ap.add_argument("--warmup", type=float, default=15.0, help="wall seconds left out at the start (default 15)")
    ap.add_argument("--rate", type=float, default=1.0, help="the simulator's rate (default 1: real time)")
    ap.add_argument("--interval", default="10s", help="recover's --interval (default 10s, its default)")
    args = ap.parse_args()
    names = list(default_array().keys())
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = measure(tmp, names, args, ["--dry-run"])
        run = measure(tmp, names, args, ["--yes", "--until", "cold"])
    print(f"recover --watch, {len(names)} antennas after an outage, simulator in its own process "
          f"(rate {args.rate:g}), --interval {args.interval}, {args.window:.0f} s of wall time each")  # fmt: skip
    print(f"{'run':<42}{'CPU s':>8}{'% core':>8}{'ratio':>7}{'sent':>6}{'moves':>7}")
    for name, r in (("recover --dry-run --watch (baseline)", base), ("recover --yes --watch --until cold", run)):
        share = 100 * r["cpu"] / r["wall"]
        ratio = r["cpu"] / base["cpu"] if base["cpu"] else float("nan")
        print(f"{name:<42}{r['cpu']:>8.2f}{share:>7.2f}%{ratio:>7.2f}{r['sent']:>6}{r['transitions']:>7}"
              + ("" if r["alive"] else "   (ended before the window did)"))
    print(f"target: carrying it out under 5 % of a core; {run['refused']} control(s) not sent or refused; "
          f"Ctrl-C ended them in {base['stopped_in']:.1f} s / {run['stopped_in']:.1f} s "
          f"(exit {base['code']} / {run['code']})")  # fmt: skip


if __name__ == "__main__":
    main()
