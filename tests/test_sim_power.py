"""Issue 23 item 3: the simulated FEPS, FETIM and cartridge power (model level, stepped clock).

What is sourced is checked against the firmware's rules (§12-§14) written out here; what is
inferred (outputs off after an outage, FEMC answering while they are off) is what the
simulator documents, and these tests pin it so a change is a decision."""

from __future__ import annotations

import pytest

from e2ckit.catalog import default_catalog
from e2ckit.errors import ErrorCode
from e2ckit.sim.model import AntennaModel
from e2ckit.sim.scenario import Scenario, load_scenario
from e2ckit.wire.frames import Mode, Request

CAT = default_catalog()
H = 3600.0


def read(m, point):
    p = CAT.point(point)
    reply = m.handle(Request(p.channel_for(m.name), p.node, p.rca))
    if reply.error:
        return ErrorCode(reply.error)
    return p.decode(reply.data).value


def ctl(m, point, value):
    p = CAT.point(point)
    m.handle(Request(p.channel_for(m.name), p.node, p.rca, Mode.CONTROL, bytes([value])))
    return m.controls[-1]


def test_outputs_stay_off_after_an_outage_until_enabled(clock):
    m = AntennaModel("DV01", clock=clock)
    assert read(m, "FEPS.OUTPUT_STATE") == 1 and read(m, "FEPS.V_P7") == pytest.approx(7.0, rel=0.02)
    t0 = clock.now()
    m.power_off(t0 + 60)
    m.power_on(t0 + 120)
    clock.advance(600)
    assert read(m, "FEPS.OUTPUT_STATE") == 0
    assert abs(read(m, "FEPS.V_P7")) < 0.05 and abs(read(m, "FEPS.V_N16")) < 0.05
    # cartridges come up off after the FEMC boot, and the FEMC answers (inferred choice)
    assert [read(m, f"FEMC.BAND{b}_ENABLE") for b in range(1, 11)] == [0] * 10
    assert read(m, "FEMC.POWERED_MODULES") == 0
    rec = ctl(m, "FEPS.SET_ENABLE_PWR", 1)
    assert rec.accepted and rec.point == "FEPS.SET_ENABLE_PWR"
    clock.advance(10)  # the FEControl test fixture waits 10 s before reading
    assert read(m, "FEPS.OUTPUT_STATE") == 1 and read(m, "FEPS.V_P7") == pytest.approx(7.0, rel=0.02)


def test_cartridge_enable_rules(clock):
    m = AntennaModel("DV01", clock=clock)
    m.power_off(clock.now() + 1)
    m.power_on(clock.now() + 2)
    clock.advance(5)
    ctl(m, "FEPS.SET_ENABLE_PWR", 1)
    clock.advance(10)
    assert read(m, "FEMC.BAND3_P15V_VOLTAGE") == 0.0, "off: no voltage"
    for band in (3, 7, 9):
        assert ctl(m, f"FEMC.SET_BAND{band}_ENABLE", 1).accepted
    clock.advance(1)
    assert read(m, "FEMC.POWERED_MODULES") == 3
    assert read(m, "FEMC.BAND3_P15V_VOLTAGE") == pytest.approx(15.0, rel=0.02)
    fourth = ctl(m, "FEMC.SET_BAND1_ENABLE", 1)
    assert not fourth.accepted and "at most 3" in fourth.reason
    not6 = ctl(m, "FEMC.SET_BAND7_ENABLE", 2)
    assert not not6.accepted and "band 6 only" in not6.reason
    assert ctl(m, "FEMC.SET_BAND6_ENABLE", 2).accepted, "a fourth cartridge in standby-2 is allowed"
    clock.advance(1)
    assert read(m, "FEMC.BAND6_ENABLE") == 2 and read(m, "FEMC.POWERED_MODULES") == 3
    assert not ctl(m, "FEMC.SET_BAND6_ENABLE", 1).accepted, "standby-2 to on: a fourth on"
    assert not ctl(m, "FEMC.SET_BAND2_ENABLE", 5).accepted
    assert ctl(m, "FEMC.SET_BAND9_ENABLE", 0).accepted
    assert ctl(m, "FEMC.SET_BAND6_ENABLE", 1).accepted
    clock.advance(1)
    assert [read(m, f"FEMC.BAND{b}_ENABLE") for b in (3, 6, 7, 9)] == [1, 1, 1, 0]


