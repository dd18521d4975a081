"""The recovery as data (recovery.toml) and plan_recovery() against the simulator (issue 24)."""

from __future__ import annotations

import math

import pytest

import e2ckit
from e2ckit.errors import CatalogError
from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock, parse_duration
from e2ckit.triage.plan import STEPS_FILE, Reading, evaluate, load_steps, plan_points, plan_recovery

# -- the steps as data ------------------------------------------------------------------


def test_shipped_steps_load_in_the_firmware_order() -> None:
    steps = load_steps()
    ids = [s.id for s in steps]
    assert ids == [
        "reachable", "powered", "fe_powered", "backing", "turbo", "gate_open", "safe_to_cool",
        "compressor", "cooling", "cold", "gate_closed", "solenoid_closed", "turbo_off", "pumps_closed",
        "operational",
    ]  # fmt: skip
    by_id = {s.id: s for s in steps}
    # end of pumping: gate valve, then solenoid valve, then turbo, then backing pump
    assert [by_id[i].action for i in ids[10:14]] == [
        "FEMC.SET_GATE_VALVE = 0", "FEMC.SET_SOLENOID_VALVE = 0", "FEMC.SET_TURBO_PUMP = 0",
        "FEMC.SET_BACKING_PUMP = 0",
    ]  # fmt: skip
    whens = {s.id: [c.text for r in s.requires for c in r.when] for s in steps}
    assert "FEMC.BACKING_PUMP == 1" in whens["turbo"] and "FEMC.BACKING_PUMP == 1" in whens["gate_open"]
    assert "FETIM.TURBO_TEMP in 10..45" in whens["turbo"] and "FEMC.TURBO_SPEED == 1" in whens["gate_open"]
    assert "FEMC.GATE_VALVE != 2" in whens["gate_open"]
    assert "CMPR.TIME_SINCE_POWER_OFF >= 420" in whens["compressor"]
    assert any("FEMC.CRYOSTAT_PRESSURE <= 5e-4" in w for w in whens["compressor"])
    assert [c.text for c in by_id["cold"].done[0]] == ["FEMC.TEMP0 < 5", "FEMC.TEMP5 < 30"]
    # every precondition says where it comes from
    assert all(r.source and r.why for s in steps for r in s.requires)
    assert "CMPR.DRIVE" in plan_points(steps)


def _mutated(old: str, new: str) -> str:
    text = STEPS_FILE.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('point = "FEMC.SET_TURBO_PUMP"', 'point = "FEMC.SET_TURBOPUMP"', "step 'turbo', field 'point'"),
        ('point = "FEMC.SET_TURBO_PUMP"', 'point = "FEMC.TURBO_PUMP"', "is not a control point"),
        ('phase = "vacuum"', 'phase = "vaccum"', "step 'backing', field 'phase'"),
        ('when = "FEMC.BACKING_PUMP == 1"', 'when = "FEMC.BACKING == 1"', "step 'turbo', precondition 1, field 'when'"),
        ('when = "FETIM.TURBO_TEMP in 10..45"', 'when = "FETIM.TURBO_TEMP in ten..45"', "cannot read the number"),
        ('done_after = "cold"', 'done_after = "colder"', "field 'done_after': no step 'colder'"),
        ('id = "turbo"', 'id = "backing"', "step 'backing': the id is used twice"),
        ('stall_after = "2m"', 'stall_after = "soon"', "field 'stall_after'"),
        ("wait = true", 'wait = "yes"', "field 'wait'"),
    ],
)
def test_bad_steps_name_file_step_and_field(old: str, new: str, message: str) -> None:
    with pytest.raises(CatalogError) as err:
        load_steps(_mutated(old, new), label="my-steps.toml")
    assert str(err.value).startswith("my-steps.toml: ")
    assert message in str(err.value)


# -- evaluating one antenna ---------------------------------------------------------------


