"""Figures from DataFrames: a point across the array, trends in a log, one point compared.

Report-ready by default: a title, points named as people call them ("4K stage
(FEMC.TEMP0)", from the catalog's ``label``), dates with the year on time axes, limits
drawn as grey dashed lines labelled on the line (never in an antenna's colour), one
legend outside the axes, state points (``CMPR.DRIVE``) as bands, and at most about two
points per pixel column per line (see :func:`e2ckit.panels.data.envelope`).

Thresholds (``docs/protocol.md`` §7 and the catalog): the LO power amplifiers are
blocked unless a 4K or 15K stage sensor is below **30 K**; the compressor may cool only
when the cryostat pressure is at most **5e-4 mbar**; plus each point's catalog warn and
alarm bounds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from e2ckit import analysis
from e2ckit.names import selected
from e2ckit.panels.data import (
    DEFAULT_PIXELS,
    as_utc,
    catalog_point,
    envelope,
    limit_states,
    outlier_antennas,
    sample_interval,
    select_log,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Points whose threshold is the 30 K LO power-amplifier rule: the 4K and 15K stage sensors.
_COLD_STAGE = re.compile(r"^FEMC\.TEMP([0-8])$")

#: Bar colours by limit state (saturated: bars carry no text).
LIMIT_COLOURS = {"ok": "#4c72b0", "warn": "#e6a700", "alarm": "#c0392b", "unavailable": "#bbbbbb"}
#: Heat-map cell colours by limit state (light, so dark annotations stay readable).
CELL_COLOURS = {"ok": "#cfe8d2", "warn": "#ffe08a", "alarm": "#f5a5a0", "unavailable": "#e6e6e6"}
STATE_ORDER = ("ok", "warn", "alarm", "unavailable")
THRESHOLD_COLOUR = "#555555"
#: How many antennas a trend names in its legend before the rest become one grey band.
MAX_NAMED = 8
_OTHERS = "#9a9a9a"


def point_label(point: str, unit: str | None = None) -> str:
    """"4K stage (FEMC.TEMP0)": the catalog's short label and the name (just the name
    when the catalog has no label); `` [K]`` appended when ``unit`` is given."""
    p = catalog_point(point)
    text = f"{p.label} ({point})" if p is not None and p.label else point
    return f"{text} [{unit}]" if unit else text


def thresholds_for(point: str) -> list[tuple[float, str]]:
    """The limits drawn on a point, as (value, label) pairs: the sourced interlocks first
    (30 K LO PA interlock, 5e-4 mbar), then the catalog's alarm and warn bounds."""
    out: list[tuple[float, str]] = []
    if point == analysis.PRESSURE_POINT:
        out.append((analysis.PRESSURE_LIMIT_MBAR, "5e-4 mbar: safe to cool"))
    if _COLD_STAGE.match(point):
        out.append((analysis.TEMP_LIMIT_K, "30 K: LO PA interlock"))
    p = catalog_point(point)
    if p is not None:
        unit = f" {p.unit}" if p.unit else ""
        for value, what in ((p.alarm_high, "alarm >"), (p.alarm_low, "alarm <"), (p.warn_high, "warn >"),
                            (p.warn_low, "warn <")):  # fmt: skip
            if value is not None and all(abs(value - v) > 1e-12 * max(abs(v), 1) for v, _ in out):
                out.append((value, f"{what} {value:g}{unit}"))
    return out


def _state_labels(point: str) -> dict[int, str]:
    """Enum labels of a state point (``CMPR.DRIVE``: 0 OFF, 1 RUNNING); {} for a measurement."""
    p = catalog_point(point)
    if p is None or not p.enum or p.dtype == "flags":
        return {}
    out = {}
    for raw, label in p.enum:
        try:
            out[int(raw)] = label
        except (TypeError, ValueError):
            return {}
    return out


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


