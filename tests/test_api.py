"""The DataFrame API against the simulator over real loopback sockets.

Guards what users build on: values equal what the antennas serve, failures come back
as rows with errors within the deadline, one call works in scripts and inside a
running event loop, and bad names fail before anything is sent.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time

import numpy as np
import pandas as pd
import pytest

import e2ckit
from e2ckit.api import TIDY_COLUMNS
from e2ckit.catalog import default_catalog
from e2ckit.client import Client
from e2ckit.errors import SweepError, ValidationError

ANTS = ["DV01", "DA41", "CM01", "PM02"]


FAULTY = ["DV01", "DV02", "DV03", "CM04"]
pytestmark = pytest.mark.sim_array(ANTS, seed=11, serve=False)  # conftest's `sim`, in memory


@pytest.fixture
def faulty(fresh_sim):
    """A private array for fault tests, so faults never leak into other tests."""
    return fresh_sim(FAULTY, seed=3, serve=False)


@pytest.fixture
def faulty_socket(fresh_sim):
    """``faulty`` on loopback sockets, for what only the socket driver's timing shows."""
    return fresh_sim(FAULTY, seed=3)


def _served(value: object, dtype: str) -> float:
    """What the wire can carry: floats travel as float32."""
    return float(np.float32(value)) if dtype == "f32" else float(value)  # type: ignore[arg-type]


def test_sweep_cryo_values_equal_what_the_simulator_serves(sim) -> None:
    cat = default_catalog()
    wide = e2ckit.sweep("cryo", array=sim)
    points = [p.name for p in cat.resolve("cryo")]
    assert list(wide.index) == sim.antennas == ["CM01", "DA41", "DV01", "PM02"]
    # the derived FEMC.LO_PA_BLOCKED follows the points whose readings it needs (#17)
    assert list(wide.columns) == [*points, "FEMC.LO_PA_BLOCKED", "error"]
    assert wide["error"].isna().all(), wide["error"].tolist()
    for ant in ANTS:
        model = sim.models[ant]
        for name in [f"FEMC.TEMP{k}" for k in range(13)] + ["FEMC.CRYOSTAT_PRESSURE", "FEMC.PORT_PRESSURE"]:
            expected = _served(model.peek(name), "f32")
            assert wide.loc[ant, name] == pytest.approx(expected, rel=1e-6), (ant, name)
    assert wide.attrs["units"]["FEMC.TEMP0"] == "K"
    assert wide.attrs["units"]["FEMC.CRYOSTAT_PRESSURE"] == "mbar"
    # the cold steady state the notes give: 4K stage 2.7-4 K, vacuum 1e-7..1e-6 mbar
    assert wide["FEMC.TEMP0"].between(2.5, 4.5).all()
    assert wide["FEMC.CRYOSTAT_PRESSURE"].between(1e-8, 1e-5).all()


def test_compressor_channel_follows_the_antenna_family(sim) -> None:
    tidy = e2ckit.sweep("cmpr", array=sim, tidy=True)
    assert list(tidy.columns) == TIDY_COLUMNS
    assert tidy["error"].isna().all(), tidy.dropna(subset=["error"])[["antenna", "point", "error"]]
    for ant in ANTS:
        got = tidy[(tidy.antenna == ant) & (tidy.point == "CMPR.SUPPLY_PRESSURE")]["value"].iloc[0]
        assert got == pytest.approx(_served(sim.models[ant].peek("CMPR.SUPPLY_PRESSURE"), "f32"), rel=1e-6)
    assert str(tidy["time"].dt.tz) == "UTC"
    assert (tidy["latency_ms"] > 0).all()


def test_tidy_rows_are_one_per_antenna_and_point(sim) -> None:
    tidy = e2ckit.sweep(["FEMC.TEMP0", "revision"], antennas="DV01,CM", array=sim, tidy=True)
    rev = [p.name for p in default_catalog().resolve("revision")]
    assert set(tidy["antenna"]) == {"DV01", "CM01"}
    assert len(tidy) == 2 * (1 + len(rev))
    assert not tidy.duplicated(["antenna", "point"]).any()


