"""The catalog: shipped data loads and validates, every dtype round-trips, and the
decoding rules the published client got wrong (protocol notes §11) are right here."""

from __future__ import annotations

import copy
import math
import pickle
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2ckit.catalog import (
    DTYPES,
    FEMC_STATUS,
    Catalog,
    Decoded,
    NodeInfo,
    Point,
    default_catalog,
    load_catalog,
)
from e2ckit.errors import ValidationError

HEADER = "name,kind,lru,channel,node,rca,dtype,size,byte,bit,unit,scale,offset,enum,femc_status,sentinels,source,description\n"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return default_catalog()


def user_file(tmp_path, body: str, header: str = HEADER, name: str = "mine.csv"):
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body).lstrip())
    return path


# -- shipped data ------------------------------------------------------------------------


def test_shipped_files_load_and_are_cached(cat):
    assert isinstance(cat, Catalog)
    assert default_catalog() is cat
    assert len(cat.points) >= 90
    assert {p.kind for p in cat.points.values()} == {"monitor", "control"}
    assert {p.source for p in cat.points.values()} <= {"ICD", "firmware", "public code", "simulated", "inferred"}


def test_every_group_resolves_or_expands(cat):
    nodes = [(ch, n) for ch, n, _ in cat.expected_inventory("DV10")]
    for name, group in cat.groups.items():
        if cat.is_dynamic(name):
            assert group.dynamic
            pts = cat.expand(name, nodes=nodes)
            with pytest.raises(ValidationError, match="expand"):
                cat.resolve(name)
        else:
            pts = cat.resolve(name)
        assert pts, name
        assert len({p.name for p in pts}) == len(pts), name
        assert group.description, name
        for p in pts:
            assert isinstance(p.channel_for("DV10"), int)


def test_fixed_point_names_and_addresses(cat):
    expect = {f"FEMC.TEMP{k}": 0x0C000 + 4 * k for k in range(13)}
    expect.update({
        "FEMC.BACKING_PUMP": 0x0C034, "FEMC.TURBO_PUMP": 0x0C038, "FEMC.TURBO_STATE": 0x0C039,
        "FEMC.TURBO_SPEED": 0x0C03A, "FEMC.GATE_VALVE": 0x0C03C, "FEMC.SOLENOID_VALVE": 0x0C040,
        "FEMC.CRYOSTAT_PRESSURE": 0x0C044, "FEMC.PORT_PRESSURE": 0x0C045, "FEMC.VACUUM_GAUGE": 0x0C046,
        "FEMC.VACUUM_GAUGE_STATE": 0x0C047, "FEMC.SUPPLY_CURRENT_230V": 0x0C048, "FEMC.COLDHEAD_HOURS": 0x0C04C,
        "FEMC.SET_BACKING_PUMP": 0x1C034, "FEMC.SET_TURBO_PUMP": 0x1C038, "FEMC.SET_GATE_VALVE": 0x1C03C,
        "FEMC.SET_SOLENOID_VALVE": 0x1C040, "FEMC.SET_VACUUM_GAUGE": 0x1C046,
        "CMPR.RETURN_PRESSURE": 0x05, "CMPR.AUX2": 0x06, "CMPR.SUPPLY_PRESSURE": 0x07, "CMPR.PRESSURE_ALARM": 0x08,
        "CMPR.TEMP_ALARM": 0x09, "CMPR.DRIVE": 0x0A, "CMPR.ICCU_STATUS_ERROR": 0x0B, "CMPR.ICCU_CABLE_ERROR": 0x0C,
        "CMPR.FETIM_STATUS_ERROR": 0x0D, "CMPR.FETIM_CABLE_ERROR": 0x0E, "CMPR.INTERLOCK_OVERRIDE": 0x0F,
        "CMPR.ECU_TYPE": 0x10, "CMPR.FAULT": 0x11, "CMPR.SW_REV": 0x12, "CMPR.TIME_SINCE_POWER_ON": 0x13,
        "CMPR.TIME_SINCE_POWER_OFF": 0x14, "CMPR.SET_DRIVE": 0x1001, "CMPR.SET_RESET": 0x1002,
        "CMPR.SET_FAULT_LATCH_RESET": 0x1003,
        "E2C.SERIAL_NUMBER": 0, "E2C.PROTOCOL_REV": 0x30000, "E2C.SW_REV": 0x30004, "E2C.UBOOT_REV": 0x30005,
        "E2C.PROCESSOR_TEMP": 0x0000E,
        "AMBSI.SERIAL_NUMBER": 0, "AMBSI.PROTOCOL_REV": 0x30000, "AMBSI.CAN_ERROR": 0x30001,
        "AMBSI.TRANS_NUM": 0x30002, "AMBSI.AMBIENT_TEMP": 0x30003, "AMBSI.SW_REV": 0x30004, "AMBSI.HW_REV": 0x30005,
        "ACU.POWER_FAILURE": 0x0023, "ACU.CABIN_TEMP": 0x0037, "ACU.PEDESTAL_TEMP": 0x0037,
        "LORR.STATUS": 0x00001, "LORR.RX_OPT_PWR": 0x00007, "LORR.SET_RESYNC_TE": 0x81, "LORR.SET_CLEAR_FLAGS": 0x82,
    })  # fmt: skip
    expect.update({f"CMPR.TEMP{i}": i for i in range(1, 5)})
    for name, rca in expect.items():
        assert cat.point(name).rca == rca, name
    for k in range(13):
        p = cat.point(f"FEMC.TEMP{k}")
        assert (p.node, p.channel_for("DV01"), p.dtype, p.unit, p.femc_status) == (0x13, 1, "f32", "K", True)
    for name in ("CMPR.TEMP1", "CMPR.SUPPLY_PRESSURE", "CMPR.TIME_SINCE_POWER_ON"):
        assert not cat.point(name).femc_status, "§8: the compressor has no status byte"
    assert cat.point("E2C.PROCESSOR_TEMP").channel_for("DV01") == 5
    assert cat.point("ACU.POWER_FAILURE").channel_for("DV01") == 2
    assert all(cat.point(f"FEPS.V_{t}").node == 0x26 for t in ("P5", "N7", "P25"))


