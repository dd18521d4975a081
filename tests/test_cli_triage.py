"""`e2ckit check` and `e2ckit points` limit columns on the command line (issue #14.1, #14.4)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from e2ckit.cli import app


@pytest.fixture
def run(monkeypatch):
    runner = CliRunner()
    monkeypatch.delenv("E2CKIT_SITE_LIMITS", raising=False)

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def array_csv_of(tmp_path):
    """A started simulated array (stepped clock, optionally a scenario advanced by some hours)
    and its host-map CSV; stopped at the end of the test."""
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    started = []

    def make(antennas, scenario=None, hours=0.0):
        clock = SimClock(rate=None)
        sim = SimulatedArray(antennas, seed=3, clock=clock, scenario=scenario, latency=0.0).start()
        started.append(sim)
        if hours:
            clock.advance(hours=hours)
        return sim.write_array(tmp_path / f"array{len(started)}.csv"), sim

    yield make
    for sim in started:
        sim.stop()


def test_check_a_healthy_array_exits_0(run):
    r = run("--simulate", "check", "DV01,DV02,CM03")
    assert r.exit_code == 0, r.output
    assert "ok: CM03 DV01 DV02" in r.output and "3 antennas: 3 ok" in r.output


def test_check_exit_status_follows_the_worst_verdict(run, array_csv_of):
    csv, sim = array_csv_of(["DV01", "DV02", "DV03"], scenario="outage", hours=6)
    r = run("--array", str(csv), "check")
    assert r.exit_code == 6, r.output  # an alarm: the compressors were not restarted
    lines = r.output.splitlines()
    assert any(line.startswith("DV01   ALARM   compressor not restarted") for line in lines)
    assert max(len(line) for line in lines if not line.startswith("e2ckit:")) <= 120  # piped: 120 columns, as every table
    r = run("--array", str(csv), "check", "DV03", "-f", "json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert {row["subsystem"] for row in rows} >= {"reachability", "cryostat", "compressor", "firmware"}
    assert all(row["verdict"] == "ok" for row in rows)


def test_check_warn_unknown_and_nothing_answered(run, array_csv_of, tmp_path):
    csv, sim = array_csv_of(["DV01", "DV02"])
    site = tmp_path / "site.csv"
    site.write_text("point,warn_high\nE2C.PROCESSOR_TEMP,20\n")  # every E2C now runs warm
    r = run("--array", str(csv), "check", "--limits", str(site))
    assert r.exit_code == 5, r.output
    assert "E2C.PROCESSOR_TEMP" in r.output
    sim.fault("DV01", "down")
    sim.fault("DV02", "down")
    r = run("--array", str(csv), "check", "--timeout", "0.3")
    assert r.exit_code == 3, r.output


def test_check_bad_input_is_one_line_and_exit_2(run, tmp_path):
    r = run("--simulate", "check", "XX01")
    assert r.exit_code == 2 and "XX01" in r.output
    site = tmp_path / "site.csv"
    site.write_text("point,warn_high\nFEMC.TEMP0,hot\n")
    r = run("--simulate", "check", "--limits", str(site))
    assert r.exit_code == 2 and f"{site}:2:2: warn_high: 'hot' is not a number" in r.output
    assert "Traceback" not in r.output


def test_points_show_limits_sources_and_expected_states(run, tmp_path):
    r = run("points", "outage", "-f", "json")
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["FEMC.CRYOSTAT_PRESSURE"]["alarm_high"] == 5e-4
    assert "firmware" in rows["FEMC.CRYOSTAT_PRESSURE"]["limit_source"]
    assert rows["CMPR.DRIVE"]["expected"].startswith("RUNNING when FEMC.TEMP9<250 (else alarm)")
    site = tmp_path / "site.csv"
    site.write_text("point,warn_high,source\nFEMC.TEMP0,5,OSF\n")
    r = run("points", "cryo", "--limits", str(site), "-f", "json")
    t0 = next(row for row in json.loads(r.stdout) if row["name"] == "FEMC.TEMP0")
    assert t0["warn_high"] == 5 and t0["limit_source"] == "site: OSF"


def test_check_says_its_summary_on_stderr_only(run):
    r = run("--simulate", "check", "DV01,DV02,CM03")
    assert r.exit_code == 0, r.output
    assert "3 antennas: 3 ok" in r.stderr
    assert "antennas:" not in r.stdout  # the report only: its count is on stderr, once
    assert "by phase" not in r.stderr  # nothing is recovering: the summary is as before


def test_check_counts_antennas_by_phase_while_a_recovery_is_under_way(run, array_csv_of):
    """Issue 24 item 6 / 25 item 1: the plan's points ride on check's one sweep; the
    antennas by phase come before the verdict line, and the exit status is the verdict's."""
    csv, sim = array_csv_of(["DV01", "DV02", "DV03"], scenario="recovery", hours=1)
    r = run("--array", str(csv), "check", "--timeout", "0.3")
    assert r.exit_code == 6, r.output  # two antennas down: an alarm
    lines = [line for line in r.stderr.splitlines() if "antennas" in line]
    assert lines == ["e2ckit: 3 antennas by phase: 2 not answering, 1 operational", "e2ckit: 3 antennas: 1 ok, 2 silent"]
    sim.clock.advance(hours=5, minutes=46, seconds=30)  # back, turbo running up: the gate valve waits
    r = run("--array", str(csv), "check")
    assert r.exit_code == 6, r.output
    lines = [line for line in r.stderr.splitlines() if "antennas" in line]
    assert lines == ["e2ckit: 3 antennas by phase: 2 pumping down, 1 operational", "e2ckit: 3 antennas: 1 ok, 2 alarm"]
    assert "antennas" not in r.stdout


def test_a_sweep_of_the_plan_points_counts_antennas_by_phase(run, array_csv_of):
    csv, sim = array_csv_of(["DV01", "DV02", "DV03"], scenario="recovery", hours=6.775)  # 6 h 46 min 30 s
    r = run("--array", str(csv), "sweep", "recovery")
    assert r.exit_code == 6, r.output
    assert r.stderr.splitlines()[-2:] == ["e2ckit: 3 antennas by phase: 2 pumping down, 1 operational",
                                          "e2ckit: 3 antennas: 1 ok, 2 alarm"]  # fmt: skip
    r = run("--array", str(csv), "sweep", "cryo")  # not every point the plan reads: no phase, never a wrong one
    assert "by phase" not in r.stderr and r.stderr.splitlines()[-1] == "e2ckit: 3 antennas: 1 ok, 2 alarm"
    sim.clock.advance(hours=90)  # recovered: the summary is as before
    r = run("--array", str(csv), "sweep", "recovery")
    assert "by phase" not in r.stderr and r.stderr.splitlines()[-1] == "e2ckit: 3 antennas: 3 ok"
