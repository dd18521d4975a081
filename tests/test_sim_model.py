"""The simulated antenna answers like an E2C: inventory, error codes, values, controls, resets.

No sockets here (the server has its own tests): requests go straight to ``model.handle`` on a
stepped clock, so every test is deterministic and fast.
"""

from __future__ import annotations

import struct

import pytest

from e2ckit.catalog import ds18s20_encode
from e2ckit.errors import ErrorCode
from e2ckit.clock import SimClock
from e2ckit.sim.model import AntennaModel, esn_crc8, make_esn
from e2ckit.sim.physics import MIN_OFF_S, MIN_ON_S
from e2ckit.sim.scenario import Scenario, list_scenarios, load_scenario
from e2ckit.wire.frames import Mode, Request, decode_reply

FEMC, CMPR, E2C = 0x13, 0x25, 0x16
H = 3600.0


@pytest.fixture
def catalog():
    try:
        from e2ckit.catalog import default_catalog
    except ImportError:
        pytest.skip("the catalog (e2ckit.catalog) is not there yet")
    return default_catalog()


def model(clock, catalog, name="DV01", seed=0):
    return AntennaModel(name, seed=seed, clock=clock, catalog=catalog)


def mon(m, point, catalog):
    p = catalog.point(point)
    return m.handle(Request(p.channel_for(m.name), p.node, p.rca))


def ctl(m, point, value, catalog):
    p = catalog.point(point)
    reply = m.handle(Request(p.channel_for(m.name), p.node, p.rca, Mode.CONTROL, bytes([value])))
    return reply, m.controls[-1]


def femc_status(reply) -> int:
    return struct.unpack("b", reply.data[-1:])[0]


def trans_num(m, channel, node) -> int:
    return struct.unpack(">I", m.handle(Request(channel, node, 0x30002)).data)[0]


# -- inventory and error codes ---------------------------------------------------------


@pytest.mark.parametrize("name, cmpr_channel", [("DV01", 2), ("DA41", 2), ("CM03", 3), ("PM02", 3)])
def test_get_nodes_inventory(clock, catalog, name, cmpr_channel):
    m = model(clock, catalog, name)
    listed = {ch: [r.node for r in m.handle(Request(ch, 0, 0, Mode.GET_NODES)).nodes] for ch in range(6)}
    assert CMPR in listed[cmpr_channel], "§6: compressor on 2 for DA/DV, 3 for CM/PM"
    assert FEMC in listed[1]
    assert listed[5] == [E2C], "the E2C's own node 0x16 on channel 5"
    for ch, node, _ in catalog.expected_inventory(name):
        assert node in listed[ch]
    for recs in listed.values():
        assert recs == sorted(recs)
    rec = m.nodes(1)[0]
    assert rec.esn[0] == 0x10 and esn_crc8(rec.esn[:7]) == rec.esn[7], "1-wire ESN with CRC-8"


def test_error_codes(clock, catalog):
    m = model(clock, catalog)
    assert m.handle(Request(6, FEMC, 0xC000)).error == ErrorCode.BADCHAN_ERROR
    assert m.handle(Request(6, 0, 0, Mode.GET_NODES)).error == ErrorCode.BADCHAN_ERROR
    assert m.handle(Request(1, 0x55, 0xC000)).error == ErrorCode.TIMEOUT_ERROR, "absent node"
    assert m.handle(Request(0, FEMC, 0xC000)).error == ErrorCode.TIMEOUT_ERROR, "wrong channel"
    assert m.handle(Request(1, FEMC, 0x01234)).error == ErrorCode.TIMEOUT_ERROR, "unknown RCA"
    empty = m.handle(Request(4, 0, 0, Mode.GET_NODES))
    assert empty.ok and empty.nodes == ()