def test_cryo_group(cat):
    # The list: all 13 temperatures, pumps, valves, both pressures, gauge, 230 V current,
    # cold-head hours; and what a recovery needs from the power side (issue 23): FEPS outputs,
    # FETIM shutdown and safe to cool.
    cryo = [p.name for p in cat.resolve("cryo")]
    assert len(cryo) == 28
    assert cryo[:13] == [f"FEMC.TEMP{k}" for k in range(13)]
    classic = {p.name for p in cat.resolve("cryo_classic")}
    assert len(classic) == 22 and classic < set(cryo)
    assert {"FEMC.TURBO_STATE", "FEMC.VACUUM_GAUGE_STATE", "FEMC.COLDHEAD_HOURS",
            "FEPS.OUTPUT_STATE", "FETIM.SHUTDOWN", "FETIM.SAFE_TO_COOL"} == set(cryo) - classic


def test_cmpr_group_is_every_compressor_monitor(cat):
    monitors = {n for n, p in cat.points.items() if p.lru == "CMPR" and p.kind == "monitor"}
    assert {p.name for p in cat.resolve("cmpr")} == monitors
    assert len(monitors) == 20


def test_revision_power_lorr_groups(cat):
    assert [p.name for p in cat.resolve("revision")] == [
        "E2C.PROTOCOL_REV", "E2C.SW_REV", "E2C.UBOOT_REV", "E2C.PROCESSOR_TEMP"
    ]  # fmt: skip
    power = {p.name for p in cat.resolve("power")}
    assert "ACU.POWER_FAILURE" in power and "FEPS.V_P5" in power and "FEPS.I_P25" in power
    lorr = {p.name for p in cat.resolve("lorr")}
    assert {"LORR.STATUS", "LORR.RX_OPT_PWR", "LORR.DCM_LOCKED"} <= lorr


def test_temps_is_dynamic_per_node(cat):
    assert cat.is_dynamic("temps") and not cat.is_dynamic("cryo")
    assert not cat.is_dynamic("FEMC.TEMP0") and not cat.is_dynamic("no-such-thing")
    pts = cat.expand("temps", nodes=[(0, 0x22), (1, 0x13), (2, 0x25), (0, 0x40)])
    assert [p.name for p in pts] == [
        "LORR[0x22].AMBIENT_TEMP", "FEMC[0x13].AMBIENT_TEMP", "CMPR[0x25].AMBIENT_TEMP", "LO2[0x40].AMBIENT_TEMP"
    ]  # fmt: skip
    assert [p.channel_for("DV01") for p in pts] == [0, 1, 2, 0]
    assert all(p.rca == 0x30003 and p.dtype == "ds18s20" and not p.template for p in pts)
    # a CM antenna reports its compressor on channel 3: the concrete point follows the listing
    (cm,) = cat.expand("temps", nodes=[(3, 0x25)])
    assert cm.name == "CMPR[0x25].AMBIENT_TEMP" and cm.channel_for("CM01") == 3
    assert cat.expand("temps", nodes=[]) == []


def test_node_point_names_resolve(cat):
    p = cat.point("LORR[0x22].AMBIENT_TEMP")
    assert (p.node, p.rca, p.channel_for("DV01")) == (0x22, 0x30003, 0)
    assert cat.resolve(["FEMC.TEMP0", "LORR[0x22].SW_REV", "cmpr"])[1].name == "LORR[0x22].SW_REV"
    cm = cat.point("CMPR[0x25].TRANS_NUM")  # channel by family, as for the compressor's own points
    assert cm.channel_for("DV01") == 2 and cm.channel_for("PM01") == 3
    odd = cat.point("NODE[4:0x7A].AMBIENT_TEMP")
    assert (odd.node, odd.channel_for("DV01")) == (0x7A, 4)
    assert cat.node_point("AMBIENT_TEMP", 4, 0x22).name == "LORR[4:0x22].AMBIENT_TEMP"
    with pytest.raises(ValidationError, match="is LORR, not FEMC"):
        cat.point("FEMC[0x22].AMBIENT_TEMP")
    with pytest.raises(ValidationError, match="usual channel"):
        cat.point("NODE[0x7A].AMBIENT_TEMP")


def test_e2c_node_hw_rev_is_the_three_byte_uboot_revision(cat):
    p = cat.node_point("HW_REV", 5, 0x16)
    assert p.name == "E2C[0x16].HW_REV" and p.size == 3
    assert p.decode(bytes([1, 3, 2])).text == "1.3.2"
    assert cat.node_point("HW_REV", 1, 0x13).decode(bytes([2, 1])).text == "2.1"


