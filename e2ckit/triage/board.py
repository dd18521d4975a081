"""The live recovery board: every antenna's verdict, cool-down ETA and flags, updated by itself
from a running :class:`~e2ckit.Logger` (or the dataset one writes), no Refresh button.

Like the panels of :mod:`e2ckit.panels`, it is a thin ipywidgets shell over pure functions:
:func:`board_frame` (a log in, one row per antenna out) and :func:`render_board` (that frame
in, HTML out). ``board.data`` is what it shows. ``e2ckit dashboard`` serves it through Voilà.

>>> log = e2ckit.Logger("outage", "DV", interval=60, path="night").start()   # doctest: +SKIP
>>> board = RecoveryBoard(log, every=5)     # re-reads the log every 5 s while displayed
>>> board                                   # in a notebook: the board
"""

from __future__ import annotations

import html
import math
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BOARD_COLUMNS", "RecoveryBoard", "board_frame", "render_board"]

BOARD_COLUMNS = ["antenna", "verdict", "reason", "temp_4k", "pressure", "compressor", "eta_hours",
                 "eta_error_hours", "flags", "last"]  # fmt: skip
_RANK = {"ok": 0, "unknown": 1, "warn": 2, "alarm": 3}
_FROM_LIMIT = {"ok": "ok", "unavailable": "unknown", "warn": "warn", "alarm": "alarm"}
_COLOUR = {"ok": "#2e7d32", "warn": "#b26a00", "alarm": "#c62828", "unknown": "#666"}
_BG = {"ok": "#e8f5e9", "warn": "#fff3cd", "alarm": "#f8d0d0", "unknown": "#eeeeee"}


def board_frame(log: pd.DataFrame, *, limits: Any = None) -> pd.DataFrame:
    """One row per antenna of a loaded log: the verdict of its latest cycle (worst reading;
    ``alarm`` when it did not answer), the reason (the probable cause from the diagnose rules
    where one matches, else the worst reading's), the latest 4K temperature, pressure and
    compressor drive, and from :func:`~e2ckit.triage.recovery` the ETA and flags."""
    import pandas as pd

    from e2ckit.triage.alarms import judged
    from e2ckit.triage.diagnose import load_rules
    from e2ckit.triage.limits import Reading, load_limits
    from e2ckit.triage.recovery import NEEDED, recovery

    lim = load_limits(limits)
    rules = [r for r in load_rules() if not ({"catalog_error", "lru_missing", "flaky_network"} & set(r.when))]
    if log.empty:
        return pd.DataFrame(columns=BOARD_COLUMNS)
    last_time = log.groupby("antenna")["time"].transform("max")
    latest = log[log["time"] == last_time]
    j = judged(latest, lim)
    rec = None
    if all(p in set(log["point"].unique()) for p in NEEDED):
        rec = recovery(log, limits=lim).set_index("antenna")
    rows = []
    for antenna, g in j.groupby("antenna", sort=True):
        if g["error"].notna().all():
            verdict, reason = "alarm", "no answer: " + str(g["error"].iloc[0])
        else:
            g = g.assign(_r=g["limit"].map(lambda x: _RANK[_FROM_LIMIT[x]]))
            worst = g.sort_values("_r", ascending=False, kind="stable").iloc[0]
            verdict = _FROM_LIMIT[worst["limit"]]
            reason = f"{worst['point']} {worst['reason']}" if verdict != "ok" else ""
        by = {p: r for p, r in zip(g["point"], g.itertuples(index=False), strict=True)}

        def value(point: str, by: dict = by) -> Any:
            r = by.get(point)
            return r.value if r is not None and not isinstance(r.error, str) else math.nan

        def text(point: str, by: dict = by) -> str:
            r = by.get(point)
            return r.text if r is not None and not isinstance(r.error, str) else ""

        if verdict != "ok":
            # the probable cause from the diagnose rules, where one matches the latest cycle
            facts = {"no_answer"} if g["error"].notna().all() else set()
            facts |= {"any_alarm", "any_warn"} if verdict == "alarm" else ({"any_warn"} if verdict == "warn" else set())
            readings = {p: Reading(r.value, r.text, "ok" if not isinstance(r.error, str) else "error",
                                   r.error if isinstance(r.error, str) else None) for p, r in by.items()}  # fmt: skip
            rule = next((x for x in rules if x.when and x.holds(facts, readings)), None)
            if rule is not None:
                reason = rule.cause
        eta = err = math.nan
        flags = ""
        if rec is not None and antenna in rec.index:
            eta, err, flags = rec.at[antenna, "eta_hours"], rec.at[antenna, "eta_error_hours"], rec.at[antenna, "flags"]
        rows.append((antenna, verdict, reason, value("FEMC.TEMP0"), value("FEMC.CRYOSTAT_PRESSURE"),
                     text("CMPR.DRIVE"), eta, err, flags, g["time"].max()))  # fmt: skip
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def _eta_text(eta: float, err: float) -> str:
    if eta != eta:  # NaN
        return "—"
    if eta == 0:
        return "cold"
    if math.isinf(eta):
        return "not cooling"
    return f"{eta:.1f} h ± {err:.1f}"


