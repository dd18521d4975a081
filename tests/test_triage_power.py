"""Issue 23 item 4: diagnose's power and interlock subsystems (e2ckit/triage/power.py).

Whole-array cases run diagnose() against the simulator on loopback; the rules themselves are
checked on readings written out here, so each one can be seen to fail without its rule."""

from __future__ import annotations

import math

import pytest

from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock
from e2ckit.triage import diagnose
from e2ckit.catalog.limits import Limits, Reading
from e2ckit.triage.power import INTERLOCK_POINTS, POWER_POINTS, interlock_findings, interlock_verdict, power_findings, power_verdict

NAN = math.nan
TIMEOUT = "E2C:TIMEOUT_ERROR: 5002 CAN bus timeout: the node did not answer"
LIM = Limits(False)


def ok(value: float, text: str = "") -> Reading:
    return Reading(float(value), text or str(value))


def healthy() -> dict[str, Reading]:
    r = {f"FEPS.{f}_{rail}": ok(0, "OK") for f in ("TEMP_WARN", "TEMP_ERR", "OVER_VOLT", "OVERLOAD", "UNDER_VOLT", "COMM_FAIL")
         for rail in ("P5", "P6", "P7", "N7", "P9", "P16", "N16", "P25")}  # fmt: skip
    r |= {"FEPS.OUTPUT_STATE": ok(1, "ON"), "FEPS.SYS_INTRLK_A": ok(0, "OK"), "FEPS.SYS_INTRLK_B": ok(0, "OK"),
          "FEPS.V_P7": ok(7.01), "ACU.POWER_FAILURE": ok(0, "OK"), "FEMC.POWERED_MODULES": ok(3)}  # fmt: skip
    r |= {f"FEMC.BAND{b}_ENABLE": ok(1 if b in (3, 6, 7) else 0) for b in range(1, 11)}
    r |= {n: ok(0, "OK") for n in ("FETIM.SHUTDOWN", "FETIM.DELAY_TRIGGERED", "FETIM.SINGLE_FAIL", "FETIM.MULTI_FAIL",
                                   "FETIM.GLITCH_TRIGGERED", "CMPR.FETIM_STATUS_ERROR", "FETIM.COMPRESSOR_INTERLOCK")}  # fmt: skip
    r["FETIM.SAFE_TO_COOL"] = ok(1, "SAFE")
    # every other point the verdicts read, read and unremarkable (one not read is unknown):
    # flags clear, each rail at its nominal voltage (FEPS.V_N7: -7 V)
    return {n: _unremarkable(n) for n in (*POWER_POINTS, *INTERLOCK_POINTS)} | r


def _unremarkable(name: str) -> Reading:
    if name.startswith("FEPS.V_"):
        rail = name.removeprefix("FEPS.V_")
        volts = float(rail[1:]) * (-1 if rail[0] == "N" else 1)
        return ok(volts)
    return ok(0, "OK")


def test_healthy_readings_are_ok():
    assert power_verdict(LIM, healthy())[0] == "ok"
    assert interlock_verdict(healthy())[0] == "ok"


def test_a_feps_flag_names_rail_and_condition():
    r = healthy() | {"FEPS.OVER_VOLT_P7": ok(1, "OVER-VOLTAGE")}
    v, reason, evidence = power_verdict(LIM, r)
    assert (v, reason) == ("alarm", "FEPS +7 V over-voltage") and "FEPS.OVER_VOLT_P7=OVER-VOLTAGE" in evidence
    assert power_verdict(LIM, healthy() | {"FEPS.TEMP_WARN_N16": ok(1)})[:2] == ("warn", "FEPS -16 V temperature warning")
    assert power_verdict(LIM, healthy() | {"FEPS.SYS_INTRLK_B": ok(1)})[:2] == ("alarm", "FEPS system interlock B present")