def test_unknown_names_name_the_culprit_and_suggest(cat):
    with pytest.raises(ValidationError, match=r"FEMC\.TEMP99.*FEMC\.TEMP"):
        cat.point("FEMC.TEMP99")
    with pytest.raises(ValidationError, match="cryoo.*cryo"):
        cat.resolve(["FEMC.TEMP0", "cryoo"])
    with pytest.raises(ValidationError, match="template"):
        cat.resolve("AMBSI.AMBIENT_TEMP")
    assert isinstance(ValidationError("x"), ValueError)


def test_names_are_case_insensitive(cat):
    assert cat.point("femc.temp0") is cat.point("FEMC.TEMP0")
    assert [p.name for p in cat.resolve("CRYO")] == [p.name for p in cat.resolve("cryo")]


def test_catalog_import_stays_light():
    code = "import sys, e2ckit.catalog as c; c.default_catalog(); print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- channels, nodes, inventory ----------------------------------------------------------


@pytest.mark.parametrize("antenna, channel", [("DV01", 2), ("DA41", 2), ("dv25", 2), ("CM03", 3), ("PM02", 3), ("pm04-e2c", 3)])
def test_channel_for_compressor_by_family(cat, antenna, channel):
    for name in ("CMPR.TEMP1", "CMPR.SET_DRIVE"):
        assert cat.point(name).channel_for(antenna) == channel
    assert cat.point("FEMC.TEMP0").channel_for(antenna) == 1
    assert cat.point("LORR.STATUS").channel_for(antenna) == 0


@pytest.mark.parametrize("bad", ["", "DV1", "XX01", "DV001", "dv01.example", None, 7])
def test_channel_for_rejects_bad_antennas(cat, bad):
    with pytest.raises(ValidationError):
        cat.point("CMPR.TEMP1").channel_for(bad)


def test_template_has_no_channel(cat):
    with pytest.raises(ValidationError, match="node_point"):
        cat.point("AMBSI.AMBIENT_TEMP").channel_for("DV01")


@pytest.mark.parametrize(
    "node, abbrev",
    [(0x00, "ACU"), (0x13, "FEMC"), (0x16, "E2C"), (0x25, "CMPR"), (0x29, "IFProc"), (0x45, "IFProc"),
     (0x42, "LO2"), (0x3A, "LS"), (0x5E, "PSSAS"), (0x60, "PSA"), (0x61, "PSD"), (0x62, "PSCRD"),
     (0x63, "PSSAS"), (0x100, "DRX"), (0x1FF, "DRX"), (0x27F, "LLC"), (0x290, "FOAD"), (0x34F, "SAS")],
)  # fmt: skip
def test_node_info(cat, node, abbrev):
    assert cat.node_info(node).abbrev == abbrev


def test_node_info_unknown(cat):
    assert cat.node_info(0x7FE) == NodeInfo("?", "Unknown")
    assert cat.node_info(0x13).name == "Front End Monitor & Control"
    with pytest.raises(ValidationError):
        cat.node_info("0x13")


def test_expected_inventory(cat):
    dv = cat.expected_inventory("DV10")
    assert (2, 0x25, "CMPR") in dv and not any(n == 0x25 and c != 2 for c, n, _ in dv)
    assert [(c, n) for c, n, _ in dv if c == 0] == [
        (0, 0x22), (0, 0x29), (0, 0x2A), (0, 0x30), (0, 0x32), (0, 0x40), (0, 0x41), (0, 0x42), (0, 0x43),
        (0, 0x50), (0, 0x51), (0, 0x52), (0, 0x53), (0, 0x60), (0, 0x61),
    ]  # fmt: skip
    assert [(c, n, a) for c, n, a in dv if c == 1] == [(1, 0x13, "FEMC"), (1, 0x24, "WVR"), (1, 0x26, "FEPS"), (1, 0x28, "ACD")]
    assert len(dv) == 20
    assert not any(n == 0x00 for _, n, _ in dv), "the ACU is not in the DV10 listing"
    assert not any(c == 5 for c, _, _ in dv)
    cm = cat.expected_inventory("CM03")
    assert (3, 0x25, "CMPR") in cm and (2, 0x25, "CMPR") not in cm and len(cm) == 20
    assert cat.expected_inventory("DA50") == dv
    with pytest.raises(ValidationError):
        cat.expected_inventory("XY01")


# -- decoding rules (§7, §8, §11) --------------------------------------------------------


def femc_reply(point: Point, value_bytes: bytes, status: int) -> bytes:
    return value_bytes + struct.pack("b", status)


@pytest.mark.parametrize("code", sorted(c for c in FEMC_STATUS if c < 0) + [-8, -100, -128])
def test_every_negative_femc_status_is_not_a_reading(cat, code):
    """§11: not only 253 (−3): every negative status byte means no good value."""
    for name, body in (("FEMC.TEMP0", struct.pack(">f", 4.1)), ("FEMC.GATE_VALVE", b"\x01"), ("FEMC.COLDHEAD_HOURS", struct.pack(">H", 7))):
        d = cat.point(name).decode(femc_reply(cat.point(name), body, code))
        assert d.value is None and d.limit == "unavailable", (name, code)
        assert f"({code})" in d.status and d.status != "ok"
        label = FEMC_STATUS.get(code, "unknown FEMC status")
        assert d.status.startswith(label)


def test_femc_status_blocked_and_ok(cat):
    p = cat.point("FEMC.TURBO_PUMP")
    d = p.decode(b"\x00\xfd")
    assert d.status == "blocked: hardware state, interlock, maintenance mode or async monitoring off (-3)" and d.value is None
    d = p.decode(b"\x01\x00")
    assert (d.value, d.text, d.status, d.ok) == (1.0, "ON", "ok", True)


