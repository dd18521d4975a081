"""Simulated time end to end (issue #15.4).

The README's two outage-logging recipes run as written — the Python one in this
process, the CLI one as two processes on loopback (a simulator, and a logger that finds
the simulator's clock next to its host map) — and their logs show the outage and the
recovery at the right simulated times, which ``analysis.outages`` finds. Also: the
``--sim-*`` options, ``outage=``, a logger on a simulator stamping its time, real
timeouts under an accelerated clock, cycles cut short counted, and a status that reads
well.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import e2ckit
from e2ckit import analysis
from e2ckit.cli import app
from e2ckit.logger.status import AntennaHealth, LoggerStatus
from e2ckit.sim import SimulatedArray
from e2ckit.clock import DEFAULT_EPOCH, SimClock, clock_file

EPOCH = pd.Timestamp(DEFAULT_EPOCH, unit="s", tz="UTC")

# -- the README's recipes, verbatim (README "Logging an outage") -----------------------

PYTHON_RECIPE = '''
import e2ckit
from e2ckit import analysis
from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock

clock = SimClock(rate=None)            # stepped: the logger moves it, one cycle at a time
with SimulatedArray(["DV01", "DV02", "DV03"], clock=clock, outage=["DV01"]) as sim:
    log = e2ckit.Logger("cryo", array=sim, interval=60, path="outage")   # stamps the simulator's time
    log.run(duration=5 * 3600)         # five simulated hours, in seconds
print(log.status)
df = e2ckit.load("outage")
print(analysis.outages(df))
'''

CLI_SIMULATOR = "e2ckit simulate -a DV01,DV02,DV03 --outage DV01 --rate 600 --write-array sim.csv"
CLI_LOGGER = "e2ckit --array sim.csv log cryo --interval 60 --duration 4h --out outage"


def check_outage_log(path: Path, end: pd.Timedelta, *, real_time: bool = False) -> None:
    """DV01 lost 30 simulated minutes in for 3 hours; DV02 and DV03 never; every
    timestamp simulated (2026-01-01, from the simulator's start), not wall time."""
    df = e2ckit.load(path)
    assert df["time"].min() >= EPOCH and df["time"].max() <= EPOCH + end, (df["time"].min(), df["time"].max())
    found = analysis.outages(df)
    assert list(found["antenna"]) == ["DV01"], found
    o = found.iloc[0]
    step = pd.Timedelta(minutes=1)
    # a cycle is stamped when it starts and asks a moment later: on a real-time clock (the
    # CLI recipe, 600x) a cycle stamped just before a change may already see it (3 ms real
    # are 1.8 simulated seconds), so the change shows at most one cycle early
    early = step if real_time else 0 * step  # a stepped clock stands still while a cycle asks
    # lost at the first sample after power went (30 min in), or at the first sample if
    # the logger started after that
    first = df.loc[df["antenna"] == "DV01", "time"].min()
    assert EPOCH + pd.Timedelta(minutes=30) - early <= o["lost"] <= max(EPOCH + pd.Timedelta(minutes=30) + 2 * step, first)
    restored = EPOCH + pd.Timedelta(hours=3, minutes=30)
    assert restored - early <= o["restored"] <= restored + 2 * step
    dv01 = df[df["antenna"] == "DV01"]
    during = dv01[(dv01["time"] > o["lost"]) & (dv01["time"] < o["restored"])]
    assert len(during) and during["error"].notna().all(), "down throughout the outage"
    after = dv01[dv01["time"] >= o["restored"]]
    assert len(after) and after["error"].isna().any(), "answers after the recovery"
    warm = after[(after["point"] == "FEMC.TEMP0") & after["value"].notna()]["value"]
    assert warm.iloc[0] > 30, "the cryostat warmed while it was down"
    assert analysis.outage_summary(df).iloc[0]["antenna"] == "DV01"


def test_python_recipe_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(PYTHON_RECIPE, "README", "exec"), {})  # noqa: S102 (the README's own text)
    shown = capsys.readouterr().out
    assert shown.startswith("Logger stopped: outage") and "DV01" in shown
    assert "cycles    300" in shown, shown
    check_outage_log(tmp_path / "outage", pd.Timedelta(hours=5))