def test_set_error_and_missing(clock, catalog):
    m = model(clock, catalog)
    m.set_error("FEMC.TEMP0", ErrorCode.CANREAD_ERROR)
    assert mon(m, "FEMC.TEMP0", catalog).error == ErrorCode.CANREAD_ERROR
    assert mon(m, "FEMC.TEMP1", catalog).ok
    m.set_error("FEMC.TEMP0", None)
    assert mon(m, "FEMC.TEMP0", catalog).ok
    m.set_missing("FEPS")
    assert 0x26 not in [r.node for r in m.nodes(1)]
    assert m.handle(Request(1, 0x26, 0x30003)).error == ErrorCode.TIMEOUT_ERROR
    m.set_missing(0x26, False)
    assert 0x26 in [r.node for r in m.nodes(1)]


# -- values ----------------------------------------------------------------------------


def test_nominal_values_via_catalog(clock, catalog):
    m = model(clock, catalog)
    r = mon(m, "FEMC.TEMP0", catalog)
    assert r.ok and femc_status(r) == 0
    value = struct.unpack(">f", r.data[:4])[0]
    assert value == pytest.approx(m.peek("FEMC.TEMP0"), rel=1e-6)
    assert 2.5 < value < 4.2
    assert 1e-7 <= m.peek("FEMC.CRYOSTAT_PRESSURE") <= 1e-6
    assert m.peek("CMPR.DRIVE") == 1
    assert m.peek("CMPR.TIME_SINCE_POWER_ON") == 0xFFFFFFFF
    assert mon(m, "CMPR.TIME_SINCE_POWER_OFF", catalog).data == b"\xff\xff\xff\xff"


@pytest.mark.parametrize("name", ["DV01", "CM03"])
def test_every_catalog_point_decodes_to_what_peek_says(clock, catalog, name):
    m = model(clock, catalog, name)
    blocked = {"FEMC.TURBO_PUMP", "FEMC.TURBO_STATE", "FEMC.TURBO_SPEED", "FEMC.SUPPLY_CURRENT_230V"}
    count = 0
    for p in catalog.points.values():
        if p.kind != "monitor" or p.template:
            continue
        reply = m.handle(Request(p.channel_for(name), p.node, p.rca))
        assert reply.ok and 1 <= len(reply.data) <= 8, p.name
        d = p.decode(reply.data)
        if p.name in blocked:
            assert d.value is None and "-3" in d.status, "§7: 253 while the backing pump is off"
            continue
        assert d.status == "ok" and d.note is None or "elapsed" in (d.note or ""), (p.name, d)
        want = m.peek(p.name)
        if isinstance(want, float) and d.value is not None:
            assert d.value == pytest.approx(want, rel=1e-5, abs=0.006), p.name
        if d.value is not None:
            assert p.limit_state(d.value) != "alarm", f"{p.name} alarms on a nominal antenna: {d.text}"
        count += 1
    assert count >= 70


def test_generic_ambsi_points(clock, catalog):
    m = model(clock, catalog)
    for ch in range(6):
        for rec in m.nodes(ch):
            sn = m.handle(Request(ch, rec.node, 0x00000))
            assert sn.ok and sn.data == rec.esn, "RCA 0 returns the ESN get-nodes lists"
            amb = m.handle(Request(ch, rec.node, 0x30003)).data
            assert len(amb) == 4
            big = amb[0] in (0x00, 0xFF)  # the published client's rule (§5)
            temp, remain, per_c = struct.unpack(">hBB" if big else "<hBB", amb)
            celsius = (temp >> 1) - 0.25 + (per_c - remain) / per_c
            assert 25.0 <= celsius <= 45.0
            assert celsius == pytest.approx(m.peek("AMBIENT_TEMP", node=rec.node, channel=ch), abs=0.07)
            for rca in (0x30000, 0x30001, 0x30002, 0x30004, 0x30005):
                assert m.handle(Request(ch, rec.node, rca)).ok