@pytest.mark.parametrize("sentinel, word", [(-1.0, "error"), (-2.0, "uninitialised")])
def test_femc_float_sentinels(cat, sentinel, word):
    for name in ("FEMC.TEMP3", "FEMC.CRYOSTAT_PRESSURE", "FEMC.SUPPLY_CURRENT_230V"):
        d = cat.point(name).decode(struct.pack(">fb", sentinel, 0))
        assert d.value is None and word in d.note and d.status != "ok" and d.limit == "unavailable"


@pytest.mark.parametrize("name", ["CMPR.SUPPLY_PRESSURE", "CMPR.RETURN_PRESSURE"])
def test_compressor_pressure_sensor_absent(cat, name):
    """§11: a −1.0 "sensor absent" pressure is not a value."""
    p = cat.point(name)
    d = p.decode(struct.pack(">f", -1.0))
    assert d.value is None and d.status == "sensor absent" and d.text == "sensor absent"
    assert p.decode(struct.pack(">f", 2.05)).value == pytest.approx(2.05, rel=1e-6)
    assert p.unit == "MPa", "§11: pressures are MPa (not 'mPa')"


@pytest.mark.parametrize("name, what", [("CMPR.TIME_SINCE_POWER_ON", "on"), ("CMPR.TIME_SINCE_POWER_OFF", "off")])
def test_minimum_time_elapsed_counters(cat, name, what):
    """§11: 0xFFFFFFFF is "minimum time elapsed", never 4294967295."""
    p = cat.point(name)
    d = p.decode(b"\xff\xff\xff\xff")
    assert d.value is None and d.status == "ok" and d.limit == "ok"
    assert d.text == f"minimum {what}-time elapsed"
    assert "minimum" in d.note and "elapsed" in d.note and "4294967295" not in d.text
    assert p.decode(struct.pack(">I", 179)).value == 179.0
    assert p.encode(0xFFFFFFFF) == b"\xff\xff\xff\xff", "the simulator can serve the sentinel"


def test_vacuum_gauge_one_is_on(cat):
    """§11: the published client showed ON for 0."""
    p = cat.point("FEMC.VACUUM_GAUGE")
    assert p.decode(b"\x01\x00").text == "ON"
    assert p.decode(b"\x00\x00").text == "OFF"


def test_compressor_temperatures_stay_celsius(cat):
    """§11: °C under a °C header, not kelvin."""
    p = cat.point("CMPR.TEMP2")
    assert p.unit == "°C"
    assert p.decode(struct.pack(">f", 31.5)).value == 31.5


def test_gate_and_solenoid_are_separate_enums(cat):
    """§11: a solenoid reading of 3 belongs to the solenoid, and its labels are its own."""
    gate, sol = cat.point("FEMC.GATE_VALVE"), cat.point("FEMC.SOLENOID_VALVE")
    assert gate.enum_labels == {0: "CLOSED", 1: "OPEN", 2: "UNKNOWN/MOVING", 3: "ERROR", 4: "OVER-CURRENT"}
    assert sol.enum_labels == {0: "CLOSED", 1: "OPEN", 2: "UNKNOWN", 3: "ERROR"}
    assert gate.rca != sol.rca
    d = sol.decode(b"\x03\x00")
    assert (d.value, d.text, d.limit) == (3.0, "ERROR", "alarm")
    assert gate.decode(b"\x04\x00").text == "OVER-CURRENT"
    odd = sol.decode(b"\x04\x00")
    assert odd.text == "unknown (4)" and "not a known state" in odd.note


@pytest.mark.parametrize("name, good_len", [("FEMC.TEMP0", 5), ("FEMC.GATE_VALVE", 2), ("CMPR.TEMP1", 4), ("CMPR.DRIVE", 1), ("AMBSI.AMBIENT_TEMP", 4), ("E2C.SW_REV", 3)])
def test_wrong_length_is_not_a_reading(cat, name, good_len):
    p = cat.point(name)
    for n in {0, good_len - 1, good_len + 1}:
        d = p.decode(bytes(n))
        assert d.value is None and d.status == "bad length" and f"got {n}" in d.note
        assert d.raw == bytes(n)
        # a catalog problem, named with the point and both lengths (issue #17)
        assert d.error == f"catalog: bad length: {p.name} expects {good_len} bytes, got {n}"
    assert p.decode(bytes(good_len)).error is None


def test_femc_status_byte_alone_is_a_status_not_a_bad_length(cat):
    """Firmware can.c: in maintenance mode (or for a module not installed) the FEMC sends
    the status byte with no value: one byte. That is the FEMC's answer, not a catalog problem."""
    d = cat.point("FEMC.COLDHEAD_HOURS").decode(b"\xfd")
    assert d.value is None and d.error is None
    assert d.status == "blocked: hardware state, interlock, maintenance mode or async monitoring off (-3)"
    assert cat.point("FEMC.TEMP0").decode(b"\xfe").status == "not installed (-2)"
    assert cat.point("FEMC.TEMP0").decode(b"\x05").error is not None, "a positive byte is no status"


def test_nan_float_is_not_a_reading(cat):
    d = cat.point("CMPR.TEMP1").decode(struct.pack(">f", math.nan))
    assert d.value is None and d.limit == "unavailable"


