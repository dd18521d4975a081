"""The simulated LRUs behave as the public firmware does (issue #17), one node object each.

FEMC rules from morganmcleod/ALMA-FEMC (``arcom_fe_mc/``), compressor rules from
morganmcleod/ALMA-COMPRESSOR-AMBSI1 (``src/main.c``); see shared/e2c-protocol.md §7–§8.
Requests go straight to ``model.handle`` on a stepped clock (no sockets).
"""

from __future__ import annotations

import struct

import pytest

from e2ckit.catalog import default_catalog
from e2ckit.sim.lru import AcuNode, AmbsiNode, CmprNode, E2cNode, FemcNode, FepsNode, LorrNode
from e2ckit.sim.model import AntennaModel
from e2ckit.sim.physics import MIN_OFF_S, Physics, PhysicsParams
from e2ckit.wire.frames import Mode, Request

H = 3600.0


@pytest.fixture
def cat():
    return default_catalog()


def mon(m, point, cat):
    p = cat.point(point)
    return m.handle(Request(p.channel_for(m.name), p.node, p.rca))


def ctl(m, point, value, cat):
    p = cat.point(point)
    m.handle(Request(p.channel_for(m.name), p.node, p.rca, Mode.CONTROL, bytes([value])))
    return m.controls[-1]


def status(reply) -> int:
    return struct.unpack("b", reply.data[-1:])[0]


def test_one_node_object_per_lru(clock):
    m = AntennaModel("DV01", clock=clock)
    kinds = {key: type(n) for key, n in m.lrus.items()}
    assert kinds[(1, 0x13)] is FemcNode and kinds[(2, 0x25)] is CmprNode
    assert kinds[(2, 0x00)] is AcuNode and kinds[(0, 0x22)] is LorrNode
    assert kinds[(1, 0x26)] is FepsNode and kinds[(5, 0x16)] is E2cNode
    assert kinds[(0, 0x29)] is AmbsiNode, "an LRU with no public points: a plain AMBSI"
    assert AntennaModel("CM01", clock=clock).lrus[(3, 0x25)].__class__ is CmprNode


def test_coldhead_hours_need_two_of_three_stages_below_265k():
    """Firmware cryostat.c: +1 h while at least two of TEMP0, TEMP5, TEMP9 are below 265 K.
    A cooler holding only the 4K stage cold (15K and 110K stages at 270/280 K) counts nothing."""
    one_cold = Physics(PhysicsParams(cold_k=(3.0, 270.0, 280.0)), 0.0)
    two_cold = Physics(PhysicsParams(cold_k=(3.0, 14.0, 280.0)), 0.0)
    assert one_cold.state(10 * H).cold_seconds == 0.0
    assert two_cold.state(10 * H).cold_seconds == pytest.approx(10 * H)


def test_coldhead_hours_are_u16_and_wrap(clock, cat):
    m = AntennaModel("DV01", clock=clock)
    m.physics = m.physics.with_params(coldhead_hours0=65535.5)
    reply = mon(m, "FEMC.COLDHEAD_HOURS", cat)
    assert reply.data == b"\xff\xff\x00", "u16 big-endian + status byte: 3 bytes"
    clock.advance(H)
    reply = mon(m, "FEMC.COLDHEAD_HOURS", cat)
    assert reply.data == b"\x00\x00\x00", "65,535 h + 1 wraps to 0"
    assert cat.point("FEMC.COLDHEAD_HOURS").decode(reply.data).value == 0


def test_solenoid_reports_blocked_when_read_back_differs(clock, cat):
    m = AntennaModel("DV01", clock=clock)
    assert status(mon(m, "FEMC.SOLENOID_VALVE", cat)) == 0, "closed and commanded closed"
    assert ctl(m, "FEMC.SET_BACKING_PUMP", 1, cat).accepted
    clock.advance(1)
    assert ctl(m, "FEMC.SET_SOLENOID_VALVE", 1, cat).accepted
    clock.advance(1)
    assert mon(m, "FEMC.SOLENOID_VALVE", cat).data == b"\x01\x00"
    ctl(m, "FEMC.SET_BACKING_PUMP", 0, cat)  # its power goes: the valve closes, command stays
    clock.advance(1)
    assert mon(m, "FEMC.SOLENOID_VALVE", cat).data == b"\x00\xfd", "read-back 0 ≠ command 1: −3"


