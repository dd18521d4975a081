"""``alarms(df)``: the readings in warn, alarm or unavailable, one row each with the reason.

Works on what e2ckit makes: a wide sweep (one row per antenna, ``attrs`` with limits and
text), a tidy sweep (``tidy=True``) and a loaded log (:func:`e2ckit.load`, many samples
per point: then one row per *episode*, a run of samples in the same state, with its start
and end). Every reading is judged again by :class:`~e2ckit.catalog.limits.Limits`: the
catalog's bounds or a site file's, and the expected states (a compressor that is off while
the cryostat is cold is an alarm even though the drive point has no bounds; a turbo pump
that reads blocked because the backing pump is off is not a problem).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from e2ckit.analysis import current
from e2ckit.catalog.limits import Limits, Reading, load_limits
from e2ckit.errors import ValidationError
from e2ckit.triage.power import can_error_growth

if TYPE_CHECKING:
    import os

    import pandas as pd

__all__ = ["ALARM_COLUMNS", "EPISODE_COLUMNS", "alarms", "judged"]

#: severity order of limit states (worst last)
SEVERITY = {"ok": 0, "unavailable": 1, "warn": 2, "alarm": 3}
ALARM_COLUMNS = ["time", "antenna", "point", "limit", "value", "text", "reason", "source"]
EPISODE_COLUMNS = ["antenna", "point", "limit", "start", "end", "samples", "value", "text", "reason", "source"]
#: the point name of a row that stands for every point of an antenna that did not answer
WHOLE_ANTENNA = "(all points)"
#: an antenna none of whose points answered is an alarm (its readings are unavailable; the
#: antenna is down): the "down" cause rule of rules.toml, the board's and diagnose()'s verdict
DOWN_LIMIT = "alarm"
DOWN_SOURCE = "rule: down (antenna or E2C down: no answer at all)"


def _text_of(cat: Any, point: str, value: float, status: str) -> str:
    """Display text of a logged value (logs keep no text): enum label or the number."""
    if status != "ok":
        return status
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    p = cat.points.get(point)
    if p is not None and p.enum and p.dtype != "flags":
        label = dict(p.enum).get(int(value))
        if label is not None:
            return label
    d = cat.derived.get(point)
    if d is not None:
        return d.true_label if value else d.false_label
    fmt = getattr(p, "fmt", "") or ".4g"
    try:
        return format(value, fmt)
    except (ValueError, TypeError):
        return str(value)


def _isnull(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _point_error(summary: Any, point: str) -> str:
    """A point's error from a wide frame's per-antenna summary (``cause (all N points)`` or
    ``P: error; Q: error; ... n more``)."""
    if not isinstance(summary, str):
        return "no reading"
    if summary.endswith(" points)") and "(all " in summary:
        return summary.rsplit(" (all ", 1)[0]
    causes = set()
    for part in summary.split("; "):
        if part.startswith(point + ": "):
            return part[len(point) + 2 :]
        if not part.startswith("... "):
            causes.add(part.split(": ", 1)[-1])
    # a summary cut after three points: when those share one error, so (most likely) did this
    return causes.pop() if len(causes) == 1 else "no reading (see the error column)"


_FEMC_STATUS_TEXT = re.compile(r"\(-\d+\)$")


def _tidy_from_wide(df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    limits, text = df.attrs.get("limits", {}), df.attrs.get("text", {})
    times = df.attrs.get("time", {})
    rows = []
    for antenna in df.index:
        lim, txt = limits.get(antenna, {}), text.get(antenna, {})
        err = df.at[antenna, "error"] if "error" in df.columns else None
        t = pd.Timestamp(times[antenna]) if antenna in times else pd.NaT
        for point in df.columns:
            if point == "error":
                continue
            value = df.at[antenna, point]
            state, shown = lim.get(point, "ok"), txt.get(point, "")
            if point not in lim and _isnull(value):
                continue  # this antenna did not read this point
            error = None
            status = "ok"
            if state == "unavailable" or (_isnull(value) and _FEMC_STATUS_TEXT.search(shown)):
                # a FEMC status (an expected "blocked" reads ok but keeps its status) or a
                # sentinel text; no text at all: the point failed
                if shown:
                    status = shown
                else:
                    status, error = "error", _point_error(err, point)
            rows.append((t, antenna, point, float(value), shown, status, error, state))
    return pd.DataFrame(rows, columns=["time", "antenna", "point", "value", "text", "status", "error", "limit"])


def _as_tidy(df: Any) -> tuple[pd.DataFrame, bool]:
    """(tidy frame with text/status/error/limit, whether it is a log of many samples)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"alarms() takes a sweep (wide or tidy) or a loaded log DataFrame, got {type(df).__name__}")
    cols = set(df.columns)
    if {"antenna", "point", "value"} <= cols:
        missing = {"time", "status", "error"} - cols
        if missing:
            raise ValidationError(f"alarms(): the frame lacks column(s) {', '.join(sorted(missing))} of a tidy sweep or log")
        out = df
        is_log = "limit" not in cols  # a logged dataset keeps no limit state
        if not is_log:
            # a tidy sweep may also hold several cycles (repeated reads): treat it as a log then
            is_log = bool(out.duplicated(["antenna", "point"]).any())
        return out, is_log
    if "limits" in df.attrs or "error" in cols:
        return _tidy_from_wide(df), False
    raise ValidationError("alarms(): not a sweep (wide or tidy) or a loaded log: no antenna/point/value columns and no limits in attrs")