def new_figure(width: float = 9.0, height: float = 4.0, interactive: bool = False) -> Figure:
    """A Figure outside pyplot (nothing shown twice), constrained layout, Agg canvas."""
    if interactive:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(width, height), layout="constrained")
        plt.close(fig)  # the panel shows it; pyplot must not show it again
        return fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _naive(times: Any) -> Any:
    """Times as naive UTC datetime64 (what every matplotlib version plots)."""
    import pandas as pd

    t = pd.DatetimeIndex(times)
    if t.tz is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.to_numpy()


def _time_axis(ax: Any) -> None:
    """Ticks that say the date with the year (``2026-01-01``, then hours), UTC."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    fmt = mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%Y-%m", "%Y-%m-%d", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%H:%M", "%H:%M"],
        show_offset=False,  # the ticks carry the date and year already
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(fmt)


def _draw_thresholds(ax: Any, point: str) -> None:
    """Grey dashed lines, each named in small text at its right end (not in the legend)."""
    from matplotlib.transforms import blended_transform_factory

    tr = blended_transform_factory(ax.transAxes, ax.transData)
    for i, (value, label) in enumerate(thresholds_for(point)):
        dashes = (0, (5, 3)) if i == 0 else (0, (2, 3))
        ax.axhline(value, color=THRESHOLD_COLOUR, linestyle=dashes, linewidth=1.1, gid="threshold", label="_" + label)
        ax.text(0.995, value, label, transform=tr, ha="right", va="bottom", fontsize=7.5, color=THRESHOLD_COLOUR,
                gid="threshold-label", clip_on=True)  # fmt: skip


def _span_text(t0: Any, t1: Any) -> str:
    return f"{as_utc(t0):%Y-%m-%d %H:%M} – {as_utc(t1):%Y-%m-%d %H:%M} UTC"


# --------------------------------------------------------------------------------------
# the array


def render_array(wide: pd.DataFrame, point: str, *, kind: str = "bar", interactive: bool = False) -> Figure:
    """One point across the array: a bar per antenna (``kind="bar"``) or a family × number
    grid (``kind="heatmap"``), each antenna coloured by its limit state
    (``wide.attrs["limits"]``, else the catalog's limits); the point's thresholds drawn."""
    import numpy as np
    import pandas as pd

    if kind not in ("bar", "heatmap"):
        raise ValueError(f"kind must be 'bar' or 'heatmap', got {kind!r}")
    unit = wide.attrs.get("units", {}).get(point, "")
    limits = wide.attrs.get("limits", {})
    values = pd.to_numeric(wide[point], errors="coerce") if point in wide else pd.Series(np.nan, index=wide.index)
    fallback = dict(zip(values.index, limit_states(point, values.to_numpy()), strict=False))
    states = [limits.get(a, {}).get(point) or fallback[a] for a in values.index]
    if kind == "heatmap":
        return _render_heatmap(values, states, point, unit, interactive)
    fig = new_figure(max(6.0, 0.22 * len(values) + 2.5), 4.2, interactive=interactive)
    ax = fig.add_subplot()
    log = _log_scale(unit, values)
    floor = float(values[values > 0].min()) / 10 if log and (values > 0).any() else 0.0
    heights = values.fillna(floor if log else 0.0)
    ax.bar(range(len(values)), heights, color=[LIMIT_COLOURS.get(s, LIMIT_COLOURS["ok"]) for s in states], gid="values")
    missing = [i for i, v in enumerate(values) if pd.isna(v)]
    if missing:
        ax.plot(missing, [floor if log else 0.0] * len(missing), "x", color="#555", label="no reading", gid="missing")
    ax.set_xticks(range(len(values)), list(values.index), rotation=90, fontsize=7)
    if log:
        ax.set_yscale("log")
    _draw_thresholds(ax, point)
    ax.set_ylabel(f"[{unit}]" if unit else "value")
    ax.set_title(f"{point_label(point)} across {len(values)} antennas")
    _state_legend(fig, sorted(set(states), key=STATE_ORDER.index) if set(states) <= set(STATE_ORDER) else [],
                  LIMIT_COLOURS, extra=ax.get_legend_handles_labels())  # fmt: skip
    return fig


def _state_legend(fig: Figure, states: Sequence[str], colours: dict[str, str], extra: Any = ((), ())) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[s], edgecolor="#888", label=s) for s in states]
    handles += list(extra[0])
    if handles:
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)


def _render_heatmap(values: pd.Series, states: Sequence[str], point: str, unit: str, interactive: bool) -> Figure:
    """Cells coloured by limit state (categorical, light), each annotated with the
    antenna number and its value in dark text; grey where there is no reading."""
    import numpy as np
    from matplotlib.colors import ListedColormap

    antennas = list(values.index)
    fams = list(dict.fromkeys(re.sub(r"\d+$", "", a) for a in antennas))
    by_fam = {f: sorted(a for a in antennas if re.sub(r"\d+$", "", a) == f) for f in fams}
    width = max(len(v) for v in by_fam.values())
    state_of = dict(zip(antennas, states, strict=False))
    codes = np.full((len(fams), width), np.nan)
    fig = new_figure(max(7.0, 0.62 * width + 2.5), 0.62 * len(fams) + 1.5, interactive=interactive)
    ax = fig.add_subplot()
    p = catalog_point(point)
    fmt = (p.fmt if p is not None and p.fmt else ".3g")
    for r, f in enumerate(fams):
        for c, a in enumerate(by_fam[f]):
            s = state_of.get(a, "unavailable")
            codes[r, c] = STATE_ORDER.index(s if s in STATE_ORDER else "ok")
            v = values.get(a)
            num = re.search(r"(\d+)$", a)
            text = num.group(1) if num else a
            text += "\n" + ("—" if v is None or np.isnan(v) else format(float(v), fmt))
            ax.text(c, r, text, ha="center", va="center", fontsize=7.5, color="#1a1a1a", gid=f"cell:{a}")
    cmap = ListedColormap([CELL_COLOURS[s] for s in STATE_ORDER]).with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(codes), aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(STATE_ORDER) - 0.5,
              interpolation="nearest")  # fmt: skip
    ax.set_yticks(range(len(fams)), fams)
    ax.set_xticks([])
    ax.set_xticks(np.arange(-0.5, width, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, len(fams), 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(f"{point_label(point, unit)} across the array: each antenna against its limits", fontsize=10)
    _state_legend(fig, [s for s in STATE_ORDER if s in set(states)], CELL_COLOURS)
    return fig


# --------------------------------------------------------------------------------------
# trends


def _line_xy(g: pd.DataFrame, gap: Any, every: Any) -> tuple[Any, Any]:
    """x, y of one line: bucket min then max (half a bucket later), so a spike inside a
    bucket still reaches its height; a NaN where the antenna was silent longer than ``gap``."""
    import numpy as np

    t = _naive(g["time"])
    if every is None:
        x, y = t, g["mean"].to_numpy(float)
    else:
        half = np.timedelta64(int(every.value // 2), "ns")
        x = np.column_stack([t, t + half]).ravel()
        y = np.column_stack([g["min"].to_numpy(float), g["max"].to_numpy(float)]).ravel()
    if len(t) > 1 and gap is not None:
        tt = x.astype("datetime64[ns]").view(np.int64)
        at = np.nonzero(np.diff(tt) > gap.value)[0] + 1
        if at.size:
            x = np.insert(x, at, x[at - 1])
            y = np.insert(y.astype(float), at, np.nan)
    return x, y


def render_trend(
    tidy: pd.DataFrame,
    points: Sequence[str] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    start: Any = None,
    end: Any = None,
    log: bool | None = None,
    thresholds: bool = True,
    highlight: Sequence[str] | None = None,
    pixels: int = DEFAULT_PIXELS,
    title: str | None = None,
    interactive: bool = False,
) -> Figure:
    """Points against time between ``start`` and ``end``: one axes per point (shared time
    axis, titled "4K stage (FEMC.TEMP0)"), one line per antenna, one legend outside.

    ``tidy`` is a tidy log (cut here to about ``pixels`` min/max buckets per line) or an
    envelope frame already cut (:func:`e2ckit.panels.data.envelope`, ``load(every=...)``).
    With more than eight antennas only the ``highlight`` ones (default: those that stand
    out) are coloured and named; the others are one grey band. Pressures go on a log scale
    unless ``log=False``; state points (``CMPR.DRIVE``) are drawn as bands, one row per
    antenna. Thresholds are grey dashed lines labelled on the line (``gid="threshold"``).
    Gaps (an antenna that did not answer) stay gaps.
    """
    import pandas as pd

    frame = tidy if "mean" in tidy.columns else envelope(tidy, start, end, points=points, antennas=antennas,
                                                         pixels=pixels)  # fmt: skip
    if "mean" in tidy.columns and (start is not None or end is not None):
        frame = select_log(frame, None, None, start, end)
    units = dict(tidy.attrs.get("units") or frame.attrs.get("units") or {})
    every = frame.attrs.get("every")
    points = list(points) if points is not None else [str(p) for p in dict.fromkeys(frame["point"])]
    antennas = list(antennas) if antennas is not None else sorted(str(a) for a in dict.fromkeys(frame["antenna"]))
    named = _named(frame, antennas, highlight)
    states = {p: _state_labels(p) for p in points}
    heights = [max(1.6, 0.32 * len(antennas) + 0.6) if states[p] else 2.6 for p in points]
    fig = new_figure(10.0, sum(heights) + 0.9 if points else 3.0, interactive=interactive)
    axes = fig.subplots(max(len(points), 1), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": heights or [1]})[:, 0]  # fmt: skip
    interval = sample_interval(tidy if every is None and "value" in tidy.columns else frame)
    # a line breaks where its antenna was silent: 3 sample intervals, or 1.5 buckets
    gaps = [d for d in (1.5 * every if every is not None else None, 3 * interval if pd.notna(interval) else None) if d is not None]
    gap = max(gaps) if gaps else None
    colours = _colours(named)
    legend: dict[str, Any] = {}
    by_line = {k: g for k, g in frame.groupby(["point", "antenna"], sort=False, observed=True)}
    for ax, point in zip(axes, points, strict=False):
        if states[point]:
            _draw_states(ax, point, antennas, by_line, states[point], every, interval, legend)
        else:
            _draw_lines(ax, point, antennas, named, by_line, colours, gap, every, legend)
            values = frame.loc[frame["point"] == point, "mean"]
            unit = units.get(point, "")
            if _log_scale(unit, values) if log is None else log:
                ax.set_yscale("log")
            if thresholds:
                _draw_thresholds(ax, point)
            ax.set_ylabel(f"[{unit}]" if unit else "")
            ax.grid(True, alpha=0.3)
        ax.set_title(point_label(point), fontsize=10, loc="left")
        _time_axis(ax)
    axes[-1].set_xlabel("time (UTC)")
    if not points:
        axes[0].set_title("nothing selected")
    _trend_legend(fig, legend, antennas, named)
    _trend_title(fig, axes, frame, antennas, start, end, title)
    fig.e2ckit_points_per_line = max((len(ln.get_xdata()) for ax in axes for ln in ax.get_lines()
                                      if (ln.get_gid() or "").startswith("antenna:")), default=0)  # fmt: skip
    return fig


def _ants_text(antennas: Sequence[str]) -> str:
    if len(antennas) <= 4:
        return ", ".join(antennas)
    return f"{len(antennas)} antennas"


def _named(frame: pd.DataFrame, antennas: Sequence[str], highlight: Sequence[str] | None) -> list[str]:
    """Antennas drawn in colour and named: all (up to eight), else ``highlight`` (names or
    families), else the ones that stand out."""
    if highlight is not None:
        wanted = {h.strip().upper() for h in highlight}
        return [a for a in antennas if selected(a, wanted)][:20]
    if len(antennas) <= MAX_NAMED:
        return list(antennas)
    sub = frame[frame["antenna"].isin(list(antennas)).to_numpy()]
    found: list[str] = []
    for _, g in sub.groupby("point", sort=False, observed=True):
        found += [a for a in outlier_antennas(g, MAX_NAMED) if a not in found]
    return found[:MAX_NAMED]


#: each antenna's colour, given the first time a figure names it and kept for the whole
#: session (a notebook's kernel): DV02 is the same colour in every figure of a notebook
_ANTENNA_COLOURS: dict[str, Any] = {}


def _palette() -> list[Any]:
    import matplotlib

    # tab10 without its red (index 3: red means alarm on these figures), then tab20's
    # lighter shades: 17 colours before any repeats
    tab10, tab20 = matplotlib.colormaps["tab10"], matplotlib.colormaps["tab20"]
    return [tab10(i) for i in range(10) if i != 3] + [tab20(i) for i in range(1, 20, 2) if i not in (7,)]


def antenna_colour(antenna: str) -> Any:
    """The colour ``antenna`` has in every figure of this session."""
    colour = _ANTENNA_COLOURS.get(antenna)
    if colour is None:
        palette = _palette()
        colour = _ANTENNA_COLOURS[antenna] = palette[len(_ANTENNA_COLOURS) % len(palette)]
    return colour


def _colours(named: Sequence[str]) -> dict[str, Any]:
    return {a: antenna_colour(a) for a in named}


def figure_legend(fig: Figure, handles: Sequence[Any], labels: Sequence[str], **kwargs: Any) -> Any:
    """The figure's legend right of the axes, in as many columns as it takes to fit the
    figure's height: constrained layout then keeps all of it inside the figure, so
    ``fig.savefig`` (no ``bbox_inches`` needed) never cuts an entry off."""
    import math

    rows = max(1, int((fig.get_figheight() * 72 - 36) / (8 * 1.9)) - (1 if kwargs.get("title") else 0))
    return fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False,
                      ncols=math.ceil(len(labels) / rows), **kwargs)  # fmt: skip


def _draw_lines(ax: Any, point: str, antennas: Sequence[str], named: Sequence[str], by_line: dict,
                colours: dict[str, Any], gap: Any, every: Any, legend: dict) -> None:  # fmt: skip
    """One point's lines: the named antennas in their colours, the rest as one grey band."""
    rest = []
    for a in antennas:
        g = by_line.get((point, a))
        if g is None or g.empty:
            continue
        if a not in named:
            rest.append(g)
            continue
        x, y = _line_xy(g.sort_values("time"), gap, every)
        (ln,) = ax.plot(x, y, linewidth=1.2, color=colours[a], label=a, gid=f"antenna:{a}")
        legend.setdefault(a, ln)
    if rest:
        legend.setdefault("others", _draw_band(ax, rest, len(named) > 0))


def _trend_legend(fig: Figure, legend: dict[str, Any], antennas: Sequence[str], named: Sequence[str]) -> None:
    if not legend:
        return
    labels = list(legend)
    if "others" in legend:
        n_rest = len(set(antennas) - set(named))
        labels = [f"{n_rest} other antennas (range)" if k == "others" else k for k in labels]
    figure_legend(fig, list(legend.values()), labels, title="antenna", title_fontsize=8)


def _trend_title(fig: Figure, axes: Any, frame: pd.DataFrame, antennas: Sequence[str], start: Any, end: Any,
                 title: str | None) -> None:  # fmt: skip
    """The time span on the x axis and the figure's title (antennas and span, or ``title``)."""
    if len(frame):
        t0, t1 = (as_utc(start) if start is not None else frame["time"].min(),
                  as_utc(end) if end is not None else frame["time"].max())  # fmt: skip
        axes[-1].set_xlim(_naive([t0])[0], _naive([t1])[0]) if t1 > t0 else None
        fig.suptitle(title or f"{_ants_text(antennas)} · {_span_text(t0, t1)}", fontsize=11)
    elif title:
        fig.suptitle(title, fontsize=11)


def _draw_band(ax: Any, groups: list[pd.DataFrame], quiet: bool) -> Any:
    """The antennas not named, as one grey band: per time bucket, the lowest min to the highest max."""
    import pandas as pd

    both = pd.concat(groups, ignore_index=True)
    span = both.groupby("time", sort=True).agg(lo=("min", "min"), hi=("max", "max"))
    t = _naive(span.index)
    return ax.fill_between(t, span["lo"].to_numpy(float), span["hi"].to_numpy(float), color=_OTHERS,
                           alpha=0.35 if quiet else 0.6, linewidth=0, gid="others", step="post")  # fmt: skip


def _draw_states(ax: Any, point: str, antennas: Sequence[str], by_line: dict, labels: dict[int, str],
                 every: Any, interval: Any, legend: dict) -> None:  # fmt: skip
    """A state point as bands: one row per antenna, one colour per state, blank where
    there is no reading. Buckets that saw more than one state are hatched."""
    import numpy as np
    import pandas as pd

    palette = {0: "#d9d9d9", 1: "#2a9d8f", 2: "#e9c46a", 3: "#f4a261"}
    step = every if every is not None else (interval if pd.notna(interval) else pd.Timedelta(minutes=1))
    width = np.timedelta64(int(step.value), "ns")
    for row, a in enumerate(antennas):
        g = by_line.get((point, a))
        if g is None or g.empty:
            continue
        g = g.sort_values("time")
        t = _naive(g["time"])
        lo, hi = g["min"].to_numpy(float), g["max"].to_numpy(float)
        value = np.where(lo == hi, lo, np.nan)
        # runs of one value, each drawn as one bar
        change = np.r_[True, (value[1:] != value[:-1]) & ~(np.isnan(value[1:]) & np.isnan(value[:-1]))
                       | (np.diff(t.view(np.int64)) > 1.5 * step.value)]  # fmt: skip
        starts = np.nonzero(change)[0]
        ends = np.r_[starts[1:], len(t)]
        for s, e in zip(starts, ends, strict=False):
            v = value[s]
            x0 = t[s]
            x1 = t[e - 1] + width
            mixed = np.isnan(v)
            colour = "#bbbbbb" if mixed else palette.get(int(v), "#8ab")
            name = "mixed" if mixed else labels.get(int(v), f"{int(v)}")
            coll = ax.broken_barh([(x0, x1 - x0)], (row - 0.4, 0.8), facecolors=colour, hatch="///" if mixed else None,
                                  edgecolor="white" if not mixed else "#888", linewidth=0, gid=f"state:{a}")  # fmt: skip
            legend.setdefault(f"{point}: {name}", coll)
    ax.set_yticks(range(len(antennas)), antennas, fontsize=7)
    ax.set_ylim(len(antennas) - 0.5, -0.5)
    ax.grid(True, axis="x", alpha=0.3)


# --------------------------------------------------------------------------------------
# one point compared


def render_compare(compared: pd.DataFrame, point: str, unit: str = "", *, interactive: bool = False) -> Figure:
    """Each antenna (thin grey lines, outliers in colour) against the median of the
    healthy antennas (thick black), outlier samples marked and each outlier named once at
    the right edge, labels spread apart so they never overprint, from a
    :func:`e2ckit.panels.data.compare_to_healthy` frame."""
    fig = new_figure(10.0, 4.4, interactive=interactive)
    ax = fig.add_subplot()
    unit = unit or compared.attrs.get("unit", "")
    handles: dict[str, Any] = {}
    if not compared.empty:
        out = compared[compared["outlier"]]
        flagged = list(out.groupby("antenna").size().sort_values(ascending=False, kind="stable").index)
        colours = _colours(flagged)
        for a in flagged:
            handles[a] = None  # the legend names outliers first, most flagged first
        for a, g in compared.groupby("antenna", sort=True):
            g = g.sort_values("time")
            hot = a in colours
            (ln,) = ax.plot(_naive(g["time"]), g["value"].to_numpy(float), linewidth=1.3 if hot else 0.8,
                            color=colours[a] if hot else _OTHERS, alpha=1.0 if hot else 0.7, label=a,
                            gid=f"antenna:{a}", zorder=3 if hot else 2)  # fmt: skip
            if hot:
                handles[a] = ln
            else:
                handles.setdefault("others", ln)
        med = compared.drop_duplicates("time").sort_values("time")
        handles["median"] = ax.plot(_naive(med["time"]), med["median"].to_numpy(float), color="black", linewidth=2.4,
                                    label="median of healthy antennas", gid="median", zorder=4)[0]  # fmt: skip
        if not out.empty:  # each antenna's outlier samples in its own curve's colour
            colour_of = [colours.get(a, _OTHERS) for a in out["antenna"]]
            handles["outliers"] = ax.scatter(_naive(out["time"]), out["value"].to_numpy(float), c=colour_of, s=9,
                                             edgecolors="black", linewidths=0.3, label="outlier samples",
                                             gid="outliers", zorder=5)  # fmt: skip
        if _log_scale(unit, compared["value"]):
            ax.set_yscale("log")
        _draw_thresholds(ax, point)
        _label_right(ax, compared, flagged, colours)
    else:
        _draw_thresholds(ax, point)
    ax.set_ylabel(f"[{unit}]" if unit else "")
    ax.set_xlabel("time (UTC)")
    _time_axis(ax)
    n = compared["antenna"].nunique() if len(compared) else 0
    ax.set_title(f"{point_label(point)}: {n} antennas against the median of the healthy ones", fontsize=10)
    ax.grid(True, alpha=0.3)
    names = {"others": "other antennas", "median": "median of healthy antennas", "outliers": "outlier samples"}
    items = [(k, h) for k, h in handles.items() if h is not None]
    if items:
        figure_legend(fig, [h for _, h in items], [names.get(k, k) for k, _ in items])
    return fig


def _label_right(ax: Any, compared: pd.DataFrame, flagged: Sequence[str], colours: dict) -> None:
    """Name each outlier once, just right of the axes at the height of its last value,
    nudged apart (at least 4 % of the axes height) so names never overprint."""
    import numpy as np

    if not flagged:
        return
    fig = ax.figure
    fig.canvas.draw()  # settle the limits and scales first
    to_axes = ax.transAxes.inverted()
    ys = []
    for a in flagged:
        g = compared[(compared["antenna"] == a) & compared["value"].notna()].sort_values("time")
        if g.empty:
            continue
        x, y = _naive(g["time"].iloc[-1:])[0], float(g["value"].iloc[-1])
        import matplotlib.dates as mdates

        disp = ax.transData.transform((mdates.date2num(x), y))
        ys.append([a, float(np.clip(to_axes.transform(disp)[1], 0.0, 1.0))])
    ys.sort(key=lambda r: r[1])
    gap = 0.045
    for i in range(1, len(ys)):  # up: each at least `gap` above the one below
        ys[i][1] = max(ys[i][1], ys[i - 1][1] + gap)
    top = 1.0
    for r in reversed(ys):  # down: none above the axes, each `gap` below the one above
        r[1] = min(r[1], top)
        top = r[1] - gap
    for a, y in ys:
        ax.text(1.005, y, a, transform=ax.transAxes, fontsize=8, color=colours.get(a, "#c0392b"), va="center",
                ha="left", gid=f"label:{a}", clip_on=False)  # fmt: skip