def test_versions_esn_and_can_errors(cat):
    d = cat.point("E2C.SW_REV").decode(bytes([1, 2, 3]))
    assert (d.value, d.text, d.status) == (None, "1.2.3", "ok")
    esn = bytes.fromhex("10DA070401080072")
    assert cat.point("AMBSI.SERIAL_NUMBER").decode(esn).text == "0x10DA070401080072"
    d = cat.point("AMBSI.CAN_ERROR").decode(bytes([0, 7, 0, 0x21]))
    assert d.value == 7.0 and "0x21" in d.text


@pytest.mark.parametrize(
    "data, celsius",
    [
        # little-endian: temp = 0x0055 = 85 half degrees, count_remain 8, count_per_c 16:
        # (85 >> 1) − 0.25 + (16 − 8)/16 = 42 − 0.25 + 0.5 = 42.25
        (bytes([0x55, 0x00, 0x08, 0x10]), 42.25),
        # the same reading big-endian (first byte 0x00)
        (bytes([0x00, 0x55, 0x08, 0x10]), 42.25),
        # big-endian negative: temp = 0xFFF2 = −14 → −7 − 0.25 + (16 − 12)/16 = −7.0
        (bytes([0xFF, 0xF2, 0x0C, 0x10]), -7.0),
        # little-endian 25.5: temp = 0x0033 = 51 → 25 − 0.25 + (16 − 4)/16 = 25.5
        (bytes([0x33, 0x00, 0x04, 0x10]), 25.5),
    ],
)
def test_ds18s20_both_byte_orders(cat, data, celsius):
    d = cat.point("AMBSI.AMBIENT_TEMP").decode(data)
    assert d.value == celsius and d.status == "ok"


def test_ds18s20_zero_count_per_c(cat):
    d = cat.point("AMBSI.AMBIENT_TEMP").decode(bytes([0x00, 0x30, 0x08, 0x00]))
    assert d.value is None and "count_per_c" in d.note


def test_acu_points_share_one_reply(cat):
    cabin, ped, pf = cat.point("ACU.CABIN_TEMP"), cat.point("ACU.PEDESTAL_TEMP"), cat.point("ACU.POWER_FAILURE")
    reply = struct.pack(">hh", 2150, -325)  # two big-endian i16 in 0.01 °C
    assert cabin.decode(reply).value == pytest.approx(21.5)
    assert ped.decode(reply).value == pytest.approx(-3.25)
    assert ped.encode(-3.25, base=cabin.encode(21.5)) == reply
    status = bytes([0, 0b10, 0, 0, 0, 0])  # byte 1 bit 1
    d = pf.decode(status)
    assert (d.value, d.text, d.limit) == (1.0, "POWER FAILURE", "alarm")
    assert pf.decode(bytes(6)).text == "OK"
    assert pf.encode(1) == status


def test_lorr_status_and_power(cat):
    status = cat.point("LORR.STATUS")
    d = status.decode(bytes([0b010001, 0]))
    assert d.text == "DCM locked, 2 GHz unlocked"
    assert status.decode(bytes([1, 0x80])).text == "DCM locked, other bits 0x0080"
    assert cat.point("LORR.DCM_LOCKED").decode(bytes([0, 0])).limit == "alarm"
    assert cat.point("LORR.UNLOCKED_2GHZ").decode(bytes([0b10000, 0])).limit == "alarm"
    pwr = cat.point("LORR.RX_OPT_PWR")
    assert pwr.decode(struct.pack(">H", 4095)).value == pytest.approx(20.0)
    assert pwr.decode(struct.pack(">H", 0x0333)).value == pytest.approx(0x333 * 20 / 4095)


# -- limits -----------------------------------------------------------------------------


def test_limits(cat):
    t0 = cat.point("FEMC.TEMP0")
    assert [t0.limit_state(v) for v in (3.0, 7.0, 30.0, 30.5, None, math.nan)] == ["ok", "warn", "warn", "alarm", "unavailable", "unavailable"]
    # issue #17: the PA interlock itself reads TEMP0 and TEMP5 together (the derived
    # FEMC.LO_PA_BLOCKED). Issue 22 decides that the 4K stage (TEMP0, the sensor the
    # interlock reads) above the interlock's 30 K is an alarm as a reading (the receiver
    # cannot work), its bound being the interlock's threshold; the 4K-plate sensors and the
    # other stages keep no alarm bound.
    from e2ckit.catalog.limits import interlock_k

    for k in range(13):
        p = cat.point(f"FEMC.TEMP{k}")
        assert p.alarm_high == (interlock_k(cat) if k == 0 else None), k
        assert "inferred" in p.limit_source and "cold operation" in p.limit_source
        assert ("LO_PA_BLOCKED" in p.limit_source) == (k in (0, 5)), k
    assert cat.point("FEMC.TEMP6").warn_high is not None
    pr = cat.point("FEMC.CRYOSTAT_PRESSURE")
    assert pr.limit_state(6e-4) == "alarm" and pr.limit_state(4e-4) == "warn" and pr.limit_state(5e-7) == "ok"
    assert pr.decode(pr.encode(6e-4)).limit == "alarm"
    for name in ("CMPR.PRESSURE_ALARM", "CMPR.TEMP_ALARM", "CMPR.FAULT"):
        p = cat.point(name)
        assert p.decode(b"\x01").limit == "alarm" and p.decode(b"\x00").limit == "ok"
    assert all(p.limit_source for p in cat.points.values() if p.warn_high is not None or p.alarm_high is not None)


# -- encoding and round trips -----------------------------------------------------------


