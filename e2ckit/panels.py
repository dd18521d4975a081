"""ipywidgets panels for notebooks: the array at a glance, trends in a log, one point compared.

Each panel is a thin shell over two kinds of pure functions, which are public and usable
without widgets (in scripts, in tests, in reports):

- *fetch*: names in, a DataFrame out (:func:`fetch_array` sweeps; :func:`select_log`
  filters a tidy log; :func:`e2ckit.analysis.compare_to_median` compares);
- *render*: a DataFrame in, a :class:`matplotlib.figure.Figure` out
  (:func:`render_array`, :func:`render_trend`, :func:`render_compare`).

A panel holds what it shows: ``panel.data`` (the DataFrame) and ``panel.figure`` (the
Figure), updated whenever a control changes or a button is clicked. Tests drive the
controls (``panel.point.value = ...``, ``panel.refresh_button.click()``) and look at
those two, never at the Output widgets, which capture nothing without a front end.

Figures are plain ``Figure`` objects (no pyplot state, nothing shown twice) drawn inline
as PNG, which works in JupyterLab, Notebook, VS Code and nbconvert alike. With ipympl
installed, ``interactive=True`` shows the figure's canvas widget instead (zoom, pan).

Thresholds drawn on every plot where they apply (``shared/e2c-protocol.md`` §7): the LO
power amplifiers are blocked unless a 4K or 15K stage sensor is below **30 K**; the
front end lets the compressor cool only when the cryostat pressure is at most
**5e-4 mbar**.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from e2ckit import analysis

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "ArrayPanel",
    "ComparePanel",
    "TrendPanel",
    "fetch_array",
    "render_array",
    "render_compare",
    "render_trend",
    "select_log",
    "thresholds_for",
]

#: Points whose threshold is the 30 K LO power-amplifier rule: the 4K and 15K stage sensors.
_COLD_STAGE = re.compile(r"^FEMC\.TEMP([0-8])$")

LIMIT_COLOURS = {"ok": "#4c72b0", "warn": "#e6a700", "alarm": "#c0392b", "unavailable": "#bbbbbb"}


def thresholds_for(point: str) -> list[tuple[float, str]]:
    """The sourced thresholds that apply to a point, as (value, label) pairs."""
    if point == analysis.PRESSURE_POINT:
        return [(analysis.PRESSURE_LIMIT_MBAR, "5e-4 mbar: safe to cool")]
    if _COLD_STAGE.match(point):
        return [(analysis.TEMP_LIMIT_K, "30 K: LO PA interlock")]
    return []


def _log_scale(unit: str | None, values: Any = None) -> bool:
    """Pressures (any unit with "bar") are drawn on a log scale when all values are positive."""
    if not unit or "bar" not in str(unit):
        return False
    if values is None:
        return True
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return v.size == 0 or bool((v > 0).all())


def _new_figure(width: float = 9.0, height: float = 4.0, interactive: bool = False) -> Figure:
    if interactive:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(width, height))
        plt.close(fig)  # the panel shows it; pyplot must not show it again
        return fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _naive_utc(times: pd.Series) -> pd.Series:
    """Timezone-aware times as naive UTC, which every matplotlib version plots."""
    if getattr(times.dt, "tz", None) is not None:
        return times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times


def _draw_thresholds(ax: Any, point: str) -> None:
    for value, label in thresholds_for(point):
        ax.axhline(value, color="#c0392b", linestyle="--", linewidth=1.2, label=label, gid="threshold")


# --------------------------------------------------------------------------------------
# fetch and render: the array


def fetch_array(
    what: str | Sequence[str] = "cryo",
    antennas: str | Iterable[str] | None = None,
    *,
    array: Any = None,
    timeout: float = 1.0,
    **sweep_options: Any,
) -> pd.DataFrame:
    """Sweep a group (or points) across antennas; the tidy result (see :func:`e2ckit.sweep`)."""
    from e2ckit.api import sweep

    if isinstance(antennas, str) and antennas.strip().lower() in ("", "all", "*"):
        antennas = None
    return sweep(what, antennas, array=array, timeout=timeout, tidy=True, **sweep_options)


def render_array(wide: pd.DataFrame, point: str, *, kind: str = "bar", interactive: bool = False) -> Figure:
    """One point across the array: a bar per antenna (``kind="bar"``) or a family × number
    grid (``kind="heatmap"``). Colours follow the limit states in ``wide.attrs["limits"]``
    (alarm red, warning amber, unavailable grey); the point's thresholds are drawn."""
    import numpy as np
    import pandas as pd

    unit = wide.attrs.get("units", {}).get(point, "")
    limits = wide.attrs.get("limits", {})
    values = pd.to_numeric(wide[point], errors="coerce") if point in wide else pd.Series(np.nan, index=wide.index)
    label = f"{point} [{unit}]" if unit else point
    if kind == "heatmap":
        return _render_heatmap(wide.index, values, label, unit, interactive)
    if kind != "bar":
        raise ValueError(f"kind must be 'bar' or 'heatmap', got {kind!r}")
    fig = _new_figure(max(6.0, 0.22 * len(values) + 2), 4.0, interactive=interactive)
    ax = fig.add_subplot()
    states = [limits.get(a, {}).get(point, "ok" if pd.notna(v) else "unavailable") for a, v in values.items()]
    log = _log_scale(unit, values)
    floor = float(values[values > 0].min()) / 10 if log and (values > 0).any() else 0.0
    heights = values.fillna(floor if log else 0.0)
    ax.bar(range(len(values)), heights, color=[LIMIT_COLOURS.get(s, LIMIT_COLOURS["ok"]) for s in states],
           gid="values")  # fmt: skip
    missing = [i for i, v in enumerate(values) if pd.isna(v)]
    if missing:
        ax.plot(missing, [floor if log else 0.0] * len(missing), "x", color="#555", label="no reading", gid="missing")
    ax.set_xticks(range(len(values)), list(values.index), rotation=90, fontsize=7)
    if log:
        ax.set_yscale("log")
    _draw_thresholds(ax, point)
    ax.set_ylabel(label)
    ax.set_title(f"{point} across {len(values)} antennas")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def _render_heatmap(antennas: Sequence[str], values: pd.Series, label: str, unit: str, interactive: bool) -> Figure:
    import numpy as np
    from matplotlib.colors import LogNorm

    fams = list(dict.fromkeys(re.sub(r"\d+$", "", a) for a in antennas))
    nums = {a: int(re.search(r"(\d+)$", a).group(1)) if re.search(r"\d+$", a) else 0 for a in antennas}
    by_fam = {f: sorted(a for a in antennas if re.sub(r"\d+$", "", a) == f) for f in fams}
    width = max(len(v) for v in by_fam.values())
    grid = np.full((len(fams), width), np.nan)
    fig = _new_figure(max(6.0, 0.45 * width + 2), 0.6 * len(fams) + 1.6, interactive=interactive)
    ax = fig.add_subplot()
    for r, f in enumerate(fams):
        for c, a in enumerate(by_fam[f]):
            grid[r, c] = values.get(a, np.nan)
    log = _log_scale(unit, grid)
    norm = LogNorm() if log and np.isfinite(grid).any() else None
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, norm=norm)
    for r, f in enumerate(fams):
        for c, a in enumerate(by_fam[f]):
            ax.text(c, r, str(nums[a]), ha="center", va="center", fontsize=7,
                    color="black" if np.isnan(grid[r, c]) else "white")  # fmt: skip
    ax.set_yticks(range(len(fams)), fams)
    ax.set_xticks([])
    cb = fig.colorbar(im, ax=ax)
    cb.set_label(label)
    ax.set_title(f"{label} across the array (grey: no reading)")
    return fig


