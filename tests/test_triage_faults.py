"""Issue 22: judgement that holds when readings are stale, slow, missing or contradictory —
the faults of items 3, 6, 11, 12 and 13 (audit), each against the simulator or real files."""

from __future__ import annotations

import pytest

from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock
from e2ckit.triage.diagnose import SILENT_BUS, diagnose


def _silence_the_bus(sim: SimulatedArray, antenna: str) -> None:
    model = sim.models[antenna]
    for abbrev in sorted(model._by_abbrev):
        if abbrev != "E2C":
            model.set_missing(abbrev)


def test_a_silent_can_bus_is_an_inventory_alarm():
    """Item 3: an E2C that answers, lists no node on any channel and times out every LRU
    request was "UNKNOWN: some subsystems could not be read" — milder than one missing LRU."""
    with SimulatedArray(["DV01", "DV02"], seed=5, clock=SimClock(rate=None)) as sim:
        _silence_the_bus(sim, "DV01")
        d = diagnose("DV01,DV02", array=sim, limits=False).set_index(["antenna", "subsystem"])
    assert d.at[("DV01", "inventory"), "verdict"] == "alarm"
    assert d.at[("DV01", "inventory"), "reason"] == SILENT_BUS
    assert d.at[("DV01", "reachability"), "verdict"] == "ok"  # the E2C answered
    assert d.at[("DV01", "inventory"), "rule"] == "lru-missing"
    assert d.at[("DV02", "inventory"), "verdict"] == "ok"


def test_a_slow_e2c_is_slow_not_down():
    """Item 2 (the diagnose half): an E2C answering in 0.6 s is slow (warn, latency shown),
    never "antenna or E2C down"."""
    from e2ckit import api
    from e2ckit.triage.diagnose import DIAGNOSE_WHAT, diagnose_rows

    with SimulatedArray(["DV01"], seed=5, clock=SimClock(rate=None)) as sim:
        rows = api.sweep_rows(DIAGNOSE_WHAT, "DV01", array=sim)
    slow = [r._replace(latency_ms=600.0) for r in rows]
    d = diagnose_rows(slow, limits=False).set_index("subsystem")
    assert d.at["reachability", "verdict"] == "warn"
    assert "slow: median reply time 600 ms" in d.at["reachability", "reason"]
    assert d.at["reachability", "cause"].startswith("E2C answering slowly") and d.at["reachability", "rule"] == "slow"
    ok = diagnose_rows(slow, limits=False, slow_ms=1000).set_index("subsystem")
    assert ok.at["reachability", "verdict"] == "ok"
    # bytes that came back are an answer, even when they are not the protocol
    garbled = [r._replace(error="protocol: bad frame", raw=b"\x00", value=float("nan")) for r in rows]
    g = diagnose_rows(garbled, limits=False).set_index("subsystem")
    assert g.at["reachability", "verdict"] != "alarm" and g.at["reachability", "rule"] != "down"
    with pytest.raises(ValueError, match="slow_ms"):
        diagnose_rows(rows, slow_ms=0)


def test_check_takes_the_slow_threshold_and_refuses_a_bad_one():
    from typer.testing import CliRunner

    from e2ckit.cli import app

    r = CliRunner().invoke(app, ["--simulate", "check", "DV01", "--slow-ms", "0"])
    assert r.exit_code == 2 and "--slow-ms must be a positive number" in r.output


# -- item 6: scenario files ------------------------------------------------------------------