def test_ds18s20_round_trip():
    for c in (25.0, 27.3, 31.55, 44.94, 38.5):
        for le in (False, True):
            b = ds18s20_encode(c, little_endian=le)
            big = b[0] in (0x00, 0xFF)
            assert big == (not le)
            temp, remain, per_c = struct.unpack(">hBB" if big else "<hBB", b)
            assert (temp >> 1) - 0.25 + (per_c - remain) / per_c == pytest.approx(c, abs=1 / 32)


def test_esn_known_crc():
    assert esn_crc8(bytes.fromhex("10DA0704010800")) == 0x72  # a real ESN, 0x10DA070401080072
    assert make_esn("DV01", 1, 0x13, 0) == make_esn("DV01", 1, 0x13, 0) != make_esn("DV02", 1, 0x13, 0)


# -- determinism -----------------------------------------------------------------------


def sweep_bytes(name, seed, catalog):
    clock = SimClock(rate=None)
    m = model(clock, catalog, name, seed)
    m.power_off(clock.now() + 100)
    out = []
    for step in (0.0, 50.0, 3600.0, 7200.0):
        clock.advance(step)
        for point in ("FEMC.TEMP0", "FEMC.TEMP5", "FEMC.TEMP9", "FEMC.CRYOSTAT_PRESSURE", "CMPR.SUPPLY_PRESSURE"):
            out.append(m._peek(point, None, None))
    return out


def test_same_seed_same_bytes(catalog):
    assert sweep_bytes("DV01", 1, catalog) == sweep_bytes("DV01", 1, catalog)
    assert sweep_bytes("DV01", 1, catalog) != sweep_bytes("DV01", 2, catalog)


# -- power cycles and resets -----------------------------------------------------------


def test_outage_silences_and_reboots(clock, catalog):
    m = model(clock, catalog)
    before = trans_num(m, 1, FEMC)
    assert before > 10_000, "nodes up for days at the start (simulated)"
    m.power_off(clock.now() + 10)
    clock.advance(20)
    assert not m.powered()
    assert m.handle(Request(1, FEMC, 0xC000)).error == ErrorCode.TIMEOUT_ERROR
    t_off = clock.now()
    m.power_on(t_off + 2 * H)
    clock.advance(2 * H + 5)
    assert m.powered()
    after = trans_num(m, 1, FEMC)
    assert after < 100, "§5: transaction counter restarts near 0 after a power cycle"
    assert trans_num(m, 1, FEMC) == after + 1, "each request is a transaction"
    assert m.peek("CMPR.DRIVE") == 0, "§10.2: drive 0 until commanded"
    assert m.peek("CMPR.TIME_SINCE_POWER_ON") < MIN_ON_S
    clock.advance(MIN_ON_S)
    assert m.peek("CMPR.TIME_SINCE_POWER_ON") == 0xFFFFFFFF, "§8: 0xFFFFFFFF after 180 s"
    # §8 (compressor firmware main.c: lastOffSec = 0 at boot): the off counter counts from
    # the node's boot, not from the mains going off two hours ago
    assert m.peek("CMPR.TIME_SINCE_POWER_OFF") == 185
    reply, rec = ctl(m, "CMPR.SET_DRIVE", 1, catalog)
    assert not rec.accepted and "minimum-off" in rec.reason and "boot" in rec.reason
    clock.advance(MIN_OFF_S - 185)
    assert m.peek("CMPR.TIME_SINCE_POWER_OFF") == 0xFFFFFFFF, "§8: 0xFFFFFFFF after 420 s"
    t1 = m.peek("FEMC.TEMP0")
    clock.advance(H)
    assert m.peek("FEMC.TEMP0") > t1 > 20.0, "keeps warming until recovered"


def test_reset_mode_reboots_one_node(clock, catalog):
    m = model(clock, catalog)
    femc, lorr = trans_num(m, 1, FEMC), trans_num(m, 0, 0x22)
    assert m.handle(Request(1, FEMC, 0, Mode.RESET)).ok
    clock.advance(1)
    assert trans_num(m, 1, FEMC) < 100 < femc
    assert trans_num(m, 0, 0x22) > lorr
    assert m.handle(Request(1, FEMC, 0x31000, Mode.CONTROL, b"\x01")).ok
    assert m.controls[-1].accepted and "reset" in m.controls[-1].reason.lower()