# --------------------------------------------------------------------------------------
# fetch and render: a log


def select_log(
    tidy: pd.DataFrame,
    points: Iterable[str] | None = None,
    antennas: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """The rows of a tidy log for some points and antennas within [start, end]."""
    import pandas as pd

    mask = pd.Series(True, index=tidy.index)
    if points is not None:
        mask &= tidy["point"].isin(list(points))
    if antennas is not None:
        mask &= tidy["antenna"].isin(list(antennas))
    if start is not None:
        mask &= tidy["time"] >= _as_utc(start)
    if end is not None:
        mask &= tidy["time"] <= _as_utc(end)
    return tidy[mask]


def _as_utc(t: Any) -> pd.Timestamp:
    import pandas as pd

    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def render_trend(
    tidy: pd.DataFrame,
    points: Sequence[str] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    log: bool | None = None,
    thresholds: bool = True,
    interactive: bool = False,
) -> Figure:
    """Points against time, one axes per point (shared time axis), one line per antenna.

    Pressures go on a log scale unless ``log=False``; gaps in a log (an antenna that did
    not answer) stay gaps in the lines. The 30 K and 5e-4 mbar thresholds are drawn on
    the points they apply to (dashed red, ``gid="threshold"``)."""
    import numpy as np
    import pandas as pd

    points = list(points) if points is not None else list(dict.fromkeys(tidy["point"]))
    antennas = list(antennas) if antennas is not None else list(dict.fromkeys(tidy["antenna"]))
    fig = _new_figure(9.0, 2.6 * max(len(points), 1) + 0.6, interactive=interactive)
    axes = fig.subplots(max(len(points), 1), 1, sharex=True, squeeze=False)[:, 0]
    interval = analysis.sample_interval(tidy) if len(tidy) else pd.NaT
    for ax, point in zip(axes, points, strict=False):
        rows = tidy[tidy["point"] == point]
        unit = next(iter(rows["unit"].dropna()), "") if "unit" in rows else ""
        for a in antennas:
            s = rows[rows["antenna"] == a].sort_values("time")
            if s.empty:
                continue
            t = _naive_utc(s["time"]).to_numpy()
            v = s["value"].to_numpy(dtype=float)
            if pd.notna(interval):  # break the line where the antenna was silent
                at = np.nonzero((s["time"].diff() > 3 * interval).to_numpy())[0]
                if at.size:
                    t = np.insert(t, at, t[at] - interval.to_timedelta64())
                    v = np.insert(v, at, np.nan)
            ax.plot(t, v, label=a, linewidth=1.2, gid=f"antenna:{a}")
        use_log = _log_scale(unit, rows["value"]) if log is None else log
        if use_log:
            ax.set_yscale("log")
        if thresholds:
            _draw_thresholds(ax, point)
        ax.set_ylabel(f"{point} [{unit}]" if unit else point)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8, ncols=2 if len(antennas) > 6 else 1)
    axes[-1].set_xlabel("time (UTC)")
    if not points:
        axes[0].set_title("nothing selected")
    return fig