def test_outputs_off_and_unexpected_values():
    v, reason, _ = power_verdict(LIM, healthy() | {"FEPS.OUTPUT_STATE": ok(0, "OFF")})
    assert v == "alarm" and reason.startswith("front end unpowered (FEPS outputs off)")
    v, reason, _ = power_verdict(LIM, healthy() | {"FEPS.UNDER_VOLT_P5": ok(2)})
    # above the flag's 0.5 alarm bound: an alarm, as the one judgement says (issue 24/25)
    assert v == "alarm" and "FEPS.UNDER_VOLT_P5 reads 2: unexpected value" in reason
    v, reason, _ = power_verdict(LIM, healthy() | {"FEPS.OUTPUT_STATE": ok(2)})
    assert v == "warn" and "FEPS.OUTPUT_STATE reads 2: unexpected value" in reason  # no bound for it: a warn
    v, reason, _ = interlock_verdict(healthy() | {"FETIM.GLITCH_TRIGGERED": ok(7)})
    assert v == "warn" and "unexpected value" in reason


def test_cartridges_the_firmware_rules():
    four = healthy() | {"FEMC.BAND9_ENABLE": ok(1)}
    v, reason, _ = power_verdict(LIM, four)
    assert v == "warn" and "4 cartridges powered" in reason and "allows 3 in operation (10 only in troubleshooting mode)" in reason
    # three on and band 6 in standby-2 is what the firmware allows
    assert power_verdict(LIM, healthy() | {"FEMC.BAND6_ENABLE": ok(2), "FEMC.BAND9_ENABLE": ok(1)})[0] == "ok"
    assert "band 6 only" in power_verdict(LIM, healthy() | {"FEMC.BAND7_ENABLE": ok(2)})[1]
    # all off after an FEMC boot: expected, not a fault
    off = healthy() | {f"FEMC.BAND{b}_ENABLE": ok(0) for b in range(1, 11)} | {"FEMC.POWERED_MODULES": ok(0)}
    v, reason, _ = power_verdict(LIM, off)
    assert v == "ok" and "expected after an FEMC boot" in reason


def test_fetim_sensors_glitch_and_range():
    assert interlock_verdict(healthy() | {"FETIM.SINGLE_FAIL": ok(1)})[:2] == ("warn", "one FETIM sensor failed")
    both = healthy() | {"FETIM.SINGLE_FAIL": ok(1), "FETIM.MULTI_FAIL": ok(1)}
    assert interlock_verdict(both)[:2] == ("alarm", "two or more FETIM sensors failed")
    assert interlock_verdict(healthy() | {"FETIM.GLITCH_TRIGGERED": ok(1)})[:2] == ("warn", "FETIM glitch counter triggered")
    v, reason, _ = interlock_verdict(healthy() | {"FETIM.SHUTDOWN": ok(1)})
    assert v == "alarm" and reason.startswith("front end shut down by the FETIM") and "no public source" in reason


def test_fetim_shutdown_recognised_after_the_fact_only_with_every_condition():
    silent = {n: Reading(NAN, "", "error", TIMEOUT) for n in ("FEMC.TEMP0", "FEMC.BAND3_ENABLE", "FETIM.SHUTDOWN", "FETIM.SAFE_TO_COOL")}
    after = silent | {"CMPR.FETIM_STATUS_ERROR": ok(1, "ERROR")}
    v, reason, _ = interlock_verdict(after, True)
    assert v == "alarm" and "recognised after the fact, inferred" in reason
    unlisted = interlock_verdict(after, False)[1]
    assert "after the fact" not in unlisted and "compressor reports a FETIM status error" in unlisted, "the FEMC must be listed"
    assert interlock_verdict(silent | {"CMPR.FETIM_STATUS_ERROR": ok(0, "OK")}, True)[0] == "unknown"
    one_answers = after | {"FEMC.TEMP0": ok(4.0)}
    assert "after the fact" not in interlock_verdict(one_answers, True)[1]


