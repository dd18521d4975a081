"""How each antenna stands in a log now (``e2ckit log status``): its latest logged cycle,
judged by the one judgement (:func:`~e2ckit.catalog.limits.judge`, through
:func:`~e2ckit.triage.alarms.judged`, as the board and ``alarms()`` judge a log).

Read with :func:`~e2ckit.dataset.latest` (each antenna's last two cycles, in the logger's
order of appending: nothing else of the log is read). An antenna whose latest cycle is
not among the log's last two cycles (the logger stopped reaching it, or left it out) is
*stale*: unknown, never ok, whatever its old readings said.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from e2ckit.catalog.limits import load_limits
from e2ckit.dataset import latest
from e2ckit.dataset.loader import antenna_filter
from e2ckit.triage.alarms import judged
from e2ckit.triage.plan import duration_words

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LOG_STATUS_COLUMNS", "behind", "cadence", "info_label", "latest_judged", "stale_antennas"]

#: columns of :func:`latest_judged`: the judged readings of each antenna's latest cycle
LOG_STATUS_COLUMNS = ["time", "antenna", "point", "limit", "value", "text", "reason", "status", "error", "stale"]


def info_label(cat: Any, point: str) -> str:
    """A log keeps a good reading of an information sentinel (the compressor's 0xFFFFFFFF,
    ``minimum off-time elapsed``) as NaN with no error and no text: the point's one
    information sentinel's label says what it was ("" when it has none, or several)."""
    p = cat.points.get(point)
    labels = [label for _raw, is_error, label in getattr(p, "sentinels", ()) if not is_error]
    return labels[0] if len(labels) == 1 else ""


def cadence(cycles: pd.DataFrame) -> tuple[pd.Series, pd.Timestamp | None, pd.Timedelta | None]:
    """Of :func:`~e2ckit.dataset.latest` rows (two cycles): each antenna's latest cycle time,
    the log's newest, and the log's cycle (the median time between an antenna's last two
    cycles; None for a log of one cycle, or none)."""
    antenna = cycles["antenna"].astype(object)
    t0 = cycles[cycles["cycle"] == 0].groupby(antenna)["time"].max()
    t1 = cycles[cycles["cycle"] == 1].groupby(antenna)["time"].max()
    step = (t0 - t1).dropna().median()
    newest = t0.max() if len(t0) else None
    return t0, newest, (step if step == step and step.total_seconds() > 0 else None)


def stale_antennas(cycles: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """The antennas of ``cycles`` (:func:`~e2ckit.dataset.latest` rows, two cycles) whose
    latest cycle is not among the log's last two (it missed two cycles or more), with its
    time. A log of one cycle has no stale antenna (nothing to tell it by)."""
    t0, newest, step = cadence(cycles)
    if step is None:
        return {}
    # two cycles behind (or more): not in the log's last two cycles (half a cycle of slack
    # for a wall clock's jitter between antennas)
    return {str(a): t for a, t in t0.items() if newest - t > 1.5 * step}


def behind(judged: pd.DataFrame, now: pd.Timestamp | None = None) -> str | None:
    """What to say when the log itself has stopped: its newest cycle is more than two of
    its cycles (10 minutes when its cycle is unknown) before ``now`` (default: the wall
    clock) — the states judged are those of then, not now. None when the log is current."""
    import pandas as pd  # lazy: the caller holds a frame, so pandas is loaded

    now = pd.Timestamp.now(tz="UTC") if now is None else now
    newest, step = judged.attrs.get("latest_cycle"), judged.attrs.get("cycle")
    if newest is None:
        return None
    late = now - newest
    if late <= (2 * step if step is not None else pd.Timedelta(minutes=10)):
        return None
    return (f"the log's latest cycle is from {newest:%Y-%m-%d %H:%M} UTC, {duration_words(late.total_seconds())}"
            " ago: these are the states logged then, not now (is its logger running?)")


def latest_judged(path: str | os.PathLike[str], *, antennas: Any = None, limits: Any = None) -> pd.DataFrame:
    """The readings of each antenna's latest logged cycle, judged (``limit`` ok, warn,
    alarm or unavailable, with the ``reason``), with ``status`` as logged and ``stale``
    True for an antenna whose latest cycle is not among the log's last two (its
    readings are then no reading: ``error`` ``stale: not logged since HH:MM UTC``)."""
    import pandas as pd  # lazy: the dataset reader has loaded it already; for the empty frame

    lim = load_limits(limits)
    cycles = latest(path, 2)  # every antenna: "stale" is against the whole log's latest cycles
    stale = stale_antennas(cycles)
    _t0, newest, step = cadence(cycles)
    if antennas is not None:
        keep = antenna_filter(antennas)  # the selection rule of load() and latest()
        cycles = cycles[[keep(a) for a in cycles["antenna"].astype(object)]]
    now = cycles[cycles["cycle"] == 0]
    if now.empty:
        return pd.DataFrame(columns=LOG_STATUS_COLUMNS)
    out = judged(now, lim)
    keys = list(zip(now["antenna"].astype(object), now["point"].astype(object), strict=True))
    status = dict(zip(keys, now["status"].astype(object), strict=True))
    out["status"] = [status.get(k, "ok") for k in zip(out["antenna"], out["point"], strict=True)]
    out["error"] = out["error"].astype(object)
    out["text"] = [
        info_label(lim.catalog, p) if (e is None or e != e) and v != v and not t else t
        for p, v, t, e in zip(out["point"], out["value"], out["text"], out["error"], strict=True)
    ]  # fmt: skip
    out["stale"] = out["antenna"].isin(list(stale))
    for a, t in ((a, t) for a, t in stale.items() if a in set(out["antenna"])):
        gone = (out["antenna"] == a).to_numpy()
        why = f"stale: not logged since {t:%Y-%m-%d %H:%M} UTC"
        out.loc[gone, ["limit", "reason", "error", "value", "text"]] = ["unavailable", why, why, math.nan, ""]
    out = out[LOG_STATUS_COLUMNS].reset_index(drop=True)
    out.attrs.update(latest_cycle=newest, cycle=step)  # for behind(): has the log itself stopped?
    return out