def test_sweep_rows_and_wide_parts_are_sweep_without_pandas(sim) -> None:
    """What the CLI uses: the same readings as sweep(), as TidyRow tuples with UNIX
    times, and a pivot that agrees with the wide frame cell for cell."""
    from e2ckit.api import TidyRow, sweep_rows, wide_parts

    rows = sweep_rows("cryo", array=sim)
    tidy = e2ckit.sweep("cryo", array=sim, tidy=True)
    assert rows and all(type(r) is TidyRow for r in rows) and len(rows) == len(tidy)
    assert all(isinstance(r.time, float) for r in rows)
    assert [(r.antenna, r.point, r.text, r.error) for r in rows] == list(
        tidy[["antenna", "point", "text", "error"]].itertuples(index=False, name=None)
    )
    w = wide_parts(rows)
    wide = e2ckit.sweep("cryo", array=sim)
    assert w.antennas == list(wide.index) and w.points == [c for c in wide.columns if c != "error"]
    assert np.allclose(np.array(w.values), wide[w.points].to_numpy(), equal_nan=True)
    assert w.errors == list(wide["error"]) and w.units == wide.attrs["units"]


def test_read_one_antenna(sim) -> None:
    df = e2ckit.read("pm02", ["FEMC.TEMP5", "FEMC.VACUUM_GAUGE"], array=sim)
    assert list(df["point"]) == ["FEMC.TEMP5", "FEMC.VACUUM_GAUGE"]
    assert (df["antenna"] == "PM02").all()
    gauge = df.set_index("point").loc["FEMC.VACUUM_GAUGE"]
    assert gauge["value"] == sim.models["PM02"].peek("FEMC.VACUUM_GAUGE")
    assert gauge["text"] == ("ON" if gauge["value"] == 1 else "OFF")


def test_down_and_silent_antennas_each_give_error_rows_within_the_deadline(faulty) -> None:
    faulty.fault("DV02", "down")
    faulty.fault("DV03", "silent")
    deadline = 0.8
    t0 = time.monotonic()
    wide = e2ckit.sweep("cryo", array=faulty, timeout=0.3, deadline=deadline)
    elapsed = time.monotonic() - t0
    assert elapsed < deadline + 0.5, f"sweep took {elapsed:.2f} s with a {deadline} s deadline"
    assert wide.loc["DV01", "error"] is None and wide.loc["CM04", "error"] is None
    assert not math.isnan(wide.loc["DV01", "FEMC.TEMP0"])
    assert wide.loc["DV02", "error"].startswith("refused")
    assert wide.loc["DV03", "error"].startswith("timeout") or wide.loc["DV03", "error"].startswith("deadline")
    assert wide.loc[["DV02", "DV03"], "FEMC.TEMP0"].isna().all()
    assert f"all {len(default_catalog().resolve('cryo'))} points" in wide.loc["DV03", "error"]


def test_a_silent_antenna_costs_the_deadline_not_a_timeout_per_point(faulty) -> None:
    faulty.fault("DV01", "silent")
    t0 = time.monotonic()
    tidy = e2ckit.sweep("cryo", antennas=["DV01"], array=faulty, timeout=0.5, deadline=0.5, tidy=True)
    assert time.monotonic() - t0 < 1.0  # 25 points × 0.5 s would be 12.5 s
    assert tidy["error"].notna().all() and len(tidy) == len(default_catalog().resolve("cryo")) == 28


def test_a_silent_antenna_times_out_after_the_request_timeout_well_before_the_deadline(faulty_socket) -> None:
    """Per-request timeouts are found by a periodic scan (every timeout/50): the silent
    antenna's first request fails once its timeout has passed, not at the deadline."""
    faulty = faulty_socket
    faulty.fault("DV03", "silent")
    t0 = time.monotonic()
    tidy = e2ckit.sweep("cryo", array=faulty, timeout=0.2, deadline=5.0, tidy=True)
    elapsed = time.monotonic() - t0
    assert 0.2 <= elapsed < 1.0, f"took {elapsed:.2f} s with a 0.2 s timeout and a 5 s deadline"
    dv03 = tidy[tidy.antenna == "DV03"]
    assert dv03.error.str.startswith("timeout").all()
    assert tidy[tidy.antenna != "DV03"].error.isna().all()