BAD_SCENARIOS = [
    ("steps = 5\n", "steps: must be an array of tables"),
    ("steps = [5]\n", "steps[1]: must be a table"),
    ('[[steps]]\nat = "1h"\nantennas = ["DV01"]\naction = "explode"\n', "steps[1].action: 'explode' is not one of"),
    ('[[steps]]\nat = "soon"\nantennas = ["DV01"]\naction = "power_off"\n', "steps[1].at: cannot read duration 'soon'"),
    ('[[steps]]\nat = "1h"\nantennas = ["XX01"]\naction = "power_off"\n', "steps[1].antennas: 'XX01' is not an ALMA antenna name"),
    ('[[steps]]\nat = "1h"\nantennas = ["DV01"]\naction = "leak"\n', "steps[1].rate: missing"),
    ('[[faults]]\nkind = "slow"\n', "faults[1].antenna: missing"),
    ("name =\n", "not a TOML file"),
    ('[[steps]]\nat = "1h"\nantennas = ["DV01", "DV99"]\naction = "power_off"\n', "antennas: DV99 not in the simulated array"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_SCENARIOS)
def test_a_bad_scenario_is_one_line_naming_file_field_and_problem(tmp_path, text, problem):
    """Item 6: `steps = 5`, `steps = [5]`, an unknown kind ended in a traceback (--sim-scenario)
    or "internal error" (simulate --scenario); an unknown antenna was accepted and did nothing."""
    from typer.testing import CliRunner

    from e2ckit.cli import app

    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n' + text, encoding="utf-8")
    for cmd in (["--simulate", "--sim-scenario", str(path), "sweep", "FEMC.TEMP0", "-a", "DV01"],
                ["simulate", "--scenario", str(path), "-a", "DV01,DV02", "--write-array", str(tmp_path / "a.csv")]):  # fmt: skip
        r = CliRunner().invoke(app, cmd)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.exit_code == 2 and len(lines) == 1, (cmd, r.output)
        assert str(path) in lines[0] and problem in lines[0] and "Traceback" not in r.output


def test_a_shipped_scenario_still_runs_on_part_of_the_array(tmp_path):
    with SimulatedArray(["DV01", "DV08"], seed=1, clock=SimClock(rate=None), scenario="missing-lru") as sim:
        assert sim.antennas == ["DV01", "DV08"]
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\n[[steps]]\nat = "1h"\nantennas = ["DV08"]\naction = "power_off"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="DV08 not in the simulated array"):
        SimulatedArray(["DV01"], seed=1, clock=SimClock(rate=None), scenario=str(mine))


# -- item 11: Ctrl-C during a sweep ----------------------------------------------------------


@pytest.fixture
def ctrl_c_after_dv01(monkeypatch):
    """A real SIGINT (Python's handler raises KeyboardInterrupt in the engine's loop) as soon
    as DV01 has answered, while DV02 (silent) is still awaited."""
    import signal

    from e2ckit import planning

    real = planning.execute

    def run(plan, tick=None):
        def on_done(antenna, results):
            if tick is not None:
                tick(antenna, results)
            if antenna == "DV01":
                signal.raise_signal(signal.SIGINT)

        return real(plan, on_done)

    monkeypatch.setattr(planning, "execute", run)
    # Python's own handler, even where this process was started with SIGINT ignored (a
    # background job of a non-interactive shell): raise_signal would do nothing there
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _silent_dv02():
    sim = SimulatedArray(["DV01", "DV02"], seed=5, clock=SimClock(rate=None))
    sim.start()
    sim.fault("DV02", "silent")
    return sim


def test_ctrl_c_in_python_carries_what_was_read(ctrl_c_after_dv01):
    """Item 11: Ctrl-C discarded what the other antennas had returned."""
    import e2ckit

    sim = _silent_dv02()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            e2ckit.sweep("cryo", "DV01,DV02", array=sim, timeout=5)
    finally:
        sim.stop()
    partial = info.value.partial
    assert info.value.not_read == ["DV02"]
    assert partial.loc["DV01", "FEMC.TEMP0"] > 0 and partial.loc["DV01", "error"] is None
    assert partial.loc["DV02", "error"].startswith("interrupted: not read")


