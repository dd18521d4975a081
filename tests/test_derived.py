"""Derived conditions (issue #17): the FEMC's 30 K LO power-amplifier interlock as data,
and a reply whose length does not fit its catalog entry as a catalog problem.

Firmware rule (ALMA-FEMC paChannel.c): PA drain-voltage commands are refused unless TEMP0
(4K cryocooler) or TEMP5 (15K cryocooler) reads a valid value below 30 K; valid means
0 < T < 350 K (cryostat.h CRYOSTAT_TEMP_SANITY_CHECK). No other sensor takes part.
"""

from __future__ import annotations

import math
from importlib import resources

import pytest

import e2ckit
from e2ckit.catalog import SHIPPED_FILES, default_catalog, load_files
from e2ckit.errors import ValidationError

H = 3600.0
OK = "ok"
BLOCKED_STATUS = "blocked: hardware state, interlock, maintenance mode or async monitoring off"


@pytest.fixture
def pa():
    return default_catalog().derived["FEMC.LO_PA_BLOCKED"]


def test_condition_is_catalog_data(pa):
    assert pa.inputs == ("FEMC.TEMP0", "FEMC.TEMP5") and pa.threshold == 30
    assert "paChannel.c" in pa.limit_source and pa.source == "firmware"


@pytest.mark.parametrize(
    "temp0, temp5, value, limit",
    [
        ((3.2, OK), (14.0, OK), 0.0, "ok"),
        ((31.0, OK), (14.0, OK), 0.0, "ok"),  # the 15K cryocooler alone allows them
        ((3.2, OK), (80.0, OK), 0.0, "ok"),
        ((30.0, OK), (30.0, OK), 1.0, "alarm"),  # 30 K is not below 30 K
        ((None, BLOCKED_STATUS + " (-3)"), (45.0, OK), 1.0, "alarm"),  # warm TEMP5 + unreadable TEMP0
        ((-1.0, OK), (45.0, OK), 1.0, "alarm"),  # outside the firmware's sanity range
        ((400.0, OK), (3.0, OK), 0.0, "ok"),
        (None, (45.0, OK), None, "unavailable"),  # TEMP0 not read at all: cannot tell
        (None, (14.0, OK), 0.0, "ok"),  # ...unless the other one already allows them
    ],
)
def test_pa_interlock_rule(pa, temp0, temp5, value, limit):
    d = pa.evaluate({"FEMC.TEMP0": temp0, "FEMC.TEMP5": temp5})
    assert d.value == value and d.limit == limit
    assert d.text == {0.0: "ALLOWED", 1.0: "BLOCKED", None: "unknown"}[value]


def test_a_warm_4k_plate_sensor_blocks_nothing(pa):
    """TEMP1–TEMP4 used to carry a 'firmware' 30 K alarm; the firmware never reads them."""
    cat = default_catalog()
    assert all(cat.point(f"FEMC.TEMP{k}").limit_state(80.0) != "alarm" for k in range(1, 5))
    assert pa.evaluate({"FEMC.TEMP0": (3.0, OK), "FEMC.TEMP5": (14.0, OK), "FEMC.TEMP3": (80.0, OK)}).value == 0.0


def test_bad_derived_rows_are_named(pa):
    shipped = resources.files("e2ckit.catalog") / "data"
    points = ("points.csv", (shipped / "points.csv").read_text(encoding="utf-8"))
    head = "name,inputs,rule,threshold,source\n"
    for row, field in (
        ("FEMC.X,FEMC.TEMP99,all_at_or_above,30,firmware", "inputs"),
        ("FEMC.X,FEMC.TEMP0,most_of,30,firmware", "rule"),
        ("FEMC.X,FEMC.TEMP0,all_at_or_above,,firmware", "threshold"),
        ("FEMC.TEMP1,FEMC.TEMP0,all_at_or_above,30,firmware", "name"),
    ):
        with pytest.raises(ValidationError, match=f"user.csv:2: field '{field}'"):
            load_files([points, ("user.csv", head + row)])


