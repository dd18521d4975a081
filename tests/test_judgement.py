"""One judgement (issue 22): every face of e2ckit gives a reading the state that
:func:`e2ckit.catalog.limits.judge` gives it, and every explanation is rendered from findings
whose claims hold for their numbers."""

from __future__ import annotations

import functools
import itertools
import math
import os
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2ckit import api
from e2ckit.catalog import default_catalog
from e2ckit.catalog.limits import SITE_ENV, Finding, Reading, judge, judge_values, limits_in_force, load_limits
from e2ckit.panels.data import limit_states
from e2ckit.transport.engine import Result
from e2ckit.triage.alarms import alarms
from e2ckit.triage.board import board_frame
from e2ckit.triage.diagnose import _LIMIT_TO_VERDICT, diagnose_rows
from e2ckit.wire.frames import Mode, Reply, Request

CAT = default_catalog()
_files = itertools.count()

@st.composite
def bounds(draw):
    """Nested bounds (alarm outside warn), any of them absent."""
    al, wl, wh, ah = sorted(draw(st.lists(st.floats(-50, 400, allow_nan=False).map(lambda x: round(x, 2)), min_size=4, max_size=4)))
    keep = draw(st.lists(st.booleans(), min_size=4, max_size=4))
    return {k: (v if on else None) for (k, v), on in zip({"alarm_low": al, "warn_low": wl, "warn_high": wh, "alarm_high": ah}.items(), keep, strict=True)}


def _site_file(tmp_path, b: dict) -> str:
    path = tmp_path / f"site-{next(_files)}.csv"
    cells = ["-" if b[k] is None else repr(b[k]) for k in ("warn_low", "warn_high", "alarm_low", "alarm_high")]
    path.write_text("point,warn_low,warn_high,alarm_low,alarm_high\nFEMC.TEMP0," + ",".join(cells) + "\n", encoding="utf-8")
    return str(path)


def _results(antenna: str, values: dict[str, float | str]) -> tuple[dict, dict]:
    """What the engine gives for one antenna whose points answered ``values``."""
    pts, res = [], []
    for name, v in values.items():
        p = CAT.point(name)
        req = Request(p.channel_for(antenna), p.node, p.rca, Mode.MONITOR)
        res.append(Result(antenna, req, Reply(0, p.encode(v)), None, None, 1.7e9, 0.001))
        pts.append(p)
    return {antenna: pts}, {antenna: res}


@functools.lru_cache(maxsize=1)
def healthy_rows() -> tuple:
    """A diagnose() sweep of a healthy simulated antenna: every reading ok, every verdict ok."""
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock
    from e2ckit.triage.diagnose import DIAGNOSE_WHAT

    with SimulatedArray(["DV01", "DV02", "DV03"], seed=2026, clock=SimClock(rate=None)) as sim:
        rows = api.sweep_rows(DIAGNOSE_WHAT, "DV01,DV02,DV03", array=sim)
    d = diagnose_rows(rows, limits=False)
    assert set(d["verdict"]) == {"ok"}, d[d["verdict"] != "ok"].to_string()
    assert alarms(api._frame(rows), limits=False).empty
    return tuple(r for r in rows if r.antenna == "DV01")


