"""`e2ckit log status DIR`: each antenna's latest logged cycle, judged by the one judgement;
an antenna not logged for two cycles is unknown, never ok; the summary line on stderr and
the exit status from the one exit table (issue 25 item 1)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import e2ckit
from e2ckit.cli import app


@pytest.fixture
def run(monkeypatch):
    runner = CliRunner()
    monkeypatch.delenv("E2CKIT_SITE_LIMITS", raising=False)
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def recovery_log(fresh_sim, tmp_path):
    """A log of DV01, DV02 (an outage, then the recovery) and DV03 (healthy), 6 h 46 min
    30 s in, one cycle a minute; the array and its stepped clock for more cycles."""
    sim = fresh_sim(["DV01", "DV02", "DV03"], seed=3, scenario="recovery", serve=False, latency=0.0)
    sim.clock.advance(hours=6, minutes=44, seconds=30)
    path = tmp_path / "log"
    e2ckit.Logger(["outage", "recovery"], interval=60, path=path, array=sim, clock=sim.clock).run(cycles=3)
    return path, sim


def test_log_status_judges_each_antennas_latest_cycle(run, recovery_log):
    path, _sim = recovery_log
    r = run("log", "status", str(path))
    assert r.exit_code == 6, r.output  # an antenna in alarm: the one exit table's 6
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["antenna", "state", "last", "worst"]
    by = {line.split()[0]: line for line in lines[2:] if line[:4] in ("DV01", "DV02", "DV03")}
    assert by["DV01"].split()[1] == "alarm" and "compressor" not in by["DV03"] and by["DV03"].split()[1] == "ok"
    assert r.stderr.splitlines()[-2:] == ["e2ckit: 3 antennas by phase: 2 pumping down, 1 operational",
                                          "e2ckit: 3 antennas: 1 ok, 2 alarm"]  # fmt: skip
    assert "antennas:" not in r.stdout  # the summary is on stderr only
    rows = json.loads(run("log", "status", str(path), "-f", "json").stdout)
    assert {row["antenna"]: row["state"] for row in rows} == {"DV01": "alarm", "DV02": "alarm", "DV03": "ok"}


def test_an_antenna_not_logged_for_two_cycles_is_unknown_never_ok(run, recovery_log):
    path, sim = recovery_log
    # the logger goes on without DV03: its latest cycle is not among the log's last two
    e2ckit.Logger("outage", "DV01,DV02", interval=60, path=path, array=sim, clock=sim.clock).run(cycles=3)
    r = run("log", "status", str(path), "-f", "json")
    rows = {row["antenna"]: row for row in json.loads(r.stdout)}
    assert rows["DV03"]["state"] == "unknown" and "stale: not logged since" in rows["DV03"]["worst"]
    assert r.stderr.splitlines()[-1] == "e2ckit: 3 antennas: 0 ok, 2 alarm, 1 unknown"
    assert r.exit_code == 6
    r = run("log", "status", str(path), "-a", "DV03")
    assert r.exit_code == 1, r.output  # one antenna, a reading one could not judge: partial, never 0
    assert r.stderr.splitlines()[-1] == "e2ckit: 1 antennas: 0 ok, 1 unknown"


def test_a_healthy_log_exits_0_and_bad_input_exits_2(run, fresh_sim, tmp_path):
    sim = fresh_sim(["DV01", "CM01"], serve=False, latency=0.0)
    e2ckit.Logger("cryo", interval=60, path=tmp_path / "ok", array=sim, clock=sim.clock).run(cycles=2)
    r = run("log", "status", str(tmp_path / "ok"))
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[-1] == "e2ckit: 2 antennas: 2 ok" and "by phase" not in r.stderr
    r = run("log", "status", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "no log at" in r.stderr and "missing" in r.stderr
    (tmp_path / "empty").mkdir()
    r = run("log", "status", str(tmp_path / "empty"))
    assert r.exit_code == 3 and "no antenna logged" in r.stderr


def test_a_log_that_stopped_says_its_states_are_of_then_not_now(run, fresh_sim, tmp_path):
    """The stale rule counts cycles within the log; a log whose writer stopped long ago is
    still judged (as logged), and says so: its latest cycle and how long ago it was."""
    import pandas as pd

    from e2ckit.triage.logstatus import behind, latest_judged

    sim = fresh_sim(["DV01", "CM01"], serve=False, latency=0.0)  # a simulated clock: 2026-01-01
    e2ckit.Logger("cryo", interval=60, path=tmp_path / "old", array=sim, clock=sim.clock).run(cycles=2)
    r = run("log", "status", str(tmp_path / "old"))
    newest = pd.Timestamp(sim.clock.now(), unit="s", tz="UTC").floor("min")
    assert f"the log's latest cycle is from {newest:%Y-%m-%d %H:%M} UTC" in r.stderr
    assert "not now (is its logger running?)" in r.stderr
    assert r.stderr.splitlines()[-1] == "e2ckit: 2 antennas: 2 ok"  # the summary stays last
    judged = latest_judged(tmp_path / "old")
    t = judged.attrs["latest_cycle"]
    assert judged.attrs["cycle"] == pd.Timedelta(seconds=60)
    assert behind(judged, t + pd.Timedelta(seconds=119)) is None  # within two cycles: current
    assert "3 min ago" in behind(judged, t + pd.Timedelta(seconds=180))
    assert "3 days ago" in behind(judged, t + pd.Timedelta(days=3))


def test_a_damaged_file_is_named_and_the_status_is_never_all_ok(run, fresh_sim, tmp_path):
    """An antenna whose only part is damaged drops out of the table: stderr names the file
    skipped, and the exit status is partial (1), never 0, though every row shown is ok."""
    sim = fresh_sim(["DV01", "CM01"], serve=False, latency=0.0)
    e2ckit.Logger("cryo", interval=60, path=tmp_path / "log", array=sim, clock=sim.clock).run(cycles=2)
    (part,) = (tmp_path / "log").rglob("antenna=CM01/part-*.parquet")
    part.write_bytes(part.read_bytes()[:100])
    r = run("log", "status", str(tmp_path / "log"))
    assert r.exit_code == 1, r.output
    warned = [x for x in r.stderr.splitlines() if "warning: skipping" in x]
    assert len(warned) == 1 and part.name in warned[0] and "unreadable" in warned[0], r.stderr
    assert r.stderr.splitlines()[-1] == "e2ckit: 1 antennas: 1 ok"
