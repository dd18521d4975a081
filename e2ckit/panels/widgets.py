"""The widget shells: ArrayPanel, TrendPanel, ComparePanel.

A panel holds what it shows: ``panel.data`` (the DataFrame) and ``panel.figure`` (the
Figure), updated whenever a control changes or a button is clicked.

**Shown so that exports keep it.** Displaying a panel puts its controls (a widget) in
the cell *and*, beside them, ordinary outputs: the figure as a PNG (and ArrayPanel's
styled table as HTML), each with a display id. A redraw updates those outputs in place
(``update_display``), so the cell always carries the current figure as plain
``image/png``: nbconvert's HTML, nbviewer and GitHub show it even though they cannot run
the widget. With ipympl and ``interactive=True`` the figure's canvas is shown in the
widget instead, and the PNG still follows for the export.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit import analysis
from e2ckit.api import style, sweep, to_wide
from e2ckit.dataset import unflushed
from e2ckit.errors import ValidationError
from e2ckit.panels.data import (
    DEFAULT_PIXELS,
    _epoch,
    as_utc,
    compare_to_healthy,
    distinct,
    envelope,
    fetch_envelope,
    good_points,
    nice_step,
)
from e2ckit.panels.render import point_label, render_array, render_compare, render_trend

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def fetch_array(
    what: str | Sequence[str] = "cryo",
    antennas: str | Iterable[str] | None = None,
    *,
    array: Any = None,
    timeout: float = 1.0,
    **sweep_options: Any,
) -> pd.DataFrame:
    """Sweep a group (or points) across antennas; the tidy result (see :func:`e2ckit.sweep`)."""

    if isinstance(antennas, str) and antennas.strip().lower() in ("", "all", "*"):
        antennas = None
    return sweep(what, antennas, array=array, timeout=timeout, tidy=True, **sweep_options)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where a display can show something)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _running_cell() -> str | None:
    """An id of the cell the kernel is running (its execute request's message id), or None
    when no cell runs: outside a kernel, or a front-end widget event (a comm message),
    whose redraw belongs in place. (The execution count is no id: a runner that does not
    store history, nbval's, keeps it the same for every cell.)"""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # pragma: no cover - ipykernel < 6
        parent = kernel.get_parent()
    header = (parent or {}).get("header", {})
    return header.get("msg_id") if header.get("msg_type") == "execute_request" else None


def png_bytes(fig: Figure, dpi: int = 96) -> bytes:
    """The figure as PNG bytes (what a panel leaves in the cell for exports)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


#: the tallest a panel's table is drawn (px); longer tables scroll inside it
TABLE_MAX_HEIGHT = 420


class _Panel:
    """What the three panels share: ``data``, ``figure``, ``widget`` (the controls to
    display), a status line, and the static outputs that follow every redraw."""

    interactive = False

    def __init__(self) -> None:
        import ipywidgets as w

        self.data: pd.DataFrame | None = None
        self.figure: Figure | None = None
        self.status = w.HTML()
        self.plot_output = w.Output()  # the ipympl canvas, with interactive=True
        self.widget: Any = None
        self._busy = 0
        self._id = uuid.uuid4().hex
        self._shown = False
        self._shown_in: str | None = None  # the cell the static outputs were last displayed in

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

    # -- what a notebook shows -----------------------------------------------------

    def _static_outputs(self) -> list[tuple[str, dict[str, Any]]]:
        """(display id, raw mime bundle) of each static output: the figure as PNG."""
        if self.figure is None:
            return [(f"{self._id}-figure", {"text/plain": f"<{type(self).__name__}: nothing drawn>"})]
        png = base64.b64encode(png_bytes(self.figure)).decode("ascii")
        title = self.figure.get_suptitle() or type(self).__name__
        return [(f"{self._id}-figure", {"image/png": png, "text/plain": f"<{type(self).__name__} figure: {title}>"})]

    def _ipython_display_(self) -> None:
        """The controls, then the figure (and table) as plain outputs that exports keep."""
        from IPython.display import display

        display(self.widget)
        self._display_static()

    def _display_static(self) -> None:
        """The static outputs in the running cell, under display ids of their own: a later
        redraw from this cell (or from the controls) replaces them in place, one from a
        later cell shows its picture there and leaves this cell's as it was."""
        from IPython.display import display

        self._id = uuid.uuid4().hex
        for display_id, bundle in self._static_outputs():
            display(bundle, raw=True, display_id=display_id)
        self._shown = True
        self._shown_in = _running_cell() if _in_kernel() else None

    def _publish(self) -> None:
        """Bring the static outputs up to date after a redraw: in place when the change
        came from the panel's own cell or its controls, else in the cell that made it."""
        if not self._shown or not _in_kernel():
            return
        cell = _running_cell()
        if cell is not None and cell != self._shown_in:
            self._display_static()  # each cell keeps the picture it drew (exports show them all)
            return
        from IPython.display import update_display

        for display_id, bundle in self._static_outputs():
            update_display(bundle, raw=True, display_id=display_id)

    def _show(self, fig: Figure) -> None:
        old, self.figure = self.figure, fig
        if old is not None and not self.interactive:
            old.clear()
        if self.interactive and _in_kernel():
            from IPython.display import clear_output, display

            with self.plot_output:
                clear_output(wait=True)
                display(fig.canvas)
        self._publish()

    def _say(self, text: str, error: bool = False) -> None:
        import html

        colour = "#c0392b" if error else "#555"
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    def savefig(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Save the current figure (PNG, SVG, PDF by extension)."""
        if self.figure is None:
            raise ValueError("nothing drawn yet")
        self.figure.savefig(path, **kwargs)


class ArrayPanel(_Panel):
    """Sweep a group across antennas: the wide table (alarms highlighted) and one point
    drawn across the array (bars or a heat map coloured by limit state), with a refresh
    button. Displayed, it leaves the styled table (HTML) and the figure (PNG) in the cell.

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
        self.error: Exception | None = None
        text = what if isinstance(what, str) else ", ".join(what)
        ants = antennas if antennas is None or isinstance(antennas, str) else ", ".join(antennas)
        self.what = w.Text(value=text, description="points", placeholder="group or points: cryo, FEMC.TEMP0")
        self.antennas = w.Text(value=ants or "all", description="antennas", placeholder="all, DV, DV01, CM01-CM04")
        self.refresh_button = w.Button(description="Refresh", icon="refresh", button_style="primary")
        self.point = w.Dropdown(description="draw", options=[], layout=w.Layout(width="320px"))
        self.kind = w.ToggleButtons(options=[("bars", "bar"), ("heat map", "heatmap")], value=kind)
        self._wanted_point = point
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.point.observe(self._changed, names="value")
        self.kind.observe(self._changed, names="value")
        self.widget = w.VBox(
            [w.HBox([self.what, self.antennas, self.refresh_button]), self.status, w.HBox([self.point, self.kind]),
             self.plot_output]  # fmt: skip
        )
        if refresh:
            self.refresh()

    def _names(self) -> tuple[list[str] | str, str | None]:
        items = [s.strip() for s in self.what.value.split(",") if s.strip()]
        what: list[str] | str = items[0] if len(items) == 1 else items
        ants = self.antennas.value.strip()
        return what, (None if ants.lower() in ("", "all", "*") else ants)

    def table_html(self) -> str:
        """The wide table as styled HTML (alarms red, warnings amber), as the cell shows it."""

        if self.data is None:
            return "<p>no sweep yet</p>"
        # a 66-row table scrolls inside a bounded box (in the notebook and in exports)
        return f'<div style="max-height:{TABLE_MAX_HEIGHT}px;overflow:auto">{style(self.data).to_html()}</div>'


    def _static_outputs(self) -> list[tuple[str, dict[str, Any]]]:
        table = {"text/html": self.table_html(),
                 "text/plain": repr(self.data) if self.data is not None else "no sweep yet"}  # fmt: skip
        return [(f"{self._id}-table", table), *super()._static_outputs()]

    def refresh(self) -> pd.DataFrame | None:
        """Sweep again with the current controls; returns the wide frame (also ``.data``)."""

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
        numeric = [c for c in self.data.columns if c != "error" and self.data[c].notna().any()]
        choice = self._wanted_point if self._wanted_point in numeric else (
            self.point.value if self.point.value in numeric else (numeric[0] if numeric else None)
        )  # fmt: skip
        self._wanted_point = None
        with self._quiet():
            self.point.options = [(point_label(c), c) for c in numeric]
            self.point.value = choice
        self.redraw()
        return self.data

    def redraw(self) -> Figure | None:
        """Draw the chosen point from the frame already held (no new sweep)."""
        if self.data is None or not self.point.value:
            self._publish()
            return None
        self._show(render_array(self.data, self.point.value, kind=self.kind.value, interactive=self.interactive))
        return self.figure


# --------------------------------------------------------------------------------------
# panels over a log


class _Source:
    """Where a log panel's rows come from: a DataFrame in memory, or a logged dataset
    read a window at a time (never the whole log)."""

    def __init__(self, source: Any) -> None:
        import pandas as pd

        self.frame: pd.DataFrame | None = None
        self.path: Path | None = None
        self._make: Callable[[], pd.DataFrame] | None = None
        if isinstance(source, pd.DataFrame):
            self.frame = source
        elif callable(source) and not hasattr(source, "path"):
            self._make = source
        else:
            path = source if isinstance(source, (str, os.PathLike)) else getattr(source, "path", None)
            if path is None:
                raise TypeError(f"need a tidy DataFrame, a log path or a Logger, got {type(source).__name__}")
            self.path = Path(path)
        self.survey()

    def survey(self) -> None:
        """What the source holds: points with good readings, antennas, first and last time."""
        import numpy as np
        import pandas as pd

        if self._make is not None:
            self.frame = self._make()
        if self.frame is not None:
            log = self.frame
            self.points = good_points(log)
            self.antennas = distinct(log["antenna"])
            if len(log):
                ticks, per_tick = _epoch(log["time"])
                self.first, self.last = (pd.Timestamp(int(f(ticks)) * per_tick, unit="ns", tz="UTC")
                                         for f in (np.min, np.max))  # fmt: skip
            else:
                self.first = self.last = None
            return
        self.points, self.antennas, self.first, self.last = _survey_path(self.path)

    def window(self, points: Sequence[str], antennas: Sequence[str], start: Any, end: Any,
               pixels: int) -> pd.DataFrame:  # fmt: skip
        """The envelope of the chosen lines over [start, end], about ``pixels`` buckets per line."""
        if self.frame is not None:
            return envelope(self.frame, start, end, points=points, antennas=antennas, pixels=pixels)
        return fetch_envelope(self.path, points, antennas, start, end, pixels=pixels)


def _survey_path(path: Path) -> tuple[list[str], list[str], Any, Any]:
    """Points, antennas and time span of a logged dataset without reading its values:
    antennas from the partition names (``date=…/antenna=…``), the span from the time
    statistics in the footers of the first and the last day's files (a sample lies in
    the partition of its UTC date, so no other day can hold the ends), the points from
    the newest day's point statistics (a compacted file has a point per row group; a
    row group of several is read, its point column only), plus a running logger's
    write-ahead segments (its last cycles, not flushed yet). A file that is not a
    readable part is passed over (``load`` warns about it when it reads)."""
    import pandas as pd

    if not path.is_dir():
        raise ValidationError(f"no log at {path}: not a directory")
    by_day: dict[str, list[Path]] = {}
    for f in sorted(path.glob("date=*/antenna=*/*.parquet")):
        if not f.name.startswith((".", "_")):
            by_day.setdefault(f.parent.parent.name, []).append(f)
    days = sorted(by_day)
    antennas: set[str] = set()
    first = last = None
    points: list[str] = []
    # the newest day with a readable part gives the points and the end, the oldest the
    # start; the days between are not opened
    newest = None
    for day in reversed(days):
        spans = [s for f in by_day[day] if (s := _footer_survey(f, points)) is not None]
        if spans:
            first, last = _widen(first, last, *_span(spans))
            newest = day
            break
    for day in days:
        if newest is None or day >= newest:
            break
        spans = [s for f in by_day[day] if (s := _footer_survey(f, None)) is not None]
        if spans:
            first, last = _widen(first, last, *_span(spans))
            break
    for day in days:
        antennas.update(f.parent.name.split("=", 1)[1] for f in by_day[day])
    # a running logger's newest cycles, not in a part yet: its write-ahead segments
    with contextlib.suppress(Exception):  # a layout without segments: nothing to add
        import pyarrow.compute as pc

        for _day, antenna, table in unflushed(path):
            if table.num_rows == 0:
                continue
            antennas.add(antenna)
            lo, hi = (pc.min(table["time"]).as_py(), pc.max(table["time"]).as_py())
            first = lo if first is None or lo < first else first
            last = hi if last is None or hi > last else last
            points += [p for p in pc.unique(table["point"]).to_pylist() if p not in points]
    order = {n: i for i, n in enumerate((analysis.TEMP_POINT, analysis.PRESSURE_POINT))}
    points.sort(key=lambda p: (order.get(p, 9), p))
    span = [None if t is None else as_utc(pd.Timestamp(t)) for t in (first, last)]
    return points, sorted(antennas), span[0], span[1]


def _span(spans: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """The span holding every (first, last) of ``spans``."""
    first = last = None
    for lo, hi in spans:
        first, last = _widen(first, last, lo, hi)
    return first, last


def _widen(first: Any, last: Any, lo: Any, hi: Any) -> tuple[Any, Any]:
    """The span [first, last] widened to hold [lo, hi] (None: no bound yet)."""
    if lo is not None and (first is None or lo < first):
        first = lo
    if hi is not None and (last is None or hi > last):
        last = hi
    return first, last


def _footer_survey(f: Path, points: list[str] | None) -> tuple[Any, Any] | None:
    """The first and last time in ``f`` from its footer's statistics, and (``points``
    given) its points added to ``points``; None when ``f`` is not a readable part."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(f)
        meta = pf.metadata
        names = meta.schema.names
        t_col, p_col = names.index("time"), names.index("point")
    except Exception:  # noqa: BLE001 - not a part of the log; load() names it
        return None
    first = last = None
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        st = group.column(t_col).statistics
        if st is not None and st.has_min_max:
            first, last = _widen(first, last, st.min, st.max)
        if points is None or group.num_rows == 0:
            continue
        ps = group.column(p_col).statistics
        found: list[str] = []
        if ps is not None and ps.has_min_max and ps.min == ps.max:
            found = [ps.min]  # one point in the row group (the compacted layout)
        else:
            with contextlib.suppress(Exception):
                found = pf.read_row_group(rg, columns=["point"]).column("point").unique().to_pylist()
        points += [p for p in found if p not in points]
    return first, last


class _LogPanel(_Panel):
    """A panel over a log: a DataFrame, a function returning one (called again on
    Reload), a path or a running Logger (its directory).

    The time-range slider moves in round steps that fit the span (about 200 positions:
    5 min over half a day, 1 h over a week), not one position per sample."""

    #: positions of the time-range slider
    RANGE_STEPS = 200

    def __init__(self, source: Any, pixels: int = DEFAULT_PIXELS) -> None:
        import ipywidgets as w

        super().__init__()
        self.source = source
        self.pixels = pixels
        self._src = _Source(source)
        self.range = w.SelectionRangeSlider(
            options=[("", 0)], index=(0, 0), description="time (UTC)", continuous_update=False,
            layout=w.Layout(width="95%"), style={"description_width": "initial"},
        )  # fmt: skip
        self.reload_button = w.Button(description="Reload", icon="refresh", tooltip="read the log again")
        self.reload_button.on_click(lambda _b: self.reload())
        self._set_range_options()

    @property
    def log(self) -> pd.DataFrame | None:
        """The log in memory (None for a panel over a path, which reads windows)."""
        return self._src.frame

    def _times(self) -> list[pd.Timestamp]:
        import pandas as pd

        first, last = self._src.first, self._src.last
        if first is None or last is None:
            return []
        step = nice_step(max(last - first, pd.Timedelta(seconds=1)), self.RANGE_STEPS)
        times = list(pd.date_range(first.floor(step), last.ceil(step), freq=step))
        return times if len(times) > 1 else [first, last]

    def _set_range_options(self) -> None:
        times = self._times()
        if not times:
            return
        keep_all = self.range.index == (0, len(self.range.options) - 1) or len(self.range.options) <= 1
        old = self.range.value
        fmt = "%Y-%m-%d %H:%M" if (times[-1] - times[0]).days >= 1 else "%H:%M:%S"
        opts = [(t.tz_convert("UTC").strftime(fmt), t) for t in times]
        with self._quiet():
            self.range.options = opts
            if keep_all or old[0] not in times or old[1] not in times:
                self.range.index = (0, len(opts) - 1)
            else:
                self.range.value = old

    def reload(self) -> None:
        """Survey the source again (a path, a running Logger, a function) and redraw."""
        self._src.survey()
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
        """Select a time range: the slider positions nearest to ``start`` and ``end`` (UTC)."""
        times = [v for _, v in self.range.options]
        i = 0 if start is None else min(range(len(times)), key=lambda k: abs(times[k] - as_utc(start)))
        j = len(times) - 1 if end is None else min(range(len(times)), key=lambda k: abs(times[k] - as_utc(end)))
        self.range.index = (min(i, j), max(i, j))

    def _empty(self) -> bool:
        return not self.range.options or self.range.options[0][0] == ""


class TrendPanel(_LogPanel):
    """Chosen points for chosen antennas against time, over a log in memory, a logged
    dataset (``TrendPanel("path/to/log")``: only the window shown is read, cut to about
    one min/max pair per pixel column) or a running logger; a time-range slider, log
    scale for pressures, thresholds, and with many antennas a highlighted few (outliers,
    a family, names typed in ``highlight``) over a grey band of the rest.

    >>> panel = TrendPanel("data/outage-recovery", ["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"])  # doctest: +SKIP
    >>> panel.antennas.value = ("DV01", "DV02"); panel.set_range("2026-01-01 00:00", "2026-01-01 12:00")
    >>> panel.data, panel.figure
    """

    def __init__(
        self,
        source: Any,
        points: Sequence[str] | None = None,
        antennas: Sequence[str] | None = None,
        *,
        highlight: str = "auto",
        pixels: int = DEFAULT_PIXELS,
        interactive: bool = False,
    ) -> None:
        import ipywidgets as w

        super().__init__(source, pixels)
        self.interactive = interactive
        self.points = w.SelectMultiple(description="points", rows=6, layout=w.Layout(width="360px"))
        self.antennas = w.SelectMultiple(description="antennas", rows=6, layout=w.Layout(width="220px"))
        self.log_scale = w.Dropdown(options=[("auto (log for pressures)", "auto"), ("log", "log"), ("linear", "linear")],
                                    value="auto", description="y scale")  # fmt: skip
        self.show_thresholds = w.Checkbox(value=True, description="thresholds (30 K, 5e-4 mbar, limits)")
        self.highlight = w.Text(value=highlight, description="highlight",
                                placeholder="auto, or names/families: DV01, CM")  # fmt: skip
        self._fill_choices(points, antennas)
        for control in (self.points, self.antennas, self.log_scale, self.show_thresholds, self.range, self.highlight):
            control.observe(self._changed, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.points, self.antennas,
                        w.VBox([self.log_scale, self.show_thresholds, self.highlight, self.reload_button])]),  # fmt: skip
                self.range,
                self.status,
                self.plot_output,
            ]
        )
        self.redraw()

    def _fill_choices(self, points: Sequence[str] | None = None, antennas: Sequence[str] | None = None) -> None:
        all_points, all_ants = self._src.points, self._src.antennas
        want_p = list(points) if points is not None else (list(self.points.value) or [
            p for p in (analysis.TEMP_POINT, analysis.PRESSURE_POINT) if p in all_points
        ] or all_points[:1])  # fmt: skip
        want_a = list(antennas) if antennas is not None else (list(self.antennas.value) or all_ants)
        unknown = [p for p in want_p if p not in all_points]
        if unknown and points is not None:
            raise ValueError(f"not in this log (or never read): {', '.join(unknown)}")
        with self._quiet():
            self.points.options = [(point_label(p), p) for p in all_points]
            self.points.value = tuple(p for p in want_p if p in all_points)
            self.antennas.options = all_ants
            self.antennas.value = tuple(a for a in want_a if a in all_ants)

    def _on_reload(self) -> None:
        self._fill_choices()

    def _highlight(self) -> list[str] | None:
        text = self.highlight.value.strip()
        if text.lower() in ("", "auto"):
            return None
        return [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]

    def redraw(self) -> Figure | None:
        """Fetch the window the controls choose (``.data``, about one min/max pair per
        pixel column) and draw it (``.figure``)."""
        points, antennas = list(self.points.value), list(self.antennas.value)
        if self._empty():
            self._say("the log is empty", error=True)
            return None
        self.data = self._src.window(points, antennas, self.start, self.end, self.pixels)
        every = self.data.attrs.get("every")
        n = int(self.data["count"].sum()) if len(self.data) else 0
        cut = f" in {every} buckets" if every is not None else ""
        self._say(f"{n} readings{cut} · {len(points)} points × {len(antennas)} antennas · "
                  f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        log = {"auto": None, "log": True, "linear": False}[self.log_scale.value]
        fig = render_trend(self.data, points, antennas, start=self.start, end=self.end, log=log,
                           thresholds=self.show_thresholds.value, highlight=self._highlight(),
                           pixels=self.pixels, interactive=self.interactive)  # fmt: skip
        self._show(fig)
        return self.figure


class ComparePanel(_LogPanel):
    """One point across antennas over time, each against the median of the antennas whose
    readings are good and within limits (so down or alarming antennas do not drag it),
    outliers (robust score above ``threshold``) in colour and named.

    ``panel.data`` is the :func:`e2ckit.panels.data.compare_to_healthy` frame it draws;
    ``panel.outliers`` lists the flagged antennas and how many time buckets each.
    """

    def __init__(
        self,
        source: Any,
        point: str = analysis.TEMP_POINT,
        antennas: Sequence[str] | None = None,
        *,
        threshold: float = 5.0,
        pixels: int = DEFAULT_PIXELS,
        interactive: bool = False,
    ) -> None:
        import ipywidgets as w

        super().__init__(source, pixels)
        self.interactive = interactive
        points = self._src.points
        if point not in points:
            raise ValueError(f"{point} is not in this log (or never read); try one of {', '.join(points[:8])}")
        self.point = w.Dropdown(options=[(point_label(p), p) for p in points], value=point, description="point",
                                layout=w.Layout(width="360px"))  # fmt: skip
        all_ants = self._src.antennas
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
        all_ants = self._src.antennas
        keep = [a for a in self.antennas.value if a in all_ants] or all_ants
        with self._quiet():
            self.point.options = [(point_label(p), p) for p in self._src.points]
            self.antennas.options = all_ants
            self.antennas.value = tuple(keep)

    @property
    def outliers(self) -> pd.Series:
        """Flagged time buckets per antenna, most first."""
        import pandas as pd

        if self.data is None or self.data.empty:
            return pd.Series(dtype=int, name="outlier samples")
        s = self.data[self.data["outlier"]].groupby("antenna").size().sort_values(ascending=False, kind="stable")
        return s.rename("outlier samples")

    def redraw(self) -> Figure | None:
        if self._empty():
            self._say("the log is empty", error=True)
            return None
        point = self.point.value
        env = self._src.window([point], list(self.antennas.value), self.start, self.end, self.pixels)
        self.data = compare_to_healthy(env, point, threshold=self.threshold.value)
        flagged = self.outliers
        self._say(f"{self.data['antenna'].nunique() if len(self.data) else 0} antennas; outliers: "
                  + (", ".join(f"{a} ({n})" for a, n in flagged.items()) or "none"))  # fmt: skip
        self._show(render_compare(self.data, point, env.attrs.get("units", {}).get(point, "")))
        return self.figure
