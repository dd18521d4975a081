"""What the panels draw, as DataFrames: a time window of a log cut to about one sample
per pixel column (a min/max/mean envelope, so a one-sample spike still shows), and one
point compared with the median of the antennas whose readings are good and within limits.

No matplotlib and no widgets here: these are plain pandas/numpy functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from e2ckit import analysis, dataset
from e2ckit.catalog import default_catalog
from e2ckit.catalog.limits import judge_values

if TYPE_CHECKING:
    import pandas as pd

#: Plot width in pixel columns the panels ask for (a 9-inch figure at 100 dpi, less margins).
DEFAULT_PIXELS = 800

#: Columns of an envelope frame (one row per time bucket, antenna and point).
ENVELOPE_COLUMNS = ["time", "antenna", "point", "unit", "min", "max", "mean", "count"]

#: Steps a time bucket (and the time-range control) snaps to, so ticks land on round times.
NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                21600, 43200, 86400, 172800, 604800)  # fmt: skip


def as_utc(t: Any) -> pd.Timestamp:
    """Anything pandas reads as a time, as an aware UTC Timestamp (naive means UTC)."""
    import pandas as pd

    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def nice_step(span: Any, n: int) -> pd.Timedelta:
    """The smallest round step (1 s, 5 s, 1 min, 15 min, 1 h, ...) that cuts ``span`` into at most ``n`` pieces."""
    import pandas as pd

    seconds = pd.Timedelta(span).total_seconds() / max(n, 1)
    for s in NICE_STEPS_S:
        if s >= seconds:
            return pd.Timedelta(seconds=s)
    return pd.Timedelta(days=math.ceil(seconds / 86400))


def select_log(
    tidy: pd.DataFrame,
    points: Iterable[str] | None = None,
    antennas: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """The rows of a tidy log for some points and antennas within [start, end]."""
    import numpy as np

    mask = np.ones(len(tidy), dtype=bool)
    if points is not None:
        mask &= tidy["point"].isin(list(points)).to_numpy()
    if antennas is not None:
        mask &= tidy["antenna"].isin(list(antennas)).to_numpy()
    if start is not None:
        mask &= (tidy["time"] >= as_utc(start)).to_numpy()
    if end is not None:
        mask &= (tidy["time"] <= as_utc(end)).to_numpy()
    return tidy[mask]


def _codes(col: pd.Series) -> tuple[Any, list[Any]]:
    """Integer codes and the labels they stand for (categoricals cost nothing here)."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), list(col.cat.categories)
    codes, labels = pd.factorize(col, sort=False)
    return codes, list(labels)


def _epoch(times: pd.Series) -> tuple[Any, int]:
    """(integer times since the epoch, UTC, in the column's own unit; nanoseconds per
    unit): no conversion of 40 M values, where ``load`` gives microseconds."""
    import pandas as pd

    arr = pd.DatetimeIndex(times)  # aware: asi8 is UTC already; naive means UTC
    unit = getattr(arr, "unit", "ns")
    return arr.asi8, {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]


def envelope(
    tidy: pd.DataFrame,
    start: Any = None,
    end: Any = None,
    *,
    points: Iterable[str] | None = None,
    antennas: Iterable[str] | None = None,
    pixels: int = DEFAULT_PIXELS,
    step: Any = None,
) -> pd.DataFrame:
    """The good readings of a tidy log between ``start`` and ``end`` (both inclusive),
    cut into about ``pixels`` time buckets per line: one row per (bucket start ``time``,
    ``antenna``, ``point``) with ``min``, ``max``, ``mean`` and ``count``. Failed
    readings never enter a bucket. ``points`` and ``antennas`` choose the lines.

    When no line has more samples than buckets, the readings come back as they are
    (``min`` = ``max`` = ``mean`` = the value, ``time`` the sample's own); then
    ``attrs["every"]`` is None, else the bucket width. ``attrs["units"]`` maps point → unit.

    Works on numpy arrays, never copying the frame: a week of the full array at 1 Hz
    (40 M rows) takes about a second or two. Bucket statistics come from one stable sort
    by line (a radix sort on small integer codes) and ``reduceat`` over runs of equal
    bucket, which needs times sorted within a line (as ``load`` gives them); otherwise
    it sorts by line and time.
    """
    import numpy as np
    import pandas as pd

    units = _units(tidy)
    value, mask, ticks, per_tick, (p_codes, p_labels), (a_codes, a_labels) = _envelope_selection(
        tidy, start, end, points, antennas
    )
    if not mask.any():
        out = pd.DataFrame({c: pd.Series(dtype="float64" if c in ("min", "max", "mean") else object)
                            for c in ENVELOPE_COLUMNS})  # fmt: skip
        out.attrs.update(every=None, units=units)
        return out
    n_ant = max(len(a_labels), 1)
    if mask.all():  # the usual case for a panel over a query's result: no copies
        line = p_codes.astype(np.int64) * n_ant + a_codes
    else:
        idx = np.flatnonzero(mask)
        ticks, value = ticks[idx], value[idx]
        line = p_codes[idx].astype(np.int64) * n_ant + a_codes[idx]
    lo = as_utc(start).value if start is not None else int(ticks.min()) * per_tick
    hi = as_utc(end).value if end is not None else int(ticks.max()) * per_tick
    if step is None:
        step = nice_step(pd.Timedelta(max(hi - lo, 10**9), "ns"), pixels)
    step = pd.Timedelta(step)
    labels = (p_labels, a_labels, n_ant, units)
    if np.bincount(line).max() <= pixels:  # few enough: draw the readings themselves
        return _readings_as_envelope(line, ticks * per_tick, value, labels)
    return _bucketed_envelope(line, ticks, per_tick, value, labels, lo, step)


