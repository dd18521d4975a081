"""Analysis of tidy logs: outages, threshold crossings, antennas against the array.

Pure functions of tidy DataFrames (the columns of :data:`e2ckit.api.TIDY_COLUMNS`, as
``e2ckit.load()`` and ``sweep(tidy=True)`` return them). Nothing here talks to an E2C,
so the same code answers questions about a live sweep, a recorded log or the simulator.

What a power outage looks like in a log (``shared/e2c-protocol.md`` §10)
-----------------------------------------------------------------------
1. the antenna's E2C stops answering: its rows carry a *transport* error
   (``refused``, ``timeout``, ``closed``, ...), or, if the logger skipped it, it has
   no rows while other antennas do (a *gap*);
2. power back: the nodes reboot, so their transaction counters (``GET_TRANS_NUM``)
   start again near 0 (a *counter reset*);
3. the cryostat has been warming meanwhile: the 4K stage crosses **30 K** (above it the
   LO power amplifiers are blocked) and the cryostat pressure crosses **5e-4 mbar**
   (above it the front end does not let the compressor cool) — often while the antenna
   could not be read, so the first reading after power comes back is already above;
4. recovery brings both back below their thresholds, the pressure within hours, the
   4K stage after a long cool-down.

:func:`outages` finds (1–2), :func:`crossings` finds every crossing of a threshold and
:func:`outage_summary` puts them together, one row per outage, which is the table the
``04-outage-trends`` notebook shows. :func:`compare_to_median` and :func:`outliers`
put each antenna against the array.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from e2ckit.catalog.limits import interlock_k, safe_to_cool_mbar
from e2ckit.errors import DOWN_KINDS, KINDS, ErrorCode, Failure, error_info

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DOWN_ERRORS",
    "PRESSURE_LIMIT_MBAR",
    "PRESSURE_POINT",
    "TEMP_LIMIT_K",
    "TEMP_POINT",
    "answered",
    "compare_to_median",
    "crossings",
    "current",
    "cycle_age",
    "explain_errors",
    "good",
    "hours",
    "is_down",
    "not_read_since",
    "outage_summary",
    "outages",
    "outliers",
    "sample_interval",
]

#: The 4K stage's cryocooler sensor (§7, sensor 0).
TEMP_POINT = "FEMC.TEMP0"
#: Above this the LO power amplifiers are blocked (unless the 15K stage is below it): the
#: LO-PA interlock's threshold, read from the catalog (``derived.csv``), its one home.
TEMP_LIMIT_K = interlock_k()
#: The cryostat vacuum gauge (§7, sensor 0).
PRESSURE_POINT = "FEMC.CRYOSTAT_PRESSURE"
#: The front end lets the compressor cool only at or below this pressure: the cryostat
#: pressure's alarm bound, read from the catalog (``points.csv``), its one home.
PRESSURE_LIMIT_MBAR = safe_to_cool_mbar()
#: Error kinds meaning "the E2C did not answer at all" (not an E2C error reply): the
#: failure kinds of :data:`e2ckit.errors.DOWN_KINDS`, in a fixed order.
DOWN_ERRORS = tuple(sorted(DOWN_KINDS, key=("refused", "timeout", "deadline", "closed", "unreachable", "unresolved").index))
#: Points whose falling value means the node rebooted (matched as a substring).
COUNTER_MARK = "TRANS_NUM"


def _pd():
    import pandas as pd

    return pd


def _error_code(error: object) -> str | None:
    """The failure kind of an ``error`` value (None: no error)."""
    failure = Failure.parse(error)
    return None if failure is None else failure.kind


def _is_down(error: object) -> bool:
    failure = Failure.parse(error)
    return failure is not None and failure.down


def _errors(tidy: pd.DataFrame) -> pd.Series:
    """The ``error`` column; all None when the frame has none (``load`` leaves it out
    when no row failed)."""
    if "error" in tidy:
        return tidy["error"]
    return _pd().Series(None, index=tidy.index, dtype=object, name="error")


def is_down(tidy: pd.DataFrame) -> pd.Series:
    """True for rows whose E2C did not answer at all (a transport error, not an E2C error)."""
    return _errors(tidy).astype(object).map(_is_down).astype(bool)


def answered(error: object, raw: object = None) -> bool:
    """Whether a row's E2C answered: no error, an E2C error reply, a reply that does not fit
    its catalog entry, or any bytes back (``raw``). The one "is the E2C up" rule of diagnose(),
    the board and recovery(): a slow or garbled E2C is not down."""
    failure = Failure.parse(error)
    if failure is None or failure.e2c_name is not None or failure.kind == "catalog":
        return True
    return raw is not None and not (isinstance(raw, float) and raw != raw)


def good(tidy: pd.DataFrame) -> pd.DataFrame:
    """The rows that hold a reading: no error and a value."""
    return tidy[_errors(tidy).isna() & tidy["value"].notna()]


def sample_interval(tidy: pd.DataFrame) -> pd.Timedelta:
    """The typical time between two samples of one antenna (median over antennas)."""
    pd = _pd()
    steps = []
    for _, g in tidy.groupby("antenna", sort=False):
        t = g["time"].drop_duplicates().sort_values()
        if len(t) > 1:
            steps.append(t.diff().dropna().median())
    return pd.Series(steps).median() if steps else pd.NaT


# --------------------------------------------------------------------------------------
# "now" from a log: the staleness rule (issue 22)

#: How many of an antenna's latest cycles a "now" taken from a log may use: a reading older
#: than that is unknown ("not read since HH:MM UTC"), never ok and never cold. Counted in
#: cycles, not wall time, which steps (an NTP correction after a power cut).
FRESH_CYCLES = 2
#: the columns :func:`current` adds to a log's
CURRENT_COLUMNS = ["fresh", "last_read", "flag"]


def cycle_age(log: pd.DataFrame) -> pd.Series:
    """Per row: how many cycles before its antenna's latest cycle it was written (0: the
    latest). A cycle is one distinct ``time`` of an antenna (the logger stamps a cycle's
    rows with its slot on the time grid); a ``cycle`` column (a logger sequence number),
    when the log has one, counts instead. The one definition of a cycle for every "now"."""
    key = "cycle" if "cycle" in log.columns else "time"
    by = log["antenna"].astype(object)
    rank = log[key].groupby(by, sort=False).rank(method="dense", ascending=False)
    return (rank - 1).astype("int64")


def not_read_since(last_read: object, now: object = None) -> str:
    """The flag of a reading too old to be "now": ``not read since 13:20 UTC`` (``... since
    2026-01-01 13:20 UTC`` when ``now`` is on another day), or ``never read``."""
    pd = _pd()
    if last_read is None or pd.isna(last_read):
        return "never read"
    t = pd.Timestamp(last_read)
    t = t.tz_convert("UTC") if t.tzinfo is not None else t.tz_localize("UTC")
    n = pd.Timestamp(now) if now is not None and not pd.isna(now) else t
    n = n.tz_convert("UTC") if n.tzinfo is not None else n.tz_localize("UTC")
    return f"not read since {t:%H:%M} UTC" if n.date() == t.date() else f"not read since {t:%Y-%m-%d %H:%M} UTC"


def current(log: pd.DataFrame, *, cycles: int = FRESH_CYCLES) -> pd.DataFrame:
    """Each antenna's "now" from a log: one row per (antenna, point), the newest **good**
    reading of the point among the antenna's last ``cycles`` cycles (:func:`cycle_age`).

    A point with no good reading there gets its newest row in the window (an error row: the
    point did not answer) or, when it has none, a row with no value and ``error``
    ``stale: not read since HH:MM UTC``; either way ``fresh`` is False and ``flag`` says
    ``not read since HH:MM UTC`` (the time of its last good reading, ``last_read``). What
    :func:`~e2ckit.triage.recovery`, the recovery board and a panel's latest values take as
    "now": never an older value carried forward."""
    pd = _pd()
    cols = list(log.columns)
    if log.empty:
        return pd.DataFrame(columns=[*cols, *CURRENT_COLUMNS])
    age = cycle_age(log)
    ok = _errors(log).isna().to_numpy() & log["value"].notna().to_numpy()
    frame = log.assign(_age=age.to_numpy(), _ok=ok).sort_values("time", kind="stable")
    frame["antenna"] = frame["antenna"].astype(object)
    frame["point"] = frame["point"].astype(object)
    keys = ["antenna", "point"]
    last_good = frame[frame["_ok"]].groupby(keys, sort=False)["time"].max()
    window = frame[frame["_age"] < cycles]
    newest_good = window[window["_ok"]].groupby(keys, sort=False).tail(1).set_index(keys)
    newest_any = window.groupby(keys, sort=False).tail(1).set_index(keys)
    every = frame.groupby(keys, sort=False).tail(1).set_index(keys)
    rows = newest_good.combine_first(newest_any) if len(newest_good) else newest_any
    rows = rows.reindex(every.index)
    missing = rows["time"].isna()
    rows.loc[missing, "time"] = every.loc[missing, "time"]
    out = rows.reset_index()
    out["last_read"] = pd.to_datetime(out.set_index(keys).index.map(last_good.to_dict().get), utc=True)
    out["fresh"] = out.set_index(keys).index.isin(newest_good.index)
    now = out["antenna"].map(frame.groupby("antenna", sort=False)["time"].max())
    out["flag"] = [("" if f else not_read_since(t, n)) for f, t, n in zip(out["fresh"], out["last_read"], now, strict=True)]
    gone = missing.to_numpy()
    if gone.any():
        out["error"] = out["error"].astype(object)
        out.loc[gone, "error"] = ["stale: " + f for f in out.loc[gone, "flag"]]
        out.loc[gone, "value"] = math.nan
    return out[[*cols, *CURRENT_COLUMNS]].reset_index(drop=True)


def hours(td: pd.Series | pd.DataFrame, decimals: int = 2) -> pd.Series | pd.DataFrame:
    """Timedeltas as float hours, rounded: what a summary table shows."""
    pd = _pd()
    if isinstance(td, pd.DataFrame):
        return td.apply(lambda c: hours(c, decimals))
    if not pd.api.types.is_timedelta64_dtype(td):
        return td
    return (td / pd.Timedelta(hours=1)).round(decimals)


def explain(error: str) -> str:
    """What an ``error`` value of a tidy row means, in words.

    ``"E2C:TIMEOUT_ERROR: ..."`` is an error reply from the E2C (its error table, §3);
    ``"refused: ..."``, ``"timeout: ..."`` and the other transport codes mean the E2C
    itself did not answer (powered off, unreachable, or too slow).
    """
    failure = Failure.parse(error) or Failure("", "")
    name = failure.e2c_name
    if name is not None:
        try:
            info = error_info(int(ErrorCode[name]))
        except KeyError:
            return "an error reply from the E2C (not in its error table)"
        hint = {
            "TIMEOUT_ERROR": " (the LRU is absent, unpowered or not answering on this channel)",
        }.get(info.name, "")
        return f"E2C error {info.code} {info.name}: {info.description}{hint}"
    if failure.kind in KINDS:
        meaning = failure.meaning
        if failure.down:
            meaning += " — the whole E2C did not answer: power, network, or the host is down"
        return meaning
    return "not a known e2ckit error code"


def explain_errors(tidy: pd.DataFrame) -> pd.DataFrame:
    """The errors in a tidy result, grouped, with what each means.

    One row per distinct error: ``error`` (the code), ``antennas``, ``readings`` (how many
    rows carry it), ``points`` (a few of them) and ``meaning``. Empty when all is well.
    """
    pd = _pd()
    bad = tidy.assign(error=_errors(tidy).astype(object)).dropna(subset=["error"])
    rows = []
    for err, g in bad.groupby(bad["error"].map(_short_error), sort=False):
        pts = list(dict.fromkeys(g["point"]))
        rows.append(
            (err, ", ".join(dict.fromkeys(g["antenna"])), len(g),
             ", ".join(pts[:4]) + (f" (+{len(pts) - 4} more)" if len(pts) > 4 else ""),
             explain(g["error"].iloc[0]))
        )  # fmt: skip
    out = pd.DataFrame.from_records(rows, columns=["error", "antennas", "readings", "points", "meaning"])
    return out.sort_values("readings", ascending=False, kind="stable", ignore_index=True)


def _short_error(error: str) -> str:
    """``"E2C:TIMEOUT_ERROR: CAN bus timeout"`` → ``"E2C:TIMEOUT_ERROR"``; ``"refused: …"`` → ``"refused"``."""
    return _error_code(error) or str(error)


# --------------------------------------------------------------------------------------
# outages


def outages(
    tidy: pd.DataFrame,
    *,
    max_gap: pd.Timedelta | str | None = None,
    counter: str = COUNTER_MARK,
) -> pd.DataFrame:
    """When each antenna lost power and when it came back.

    One row per outage: ``antenna``, ``lost``, ``restored`` (NaT if the log ends first),
    ``duration`` and ``evidence`` (``errors``, ``gap``, ``counter reset``, joined by
    ``+``). The evidence:

    - **errors**: samples at which every point of the antenna failed with a transport
      error (:data:`DOWN_ERRORS`); ``lost`` is the first of them;
    - **gap**: no rows for longer than ``max_gap`` (default 3 × the typical sample
      interval) while other antennas were being sampled; ``lost`` is the last sample
      before the silence;
    - **counter reset**: a transaction counter (a point whose name contains ``counter``)
      fell; alone it means a reboot shorter than a sample interval, and ``lost`` is the
      last sample before it.

    ``restored`` is the first sample at which the antenna answered again.
    """
    pd = _pd()
    cols = ["antenna", "lost", "restored", "duration", "evidence"]
    if tidy.empty:
        out = pd.DataFrame(columns=cols)
        return out.astype({"lost": "datetime64[ns, UTC]", "restored": "datetime64[ns, UTC]", "duration": "timedelta64[ns]"})
    df = tidy[["time", "antenna", "point", "value"]].assign(error=_errors(tidy).astype(object))
    df["down"] = is_down(df)
    interval = sample_interval(df)
    gap = pd.Timedelta(max_gap) if max_gap is not None else (3 * interval if pd.notna(interval) else None)
    all_ns = pd.DatetimeIndex(df["time"].drop_duplicates()).as_unit("ns").asi8
    margin = (interval / 2) if pd.notna(interval) else pd.Timedelta(0)

    rows = []
    for antenna, g in df.groupby("antenna", sort=False):
        state = g.groupby("time", sort=True)["down"].all()  # True: nothing answered at that time
        times = list(state.index)
        ups = ~state
        resets = _counter_resets(g, counter)
        prev_good = None  # time of the last sample at which the antenna answered
        cur: dict | None = None
        for i, t in enumerate(times):
            if i and gap is not None and t - times[i - 1] > gap:
                lo, hi = (times[i - 1] + margin).value, (t - margin).value
                others = ((all_ns > lo) & (all_ns < hi)).any()
                if others or t in resets:
                    if cur is None:
                        cur = {"lost": times[i - 1], "evidence": ["gap"]}
                    elif "gap" not in cur["evidence"]:
                        cur["evidence"].append("gap")
            if t in resets:
                if cur is None:
                    cur = {"lost": prev_good if prev_good is not None else t, "evidence": ["counter reset"]}
                elif "counter reset" not in cur["evidence"]:
                    cur["evidence"].append("counter reset")
            if not ups[t]:
                if cur is None:
                    cur = {"lost": t, "evidence": ["errors"]}
                elif "errors" not in cur["evidence"]:
                    cur["evidence"].append("errors")
            else:
                if cur is not None:
                    rows.append((antenna, cur["lost"], t, "+".join(cur["evidence"])))
                    cur = None
                prev_good = t
        if cur is not None:
            rows.append((antenna, cur["lost"], pd.NaT, "+".join(cur["evidence"])))
    out = pd.DataFrame.from_records(rows, columns=["antenna", "lost", "restored", "evidence"])
    out["lost"] = pd.to_datetime(out["lost"], utc=True)
    out["restored"] = pd.to_datetime(out["restored"], utc=True)
    out["duration"] = out["restored"] - out["lost"]
    return out[cols]


def _counter_resets(g: pd.DataFrame, counter: str) -> set:
    """Times at which a transaction counter of this antenna read lower than before."""
    found: set = set()
    if not counter:
        return found
    ok = g[g["point"].str.contains(counter, regex=False) & g["error"].isna() & g["value"].notna()]
    for _, s in ok.groupby("point", sort=False):
        s = s.sort_values("time")
        fell = s["value"].diff() < 0
        found.update(s.loc[fell, "time"])
    return found


# --------------------------------------------------------------------------------------
# thresholds


def crossings(
    tidy: pd.DataFrame,
    point: str,
    threshold: float,
    *,
    log: bool | None = None,
    antennas: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every time a point crosses a threshold, per antenna.

    One row per crossing: ``antenna``, ``time``, ``direction`` (``up`` or ``down``),
    ``before`` and ``after`` (the readings either side), ``seen`` (the times of those two
    readings) and ``hidden`` (True when the readings either side are further apart than
    3 × the typical interval, so the crossing happened while the antenna could not be
    read and ``time`` is only bounded by them). The time is interpolated between the two
    readings, linearly, or in log10 for ``log=True`` (the default for pressures, any unit
    with "bar" in it). A hidden crossing is reported at the later reading: the first time
    it was *seen* beyond the threshold.
    """
    pd = _pd()
    import numpy as np

    df = good(tidy[tidy["point"] == point])
    if antennas is not None:
        df = df[df["antenna"].isin(list(antennas))]
    if log is None:
        units = df["unit"].dropna().unique() if "unit" in df else []
        log = any("bar" in str(u) for u in units)
    interval = sample_interval(tidy[tidy["point"] == point]) if not df.empty else pd.NaT
    hidden_after = 3 * interval if pd.notna(interval) else None
    rows = []
    for antenna, g in df.groupby("antenna", sort=False):
        g = g.sort_values("time")
        t = g["time"].to_numpy()
        v = g["value"].to_numpy(dtype=float)
        if log:
            keep = v > 0
            t, v = t[keep], v[keep]
        if len(v) < 2:
            continue
        above = v > threshold
        for i in np.nonzero(above[1:] != above[:-1])[0]:
            t0, t1, v0, v1 = t[i], t[i + 1], v[i], v[i + 1]
            hidden = hidden_after is not None and (t1 - t0) > hidden_after.to_timedelta64()
            if hidden:
                when = t1
            else:
                f = (math.log10(threshold) - math.log10(v0)) / (math.log10(v1) - math.log10(v0)) if log else (threshold - v0) / (v1 - v0)
                when = t0 + (t1 - t0) * float(min(max(f, 0.0), 1.0))
            rows.append((antenna, when, "up" if above[i + 1] else "down", v0, v1, t0, t1, bool(hidden)))
    out = pd.DataFrame.from_records(
        rows, columns=["antenna", "time", "direction", "before", "after", "seen_before", "seen_after", "hidden"]
    )
    for c in ("time", "seen_before", "seen_after"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


def outage_summary(
    tidy: pd.DataFrame,
    *,
    temp_point: str = TEMP_POINT,
    temp_limit: float = TEMP_LIMIT_K,
    pressure_point: str = PRESSURE_POINT,
    pressure_limit: float = PRESSURE_LIMIT_MBAR,
    found: pd.DataFrame | None = None,
    **outage_options,
) -> pd.DataFrame:
    """One row per outage: how long the antenna was down and what its cryostat did.

    Columns: ``antenna``, ``lost``, ``restored``, ``down`` (duration), then as durations
    since power was lost, ``temp_above`` (the 4K stage crossing ``temp_limit`` upward,
    i.e. warming) and ``pressure_above`` (the cryostat pressure crossing
    ``pressure_limit`` upward), and as durations since power was restored, the recovery
    times ``pressure_below`` and ``temp_below`` (back below the limits; NaT if the log
    ends first). ``notes`` says when a crossing happened while the antenna could not be
    read (then the time is the first reading beyond it, an upper bound, marked ``≤``),
    or when the stage was already beyond the limit before the outage.

    ``found``: an :func:`outages` frame, to reuse; other keywords go to :func:`outages`.
    """
    pd = _pd()
    found = outages(tidy, **outage_options) if found is None else found
    cross = {
        "temp": crossings(tidy, temp_point, temp_limit, log=False),
        "pressure": crossings(tidy, pressure_point, pressure_limit, log=True),
    }
    limits = {"temp": (temp_point, temp_limit), "pressure": (pressure_point, pressure_limit)}
    rows = []
    for _, o in found.iterrows():
        a, lost, restored = o["antenna"], o["lost"], o["restored"]
        end_of_outage = restored if pd.notna(restored) else lost
        row = {"antenna": a, "lost": lost, "restored": restored, "down": o["duration"]}
        notes = []
        for key, c in cross.items():
            c = c[c["antenna"] == a]
            point, limit = limits[key]
            units = tidy.loc[tidy["point"] == point, "unit"].dropna() if "unit" in tidy else []
            unit = f" {units.iloc[0]}" if len(units) and units.iloc[0] else ""
            # Warming: the first upward crossing seen after the last reading before the loss.
            ups = c[(c["direction"] == "up") & (c["seen_after"] > lost)]
            before = good(tidy[(tidy["antenna"] == a) & (tidy["point"] == point) & (tidy["time"] <= lost)])
            already = not before.empty and before.sort_values("time")["value"].iloc[-1] > limit
            up_at = pd.NaT
            if already:
                notes.append(f"{_short(point)} already above {limit:g}{unit} before the outage")
            elif not ups.empty:
                first = ups.iloc[0]
                up_at = first["time"]
                if first["hidden"]:
                    notes.append(f"{_short(point)} crossed {limit:g}{unit} while unreadable (≤)")
            row[f"{key}_above"] = up_at - lost if pd.notna(up_at) else pd.NaT
            # Recovery: the first downward crossing after both the warm-up and the power return.
            after = max(x for x in (up_at, end_of_outage) if pd.notna(x)) if pd.notna(end_of_outage) else up_at
            downs = c[(c["direction"] == "down") & (c["time"] >= after)] if pd.notna(after) else c.iloc[0:0]
            row[f"{key}_below"] = (downs.iloc[0]["time"] - restored) if (not downs.empty and pd.notna(restored)) else pd.NaT
        row["notes"] = "; ".join(notes)
        rows.append(row)
    cols = ["antenna", "lost", "restored", "down", "temp_above", "pressure_above", "pressure_below", "temp_below", "notes"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("down", "temp_above", "pressure_above", "pressure_below", "temp_below"):
        # NaT alone is taken for a datetime: a column of nothing but NaT (no antenna
        # recovered) would not convert to timedelta (pandas 3), so build it typed
        out[c] = pd.Series([pd.NaT if pd.isna(v) else pd.Timedelta(v) for v in out[c]],
                           index=out.index, dtype="timedelta64[ns]")  # fmt: skip
    return out


def _short(point: str) -> str:
    return {TEMP_POINT: "4K stage", PRESSURE_POINT: "pressure"}.get(point, point)


# --------------------------------------------------------------------------------------
# antennas against the array


def compare_to_median(
    tidy: pd.DataFrame,
    point: str,
    *,
    antennas: Sequence[str] | None = None,
    freq: pd.Timedelta | str | None = None,
    threshold: float = 5.0,
    log: bool | None = None,
) -> pd.DataFrame:
    """One point on every antenna against the array median, sample by sample.

    With ``freq`` (``"1min"``, a timedelta) readings are averaged per antenna in time
    buckets of that length (aligned to midnight UTC, labelled by their start: an hour
    of 1 Hz data at ``freq="1min"`` gives 60 per antenna); without it each sample is
    its own (times closer than half the typical sample interval are one sample,
    labelled by its earliest time). Then at each time the median over antennas and
    a robust spread (1.4826 × median absolute deviation, never below 1 % of the median's
    magnitude, so a quiet array does not flag noise). Returns tidy rows: ``time``,
    ``antenna``, ``value``, ``median``, ``deviation`` (value − median, or decades for
    ``log``), ``score`` (deviation / spread) and ``outlier`` (|score| > ``threshold``).
    ``log`` (default: pressures) compares log10 values.
    """
    pd = _pd()

    df = good(tidy[tidy["point"] == point])
    if antennas is not None:
        df = df[df["antenna"].isin(list(antennas))]
    cols = ["time", "antenna", "value", "median", "deviation", "score", "outlier"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    if log is None:
        log = "unit" in df and any("bar" in str(u) for u in df["unit"].dropna().unique())
    step = pd.Timedelta(freq) if freq is not None else sample_interval(df)
    if pd.isna(step) or step <= pd.Timedelta(0):
        step = pd.Timedelta(seconds=1)
    # freq: fixed time buckets; none: samples (a cycle's readings, a little apart)
    grid = df.assign(time=df["time"].dt.floor(step) if freq is not None else _buckets(df["time"], step))
    wide = grid.pivot_table(index="time", columns="antenna", values="value", aggfunc="mean")
    out = scored(wide, log=log, threshold=threshold)
    return out[cols].sort_values(["time", "antenna"], ignore_index=True)


def scored(
    wide: pd.DataFrame,
    *,
    log: bool,
    threshold: float,
    reference: pd.DataFrame | None = None,
    least_spread: object = 0.0,
) -> pd.DataFrame:
    """Each cell of ``wide`` (time × antenna) against the median of ``reference`` (the
    same shape; NaN where a cell must not count; default: every cell) at its time:
    tidy rows ``time, antenna, value, median, deviation, score, outlier``. The spread is
    1.4826 × the reference's median absolute deviation, never below 1 % of the median's
    magnitude (0.01 decades for ``log``) nor below ``least_spread``; ``log`` compares
    log10 values. A time with no reference flags nobody (NaN score)."""
    import numpy as np

    def scale(frame: pd.DataFrame) -> pd.DataFrame:
        return np.log10(frame.where(frame > 0)) if log else frame

    x = scale(wide)
    ref = x if reference is None else scale(reference)
    med = ref.median(axis=1)
    mad = ref.sub(med, axis=0).abs().median(axis=1) * 1.4826
    floor = np.maximum(0.01 if log else med.abs() * 0.01, least_spread)
    spread = np.maximum(mad, floor).replace(0, np.nan)
    dev = x.sub(med, axis=0)
    score = dev.div(spread, axis=0)
    out = (
        wide.stack().rename("value").to_frame()
        .join(dev.stack().rename("deviation"))
        .join(score.stack().rename("score"))
        .reset_index()
    )  # fmt: skip
    out["median"] = out["time"].map(10**med if log else med)
    out["outlier"] = out["score"].abs() > threshold  # NaN (no reference) is not an outlier
    return out


def _buckets(times: pd.Series, step: pd.Timedelta) -> pd.Series:
    """Label each time with the first time of its cluster (a new cluster after a gap > step/2)."""
    pd = _pd()
    uniq = times.drop_duplicates().sort_values()
    new = uniq.diff() > step / 2
    label = uniq.groupby(new.cumsum().to_numpy()).transform("min")
    return times.map(pd.Series(label.to_numpy(), index=uniq.to_numpy()))


def outliers(
    wide: pd.DataFrame,
    points: Sequence[str] | None = None,
    *,
    threshold: float = 5.0,
    min_antennas: int = 5,
    minority: float = 0.1,
) -> pd.DataFrame:
    """Antennas whose reading of a point stands out from the rest of the array.

    ``wide``: a wide sweep (one row per antenna). For each numeric point read by at least
    ``min_antennas`` antennas, a robust score (value − median) / (1.4826 × MAD, at least
    1 % of the median's magnitude, and at least the point's resolution for integer-like
    points) is computed per antenna; rows with |score| > ``threshold`` are returned:
    ``antenna``, ``point``, ``value``, ``median``, ``score``, ``unit``, sorted by |score|.
    Enumerated points (states, flags) are compared by their most common value instead:
    an antenna whose value differs from the value most antennas have gets score ``inf``,
    provided at most a ``minority`` share of antennas differ (more is a split by design,
    such as the compressor's ECU type by antenna family).
    """
    pd = _pd()
    import numpy as np

    units = wide.attrs.get("units", {})
    cols = [c for c in (points or wide.columns) if c != "error" and c in wide.columns]
    rows = []
    for p in cols:
        s = pd.to_numeric(wide[p], errors="coerce").dropna()
        if len(s) < min_antennas:
            continue
        ints = bool(np.all(np.isclose(s, s.round()))) and s.nunique() <= 8
        if ints:
            mode = s.mode().iloc[0]
            if (s != mode).mean() > minority:  # a real split (ECU types by family), not an odd one out
                continue
            for a, v in s[s != mode].items():
                rows.append((a, p, float(v), float(mode), math.inf, units.get(p, "")))
            continue
        med = float(s.median())
        spread = max(float((s - med).abs().median()) * 1.4826, abs(med) * 0.01, 1e-12)
        z = (s - med) / spread
        for a, v in s[z.abs() > threshold].items():
            rows.append((a, p, float(v), med, float(z[a]), units.get(p, "")))
    out = pd.DataFrame.from_records(rows, columns=["antenna", "point", "value", "median", "score", "unit"])
    order = out["score"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order].reset_index(drop=True)