def _cli(command: str) -> list[str]:
    code = "import sys; from e2ckit.cli import main; sys.argv[0] = 'e2ckit'; main()"
    return [sys.executable, "-c", code, *command.split()[1:]]


def test_cli_recipe_runs_as_written_in_two_processes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("E2CKIT_ARRAY", "COLUMNS")}
    sim = subprocess.Popen(_cli(CLI_SIMULATOR), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        # "in another shell": once the simulator has written its host map and clock
        give_up = time.monotonic() + 60
        while not (tmp_path / "sim.clock.json").exists():
            assert sim.poll() is None, sim.stderr.read()
            assert time.monotonic() < give_up, "the simulator wrote no clock file"
            time.sleep(0.02)
        log = subprocess.run(_cli(CLI_LOGGER), cwd=tmp_path, env=env, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=180)  # fmt: skip
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
    assert log.returncode == 0, log.stderr
    assert "simulated time: the simulator's clock (600x)" in log.stderr
    assert "DV01 down:" in log.stderr and "DV01 answers again" in log.stderr
    check_outage_log(tmp_path / "outage", pd.Timedelta(hours=5), real_time=True)


# -- the pieces ---------------------------------------------------------------------------


def test_outage_antennas_from_the_api_without_a_toml_file():
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02", "DV03"], clock=clock, outage="DV03") as sim:
        assert sim.scenario.name == "outage" and "DV03" in sim.scenario.description
        clock.advance(hours=1)
        df = e2ckit.sweep("FEMC.TEMP0", array=sim, tidy=True)
    err = dict(zip(df["antenna"], df["error"], strict=True))
    assert err["DV01"] is None and err["DV02"] is None and err["DV03"].startswith("refused")
    with pytest.raises(e2ckit.ValidationError, match="DV09"):
        SimulatedArray(["DV01"], outage=["DV09"])
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], clock=clock, scenario="recovery", outage=["DV02"]) as sim:
        clock.advance(hours=2)
        df = e2ckit.sweep("FEMC.TEMP0", array=sim, tidy=True)
    assert df.set_index("antenna")["error"].notna().to_dict() == {"DV01": False, "DV02": True}


def test_sim_options_shape_the_embedded_array():
    r = CliRunner().invoke(app, ["--simulate", "--sim-outage", "DV03", "--sim-advance", "4h", "--sim-rate", "10",
                                 "sweep", "FEMC.TEMP0", "-a", "DV03,DV04", "-f", "json"])  # fmt: skip
    assert r.exit_code == 6, r.stderr  # DV03 warm after its outage: an antenna in alarm (the exit table)
    temps = {row["antenna"]: row["FEMC.TEMP0"] for row in json.loads(r.stdout)}
    assert temps["DV03"] > 30 > temps["DV04"], "DV03 is back from its outage, warm; DV04 cold"
    assert "simulated time 2026-01-01 04:00" in r.stderr and "on DV03" in r.stderr
    for bad in (["--sim-rate", "0"], ["--sim-advance", "2x"], ["--sim-outage", "XX99"], ["--sim-outage", " "]):
        r = CliRunner().invoke(app, ["--simulate", *bad, "sweep", "cryo"])
        assert r.exit_code == 2 and bad[0] in r.stderr, (bad, r.stderr)
    r = CliRunner().invoke(app, ["--sim-rate", "10", "sweep", "cryo"])
    assert r.exit_code == 2 and "add --simulate" in r.stderr