# -- controls --------------------------------------------------------------------------


def test_pump_and_valve_interlocks(clock, catalog):
    m = model(clock, catalog)
    for point in ("FEMC.TURBO_PUMP", "FEMC.TURBO_STATE", "FEMC.TURBO_SPEED", "FEMC.SUPPLY_CURRENT_230V"):
        assert femc_status(mon(m, point, catalog)) == -3, f"§7: {point} 253 while backing pump off"
    reply, rec = ctl(m, "FEMC.SET_TURBO_PUMP", 1, catalog)
    assert reply.ok and reply.data == b"" and not rec.accepted, "turbo needs the backing pump"
    assert rec.point == "FEMC.SET_TURBO_PUMP" and "backing pump is off" in rec.reason
    # firmware gateValve.c / solenoidValve.c: the backing pump powers the valve electronics
    for valve in ("FEMC.SET_GATE_VALVE", "FEMC.SET_SOLENOID_VALVE"):
        rec = ctl(m, valve, 1, catalog)[1]
        assert not rec.accepted and "backing pump is off" in rec.reason, valve
    assert ctl(m, "FEMC.SET_BACKING_PUMP", 1, catalog)[1].accepted
    clock.advance(1)
    assert femc_status(mon(m, "FEMC.TURBO_PUMP", catalog)) == 0
    assert ctl(m, "FEMC.SET_TURBO_PUMP", 1, catalog)[1].accepted
    clock.advance(30)
    assert m.peek("FEMC.TURBO_SPEED") == 0
    # no firmware rule ties the gate valve to the turbo's speed (§7): it opens now
    assert ctl(m, "FEMC.SET_GATE_VALVE", 1, catalog)[1].accepted
    assert m.peek("FEMC.GATE_VALVE") == 2, "moving"
    rec = ctl(m, "FEMC.SET_GATE_VALVE", 0, catalog)[1]
    assert not rec.accepted and "unknown" in rec.reason, "§7: refused while it reads unknown"
    clock.advance(150)
    assert m.peek("FEMC.TURBO_SPEED") == 1, "§10.6: turbo at speed in ~2 min"
    assert m.peek("FEMC.GATE_VALVE") == 1
    ctl(m, "FEMC.SET_BACKING_PUMP", 0, catalog)
    clock.advance(1)
    assert m.peek("FEMC.GATE_VALVE") in (0, 2) and m.peek_status("FEMC.TURBO_SPEED") == -3


def test_compressor_windows(clock, catalog):
    m = model(clock, catalog)
    assert ctl(m, "CMPR.SET_DRIVE", 0, catalog)[1].accepted, "running long since: may stop"
    clock.advance(1)
    assert m.peek("CMPR.DRIVE") == 0
    assert m.peek("CMPR.TIME_SINCE_POWER_OFF") < MIN_OFF_S
    rec = ctl(m, "CMPR.SET_DRIVE", 1, catalog)[1]
    assert not rec.accepted and "minimum-off" in rec.reason, "§8: ignored inside 420 s"
    clock.advance(MIN_OFF_S)
    assert m.peek("CMPR.TIME_SINCE_POWER_OFF") == 0xFFFFFFFF
    assert ctl(m, "CMPR.SET_DRIVE", 1, catalog)[1].accepted
    clock.advance(10)
    assert m.peek("CMPR.DRIVE") == 1
    rec = ctl(m, "CMPR.SET_DRIVE", 0, catalog)[1]
    assert not rec.accepted and "minimum-on" in rec.reason, "§8: ignored inside 180 s"
    clock.advance(MIN_ON_S)
    assert ctl(m, "CMPR.SET_DRIVE", 0, catalog)[1].accepted


