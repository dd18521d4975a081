"""The panels, driven as a user would (set a control, click a button), judged by what they
hold: ``panel.data`` and the lines and labels on ``panel.figure`` (never Output contents)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("ipywidgets")

import e2ckit.panels.render  # noqa: E402,F401
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


def threshold_texts(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() == "threshold-label"]


# -- pure functions --------------------------------------------------------------------


def test_thresholds_for():
    assert panels.thresholds_for("FEMC.TEMP0")[0][0] == 30.0
    assert panels.thresholds_for("FEMC.TEMP5")[0][0] == 30.0  # the 15K stage counts too
    assert panels.thresholds_for("FEMC.TEMP9") == [(130.0, "warn > 130 K")]  # no interlock: the catalog's warn bound
    assert panels.thresholds_for("FEMC.CRYOSTAT_PRESSURE") == [(5e-4, "5e-4 mbar: safe to cool"), (1e-5, "warn > 1e-05 mbar")]
    assert panels.thresholds_for("FEMC.NOPE") == []


def test_point_labels_come_from_the_catalog():
    assert panels.point_label("FEMC.TEMP0") == "4K stage (FEMC.TEMP0)"
    assert panels.point_label("FEMC.CRYOSTAT_PRESSURE", "mbar") == "cryostat pressure (FEMC.CRYOSTAT_PRESSURE) [mbar]"
    assert panels.point_label("FEMC.NOPE") == "FEMC.NOPE"


def test_render_trend_lines_thresholds_log_scale_and_gaps():
    log = make_log()
    fig = panels.render_trend(log, ["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"], ["DV01", "DA41"])
    temp_ax, pres_ax = fig.axes
    assert set(lines(temp_ax)) == {"DV01", "DA41"}
    assert thresholds(temp_ax) == [30.0, 6.0] and thresholds(pres_ax) == [5e-4, 1e-5]
    assert temp_ax.get_yscale() == "linear" and pres_ax.get_yscale() == "log"
    assert temp_ax.get_title(loc="left") == "4K stage (FEMC.TEMP0)" and temp_ax.get_ylabel() == "[K]"
    assert pres_ax.get_xlabel() == "time (UTC)"
    y = lines(temp_ax)["DV01"].get_ydata()
    assert np.isnan(y).sum() >= 1  # the hour DV01 did not answer is a break in its line
    # thresholds: grey and dashed, named on the line, not in an antenna's colour nor in the legend
    limit = [ln for ln in temp_ax.get_lines() if ln.get_gid() == "threshold"][0]
    assert matplotlib.colors.to_hex(limit.get_color()) == "#555555" and limit.get_linestyle() == "--"
    assert threshold_texts(temp_ax) == ["30 K: LO PA interlock", "warn > 6 K"]
    antenna_colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in lines(temp_ax).values()}
    assert "#555555" not in antenna_colours and panels.LIMIT_COLOURS["alarm"] not in antenna_colours
    # one legend, for the figure, outside the axes; none on the axes
    assert len(fig.legends) == 1 and temp_ax.get_legend() is None and pres_ax.get_legend() is None
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["DV01", "DA41"]
    fig.canvas.draw()
    legend_box = fig.legends[0].get_window_extent()
    assert all(legend_box.x0 >= ax.get_window_extent().x1 for ax in fig.axes)
    # the date with the year on the time axis, a title naming antennas and span
    labels = [t.get_text() for t in pres_ax.get_xticklabels()]
    assert "2026-01-01" in labels, labels
    assert fig.get_suptitle() == "DV01, DA41 · 2026-01-01 00:00 – 2026-01-01 12:00 UTC"


def test_render_trend_start_end_and_state_points_as_bands():
    log = make_log()
    drive = log[log["point"] == "FEMC.TEMP0"].assign(point="CMPR.DRIVE", unit="")
    drive["value"] = np.where(drive["value"] > 10, 0.0, 1.0)  # warm antennas: compressor off
    drive.loc[drive["status"] == "error", "value"] = np.nan
    log = pd.concat([log, drive], ignore_index=True)
    fig = panels.render_trend(log, ["FEMC.TEMP0", "CMPR.DRIVE"], ["DV01", "DV02", "DV03"],
                              start="2026-01-01 01:00", end="2026-01-01 06:00")  # fmt: skip
    temp_ax, drive_ax = fig.axes
    for ln in lines(temp_ax).values():
        t = pd.to_datetime(ln.get_xdata())
        assert t.min() >= pd.Timestamp("2026-01-01 01:00") and t.max() <= pd.Timestamp("2026-01-01 06:00")
    assert not lines(drive_ax)  # no 0/1 lines on top of each other...
    bands = [c for c in drive_ax.collections if (c.get_gid() or "").startswith("state:")]
    assert {c.get_gid() for c in bands} == {"state:DV01", "state:DV02", "state:DV03"}  # ...one row per antenna
    assert [t.get_text() for t in drive_ax.get_yticklabels()] == ["DV01", "DV02", "DV03"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "CMPR.DRIVE: RUNNING" in legend and "CMPR.DRIVE: OFF" in legend


def test_render_array_bar_and_heatmap():
    from e2ckit.api import to_wide

    wide = to_wide(sweep_result())
    fig = panels.render_array(wide, "FEMC.TEMP0")
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 6 and [t.get_text() for t in ax.get_xticklabels()][:2] == ["DV01", "DV02"]
    assert matplotlib.colors.to_hex(bars[1].get_facecolor()) == panels.LIMIT_COLOURS["alarm"]
    assert matplotlib.colors.to_hex(bars[3].get_facecolor()) == panels.LIMIT_COLOURS["unavailable"]
    assert thresholds(ax) == [30.0, 6.0]
    assert ax.get_title() == "4K stage (FEMC.TEMP0) across 6 antennas"
    assert [ln.get_gid() for ln in ax.get_lines()].count("missing") == 1
    fig = panels.render_array(wide, "FEMC.CRYOSTAT_PRESSURE")
    assert fig.axes[0].get_yscale() == "log"


def test_heatmap_colours_each_antenna_by_its_limits_with_dark_text():
    from e2ckit.api import to_wide

    wide = to_wide(sweep_result())
    # nominal scatter of the pressure (2e-7 .. 6e-7 mbar) is all "ok": one colour, not a stretched colormap
    wide["FEMC.CRYOSTAT_PRESSURE"] = [2e-7, 6e-7, 3e-7, np.nan, 4e-7, 2.5e-7]
    heat = panels.render_array(wide, "FEMC.CRYOSTAT_PRESSURE", kind="heatmap")
    ax = heat.axes[0]
    image = ax.get_images()[0]
    codes = image.get_array()
    assert codes.shape == (4, 3)  # DV, DA, CM, PM families × up to three antennas
    colours = {matplotlib.colors.to_hex(c) for c in image.to_rgba(codes[~codes.mask].ravel())}
    assert colours == {panels.render.CELL_COLOURS["ok"], panels.render.CELL_COLOURS["unavailable"]}
    texts = {t.get_gid(): t for t in ax.texts}
    assert texts["cell:DV02"].get_text() == "02\n6.00e-07" and texts["cell:DA41"].get_text() == "41\n—"
    for t in texts.values():  # dark text on light cells
        r, g, b, _ = matplotlib.colors.to_rgba(t.get_color())
        assert 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.3
    for state in ("ok", "warn", "alarm", "unavailable"):
        r, g, b, _ = matplotlib.colors.to_rgba(panels.render.CELL_COLOURS[state])
        assert 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6
    heat = panels.render_array(wide, "FEMC.TEMP0", kind="heatmap")  # DV02 at 120 K: alarm (from attrs)
    image = heat.axes[0].get_images()[0]
    assert matplotlib.colors.to_hex(image.to_rgba(image.get_array()[0, 1])) == panels.render.CELL_COLOURS["alarm"]
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
    assert ax.get_title().startswith("4K stage (FEMC.TEMP0)") and ax.get_ylabel() == "[K]" and len(ax.patches) == 6
    assert ("4K stage (FEMC.TEMP0)", "FEMC.TEMP0") in panel.point.options
    panel.point.value = "FEMC.CRYOSTAT_PRESSURE"
    assert panel.figure.axes[0].get_ylabel() == "[mbar]"
    assert thresholds(panel.figure.axes[0]) == [5e-4, 1e-5]
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
    assert np.isnan(lines(panel.figure.axes[0])["DV01"].get_ydata()).sum() == 1  # its silent hour is a gap
    assert not np.isnan(lines(panel.figure.axes[0])["DV02"].get_ydata()).any()
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


def test_trend_panel_reloads_a_growing_source():
    full = make_log(12.0)
    calls = []

    def source():  # what Reload calls again: here a log that grows by two hours a time
        calls.append(1)
        return full[full["time"] <= T0 + pd.Timedelta(hours=2 * len(calls))]

    panel = panels.TrendPanel(source)
    assert panel.data["time"].max() == T0 + pd.Timedelta(hours=2)
    panel.reload_button.click()
    assert panel.data["time"].max() == T0 + pd.Timedelta(hours=4)  # the whole range follows the log


def test_compare_panel_marks_the_warm_antennas():
    panel = panels.ComparePanel(make_log(), "FEMC.TEMP0")
    assert list(panel.outliers.index) == ["DV02", "DV01"]  # DV01 was unreadable for an hour
    ax = panel.figure.axes[0]
    assert set(lines(ax)) == {"CM01", "DA41", "DV01", "DV02", "DV03", "DV04"}
    median = [ln for ln in ax.get_lines() if ln.get_gid() == "median"][0]
    assert np.allclose(median.get_ydata(), 4.04, atol=0.02)  # the cold majority
    (dots,) = [c for c in ax.collections if c.get_gid() == "outliers"]
    curve = {ln.get_gid(): ln.get_color() for ln in ax.get_lines()}
    dot_colours = {tuple(np.round(c, 3)) for c in dots.get_facecolors()}
    curve_colours = {tuple(np.round(matplotlib.colors.to_rgba(curve[f"antenna:{a}"]), 3)) for a in ("DV01", "DV02")}
    assert dot_colours == curve_colours, "each outlier's samples in its own curve's colour"
    assert thresholds(ax) == [30.0, 6.0]
    panel.antennas.value = ("DA41", "CM01", "DV02")
    assert set(panel.data["antenna"]) == {"DA41", "CM01", "DV02"}
    panel.threshold.value = 20.0
    panel.set_range(None, "2026-01-01 02:00")  # before the warm-up: nobody stands out
    assert panel.outliers.empty and not panel.data["outlier"].any()
    panel.point.value = "FEMC.CRYOSTAT_PRESSURE"
    assert panel.figure.axes[0].get_yscale() == "log" and thresholds(panel.figure.axes[0]) == [5e-4, 1e-5]
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
    from e2ckit.clock import SimClock

    clock = SimClock(rate=None)
    sim = SimulatedArray("DV01,DV02,DV05,CM01", seed=3, clock=clock)
    sim.apply_scenario("compressor-trip")  # DV05's compressor trips at 1 h; its cryostat warms
    clock.advance(hours=6)
    with sim:
        panel = panels.ArrayPanel("cryo", array=sim, point="FEMC.TEMP0", timeout=2.0)
        assert list(panel.data.index) == ["CM01", "DV01", "DV02", "DV05"]  # host-map order
        assert panel.data.loc["DV05", "FEMC.TEMP0"] > 30 > panel.data.loc["DV01", "FEMC.TEMP0"]
        # a 4K stage above the LO PA interlock's 30 K is an alarm as a reading (issue 22 item
        # 10: the sweep, this panel and check agree); the interlock (TEMP0 with TEMP5) too
        assert panel.data.attrs["limits"]["DV05"]["FEMC.TEMP0"] == "alarm"
        assert panel.data.attrs["limits"]["DV05"]["FEMC.LO_PA_BLOCKED"] == "alarm"
        ax = panel.figure.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["CM01", "DV01", "DV02", "DV05"]
        assert matplotlib.colors.to_hex(ax.patches[3].get_facecolor()) == panels.LIMIT_COLOURS["alarm"]
        sim.fault("DV02", "down")
        panel.antennas.value = "DV01,DV02"
        panel.refresh_button.click()
        assert list(panel.data.index) == ["DV01", "DV02"] and panel.data.loc["DV02", "error"].startswith("refused")
        assert "1 antennas with errors" in panel.status.value


def test_compare_against_healthy_antennas_when_most_are_down_or_warm():
    """Five of seven antennas lose power, then come back warm: the two cold ones are the
    reference, not the outliers; names at the right edge do not overprint."""
    rows = []
    ants = ("DV01", "DV02", "DA41", "DA42", "CM01", "DV03", "DV04")
    for i in range(73):
        when = T0 + i * STEP
        for k, a in enumerate(ants):
            hit = k < 5
            if hit and 6 <= i < 24:  # down: failed readings
                rows.append((when, a, "FEMC.TEMP0", math.nan, "", "K", "error", "unavailable", "refused: x", None, math.nan))
                continue
            value = 3.5 + 0.05 * k + (60 + 0.5 * (i - 24) + 0.01 * k if hit and i >= 24 else 0.0)
            rows.append((when, a, "FEMC.TEMP0", value, "", "K", "ok", "ok", None, b"", 1.0))
    log = pd.DataFrame.from_records(rows, columns=TIDY_COLUMNS)
    panel = panels.ComparePanel(log, "FEMC.TEMP0")
    assert set(panel.outliers.index) == {"DV01", "DV02", "DA41", "DA42", "CM01"}
    assert "DV03" not in panel.outliers and "DV04" not in panel.outliers
    med = panel.data.set_index("time")["median"]
    assert np.allclose(med[med.index < T0 + 6 * STEP], 3.65)  # all seven cold: their median
    assert np.allclose(med[med.index >= T0 + 24 * STEP], 3.775)  # five warm: the two cold ones
    ax = panel.figure.axes[0]
    labels = sorted((t.get_position()[1], t.get_text()) for t in ax.texts if (t.get_gid() or "").startswith("label:"))
    assert {name for _, name in labels} == set(panel.outliers.index)
    assert all(b[0] - a[0] >= 0.04 for a, b in zip(labels, labels[1:], strict=False))  # never overprinted
    assert all(0.0 <= y <= 1.0 for y, _ in labels)


def test_trend_draws_at_most_two_points_per_pixel_column_and_keeps_spikes():
    t = pd.date_range("2026-01-01", periods=86400 * 2, freq="1s", tz="UTC")
    frames = []
    for k, a in enumerate(("DV01", "DV02")):
        v = 4.0 + 0.01 * np.sin(np.arange(len(t)) / 500.0) + 0.1 * k
        if a == "DV01":
            v[100_000] = 80.0  # one 1-second spike
        frames.append(pd.DataFrame({"time": t, "antenna": a, "point": "FEMC.TEMP0", "value": v, "unit": "K",
                                    "status": "ok", "error": None}))  # fmt: skip
    log = pd.concat(frames, ignore_index=True)
    fig = panels.render_trend(log, ["FEMC.TEMP0"], pixels=800)
    drawn = lines(fig.axes[0])
    assert set(drawn) == {"DV01", "DV02"}
    assert all(len(ln.get_xdata()) <= 2 * 800 + 10 for ln in drawn.values())
    assert np.nanmax(drawn["DV01"].get_ydata()) == 80.0  # the spike survives the cut
    env = panels.envelope(log, pixels=800)
    assert env.attrs["every"] == pd.Timedelta(minutes=5)  # a round step: 2 days / 800 -> 5 min
    one = env[(env["antenna"] == "DV01")].set_index("time")
    bucket = one.loc[pd.Timestamp("2026-01-02 03:45", tz="UTC")]  # the spike at 1 d 03:46:40
    assert bucket["max"] == 80.0 and bucket["count"] == 300
    # against plain pandas on the same data
    expect = log[log["antenna"] == "DV02"].set_index("time")["value"].resample("5min").agg(["min", "max", "mean"])
    got = env[env["antenna"] == "DV02"].set_index("time")[["min", "max", "mean"]]
    pd.testing.assert_frame_equal(got, expect, check_names=False, check_freq=False, check_index_type=False)


def test_trend_panel_over_the_full_array_stays_readable():
    """66 antennas, a day at 1 minute: at most ~1,600 points per line (the goal: 4,000),
    a slider in round steps, the outliers named and the rest one grey band."""
    from e2ckit.array import ANTENNAS as ALL_ANTENNAS

    t = pd.date_range("2026-01-01", periods=1440 * 3, freq="1min", tz="UTC")
    rng = np.random.default_rng(1)
    n = len(t)
    ants = list(ALL_ANTENNAS)
    values = 3.5 + 0.05 * rng.standard_normal((len(ants), n))
    values[ants.index("DV05"), 2000:] += np.linspace(0, 200, n - 2000)  # one warms up
    log = pd.DataFrame({"time": np.tile(t, len(ants)), "antenna": np.repeat(ants, n), "point": "FEMC.TEMP0",
                        "value": values.ravel(), "unit": "K", "status": "ok", "error": None})  # fmt: skip
    panel = panels.TrendPanel(log, ["FEMC.TEMP0"])
    ax = panel.figure.axes[0]
    assert set(lines(ax)) == {"DV05"}  # the one that stands out, in colour
    assert [c.get_gid() for c in ax.collections].count("others") == 1
    assert [t.get_text() for t in panel.figure.legends[0].get_texts()] == ["DV05", "65 other antennas (range)"]
    assert max(len(ln.get_xdata()) for ln in ax.get_lines() if ln.get_gid() != "threshold") <= 4000
    times = [v for _, v in panel.range.options]
    steps = {b - a for a, b in zip(times, times[1:], strict=False)}
    assert steps == {pd.Timedelta(minutes=30)} and len(times) <= 201  # 3 days in 30-min steps, not 4,320 samples
    panel.highlight.value = "DV01, CM"
    assert set(lines(panel.figure.axes[0])) == {"DV01"} | {a for a in ants if a.startswith("CM")}


def test_trend_panel_over_a_path_reads_only_its_window(monkeypatch):
    from e2ckit.panels import data

    path = "data/outage-recovery"
    calls = []
    real = data.fetch_envelope

    def spy(*args, **kwargs):
        calls.append(args[1:5])
        return real(*args, **kwargs)

    monkeypatch.setattr("e2ckit.panels.widgets.fetch_envelope", spy)
    panel = panels.TrendPanel(path, ["FEMC.TEMP0"], ["DV01"])
    assert panel.log is None and calls[-1][:2] == (["FEMC.TEMP0"], ["DV01"])
    assert panel.antennas.options == ("DA41", "DV01", "DV02", "DV03")
    assert "FEMC.TEMP0" in [v for _, v in panel.points.options]
    assert set(panel.data["point"]) == {"FEMC.TEMP0"} and set(panel.data["antenna"]) == {"DV01"}
    assert panel.data["time"].min() >= pd.Timestamp("2026-01-01", tz="UTC")
    panel.set_range("2026-01-01 06:00", "2026-01-01 12:00")
    assert calls[-1][2:] == (pd.Timestamp("2026-01-01 06:00", tz="UTC"), pd.Timestamp("2026-01-01 12:00", tz="UTC"))
    assert panel.data["time"].min() >= pd.Timestamp("2026-01-01 06:00", tz="UTC")
    assert panel.data["time"].max() <= pd.Timestamp("2026-01-01 12:00", tz="UTC")


def test_panels_survive_export_to_html(tmp_path):
    """A notebook run by a real kernel (nbclient) against a seeded simulated array on
    loopback, converted to HTML (nbconvert): every panel cell carries its figure as an
    image, ArrayPanel's also its table, and a redraw updates the image in place."""
    import re

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    make_log(6.0).to_pickle(tmp_path / "log.pkl")
    clock = SimClock(rate=None)
    sim = SimulatedArray("DV01,DV02,DV05,CM01", seed=3, clock=clock)
    sim.apply_scenario("compressor-trip")  # DV05 warms from 1 h
    clock.advance(hours=6)
    with sim:
        hosts = sim.write_array(tmp_path / "array.csv")
        sources = [
            f"import os\nos.environ['E2CKIT_ARRAY'] = {str(hosts)!r}\n"
            "import pandas as pd\nfrom e2ckit.panels import ArrayPanel, ComparePanel, TrendPanel\n"
            f"log = pd.read_pickle({str(tmp_path / 'log.pkl')!r})",
            "array = ArrayPanel('cryo', point='FEMC.TEMP0', timeout=2.0)\narray",
            "trend = TrendPanel(log)\ntrend",
            "trend.set_range('2026-01-01 03:00', '2026-01-01 05:00')",
            "ComparePanel(log, 'FEMC.TEMP0')",
            "array.kind.value = 'heatmap'",
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in sources])
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    array_cell, trend_cell, range_cell, compare_cell, heatmap_cell = nb.cells[1:]
    for cell in (array_cell, trend_cell, compare_cell):
        assert any(o.output_type == "error" for o in cell.outputs) is False, cell.outputs
        assert sum("image/png" in o.get("data", {}) for o in cell.outputs) == 1, (cell.source, cell.outputs)
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)
    table = [o for o in array_cell.outputs if "text/html" in o.get("data", {})]
    assert table and "DV05" in table[0]["data"]["text/html"] and "<table" in table[0]["data"]["text/html"]
    assert "max-height" in table[0]["data"]["text/html"], "a long table scrolls within a bounded height"

    def png(cell):
        (image,) = [o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        return image

    # a change made in a later cell shows its picture there; each cell keeps its own
    assert png(range_cell) != png(trend_cell)
    assert png(heatmap_cell) != png(array_cell)
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    (tmp_path / "out.html").write_text(html)
    cells = [c for c in re.split(r'<div class="jp-Cell ', html)[1:] if "jp-CodeCell" in c]
    assert len(cells) == 6
    for block in (cells[1], cells[2], cells[3], cells[4], cells[5]):
        assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', block)) == 1, block[:400]
    assert "<table" in cells[1] and "DV05" in cells[1]


def test_a_path_panel_reads_buckets_from_the_query_layer_not_rows(monkeypatch):
    """A path panel asks load() for buckets (every=, agg=), and they are the envelope a
    plain pandas pass over the same rows gives: spikes survive."""
    import e2ckit.dataset

    real = e2ckit.dataset.load
    asked = []

    def load(*args, **kwargs):
        asked.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(e2ckit.dataset, "load", load)
    panel = panels.TrendPanel("data/outage-recovery", ["FEMC.TEMP0"], ["DV01", "DV02"])
    assert asked and asked[-1]["every"] == pd.Timedelta(minutes=5)  # 2 days / 800 pixel columns
    assert asked[-1]["agg"] == ["min", "max", "mean", "count"]
    got = panel.data.set_index(["time", "antenna"]).sort_index()
    raw = real("data/outage-recovery", points=["FEMC.TEMP0"], antennas=["DV01", "DV02"])
    good = raw[raw["error"].isna() & raw["value"].notna()].copy()
    good["time"] = good["time"].dt.floor("5min")
    want = good.groupby(["time", "antenna"], observed=True)["value"].agg(["min", "max"]).sort_index()
    both = got[["min", "max"]].join(want, rsuffix="_pandas", how="inner")
    assert len(both) == len(want) > 0
    np.testing.assert_allclose(both["min"], both["min_pandas"])
    np.testing.assert_allclose(both["max"], both["max_pandas"])
    drawn = lines(panel.figure.axes[0])
    assert set(drawn) == {"DV01", "DV02"} and all(len(ln.get_xdata()) <= 2 * 800 + 20 for ln in drawn.values())
    assert np.nanmax(drawn["DV01"].get_ydata()) > 100  # the warm-up peak survives


def test_trend_panel_over_a_running_logger_sees_cycles_not_yet_flushed(tmp_path):
    """A panel given a Logger shows its newest cycles, still in the write-ahead segment."""
    import e2ckit
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=None)
    sim = SimulatedArray("DV01,DV02", seed=3, clock=clock)
    with sim:
        logger = e2ckit.Logger(["FEMC.TEMP0"], array=sim, interval=600, path=tmp_path / "log", clock=clock,
                               timeout=2.0, flush_every=10**6)  # fmt: skip
        try:
            for _ in range(3):
                logger.step()
            assert not list((tmp_path / "log").glob("date=*/antenna=*/*.parquet"))  # nothing flushed yet
            panel = panels.TrendPanel(logger, ["FEMC.TEMP0"])
            assert panel.antennas.options == ("DV01", "DV02")
            assert panel.end - panel.start >= pd.Timedelta(minutes=20)
            assert set(panel.data["antenna"]) == {"DV01", "DV02"} and len(panel.data) == 6
            logger.step()
            panel.reload_button.click()
            assert len(panel.data) == 8  # the fourth cycle, after Reload
        finally:
            logger.stop()