def _readings_iter(tidy: pd.DataFrame, cat: Any) -> Iterator[tuple[Any, str, str, Reading, dict[str, Reading], str]]:
    """(time, antenna, point, reading, that antenna's latest readings, own limit) per row, in
    time order per antenna; the readings are updated a whole timestamp at a time, so the
    conditions of an expected state see the same cycle's values."""
    has_text = "text" in tidy.columns
    has_limit = "limit" in tidy.columns
    t = tidy.sort_values(["antenna", "time"], kind="stable")
    cols = ["time", "antenna", "point", "value", "status", "error"] + (["text"] if has_text else []) + (["limit"] if has_limit else [])
    current: dict[str, dict[str, Reading]] = {}
    batch: list[tuple[Any, str, str, Reading, str]] = []
    key = None
    for row in t[cols].itertuples(index=False, name=None):
        time, antenna, point, value, status, error = row[:6]
        text = row[6] if has_text else None
        limit = row[-1] if has_limit else "ok"
        value = float("nan") if _isnull(value) else float(value)
        status = "ok" if _isnull(status) else str(status)
        error = None if _isnull(error) else str(error)
        if text is None or _isnull(text):
            text = _text_of(cat, point, value, status)
        r = Reading(value, str(text), status, error)
        if (antenna, time) != key:
            yield from ((b[0], b[1], b[2], b[3], current[b[1]], b[4]) for b in batch)
            batch = []
            key = (antenna, time)
        current.setdefault(antenna, {})[point] = r
        batch.append((time, antenna, point, r, limit))
    yield from ((b[0], b[1], b[2], b[3], current[b[1]], b[4]) for b in batch)


def judged(df: pd.DataFrame, limits: Limits | str | os.PathLike[str] | None | bool = None) -> pd.DataFrame:
    """The tidy rows of ``df`` (any frame :func:`alarms` takes) with ``limit``, ``reason``
    and ``source`` as the limits in force judge them: ``reason`` empty when all is well."""
    import pandas as pd

    lim = load_limits(limits)
    tidy, _ = _as_tidy(df)
    out = []
    for time, antenna, point, r, readings, own in _readings_iter(tidy, lim.catalog):
        state, reason, source = lim.judge(point, r, readings, own if isinstance(own, str) else "ok")
        out.append((time, antenna, point, state, r.value, r.text, reason, source, r.error))
    return pd.DataFrame(out, columns=[*ALARM_COLUMNS, "error"])


def _collapse_down(rows: pd.DataFrame, down: set[str]) -> pd.DataFrame:
    """One row for an antenna none of whose points gave a reading (``down``)."""
    import pandas as pd

    keep = []
    for antenna, g in rows.groupby("antenna", sort=False):
        if len(g) > 1 and antenna in down:
            first = g.iloc[0]
            keep.append(
                pd.DataFrame(
                    [(first["time"], antenna, WHOLE_ANTENNA, DOWN_LIMIT, math.nan, "",
                      f"no answer: {first['error']}", DOWN_SOURCE, first["error"])],  # fmt: skip
                    columns=rows.columns,
                )
            )
        else:
            keep.append(g)
    return pd.concat(keep, ignore_index=True) if keep else rows


def _order(df: pd.DataFrame, by_time: str) -> pd.DataFrame:
    import pandas as pd

    # a plain int column: mapping an empty text column (pandas 3's str dtype) gives str,
    # which cannot be negated (the frame of a healthy array is empty)
    sev = [-SEVERITY[x] for x in df["limit"]]
    return df.assign(_s=pd.Series(sev, index=df.index, dtype="int64")).sort_values(["_s", "antenna", by_time, "point"], kind="stable").drop(columns="_s").reset_index(drop=True)


