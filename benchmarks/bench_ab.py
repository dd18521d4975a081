"""Run the benchmarks on two revisions, one after the other in one run, and print
their tables side by side (issue #12: "no speed lost").

Run on demand from the repository root::

    .venv/bin/python benchmarks/bench_ab.py --base 9f3dbc7 [--only sweep,client,cli,logger]

The base revision is checked out into a temporary git worktree and imported through
``PYTHONPATH`` with the same interpreter (so the same dependencies); each benchmark runs
on the base, then on the working tree, then the next benchmark. Each script's own
ratios are against a baseline measured in its own run, so read those ratios across the
two columns rather than raw times: this machine's speed drifts.
"""

from __future__ import annotations

import argparse
import os
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
    a = ap.parse_args()
    names = [n for n in a.only.split(",") if n]
    unknown = set(names) - set(ARGS)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(ARGS)}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), a.base], cwd=ROOT, check=True)
        try:
            for name in names:
                for label, tree in ((f"base {a.base}", base), ("this tree", ROOT)):
                    print(f"\n===== bench_{name} — {label} =====", flush=True)
                    print(run(tree, name), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