def _with(values: dict[str, float | str]) -> list:
    """The healthy antenna's rows with ``values`` read instead (decoded as a sweep decodes)."""
    fresh = {r.point: r for r in api._tidy_rows(*_results("DV01", values), {}) if r.point in values}
    return [fresh.get(r.point, r) for r in healthy_rows()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    b=bounds(),
    t0=st.floats(0.5, 390, allow_nan=False),
    t9=st.floats(40, 300, allow_nan=False),
    drive=st.sampled_from(["OFF", "RUNNING"]),
)
def test_every_face_gives_the_one_judgement(tmp_path, b, t0, t9, drive):
    site = _site_file(tmp_path, b)
    old = os.environ.get(SITE_ENV)
    os.environ[SITE_ENV] = site
    try:
        lim = load_limits(None)
        values = {"FEMC.TEMP0": t0, "FEMC.TEMP9": t9, "CMPR.DRIVE": drive}
        from e2ckit.catalog.limits import judge_rows

        rows = judge_rows(_with(values), lim)  # the sweep's own last step (api._tidy_rows)
        readings = {r.point: Reading(r.value, r.text, r.status, r.error) for r in rows}
        want = {p: judge(p, readings[p], readings, limits=lim).state for p in values}
        # the sweep's limit column (tidy and wide), and so the CLI's markers
        assert {r.point: r.limit for r in rows if r.point in values} == want
        assert {p: r.limit for p, r in zip(values, api._tidy_rows(*_results("DV01", values), {}), strict=False)} == want
        wide = api._wide_frame(api.wide_parts(rows))
        assert {p: wide.attrs["limits"]["DV01"][p] for p in values} == want
        # style(): the cell's colour is the state's
        styled = api.style(wide)._compute().ctx
        col = list(wide.columns).index("FEMC.TEMP0")
        shown = dict(styled.get((0, col), []))
        expected_css = api._LIMIT_STYLE.get(want["FEMC.TEMP0"], "")
        assert ("background-color" in shown) == ("background-color" in expected_css)
        # the panels' colours
        read = readings["FEMC.TEMP0"].value  # as the sweep decoded it (an f32)
        assert limit_states("FEMC.TEMP0", [read])[0] == want["FEMC.TEMP0"]
        assert judge_values("FEMC.TEMP0", [read], lim)[0] == want["FEMC.TEMP0"]
        # alarms(): a row for each reading that is not ok, with that state
        a = alarms(api._frame(rows), limits=lim)
        assert dict(zip(a["point"], a["limit"], strict=True)) == {p: s for p, s in want.items() if s != "ok"}
        # diagnose()/check: the subsystems' verdicts are their readings' states
        d = diagnose_rows(rows, limits=lim).set_index("subsystem")
        assert d.at["cryostat", "verdict"] == _LIMIT_TO_VERDICT[max(want["FEMC.TEMP0"], want["FEMC.TEMP9"], key=_order)]
        assert d.at["compressor", "verdict"] == _LIMIT_TO_VERDICT[want["CMPR.DRIVE"]]
        # the board over a one-cycle log of the same readings
        log = api._frame(rows).drop(columns=["limit", "text"])
        log["time"] = log["time"].min()  # a logger stamps a cycle's rows with one time
        board = board_frame(log, limits=lim).set_index("antenna")
        assert board.at["DV01", "verdict"] == _LIMIT_TO_VERDICT[max(want.values(), key=_order)]
    finally:
        if old is None:
            os.environ.pop(SITE_ENV, None)
        else:
            os.environ[SITE_ENV] = old


def test_style_copies_the_frames_attrs_a_few_times_not_once_per_column():
    """pandas deep-copies ``attrs`` into every column taken from a frame: a 66-antenna
    diagnose sweep (146 columns) spent 0.7 s in style() copying its limits and texts."""
    copies = []

    class Probe:
        def __deepcopy__(self, memo):
            copies.append(1)
            return self

    antennas = [f"DV{i:02d}" for i in range(1, 67)]
    points = [f"FEMC.TEMP{j}" for j in range(146)]
    wide = pd.DataFrame({p: [float(i) for i in range(66)] for p in points}, index=pd.Index(antennas, name="antenna"))
    wide.attrs = {"limits": {a: {p: "ok" for p in points} for a in antennas}, "units": {p: "K" for p in points},
                  "probe": Probe()}  # fmt: skip
    wide.attrs["limits"]["DV07"]["FEMC.TEMP3"] = "alarm"
    ctx = api.style(wide)._compute().ctx
    assert len(copies) <= 3, f"attrs copied {len(copies)} times for {len(points)} columns"
    assert dict(ctx[(6, 3)])["background-color"] == "#f8d0d0" and (5, 3) not in ctx
    assert wide.attrs["probe"] is not None and len(wide.attrs["limits"]) == 66  # the caller's frame is left whole


def _order(state: str) -> int:
    return {"ok": 0, "unavailable": 1, "warn": 2, "alarm": 3}[state]


# -- findings: each rendered claim holds for its numbers ------------------------------------