def test_a_path_panel_surveys_a_long_log_from_its_first_and_last_days(tmp_path, monkeypatch):
    """The span, antennas and points a path panel offers are those of the log, found from
    the first and last days' footers: the days between are never opened."""
    import pyarrow.parquet as pq

    import e2ckit
    from e2ckit.logger import compaction
    from e2ckit.panels import widgets
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import DEFAULT_EPOCH, SimClock

    monkeypatch.setattr(compaction, "MIN_GROUP", 1)  # a row group per point, as a day's worth gets
    clock = SimClock(start=DEFAULT_EPOCH + 3600, rate=None)
    path = tmp_path / "log"
    with SimulatedArray("DV01,DV02,DA41", seed=5, clock=clock) as sim:
        e2ckit.Logger(["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"], array=sim, interval=3 * 3600, path=path,
                      clock=clock).run(cycles=24)  # fmt: skip
        # the last day: a new logger adds a point and DA41 is no longer logged
        e2ckit.Logger(["FEMC.TEMP0", "FEMC.TEMP9"], "DV01,DV02", array=sim, interval=3 * 3600, path=path,
                      clock=clock).run(cycles=3)  # fmt: skip
    days = sorted(d.name for d in path.glob("date=*"))
    assert len(days) == 4
    compaction.compact(path, before=days[-1][5:])  # the last day stays in parts
    opened = []
    real = pq.ParquetFile
    monkeypatch.setattr(pq, "ParquetFile", lambda f, *a, **k: opened.append(f) or real(f, *a, **k))
    points, antennas, first, last = widgets._survey_path(path)
    surveyed = list(opened)  # what the survey opened (load() below reads every day)
    log = e2ckit.load(path)
    assert antennas == ["DA41", "DV01", "DV02"]
    assert (first, last) == (log["time"].min(), log["time"].max())
    newest = log[log["time"].dt.strftime("date=%Y-%m-%d") == days[-1]]
    assert sorted(points) == sorted(newest["point"].astype(str).unique())
    assert {Path(f).parent.parent.name for f in surveyed} == {days[0], days[-1]}
    compaction.compact(path, before="2100-01-01")  # now the last day too: its points from statistics
    assert widgets._survey_path(path) == (points, antennas, first, last)


