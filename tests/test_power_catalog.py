"""Issue 23 item 1: the power points (FEPS flags, FETIM, cartridge power) by name.

The families (8 FEPS rails, 10 bands x 6 channels) are generated from one row of data each;
these tests check the generated names and addresses against the RCA rules of
e2c-protocol.md §12-§14 (written out here, not read from the catalog)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from e2ckit.catalog import default_catalog, load_files
from e2ckit.cli import EXIT_OK, app
from e2ckit.errors import ValidationError

RAILS = ["P5", "P6", "P7", "N7", "P9", "P16", "N16", "P25"]
FLAGS = {"TEMP_WARN": 0x19, "TEMP_ERR": 0x21, "OVER_VOLT": 0x29, "OVERLOAD": 0x31, "UNDER_VOLT": 0x39, "COMM_FAIL": 0x41}
PDCH = ["P6V", "N6V", "P15V", "N15V", "P24V", "P8V"]  # pdModule.h PD_MODULE.pdChannel order


@pytest.fixture(scope="module")
def cat():
    return default_catalog()


def test_feps_flags_per_rail_by_name(cat):
    for flag, first in FLAGS.items():
        for i, rail in enumerate(RAILS):
            p = cat.point(f"FEPS.{flag}_{rail}")
            assert (p.channel_for("DV01"), p.node, p.rca, p.dtype, p.femc_status) == (1, 0x26, first + i, "u8", False)
            assert dict(p.enum)[0] == "OK" and p.limit_source.startswith("flag") and "inferred" in p.limit_source
    assert cat.point("FEPS.OVER_VOLT_P7").label == "FEPS +7 V over-voltage"
    assert [hex(cat.point(n).rca) for n in ("FEPS.SYS_INTRLK_A", "FEPS.SYS_INTRLK_B", "FEPS.OUTPUT_STATE")] == ["0x49", "0x4a", "0x4b"]
    assert dict(cat.point("FEPS.OUTPUT_STATE").enum) == {0: "OFF", 1: "ON"}
    ctl = cat.point("FEPS.SET_ENABLE_PWR")
    assert (ctl.kind, ctl.rca, ctl.node) == ("control", 0x1001, 0x26)
    # the names logged datasets use are kept
    assert cat.point("FEPS.V_P5").rca == 0x01 and cat.point("FEPS.TEMP8").rca == 0x18


def test_feps_decodes_without_status_byte(cat):
    d = cat.point("FEPS.OVER_VOLT_P7").decode(b"\x01")
    assert (d.value, d.text, d.status) == (1, "OVER-VOLTAGE", "ok")
    assert cat.point("FEPS.OVER_VOLT_P7").limit_state(1) == "alarm"
    assert cat.point("FEPS.TEMP_WARN_P9").limit_state(1) == "warn"
    assert cat.point("FEPS.OUTPUT_STATE").limit_state(0) == "alarm"


def test_cartridges_named_by_band(cat):
    for band in range(1, 11):
        c = band - 1
        en = cat.point(f"FEMC.BAND{band}_ENABLE")
        assert (en.rca, en.femc_status) == (0xA00C + (c << 4), True)
        assert dict(en.enum) == {0: "OFF", 1: "ON", 2: "STANDBY2"}
        assert cat.point(f"FEMC.SET_BAND{band}_ENABLE").rca == 0x1A00C + (c << 4)
        for k, ch in enumerate(PDCH):
            assert cat.point(f"FEMC.BAND{band}_{ch}_CURRENT").rca == 0xA000 + (c << 4) + (k << 1)
            assert cat.point(f"FEMC.BAND{band}_{ch}_VOLTAGE").rca == 0xA001 + (c << 4) + (k << 1)
    assert cat.point("FEMC.POWERED_MODULES").rca == 0xA0A0
    assert cat.point("FEMC.POWERED_MODULES").limit_state(4) == "warn"
    # FEMC floats carry their status byte; a -3 is not a good reading
    v = cat.point("FEMC.BAND3_P15V_VOLTAGE")
    assert v.decode(v.encode(15.02, status=0)).value == pytest.approx(15.02, abs=1e-4)
    assert v.decode(v.encode(0.0, status=-3)).status.startswith("blocked")
    assert "error state" in en.decode(bytes([249, 0])).status


def test_fetim_points(cat):
    want = {"FETIM.INT_TEMP1": 0xE000, "FETIM.INT_TEMP5": 0xE004, "FETIM.AIRFLOW1": 0xE008, "FETIM.AIRFLOW2": 0xE00C,
            "FETIM.SINGLE_FAIL": 0xE010, "FETIM.GLITCH_VALUE": 0xE020, "FETIM.GLITCH_TRIGGERED": 0xE022,
            "FETIM.MULTI_FAIL": 0xE024, "FETIM.TEMP_OUT_OF_RANGE": 0xE028, "FETIM.FLOW_OUT_OF_RANGE": 0xE02C,
            "FETIM.DELAY_TRIGGERED": 0xE030, "FETIM.SHUTDOWN": 0xE034, "FETIM.EXT_AMBIENT_TEMP": 0xE040,
            "FETIM.AMBIENT_OUT_OF_RANGE": 0xE044, "FETIM.TURBO_TEMP": 0xE048, "FETIM.TURBO_TEMP_OUT_OF_RANGE": 0xE04C,
            "FETIM.HE2_PRESSURE": 0xE050, "FETIM.HE2_OUT_OF_RANGE": 0xE054, "FETIM.SAFE_TO_COOL": 0xE058,
            "FETIM.COMPRESSOR_INTERLOCK": 0xE060, "FETIM.COMPRESSOR_CABLE": 0xE068}  # fmt: skip
    for name, rca in want.items():
        p = cat.point(name)
        assert (p.node, p.rca, p.femc_status) == (0x13, rca, True), name
    assert cat.point("FETIM.TURBO_TEMP").limit_state(42.0) == "warn"
    assert cat.point("FETIM.TURBO_TEMP").limit_state(47.0) == "alarm"
    assert cat.point("FETIM.MULTI_FAIL").limit_state(1) == "alarm"
    assert cat.point("FETIM.SINGLE_FAIL").limit_state(1) == "warn"


def test_groups(cat):
    power = [p.name for p in cat.resolve("power")]
    assert power[0] == "FEPS.OUTPUT_STATE" and "FEPS.OVER_VOLT_P7" in power and "ACU.POWER_FAILURE" in power
    assert "FEMC.BAND6_ENABLE" in power and "FEMC.BAND6_P6V_CURRENT" not in power, "full families on demand"
    assert all(p.kind == "monitor" for g in ("power", "feps", "fetim", "cartridges") for p in cat.resolve(g))
    assert len(cat.resolve("cartridges")) == 1 + 10 + 120
    assert len(cat.resolve("fetim")) == 24
    for g in ("outage", "cryo"):
        assert {"FEPS.OUTPUT_STATE", "FETIM.SHUTDOWN", "FETIM.SAFE_TO_COOL"} <= {p.name for p in cat.resolve(g)}


def test_points_cli_lists_them():
    r = CliRunner().invoke(app, ["points", "power", "-f", "json"], catch_exceptions=False)
    assert r.exit_code == EXIT_OK, r.output
    names = {row["name"] for row in json.loads(r.stdout)}
    assert {"FEPS.OVER_VOLT_P7", "FEPS.SYS_INTRLK_B", "FEMC.BAND10_ENABLE"} <= names
    r = CliRunner().invoke(app, ["points", "-f", "json"], catch_exceptions=False)
    names = {row["name"] for row in json.loads(r.stdout)}
    assert {"FEMC.BAND1_N15V_VOLTAGE", "FETIM.HE2_PRESSURE", "FEMC.SET_BAND6_ENABLE", "FEPS.SET_ENABLE_PWR"} <= names


FAM = "family,index,key,label\nrail,0,A,rail A\nrail,1,B,rail B\n"
HEAD = "name,channel,node,rca,dtype,source,description,each,step\n"


def test_a_family_row_makes_one_point_per_member():
    cat = load_files([("fam.csv", FAM), ("p.csv", HEAD + "MY.V_{rail},0,0x7A,0x100,f32,simulated,{rail_label} volts #{rail_n},rail,4\n")])
    assert [(p.name, p.rca, p.description) for p in cat.points.values()] == [
        ("MY.V_A", 0x100, "rail A volts #1"), ("MY.V_B", 0x104, "rail B volts #2")]


@pytest.mark.parametrize("row, field", [
    ("MY.V_{rail},0,0x7A,0x100,f32,simulated,x,nosuch,1", "each"),
    ("MY.V_{rail},0,0x7A,0x100,f32,simulated,x,rail,", "step"),
    ("MY.V_{rail},0,0x7A,0x100,f32,simulated,x,rail,1|2", "step"),
    ("MY.V_{bad},0,0x7A,0x100,f32,simulated,x,rail,1", "name"),
    ("MY.V,0,0x7A,0x100,f32,simulated,x,rail,1", "name"),  # both members would be MY.V
])  # fmt: skip
def test_bad_family_rows_are_named(row, field):
    with pytest.raises(ValidationError, match=f"p.csv:2: field '{field}'"):
        load_files([("fam.csv", FAM), ("p.csv", HEAD + row + "\n")])


def test_group_pattern_matching_nothing_is_an_error():
    with pytest.raises(ValidationError, match="g.csv:2: field 'member': pattern 'FEPS.NOPE_\\*' matches no point"):
        load_files([*((f"e2ckit/catalog/data/{n}", t) for n, t in _shipped_points()), ("g.csv", "group,member\nx,FEPS.NOPE_*\n")])


def _shipped_points():
    from importlib import resources

    data = resources.files("e2ckit.catalog") / "data"
    return [(n, (data / n).read_text(encoding="utf-8")) for n in ("nodes.csv", "families.csv", "points.csv", "power.csv")]


def test_feps_enable_is_confirmed_and_audited(fresh_sim, tmp_path, monkeypatch):
    """SET_ENABLE_PWR goes through the same opt-in and audit as every control (loopback)."""
    sim = fresh_sim(["DV01"])
    monkeypatch.setenv("E2CKIT_ARRAY", str(sim.write_array(tmp_path / "array.csv")))
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(log))
    args = ["control", "request", "--host", "DV01", "--channel", "1", "--node", "0x26", "--rca", "0x1001", "--data", "0x01"]
    r = CliRunner().invoke(app, args, catch_exceptions=False)
    assert r.exit_code != EXIT_OK and sim.models["DV01"].controls == [], "no --yes: nothing sent"
    r = CliRunner().invoke(app, [*args, "--yes", "-f", "json"], catch_exceptions=False)
    assert r.exit_code == EXIT_OK, r.output
    (row,) = json.loads(r.stdout)
    assert (row["point"], row["outcome"]) == ("FEPS.SET_ENABLE_PWR", "sent")
    audit = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["outcome"] for e in audit] == ["refused", "intent", "sent"], "the refusal is audited too"
    assert sim.models["DV01"].controls[-1].point == "FEPS.SET_ENABLE_PWR"


@pytest.mark.parametrize("name, data, want", [
    ("FEPS.OVER_VOLT_P7", b"\x01\x00", 1),  # a FEPS flag has no status byte
    ("FEMC.BAND6_ENABLE", b"\x01\x00\x00", 2),  # u8 + status
    ("FETIM.INT_TEMP1", b"\x41\x80\x00\x00", 5),  # a FEMC float without its status byte
    ("FEPS.V_P7", b"\x40\xe0\x00\x00\x00", 4),  # a FEPS float with one
])  # fmt: skip
def test_a_wrong_length_reply_names_the_point(cat, name, data, want):
    d = cat.point(name).decode(data)
    assert d.value is None
    assert d.error == f"catalog: bad length: {name} expects {want} bytes, got {len(data)}"
