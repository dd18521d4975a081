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
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from e2ckit.analysis import answered, current
from e2ckit.catalog.limits import Reading, load_limits
from e2ckit.errors import ValidationError
from e2ckit.triage.alarms import judged
from e2ckit.triage.diagnose import load_rules
from e2ckit.triage.logstatus import info_label
from e2ckit.triage.plan import PROGRESS, phase_summary, progress_of_readings, readings_of_rows
from e2ckit.triage.power import power_cell
from e2ckit.triage.recovery import NEEDED, recovery

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BOARD_COLUMNS", "RecoveryBoard", "board_frame", "board_summary", "render_board"]

BOARD_COLUMNS = ["antenna", "verdict", "phase", "step", "next", "progress", "stage", "reason", "temp_4k", "pressure",
                 "compressor", "power", "eta_hours", "eta_low_hours", "eta_high_hours", "flags", "last"]  # fmt: skip
_RANK = {"ok": 0, "unknown": 1, "warn": 2, "alarm": 3}
_FROM_LIMIT = {"ok": "ok", "unavailable": "unknown", "warn": "warn", "alarm": "alarm"}
_COLOUR = {"ok": "#2e7d32", "warn": "#b26a00", "alarm": "#c62828", "unknown": "#666"}
_BG = {"ok": "#e8f5e9", "warn": "#fff3cd", "alarm": "#f8d0d0", "unknown": "#eeeeee"}
#: a row's colour while a recovery is under way follows its progress: recovering blue,
#: waiting on a gate amber, stalled red (a done antenna: its verdict's colour, so that a
#: warn left on a recovered antenna, the latched ACU power-failure flag, stays amber)
_PROGRESS_BG = {"recovering": "#e3f2fd", "waiting": "#fff3cd", "stalled": "#f8d0d0"}
_PROGRESS_RANK = {p: i for i, p in enumerate(PROGRESS)}


def board_frame(log: pd.DataFrame, *, limits: Any = None) -> pd.DataFrame:
    """One row per antenna of a loaded log: the verdict *now* (the worst of its readings'
    states as :func:`~e2ckit.catalog.limits.judge` gives them; ``alarm`` when its latest
    cycle had no answer at all), the reason (the probable cause from the diagnose rules
    where one matches, else the worst reading's claim), the 4K temperature, pressure and
    compressor drive now, and from :func:`~e2ckit.triage.recovery` the ETA and flags.

    When the log holds every point of the recovery plan (the ``recovery`` group), each
    antenna's ``phase``, next ``step``, ``next`` (that step in words), ``progress``
    (done, recovering, waiting, stalled) and ``stage`` (the words the summary counts it
    by), from :func:`~e2ckit.triage.plan.progress_of_readings` on the readings now; else
    those are empty. The verdict is the one judgement either way.

    "Now" is the staleness rule of :func:`e2ckit.analysis.current`: a point with no good
    reading in the antenna's last two cycles is unknown (``not read since HH:MM UTC``),
    never ok, and shows no value."""
    import pandas as pd

    lim = load_limits(limits)
    if log.empty:
        return pd.DataFrame(columns=BOARD_COLUMNS)
    rules = [r for r in load_rules() if not ({"catalog_error", "lru_missing", "flaky_network"} & set(r.when))]
    rec = None
    if all(p in set(log["point"].unique()) for p in NEEDED):
        rec = recovery(log, limits=lim).set_index("antenna")
    rows = []
    judged_now = list(_now_judged(log, lim))
    progress = {p["antenna"]: p for p in progress_of_readings(_plan_readings(judged_now, lim.catalog))}
    for antenna, g, down in judged_now:
        verdict, reason = _verdict_now(g, down, rules)
        fresh = g[g["fresh"]].set_index("point")
        stale = ", ".join(f"{p} {f}" for p, f in zip(g["point"], g["flag"], strict=True) if f)
        flags = stale if not down else ", ".join(x for x in ("no answer", stale) if x)
        etas = [math.nan] * 3
        if rec is not None and antenna in rec.index:
            etas = [rec.at[antenna, c] for c in ("eta_hours", "eta_low_hours", "eta_high_hours")]
            flags = rec.at[antenna, "flags"]
        t4 = fresh.at["FEMC.TEMP0", "value"] if "FEMC.TEMP0" in fresh.index else math.nan
        pressure = fresh.at["FEMC.CRYOSTAT_PRESSURE", "value"] if "FEMC.CRYOSTAT_PRESSURE" in fresh.index else math.nan
        drive = str(fresh.at["CMPR.DRIVE", "text"]) if "CMPR.DRIVE" in fresh.index else ""
        power = power_cell({p: Reading(v, t, "ok", e if isinstance(e, str) else None)
                            for p, v, t, e in zip(g["point"], g["value"], g["text"], g["error"], strict=True)
                            if str(p).startswith(("FEPS.", "FETIM.", "CMPR.FETIM"))}, lim)  # fmt: skip
        p = progress.get(antenna, {})
        phase = [p.get(k, "") for k in ("phase", "step", "next", "progress", "stage")]
        rows.append((antenna, verdict, *phase, reason, t4, pressure, drive, power, *etas, flags, g["now"].iloc[0]))
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def _now_judged(log: pd.DataFrame, lim: Any) -> Iterator[tuple[str, pd.DataFrame, bool]]:
    """(antenna, its readings now judged, whether its latest cycle had no answer at all)."""
    import pandas as pd

    cur = current(log)
    now = log.groupby(log["antenna"].astype(object))["time"].max()
    cur["now"] = cur["antenna"].map(now)
    # judged as one cycle (a reading of the cycle before counts as now): the conditions of
    # the expected states see every reading of now together
    j = judged(cur.assign(time=cur["now"]), lim)
    j = j.assign(fresh=cur["fresh"].to_numpy(), flag=cur["flag"].to_numpy(), now=cur["now"].to_numpy())
    latest = log[log["time"].to_numpy() == log["antenna"].astype(object).map(now).to_numpy()]
    up = None
    if "error" in log.columns:  # the one "did the E2C answer" rule (an E2C error reply is an answer)
        raw = latest["raw"] if "raw" in latest.columns else pd.Series(None, index=latest.index, dtype=object)
        flags = [answered(e, r) for e, r in zip(latest["error"].astype(object), raw.astype(object), strict=True)]
        up = pd.Series(flags, index=latest.index).groupby(latest["antenna"].astype(object)).any()
    for antenna, g in j.groupby("antenna", sort=True):
        down = up is not None and not bool(up.get(antenna, True))
        yield str(antenna), g, down


