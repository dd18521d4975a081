"""Dashboard benchmark (on demand): seconds from opening the page to the first antenna row.

    .venv/bin/python benchmarks/bench_dashboard.py [--repeat 5] [--antennas DV01,DV02,DV03]

Starts ``e2ckit --simulate --sim-scenario recovery --sim-advance 7h dashboard ...`` (Voilà
on a pre-started kernel, the board updated before the page opens), and beside it, as the
baseline, plain Voilà serving the same board notebook over the same log without a
pre-started kernel (how the dashboard ran before). Headless Chromium (tests/browser/cdp.py)
opens each page ``--repeat`` times, each time in a fresh page load, and times until the
first ``tr.e2ckit-board-row`` is in the page. Target: at most 3 s for the dashboard.
Loopback only.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from cdp import Browser, find_chromium  # noqa: E402

ROW = "document.querySelector('tr.e2ckit-board-row') !== null"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with status {proc.returncode}") from None
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port}")


def first_row_seconds(browser: Browser, url: str, timeout: float = 120) -> float:
    browser.goto("about:blank")
    t0 = time.monotonic()
    browser.goto(url)
    if not browser.wait_for(ROW, timeout):
        raise SystemExit(f"no antenna row in {timeout:g} s at {url}")
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--antennas", default="DV01,DV02,DV03")
    args = ap.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no chromium on PATH")
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        log = Path(tmp) / "log"
        port, base_port = _free_port(), _free_port()
        ours = subprocess.Popen(
            [sys.executable, "-m", "e2ckit", "--simulate", "--sim-scenario", "recovery", "--sim-advance", "7h",
             "dashboard", args.antennas, "--sim-rate", "60", "--every", "1", "--port", str(port), "--log", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        baseline = None
        browser = None
        try:
            _wait_listening(port, ours)
            from e2ckit.cli.triage import _write_board_notebook

            notebook = Path(tmp) / "board.ipynb"
            _write_board_notebook(str(notebook), str(log), 1.0, None)
            baseline = subprocess.Popen(
                [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={base_port}",
                 "--Voila.ip=127.0.0.1", "--Voila.log_level=ERROR"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            _wait_listening(base_port, baseline)
            browser = Browser(chromium)
            t_ours, t_base = [], []
            for _ in range(args.repeat):
                t_ours.append(first_row_seconds(browser, f"http://127.0.0.1:{port}/"))
                time.sleep(2)  # the pool pre-starts the next kernel
                t_base.append(first_row_seconds(browser, f"http://127.0.0.1:{base_port}/"))
        finally:
            if browser is not None:
                browser.close()
            for p in (ours, baseline):
                if p is not None and p.poll() is None:
                    os.killpg(p.pid, 15)
                    p.wait(timeout=60)
    m = statistics.median(t_base)
    print(f"{'case':44s} {'median s':>9s} {'best s':>7s} {'worst s':>8s} {'ratio':>7s}")
    for name, times in (("voila, no pre-started kernel (baseline)", t_base), ("e2ckit dashboard (pre-started kernel)", t_ours)):
        print(f"{name:44s} {statistics.median(times):9.2f} {min(times):7.2f} {max(times):8.2f} "
              f"{statistics.median(times) / m:6.2f}x")  # fmt: skip
    print(f"(seconds from opening the page to the first antenna row; {args.repeat} loads each; "
          f"{len(re.split(',', args.antennas))} antennas; {os.cpu_count()} CPUs; target: dashboard <= 3 s)")


if __name__ == "__main__":
    main()
