"""e2ckit.analysis on hand-made tidy logs whose answers are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from e2ckit import analysis
from e2ckit.api import TIDY_COLUMNS

T0 = pd.Timestamp("2026-01-01T00:00Z")
STEP = pd.Timedelta(minutes=10)
H = pd.Timedelta(hours=1)


def temp(t: float) -> float:
    """4K stage: cold, warms 10 K/h from 2 h, cools 5 K/h from 10 h (30 K at 4.6 h and 20.8 h)."""
    if t < 2:
        return 4.0
    if t < 10:
        return 4.0 + 10 * (t - 2)
    return max(84.0 - 5 * (t - 10), 4.0)


def pressure(t: float) -> float:
    """log10 p: -7, rising a decade an hour from 2 h, falling two an hour from 10 h."""
    if t < 2:
        return 1e-7
    if t < 10:
        return 10 ** (-7 + (t - 2))
    return 10 ** max(1 - 2 * (t - 10), -7)


def fast_temp(t: float) -> float:
    return 4.0 if t < 2 else 4.0 + 20 * (t - 2)


def make_log(hours: float = 24.0) -> pd.DataFrame:
    """DV01 down 2–4 h (error rows); DA41 silent 2–3.5 h then rebooted; CM01 rebooted at 6 h;
    DV02 fine; every antenna missing 14–15 h (the logger was stopped)."""
    rows = []
    n = int(hours * 6) + 1
    counters = {"DV01": 100, "DV02": 100, "DA41": 100, "CM01": 100}
    for i in range(n):
        t = i / 6
        when = T0 + i * STEP
        if 14 < t < 15:
            continue
        for a in ("DV01", "DV02", "DA41", "CM01"):
            if a == "DA41" and 2 <= t < 3.5:
                continue
            down = a == "DV01" and 2 <= t < 4
            if (a == "DV01" and abs(t - 4) < 1e-9) or (a == "DA41" and abs(t - 3.5) < 1e-9) or (
                a == "CM01" and abs(t - 6) < 1e-9
            ):
                counters[a] = 0
            counters[a] += 3
            tt = (fast_temp if a == "DA41" else temp)(t) if a in ("DV01", "DA41") else 4.0
            pp = pressure(t) if a == "DV01" else 1e-7
            for point, unit, value in (
                ("FEMC.TEMP0", "K", tt),
                ("FEMC.CRYOSTAT_PRESSURE", "mbar", pp),
                ("FEMC.GET_TRANS_NUM", "", float(counters[a])),
            ):
                if down:
                    rows.append((when, a, point, math.nan, "", unit, "error", "unavailable",
                                 "closed: connection closed by the E2C mid-reply", None, math.nan))  # fmt: skip
                else:
                    rows.append((when, a, point, value, f"{value:g}", unit, "ok", "ok", None, b"", 1.0))
    df = pd.DataFrame.from_records(rows, columns=TIDY_COLUMNS)
    return df


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return make_log()


def test_is_down_only_for_transport_errors():
    df = pd.DataFrame(
        {"error": [None, "closed: x", "refused: y", "E2C:TIMEOUT_ERROR: CAN timeout", "timeout: z", math.nan]}
    )
    assert analysis.is_down(df).tolist() == [False, True, True, False, True, False]


def test_sample_interval(log):
    assert analysis.sample_interval(log) == STEP


def test_outages_from_errors_gaps_and_counter_resets(log):
    out = analysis.outages(log).set_index("antenna")
    assert sorted(out.index) == ["CM01", "DA41", "DV01"]  # DV02: the logger-wide gap is no outage
    dv01 = out.loc["DV01"]
    assert (dv01["lost"], dv01["restored"]) == (T0 + 2 * H, T0 + 4 * H)
    assert dv01["duration"] == 2 * H
    assert dv01["evidence"] == "errors+counter reset"
    da41 = out.loc["DA41"]
    assert (da41["lost"], da41["restored"]) == (T0 + 2 * H - STEP, T0 + 3.5 * H)
    assert da41["evidence"] == "gap+counter reset"
    cm01 = out.loc["CM01"]
    assert (cm01["lost"], cm01["restored"], cm01["evidence"]) == (T0 + 6 * H - STEP, T0 + 6 * H, "counter reset")


def test_outage_still_open_at_end_of_log():
    log = make_log(3.0)  # DV01 is still down when the log ends
    out = analysis.outages(log).set_index("antenna")
    assert out.loc["DV01", "lost"] == T0 + 2 * H
    assert pd.isna(out.loc["DV01", "restored"]) and pd.isna(out.loc["DV01", "duration"])


def test_outages_of_an_empty_log():
    out = analysis.outages(pd.DataFrame(columns=TIDY_COLUMNS))
    assert out.empty and list(out.columns) == ["antenna", "lost", "restored", "duration", "evidence"]


def test_crossings_interpolated_linear_and_log(log):
    t = analysis.crossings(log, "FEMC.TEMP0", 30.0)
    dv01 = t[t["antenna"] == "DV01"]
    assert dv01["direction"].tolist() == ["up", "down"]
    assert abs(dv01["time"].iloc[0] - (T0 + 4.6 * H)) < pd.Timedelta(seconds=1)
    assert abs(dv01["time"].iloc[1] - (T0 + 20.8 * H)) < pd.Timedelta(seconds=1)
    assert not dv01["hidden"].any()
    p = analysis.crossings(log, "FEMC.CRYOSTAT_PRESSURE", 5e-4)  # log10 interpolation picked from the unit
    dv01 = p[p["antenna"] == "DV01"]
    assert dv01["direction"].tolist() == ["up", "down"]
    assert abs(dv01["time"].iloc[0] - (T0 + (2 + 7 + math.log10(5e-4)) * H)) < pd.Timedelta(seconds=1)
    assert abs(dv01["time"].iloc[1] - (T0 + (10 + (1 - math.log10(5e-4)) / 2) * H)) < pd.Timedelta(seconds=1)


def test_crossing_hidden_in_a_gap_is_reported_when_first_seen(log):
    t = analysis.crossings(log, "FEMC.TEMP0", 30.0)
    da41 = t[t["antenna"] == "DA41"].iloc[0]
    assert da41["direction"] == "up" and da41["hidden"]
    assert da41["time"] == T0 + 3.5 * H == da41["seen_after"]
    assert da41["seen_before"] == T0 + 2 * H - STEP


def test_outage_summary(log):
    s = analysis.outage_summary(log).set_index("antenna")
    dv01 = s.loc["DV01"]
    close = lambda a, b: abs(a - b) < pd.Timedelta(seconds=1)  # noqa: E731
    assert dv01["down"] == 2 * H
    assert close(dv01["temp_above"], 2.6 * H)  # 4.6 h − lost at 2 h
    assert close(dv01["pressure_above"], (7 + math.log10(5e-4)) * H)
    assert close(dv01["pressure_below"], (6 + (1 - math.log10(5e-4)) / 2) * H)  # since restored at 4 h
    assert close(dv01["temp_below"], 16.8 * H)
    assert dv01["notes"] == ""
    da41 = s.loc["DA41"]
    assert da41["temp_above"] == 3.5 * H - (2 * H - STEP)
    assert "while unreadable" in da41["notes"]
    assert pd.isna(da41["temp_below"]) and pd.isna(da41["pressure_above"])
    cm01 = s.loc["CM01"]
    assert pd.isna(cm01["temp_above"]) and pd.isna(cm01["pressure_above"])
    h = analysis.hours(s[["down", "temp_above"]])
    assert h.loc["DV01", "temp_above"] == 2.6 and h.loc["DV01", "down"] == 2.0


def test_outage_summary_notes_a_stage_already_warm():
    log = make_log(24.0)
    warm = log["point"].eq("FEMC.TEMP0") & log["antenna"].eq("CM01")
    log.loc[warm, "value"] = 290.0
    s = analysis.outage_summary(log).set_index("antenna")
    assert "already above 30" in s.loc["CM01", "notes"]
    assert pd.isna(s.loc["CM01", "temp_above"])


def test_compare_to_median_flags_the_odd_antenna_out():
    rows = []
    for i in range(12):
        when = T0 + i * STEP + pd.Timedelta(milliseconds=7 * i)  # request times jitter within a sample
        for k, a in enumerate(["DV01", "DV02", "DV03", "DV04", "DV05"]):
            v = 4.0 + 0.01 * k + (40.0 if (a == "DV03" and i >= 6) else 0.0)
            rows.append((when + pd.Timedelta(milliseconds=k), a, "FEMC.TEMP0", v, "", "K", "ok", "ok", None, b"", 1.0))
    df = pd.DataFrame.from_records(rows, columns=TIDY_COLUMNS)
    c = analysis.compare_to_median(df, "FEMC.TEMP0")
    assert len(c) == 60 and c["time"].nunique() == 12
    flagged = c[c["outlier"]]
    assert set(flagged["antenna"]) == {"DV03"} and len(flagged) == 6
    med = c.groupby("time")["median"].first()
    assert np.allclose(med.iloc[:6], 4.02) and np.allclose(med.iloc[6:], 4.03)
    assert analysis.compare_to_median(df, "NO.SUCH").empty


def test_outliers_in_a_wide_sweep():
    idx = [f"DV{i:02d}" for i in range(1, 11)]
    wide = pd.DataFrame(
        {
            "FEMC.TEMP0": [4.0, 4.1, 3.9, 4.05, 4.0, 95.0, 4.02, 3.98, 4.01, math.nan],
            "FEMC.GATE_VALVE_STATE": [1, 1, 1, 1, 1, 1, 0, 1, 1, 1],
            "error": [None] * 9 + ["refused: nothing listens (all 3 points)"],
        },
        index=idx,
    )
    wide.attrs["units"] = {"FEMC.TEMP0": "K", "FEMC.GATE_VALVE_STATE": ""}
    out = analysis.outliers(wide)
    assert out[["antenna", "point"]].values.tolist() == [["DV07", "FEMC.GATE_VALVE_STATE"], ["DV06", "FEMC.TEMP0"]]
    assert out.iloc[1]["median"] == pytest.approx(4.01) and out.iloc[1]["unit"] == "K"


def test_explain_errors_groups_and_explains():
    df = pd.DataFrame.from_records(
        [
            (T0, "DV08", "FEPS.VOLTAGE_5V", math.nan, "", "V", "error", "unavailable",
             "E2C:TIMEOUT_ERROR: 5002 CAN bus timeout: the node did not answer", None, 1.0),
            (T0, "DV08", "FEPS.VOLTAGE_6V", math.nan, "", "V", "error", "unavailable",
             "E2C:TIMEOUT_ERROR: 5002 CAN bus timeout: the node did not answer", None, 1.0),
            (T0, "PM03", "FEMC.TEMP0", math.nan, "", "K", "error", "unavailable",
             "refused: connection refused: nothing listens (E2C down or powered off)", None, math.nan),
            (T0, "DV01", "FEMC.TEMP0", 4.0, "4", "K", "ok", "ok", None, b"", 1.0),
        ],
        columns=TIDY_COLUMNS,
    )  # fmt: skip
    out = analysis.explain_errors(df)
    assert out["error"].tolist() == ["E2C:TIMEOUT_ERROR", "refused"]
    assert out["readings"].tolist() == [2, 1] and out["antennas"].tolist() == ["DV08", "PM03"]
    assert out["meaning"][0].startswith("E2C error 5002 TIMEOUT_ERROR") and "absent" in out["meaning"][0]
    assert "did not answer" in out["meaning"][1]
    assert analysis.explain_errors(df[df["error"].isna()]).empty