def _healthy() -> dict[str, Reading]:
    values = {
        "FEPS.OUTPUT_STATE": 1, "FEPS.SYS_INTRLK_A": 0, "FEPS.SYS_INTRLK_B": 0, "FETIM.SHUTDOWN": 0,
        "FEMC.BACKING_PUMP": 0, "FEMC.TURBO_PUMP": math.nan, "FEMC.TURBO_SPEED": math.nan,
        "FETIM.TURBO_TEMP": 24.0, "FEMC.GATE_VALVE": 0, "FEMC.SOLENOID_VALVE": 0,
        "FEMC.CRYOSTAT_PRESSURE": 2e-7, "FETIM.SAFE_TO_COOL": 1, "CMPR.FAULT": 0, "CMPR.FETIM_STATUS_ERROR": 0,
        "CMPR.TIME_SINCE_POWER_OFF": math.inf, "CMPR.DRIVE": 1, "FEMC.TEMP0": 3.0, "FEMC.TEMP5": 15.6,
    }  # fmt: skip
    for name in plan_points(load_steps()):  # the FEPS trip flags of every rail: clear
        values.setdefault(name, 0)
    return {k: Reading(float(v), str(v), None) for k, v in values.items()}


def _status(rows: list[dict]) -> dict[str, str]:
    return {r["step"]: r["status"] for r in rows}


def test_compressor_waits_on_its_420_s_window_with_an_eta() -> None:
    reads = _healthy()  # pumped down, warm, compressor off
    for name, value in {"CMPR.DRIVE": 0, "FEMC.TEMP0": 80, "FEMC.BACKING_PUMP": 1, "FEMC.TURBO_PUMP": 1,
                        "FEMC.TURBO_SPEED": 1, "FEMC.GATE_VALVE": 1}.items():  # fmt: skip
        reads[name] = Reading(float(value), str(value), None)
    reads["CMPR.TIME_SINCE_POWER_OFF"] = Reading(300.0, "300", None)
    rows = {r["step"]: r for r in evaluate(load_steps(), reads)}
    assert rows["compressor"]["status"] == "waiting"
    assert rows["compressor"]["eta"] == pytest.approx(120.0)
    assert "CMPR.TIME_SINCE_POWER_OFF >= 420 (reads 300)" in rows["compressor"]["blocked_by"]
    assert "main.c" in rows["compressor"]["gate"]
    assert rows["cooling"]["status"] == "blocked" and rows["cooling"]["blocked_by"] == "compressor first"
    # past the window (the 0xFFFFFFFF sentinel reads as elapsed): ready
    reads["CMPR.TIME_SINCE_POWER_OFF"] = Reading(math.inf, "minimum off-time elapsed", None)
    assert _status(evaluate(load_steps(), reads))["compressor"] == "ready"


def test_turbo_outside_its_temperature_range_needs_a_person() -> None:
    reads = _healthy()
    reads.update({
        "CMPR.DRIVE": Reading(0.0, "OFF", None), "FEMC.TEMP0": Reading(80.0, "80", None),
        "FEMC.CRYOSTAT_PRESSURE": Reading(3e-3, "3e-3", None), "FETIM.SAFE_TO_COOL": Reading(0.0, "NOT SAFE", None),
        "FEMC.BACKING_PUMP": Reading(1.0, "ON", None), "FEMC.TURBO_PUMP": Reading(0.0, "OFF", None),
        "FETIM.TURBO_TEMP": Reading(52.0, "52.0", None),
    })  # fmt: skip
    rows = {r["step"]: r for r in evaluate(load_steps(), reads)}
    assert rows["backing"]["status"] == "done"
    assert rows["turbo"]["status"] == "blocked"
    assert rows["turbo"]["blocked_by"] == "FETIM.TURBO_TEMP in 10..45 (reads 52.0)"
    assert "turboPump.h" in rows["turbo"]["gate"]


def test_a_step_current_too_long_is_stalled() -> None:
    reads = _healthy()
    reads["FEPS.OUTPUT_STATE"] = Reading(0.0, "OFF", None)
    rows = {r["step"]: r for r in evaluate(load_steps(), reads, now=1000.0, since={"fe_powered": 900.0})}
    assert rows["fe_powered"]["status"] == "stalled"
    assert "stalled after 60 s" in rows["fe_powered"]["blocked_by"]
    rows = {r["step"]: r for r in evaluate(load_steps(), reads, now=1000.0, since={"fe_powered": 990.0})}
    assert rows["fe_powered"]["status"] == "ready"


# -- against the simulator ----------------------------------------------------------------


def _plan_at(sim: SimulatedArray, clock: SimClock, at: str, antennas: str = "all"):
    clock.advance(parse_duration(at) - clock.elapsed())
    return plan_recovery(antennas, array=sim, timeout=0.5)


