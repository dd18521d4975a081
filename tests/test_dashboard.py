"""`e2ckit dashboard` without a browser (the browser test is tests/test_dashboard_browser.py):
the access token, the kept log folder, a quiet terminal, and the board's static copy in an
exported notebook. Everything on loopback."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import e2ckit
from e2ckit.cli.options import BadInput
from e2ckit.cli.triage import dashboard_log_folder, dashboard_token

VOILA = importlib.util.find_spec("voila") is not None


def test_beyond_loopback_the_page_needs_a_token():
    made = dashboard_token("0.0.0.0", None)
    assert made and len(made) >= 24 and made != dashboard_token("0.0.0.0", None)
    assert dashboard_token("10.0.0.5", None)
    assert dashboard_token("127.0.0.1", None) is None and dashboard_token("::1", None) is None
    assert dashboard_token("localhost", None) is None
    assert dashboard_token("0.0.0.0", "given") == "given" and dashboard_token("127.0.0.1", "given") == "given"
    with pytest.raises(BadInput, match="--token is empty"):
        dashboard_token("0.0.0.0", " ")


def test_the_default_log_folder_is_a_new_one_under_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = dashboard_log_folder(None)
    assert path.startswith(str(tmp_path / "state" / "e2ckit" / "dashboard"))
    assert dashboard_log_folder(str(tmp_path / "mine")) == str(tmp_path / "mine")
    with pytest.raises(BadInput, match="does not exist"):
        dashboard_log_folder(str(tmp_path / "no" / "such" / "log"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(port: int, path: str) -> int:
    """The page's HTTP status, redirects not followed (a login redirect is no page)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.skipif(not VOILA, reason="Voilà is not installed (pip install 'e2ckit[dashboard]')")
def test_dashboard_keeps_its_log_says_where_gates_the_page_and_keeps_the_terminal_quiet(tmp_path):
    port = _free_port()
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    cmd = [sys.executable, "-m", "e2ckit", "--simulate", "--sim-scenario", "outage", "dashboard", "DV01,DV02",
           "--sim-rate", "600", "--interval", "300", "--every", "1", "--port", str(port), "--token", "s3cret",
           "--duration", "120"]  # fmt: skip  (a bound: the test stops it with SIGTERM)
    server = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        without = _status(port, "/")
        opened = time.monotonic()
        with_token = _status(port, "/?token=s3cret")
        page_seconds = time.monotonic() - opened
        server.send_signal(signal.SIGTERM)  # as a service manager stops it: its kernels were just started
    finally:
        out, errors = server.communicate(timeout=120)
    assert server.returncode == 0, errors
    assert without in (302, 401, 403), "no token, no page"
    assert with_token == 200
    assert page_seconds < 30, page_seconds
    lines = [ln for ln in errors.splitlines() if ln.strip()]
    assert all(ln.startswith("e2ckit: ") for ln in lines), "quiet unless -v:\n" + errors
    folders = os.listdir(tmp_path / "state" / "e2ckit" / "dashboard")
    assert len(folders) == 1
    kept = tmp_path / "state" / "e2ckit" / "dashboard" / folders[0]
    assert any(str(kept) in ln and "kept" in ln for ln in lines[:3]), "the log folder is named at start"
    assert any(p.suffix == ".parquet" for p in kept.rglob("*")), "the log is still there after the command"
    # the recovery plan's points are logged by default: the board shows each antenna's phase
    assert any("logging outage, recovery of 2 antennas" in ln for ln in lines[:3]), lines[:3]
    assert "CMPR.TIME_SINCE_POWER_OFF" in set(e2ckit.load(kept)["point"].astype(str))


@pytest.mark.slow
def test_an_exported_notebook_keeps_the_board_as_a_table(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    import e2ckit
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=600.0)  # ten simulated minutes a second
    with SimulatedArray(["DV01", "DV02"], seed=4, clock=clock, scenario="outage", latency=0.0) as sim:
        log = e2ckit.Logger("outage", interval=120, path=tmp_path / "log", array=sim, clock=clock, flush_every=0.2)
        log.start()
        end = time.monotonic() + 30
        while time.monotonic() < end and log.status.cycles < 3:
            time.sleep(0.05)
        log.stop()
    assert log.status.cycles >= 3
    src = [f"from e2ckit.triage.board import RecoveryBoard\nboard = RecoveryBoard({str(tmp_path / 'log')!r}, every=None)\n"
           "board.update()\nboard"]  # fmt: skip
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in src])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    static = [o for o in nb.cells[0].outputs if "text/html" in o.get("data", {})]
    assert static and "data-antenna='DV01'" in static[0]["data"]["text/html"]
    assert "data-antenna='DV02'" in html and "last updated" in html