def test_one_colour_per_antenna_across_figures_and_legends_inside_saved_figures(tmp_path):
    from PIL import Image

    log = make_log(12.0)
    trend = panels.TrendPanel(log)
    compare = panels.ComparePanel(log, "FEMC.TEMP0")  # names DV02 first, DV01 second: colours stay
    colours = {}
    for fig in (trend.figure, compare.figure):
        for ln in fig.axes[0].get_lines():
            if (ln.get_gid() or "").startswith("antenna:") and ln.get_color() != "#9a9a9a":
                colours.setdefault(ln.get_gid(), set()).add(matplotlib.colors.to_hex(ln.get_color()))
    assert colours and all(len(c) == 1 for c in colours.values()), colours
    from e2ckit.array import ANTENNAS

    t = pd.date_range("2026-01-01", periods=60, freq="1min", tz="UTC")
    many = pd.DataFrame({"time": np.tile(t, len(ANTENNAS)), "antenna": np.repeat(list(ANTENNAS), len(t)),
                         "point": "FEMC.TEMP0", "value": 3.5, "unit": "K", "status": "ok", "error": None})  # fmt: skip
    wide = panels.TrendPanel(many, ["FEMC.TEMP0"])
    wide.highlight.value = "DV, CM"  # 20 named and a band: taller than the figure in one column
    fig = wide.figure
    fig.savefig(tmp_path / "trend.png")  # the figure's own savefig, no bbox_inches
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    width, height = Image.open(tmp_path / "trend.png").size
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width + 1 and box.y1 <= height + 1, (box, width, height)