@pytest.mark.parametrize("celsius, ok", [(5.0, False), (10.0, True), (30.0, True), (45.0, True), (46.0, False)])
def test_turbo_start_needs_fetim_turbo_temperature_in_range(clock, cat, celsius, ok):
    m = AntennaModel("DV01", clock=clock)
    ctl(m, "FEMC.SET_BACKING_PUMP", 1, cat)
    clock.advance(1)
    m.set_fetim_turbo_temp(celsius)
    rec = ctl(m, "FEMC.SET_TURBO_PUMP", 1, cat)
    assert rec.accepted is ok
    if not ok:
        assert "FETIM turbo temperature" in rec.reason and "10-45" in rec.reason


def test_maintenance_mode_answers_the_status_byte_alone(clock, cat):
    """can.c: in maintenance mode a standard monitor request gets CAN_STATUS = −3 appended
    to an empty payload (one byte), and controls are dropped."""
    m = AntennaModel("DV01", clock=clock)
    m.set_maintenance_mode(True)
    reply = mon(m, "FEMC.TEMP0", cat)
    assert reply.ok and reply.data == b"\xfd"
    d = cat.point("FEMC.TEMP0").decode(reply.data)
    assert d.value is None and d.status.startswith("blocked") and "maintenance" in d.status
    assert len(m.handle(Request(1, 0x13, 0x30000)).data) == 3, "the AMBSI still answers"
    rec = ctl(m, "FEMC.SET_BACKING_PUMP", 1, cat)
    assert not rec.accepted and "maintenance" in rec.reason
    m.set_maintenance_mode(False)
    assert len(mon(m, "FEMC.TEMP0", cat).data) == 5


def test_async_monitoring_off_blocks_what_it_refreshes(clock, cat):
    m = AntennaModel("DV01", clock=clock)
    m.set_async_monitoring(False)
    for point in ("FEMC.TEMP0", "FEMC.TEMP12", "FEMC.CRYOSTAT_PRESSURE", "FEMC.COLDHEAD_HOURS"):
        reply = mon(m, point, cat)
        assert status(reply) == -3 and len(reply.data) == cat.point(point).reply_size, point
    assert status(mon(m, "FEMC.BACKING_PUMP", cat)) == 0, "a switch state is not refreshed by it"


def test_compressor_node_reset_restarts_its_timers(clock, cat):
    """main.c: lastOnSec = lastOffSec = 0 at boot; the counters count from the node's boot."""
    m = AntennaModel("DV01", clock=clock)
    assert m.peek("CMPR.TIME_SINCE_POWER_ON") == 0xFFFFFFFF
    m.handle(Request(2, 0x25, 0x31000, Mode.CONTROL, b"\x01"))
    clock.advance(30)
    assert m.peek("CMPR.TIME_SINCE_POWER_ON") == 30 and m.peek("CMPR.TIME_SINCE_POWER_OFF") == 30
    clock.advance(MIN_OFF_S)
    assert m.peek("CMPR.TIME_SINCE_POWER_OFF") == 0xFFFFFFFF


def test_scenario_steps_set_the_femc_modes(clock, cat):
    from e2ckit.sim.scenario import Scenario

    sc = Scenario.from_dict(
        {
            "steps": [
                {"at": "10m", "antennas": ["DV01"], "action": "femc_mode", "maintenance": True},
                {"at": "20m", "antennas": ["DV01"], "action": "femc_mode", "maintenance": False, "async_monitoring": False},
                {"at": "5m", "antennas": ["DV01"], "action": "fetim_turbo_temp", "celsius": 50},
            ]
        }
    )
    m = AntennaModel("DV01", clock=clock)
    sc.apply({"DV01": m}, clock)
    assert [w for _, _, w in sc.timeline()] == [
        "fetim_turbo_temp 50 °C", "femc_mode maintenance=True", "femc_mode maintenance=False async_monitoring=False",
    ]
    clock.advance(11 * 60)
    assert mon(m, "FEMC.TEMP0", cat).data == b"\xfd"
    clock.advance(10 * 60)
    assert len(mon(m, "FEMC.TEMP0", cat).data) == 5 and status(mon(m, "FEMC.TEMP0", cat)) == -3
    ctl(m, "FEMC.SET_BACKING_PUMP", 1, cat)
    clock.advance(1)
    assert "FETIM" in ctl(m, "FEMC.SET_TURBO_PUMP", 1, cat).reason
    with pytest.raises(ValueError, match="needs 'maintenance' or 'async_monitoring'"):
        Scenario.from_dict({"steps": [{"at": 0, "antennas": "all", "action": "femc_mode"}]})
