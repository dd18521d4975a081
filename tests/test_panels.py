"""The panels, driven as a user would (set a control, click a button), judged by what they
hold: ``panel.data`` and the lines and labels on ``panel.figure`` (never Output contents)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("ipywidgets")

from e2ckit import panels  # noqa: E402
from e2ckit.api import TIDY_COLUMNS  # noqa: E402

T0 = pd.Timestamp("2026-01-01T00:00Z")
STEP = pd.Timedelta(minutes=10)


def make_log(hours: float = 12.0) -> pd.DataFrame:
    """DV01 and DV02 warm from 2 h (DV01 unreadable 2–3 h); the other four stay cold."""
    rows = []
    for i in range(int(hours * 6) + 1):
        t, when = i / 6, T0 + i * STEP
        for a in ("DV01", "DV02", "DV03", "DV04", "DA41", "CM01"):
            warm = a in ("DV01", "DV02") and t >= 2
            temp = 4.0 + (12 * (t - 2) if warm else 0.0) + 0.01 * len(a)
            pres = 10 ** (-7 + (t - 2) if warm else -7)
            down = a == "DV01" and 2 <= t < 3
            for point, unit, value in (("FEMC.TEMP0", "K", temp), ("FEMC.CRYOSTAT_PRESSURE", "mbar", pres),
                                       ("FEMC.TEMP9", "K", 100.0)):  # fmt: skip
                if down:
                    rows.append((when, a, point, math.nan, "", unit, "error", "unavailable", "refused: x", None, math.nan))
                else:
                    rows.append((when, a, point, value, "", unit, "ok", "ok", None, b"", 1.0))
    return pd.DataFrame.from_records(rows, columns=TIDY_COLUMNS)


def sweep_result(antennas=("DV01", "DV02", "DV03", "DA41", "CM01", "PM01")) -> pd.DataFrame:
    """A tidy sweep: DV02 in alarm (warm 4K stage), DA41 not answering."""
    rows = []
    for k, a in enumerate(antennas):
        for point, unit, value in (("FEMC.TEMP0", "K", 4.0 + 0.1 * k), ("FEMC.CRYOSTAT_PRESSURE", "mbar", 2e-7)):
            if a == "DA41":
                rows.append((T0, a, point, math.nan, "", unit, "error", "unavailable", "timeout: no reply", None, math.nan))
                continue
            if a == "DV02" and point == "FEMC.TEMP0":
                value = 120.0
            limit = "alarm" if value == 120.0 else "ok"
            rows.append((T0, a, point, value, f"{value:g}", unit, "ok", limit, None, b"", 1.0))
    return pd.DataFrame.from_records(rows, columns=TIDY_COLUMNS)


def lines(ax, prefix="antenna:"):
    return {ln.get_gid()[len(prefix):]: ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)}


def thresholds(ax):
    return [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_gid() == "threshold"]


# -- pure functions --------------------------------------------------------------------


def test_thresholds_for():
    assert panels.thresholds_for("FEMC.TEMP0")[0][0] == 30.0
    assert panels.thresholds_for("FEMC.TEMP5")[0][0] == 30.0  # the 15K stage counts too
    assert panels.thresholds_for("FEMC.TEMP9") == []  # the 110K stage does not
    assert panels.thresholds_for("FEMC.CRYOSTAT_PRESSURE")[0][0] == 5e-4


def test_render_trend_lines_thresholds_log_scale_and_gaps():
    log = make_log()
    fig = panels.render_trend(log, ["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"], ["DV01", "DA41"])
    temp_ax, pres_ax = fig.axes
    assert set(lines(temp_ax)) == {"DV01", "DA41"}
    assert thresholds(temp_ax) == [30.0] and thresholds(pres_ax) == [5e-4]
    assert temp_ax.get_yscale() == "linear" and pres_ax.get_yscale() == "log"
    assert temp_ax.get_ylabel() == "FEMC.TEMP0 [K]" and pres_ax.get_xlabel() == "time (UTC)"
    y = lines(temp_ax)["DV01"].get_ydata()
    assert np.isnan(y).sum() >= 1  # the hour DV01 did not answer is a break in its line
    assert "30 K: LO PA interlock" in temp_ax.get_legend_handles_labels()[1]


def test_render_array_bar_and_heatmap():
    from e2ckit.api import to_wide

    wide = to_wide(sweep_result())
    fig = panels.render_array(wide, "FEMC.TEMP0")
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 6 and [t.get_text() for t in ax.get_xticklabels()][:2] == ["DV01", "DV02"]
    assert matplotlib.colors.to_hex(bars[1].get_facecolor()) == panels.LIMIT_COLOURS["alarm"]
    assert matplotlib.colors.to_hex(bars[3].get_facecolor()) == panels.LIMIT_COLOURS["unavailable"]
    assert thresholds(ax) == [30.0]
    assert [ln.get_gid() for ln in ax.get_lines()].count("missing") == 1
    fig = panels.render_array(wide, "FEMC.CRYOSTAT_PRESSURE")
    assert fig.axes[0].get_yscale() == "log"
    heat = panels.render_array(wide, "FEMC.TEMP0", kind="heatmap")
    img = heat.axes[0].get_images()[0].get_array()
    assert img.shape == (4, 3)  # DV, DA, CM, PM families × up to three antennas
    assert img[0, 1] == 120.0 and np.ma.is_masked(img[1, 0])
    with pytest.raises(ValueError):
        panels.render_array(wide, "FEMC.TEMP0", kind="pie")


def test_select_log():
    log = make_log()
    sel = panels.select_log(log, ["FEMC.TEMP0"], ["DV02"], "2026-01-01 01:00", T0 + pd.Timedelta(hours=2))
    assert set(sel["point"]) == {"FEMC.TEMP0"} and set(sel["antenna"]) == {"DV02"}
    assert sel["time"].min() == T0 + pd.Timedelta(hours=1) and len(sel) == 7


# -- widgets ---------------------------------------------------------------------------


def test_array_panel_refresh_point_and_kind():
    calls = []

    def fetch(what, antennas, *, array=None, **options):
        calls.append((what, antennas, options["timeout"]))
        ants = ("DV01", "DV02", "DV03", "DA41", "CM01", "PM01") if antennas is None else ("DV01", "DV02")
        return sweep_result(ants)

    panel = panels.ArrayPanel("cryo", fetch=fetch, timeout=0.5)
    assert calls == [("cryo", None, 0.5)]
    assert list(panel.data.index) == ["DV01", "DV02", "DV03", "DA41", "CM01", "PM01"]
    assert panel.data.loc["DA41", "error"].startswith("timeout")
    assert panel.point.value == "FEMC.TEMP0" and "1 alarms; 1 antennas with errors" in panel.status.value
    ax = panel.figure.axes[0]
    assert ax.get_ylabel() == "FEMC.TEMP0 [K]" and len(ax.patches) == 6
    panel.point.value = "FEMC.CRYOSTAT_PRESSURE"
    assert panel.figure.axes[0].get_ylabel() == "FEMC.CRYOSTAT_PRESSURE [mbar]"
    assert thresholds(panel.figure.axes[0]) == [5e-4]
    panel.kind.value = "heatmap"
    assert panel.figure.axes[0].get_images()
    panel.what.value, panel.antennas.value = "FEMC.TEMP0, FEMC.CRYOSTAT_PRESSURE", "DV"
    panel.refresh_button.click()
    assert calls[-1][:2] == (["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"], "DV")
    assert list(panel.data.index) == ["DV01", "DV02"]
    assert panel.point.value == "FEMC.CRYOSTAT_PRESSURE"  # the choice survives a refresh


def test_array_panel_reports_a_failed_sweep():
    def fetch(*_a, **_k):
        raise ValueError("no such group 'cryogenics'")

    panel = panels.ArrayPanel("cryogenics", fetch=fetch)
    assert panel.data is None and "no such group" in panel.status.value
    assert isinstance(panel.error, ValueError)


def test_trend_panel_controls():
    panel = panels.TrendPanel(make_log())
    assert panel.points.value == ("FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE")  # the outage defaults
    assert panel.antennas.value == ("CM01", "DA41", "DV01", "DV02", "DV03", "DV04")
    assert len(panel.figure.axes) == 2 and set(lines(panel.figure.axes[0])) == set(panel.antennas.value)
    panel.antennas.value = ("DV02",)
    panel.points.value = ("FEMC.TEMP0",)
    assert set(panel.data["antenna"]) == {"DV02"} and set(panel.data["point"]) == {"FEMC.TEMP0"}
    assert len(panel.figure.axes) == 1 and set(lines(panel.figure.axes[0])) == {"DV02"}
    panel.set_range("2026-01-01 03:00", "2026-01-01 05:00")
    assert panel.data["time"].min() == T0 + pd.Timedelta(hours=3)
    assert panel.data["time"].max() == T0 + pd.Timedelta(hours=5) and len(panel.data) == 13
    panel.log_scale.value = "log"
    assert panel.figure.axes[0].get_yscale() == "log"
    panel.show_thresholds.value = False
    assert thresholds(panel.figure.axes[0]) == []
    with pytest.raises(ValueError, match="not in this log"):
        panels.TrendPanel(make_log(), ["FEMC.NOPE"])


def test_trend_panel_reloads_a_growing_source(tmp_path):
    class FakeLogger:  # what a running Logger offers a panel: where it writes
        path = tmp_path / "log"

    full = make_log(12.0)
    calls = []

    def fake_load(path):
        calls.append(path)
        return full[full["time"] <= T0 + pd.Timedelta(hours=2 * len(calls))]

    panels_load = panels._load_source
    panels._load_source = lambda source: fake_load(source.path) if isinstance(source, FakeLogger) else panels_load(source)
    try:
        panel = panels.TrendPanel(FakeLogger())
        assert panel.data["time"].max() == T0 + pd.Timedelta(hours=2)
        panel.reload_button.click()
        assert panel.data["time"].max() == T0 + pd.Timedelta(hours=4)  # the whole range follows the log
    finally:
        panels._load_source = panels_load


def test_compare_panel_marks_the_warm_antennas():
    panel = panels.ComparePanel(make_log(), "FEMC.TEMP0")
    assert list(panel.outliers.index) == ["DV02", "DV01"]  # DV01 was unreadable for an hour
    ax = panel.figure.axes[0]
    assert set(lines(ax)) == {"CM01", "DA41", "DV01", "DV02", "DV03", "DV04"}
    median = [ln for ln in ax.get_lines() if ln.get_gid() == "median"][0]
    assert np.allclose(median.get_ydata(), 4.04, atol=0.02)  # the cold majority
    assert [ln.get_gid() for ln in ax.get_lines()].count("outliers") == 1
    assert thresholds(ax) == [30.0]
    panel.antennas.value = ("DA41", "CM01", "DV02")
    assert set(panel.data["antenna"]) == {"DA41", "CM01", "DV02"}
    panel.threshold.value = 20.0
    panel.set_range(None, "2026-01-01 02:00")  # before the warm-up: nobody stands out
    assert panel.outliers.empty and not panel.data["outlier"].any()
    panel.point.value = "FEMC.CRYOSTAT_PRESSURE"
    assert panel.figure.axes[0].get_yscale() == "log" and thresholds(panel.figure.axes[0]) == [5e-4]
    with pytest.raises(ValueError, match="not in this log"):
        panels.ComparePanel(make_log(), "FEMC.NOPE")


def test_panels_display_and_save(tmp_path):
    panel = panels.TrendPanel(make_log(2.0))
    panel._ipython_display_()  # no front end: must not raise
    panel.savefig(tmp_path / "trend.png")
    assert (tmp_path / "trend.png").stat().st_size > 1000


def test_array_panel_against_a_simulated_array():
    pytest.importorskip("e2ckit.catalog")
    from e2ckit.sim import SimulatedArray
    from e2ckit.sim.clock import SimClock

    clock = SimClock(rate=None)
    sim = SimulatedArray("DV01,DV02,DV05,CM01", seed=3, clock=clock)
    sim.apply_scenario("compressor-trip")  # DV05's compressor trips at 1 h; its cryostat warms
    clock.advance(hours=6)
    with sim:
        panel = panels.ArrayPanel("cryo", array=sim, point="FEMC.TEMP0", timeout=2.0)
        assert list(panel.data.index) == ["CM01", "DV01", "DV02", "DV05"]  # host-map order
        assert panel.data.loc["DV05", "FEMC.TEMP0"] > 30 > panel.data.loc["DV01", "FEMC.TEMP0"]
        # one warm sensor warns; the LO PA interlock (TEMP0 with TEMP5, #17) is the alarm
        assert panel.data.attrs["limits"]["DV05"]["FEMC.TEMP0"] == "warn"
        assert panel.data.attrs["limits"]["DV05"]["FEMC.LO_PA_BLOCKED"] == "alarm"
        ax = panel.figure.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["CM01", "DV01", "DV02", "DV05"]
        assert matplotlib.colors.to_hex(ax.patches[3].get_facecolor()) == panels.LIMIT_COLOURS["warn"]
        sim.fault("DV02", "down")
        panel.antennas.value = "DV01,DV02"
        panel.refresh_button.click()
        assert list(panel.data.index) == ["DV01", "DV02"] and panel.data.loc["DV02", "error"].startswith("refused")
        assert "1 antennas with errors" in panel.status.value