def _envelope_selection(
    tidy: pd.DataFrame, start: Any, end: Any, points: Iterable[str] | None, antennas: Iterable[str] | None
) -> tuple[Any, Any, Any, int, tuple[Any, list[Any]], tuple[Any, list[Any]]]:
    """For :func:`envelope`: the values, the mask of good readings in the chosen lines and
    time window, integer times (and ns per tick), and (codes, labels) of points and antennas."""
    import numpy as np

    value = tidy["value"].to_numpy(dtype=float)
    mask = ~np.isnan(value)
    if "status" in tidy.columns and len(tidy):  # a sentinel or FEMC error is not a reading
        st = tidy["status"]
        mask &= ((st == "ok") | st.isna()).to_numpy()
    if "error" in tidy.columns and len(tidy):
        mask &= tidy["error"].isna().to_numpy()
    p_codes, p_labels = _codes(tidy["point"])
    a_codes, a_labels = _codes(tidy["antenna"])
    for codes, labels, wanted in ((p_codes, p_labels, points), (a_codes, a_labels, antennas)):
        if wanted is not None:
            keep = np.isin(np.asarray(labels, dtype=object), list(wanted))
            if not keep.all():
                mask &= keep[codes] & (codes >= 0)
    ticks, per_tick = _epoch(tidy["time"])  # integer times in the column's unit
    if start is not None:
        mask &= ticks >= as_utc(start).value // per_tick
    if end is not None:
        mask &= ticks <= as_utc(end).value // per_tick
    return value, mask, ticks, per_tick, (p_codes, p_labels), (a_codes, a_labels)