_NUM = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_CLAIM = re.compile(rf"^(?P<point>\S+) (?P<value>{_NUM})(?: K)? (?P<op>[<>≤≥]) (?:warn |alarm )?(?P<bound>{_NUM})(?: K)?$")
_OPS = {"<": float.__lt__, ">": float.__gt__, "≤": float.__le__, "≥": float.__ge__}


@given(b=bounds(), value=st.floats(-60, 420, allow_nan=False))
@settings(max_examples=300, deadline=None)
def test_each_claim_holds_for_the_numbers_it_shows(b, value):
    from dataclasses import replace

    lim = limits_in_force(False)
    lim = _with_bounds(lim, b)
    text = f"{value:.2f}"
    f = judge("FEMC.TEMP0", Reading(value, text), limits=lim)
    assert f.holds()
    if f.state == "ok":
        assert f.reason == ""
        return
    m = _CLAIM.match(f.claim())
    assert m, f.claim()
    shown, bound = float(m["value"]), float(m["bound"])
    assert _OPS[m["op"]](shown, bound), f.claim()
    assert bound == f.bound and replace(f, value=shown).holds()


def _with_bounds(lim, b):
    """A Limits whose FEMC.TEMP0 bounds are ``b`` (a site file's, in memory)."""
    import copy

    from e2ckit.catalog.limits import Bounds

    out = copy.copy(lim)
    out.site_bounds = {**lim.site_bounds, "FEMC.TEMP0": Bounds(None, None, b["warn_low"], b["warn_high"], b["alarm_low"], b["alarm_high"], "test")}
    return out


@given(
    t0=st.one_of(st.just(0.0), st.floats(0, 400, allow_nan=False)),
    t5=st.one_of(st.just(0.0), st.floats(0, 400, allow_nan=False)),
)
def test_the_interlocks_claims_hold_for_its_inputs(t0, t5):
    """Item 7: stages reading 0.00 K were explained as "above their cold range ... TEMP0 and
    TEMP5 >= 30 K". The interlock's finding names each input with the comparison that holds."""
    readings = {"FEMC.TEMP0": Reading(t0, f"{t0:.2f}"), "FEMC.TEMP5": Reading(t5, f"{t5:.2f}")}
    d = CAT.derived["FEMC.LO_PA_BLOCKED"]
    dec = d.evaluate({k: (r.value, "ok") for k, r in readings.items()})
    readings["FEMC.LO_PA_BLOCKED"] = Reading(dec.value, dec.text)
    f = judge("FEMC.LO_PA_BLOCKED", readings["FEMC.LO_PA_BLOCKED"], readings)
    assert f.state == dec.limit and f.holds()
    for part in f.parts:
        assert part.holds(), part
        claim = part.claim()
        if part.comparison == "outside":
            assert "invalid" in claim and not 0 < part.value < 350
        else:
            assert (">=" in part.comparison) == (part.value >= 30)
            assert "≥" in claim or "<" in claim
    if f.state == "alarm":
        assert "above" not in f.reason and "cold range" not in f.reason


def test_zero_kelvin_stages_are_not_explained_as_warm():
    """Item 7, through diagnose(): every stage reading 0.00 K."""
    values = {f"FEMC.TEMP{k}": 0.0 for k in range(13)}
    rows = api._tidy_rows(*_results("DV01", values), {})
    d = diagnose_rows(rows, limits=False).set_index("subsystem")
    reason = d.at["cryostat", "reason"]
    assert d.at["cryostat", "verdict"] == "alarm"
    assert "above" not in reason and ">= 30" not in reason and "≥ 30" not in reason
    assert "FEMC.TEMP0 0.00 K invalid" in reason and "FEMC.TEMP5 0.00 K invalid" in reason