def test_an_e2c_error_on_one_point_leaves_the_others(faulty) -> None:
    faulty.fault("CM04", "error", code=5011, node=0x13, rca=0x0C004)
    tidy = e2ckit.read("CM04", "cryo", array=faulty)
    bad = tidy[tidy.point == "FEMC.TEMP1"].iloc[0]
    assert bad["error"].startswith("E2C:CANREAD_ERROR") and math.isnan(bad["value"])
    assert tidy[tidy.point != "FEMC.TEMP1"]["error"].isna().all()


def test_engine_columns_hold_every_reply_or_why_there_is_none(faulty) -> None:
    """``fanout_columns`` (the logger's path): one entry per request in plan order, the
    reply bytes where a valid reply came (E2C errors included), else the failure; and
    ``results()`` says the same as the Results a sweep makes."""
    from e2ckit import transport
    from e2ckit.wire.frames import monitor_request

    faulty.fault("CM04", "error", code=5011, node=0x13, rca=0x0C004)
    faulty.fault("DV02", "down")
    faulty.fault("DV03", "garbage")
    arr = faulty.array
    reqs = [monitor_request(p.channel_for("DV01"), p.node, p.rca) for p in default_catalog().resolve("cryo")]
    plan = {a: (arr[a], reqs) for a in arr.antennas}
    cols = transport.exchange(plan, timeout=0.5)
    for a, ex in cols.items():
        assert ex.antenna == a and list(ex.requests) == reqs
        assert len(ex.raw) == len(ex.sent) == len(ex.latency) == len(reqs)
        assert {i for i, raw in enumerate(ex.raw) if raw is None} == set(ex.failed)
        assert all(len(raw) == 13 for raw in ex.raw if raw is not None)
        assert all((lat is None) == (i in ex.failed) for i, lat in enumerate(ex.latency))
    assert not cols["DV01"].failed
    assert {code for code, _ in cols["DV02"].failed.values()} == {"refused"}
    assert cols["DV03"].failed and {code for code, _ in cols["DV03"].failed.values()} <= {"protocol", "closed"}
    cm = cols["CM04"]
    e2c_errors = [raw for raw in cm.raw if raw is not None and raw[:4] != bytes(4)]
    assert [struct.unpack(">IB", raw[:5]) for raw in e2c_errors] == [(5011, 0)] and not cm.failed
    made = transport.exchange_results(plan, timeout=0.5)
    for a, ex in cols.items():
        got = [(r.request, r.error, r.reply) for r in ex.results()]
        want = [(r.request, r.error, r.reply) for r in made[a]]
        if a == "DV03":  # garbage is random bytes: failures both times, not the same ones
            assert all(e is not None and reply is None for _, e, reply in got + want)
        else:  # the same bytes both times (a clock that stands still)
            assert got == want


def test_progress_is_called_once_per_antenna_as_each_finishes(faulty) -> None:
    faulty.fault("DV02", "down")
    calls: list[tuple[int, int, str]] = []
    wide = e2ckit.sweep("cryo", array=faulty, timeout=0.5, progress=lambda *a: calls.append(a))
    total = len(faulty.array.antennas)
    assert [(d, t) for d, t, _ in calls] == [(k, total) for k in range(1, total + 1)]
    assert sorted(a for _, _, a in calls) == sorted(faulty.array.antennas)
    assert wide.loc["DV02", "error"].startswith("refused") and wide.loc["DV01", "error"] is None


def test_split_replies_are_read_exactly(faulty) -> None:
    faulty.fault("DV01", "split")
    tidy = e2ckit.read("DV01", "cryo", array=faulty)
    assert tidy["error"].isna().all()