def test_safe_to_cool_follows_cryostat_pressure(clock):
    m = AntennaModel("DV01", clock=clock)
    assert read(m, "FETIM.SAFE_TO_COOL") == 1
    m.start_leak(clock.now(), 0.05)
    clock.advance(2 * H)
    assert m.state().p_cryo > 5e-4
    assert read(m, "FETIM.SAFE_TO_COOL") == 0
    temps = [read(m, f"FETIM.INT_TEMP{k}") for k in range(1, 6)]
    assert all(10 < t < 45 for t in temps)
    # every internal temperature is a reading the firmware's 8-bit formula can give
    assert all(((t + 20) * 256 / 80) == round((t + 20) * 256 / 80) for t in temps)


def test_fetim_shutdown_silences_the_femc_not_its_ambsi(clock):
    m = AntennaModel("DA41", clock=clock)
    assert read(m, "CMPR.FETIM_STATUS_ERROR") == 0 and read(m, "CMPR.DRIVE") == 1
    m.inject(clock.now() + 10, "FETIM.SHUTDOWN", 1)
    clock.advance(20)
    for point in ("FEMC.TEMP0", "FETIM.SHUTDOWN", "FEMC.BAND6_ENABLE", "FEMC.CRYOSTAT_PRESSURE"):
        assert read(m, point) is ErrorCode.TIMEOUT_ERROR, point
    assert read(m, "FEPS.OUTPUT_STATE") == 1, "the FEPS is another node"
    assert m.handle(Request(1, 0x13, 0x30002)).error == 0, "the FEMC's AMBSI still answers"
    assert 0x13 in [n.node for n in m.nodes(1)], "and get-nodes lists it"
    assert read(m, "CMPR.FETIM_STATUS_ERROR") == 1 and read(m, "CMPR.DRIVE") == 0
    assert not ctl(m, "FEMC.SET_BACKING_PUMP", 1).accepted


def test_feps_trip_drops_outputs_and_blocks_enable_until_cleared(clock):
    m = AntennaModel("DV03", clock=clock)
    m.inject(clock.now() + 1, "FEPS.OVER_VOLT_P7", 1)
    clock.advance(5)
    assert read(m, "FEPS.OVER_VOLT_P7") == 1 and read(m, "FEPS.OVER_VOLT_P6") == 0
    assert read(m, "FEPS.OUTPUT_STATE") == 0
    refused = ctl(m, "FEPS.SET_ENABLE_PWR", 1)
    assert not refused.accepted and "FEPS.OVER_VOLT_P7" in refused.reason
    m.inject(clock.now(), "FEPS.OVER_VOLT_P7", None)
    clock.advance(1)
    assert ctl(m, "FEPS.SET_ENABLE_PWR", 1).accepted


def test_power_fault_scenario(clock):
    models = {n: AntennaModel(n, clock=clock) for n in ("DV03", "DA41", "DV01")}
    load_scenario("power-fault").apply(models, clock)
    clock.advance(30 * 60)
    assert read(models["DV03"], "FEPS.OVER_VOLT_P7") == 1 and read(models["DV03"], "FEPS.OUTPUT_STATE") == 0
    assert read(models["DA41"], "FEMC.TEMP0") is ErrorCode.TIMEOUT_ERROR
    assert read(models["DA41"], "CMPR.FETIM_STATUS_ERROR") == 1
    assert read(models["DV01"], "FEPS.OUTPUT_STATE") == 1 and read(models["DV01"], "FETIM.SHUTDOWN") == 0
    clock.advance(20 * 60)  # cleared at 40 min, enabled at 45 min
    assert read(models["DV03"], "FEPS.OVER_VOLT_P7") == 0 and read(models["DV03"], "FEPS.OUTPUT_STATE") == 1
    assert models["DV03"].controls[-1].accepted


def test_flag_step_needs_a_point_and_names_an_unknown_one(clock):
    with pytest.raises(ValueError, match=r"point: missing \(the flag action needs it\)"):
        Scenario.from_dict({"steps": [{"at": "1m", "antennas": ["DV01"], "action": "flag"}]})
    m = AntennaModel("DV01", clock=clock)
    with pytest.raises(ValueError, match="FEPS.NOPE"):
        m.inject(clock.now(), "FEPS.NOPE", 1)
    with pytest.raises(ValueError, match="cannot be injected"):
        m.inject(clock.now(), "FEPS.SET_ENABLE_PWR", 1)