def _readings_as_envelope(line: Any, ns: Any, value: Any, labels: tuple[Any, Any, int, dict[str, str]]) -> pd.DataFrame:
    """For :func:`envelope`, when no line has more samples than buckets: each reading is
    its own row (min = max = mean = the value), sorted by line and time."""
    import numpy as np
    import pandas as pd

    p_labels, a_labels, n_ant, units = labels
    order = np.lexsort((ns, line))
    line, ns, value = line[order], ns[order], value[order]
    point = np.asarray(p_labels, dtype=object)[line // n_ant]
    out = pd.DataFrame({"time": pd.to_datetime(ns, utc=True),
                        "antenna": np.asarray(a_labels, dtype=object)[line % n_ant], "point": point,
                        "unit": [units.get(p, "") for p in point], "min": value, "max": value,
                        "mean": value, "count": 1})  # fmt: skip
    out.attrs.update(every=None, units=units)
    return out


def _bucketed_envelope(
    line: Any, ticks: Any, per_tick: int, value: Any, labels: tuple[Any, Any, int, dict[str, str]], lo: int, step: Any
) -> pd.DataFrame:
    """For :func:`envelope`: min/max/mean/count per (line, time bucket of ``step``), from
    one stable sort by line and ``reduceat`` over runs of equal bucket."""
    import numpy as np
    import pandas as pd

    p_labels, a_labels, n_ant, units = labels
    lo_ts = pd.Timestamp(lo, unit="ns", tz="UTC")
    origin = (lo_ts.floor(step) if step <= pd.Timedelta(days=1) else lo_ts.floor("D")).value
    # buckets are whole seconds at least, so a whole number of the column's ticks
    bucket = (ticks - origin // per_tick) // (step.value // per_tick)
    nb = int(bucket.max()) + 1
    key = line * nb + bucket
    small = line.astype(np.int16) if line.max() < 2**15 else line
    order = np.argsort(small, kind="stable")  # radix sort for int16 codes: O(n)
    key = key[order]
    if key.size > 1 and (np.diff(key) < 0).any():  # times not sorted within a line
        order = order[np.argsort(key, kind="stable")]
        key = (line * nb + bucket)[order]
    v = value[order]
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    counts = np.diff(np.r_[starts, key.size])
    k = key[starts]
    line_k, b = k // nb, k % nb
    point = np.asarray(p_labels, dtype=object)[line_k // n_ant]
    out = pd.DataFrame({
        "time": pd.to_datetime(origin + b * step.value, utc=True),
        "antenna": np.asarray(a_labels, dtype=object)[line_k % n_ant],
        "point": point,
        "unit": [units.get(p, "") for p in point],
        "min": np.minimum.reduceat(v, starts), "max": np.maximum.reduceat(v, starts),
        "mean": np.add.reduceat(v, starts) / counts, "count": counts,
    })  # fmt: skip
    out.attrs.update(every=step, units=units)
    return out

def _units(tidy: pd.DataFrame) -> dict[str, str]:
    """point → unit, from ``attrs`` or from distinct (point, unit) pairs (never row by row)."""
    units = dict(tidy.attrs.get("units") or {})
    if not units and "unit" in tidy.columns and len(tidy):
        pairs = tidy[["point", "unit"]].drop_duplicates()
        units = {str(p): (u if isinstance(u, str) else "") for p, u in zip(pairs["point"], pairs["unit"], strict=False)}
    return units


def fetch_envelope(
    path: Any,
    points: Sequence[str],
    antennas: Sequence[str] | None,
    start: Any,
    end: Any,
    *,
    pixels: int = DEFAULT_PIXELS,
) -> pd.DataFrame:
    """The envelope of a logged dataset, read for the chosen points, antennas and times only.

    The buckets (min, max, mean and count per pixel column) are computed by the query
    layer (``e2ckit.load(..., every=, agg=)``): only the envelope leaves the files.
    """
    import pandas as pd

    lo, hi = as_utc(start), as_utc(end)
    step = nice_step(max(hi - lo, pd.Timedelta(seconds=1)), pixels)
    # load()'s end is exclusive: one step more keeps the last sample the range shows
    # dataset.load, looked up at call time (not bound at import: it can be replaced)
    df = dataset.load(path, points=list(points), antennas=list(antennas) if antennas is not None else None,
              start=lo, end=hi + step, every=step, agg=["min", "max", "mean", "count"])  # fmt: skip
    df = df[(df["time"] <= hi).to_numpy()]
    units = _units(df)
    df = df[df["count"].to_numpy() > 0]
    out = df.reindex(columns=ENVELOPE_COLUMNS).reset_index(drop=True)
    out.attrs.update(every=step, units=units)
    return out


# --------------------------------------------------------------------------------------
# one point against the array


def limit_states(point: str, values: Any) -> Any:
    """ok / warn / alarm per value ("unavailable" for NaN), as the one judgement
    (:func:`e2ckit.catalog.limits.judge`) gives it with the limits in force."""
    import numpy as np

    if catalog_point(point) is None:
        return np.full(np.shape(values), "ok", dtype=object)
    return judge_values(point, values)


def catalog_point(point: str) -> Any:
    """The catalog's Point for a name, or None (a log may hold points no catalog knows)."""
    try:
        return default_catalog().point(point)
    except Exception:  # an unknown name, or no catalog: the panels still draw
        return None


def compare_to_healthy(
    tidy: pd.DataFrame,
    point: str,
    *,
    antennas: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    threshold: float = 5.0,
    pixels: int = DEFAULT_PIXELS,
    log: bool | None = None,
) -> pd.DataFrame:
    """Each antenna's ``point`` against the median of the antennas whose readings are
    good **and within the point's limits** at that time, so down or alarming antennas do
    not drag the reference: with five of seven antennas warm, the two cold ones are the
    reference and the five are the outliers.

    Times are bucketed as :func:`envelope` does (bucket mean). Where no antenna is
    healthy there is no reference (NaN) and nobody is flagged. The spread is 1.4826 ×
    the healthy antennas' median absolute deviation, at least 1 % of the reference (0.01
    decades for ``log``, default: pressures). Columns: ``time``, ``antenna``, ``value``,
    ``median``, ``deviation``, ``score``, ``outlier``, ``state`` (ok/warn/alarm).
    """
    import pandas as pd

    cols = ["time", "antenna", "value", "median", "deviation", "score", "outlier", "state"]
    # compare within the catalog's nominal scatter: see _nominal_scatter
    rows = tidy[(tidy["point"] == point).to_numpy()] if "point" in tidy else tidy
    if antennas is not None:
        rows = rows[rows["antenna"].isin(list(antennas)).to_numpy()]
    env = rows if "mean" in rows.columns else envelope(rows, start, end, pixels=pixels)
    if start is not None or end is not None:
        env = select_log(env, None, None, start, end)
    if env.empty:
        return pd.DataFrame(columns=cols)
    unit = _units(tidy).get(point, "")
    if log is None:
        log = "bar" in str(unit)
    wide = env.pivot_table(index="time", columns="antenna", values="mean", aggfunc="mean", observed=True)
    state = pd.DataFrame(limit_states(point, wide.to_numpy()), index=wide.index, columns=wide.columns)
    # the reference: only antennas whose reading is good and within limits at that time
    out = analysis.scored(wide, log=log, threshold=threshold, reference=wide.where(state == "ok"),
                          least_spread=_nominal_scatter(point, log))  # fmt: skip
    out = out.merge(state.stack().rename("state").reset_index(), on=["time", "antenna"], how="left")
    out = out[cols].sort_values(["time", "antenna"], ignore_index=True)
    out.attrs["unit"] = unit
    return out


def _nominal_scatter(point: str, log: bool) -> float:
    """A quarter of the point's nominal range (in decades for ``log``) as the least
    spread: antennas that all read within the nominal range are scatter, not outliers
    (a 4K stage at 3.75 K among others at 3.05 K is not flagged; one at 8 K is).
    0 when the catalog gives no range."""
    import math

    p = catalog_point(point)
    lo, hi = (p.nominal_low, p.nominal_high) if p is not None else (None, None)
    if lo is None or hi is None or hi <= lo:
        return 0.0
    if log:
        return 0.25 * math.log10(hi / lo) if lo > 0 else 0.0
    return 0.25 * (hi - lo)


def outlier_antennas(frame: pd.DataFrame, k: int = 6) -> list[str]:
    """Up to ``k`` antennas that stand out most in an envelope frame (median robust score
    against the per-bucket median of all antennas), most first; only those that do."""
    import numpy as np

    if frame.empty or frame["antenna"].nunique() <= 1:
        return []
    wide = frame.pivot_table(index="time", columns="antenna", values="mean", aggfunc="mean", observed=True)
    med = wide.median(axis=1)
    dev = wide.sub(med, axis=0).abs()
    spread = np.maximum(dev.median(axis=1) * 1.4826, med.abs() * 0.01).replace(0, np.nan)
    score = dev.div(spread, axis=0).max(axis=0).dropna()
    score = score[score > 5].sort_values(ascending=False, kind="stable")
    return [str(a) for a in score.index[:k]]


def good_points(log: pd.DataFrame) -> list[str]:
    """Points of a log with at least one good reading, in first-seen order (a frame from
    the query layer may have no ``error`` column: then a value is a good reading)."""
    import numpy as np

    ok = log["value"].notna().to_numpy().copy()
    if "error" in log.columns:
        ok &= log["error"].isna().to_numpy()
    codes, labels = _codes(log["point"])
    seen = np.bincount(codes[ok & (codes >= 0)], minlength=len(labels))
    return [str(labels[c]) for c in np.flatnonzero(seen)]  # in category (or first-seen) order


def distinct(col: pd.Series) -> list[str]:
    """The distinct values of a column, sorted (cheap on categoricals and on 40 M rows)."""
    import numpy as np

    codes, labels = _codes(col)
    seen = np.bincount(codes[codes >= 0], minlength=len(labels))
    return sorted(str(labels[c]) for c in np.flatnonzero(seen))


def sample_interval(frame: pd.DataFrame, head: int = 200_000) -> Any:
    """The typical time between two samples of one antenna, from the first ``head`` rows
    (a log is sorted by time, so they hold every antenna's first samples): cheap on a
    week of the full array, where :func:`e2ckit.analysis.sample_interval` sorts it all."""
    import pandas as pd

    if frame.empty or "time" not in frame:
        return pd.NaT
    part = frame.iloc[:head]
    keys = ["antenna", "point"] if "point" in part else ["antenna"]
    steps = []
    for _, g in part[[*keys, "time"]].groupby(keys, sort=False, observed=True):
        t = g["time"].drop_duplicates().sort_values()
        if len(t) > 1:
            steps.append(t.diff().dropna().median())
    return pd.Series(steps).median() if steps else pd.NaT