def test_encode_femc_appends_status(cat):
    p = cat.point("FEMC.TEMP0")
    assert p.encode(4.0) == struct.pack(">fb", 4.0, 0)
    assert p.encode(4.0, status=-3)[-1] == 0xFD
    assert p.encode(-1.0, status=0) == struct.pack(">fb", -1.0, 0)
    with pytest.raises(ValidationError, match="status"):
        cat.point("CMPR.TEMP1").encode(20.0, status=-3)


def test_encode_rejects_what_cannot_be_carried(cat):
    with pytest.raises(ValidationError):
        cat.point("FEMC.GATE_VALVE").encode(300)
    with pytest.raises(ValidationError):
        cat.point("CMPR.TIME_SINCE_POWER_ON").encode(-5)
    with pytest.raises(ValidationError):
        cat.point("E2C.SW_REV").encode((1, 2))
    with pytest.raises(ValidationError):
        cat.point("AMBSI.AMBIENT_TEMP").encode(200.0)
    with pytest.raises(ValidationError):
        cat.point("FEMC.GATE_VALVE").encode("AJAR")


def test_encode_enum_label_and_controls(cat):
    assert cat.point("FEMC.GATE_VALVE").encode("open") == b"\x01\x00"
    assert cat.point("FEMC.SET_VACUUM_GAUGE").encode(1) == b"\x01"
    assert cat.point("CMPR.SET_DRIVE").encode("ON") == b"\x01"
    assert cat.point("FEMC.SET_GATE_VALVE").rca == cat.point("FEMC.GATE_VALVE").rca + 0x10000


def _point(dtype: str, **kw) -> Point:
    return Point(name=f"T.{dtype.upper()}", lru="T", node=1, rca=1, dtype=dtype, channel_rule="0",
                 size=kw.pop("size", DTYPES[dtype][2]), **kw)  # fmt: skip


INT_RANGES = {"u8": (0, 255), "i8": (-128, 127), "u16": (0, 0xFFFF), "i16": (-0x8000, 0x7FFF),
              "u32": (0, 0xFFFFFFFF), "i32": (-(2**31), 2**31 - 1), "u64": (0, 2**64 - 1)}  # fmt: skip


@pytest.mark.parametrize("dtype", sorted(INT_RANGES))
@pytest.mark.parametrize("femc", [False, True])
def test_int_dtypes_round_trip(dtype, femc):
    if femc and dtype == "u64":
        pytest.skip("8 bytes + status do not fit a reply")
    p = _point(dtype, femc_status=femc)
    lo, hi = INT_RANGES[dtype]

    @given(st.integers(lo, hi))
    def check(x):
        d = p.decode(p.encode(x))
        assert d.value == float(x) and d.status == "ok"

    check()


@pytest.mark.parametrize("dtype, width", [("f32", 32), ("f64", 64)])
def test_float_dtypes_round_trip(dtype, width):
    p = _point(dtype, femc_status=dtype == "f32", sentinels=((-1.0, True, "error"),))

    @given(st.floats(width=width, allow_nan=False, allow_infinity=False).filter(lambda x: x != -1.0))
    def check(x):
        assert p.decode(p.encode(x)).value == x

    check()


def test_scaled_int_round_trip():
    p = _point("i16", scale=0.01, offset=-10.0)

    @given(st.integers(-0x8000, 0x7FFF))
    def check(raw):
        value = raw * 0.01 - 10.0
        assert p.encode(value) == struct.pack(">h", raw)
        assert p.decode(p.encode(value)).value == pytest.approx(value)

    check()


def test_bit_flags_version_bytes_can_error_round_trip():
    bit = _point("bit", size=3, byte=2, bit=7)

    @given(st.sampled_from([0, 1]), st.binary(min_size=3, max_size=3))
    def check_bit(x, base):
        out = bit.encode(x, base=base)
        assert bit.decode(out).value == x and out[:2] == base[:2]

    check_bit()
    flags = _point("flags", size=2, enum=(("0.0", "a"),))

    @given(st.integers(0, 0xFFFF))
    def check_flags(x):
        assert flags.decode(flags.encode(x)).value == x

    check_flags()
    version = _point("version")

    @given(st.tuples(*[st.integers(0, 255)] * 3))
    def check_version(v):
        assert version.decode(version.encode(v)).text == ".".join(map(str, v))

    check_version()
    assert version.encode("1.2.3") == bytes([1, 2, 3])
    raw = _point("bytes", size=None)

    @given(st.binary(min_size=1, max_size=8))
    def check_bytes(b):
        assert raw.decode(raw.encode(b)).text == "0x" + b.hex().upper()

    check_bytes()
    esn = _point("esn")
    assert esn.encode(bytes(range(8))) == bytes(range(8))
    can = _point("can_error")
    assert can.decode(can.encode((5, 0, 0x12))).text == "5 errors, last code 0x12"
    assert can.encode(3) == bytes([0, 3, 0, 0])


def test_ds18s20_round_trip():
    p = _point("ds18s20")

    @given(st.floats(-55.0, 125.0))
    def check(c):
        b = p.encode(c)
        assert b[0] in (0x00, 0xFF), "big-endian, recognisable by its first byte"
        assert abs(p.decode(b).value - c) <= 1 / 32 + 1e-9

    check()