def test_raise_on_error_carries_the_frame(faulty) -> None:
    faulty.fault("DV02", "down")
    with pytest.raises(SweepError, match="DV02") as info:
        e2ckit.sweep("revision", array=faulty, timeout=0.3, raise_on_error=True)
    frame = info.value.frame
    assert set(frame["antenna"]) == {"DV01", "DV02", "DV03", "CM04"}
    assert frame[frame.antenna == "DV01"]["error"].isna().all()


def test_sweep_works_inside_a_running_event_loop(sim) -> None:
    async def notebook_cell():
        # A Jupyter cell runs inside the kernel's loop: the sync call must still work…
        wide = e2ckit.sweep("revision", array=sim)
        # …and async code can await the async flavour.
        tidy = await e2ckit.asweep("revision", array=sim, tidy=True)
        return wide, tidy

    wide, tidy = asyncio.run(notebook_cell())
    assert wide["error"].isna().all()
    assert tidy["error"].isna().all() and set(tidy["antenna"]) == set(ANTS)


def test_control_effects_show_in_the_next_sweep_as_status_not_values(faulty_socket) -> None:
    faulty = faulty_socket
    cat = default_catalog()
    ep = faulty.array["DV01"]
    p = cat.point("FEMC.SET_BACKING_PUMP")
    with Client(ep.host, ep.port) as c:
        c.control(p.channel_for("DV01"), p.node, p.rca, b"\x00", confirm=True)
    tidy = e2ckit.read("DV01", ["FEMC.BACKING_PUMP", "FEMC.TURBO_PUMP", "FEMC.SUPPLY_CURRENT_230V"], array=faulty)
    rows = tidy.set_index("point")
    assert rows.loc["FEMC.BACKING_PUMP", "value"] == 0
    for name in ("FEMC.TURBO_PUMP", "FEMC.SUPPLY_CURRENT_230V"):
        assert math.isnan(rows.loc[name, "value"]), name
        assert "-3" in rows.loc[name, "status"], rows.loc[name, "status"]
        assert rows.loc[name, "error"] is None  # the E2C answered; the hardware said "blocked"
        # blocked is the expected state while the backing pump is off: ok, as every face judges it
        assert rows.loc[name, "limit"] == "ok"


def test_minimum_time_sentinel_gives_no_value_but_a_note(faulty) -> None:
    model = faulty.models["CM04"]
    now = faulty.clock.now()
    model.power_off(now + 10)
    model.power_on(now + 20)  # the compressor powers up with the E2C: its timer restarts
    faulty.clock.advance(seconds=80)
    early = e2ckit.read("CM04", ["CMPR.TIME_SINCE_POWER_ON"], array=faulty).iloc[0]
    assert early["error"] is None
    assert 0 <= early["value"] < 180, early["text"]
    faulty.clock.advance(seconds=600)  # past the 180 s minimum on-time
    late = e2ckit.read("CM04", ["CMPR.TIME_SINCE_POWER_ON"], array=faulty).iloc[0]
    assert struct.unpack(">I", late["raw"])[0] == 0xFFFFFFFF
    assert math.isnan(late["value"]) and "elapsed" in late["text"] and late["status"] == "ok"


def test_dynamic_temps_group_reads_every_node_present(sim) -> None:
    wide = e2ckit.sweep("temps", antennas="DV01", array=sim)
    listed = e2ckit.nodes("DV01", array=sim)
    assert wide.shape[1] - 1 == len(listed), (list(wide.columns), len(listed))
    vals = wide.drop(columns="error").iloc[0]
    assert vals.between(0, 60).all(), vals


def test_nodes_and_inventory(sim) -> None:
    df = e2ckit.nodes(["DV01", "CM01"], array=sim)
    assert df["error"].isna().all()
    dv = df[df.antenna == "DV01"]
    assert set(dv.loc[dv.lru == "CMPR", "channel"]) == {2}
    assert set(df[(df.antenna == "CM01") & (df.lru == "CMPR")]["channel"]) == {3}
    assert dv["esn"].str.match(r"^0x[0-9A-F]{16}$").all()
    inv = e2ckit.inventory(["DV01", "CM01"], array=sim)
    assert set(inv["state"]) == {"ok"}, inv[inv.state != "ok"]