def render_board(frame: pd.DataFrame, title: str = "Recovery board") -> str:
    """The board as HTML: one line per antenna, coloured by verdict, worst first."""
    order = frame.assign(_r=frame["verdict"].map(_RANK)).sort_values(["_r", "antenna"], ascending=[False, True])
    counts = frame["verdict"].value_counts()
    summary = ", ".join(f"{int(counts[v])} {v}" for v in ("alarm", "warn", "unknown", "ok") if v in counts)
    last = frame["last"].max() if len(frame) else None
    when = f" — data up to {last:%Y-%m-%d %H:%M:%S} UTC" if last is not None and last == last else ""
    head = "".join(f"<th style='padding:2px 6px;text-align:left'>{h}</th>" for h in
                   ("antenna", "verdict", "4K [K]", "vacuum [mbar]", "compressor", "cold in", "flags", "reason"))  # fmt: skip
    body = []
    for r in order.itertuples(index=False):
        v = r.verdict
        t4 = "—" if r.temp_4k != r.temp_4k else f"{r.temp_4k:.2f}"
        p = "—" if r.pressure != r.pressure else f"{r.pressure:.2e}"
        body.append(
            f"<tr class='e2ckit-board-row' data-antenna='{html.escape(r.antenna)}' data-verdict='{v}' "
            f"style='background:{_BG[v]}'><td><b>{html.escape(r.antenna)}</b></td>"
            f"<td style='color:{_COLOUR[v]};font-weight:bold'>{v.upper()}</td><td>{t4}</td><td>{p}</td>"
            f"<td>{html.escape(r.compressor or '—')}</td><td>{_eta_text(r.eta_hours, r.eta_error_hours)}</td>"
            f"<td>{html.escape(r.flags or '')}</td><td>{html.escape(r.reason)}</td></tr>"
        )
    return (
        f"<div class='e2ckit-board'><h3 style='margin:4px 0'>{html.escape(title)}</h3>"
        f"<div class='e2ckit-board-summary'>{len(frame)} antennas: {summary or 'no data yet'}{when}</div>"
        f"<table style='border-collapse:collapse;font-size:95%'><tr>{head}</tr>{''.join(body)}</table></div>"
    )


class RecoveryBoard:
    """A self-updating board over a running :class:`~e2ckit.Logger` or the path of the
    dataset one writes. ``every`` real seconds (default 5) it flushes the logger (when it
    has one), re-reads the log and redraws; call :meth:`update` to do it once by hand.
    ``data`` is the :func:`board_frame` shown; ``widget`` the ipywidgets box."""

    def __init__(self, source: Any, *, every: float | None = 5.0, limits: Any = None, title: str = "Recovery board") -> None:
        import ipywidgets as w

        from e2ckit.triage.limits import load_limits

        self.logger = source if hasattr(source, "flush") and hasattr(source, "path") else None
        path = self.logger.path if self.logger is not None else source
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"RecoveryBoard takes a Logger or a log path, got {type(source).__name__}")
        self.path = Path(path)
        if every is not None and (isinstance(every, bool) or not isinstance(every, (int, float)) or not every > 0):
            raise ValidationError(f"every must be a positive number of seconds or None, got {every!r}")
        self.every = every
        self.limits = load_limits(limits)
        self.title = title
        self.data: pd.DataFrame | None = None
        self.updates = 0
        self.table = w.HTML(value=f"<i>{html.escape(title)}: waiting for the first samples…</i>")
        self.status = w.HTML()
        # the live widget hides the static copy of the table (_ipython_display_); an exported
        # notebook has no widget state, so the copy is what it shows
        self.widget = w.VBox([self.table, self.status, w.HTML("<style>.e2ckit-board-static{display:none}</style>")])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if every is not None:
            self.start()

    def update(self) -> pd.DataFrame | None:
        """Flush the logger, re-read the log, redraw; the new ``data`` (None: nothing logged yet)."""
        import e2ckit

        try:
            if self.logger is not None:
                self.logger.flush()
            if not self.path.exists():
                self.status.value = "<span style='color:#666'>no samples yet</span>"
                return None
            log = e2ckit.load(self.path)
            if log.empty:
                return None
            self.data = board_frame(log, limits=self.limits)
            self.table.value = render_board(self.data, self.title)
            self.updates += 1
            now = datetime.now(timezone.utc)  # the wall clock: when the board last read the log
            self.status.value = (f"<span class='e2ckit-board-updated' style='color:#666;font-size:85%'>"
                                 f"last updated {now:%Y-%m-%d %H:%M:%S} UTC (update {self.updates})</span>")  # fmt: skip
            self._publish()
        except Exception as exc:  # a board on a wall keeps going; it says what went wrong
            self.status.value = f"<span style='color:#c62828'>{html.escape(type(exc).__name__ + ': ' + str(exc))}</span>"
            return None
        return self.data

    def start(self) -> RecoveryBoard:
        """Update every ``every`` seconds in a background thread (until :meth:`stop`)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()

        def loop() -> None:
            while True:
                self.update()
                if self._stop.wait(self.every or 5.0):
                    return

        self._thread = threading.Thread(target=loop, name="e2ckit-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop updating."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _ipython_display_(self) -> None:
        """The live widget, and the table as plain HTML that exported notebooks keep
        (updated in place while the kernel runs)."""
        from IPython.display import display

        display(self.widget)
        self._display_id = f"e2ckit-board-{id(self)}"
        display({"text/html": self._static_html()}, raw=True, display_id=self._display_id)

    def _static_html(self) -> str:
        return f"<div class='e2ckit-board-static'>{self.table.value}{self.status.value}</div>"

    def _publish(self) -> None:
        display_id = getattr(self, "_display_id", None)
        if display_id is None:
            return
        try:
            from IPython.display import update_display

            update_display({"text/html": self._static_html()}, raw=True, display_id=display_id)
        except Exception:  # no kernel to show it in: the widget is all there is
            pass

    def __repr__(self) -> str:
        return f"RecoveryBoard({str(self.path)!r}, every={self.every}, updates={self.updates})"