def test_outage_plan_over_time() -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], seed=4, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        df = _plan_at(sim, clock, "1h")  # DV01 is down
        dv01 = df[df.antenna == "DV01"].set_index("step")
        assert list(df.columns) == ["antenna", "phase", "step", "status", "action", "gate", "blocked_by", "since", "eta"]
        assert not (dv01.status == "done").any()
        assert dv01.loc["reachable", "status"] == "blocked"
        assert dv01.loc["reachable", "blocked_by"].startswith("the E2C does not answer")
        assert (dv01.status.iloc[1:] == "blocked").all() and (dv01.blocked_by.iloc[1:] == "reachable first").all()
        assert (df[df.antenna == "DV02"].status == "done").all()  # healthy: every step done
        df = _plan_at(sim, clock, "6h")  # DV01 back, warm, FEPS outputs off: the whole sequence ahead
        dv01 = df[df.antenna == "DV01"].set_index("step")
        assert list(dv01.status.iloc[:3]) == ["done", "done", "ready"]
        assert dv01.loc["fe_powered", "action"] == "FEPS.SET_ENABLE_PWR = 1"
        assert (dv01.status.iloc[3:] == "blocked").all()
        assert (df[df.antenna == "DV02"].status == "done").all()


@pytest.mark.parametrize(
    ("at", "step", "status", "blocked_by"),
    [
        ("6h44m30s", "backing", "ready", ""),
        ("6h46m30s", "gate_open", "waiting", "FEMC.TURBO_SPEED == 1 (reads LOW)"),
        ("10h", "cooling", "waiting", "FEMC.TEMP0 < 30 (reads"),
        ("1d", "cold", "waiting", "FEMC.TEMP0 < 5 (reads"),
        ("4d", None, None, None),
    ],
)
def test_recovery_scenario_plan_at(at: str, step: str | None, status: str | None, blocked_by: str | None) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV03"], seed=3, clock=clock, scenario="recovery") as sim:
        df = _plan_at(sim, clock, at)
    dv01 = df[df.antenna == "DV01"]
    pending = dv01[dv01.status != "done"]
    if step is None:
        assert pending.empty  # recovered: every step done
    else:
        first = pending.iloc[0]
        assert (first.step, first.status) == (step, status)
        assert first.blocked_by.startswith(blocked_by)
        assert (pending.status.iloc[1:] == "blocked").all()
    assert (df[df.antenna == "DV03"].status == "done").all()


def test_plan_recovery_is_public_and_healthy_antennas_are_done() -> None:
    with SimulatedArray(["DV01", "DV02", "CM01"], seed=2) as sim:
        df = e2ckit.plan_recovery("DV01,CM01", array=sim)
    assert set(df.antenna) == {"DV01", "CM01"}
    assert len(df) == 2 * len(load_steps())
    assert (df.status == "done").all()


def test_power_faults_need_a_person_and_no_refused_control_is_ready() -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV03", "DA41"], seed=1, clock=clock, scenario="power-fault") as sim:
        df = _plan_at(sim, clock, "20m")
    first = df[df.status != "done"].groupby("antenna").head(1).set_index("antenna")
    # DV03's FEPS tripped on +7 V over-voltage: SET_ENABLE_PWR would be refused
    assert (first.loc["DV03", "step"], first.loc["DV03", "status"]) == ("fe_powered", "blocked")
    assert first.loc["DV03", "blocked_by"] == "FEPS.OVER_VOLT_P7 == 0 (reads OVER-VOLTAGE)"
    # DA41's FETIM shut the front end down: the FEMC is silent, the compressor says so
    assert (first.loc["DA41", "step"], first.loc["DA41", "status"]) == ("powered", "blocked")
    assert first.loc["DA41", "blocked_by"] == "CMPR.FETIM_STATUS_ERROR == 0 (reads ERROR)"


def test_a_wildcard_condition_stands_for_every_matching_point() -> None:
    steps = {s.id: s for s in load_steps()}
    trips = [c.point for r in steps["fe_powered"].requires for c in r.when if c.point.startswith("FEPS.OVER_VOLT_")]
    assert len(trips) == 8 and "FEPS.OVER_VOLT_N16" in trips
    with pytest.raises(CatalogError, match="'FEPS.NO_SUCH_\\*'.*is not a monitor point"):
        load_steps(_mutated("FEPS.OVERLOAD_* == 0", "FEPS.NO_SUCH_* == 0"))