def test_every_shipped_point_round_trips(cat):
    """What the simulator will do: encode a plausible value, decode it back."""
    for p in [*cat.points.values(), *cat.templates.values()]:
        kind = DTYPES[p.dtype][0]
        value = {"version": (1, 2, 3)[: p.size], "esn": bytes(range(8)), "bytes": b"\x02\x00\x5e\x10\x20\x30FE"[: p.size or 6],
                 "ds18s20": 30.0, "can_error": (1, 0, 2), "flags": 1}.get(kind)  # fmt: skip
        if value is None:
            if p.enum:
                value = p.enum[-1][0]
            elif p.nominal_low is not None:
                value = p.nominal_low
            else:
                value = 1
        d = p.decode(p.encode(value))
        assert d.status == "ok", (p.name, d)
        if isinstance(value, (int, float)) and d.value is not None:
            assert d.value == pytest.approx(value, rel=1e-6, abs=abs(p.scale) / 2), p.name  # quantised to raw steps
        assert isinstance(d, Decoded)


# -- user files and validation ----------------------------------------------------------


def test_user_file_adds_points_and_groups(tmp_path):
    pts = user_file(tmp_path, """
        MY.PSU_VOLTAGE,monitor,MY,0,0x7A,0x100,f32,,,,V,,,,,,simulated,a test point
        MY.MODE,monitor,MY,DA:2|DV:2|CM:3|PM:3,0x7A,0x101,u8,,,,,,,0=IDLE;1=BUSY,,,simulated,
        """)  # fmt: skip
    groups = user_file(tmp_path, "mine,MY.PSU_VOLTAGE,my group\nmine,FEMC.TEMP0,\n", header="group,member,description\n", name="g.csv")
    cat = load_catalog(extra=[pts, groups])
    assert "FEMC.TEMP0" in cat.points and cat.point("MY.MODE").channel_for("CM01") == 3
    assert [p.name for p in cat.resolve("mine")] == ["MY.PSU_VOLTAGE", "FEMC.TEMP0"]
    assert cat.groups["mine"].description == "my group"
    assert "mine" not in default_catalog().groups, "the shared catalog is untouched"


@pytest.mark.parametrize(
    "row, line, field",
    [
        ("MY.A,monitor,MY,0,0x7A,0x100,f33,,,,,,,,,,simulated,\n", 3, "dtype"),
        ("MY.A,monitor,MY,0,0x7FF,0x100,u8,,,,,,,,,,simulated,\n", 3, "node"),
        ("MY.A,monitor,MY,0,0x7A,0x40000,u8,,,,,,,,,,simulated,\n", 3, "rca"),
        ("MY.A,monitor,MY,0,0x7A,abc,u8,,,,,,,,,,simulated,\n", 3, "rca"),
        ("MY.A,monitor,MY,0,0x7A,0x100,u8,,,,,,,0:OFF,,,simulated,\n", 3, "enum"),
        ("MY.A,monitor,MY,0,0x7A,0x100,u8,,,,,,,x=OFF,,,simulated,\n", 3, "enum"),
        ("MY.A,monitor,MY,0,0x7A,0x100,u8,,,,,,,,,,guesswork,\n", 3, "source"),
        ("MY.A,sometimes,MY,0,0x7A,0x100,u8,,,,,,,,,,simulated,\n", 3, "kind"),
        ("MY.A,monitor,MY,XY:2,0x7A,0x100,u8,,,,,,,,,,simulated,\n", 3, "channel"),
        ("MY.A,monitor,MY,0,0x7A,0x100,u32,3,,,,,,,,,simulated,\n", 3, "size"),
        ("MY.A,monitor,MY,0,0x7A,0x100,u8,,,,,0,,,,,simulated,\n", 3, "scale"),
        ("MY.A,monitor,MY,0,0x7A,0x100,u8,,,,,,,,maybe,,simulated,\n", 3, "femc_status"),
        ("MY.A,control,MY,0,0x7A,0x100,u8,,,,,,,,yes,,simulated,\n", 3, "femc_status"),
        ("MY.A,monitor,MY,0,0x7A,0x100,f32,,,,,,,,,-1.0,simulated,\n", 3, "sentinels"),
        ("bad name,monitor,MY,0,0x7A,0x100,u8,,,,,,,,,,simulated,\n", 3, "name"),
    ],
)  # fmt: skip
def test_bad_row_names_file_line_and_field(tmp_path, row, line, field):
    path = user_file(tmp_path, "# a comment line\n" + row)
    with pytest.raises(ValidationError) as err:
        load_catalog(extra=[path])
    msg = str(err.value)
    assert f"{path}:{line}:" in msg and repr(field) in msg, msg


def test_misspelt_column_in_a_points_file_is_named(tmp_path):
    header = "name,kind,lru,channel,node,rca,dtype,unti,source\n"
    path = user_file(tmp_path, "MY.A,monitor,MY,0,0x7A,0x100,u8,V,simulated\n", header=header)
    with pytest.raises(ValidationError, match=r"mine\.csv:1: unknown column 'unti' in a points file"):
        load_catalog(extra=[path])


def test_duplicate_name_rejected(tmp_path):
    path = user_file(tmp_path, "FEMC.TEMP0,monitor,MY,0,0x7A,0x100,u8,,,,,,,,,,simulated,\n")
    with pytest.raises(ValidationError, match=r"mine\.csv:2: field 'name'.*already defined at e2ckit/catalog/data/points\.csv"):
        load_catalog(extra=[path])
    path = user_file(tmp_path, "MY.A,monitor,MY,0,0x7A,0x100,u8,,,,,,,,,,simulated,\nmy.a,monitor,MY,0,0x7A,0x101,u8,,,,,,,,,,simulated,\n")
    with pytest.raises(ValidationError, match=r":3: field 'name'"):
        load_catalog(extra=[path])