@pytest.mark.parametrize("temp", [62.0, 64.0, 66.0])
def test_a_4k_stage_above_the_interlock_reads_alarm_everywhere(temp):
    """Item 10: 62-66 K was warn in the sweep and ArrayPanel, alarm in check."""
    rows = api._tidy_rows(*_results("DV01", {"FEMC.TEMP0": temp, "FEMC.TEMP5": 20.0}), {})
    by = {r.point: r.limit for r in rows}
    assert by["FEMC.TEMP0"] == "alarm"  # the sweep (and the CLI's "!!")
    assert by["FEMC.LO_PA_BLOCKED"] == "ok"  # TEMP5 is below 30 K: the PAs are allowed
    assert limit_states("FEMC.TEMP0", [temp])[0] == "alarm"  # ArrayPanel, TrendPanel
    d = diagnose_rows(rows, limits=False).set_index("subsystem")
    assert d.at["cryostat", "verdict"] == "alarm"  # check
    assert d.at["cryostat", "reason"].startswith(f"FEMC.TEMP0 {temp:.2f} K > alarm 30 K")


def test_expected_states_are_read_once():
    """Limits are loaded once per process: a sweep does not parse expected.csv again."""
    import e2ckit.catalog.limits as limits_mod

    calls = []
    real = limits_mod.load_expectations
    limits_mod.load_expectations = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        for _ in range(3):
            api._tidy_rows(*_results("DV01", {"CMPR.DRIVE": "OFF", "FEMC.TEMP9": 100.0}), {})
            load_limits(None)
    finally:
        limits_mod.load_expectations = real
    assert calls == []


def test_the_catalog_imports_nothing_above_it():
    """The catalog (with the limits and the judgement) is below the API: it imports neither
    triage nor api (the import cycle catalog → triage.limits → catalog is closed)."""
    import ast
    import pathlib

    root = pathlib.Path(api.__file__).parent
    for path in (root / "catalog").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("e2ckit.triage", "e2ckit.api", "e2ckit.panels")), (path, node.module)
    src = (root / "api.py").read_text(encoding="utf-8")
    assert "e2ckit.triage" not in src


def test_thresholds_have_one_home():
    import sys

    from e2ckit import analysis
    from e2ckit.catalog.limits import interlock_k, safe_to_cool_mbar
    from e2ckit.triage.recovery import SAFE_MBAR  # noqa: F401  (loads the module)

    recovery = sys.modules["e2ckit.triage.recovery"]  # the name e2ckit.triage.recovery is the function

    assert analysis.TEMP_LIMIT_K == interlock_k() == CAT.point("FEMC.TEMP0").alarm_high == 30.0
    assert analysis.PRESSURE_LIMIT_MBAR == recovery.SAFE_MBAR == safe_to_cool_mbar() == 5e-4
    assert isinstance(judge("FEMC.TEMP0", Reading(math.nan, "", "ok", "timeout: x")), Finding)


def test_a_site_file_with_a_byte_order_mark_is_read(tmp_path):
    """Item 8: a spreadsheet saves UTF-8 with a BOM; the header's first name must not keep it."""
    path = tmp_path / "site.csv"
    path.write_bytes("point,warn_high\r\nFEMC.TEMP0,5\r\n".encode("utf-8-sig"))
    lim = load_limits(str(path))
    assert lim.bounds("FEMC.TEMP0").warn_high == 5.0
    assert pd.notna(lim.table(["FEMC.TEMP0"])["warn_high"].iloc[0])


def test_alarms_on_healthy_readings_is_an_empty_frame():
    """Item 9: under pandas 3 an empty text column could not be negated (TypeError)."""
    rows = api._tidy_rows(*_results("DV01", {"FEMC.TEMP0": 3.5, "CMPR.DRIVE": "RUNNING"}), {})
    a = alarms(api._frame(rows), limits=False)
    assert a.empty and list(a.columns) == ["time", "antenna", "point", "limit", "value", "text", "reason", "source"]
    w = alarms(api._wide_frame(api.wide_parts(rows)), limits=False)
    assert w.empty


def test_a_down_antenna_ranks_as_an_alarm():
    """Item 9: "(all points) unavailable" ranked below any warn, so limit == "alarm" missed it."""
    up = api._tidy_rows(*_results("DV01", {"FEMC.TEMP0": 7.0}), {})  # a warn
    p = CAT.point("FEMC.TEMP0")
    down = [api.TidyRow(1.7e9, "DV02", n, math.nan, "", "", "error", "unavailable", "refused: connection refused", None, math.nan)
            for n in ("FEMC.TEMP0", "FEMC.TEMP5")]  # fmt: skip
    assert p.unit == "K"
    a = alarms(api._frame(up + down), limits=False)
    assert list(a["antenna"]) == ["DV02", "DV01"]
    assert a.iloc[0]["point"] == "(all points)" and a.iloc[0]["limit"] == "alarm" and "no answer" in a.iloc[0]["reason"]
    assert "rule: down" in a.iloc[0]["source"]
    assert list(a.loc[a["limit"] == "alarm", "antenna"]) == ["DV02"]