# -- each antenna's progress (issue 24 item 6) ---------------------------------------------


def _compressor_window(seconds: float) -> dict[str, Reading]:
    reads = _healthy()  # pumped down, warm, compressor off inside its 420 s window
    for name, value in {"CMPR.DRIVE": 0, "FEMC.TEMP0": 80, "FEMC.BACKING_PUMP": 1, "FEMC.TURBO_PUMP": 1,
                        "FEMC.TURBO_SPEED": 1, "FEMC.GATE_VALVE": 1}.items():  # fmt: skip
        reads[name] = Reading(float(value), str(value), None)
    reads["CMPR.TIME_SINCE_POWER_OFF"] = Reading(seconds, f"{seconds:g}", None)
    return reads


def test_antenna_progress_names_phase_next_step_and_progress() -> None:
    from e2ckit.triage.plan import antenna_progress, phase_summary, plan_frame, progress_rows

    steps = load_steps()
    blocked = _healthy()
    blocked["FETIM.SHUTDOWN"] = Reading(1.0, "SHUTDOWN", None)
    blocked["FEPS.OUTPUT_STATE"] = Reading(0.0, "OFF", None)
    cases = {"DV01": _compressor_window(300.0), "DV02": _compressor_window(math.inf), "DV03": _healthy(),
             "DV04": blocked}  # fmt: skip
    rows = [{"antenna": a, **r} for a, reads in cases.items() for r in evaluate(steps, reads)]
    prog = antenna_progress(plan_frame(rows)).set_index("antenna")
    assert list(prog.columns) == ["phase", "step", "action", "status", "progress", "next", "stage"]
    dv01 = prog.loc["DV01"]
    assert (dv01.phase, dv01.step, dv01.progress) == ("cooling", "compressor", "waiting")
    assert dv01.stage == "waiting on the compressor's 420 s"
    assert dv01.next == "compressor: CMPR.SET_DRIVE = 1 once CMPR.TIME_SINCE_POWER_OFF >= 420 (reads 300) (in 2 min)"
    dv02 = prog.loc["DV02"]  # past the window: its control may go now
    assert (dv02.progress, dv02.stage, dv02.next) == ("recovering", "cooling", "compressor: CMPR.SET_DRIVE = 1")
    assert (prog.at["DV03", "phase"], prog.at["DV03", "progress"], prog.at["DV03", "next"]) == ("done", "done", "")
    dv04 = prog.loc["DV04"]  # a FETIM shutdown: a person must look
    assert (dv04.phase, dv04.progress, dv04.stage) == ("power", "stalled", "blocked at fe_powered")
    assert dv04.next == "fe_powered blocked: FETIM.SHUTDOWN == 0 (reads SHUTDOWN) (then FEPS.SET_ENABLE_PWR = 1)"
    # the frame and the rows of evaluate() give the same progress
    assert progress_rows(rows) == prog.reset_index().astype({"progress": object}).to_dict("records")
    # counted in the order of the recovery, those that need a person first
    assert phase_summary(progress_rows(rows)) == (
        "4 antennas by phase: 1 blocked at fe_powered, 1 waiting on the compressor's 420 s, 1 cooling, 1 operational"
    )
    assert phase_summary(progress_rows([r for r in rows if r["antenna"] == "DV03"])) is None  # nothing recovering


def test_progress_of_readings_needs_every_point_of_the_plan() -> None:
    from e2ckit.triage.plan import progress_of_readings

    reads = _compressor_window(300.0)
    assert [p["stage"] for p in progress_of_readings({"DV01": reads})] == ["waiting on the compressor's 420 s"]
    del reads["CMPR.TIME_SINCE_POWER_OFF"]  # a sweep that did not read it: no phase at all, never a wrong one
    assert progress_of_readings({"DV01": reads, "DV02": _healthy()}) == []


def test_the_recovery_group_is_the_plans_points() -> None:
    """`e2ckit sweep recovery` and the dashboard's log read what the plan needs (and a
    sweep without them is told apart before the steps load)."""
    from e2ckit.planning import catalog_of

    assert sorted(p.name for p in catalog_of(None).resolve("recovery")) == plan_points(load_steps())
# -- eta and since (issue 24 item 2: the plan's last two columns) ------------------------------