def test_ctrl_c_on_the_command_line_prints_what_was_read(ctrl_c_after_dv01, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from e2ckit.cli import app
    from e2ckit.cli.options import EXIT_INTERRUPTED, EXIT_STATUSES

    sim = _silent_dv02()
    try:
        monkeypatch.setenv("E2CKIT_ARRAY", str(sim.write_array(tmp_path / "array.csv")))
        for cmd in (["sweep", "FEMC.TEMP0", "-a", "DV01,DV02", "-f", "csv", "--timeout", "5"],
                    ["tools", "cryo", "--all", "-f", "csv", "--timeout", "5"],
                    ["check", "DV01,DV02", "--timeout", "5"]):  # fmt: skip
            r = CliRunner().invoke(app, cmd)
            assert r.exit_code == EXIT_INTERRUPTED == 130, (cmd, r.output)
            assert "DV01" in r.stdout, cmd
            assert r.stderr.strip().splitlines()[-1] == "e2ckit: interrupted: 1 antennas not read", cmd
    finally:
        sim.stop()
    assert EXIT_INTERRUPTED in EXIT_STATUSES


# -- item 12: a dead array is a normal input ------------------------------------------------


def test_every_public_function_runs_against_a_dead_array(tmp_path):
    """Nothing answers (a site-wide power cut): error rows and verdicts, never an exception.
    The quickstart notebook runs against such an array too (notebooks.toml: 01-quickstart-dead-array)."""
    import e2ckit
    from e2ckit import analysis

    sim = SimulatedArray(["DV01", "DV02", "CM01"], seed=1, clock=SimClock(rate=None)).start()
    for a in sim.antennas:
        sim.fault(a, "down")
    try:
        wide = e2ckit.sweep("cryo", array=sim)
        tidy = e2ckit.sweep("cryo", array=sim, tidy=True)
        assert f"{wide['error'].isna().sum()} of {len(wide)} answered" == "0 of 3 answered"
        assert tidy["error"].notna().all() and len(tidy) == 3 * (len(wide.columns) - 1)
        for frame in (wide, tidy):
            a = e2ckit.alarms(frame)
            assert list(a["point"]) == ["(all points)"] * 3 and set(a["limit"]) == {"alarm"}
        e2ckit.style(wide)
        assert e2ckit.read("DV01", "cryo", array=sim)["error"].notna().all()
        nodes = e2ckit.nodes(array=sim)
        assert nodes["node"].isna().all() and nodes["error"].notna().all()
        assert set(e2ckit.inventory(array=sim, found=nodes)["state"]) == {"unreachable"}
        d = e2ckit.diagnose(array=sim)
        assert set(d.loc[d["subsystem"] == "reachability", "verdict"]) == {"alarm"} and set(d["rule"]) == {"down"}
        assert "3 antennas: 3 alarm" in d.to_text()
        assert len(analysis.outages(tidy)) == 3 and analysis.outliers(wide).empty
        log = tidy.drop(columns=["limit", "text"])
        from e2ckit.triage.board import board_frame

        board = board_frame(log).set_index("antenna")
        assert set(board["verdict"]) == {"alarm"}
    finally:
        sim.stop()


# -- item 8: one reader for user files, a byte-order mark allowed ---------------------------


def test_every_user_file_may_carry_a_byte_order_mark(tmp_path, monkeypatch):
    """A site limits CSV saved by a spreadsheet was refused (unknown column '\\ufeffpoint'),
    so with E2CKIT_SITE_LIMITS set every sweep, check and log refused to run."""
    from typer.testing import CliRunner

    from e2ckit.array import Array
    from e2ckit.catalog import load_catalog
    from e2ckit.cli import app
    from e2ckit.sim.scenario import load_scenario
    from e2ckit.usertext import read_user_text

    def bom(name: str, text: str):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8-sig"))
        return path

    site = bom("site.csv", "point,warn_high\r\nFEMC.TEMP0,5\r\n")
    monkeypatch.setenv("E2CKIT_SITE_LIMITS", str(site))
    r = CliRunner().invoke(app, ["--simulate", "sweep", "FEMC.TEMP0", "-a", "DV01", "-f", "csv"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["points", "cryo"])
    assert r.exit_code == 0 and "site: site file" in r.output
    cat = bom("mine.csv", "group,member,description\nmine,FEMC.TEMP0,my group\n")
    assert "mine" in load_catalog([cat]).groups
    assert load_scenario(bom("s.toml", 'name = "s"\n')).name == "s"
    assert Array.from_csv(bom("array.csv", "antenna,host,port\nDV01,127.0.0.1,2000\n")).antennas == ["DV01"]
    (tmp_path / "bin.csv").write_bytes(b"point\x00")
    with pytest.raises(ValueError, match="site limits file .*bin.csv is binary"):
        read_user_text(tmp_path / "bin.csv", "site limits file")