def _plan_readings(judged_now: list[tuple[str, pd.DataFrame, bool]], cat: Any) -> dict[str, Any]:
    """The readings now of each antenna as the recovery plan reads them: a point with no
    fresh reading has none (its flag, ``not read since ...``, as its error)."""
    rows = []
    for antenna, g, _down in judged_now:
        for p, v, t, e, fresh, flag in zip(g["point"], g["value"], g["text"], g["error"], g["fresh"], g["flag"], strict=True):
            error = e if isinstance(e, str) and e else None
            label = info_label(cat, p) if error is None and v != v else ""
            if not label:  # (an information sentinel read in the window is a reading: its label)
                error = error or (None if fresh else (flag or "no fresh reading"))
            text = label or (t if fresh and isinstance(t, str) else "")
            rows.append(SimpleNamespace(antenna=antenna, point=p, value=v if fresh else math.nan, text=text, error=error))
    return readings_of_rows(rows)


def _verdict_now(g: pd.DataFrame, down: bool, rules: Any) -> tuple[str, str]:
    """(verdict, reason) of one antenna's judged readings now."""
    if down:
        verdict, reason = "alarm", "no answer: " + str(g["error"].dropna().iloc[0] if g["error"].notna().any() else "")
    else:
        ranks = g["limit"].map(lambda x: _RANK[_FROM_LIMIT[x]])
        worst = g.iloc[int(ranks.to_numpy().argmax())]
        verdict = _FROM_LIMIT[worst["limit"]]
        reason = f"{worst['point']} {worst['reason']}" if verdict != "ok" else ""
    if verdict == "ok":
        return verdict, reason
    # the probable cause from the diagnose rules, where one matches the readings now
    facts = {"no_answer"} if down else set()
    facts |= {"any_alarm", "any_warn"} if verdict == "alarm" else ({"any_warn"} if verdict == "warn" else set())
    readings = {p: Reading(v, t, "ok" if not isinstance(e, str) else "error", e if isinstance(e, str) else None)
                for p, v, t, e in zip(g["point"], g["value"], g["text"], g["error"], strict=True)}  # fmt: skip
    rule = next((x for x in rules if x.when and x.holds(facts, readings)), None)
    return verdict, (rule.cause if rule is not None else reason)


def _eta_text(eta: float, low: float, high: float) -> str:
    if eta != eta:  # NaN: no estimate (compressor off, no answer) or too early (see flags)
        return "—"
    if eta == 0:
        return "cold"
    if math.isinf(eta):
        return "not cooling"
    return f"{eta:.1f} h ({low:.1f}–{high:.1f})"  # central (80 % interval)