def test_a_silent_feps_makes_only_its_own_findings_unknown():
    r = healthy() | {n: Reading(NAN, "", "error", TIMEOUT) for n in healthy() if n.startswith("FEPS.")}
    found = power_findings(LIM, r)
    assert [f.level for f in found if f.text.startswith("FEPS did not answer")] == ["unknown"]
    assert power_verdict(LIM, r)[0] == "unknown"
    assert power_verdict(LIM, r | {"FEMC.BAND9_ENABLE": ok(1)})[0] == "warn", "the cartridges are still judged"
    assert not [f for f in interlock_findings(r) if f.level != "ok"], "nor does it touch the interlock"


@pytest.fixture(scope="module")
def power_fault():
    clock = SimClock(rate=None)
    with SimulatedArray(["DV03", "DA41", "DV01"], seed=2026, clock=clock, scenario="power-fault", latency=0.0) as sim:
        clock.advance(minutes=30)
        yield diagnose(array=sim, timeout=0.5).set_index(["antenna", "subsystem"])


def test_power_fault_scenario_is_diagnosed(power_fault):
    d = power_fault
    assert d.at[("DV03", "power"), "verdict"] == "alarm"
    assert d.at[("DV03", "power"), "reason"].startswith("FEPS +7 V over-voltage")
    assert d.at[("DV03", "power"), "rule"] == "feps-fault"
    assert d.at[("DA41", "interlock"), "verdict"] == "alarm"
    assert "front end shut down by the FETIM" in d.at[("DA41", "interlock"), "reason"]
    assert d.at[("DA41", "interlock"), "rule"] == "fetim-shutdown"
    # the FEMC's silence makes only its own findings unknown: the FEPS still judged
    assert d.at[("DA41", "power"), "verdict"] == "unknown" and "cartridge power not read" in d.at[("DA41", "power"), "reason"]
    assert (d.loc["DV01"]["verdict"] == "ok").all(), d.loc["DV01"].to_string()


def test_front_end_unpowered_after_an_outage():
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=3, clock=clock, scenario="outage", latency=0.0) as sim:
        clock.advance(hours=6)
        d = diagnose(array=sim, timeout=0.5).set_index("subsystem")
    assert d.at["power", "verdict"] == "alarm"
    assert "front end unpowered (FEPS outputs off)" in d.at["power", "reason"]


def test_health_group_lists_every_node_and_a_growing_can_error_count_warns(fresh_sim, tmp_path):
    """Two logger cycles of the dynamic health group: LRUs with no public RCA table (PSA,
    PSD, IFProc, DTX) show alive, errors and temperature; a count that grows is a warn."""
    import e2ckit
    from e2ckit.triage.power import can_error_growth

    sim = fresh_sim(["DV01"])
    clock = sim.clock  # the simulator's stepped clock: a new cycle is a new reading
    wide = e2ckit.sweep("health", array=sim)
    for name in ("PSA[0x60].CAN_ERROR", "PSD[0x61].AMBIENT_TEMP", "IFProc[0x29].TRANS_NUM", "DTX[0x50].CAN_ERROR"):
        assert name in wide.columns and not wide.isna().loc["DV01", name], name
    assert {"DTX[0x50].SW_REV", "FEPS[0x26].HW_REV", "WVR[0x24].PROTOCOL_REV"} <= set(wide.columns)
    e2ckit.Logger("health", array=sim, interval=60, path=tmp_path, clock=clock).run(cycles=1)
    psd = sim.models["DV01"].lrus[(0, 0x61)]
    psd.can_errors += 3  # the PSD's CAN errors grow between the two cycles
    clock.advance(60)
    e2ckit.Logger("health", array=sim, interval=60, path=tmp_path, clock=clock).run(cycles=1)
    grown = can_error_growth(e2ckit.load(tmp_path))
    assert grown[["antenna", "point", "limit"]].values.tolist() == [["DV01", "PSD[0x61].CAN_ERROR", "warn"]]
    assert grown.iloc[0]["after"] - grown.iloc[0]["before"] == 3
    # alarms() over the log shows it as a warn episode, and nothing else of the health group
    episodes = e2ckit.alarms(e2ckit.load(tmp_path))
    grew = episodes[episodes["point"] == "PSD[0x61].CAN_ERROR"]
    assert grew[["antenna", "limit"]].values.tolist() == [["DV01", "warn"]] and "grew" in grew.iloc[0]["reason"]
    assert not episodes["point"].str.endswith(".CAN_ERROR").drop(grew.index).any()
    # two reads of a watch
    before = e2ckit.sweep("health", array=sim, tidy=True)
    sim.models["DV01"].lrus[(1, 0x26)].can_errors += 1
    clock.advance(60)
    assert can_error_growth(before, e2ckit.sweep("health", array=sim, tidy=True))["point"].tolist() == ["FEPS[0x26].CAN_ERROR"]
    assert can_error_growth(before, before).empty
    with pytest.raises(TypeError, match="tidy rows"):
        can_error_growth(wide)