def render_compare(compared: pd.DataFrame, point: str, unit: str = "", *, interactive: bool = False) -> Figure:
    """Each antenna (thin lines) against the array median (thick black), outliers marked
    with red dots and named, from a :func:`e2ckit.analysis.compare_to_median` frame."""
    fig = _new_figure(9.0, 4.2, interactive=interactive)
    ax = fig.add_subplot()
    label = f"{point} [{unit}]" if unit else point
    if not compared.empty:
        for a, g in compared.groupby("antenna", sort=True):
            ax.plot(_naive_utc(g["time"]).to_numpy(), g["value"].to_numpy(), linewidth=0.8, alpha=0.6,
                    label=a, gid=f"antenna:{a}")  # fmt: skip
        med = compared.drop_duplicates("time").sort_values("time")
        ax.plot(_naive_utc(med["time"]).to_numpy(), med["median"].to_numpy(), color="black", linewidth=2.4,
                label="array median", gid="median")  # fmt: skip
        out = compared[compared["outlier"]]
        if not out.empty:
            ax.plot(_naive_utc(out["time"]).to_numpy(), out["value"].to_numpy(), "o", color="#c0392b",
                    markersize=4, label=f"outliers ({out['antenna'].nunique()} antennas)", gid="outliers")  # fmt: skip
            for a, g in out.groupby("antenna", sort=True):
                last = g.sort_values("time").iloc[-1]
                ax.annotate(a, (_naive_utc(g["time"]).iloc[-1], last["value"]), fontsize=8, color="#c0392b",
                            xytext=(3, 3), textcoords="offset points")  # fmt: skip
        if _log_scale(unit, compared["value"]):
            ax.set_yscale("log")
    _draw_thresholds(ax, point)
    ax.set_ylabel(label)
    ax.set_xlabel("time (UTC)")
    ax.set_title(f"{point}: each antenna against the array median")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=False) if not lab.startswith(("DA", "DV", "CM", "PM"))]
    if keep:
        ax.legend(*zip(*keep, strict=False), loc="best", fontsize=8)
    return fig