def test_inventory_names_a_missing_lru_and_an_unreachable_antenna(faulty) -> None:
    faulty.models["DV01"].set_missing("FEPS")
    faulty.fault("DV02", "down")
    inv = e2ckit.inventory(["DV01", "DV02"], array=faulty, timeout=0.3)
    dv1 = inv[inv.antenna == "DV01"].set_index("lru")
    assert dv1.loc["FEPS", "state"] == "missing"
    assert (dv1.drop(index="FEPS")["state"] == "ok").all()
    assert set(inv[inv.antenna == "DV02"]["state"]) == {"unreachable"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"what": "cyro"}, "cyro"),
        ({"what": ["FEMC.TEMP0", "FEMC.NOPE"]}, "FEMC.NOPE"),
        ({"what": "cryo", "antennas": "XX99"}, "XX99"),
        ({"what": "cryo", "antennas": "DV77"}, "DV77"),
        ({"what": []}, "nothing to read"),
        ({"what": 123}, "what must be a group or point name"),
        ({"what": None}, "what must be a group or point name"),
        ({"what": "cryo", "antennas": 5}, "antennas must be names"),
        ({"what": "cryo", "timeout": "1"}, "timeout must be a positive number of seconds, got '1'"),
        ({"what": "cryo", "timeout": 0}, "timeout must be a positive number"),
        ({"what": "cryo", "deadline": float("nan")}, "deadline must be a positive number"),
        ({"what": "cryo", "concurrency": 0}, "concurrency must be a whole number"),
    ],
)
def test_bad_names_fail_before_anything_is_sent(sim, kwargs: dict, message: str) -> None:
    before = sim.requests_served()
    with pytest.raises(ValidationError, match=message):
        e2ckit.sweep(array=sim, **kwargs)
    assert sim.requests_served() == before


def test_style_marks_alarms(faulty) -> None:
    wide = e2ckit.sweep("cryo", antennas="DV01", array=faulty)
    wide.attrs["limits"]["DV01"]["FEMC.TEMP0"] = "alarm"
    html = e2ckit.style(wide).to_html()
    assert "#f8d0d0" in html and "FEMC.TEMP0 [K]" in html


def test_wide_is_a_pivot_of_tidy(sim) -> None:
    tidy = e2ckit.sweep("cmpr", array=sim, tidy=True)
    wide = e2ckit.to_wide(tidy)
    back = wide.drop(columns="error").stack(future_stack=True).rename("value").reset_index()
    back.columns = ["antenna", "point", "value"]
    merged = tidy[["antenna", "point", "value"]].merge(back, on=["antenna", "point"], suffixes=("", "_w"))
    assert len(merged) == len(tidy)
    pd.testing.assert_series_equal(merged["value"], merged["value_w"], check_names=False)


def test_a_powered_off_antenna_is_refused_at_once_and_returns_with_power(faulty) -> None:
    now = faulty.clock.now()
    faulty.models["DV02"].power_off(now)
    t0 = time.monotonic()
    tidy = e2ckit.sweep("cryo", antennas="DV01,DV02", array=faulty, timeout=2.0, deadline=4.0, tidy=True)
    assert time.monotonic() - t0 < 1.5, "a powered-off E2C must not cost a timeout"
    down = tidy[tidy.antenna == "DV02"]
    assert down["error"].str.startswith("refused").all() and down["value"].isna().all()
    assert tidy[tidy.antenna == "DV01"]["error"].isna().all()
    faulty.models["DV02"].power_on(now + 60)
    faulty.clock.advance(seconds=120)
    back = e2ckit.read("DV02", ["FEMC.TEMP0", "CMPR.DRIVE"], array=faulty)
    assert back["error"].isna().all()
    assert back.set_index("point").loc["CMPR.DRIVE", "value"] == 0  # drive stays off until commanded


