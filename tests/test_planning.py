"""Planning a sweep: discovery never starves the static points (issue 22, item 2).

An E2C answering every request in 0.6-0.9 s (inside a 1 s timeout) used to give no
reading at all: the node listings (one get-nodes per channel) went first and used up
the default 2.5 s deadline. Static points now go first on each connection.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from typer.testing import CliRunner

import e2ckit
from e2ckit.cli import app
from e2ckit.cli.options import EXIT_NOTHING

STATIC = ["FEMC.TEMP0", "FEMC.TEMP5"]


@pytest.mark.parametrize("delay", [0.6, 0.9])
def test_a_slow_e2c_gives_its_static_readings_within_the_default_deadline(fresh_sim, delay):
    sim = fresh_sim(("DV01", "DV02"), serve=False)  # memory driver: the delay is virtual time
    sim.fault("DV01", "slow", delay=delay)
    tidy = e2ckit.sweep([*STATIC, "versions"], array=sim, timeout=1.0, tidy=True)
    dv01 = tidy[tidy.antenna == "DV01"].set_index("point")
    for point in STATIC:
        assert dv01.loc[point, "error"] is None, dv01.loc[point, "error"]
        assert math.isfinite(dv01.loc[point, "value"])
        assert dv01.loc[point, "latency_ms"] >= delay * 1e3  # rows carry the latency: "slow", not "down"
    # the listings and the nodes they name came after, and the deadline cut them short:
    # their rows say so
    later = dv01.drop(index=[*STATIC, "FEMC.LO_PA_BLOCKED"])
    assert len(later) and later["error"].str.startswith("deadline").all(), later["error"]
    assert tidy[tidy.antenna == "DV02"]["error"].isna().all()


def test_a_slow_e2c_over_sockets_gives_its_static_readings_too(fresh_sim):
    sim = fresh_sim(("DV01",))  # serving loopback sockets: real time
    # the case above scaled to 2/3 (real seconds here): 0.4 s an answer, a 0.6 s timeout, its
    # default deadline 1.7 s (2 x 0.6 + 0.5): as few answers fit as 0.6 s in 2.5 s
    sim.fault("DV01", "slow", delay=0.4)
    tidy = e2ckit.sweep([*STATIC, "versions"], array=sim, timeout=0.6, tidy=True)
    dv01 = tidy[tidy.antenna == "DV01"].set_index("point")
    assert all(dv01.loc[p, "error"] is None for p in STATIC)
    assert (dv01.loc[STATIC, "latency_ms"] >= 400).all()
    later = dv01.drop(index=[*STATIC, "FEMC.LO_PA_BLOCKED"])
    assert len(later) and later["error"].str.startswith("deadline").all(), later["error"]


def _slow_scenario(tmp_path, delay: float = 0.7):
    scenario = tmp_path / "slow.toml"
    scenario.write_text(
        f'name = "slow"\ndescription = "DV01 answers in {delay} s"\n'
        f'[[faults]]\nantenna = "DV01"\nkind = "slow"\ndelay = {delay}\n',
        encoding="utf-8",
    )
    return scenario


def test_check_never_says_nothing_answered_when_a_slow_e2c_answered(tmp_path):
    r = CliRunner().invoke(app, ["--simulate", "--sim-scenario", str(_slow_scenario(tmp_path)), "check", "DV01"])
    assert r.exit_code not in (EXIT_NOTHING, 2), r.output
    assert "DV01" in r.stdout


def test_the_cli_never_says_no_host_replied_when_a_slow_e2c_answered(tmp_path):
    scenario = _slow_scenario(tmp_path)
    r = CliRunner().invoke(
        app, ["--simulate", "--sim-scenario", str(scenario), "sweep", *STATIC, "versions", "-a", "DV01", "-f", "json"]
    )
    assert r.exit_code != EXIT_NOTHING, r.stderr
    assert r.exit_code == 1, r.stderr  # some readings (the listings) failed: partial
    rows = json.loads(r.stdout)
    got = rows[0] if isinstance(rows, list) else rows
    assert all(got.get(p) is not None for p in STATIC), got


def test_an_e2c_that_is_no_antenna_is_swept_under_its_own_name_with_its_endpoints_family(fresh_sim):
    """An endpoint carries its family (the channel map): a central host or a bare address
    needs no stand-in antenna name, and its rows carry its own name."""
    from e2ckit.array import Array

    sim = fresh_sim(("DV01", "CM01"), serve=False)
    dv01, cm01 = sim.array["DV01"], sim.array["CM01"]
    # the E2C behind DV01 under another name: its compressor is on channel 2 (DA/DV), and
    # asking it as a CM (channel 3) finds nothing there
    as_dv = Array([dataclasses.replace(dv01, antenna="LO-LMC-1", family="DV")])
    as_cm = Array([dataclasses.replace(dv01, antenna="LO-LMC-1", family="CM")])
    good = e2ckit.sweep(["CMPR.DRIVE"], array=as_dv, tidy=True)
    assert list(good.antenna) == ["LO-LMC-1"] and good.error.isna().all(), good
    wrong = e2ckit.sweep(["CMPR.DRIVE"], array=as_cm, tidy=True)
    assert wrong.error.notna().all(), wrong
    assert e2ckit.sweep(["CMPR.DRIVE"], array=Array([cm01]), tidy=True).error.isna().all()


def test_an_os_error_with_no_file_is_one_line_without_a_doubled_colon(monkeypatch):
    """Out of descriptors anyway (or any OSError naming no file): ``e2ckit: error: Too
    many open files``, exit 1; it read ``error:: Too many open files``."""
    import errno

    import e2ckit.api

    def out_of_descriptors(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(e2ckit.api, "sweep_rows", out_of_descriptors)
    r = CliRunner().invoke(app, ["--simulate", "sweep", "FEMC.TEMP0", "-a", "DV01"])
    assert r.exit_code == 1
    assert "e2ckit: error: Too many open files" in r.stderr and "::" not in r.stderr, r.stderr


def test_the_logger_logs_an_e2c_that_is_no_antenna_under_its_own_name(fresh_sim, tmp_path):
    from e2ckit.array import Array
    from e2ckit.dataset import load
    from e2ckit.logger import Logger

    sim = fresh_sim(("DV01",), serve=False)
    arr = Array([dataclasses.replace(sim.array["DV01"], antenna="LO-LMC-1", family="DV")])
    with Logger(["FEMC.TEMP0", "CMPR.DRIVE"], array=arr, interval=10, path=tmp_path, clock=sim.clock) as log:
        log.run(cycles=2)
    df = load(tmp_path)
    assert set(df.antenna) == {"LO-LMC-1"} and len(df) == 4 and df.error.isna().all(), df