# -- the verdicts: never falsely reassure, never falsely alarm --------------------------------

_FAULTS = ["missing", "stale", "e2c-error", "transport", "slow", "out-of-limit"]


def _bounded_points() -> list[str]:
    from e2ckit.triage.diagnose import DIAGNOSE_WHAT

    return [n for n in DIAGNOSE_WHAT if n in CAT.points and (CAT.points[n].warn_high is not None or CAT.points[n].alarm_high is not None)]


def _spoil(rows: list, kind: str, k: int) -> list:
    """``rows`` with one reading (the k-th candidate) made missing, stale, failed or out of
    its limits, or the whole antenna slow."""
    derived = set(CAT.derived)
    candidates = [i for i, r in enumerate(rows) if r is not None and r.point != api.LISTING_ROW and r.point not in derived]
    if not candidates:
        return rows
    i = candidates[k % len(candidates)]
    r = rows[i]
    nan = math.nan
    if kind == "missing":
        rows[i] = None
    elif kind == "stale":
        rows[i] = r._replace(value=nan, text="", status="error", limit="unavailable", error="stale: not read since 12:00 UTC", raw=None, latency_ms=nan)
    elif kind == "e2c-error":
        rows[i] = r._replace(value=nan, text="", status="error", limit="unavailable", error="E2C:TIMEOUT_ERROR: 5002 CAN bus timeout", raw=b"")
    elif kind == "transport":
        rows[i] = r._replace(value=nan, text="", status="error", limit="unavailable", error="timeout: no reply within 1 s", raw=None, latency_ms=nan)
    elif kind == "slow":
        rows = [x if x is None else x._replace(latency_ms=600.0 + k % 400) for x in rows]
    else:
        names = _bounded_points()
        name = names[k % len(names)]
        p = CAT.points[name]
        high = p.alarm_high if p.alarm_high is not None else p.warn_high
        value = high + abs(high) * 0.5 + 1.0
        rows = [x if x is None or x.point != name else x._replace(value=value, text=f"{value:.6g}", status="ok", error=None) for x in rows]
    return rows


@settings(max_examples=150, deadline=None)
@given(faults=st.lists(st.tuples(st.sampled_from(_FAULTS), st.integers(0, 10**6)), max_size=6))
def test_diagnose_never_says_ok_with_a_fault_nor_down_when_it_answered(faults):
    """Issue 22: for random mixes of missing, stale, failed, slow and out-of-limit readings,
    diagnose() never says ok for an antenna with any of them, and never "down" for one that
    answered (any bytes back)."""
    rows: list = list(healthy_rows())
    for kind, k in faults:
        rows = _spoil(rows, kind, k)
    rows = [r for r in rows if r is not None]
    if not rows:
        return
    d = diagnose_rows(rows, limits=False)
    by = d.set_index("subsystem")
    worst = max(d["verdict"], key={"ok": 0, "unknown": 1, "warn": 2, "alarm": 3}.__getitem__)
    if faults:
        assert worst != "ok", (faults, d.to_string())
    else:
        assert worst == "ok"
    answered = any(r.raw is not None or r.error is None or not str(r.error).startswith(("timeout", "stale")) for r in rows)
    if answered:
        assert by.at["reachability", "verdict"] != "alarm" and "down" not in set(d["rule"]), (faults, d.to_string())
    # a subsystem is never worse than its readings but through a named rule
    for s in ("cryostat", "vacuum", "compressor", "power", "lo", "e2c"):
        if by.at[s, "verdict"] in ("warn", "alarm") and by.at[s, "reason"].endswith("(catalog problem, not hardware)"):
            assert by.at[s, "rule"] == "catalog"