def _most_at_once(tidy: pd.DataFrame) -> int:
    """The most antennas with a request in flight at one moment (from send times and latencies)."""
    spans = []
    for _, g in tidy.groupby("antenna"):
        sent = [t.timestamp() for t in g["time"]]
        spans.append((min(sent), max(t + lat / 1e3 for t, lat in zip(sent, g["latency_ms"], strict=True))))
    return max(sum(1 for s0, e0 in spans if s0 <= s1 < e0) for s1, _ in spans)


def test_concurrency_caps_antennas_in_flight_and_the_default_takes_the_whole_array(fresh_sim) -> None:
    """``concurrency`` caps how many antennas are talked to at once; by default it is
    above ALMA's 66, so a whole-array sweep goes in one wave instead of leaving the last
    antennas to wait for the first."""
    ants = ["DV01", "DV02", "DV03", "DV04", "DV05", "DV06"]
    s = fresh_sim(ants, latency=0.005)
    points = ["FEMC.TEMP0", "FEMC.TEMP1", "FEMC.TEMP2"]
    capped = e2ckit.sweep(points, array=s, tidy=True, concurrency=2)
    assert capped["error"].isna().all() and len(capped) == 18
    assert _most_at_once(capped) == 2
    whole = e2ckit.sweep(points, array=s, tidy=True)
    assert _most_at_once(whole) == len(ants)
    from e2ckit.transport import engine

    assert engine.DEFAULT_CONCURRENCY > 66


# -- impossible node ids in a listing (issue 13 item 8) -------------------------------------


def test_impossible_node_ids_are_listed_with_an_error_and_everything_else_is_swept():
    """A listing naming node 0x7FF or 0xFFFFFFFF (no CAN id can address them: node + 1
    must fit 11 bits) used to fail ``sweep("temps")`` for the whole array."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import pandas as pd
    from fake_e2c import FakeE2C

    from e2ckit.array import Array, Endpoint

    with FakeE2C(listing=(0x13, 0x7FF, 0xFFFFFFFF, 0x22)) as e2c:
        arr = Array([Endpoint("DV01", e2c.host, e2c.port)])
        found = e2ckit.nodes(array=arr, channels=[0], timeout=1.0)
        assert found["node"].tolist() == [0x13, 0x7FF, 0xFFFFFFFF, 0x22]
        errors = dict(zip(found["node"], found["error"], strict=True))
        assert pd.isna(errors[0x13]) and pd.isna(errors[0x22])
        assert errors[0x7FF] == (
            "protocol: the node listing of channel 0 names node 0x7FF, which no CAN id can address (0x0..0x7FE)"
        )
        assert "0xFFFFFFFF" in errors[0xFFFFFFFF]
        inv = e2ckit.inventory(array=arr, found=found)
        assert "unreachable" not in set(inv["state"]), "a bad node does not make its channel unreachable"

        rows = e2ckit.sweep("temps", array=arr, timeout=1.0, tidy=True)
        listing = rows[rows["point"] == "(node listing)"]
        # channels 0-4 each list the two impossible nodes
        assert len(listing) == 10 and listing["error"].str.startswith("protocol: the node listing").all()
        read = rows[rows["point"] != "(node listing)"]
        assert {"FEMC[0x13].AMBIENT_TEMP", "LORR[0x22].AMBIENT_TEMP"} <= set(read["point"])
        assert read["error"].isna().all()


def test_rows_follow_the_antennas_asked_not_who_answered_first(faulty):
    """A dynamic group lists each antenna's nodes first and reads them as the listing comes
    in; the rows still come in the order asked (a notebook's stored output depends on it)."""
    faulty.fault("DV01", "slow", delay=0.02)  # DV01 answers last
    tidy = e2ckit.sweep("temps", ["DV01", "DV02", "DV03"], array=faulty, tidy=True)
    assert list(dict.fromkeys(tidy["antenna"])) == ["DV01", "DV02", "DV03"]
