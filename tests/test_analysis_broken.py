"""Analysis that holds on a broken array (issue #15.5): antennas that never recover,
antennas down from the first sample to the last, antennas with no samples at all, and
an empty log. Every analysis function returns a frame with its documented columns (no
TypeError under pandas 3), and load()'s ``error`` is None where sweep's is."""

from __future__ import annotations

import pandas as pd
import pytest

import e2ckit
from e2ckit import analysis
from e2ckit.analysis import PRESSURE_POINT, TEMP_POINT
from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock

DOWN = "refused: connection refused: nothing listens (E2C down or powered off)"
T0 = pd.Timestamp("2026-01-01T00:00Z")


def frame(rows):
    df = pd.DataFrame(rows, columns=["time", "antenna", "point", "value", "unit", "error"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["value"] = df["value"].astype("float64")
    df["error"] = df["error"].astype(object)
    return df


def log_of(states: dict[str, list[str]], minutes: int = 10):
    """``states``: per antenna, one letter per sample: ``c`` cold, ``w`` warm, ``d`` down."""
    rows = []
    for a, seq in states.items():
        for i, s in enumerate(seq):
            t = T0 + pd.Timedelta(minutes=minutes * i)
            if s == "d":
                rows += [(t, a, TEMP_POINT, None, "K", DOWN), (t, a, PRESSURE_POINT, None, "mbar", DOWN)]
            else:
                rows += [(t, a, TEMP_POINT, 3.0 if s == "c" else 80.0, "K", None),
                         (t, a, PRESSURE_POINT, 1e-7 if s == "c" else 1e-2, "mbar", None)]  # fmt: skip
    return frame(rows)


SUMMARY = ["antenna", "lost", "restored", "down", "temp_above", "pressure_above", "pressure_below", "temp_below", "notes"]
BROKEN = {
    "none recovers": {"DV01": "ccdddddd", "DV02": "cccddddd"},
    "down throughout": {"DV01": "dddddddd", "DV02": "cccccccc"},
    "all down throughout": {"DV01": "dddddddd", "DV02": "dddddddd"},
    "one recovers warm": {"DV01": "ccdddwww", "DV02": "ccdddddd"},
}


@pytest.mark.parametrize("states", BROKEN.values(), ids=BROKEN.keys())
def test_every_analysis_function_holds(states):
    df = log_of(states)
    found = analysis.outages(df)
    summary = analysis.outage_summary(df)
    assert list(summary.columns) == SUMMARY
    for c in ("down", "temp_above", "pressure_above", "pressure_below", "temp_below"):
        assert pd.api.types.is_timedelta64_dtype(summary[c]), c
    assert len(summary) == len(found) == sum(1 for s in states.values() if "d" in s)
    never = summary[summary["restored"].isna()]
    assert never["down"].isna().all() and never["temp_below"].isna().all()
    analysis.hours(summary[["down", "temp_above"]])
    for point in (TEMP_POINT, PRESSURE_POINT):
        analysis.crossings(df, point, 30.0)
        analysis.compare_to_median(df, point)
    analysis.explain_errors(df)
    assert analysis.is_down(df).sum() == 2 * sum(s.count("d") for s in states.values())


def test_an_outage_that_never_ends_is_summarised():
    summary = analysis.outage_summary(log_of({"DV01": "ccdddddd", "DV02": "cccccccc"}))
    row = summary.iloc[0]
    assert row["antenna"] == "DV01" and row["lost"] == T0 + pd.Timedelta(minutes=20)
    assert pd.isna(row["restored"]) and pd.isna(row["down"])


def test_antennas_with_no_samples_and_an_empty_log():
    empty = log_of({}).iloc[0:0]
    assert list(analysis.outage_summary(empty).columns) == SUMMARY
    assert analysis.outages(empty).empty and analysis.crossings(empty, TEMP_POINT, 30).empty
    assert analysis.compare_to_median(empty, TEMP_POINT).empty
    # DV02 is in the log for another point only: no samples of the stage temperature
    df = pd.concat([log_of({"DV01": "ccddcc"}),
                    frame([(T0, "DV02", "CMPR.DRIVE", 1.0, "", None)])])  # fmt: skip
    summary = analysis.outage_summary(df)
    assert list(summary["antenna"]) == ["DV01"]
    wide = pd.DataFrame({TEMP_POINT: [float("nan")] * 6}, index=[f"DV0{i}" for i in range(1, 7)])
    assert analysis.outliers(wide).empty


def test_load_and_sweep_mark_no_error_alike(tmp_path):
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], clock=clock) as sim:
        sim.fault("DV02", "down")
        swept = e2ckit.sweep("FEMC.TEMP0", array=sim, tidy=True)
        with e2ckit.Logger("FEMC.TEMP0", array=sim, interval=60, path=tmp_path) as log:
            log.run(cycles=2)
    loaded = e2ckit.load(tmp_path)
    for df in (swept, loaded):  # the same test fits both: missing where nothing failed
        ok = df[df["antenna"] == "DV01"]["error"]
        assert ok.isna().all(), ok.tolist()
        assert df[df["antenna"] == "DV02"]["error"].str.startswith("refused").all()
    # a sweep gives None (its rows are few); a log, a categorical (months of the same texts)
    assert swept[swept["antenna"] == "DV01"]["error"].map(lambda e: e is None).all()
    assert str(loaded["error"].dtype) == "category"
