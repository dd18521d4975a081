"""The recovery board in a real browser (issue #14.7): headless Chromium opens `e2ckit dashboard`
served by Voilà against the embedded simulator on loopback, and checks that the widgets
rendered, that antennas in an outage show an alarm, and that the board follows simulated time.

Skipped when Chromium, Voilà or websocket-client is missing, unless E2CKIT_REQUIRE_BROWSER=1
(CI sets it): then a missing browser fails the test."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from cdp import Browser, find_chromium  # noqa: E402

REQUIRE = os.environ.get("E2CKIT_REQUIRE_BROWSER") == "1"


def _missing() -> str | None:
    import importlib.util

    if find_chromium() is None:
        return "no chromium on PATH (apt-get install chromium)"
    for mod, pkg in (("voila", "voila"), ("websocket", "websocket-client")):
        if importlib.util.find_spec(mod) is None:
            return f"{pkg} is not installed (pip install 'e2ckit[dashboard,test]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dashboard_in_headless_chromium(tmp_path):
    why = _missing()
    if why is not None:
        if REQUIRE:
            pytest.fail(f"E2CKIT_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    port = _free_port()
    # the outage scenario at 1800 simulated seconds a second: DV01 and DV02 lose power 1 s in
    # (30 min) and are back 6 s later (3 h) with the compressor off, an alarm either way;
    # DV03 stays healthy
    cmd = [sys.executable, "-m", "e2ckit", "--simulate", "--sim-scenario", "outage", "dashboard",
           "DV01,DV02,DV03", "--sim-rate", "1800", "--interval", "300", "--every", "1",
           "--port", str(port), "--duration", "240", "--log", str(tmp_path / "log")]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    browser = None
    try:
        browser = Browser(find_chromium())  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the page is there once Voilà listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.3)
        browser.goto(url)
        board = browser.wait_for("document.querySelector('.e2ckit-board-summary') && document.body.innerText", 120)
        text = browser.eval("document.body.innerText") or ""
        assert board, f"the board never rendered; page text: {text[:500]!r}"
        assert "Error displaying widget" not in text
        assert "Traceback" not in text, "tracebacks go to the terminal, never into the page"
        updated = browser.wait_for("(document.querySelector('.e2ckit-board-updated') || {}).innerText", 30)
        assert updated and re.search(r"last updated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", updated), updated
        # the antennas in the outage show an alarm (down, then compressor not restarted); DV03 ok
        verdict = "(document.querySelector(\"tr[data-antenna='{}']\") || {{}}).dataset"
        alarmed = browser.wait_for(
            "['DV01','DV02'].every(a => { const r = document.querySelector(`tr[data-antenna='${a}']`);"
            " return r && r.dataset.verdict === 'alarm'; })",
            90,
        )
        assert alarmed, browser.eval("document.body.innerText")
        dv01 = browser.eval("document.querySelector(\"tr[data-antenna='DV01']\").innerText")
        assert re.search(r"down|not restarted|compressor", dv01), dv01
        assert browser.eval(verdict.format("DV03") + ".verdict") == "ok"
        # simulated time moves on: the board's "data up to" time (its last summary line)
        # changes by itself, whether or not any antenna's state does
        summary = "Array.from(document.querySelectorAll('.e2ckit-board-summary')).map(e => e.innerText).join(' | ')"
        first = browser.eval(summary)
        assert "data up to" in first, first
        changed = browser.wait_for(f"{summary} !== {first!r}", 60)
        assert changed, f"the board did not change: {first!r}"
        # and after power returns, DV01 answers again with its compressor off
        back = browser.wait_for(
            "(document.querySelector(\"tr[data-antenna='DV01']\") || {innerText: ''}).innerText.includes('not restarted')", 90
        )
        shot = tmp_path / "board.png"
        browser.screenshot(str(shot))
        if os.environ.get("E2CKIT_BOARD_SCREENSHOT"):
            shutil.copy(shot, os.environ["E2CKIT_BOARD_SCREENSHOT"])
        assert back, browser.eval("document.body.innerText")
        assert "Error displaying widget" not in (browser.eval("document.body.innerText") or "")
    finally:
        if browser is not None:
            browser.close()
        children = _descendants(server.pid)  # Voila and its kernel
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    # stopping the dashboard stops what it started: no Voila, no kernel left running
    assert children, "the dashboard started Voila"
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [p.cmdline()[:4] for p in alive]


def _descendants(pid: int) -> list:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
