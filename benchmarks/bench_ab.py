"""Run the benchmarks on two revisions, one after the other in one run, and print
their tables side by side (issue #12: "no speed lost").

Run on demand from the repository root::

    .venv/bin/python benchmarks/bench_ab.py --base 9f3dbc7 [--only sweep,client,cli,logger] [--rounds 2]

The base revision is checked out into a temporary git worktree and imported through
``PYTHONPATH`` with the same interpreter (so the same dependencies); each benchmark runs
on the base, then on the working tree, then the next benchmark. Each script's own
ratios are against a baseline measured in its own run, so read those ratios across the
two columns rather than raw times: this machine's speed drifts.

With ``--rounds N`` the pair runs N times (base, this tree, base, this tree, ...), and a
summary table closes the run: for a few key figures of each benchmark, the median on each
side, their ratio, and the noise (the larger spread of one side's own rounds, as a fraction
of its median). A change is a loss only where the ratio is worse than 1 + noise.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = {
    "sweep": ["--repeat", "5"],
    "client": ["--requests", "2000", "--repeat", "3"],
    "cli": [],
    "logger": ["--seconds", "20", "--hour-antennas", "2", "--samples", "300000"],
}


#: key figures read from each benchmark's table: (label, regex with one number, lower is better)
KEYS: dict[str, list[tuple[str, str, bool]]] = {
    "sweep": [
        ("sweep, all alive: median s", r"all alive\s+e2ckit\.sweep \(deadline 1 s\), median\s+([\d.]+)", True),
        ("sweep, 3 silent: median s", r"3 silent\s+e2ckit\.sweep \(deadline 1 s\), median\s+([\d.]+)", True),
    ],
    "client": [
        ("Client monitor: x e2c-client req/s", r"monitor \(13-byte reply\)\s+e2ckit Client\s+[\d,]+\s+([\d.]+)x", False),
        ("Client monitor: CPU us/req", r"monitor \(13-byte reply\)\s+e2ckit Client\s+[\d,]+\s+[\d.]+x\s+([\d.]+)", True),
    ],
    "cli": [
        ("e2ckit --help: median s", r"start-up\s+e2ckit --help\s+([\d.]+)", True),
        ("tools cryo --all, 66 alive: median s", r"66 alive\s+e2ckit tools cryo --all\s+([\d.]+)", True),
    ],
    "logger": [
        ("logger: CPU per sample, us", r"CPU per sample\s+([\d.]+) us", True),
        ("logger flush of 300k samples: s", r"logger flush \(66 part files, atomic\)\s+([\d.]+) s", True),
    ],
}


def figures(name: str, text: str) -> dict[str, float]:
    """The key figures found in one benchmark's output (a figure it does not print is left out)."""
    found = {}
    for label, pattern, _lower in KEYS.get(name, []):
        m = re.search(pattern, text)
        if m:
            found[label] = float(m.group(1))
    return found


def summary(seen: dict[tuple[str, str], list[float]], base: str) -> str:
    """The closing table: per key figure, each side's median, the ratio and the base's noise."""
    lines = [f"{'figure':40} {'base ' + base:>12} {'this tree':>12} {'ratio':>7} {'noise':>7}  verdict"]
    for name, keys in KEYS.items():
        for label, _pattern, lower in keys:
            b, t = seen.get((label, "base"), []), seen.get((label, "this"), [])
            if not b or not t:
                continue
            mb, mt = statistics.median(b), statistics.median(t)
            ratio = (mt / mb if lower else mb / mt) if mb and mt else float("nan")  # > 1: this tree is worse
            spreads = [(max(v) - min(v)) / statistics.median(v) for v in (b, t) if len(v) > 1 and min(v) > 0]
            if not spreads:
                lines.append(f"{label:40} {mb:12.4g} {mt:12.4g} {ratio:6.2f}x {'-':>7}  n/a (one round)")
                continue
            noise = max(spreads)
            verdict = "loss" if ratio > 1 + noise else "no loss"
            lines.append(f"{label:40} {mb:12.4g} {mt:12.4g} {ratio:6.2f}x {noise:6.0%}  {verdict}")
    lines.append("ratio: this tree's cost over the base's (> 1 is worse); noise: the larger spread of one side's own rounds")
    return "\n".join(lines)


def run(tree: Path, name: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree))
    script = tree / "benchmarks" / f"bench_{name}.py"
    out = subprocess.run(
        [sys.executable, str(script), *ARGS[name]], cwd=tree, env=env, capture_output=True, text=True
    )
    return out.stdout + (f"\n[exit {out.returncode}]\n{out.stderr[-2000:]}" if out.returncode else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the revision to compare against (e.g. a commit)")
    ap.add_argument("--only", default=",".join(ARGS), help="benchmarks to run, comma-separated")
    ap.add_argument("--rounds", type=int, default=1, help="times to run each pair (2 or more: the noise is measured)")
    a = ap.parse_args()
    if a.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {a.rounds}")
    names = [n for n in a.only.split(",") if n]
    unknown = set(names) - set(ARGS)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(ARGS)}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), a.base], cwd=ROOT, check=True)
        seen: dict[tuple[str, str], list[float]] = {}
        try:
            for name in names:
                for k in range(a.rounds):
                    for side, label, tree in (("base", f"base {a.base}", base), ("this", "this tree", ROOT)):
                        print(f"\n===== bench_{name} — {label} (round {k + 1} of {a.rounds}) =====", flush=True)
                        out = run(tree, name)
                        print(out, flush=True)
                        for key, value in figures(name, out).items():
                            seen.setdefault((key, side), []).append(value)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        print("\n===== summary =====")
        print(summary(seen, a.base))


if __name__ == "__main__":
    main()