def test_duplicate_address_rejected_but_fields_may_share_a_reply(tmp_path):
    path = user_file(tmp_path, "MY.TEMP,monitor,MY,1,0x13,0x0C000,u8,,,,,,,,,,simulated,\n")
    with pytest.raises(ValidationError, match=r"mine\.csv:2: field 'rca'.*FEMC\.TEMP0"):
        load_catalog(extra=[path])
    ok = user_file(tmp_path, """
        MY.HI,monitor,MY,0,0x7A,0x100,u8,2,0,,,,,,,,simulated,
        MY.LO,monitor,MY,0,0x7A,0x100,u8,2,1,,,,,,,,simulated,
        MY.B0,monitor,MY,0,0x7A,0x100,bit,2,1,0,,,,,,,simulated,
        MY.B1,monitor,MY,0,0x7A,0x100,bit,2,1,1,,,,,,,simulated,
        """)  # fmt: skip
    cat = load_catalog(extra=[ok])
    assert cat.point("MY.LO").decode(b"\x01\x02").value == 2.0
    dup = user_file(tmp_path, "MY.B0,monitor,MY,0,0x7A,0x100,bit,2,1,0,,,,,,,simulated,\nMY.B9,monitor,MY,0,0x7A,0x100,bit,2,1,0,,,,,,,simulated,\n")
    with pytest.raises(ValidationError, match=r":3: field 'rca'"):
        load_catalog(extra=[dup])


def test_bad_group_and_unknown_file_kind(tmp_path):
    g = user_file(tmp_path, "mine,FEMC.TEMPZ,\n", header="group,member,description\n")
    with pytest.raises(ValidationError, match=r"mine\.csv:2: field 'member'.*FEMC\.TEMPZ"):
        load_catalog(extra=[g])
    loop = user_file(tmp_path, "a,b,\nb,a,\n", header="group,member,description\n")
    with pytest.raises(ValidationError, match="contains itself"):
        load_catalog(extra=[loop])
    odd = user_file(tmp_path, "1,2\n", header="x,y\n")
    with pytest.raises(ValidationError, match="unrecognised header"):
        load_catalog(extra=[odd])
    with pytest.raises(ValidationError, match="cannot read"):
        load_catalog(extra=[tmp_path / "missing.csv"])


def test_user_nodes_and_inventory_files(tmp_path):
    nodes = user_file(tmp_path, "0x7A,,MYBOX,My test box\n", header="first,last,abbrev,name\n", name="n.csv")
    inv = user_file(tmp_path, "DV,4,0x7A,,MYBOX\n", header="families,channel,first,last,abbrev\n", name="i.csv")
    cat = load_catalog(extra=[nodes, inv])
    assert cat.node_info(0x7A) == NodeInfo("MYBOX", "My test box")
    assert (4, 0x7A, "MYBOX") in cat.expected_inventory("DV02")
    assert (4, 0x7A, "MYBOX") not in cat.expected_inventory("DA41")
    assert cat.point("MYBOX[0x7A].AMBIENT_TEMP").channel_for("DV02") == 4
    bad = user_file(tmp_path, "0x7A,0x70,X,Y\n", header="first,last,abbrev,name\n", name="b.csv")
    with pytest.raises(ValidationError, match=r"b\.csv:2: field 'last'"):
        load_catalog(extra=[bad])


@given(st.data())
def test_sample_reply_is_decode_without_the_text(data) -> None:
    """``Point.sample_reply`` (the logger's path) gives decode's value and status for the
    data of any reply: good numbers, sentinels, NaN, negative FEMC status bytes, wrong
    lengths and stray padding alike."""
    points = [p for p in default_catalog().points.values() if not p.template]
    p = data.draw(st.sampled_from(points))
    want = min(p.reply_size or 8, 8)
    good = st.binary(min_size=want, max_size=want)
    sentinel = st.sampled_from([s for s, _, _ in p.sentinels] or [0]).map(
        lambda s: p.encode(s) if p.sentinels else bytes(want)
    )
    raw = data.draw(st.one_of(good, sentinel, st.binary(max_size=8)))
    padding = data.draw(st.binary(min_size=8 - len(raw), max_size=8 - len(raw)))
    reply = bytes(4) + bytes([len(raw)]) + raw + padding
    d = p.decode(raw)
    value, status = p.sample_reply(reply)
    assert p.sample_reply(bytearray(reply)) == (value, status), "any bytes-like, the same (and remembered)"
    assert status == d.status
    if d.value is None:
        assert value is None
    else:
        assert value == float(d.value) and type(value) is float


def test_points_and_the_catalog_pickle_and_copy_and_decode_the_same_after() -> None:
    """For multiprocessing and joblib users: a point (and the whole catalog) survives
    pickling and copying, and decodes exactly as before."""
    cat = default_catalog()
    back = pickle.loads(pickle.dumps(cat))
    for name, p in cat.points.items():
        q, r = back.points[name], copy.deepcopy(p)
        assert q == p and r == p
        size = min(p.reply_size or 4, 8)
        reply = bytes(4) + bytes([size]) + bytes(range(1, size + 1)) + bytes(8 - size)
        assert q.sample_reply(reply) == r.sample_reply(reply) == p.sample_reply(reply)
        assert q.decode(reply[5 : 5 + size]) == p.decode(reply[5 : 5 + size])