def test_since_comes_from_the_recover_journal(tmp_path) -> None:
    from e2ckit.triage.journal import Journal

    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], seed=4, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        t0 = clock.now() - 30
        Journal.of(tmp_path, "DV01").note(t0, "fe_powered", "current")
        plain = plan_recovery("DV01,DV02", array=sim).set_index(["antenna", "step"])
        df = plan_recovery("DV01,DV02", array=sim, journal=tmp_path).set_index(["antenna", "step"])
        assert plain.since.isna().all()  # no journal: unknown
        assert df.loc[("DV01", "fe_powered"), "since"].timestamp() == pytest.approx(t0)
        assert df.since.notna().sum() == 1 and df.loc[("DV01", "fe_powered"), "status"] == "ready"
        # its control went out 5 min ago and still reads off: stalled, as recover judges it
        Journal.of(tmp_path, "DV01").note(clock.now() - 300, "fe_powered", "sent")
        df = plan_recovery("DV01", array=sim, journal=tmp_path).set_index("step")
    assert df.loc["fe_powered", "since"].timestamp() == pytest.approx(clock.now() - 300)
    assert df.loc["fe_powered", "status"] == "stalled" and "stalled after 60 s" in df.loc["fe_powered", "blocked_by"]


def _first(df):
    return df[df.status != "done"].iloc[0]


def test_eta_of_a_pressure_falling_and_of_a_stage_cooling_from_a_log(tmp_path) -> None:
    """With a log of the antenna's readings the plan times the pump-down to 5e-4 mbar (its
    recent rate held) and the cool-down (the ETA recovery() uses); without one, NaT and says so."""
    from e2ckit.triage.eta import cooldown_interval

    clock = SimClock(rate=None)
    path = tmp_path / "log"
    with SimulatedArray(["DV01"], seed=3, clock=clock, scenario="recovery", latency=0.0) as sim:
        clock.advance(parse_duration("6h46m"))  # the turbo spinning up: the gate valve opens soon
        with e2ckit.Logger("outage", ["DV01"], interval=30, path=path, array=sim, clock=clock, timeout=2.0,
                           deadline=5.0) as log:  # fmt: skip
            for _ in range(40):  # until the pump-down has gone on long enough to time it
                log.run(cycles=1)
                r = _first(plan_recovery("DV01", array=sim, log=path))
                if r.step == "safe_to_cool" and r.eta == r.eta:
                    break
            assert (r.step, r.status) == ("safe_to_cool", "waiting"), r
            asked, eta = clock.now(), r.eta.total_seconds()
            bare = _first(plan_recovery("DV01", array=sim))
            assert bare.step == "safe_to_cool" and bare.eta != bare.eta
            assert bare.blocked_by.endswith("no ETA without a log of its readings")
            while sim.models["DV01"].peek("FEMC.CRYOSTAT_PRESSURE") > 5e-4:
                log.run(cycles=1)
            truth = clock.now() - asked
            assert truth / 3 <= eta <= truth * 3, (eta, truth)  # the recent rate held: the right scale
            log.run(cycles=240)  # two hours of cooling
            plan = plan_recovery("DV01", array=sim, log=path)
            bare = _first(plan_recovery("DV01", array=sim))
    assert bare.step == "cooling" and bare.eta != bare.eta
    assert bare.blocked_by.endswith("no ETA without a log of its readings")
    r = _first(plan)
    assert (r.step, r.status) == ("cooling", "waiting") and r.eta == r.eta
    # the cool-down ETA of the 4K stage to 30 K on the logged readings since the restart
    got = e2ckit.load(path, points=["FEMC.TEMP0", "CMPR.DRIVE"])
    got = got[got.error.isna()]
    drive = got[got.point == "CMPR.DRIVE"]
    start = drive.time[(drive.value == 1) & (drive.value.shift(1) == 0)].iloc[-1]
    t4 = got[(got.point == "FEMC.TEMP0") & (got.time >= start)]
    hours = ((t4.time - start).dt.total_seconds() / 3600).to_numpy()
    now_h = (clock.now() - start.timestamp()) / 3600
    want = cooldown_interval([*hours, now_h], [*t4.value, sim.models["DV01"].peek("FEMC.TEMP0")], 30.0, (2.7, 4.0))
    assert math.isfinite(want.hours)
    assert r.eta.total_seconds() == pytest.approx(want.hours * 3600, rel=0.02)