# --------------------------------------------------------------------------------------
# the widget shells


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where an Output widget can show something)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _Panel:
    """What the three panels share: an Output for the figure, ``data``, ``figure``,
    ``widget`` (the layout to display) and a status line."""

    interactive = False

    def __init__(self) -> None:
        import ipywidgets as w

        self.data: pd.DataFrame | None = None
        self.figure: Figure | None = None
        self.status = w.HTML()
        self.plot_output = w.Output()
        self.widget: Any = None
        self._busy = 0

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Change several controls without a redraw per change."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    def _changed(self, _change: Any = None) -> None:
        if not self._busy:
            self.redraw()

    def redraw(self) -> Figure | None:  # pragma: no cover - each panel has its own
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _show(self, fig: Figure) -> None:
        from IPython.display import Image, clear_output, display

        old, self.figure = self.figure, fig
        if old is not None and not self.interactive:
            old.clear()
        if not _in_kernel():  # nothing can show it: keep the Figure, skip the PNG
            return
        with self.plot_output:
            clear_output(wait=True)
            if self.interactive:
                display(fig.canvas)
            else:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=96)
                display(Image(data=buf.getvalue(), format="png"))

    def _say(self, text: str, error: bool = False) -> None:
        import html

        colour = "#c0392b" if error else "#555"
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    def savefig(self, path: str, **kwargs: Any) -> None:
        """Save the current figure (PNG, SVG, PDF by extension)."""
        if self.figure is None:
            raise ValueError("nothing drawn yet")
        self.figure.savefig(path, **kwargs)