def test_a_simulators_host_map_carries_its_clock(tmp_path):
    clock = SimClock(rate=100.0)
    with SimulatedArray(["DV01"], clock=clock) as sim:
        clock.advance(hours=2)
        path = sim.write_array(tmp_path / "sim.csv")
        followed = SimClock.follow(clock_file(path))
        assert followed.rate == 100.0
        assert abs(followed.now() - clock.now()) < 5.0  # 50 ms of wall time at 100x
        log = e2ckit.Logger("FEMC.TEMP0", array=str(path), path=tmp_path / "log")
        assert isinstance(log.clock, SimClock) and log.clock.rate == 100.0
        assert e2ckit.Logger("FEMC.TEMP0", array=str(path), path=tmp_path / "log", clock="wall").clock is None


def test_a_logger_on_a_simulator_stamps_simulated_time(tmp_path):
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], clock=clock) as sim:
        clock.advance(days=3)
        with e2ckit.Logger("FEMC.TEMP0", array=sim, interval=600, path=tmp_path) as log:
            assert log.clock is clock
            log.run(cycles=3)
    t = e2ckit.load(tmp_path)["time"]
    assert list(t) == [EPOCH + pd.Timedelta(days=3, minutes=10 * k) for k in range(3)]


def test_an_accelerated_clock_keeps_healthy_antennas_free_of_deadline_errors(tmp_path):
    """SimClock(rate=3600) with interval=300 is 83 ms of real time per cycle: the
    timeouts stay at what a real answer needs, and a slow cycle overruns instead."""
    clock = SimClock(rate=3600)
    with SimulatedArray(["DV01", "DV02", "DV03", "DA41", "CM01", "PM01"], clock=clock) as sim:
        with e2ckit.Logger(["cryo", "cmpr"], array=sim, interval=300, path=tmp_path) as log:
            assert log.timeout >= 0.25 and log.deadline >= 0.5
            st = log.run(duration=3600)  # 12 cycles in 1 s
    assert st.cycles > 5 and st.errors == 0 and st.cut_short == 0, str(st)


def test_cycles_cut_short_by_the_deadline_are_counted_and_reported(tmp_path):
    with SimulatedArray(["DV01", "DV02"], latency=0.01, clock=SimClock(rate=None)) as sim:
        with e2ckit.Logger("cryo", array=sim, interval=60, path=tmp_path, timeout=1, deadline=0.02,
                           concurrency=1) as log:  # fmt: skip
            st = log.run(cycles=3)
    assert st.cut_short == 3, str(st)
    assert "3 cut short by the deadline" in st.line() and "3 cycles cut short by the deadline" in str(st)


def _status(**health: str) -> LoggerStatus:
    return LoggerStatus(running=True, path="night", cycles=12, samples=5000, samples_written=4000,
                        samples_buffered=1000, errors=30, overruns=1, skipped=2, files=4, bytes_written=1,
                        last_cycle=DEFAULT_EPOCH, last_cycle_seconds=0.2, failure=None,
                        antennas={a: AntennaHealth(state=s) for a, s in health.items()})  # fmt: skip


def test_status_prints_as_a_short_summary():
    st = _status(**{f"DV{i:02d}": "ok" for i in range(1, 60)}, DA41="down", DA42="partial", CM01="partial")
    text = str(st)
    lines = text.splitlines()
    assert 4 <= len(lines) <= 8 and max(len(ln) for ln in lines) <= 100, text
    assert "59 ok, 2 partial, 1 down; down: DA41; partial: CM01,DA42" in text

    class Pretty:
        out = ""

        def text(self, s):
            self.out += s

    p = Pretty()
    st._repr_pretty_(p, False)
    assert p.out == text


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_the_live_status_line_fits_and_names_partial_antennas(width):
    st = _status(DV01="ok", DV02="partial", DV03="down", DV04="down", DV05="down", DV06="down", DV07="down")
    full = st.line()
    assert "1 partial (DV02)" in full and "5 down (DV03,DV04,DV05,DV06,+1)" in full
    line = st.line(width)
    assert len(line) <= width and "down" in line
    if width >= 80:
        assert "partial (DV02)" in line


def test_the_recipes_here_are_the_readme_s():
    """The recipes these tests run are the README's own text, so the two cannot drift apart."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert PYTHON_RECIPE.strip() in readme
    assert CLI_SIMULATOR in readme and CLI_LOGGER in readme