def alarms(
    df: pd.DataFrame,
    *,
    limits: Limits | str | os.PathLike[str] | None | bool = None,
    include_unavailable: bool = True,
) -> pd.DataFrame:
    """The readings of a sweep or log that are in warn, alarm or unavailable, with the reason.

    On a sweep (wide or tidy): one row per reading, columns ``time antenna point limit
    value text reason source``; an antenna that did not answer at all is one row, point
    ``(all points)``. On a loaded log: one row per *episode* (a run of consecutive
    samples of one point in the same non-ok state), columns ``antenna point limit start
    end samples value text reason source``, ``end`` being the time of the first sample
    after the episode (NaT while it lasts). Worst first (alarm, warn, unavailable).
    ``limits``: a site limits file (default ``$E2CKIT_SITE_LIMITS``), a
    :class:`~e2ckit.catalog.limits.Limits`, or False for the catalog's alone.
    """
    import pandas as pd

    lim = load_limits(limits)
    _, is_log = _as_tidy(df)
    j = judged(df, lim)
    if not include_unavailable:
        j = j[j["limit"] != "unavailable"]
    if not is_log:
        bad = j[j["limit"] != "ok"]
        answered = j["error"].isna().groupby(j["antenna"]).any()
        bad = _collapse_down(bad, set(answered.index[~answered]))
        return _order(bad.drop(columns="error"), "time")[ALARM_COLUMNS]
    # episodes: runs of one state per (antenna, point); a run ends at the first sample
    # in another state
    j = j.sort_values(["antenna", "point", "time"], kind="stable").reset_index(drop=True)
    change = (j["limit"] != j["limit"].shift()) | (j["antenna"] != j["antenna"].shift()) | (j["point"] != j["point"].shift())
    j["_run"] = change.cumsum()
    groups = j.groupby("_run", sort=False)
    first = groups.head(1).set_index("_run")
    count = groups.size()
    nxt_time = j["time"].shift(-1)
    same_series = (j["antenna"] == j["antenna"].shift(-1)) & (j["point"] == j["point"].shift(-1))
    end = nxt_time.where(same_series)
    last_idx = groups.tail(1).set_index("_run")
    ends = end.loc[groups.tail(1).index].to_numpy()
    ep = pd.DataFrame(
        {
            "antenna": first["antenna"],
            "point": first["point"],
            "limit": first["limit"],
            "start": first["time"],
            "end": pd.Series(ends, index=last_idx.index),
            "samples": count,
            "value": first["value"],
            "text": first["text"],
            "reason": first["reason"],
            "source": first["source"],
            "error": first["error"],
        }
    )
    ep = ep[ep["limit"] != "ok"].reset_index(drop=True)
    # an antenna down for a while: one episode per point with the same start and error;
    # collapse them into one
    if len(ep):
        down = ep["error"].notna()
        if down.any():
            d = ep[down]
            keys = d.groupby(["antenna", "start"], sort=False)
            merged = keys.head(1).copy()
            n = keys.size().to_numpy()
            merged.loc[n > 1, "point"] = WHOLE_ANTENNA  # type: ignore[index]
            merged.loc[n > 1, "limit"] = DOWN_LIMIT  # type: ignore[index]
            merged.loc[n > 1, "source"] = DOWN_SOURCE  # type: ignore[index]
            merged["reason"] = "no answer: " + merged["error"].astype(str)
            ep = pd.concat([ep[~down], merged], ignore_index=True)
    extra = pd.concat([_stale_episodes(df), _growth_episodes(df)], ignore_index=True)
    ep = pd.concat([ep, extra], ignore_index=True) if len(ep) else extra
    return _order(ep.drop(columns="error"), "start")[EPISODE_COLUMNS]


def _growth_episodes(log: pd.DataFrame) -> pd.DataFrame:
    """A ``warn`` episode for each cycle in which a node's CAN error count grew (the
    ``health`` group's ``*.CAN_ERROR`` points; :func:`e2ckit.triage.power.can_error_growth`):
    it starts at that cycle and ends at the point's next sample (NaT if it is the last)."""
    import pandas as pd

    grown = can_error_growth(log)
    rows = []
    for g in grown.itertuples(index=False):
        later = log.loc[(log["antenna"] == g.antenna) & (log["point"] == g.point) & (log["time"] > g.time), "time"]
        rows.append((g.antenna, g.point, "warn", g.time, later.min() if len(later) else pd.NaT, 1, float(g.after),
                     f"{g.after:g}", g.reason, "rule: a CAN error count that grows", None))  # fmt: skip
    return pd.DataFrame(rows, columns=[*EPISODE_COLUMNS, "error"])


def _stale_episodes(log: pd.DataFrame) -> pd.DataFrame:
    """An ``unavailable`` episode, lasting, for each point an antenna's log stopped holding:
    no row at all in its last two cycles (the staleness rule, :func:`e2ckit.analysis.current`),
    so an alarm that simply stopped being logged does not read as over."""
    import pandas as pd

    cur = current(log)
    gone = cur[cur["error"].astype(object).map(lambda e: isinstance(e, str) and e.startswith("stale: "))]
    return pd.DataFrame({
        "antenna": gone["antenna"], "point": gone["point"], "limit": "unavailable", "start": gone["last_read"],
        "end": pd.NaT, "samples": 0, "value": math.nan, "text": "", "reason": gone["flag"], "source": "staleness rule",
        "error": None,
    })  # fmt: skip