def test_drive_refused_while_cryostat_pressure_high(clock, catalog):
    m = model(clock, catalog)
    m.power_off(clock.now())
    m.power_on(clock.now() + 6 * H)
    clock.advance(6 * H + MIN_OFF_S + 60)  # past the minimum-off window after the boot
    assert m.peek("FEMC.CRYOSTAT_PRESSURE") > 5e-4
    rec = ctl(m, "CMPR.SET_DRIVE", 1, catalog)[1]
    assert not rec.accepted and "5e-4" in rec.reason


def test_unknown_control_rca_is_acknowledged(clock, catalog):
    m = model(clock, catalog)
    reply = m.handle(Request(1, FEMC, 0x2ABCD, Mode.CONTROL, b"\x01"))
    assert reply.ok and reply.data == b""
    assert m.controls[-1].point is None and m.controls[-1].accepted


def test_compressor_trip_and_reset(clock, catalog):
    m = model(clock, catalog)
    m.trip_compressor(clock.now() + 1)
    clock.advance(5 * 60)
    assert m.peek("CMPR.DRIVE") == 0 and m.peek("CMPR.FAULT") == 1
    assert abs(m.peek("CMPR.SUPPLY_PRESSURE") - m.peek("CMPR.RETURN_PRESSURE")) < 0.05
    clock.advance(MIN_OFF_S)
    assert not ctl(m, "CMPR.SET_DRIVE", 1, catalog)[1].accepted, "fault latched"
    assert ctl(m, "CMPR.SET_FAULT_LATCH_RESET", 1, catalog)[1].accepted
    assert ctl(m, "CMPR.SET_DRIVE", 1, catalog)[1].accepted


# -- scenarios -------------------------------------------------------------------------


ALL = ["DV01", "DV02", "DV05", "DV08", "DV10", "DA41", "DA42", "DA45", "CM01", "PM02", "PM03"]


def test_the_shipped_scenarios():
    """What README lists; a scenario added to e2ckit/sim/scenarios/ is tested below as is."""
    assert set(list_scenarios()) >= {"nominal", "outage", "recovery", "compressor-trip", "vacuum-leak",
                                     "missing-lru", "flaky-network", "power-fault"}  # fmt: skip


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_loads_and_applies(clock, catalog, name):
    sc = load_scenario(name)
    assert isinstance(sc, Scenario) and sc.name == name and sc.description
    models = {a: model(clock, catalog, a) for a in ALL}
    sc.apply(models, clock)
    clock.advance(2 * H)
    for m in models.values():
        m.powered()
        m.handle(Request(1, FEMC, 0xC000))


def test_outage_scenario(clock, catalog):
    models = {a: model(clock, catalog, a) for a in ("DV01", "DV03")}
    load_scenario("outage").apply(models, clock)
    clock.advance(H)
    assert not models["DV01"].powered() and models["DV03"].powered()
    clock.advance(3 * H)
    assert models["DV01"].powered() and models["DV01"].peek("CMPR.DRIVE") == 0


def test_recovery_scenario_runs_controls(clock, catalog):
    models = {"DV01": model(clock, catalog, "DV01")}
    load_scenario("recovery").apply(models, clock)
    clock.advance(9 * H)
    m = models["DV01"]
    points = [(r.point, r.accepted) for r in m.controls]
    assert ("FEMC.SET_BACKING_PUMP", True) in points
    assert ("CMPR.SET_DRIVE", False) in points, "drive refused while the pressure is high"
    assert ("CMPR.SET_DRIVE", True) in points and ("FEMC.SET_GATE_VALVE", True) in points
    assert m.peek("CMPR.DRIVE") == 1 and m.peek("FEMC.CRYOSTAT_PRESSURE") < 5e-4
    clock.advance(4 * 86400)
    assert m.peek("FEMC.TEMP0") < 4.0, "cold again after days"