def test_sweep_and_wide_frame_show_the_pa_interlock(fresh_sim):
    sim = fresh_sim(["DV01", "DV02"], seed=3)
    tidy = e2ckit.sweep("cryo", array=sim, tidy=True)
    rows = tidy[tidy.point == "FEMC.LO_PA_BLOCKED"].set_index("antenna")
    assert list(rows.index) == ["DV01", "DV02"]
    assert (rows.value == 0.0).all() and (rows.text == "ALLOWED").all() and (rows.limit == "ok").all()
    # DV02 loses power for three hours: both cryocoolers warm past 30 K
    model = sim.models["DV02"]
    model.power_off(sim.clock.now())
    model.power_on(sim.clock.now() + 3 * H)
    sim.clock.advance(3 * H + 60)
    wide = e2ckit.sweep("cryo", array=sim)
    assert "FEMC.LO_PA_BLOCKED" in wide.columns
    assert wide.loc["DV02", "FEMC.TEMP0"] >= 30 and wide.loc["DV02", "FEMC.TEMP5"] >= 30
    assert wide.loc["DV02", "FEMC.LO_PA_BLOCKED"] == 1.0
    assert wide.attrs["limits"]["DV02"]["FEMC.LO_PA_BLOCKED"] == "alarm"
    assert wide.attrs["text"]["DV02"]["FEMC.LO_PA_BLOCKED"] == "BLOCKED"
    assert wide.attrs["limits"]["DV01"]["FEMC.LO_PA_BLOCKED"] == "ok"
    # a sweep without both inputs has no such column
    assert "FEMC.LO_PA_BLOCKED" not in e2ckit.sweep("FEMC.TEMP0", array=sim).columns


def test_bad_length_is_a_catalog_error_row(fresh_sim):
    """The historical defect: a catalog that expects COLDHEAD_HOURS as a u32 (5 bytes)
    against a FEMC that sends a u16 (3 bytes) gives an error row naming the point and both
    lengths, of kind 'catalog' — not a hardware fault, not a silent NaN."""
    shipped = resources.files("e2ckit.catalog") / "data"
    texts = {n: (shipped / n).read_text(encoding="utf-8") for n in SHIPPED_FILES}
    wrong = texts["points.csv"].replace("FEMC.COLDHEAD_HOURS,monitor,FEMC,1,0x13,0x0C04C,u16,", "FEMC.COLDHEAD_HOURS,monitor,FEMC,1,0x13,0x0C04C,u32,")
    assert wrong != texts["points.csv"]
    texts["points.csv"] = wrong
    cat = load_files(texts.items())
    sim = fresh_sim(["DV01"])
    tidy = e2ckit.sweep(["FEMC.COLDHEAD_HOURS", "FEMC.TEMP0"], array=sim, tidy=True, catalog=cat).set_index("point")
    row = tidy.loc["FEMC.COLDHEAD_HOURS"]
    assert row.error == "catalog: bad length: FEMC.COLDHEAD_HOURS expects 5 bytes, got 3"
    assert math.isnan(row.value) and row.status == "bad length" and len(row.raw) == 3
    assert not isinstance(tidy.loc["FEMC.TEMP0"].error, str), "the other point reads fine"
    wide = e2ckit.sweep(["FEMC.COLDHEAD_HOURS"], array=sim, catalog=cat)
    assert "catalog: bad length: FEMC.COLDHEAD_HOURS expects 5 bytes, got 3" in wide.loc["DV01", "error"]
    # and with the shipped catalog the same reply is a good reading
    good = e2ckit.sweep(["FEMC.COLDHEAD_HOURS"], array=sim, tidy=True).iloc[0]
    assert not isinstance(good.error, str) and good.value == sim.models["DV01"].peek("FEMC.COLDHEAD_HOURS")


def test_a_logger_stores_the_catalog_error_of_a_reply_that_does_not_fit(fresh_sim, tmp_path):
    """The logged rows say what a sweep's rows say: the 'catalog:' error, not a bare status."""
    from e2ckit.clock import SimClock

    shipped = resources.files("e2ckit.catalog") / "data"
    texts = {n: (shipped / n).read_text(encoding="utf-8") for n in SHIPPED_FILES}
    texts["points.csv"] = texts["points.csv"].replace("FEMC.COLDHEAD_HOURS,monitor,FEMC,1,0x13,0x0C04C,u16,", "FEMC.COLDHEAD_HOURS,monitor,FEMC,1,0x13,0x0C04C,u32,")
    cat = load_files(texts.items())
    sim = fresh_sim(["DV01"])
    st = e2ckit.Logger(["FEMC.COLDHEAD_HOURS", "FEMC.TEMP0"], array=sim, interval=60, path=tmp_path,
                       clock=SimClock(rate=None), catalog=cat).run(cycles=1)
    log = e2ckit.load(tmp_path).set_index("point")
    assert log.loc["FEMC.COLDHEAD_HOURS", "error"] == "catalog: bad length: FEMC.COLDHEAD_HOURS expects 5 bytes, got 3"
    assert log.loc["FEMC.COLDHEAD_HOURS", "status"] == "bad length"
    assert not isinstance(log.loc["FEMC.TEMP0", "error"], str)
    assert st.errors == 1


def test_explain_names_a_catalog_problem():
    from e2ckit.analysis import explain

    text = explain("catalog: bad length: FEMC.COLDHEAD_HOURS expects 5 bytes, got 3")
    assert text.startswith("a catalog problem, not a hardware fault")