def _row_style(verdict: str, progress: str) -> str:
    """A row's background: by its progress while it recovers, else by its verdict."""
    return _PROGRESS_BG.get(progress, _BG[verdict])


def board_summary(frame: pd.DataFrame) -> list[str]:
    """The board's summary lines: by phase while a recovery is under way (``66 antennas by
    phase: 20 pumping down, 40 cooling, 6 operational``), then the verdicts as counted
    (``66 antennas: 60 alarm, 6 ok``)."""
    counts = frame["verdict"].value_counts()
    verdicts = ", ".join(f"{int(counts[v])} {v}" for v in ("alarm", "warn", "unknown", "ok") if v in counts)
    lines = [f"{len(frame)} antennas: {verdicts or 'no data yet'}"]
    if "stage" in frame.columns and len(frame) and (frame["stage"] != "").all():
        by_phase = phase_summary(frame[["step", "stage", "progress"]].to_dict("records"))
        lines = [by_phase, *lines] if by_phase else lines
    return lines


def render_board(frame: pd.DataFrame, title: str = "Recovery board") -> str:
    """The board as HTML: one line per antenna with its verdict (the one judgement), its
    recovery phase and next step; coloured by progress while it recovers (recovering blue,
    waiting amber, stalled red), else by verdict; stalled and worst first."""
    progress = list(frame["progress"]) if "progress" in frame.columns else [""] * len(frame)
    order = frame.assign(_p=[_PROGRESS_RANK.get(p, 0) for p in progress], _r=frame["verdict"].map(_RANK))
    order = order.sort_values(["_p", "_r", "antenna"], ascending=[False, False, True])
    last = frame["last"].max() if len(frame) else None
    when = f" — data up to {last:%Y-%m-%d %H:%M:%S} UTC" if last is not None and last == last else ""
    head = "".join(f"<th style='padding:2px 6px;text-align:left'>{h}</th>" for h in
                   ("antenna", "verdict", "phase", "next step", "4K [K]", "vacuum [mbar]", "compressor", "power",
                    "cold in", "flags", "reason"))  # fmt: skip
    body = [_board_row(r) for r in order.itertuples(index=False)]
    lines = board_summary(frame)
    lines[-1] += when  # the verdicts' line says how recent the data are
    summary = "".join(f"<div class='e2ckit-board-summary'>{html.escape(line)}</div>" for line in lines)
    return (
        f"<div class='e2ckit-board'><h3 style='margin:4px 0'>{html.escape(title)}</h3>{summary}"
        f"<table style='border-collapse:collapse;font-size:95%'><tr>{head}</tr>{''.join(body)}</table></div>"
    )


def _board_row(r: Any) -> str:
    v, progress = r.verdict, getattr(r, "progress", "") or ""
    t4 = "—" if r.temp_4k != r.temp_4k else f"{r.temp_4k:.2f}"
    p = "—" if r.pressure != r.pressure else f"{r.pressure:.2e}"
    phase = getattr(r, "phase", "") or ""
    return (
        f"<tr class='e2ckit-board-row' data-antenna='{html.escape(r.antenna)}' data-verdict='{v}' "
        f"data-progress='{progress or 'none'}' style='background:{_row_style(v, progress)}'>"
        f"<td><b>{html.escape(r.antenna)}</b></td><td style='color:{_COLOUR[v]};font-weight:bold'>{v.upper()}</td>"
        f"<td>{html.escape(phase or '—')}</td><td>{html.escape(getattr(r, 'next', '') or '')}</td>"
        f"<td>{t4}</td><td>{p}</td><td>{html.escape(r.compressor or '—')}</td><td>{html.escape(r.power or '—')}</td>"
        f"<td>{_eta_text(r.eta_hours, r.eta_low_hours, r.eta_high_hours)}</td>"
        f"<td>{html.escape(r.flags or '')}</td><td>{html.escape(r.reason)}</td></tr>"
    )


class RecoveryBoard:
    """A self-updating board over a running :class:`~e2ckit.Logger` or the path of the
    dataset one writes. ``every`` real seconds (default 5) it flushes the logger (when it
    has one), re-reads the log and redraws; call :meth:`update` to do it once by hand.
    ``data`` is the :func:`board_frame` shown; ``widget`` the ipywidgets box."""

    def __init__(self, source: Any, *, every: float | None = 5.0, limits: Any = None, title: str = "Recovery board") -> None:
        import ipywidgets as w

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
        from e2ckit.dataset import load  # the dataset reader (pyarrow) only when the board updates

        try:
            if self.logger is not None:
                self.logger.flush()
            if not self.path.exists():
                self.status.value = "<span style='color:#666'>no samples yet</span>"
                return None
            log = load(self.path)
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