class ArrayPanel(_Panel):
    """Sweep a group across antennas: the wide table (alarms highlighted) and one point
    drawn across the array (bars or a heat map), with a refresh button.

    >>> panel = ArrayPanel("cryo", "DV")           # doctest: +SKIP
    >>> panel                                       # shows the panel in a notebook
    >>> panel.data                                  # the wide DataFrame it shows
    >>> panel.point.value = "FEMC.TEMP5"; panel.figure

    ``array``, ``timeout`` and other keywords go to :func:`e2ckit.sweep`;
    ``fetch`` replaces :func:`fetch_array` (same arguments, tidy frame out).
    """

    def __init__(
        self,
        what: str | Sequence[str] = "cryo",
        antennas: str | Iterable[str] | None = None,
        *,
        point: str | None = None,
        kind: str = "bar",
        array: Any = None,
        timeout: float = 1.0,
        fetch: Callable[..., pd.DataFrame] | None = None,
        interactive: bool = False,
        refresh: bool = True,
        **sweep_options: Any,
    ) -> None:
        import ipywidgets as w

        super().__init__()
        self.interactive = interactive
        self._array = array
        self._fetch = fetch or fetch_array
        self._options = {"timeout": timeout, **sweep_options}
        self.tidy: pd.DataFrame | None = None
        text = what if isinstance(what, str) else ", ".join(what)
        ants = antennas if antennas is None or isinstance(antennas, str) else ", ".join(antennas)
        self.what = w.Text(value=text, description="points", placeholder="group or points: cryo, FEMC.TEMP0")
        self.antennas = w.Text(value=ants or "all", description="antennas", placeholder="all, DV, DV01, CM01-CM04")
        self.refresh_button = w.Button(description="Refresh", icon="refresh", button_style="primary")
        self.point = w.Dropdown(description="draw", options=[], layout=w.Layout(width="320px"))
        self.kind = w.ToggleButtons(options=[("bars", "bar"), ("heat map", "heatmap")], value=kind)
        self.table_output = w.Output(layout=w.Layout(max_height="420px", overflow="auto"))
        self._wanted_point = point
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.point.observe(self._changed, names="value")
        self.kind.observe(self._changed, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.what, self.antennas, self.refresh_button]),
                self.status,
                self.table_output,
                w.HBox([self.point, self.kind]),
                self.plot_output,
            ]
        )
        if refresh:
            self.refresh()

    def _names(self) -> tuple[list[str] | str, str | None]:
        items = [s.strip() for s in self.what.value.split(",") if s.strip()]
        what: list[str] | str = items[0] if len(items) == 1 else items
        ants = self.antennas.value.strip()
        return what, (None if ants.lower() in ("", "all", "*") else ants)

    def refresh(self) -> pd.DataFrame | None:
        """Sweep again with the current controls; returns the wide frame (also ``.data``)."""
        from e2ckit.api import style, to_wide

        what, ants = self._names()
        self._say("sweeping …")
        try:
            tidy = self._fetch(what, ants, array=self._array, **self._options)
        except Exception as exc:  # shown in the panel, and kept for scripts
            self.error = exc
            self._say(f"{type(exc).__name__}: {exc}", error=True)
            return None
        self.error = None
        self.tidy = tidy
        self.data = to_wide(tidy)
        bad = int(self.data["error"].notna().sum())
        alarms = sum(v == "alarm" for lim in self.data.attrs.get("limits", {}).values() for v in lim.values())
        n = len(self.data)
        self._say(f"{n} antennas × {len(self.data.columns) - 1} points; {alarms} alarms; {bad} antennas with errors")
        if _in_kernel():
            from IPython.display import clear_output, display

            with self.table_output:
                clear_output(wait=True)
                display(style(self.data))
        numeric = [c for c in self.data.columns if c != "error" and self.data[c].notna().any()]
        choice = self._wanted_point if self._wanted_point in numeric else (
            self.point.value if self.point.value in numeric else (numeric[0] if numeric else None)
        )  # fmt: skip
        self._wanted_point = None
        with self._quiet():
            self.point.options = numeric
            self.point.value = choice
        self.redraw()
        return self.data

    def redraw(self) -> Figure | None:
        """Draw the chosen point from the frame already held (no new sweep)."""
        if self.data is None or not self.point.value:
            return None
        self._show(render_array(self.data, self.point.value, kind=self.kind.value, interactive=self.interactive))
        return self.figure


def _load_source(source: Any) -> pd.DataFrame:
    """A tidy frame from a DataFrame, a log path, or a Logger (its path, re-read)."""
    import os

    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    path = source if isinstance(source, (str, os.PathLike)) else getattr(source, "path", None)
    if path is None:
        raise TypeError(f"need a tidy DataFrame, a log path or a Logger, got {type(source).__name__}")
    from e2ckit.logger import load

    return load(path)