def test_tools_power_table(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from e2ckit.cli import EXIT_ALARM, EXIT_BAD_INPUT, EXIT_OK, app

    clock = SimClock(rate=None)
    with SimulatedArray(["DV03", "DA41", "DV01"], seed=1, clock=clock, scenario="power-fault", latency=0.0) as sim:
        clock.advance(minutes=30)
        monkeypatch.setenv("E2CKIT_ARRAY", str(sim.write_array(tmp_path / "array.csv")))
        run = CliRunner().invoke
        r = run(app, ["tools", "power", "--all", "-f", "json"], catch_exceptions=False)
        assert r.exit_code == EXIT_ALARM, r.output  # DV03 tripped (DA41's FEMC does not answer either)
        rows = {row["antenna"]: row for row in json.loads(r.stdout)}
        assert (rows["DV03"]["outputs"], rows["DV03"]["flags"], rows["DV03"]["verdict"]) == ("OFF", "+7 V over-voltage", "alarm")
        assert rows["DA41"]["fetim"] == "SHUT DOWN" and rows["DA41"]["bands"] == "no answer"
        assert (rows["DV01"]["bands"], rows["DV01"]["rails"], rows["DV01"]["cool"], rows["DV01"]["verdict"]) == ("3,6,7", "8/8 ok", "yes", "ok")
        r = run(app, ["tools", "power", "--host", "DV01"], catch_exceptions=False)
        assert r.exit_code == EXIT_OK and "verdict" in r.stdout and "Traceback" not in r.output
        r = run(app, ["tools", "power", "--all", "--host", "DV01"], catch_exceptions=False)
        assert r.exit_code == EXIT_BAD_INPUT and "not both" in r.stderr


def test_a_flag_byte_of_2_is_the_same_alarm_in_a_sweep_alarms_and_diagnose(fresh_sim):
    """The one judgement decides: a FEPS flag reading 2 is above its catalog bound (alarm
    0.5); diagnose's "unexpected value" finding says so at the same level."""
    import e2ckit

    sim = fresh_sim(["DV01"], serve=False, latency=0.0)
    sim.models["DV01"].inject(sim.clock.now(), "FEPS.UNDER_VOLT_P5", 2)
    df = e2ckit.sweep(["FEPS.UNDER_VOLT_P5"], "DV01", array=sim, tidy=True)
    assert df["limit"].tolist() == ["alarm"]
    assert e2ckit.alarms(df)["limit"].tolist() == ["alarm"]
    d = diagnose("DV01", array=sim).set_index("subsystem")
    assert d.at["power", "verdict"] == "alarm"
    assert d.at["power", "reason"] == "FEPS.UNDER_VOLT_P5 reads 2: unexpected value (expected 0 or 1)"