def test_flaky_network_faults_for_the_server():
    sc = load_scenario("flaky-network")
    kinds = {f["kind"] for f in sc.faults}
    assert kinds <= {"silent", "slow", "split", "drop", "garbage", "down", "error"}
    assert all(0 <= f.get("probability", 1.0) <= 1 for f in sc.faults)
    assert isinstance(sc.seed, int)


def test_missing_lru_scenario(clock, catalog):
    models = {"DV08": model(clock, catalog, "DV08")}
    load_scenario("missing-lru").apply(models, clock)
    assert 0x26 not in [r.node for r in models["DV08"].nodes(1)]


def test_scenario_from_file(tmp_path, clock, catalog):
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\n[[steps]]\nat = "10m"\nantennas = "all"\naction = "power_off"\n')
    models = {"DV01": model(clock, catalog)}
    load_scenario(f).apply(models, clock)
    clock.advance(11 * 60)
    assert not models["DV01"].powered()
    with pytest.raises(ValueError):
        load_scenario("no-such-scenario")


# -- the server's cached path ------------------------------------------------------------


def _monitor_requests(m, catalog):
    reqs = []
    for p in catalog.resolve(["cryo", "cmpr", "revision", "power"]):
        reqs.append(Request(p.channel_for(m.name), p.node, p.rca))
    return reqs + [Request(1, FEMC, 0x30002), Request(1, FEMC, 0x30003), Request(1, 0x55, 0xC000)]


def test_serve_answers_what_handle_answers_and_follows_every_change(clock, catalog):
    """``serve`` keeps monitor replies within a physics quantum; each change that alters
    an answer (time, an injected error, a missing LRU, a control, a scenario action) shows
    at once, exactly as ``handle`` would answer it."""
    served, handled = model(clock, catalog), model(clock, catalog)
    reqs = _monitor_requests(served, catalog)

    def same(when: str) -> None:
        for _ in range(2):  # the second round comes from the kept replies
            for r in reqs:
                assert served.serve(r) == handled.handle(r).encode(), f"{when}: {r}"

    same("start")
    clock.advance(minutes=5)
    same("five minutes later")
    for m in (served, handled):
        m.set_error("FEMC.TEMP0", ErrorCode.CANREAD_ERROR)
    same("after set_error")
    for m in (served, handled):
        m.set_missing("FEPS")
    same("after set_missing")
    for m in (served, handled):
        ctl(m, "FEMC.SET_BACKING_PUMP", 0, catalog)  # turbo points turn "blocked"
    same("after a control")
    for m in (served, handled):
        m.schedule(clock.now() + 0.25, lambda mm, t: mm.set_error("FEMC.TEMP1", ErrorCode.CANREAD_ERROR))
    clock.advance(0.5)  # same 1-s physics quantum, but the scheduled action is now due
    same("after a scenario action inside one quantum")
    assert served.serve(reqs[0]) == handled.handle(reqs[0]).encode()
    for m in (served, handled):
        m.power_off(clock.now())
    clock.advance(1.0)
    assert handled.handle(reqs[0]).error == ErrorCode.TIMEOUT_ERROR
    assert served.serve(reqs[0]) is None, "unpowered: the server drops the connection"


def test_serve_counts_every_request_in_the_transaction_counter(clock, catalog):
    m = model(clock, catalog)
    p = catalog.point("FEMC.TEMP0")
    temp0 = Request(p.channel_for(m.name), p.node, p.rca)
    before = trans_num(m, 1, FEMC)
    for _ in range(5):
        m.serve(temp0)  # the first computes the reply, the next four reuse it
    assert trans_num(m, 1, FEMC) == before + 6, "5 served + the first TRANS_NUM read"
    counter = Request(1, FEMC, 0x30002)
    a, b = (struct.unpack(">I", decode_reply(m.serve(counter), Mode.MONITOR)[0].data)[0] for _ in range(2))
    assert b == a + 1, "never a stale counter"