class _LogPanel(_Panel):
    """A panel over a log: a DataFrame, a path (``e2ckit.load``) or a running Logger."""

    def __init__(self, source: Any) -> None:
        import ipywidgets as w

        super().__init__()
        self.source = source
        self.log: pd.DataFrame = _load_source(source)
        self.range = w.SelectionRangeSlider(
            options=[("", 0)], index=(0, 0), description="time (UTC)", continuous_update=False,
            layout=w.Layout(width="95%"), style={"description_width": "initial"},
        )  # fmt: skip
        self.reload_button = w.Button(description="Reload", icon="refresh", tooltip="read the log again")
        self.reload_button.on_click(lambda _b: self.reload())
        self._set_range_options()

    def _times(self) -> list[pd.Timestamp]:
        import pandas as pd

        interval = analysis.sample_interval(self.log) if len(self.log) else pd.NaT
        times = self.log["time"].drop_duplicates().sort_values()
        if pd.notna(interval) and len(times) > 1:  # one option per sample, not per request
            step = times.diff()
            times = times[step.isna() | (step > interval / 2)]
        return list(times)

    def _set_range_options(self) -> None:
        times = self._times()
        if not times:
            return
        keep_all = self.range.index == (0, len(self.range.options) - 1) or len(self.range.options) <= 1
        old = self.range.value
        fmt = "%m-%d %H:%M" if (times[-1] - times[0]).days >= 1 else "%H:%M:%S"  # short: the readout is narrow
        opts = [(t.tz_convert("UTC").strftime(fmt), t) for t in times]
        with self._quiet():
            self.range.options = opts
            if keep_all or old[0] not in times:
                self.range.index = (0, len(opts) - 1)
            else:
                self.range.value = old

    def reload(self) -> None:
        """Read the source again (a path or a running Logger) and redraw."""
        self.log = _load_source(self.source)
        self._on_reload()
        self._set_range_options()
        self.redraw()

    def _on_reload(self) -> None:
        pass

    @property
    def start(self) -> pd.Timestamp:
        return self.range.value[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.range.value[1]

    def set_range(self, start: Any = None, end: Any = None) -> None:
        """Select a time range: the samples nearest to ``start`` and ``end`` (UTC)."""
        times = [v for _, v in self.range.options]
        i = 0 if start is None else min(range(len(times)), key=lambda k: abs(times[k] - _as_utc(start)))
        j = len(times) - 1 if end is None else min(range(len(times)), key=lambda k: abs(times[k] - _as_utc(end)))
        self.range.index = (min(i, j), max(i, j))



def _numeric_points(log: pd.DataFrame) -> list[str]:
    ok = analysis.good(log)
    return list(dict.fromkeys(ok["point"]))


class TrendPanel(_LogPanel):
    """Chosen points for chosen antennas against time, over a loaded log or a running
    logger, with a time-range slider, log scale for pressures and the 30 K and
    5e-4 mbar thresholds drawn.

    >>> panel = TrendPanel(e2ckit.load("data/outage"), ["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"])  # doctest: +SKIP
    >>> panel.antennas.value = ("DV01", "DV02"); panel.set_range("2026-01-01 00:00", "2026-01-01 12:00")
    >>> panel.data, panel.figure
    """

    def __init__(
        self,
        source: Any,
        points: Sequence[str] | None = None,
        antennas: Sequence[str] | None = None,
        *,
        interactive: bool = False,
    ) -> None:
        import ipywidgets as w

        super().__init__(source)
        self.interactive = interactive
        self.points = w.SelectMultiple(description="points", rows=6, layout=w.Layout(width="340px"))
        self.antennas = w.SelectMultiple(description="antennas", rows=6, layout=w.Layout(width="220px"))
        self.log_scale = w.Dropdown(options=[("auto (log for pressures)", "auto"), ("log", "log"), ("linear", "linear")],
                                    value="auto", description="y scale")  # fmt: skip
        self.show_thresholds = w.Checkbox(value=True, description="thresholds (30 K, 5e-4 mbar)")
        self._fill_choices(points, antennas)
        for control in (self.points, self.antennas, self.log_scale, self.show_thresholds, self.range):
            control.observe(self._changed, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.points, self.antennas, w.VBox([self.log_scale, self.show_thresholds, self.reload_button])]),
                self.range,
                self.status,
                self.plot_output,
            ]
        )
        self.redraw()

    def _fill_choices(self, points: Sequence[str] | None = None, antennas: Sequence[str] | None = None) -> None:
        all_points = _numeric_points(self.log)
        all_ants = sorted(dict.fromkeys(self.log["antenna"]))
        want_p = list(points) if points is not None else (list(self.points.value) or [
            p for p in (analysis.TEMP_POINT, analysis.PRESSURE_POINT) if p in all_points
        ] or all_points[:1])  # fmt: skip
        want_a = list(antennas) if antennas is not None else (list(self.antennas.value) or all_ants)
        unknown = [p for p in want_p if p not in all_points]
        if unknown and points is not None:
            raise ValueError(f"not in this log (or never read): {', '.join(unknown)}")
        with self._quiet():
            self.points.options = all_points
            self.points.value = tuple(p for p in want_p if p in all_points)
            self.antennas.options = all_ants
            self.antennas.value = tuple(a for a in want_a if a in all_ants)

    def _on_reload(self) -> None:
        self._fill_choices()

    def redraw(self) -> Figure | None:
        """Filter the log with the controls (``.data``) and draw it (``.figure``)."""
        points, antennas = list(self.points.value), list(self.antennas.value)
        if not self.range.options or self.range.options[0][0] == "":
            self._say("the log is empty", error=True)
            return None
        self.data = select_log(self.log, points, antennas, self.start, self.end)
        n = len(analysis.good(self.data))
        self._say(f"{n} readings · {len(points)} points × {len(antennas)} antennas · "
                  f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        log = {"auto": None, "log": True, "linear": False}[self.log_scale.value]
        self._show(render_trend(self.data, points, antennas, log=log,
                                thresholds=self.show_thresholds.value, interactive=self.interactive))  # fmt: skip
        return self.figure


class ComparePanel(_LogPanel):
    """One point across antennas over time: each antenna against the array median, with
    outliers (robust score above ``threshold``) marked.

    ``panel.data`` is the :func:`e2ckit.analysis.compare_to_median` frame it draws;
    ``panel.outliers`` lists the flagged antennas and how many samples each.
    """

    def __init__(
        self,
        source: Any,
        point: str = analysis.TEMP_POINT,
        antennas: Sequence[str] | None = None,
        *,
        threshold: float = 5.0,
        interactive: bool = False,
    ) -> None:
        import ipywidgets as w

        super().__init__(source)
        self.interactive = interactive
        points = _numeric_points(self.log)
        if point not in points:
            raise ValueError(f"{point} is not in this log (or never read); try one of {', '.join(points[:8])}")
        self.point = w.Dropdown(options=points, value=point, description="point", layout=w.Layout(width="340px"))
        all_ants = sorted(dict.fromkeys(self.log["antenna"]))
        self.antennas = w.SelectMultiple(options=all_ants, value=tuple(antennas or all_ants), rows=6,
                                         description="antennas")  # fmt: skip
        self.threshold = w.FloatSlider(value=threshold, min=1.0, max=20.0, step=0.5, description="outlier >",
                                       continuous_update=False)  # fmt: skip
        for control in (self.point, self.antennas, self.threshold, self.range):
            control.observe(self._changed, names="value")
        self.widget = w.VBox(
            [
                w.HBox([w.VBox([self.point, self.threshold, self.reload_button]), self.antennas]),
                self.range,
                self.status,
                self.plot_output,
            ]
        )
        self.redraw()

    def _on_reload(self) -> None:
        all_ants = sorted(dict.fromkeys(self.log["antenna"]))
        keep = [a for a in self.antennas.value if a in all_ants] or all_ants
        with self._quiet():
            self.point.options = _numeric_points(self.log)
            self.antennas.options = all_ants
            self.antennas.value = tuple(keep)

    @property
    def outliers(self) -> pd.Series:
        """Flagged samples per antenna, most first."""
        if self.data is None or self.data.empty:
            import pandas as pd

            return pd.Series(dtype=int, name="outlier samples")
        s = self.data[self.data["outlier"]].groupby("antenna").size().sort_values(ascending=False, kind="stable")
        return s.rename("outlier samples")

    def redraw(self) -> Figure | None:
        point = self.point.value
        rows = select_log(self.log, [point], list(self.antennas.value), self.start, self.end)
        self.data = analysis.compare_to_median(rows, point, threshold=self.threshold.value)
        unit = next(iter(rows["unit"].dropna()), "") if len(rows) else ""
        flagged = self.outliers
        self._say(f"{self.data['antenna'].nunique() if len(self.data) else 0} antennas; outliers: "
                  + (", ".join(f"{a} ({n})" for a, n in flagged.items()) or "none"))  # fmt: skip
        self._show(render_compare(self.data, point, unit, interactive=self.interactive))
        return self.figure
