"""The query engine behind :func:`~e2ckit.logger.load`: Polars for aggregates, pyarrow
for rows.

:func:`run` takes the part files :mod:`.read` listed (partitions already pruned by their
directory names), the rows of a live logger's write-ahead segment not yet in a part
(pyarrow tables), the compacted days to read from their 5-minute summaries
(:mod:`.rollup`) and the filters, and returns a pandas frame:

* without ``every``: the tidy long frame, sorted by (time, antenna, point), read by
  :mod:`.tidy` (pyarrow: parquet dictionaries straight to categoricals); what it
  cannot read goes through Polars here, which names and skips broken files;
* with ``every`` and ``agg``: one row per (bucket start ``time``, ``antenna``, ``point``)
  with ``unit`` and one column per aggregate, computed by Polars' streaming engine
  (only the grouped rows ever reach pandas), from summaries where they answer.

The point and time filters go to the Parquet reader, which skips the row groups whose
statistics exclude them: in files compacted by (point, time) a one-point query decodes
one row group in 45. Repeated strings come out as pandas categoricals (1 byte a row
instead of a Python string); ``raw`` only when asked for or non-empty; ``error`` always
(a categorical, missing where a reading did not fail, as in a tidy sweep).

Why Polars for aggregates (measured in ``benchmarks/bench_load.py``): on the
full-array day it was faster than DuckDB, it needs no extension (DuckDB's ``httpfs``
is downloaded at run time, and this must work offline), and a Polars frame built from
pyarrow tables (the write-ahead rows, object storage) joins the same lazy plan. Why
not for rows: see :mod:`.tidy`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from e2ckit.errors import ValidationError
from e2ckit.logger.schema import FILE_SCHEMA, LOAD_COLUMNS, UnreadableFileWarning, foreign_reason

if TYPE_CHECKING:
    import pandas as pd

#: the aggregates ``load(agg=...)`` computes (``count``: good readings in the bucket)
AGGS = ("mean", "min", "max", "first", "last", "count", "std")
#: always in the tidy frame (the key of a sample)
KEY = ["time", "antenna", "point"]
#: the string columns that come out as categoricals
CATEGORICAL = ("antenna", "point", "unit", "status", "error")
_READ = [*FILE_SCHEMA.names, "date", "antenna"]


def every_us(every: str | timedelta | Any) -> int:
    """``every`` (a pandas-style duration: "1min", "10s", "1h", or a timedelta) in µs."""
    import pandas as pd

    try:
        td = pd.Timedelta(every)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"every={every!r} is not a duration (e.g. '1min', '10s', '1h'): {exc}") from None
    us = int(td.value // 1000) if not pd.isna(td) else 0
    if us <= 0:
        raise ValidationError(f"every={every!r} must be a positive duration of at least 1 µs")
    return us


def agg_names(agg: str | Iterable[str] | None) -> list[str]:
    """The aggregates asked for (default ``mean``), checked against :data:`AGGS`."""
    if agg is None:
        return ["mean"]
    items = [agg] if isinstance(agg, str) else list(agg)
    if not items:
        raise ValidationError(f"agg must name at least one of {', '.join(AGGS)}")
    out: list[str] = []
    for a in items:
        if not isinstance(a, str) or a.strip().lower() not in AGGS:
            raise ValidationError(f"agg={a!r} is not one of {', '.join(AGGS)}")
        if a.strip().lower() not in out:
            out.append(a.strip().lower())
    return out


def column_names(columns: str | Sequence[str] | None, allowed: Sequence[str]) -> list[str] | None:
    """The extra columns asked for (None: the default set), each one of ``allowed``."""
    if columns is None:
        return None
    items = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else list(columns)
    for c in items:
        if c not in allowed:
            raise ValidationError(f"columns: {c!r} is not one of {', '.join(allowed)}")
    return items


def _scan(files: list[Path], root: Path) -> Any:
    """A lazy scan of ``files`` with ``date``/``antenna`` from their hive paths."""
    import polars as pl

    return pl.scan_parquet(
        [str(f) for f in files], hive_partitioning=True,
        hive_schema={"date": pl.String, "antenna": pl.String},
    ).select(_READ)  # fmt: skip


def _normal(lf: Any) -> Any:
    """The file columns with the file schema's types (older files may store ns times)."""
    import polars as pl

    return lf.select(
        pl.col("time").cast(pl.Datetime("us", "UTC")),
        pl.col("antenna").cast(pl.String),
        pl.col("point").cast(pl.String),
        pl.col("value").cast(pl.Float64),
        pl.col("unit").cast(pl.String),
        pl.col("status").cast(pl.String),
        pl.col("error").cast(pl.String),
        pl.col("latency_100us").cast(pl.UInt16),
        pl.col("raw").cast(pl.Binary),
    )


def _checked(files: list[Path], root: Path) -> list[Path]:
    """The files a whole-list scan failed on, each checked: foreign or unreadable ones
    are skipped with a warning naming them."""
    import polars as pl
    import pyarrow.parquet as pq

    good = []
    for f in files:
        try:
            reason = foreign_reason(pq.read_schema(f))
            if reason is None:
                _normal(_scan([f], root)).head(0).collect()
                good.append(f)
                continue
        except (pa.ArrowException, OSError, ValueError, pl.exceptions.PolarsError) as exc:
            reason = f"unreadable: {exc}"
        warnings.warn(f"e2ckit: skipping {f}: {reason}", UnreadableFileWarning, stacklevel=5)
    return good


def source(files: list[Path], root: Path, tables: list[pa.Table]) -> Any:
    """One lazy frame over the part files and in-memory tables (segment rows, object
    storage), in the normal column types."""
    import polars as pl

    frames = []
    if files:
        frames.append(_normal(_scan(files, root)))
    for t in tables:
        frames.append(_normal(pl.from_arrow(t).lazy()))
    if not frames:
        empty = pa.unify_schemas([FILE_SCHEMA.remove_metadata(), pa.schema([("date", pa.string()), ("antenna", pa.string())])])
        return _normal(pl.from_arrow(empty.empty_table()).lazy())
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")


def _filtered(lf: Any, points: list[str] | None, t_lo: Any, t_hi: Any) -> Any:
    import polars as pl

    conds = []
    if points is not None:
        conds.append(pl.col("point").is_in(points))
    if t_lo is not None:
        conds.append(pl.col("time") >= pl.lit(t_lo).cast(pl.Datetime("us", "UTC")))
    if t_hi is not None:
        conds.append(pl.col("time") < pl.lit(t_hi).cast(pl.Datetime("us", "UTC")))
    return lf.filter(*conds) if conds else lf


def good_value() -> Any:
    """The value of a good reading (a number, not NaN, and no error), null otherwise:
    what every aggregate and summary counts."""
    import polars as pl

    good = pl.col("error").is_null() & pl.col("value").is_not_null() & pl.col("value").is_not_nan()
    return pl.when(good).then(pl.col("value"))


def bucket_start(every: int) -> Any:
    """``time`` floored to a multiple of ``every`` µs since the UNIX epoch (for a divisor
    of a day, the same buckets as pandas' resample/floor), named ``time``."""
    import polars as pl

    return ((pl.col("time").cast(pl.Int64) // every) * every).cast(pl.Datetime("us", "UTC")).alias("time")


def _agg_exprs(aggs: list[str]) -> list[Any]:
    import polars as pl

    # a good reading: a number (not null, not NaN) and no error; failed readings never
    # enter an aggregate, and a bucket of failed readings gives null (NaN) with count 0
    v = good_value()
    t = pl.when(v.is_not_null()).then(pl.col("time"))
    exprs = {
        "mean": v.mean(),
        "min": v.min(),
        "max": v.max(),
        "std": v.std(ddof=1),
        "count": v.count().cast(pl.Int64),
        # in time order whatever order the files came in
        "first": v.drop_nulls().gather(t.drop_nulls().arg_min()).first(),
        "last": v.drop_nulls().gather(t.drop_nulls().arg_max()).first(),
    }
    out = [pl.col("unit").drop_nulls().last().alias("unit")]
    out += [exprs[a].cast(pl.Int64 if a == "count" else pl.Float64).alias(a) for a in aggs]
    return out


def _to_pandas(df: Any) -> pd.DataFrame:
    """A Polars frame (or an Arrow table) as pandas, strings in :data:`CATEGORICAL` as categoricals."""
    import pyarrow.compute as pc

    table = df if isinstance(df, pa.Table) else df.to_arrow()
    cols = {}
    for name in table.column_names:
        col = table[name]
        if name in CATEGORICAL:
            if pa.types.is_dictionary(col.type):  # an Enum: already codes and categories
                col = pc.cast(col, pa.dictionary(col.type.index_type, pa.string()))
            else:
                col = pc.cast(col, pa.string()).dictionary_encode()
        elif name == "latency_ms" and pa.types.is_integer(col.type):
            # 0.1 ms steps to ms: divided here (Polars multiplies by 0.1: 2.8000000000000003)
            col = pc.divide(pc.cast(col, pa.float64()), 10.0)
        elif pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
            col = pc.cast(col, pa.string())
        elif pa.types.is_large_binary(col.type) or pa.types.is_binary_view(col.type):
            col = pc.cast(col, pa.binary())
        cols[name] = col
    return pa.table(cols).to_pandas()


def run(
    files: list[Path],
    root: Path,
    tables: list[pa.Table],
    points: list[str] | None,
    t_lo: Any,
    t_hi: Any,
    *,
    every: int | None,
    aggs: list[str],
    columns: list[str] | None,
    antennas: list[str] | None = None,
    rollups: list[tuple[Path, list[Path]]] | None = None,
) -> pd.DataFrame:
    """The query: filtered, then either sorted tidy rows or aggregated buckets.
    ``antennas``: every antenna the files and tables can hold (their directories).
    ``rollups``: (summary, its partition's part files) of the days read from their
    5-minute summaries (:mod:`.rollup`); if a summary cannot be read, those days are
    read from their samples."""
    import polars as pl

    known = {"antenna": antennas} if antennas is not None else {}
    if points is not None:
        known["point"] = points
    if every is None:
        from e2ckit.logger import tidy

        try:
            return tidy.read(files, tables, points, t_lo, t_hi, columns, antennas)
        except tidy.Unfit:
            pass  # read through Polars, which names and skips what cannot be read
    if rollups:
        assert every is not None
        try:
            return _from_partials(files, root, tables, [r for r, _ in rollups], points, t_lo, t_hi, every, aggs, columns)
        except (pl.exceptions.PolarsError, OSError, pa.ArrowException):
            files = files + [f for _, fs in rollups for f in fs]

    try:
        lf = _filtered(source(files, root, tables), points, t_lo, t_hi)
        return _query(lf, every=every, aggs=aggs, columns=columns, known=known)
    except (pl.exceptions.PolarsError, OSError):
        # a file failed the whole-list scan (cut short, or of other column types than the
        # rest): check each, then read the good ones one by one
        good = _checked(files, root)
    try:  # without the files that broke the scan
        return _query(_filtered(source(good, root, tables), points, t_lo, t_hi), every=every, aggs=aggs, columns=columns, known=known)
    except (pl.exceptions.PolarsError, OSError):
        pass
    # files of different column types: each read (filtered) on its own, then put together
    frames = [_filtered(_normal(_scan([f], root)), points, t_lo, t_hi).collect() for f in good]
    frames += [_filtered(_normal(pl.from_arrow(t).lazy()), points, t_lo, t_hi).collect() for t in tables]
    lf = source([], root, []) if not frames else pl.concat(frames).lazy()
    return _query(lf, every=every, aggs=aggs, columns=columns, known=known)


def _query(lf: Any, *, every: int | None, aggs: list[str], columns: list[str] | None, known: dict[str, list[str]] | None = None) -> pd.DataFrame:
    import polars as pl

    if every is not None:
        bucket = bucket_start(every)
        # the streaming engine: a file at a time through the grouping, linear in the days
        # read (the in-memory engine took 0.3 s for one day of a point over the array and
        # 1.2 s for two; streaming 0.2 and 0.38)
        out = lf.group_by(bucket, "antenna", "point").agg(_agg_exprs(aggs)).collect(engine="streaming")
        return _buckets(out, aggs, columns)
    else:
        lf = lf.rename({"latency_100us": "latency_ms"})  # to ms after the query (below)
        wanted = columns if columns is not None else [c for c in LOAD_COLUMNS if c not in KEY]
        wanted = [c for c in wanted if c not in KEY]
        lf = lf.select([*KEY, *wanted])
        out = lf.with_columns(pl.col(c).cast(pl.Enum(sorted(set(v)))) for c, v in (known or {}).items()).collect()
        if columns is None:  # raw only when it holds something; error always (the tidy contract)
            out = out.select(c for c in out.columns if c != "raw" or out[c].null_count() < len(out))
        out = _enums(out)
        found = units(out)
        df = _to_pandas(_sorted(out))
        if "value" in df:
            df["value"] = df["value"].astype("float64")
        if "raw" in df:
            df["raw"] = df["raw"].astype(object).where(df["raw"].notna(), None)
    df.attrs["units"] = found
    return df


def _buckets(out: Any, aggs: list[str], columns: list[str] | None) -> pd.DataFrame:
    """The aggregated buckets (a Polars frame) as ``load(every=...)`` returns them."""
    out = _enums(out)
    found = units(out)
    keep = [*KEY, "unit", *aggs]
    if columns is not None:
        keep = [*KEY, *(c for c in columns if c not in KEY)]
    df = _to_pandas(_sorted(out.select(keep)))
    df.attrs["units"] = found
    return df


def _from_partials(
    files: list[Path], root: Path, tables: list[pa.Table], summaries: list[Path], points: list[str] | None,
    t_lo: Any, t_hi: Any, every: int, aggs: list[str], columns: list[str] | None,
) -> pd.DataFrame:  # fmt: skip
    """Buckets of ``every`` (a multiple of the summaries' 5 minutes) from partial sums:
    the summaries of the days that have one, and the samples of the others grouped the
    same way (count, sum, min, max of the good readings); merged per bucket exactly as
    one pass over the samples would count them."""
    import polars as pl

    from e2ckit.logger import rollup

    assert every % rollup.EVERY_US == 0 and set(aggs) <= rollup.AGGS
    bucket = bucket_start(every)
    parts = []
    if files or tables:
        v = good_value()
        parts.append(
            _filtered(source(files, root, tables), points, t_lo, t_hi)
            .group_by(bucket, "antenna", "point")
            .agg(
                pl.col("unit").drop_nulls().last(), v.count().cast(pl.Int64).alias("n"),
                v.sum().alias("sum"), v.min().alias("min"), v.max().alias("max"),
            )  # fmt: skip
        )
    # a summary's time is its 5-minute bucket; the days read from one have no start or
    # end inside them off that grid, so filtering on it is filtering the samples
    summary = _filtered(pl.scan_parquet([str(p) for p in summaries]), points, t_lo, t_hi)
    parts.append(
        summary.select(
            bucket, pl.col("antenna").cast(pl.String), pl.col("point").cast(pl.String), pl.col("unit").cast(pl.String),
            pl.col("n").cast(pl.Int64), pl.col("sum").cast(pl.Float64), pl.col("min").cast(pl.Float64),
            pl.col("max").cast(pl.Float64),
        )  # fmt: skip
    )
    n = pl.col("n").sum()
    out = (
        pl.concat(parts, how="vertical_relaxed")
        .group_by("time", "antenna", "point")
        .agg(pl.col("unit").drop_nulls().last(), n.alias("count"), pl.col("sum").sum(), pl.col("min").min(), pl.col("max").max())
        .with_columns(pl.when(pl.col("count") > 0).then(pl.col("sum") / pl.col("count")).alias("mean"))
        .collect(engine="streaming")
    )
    return _buckets(out.with_columns(pl.col("min").cast(pl.Float64), pl.col("max").cast(pl.Float64)), aggs, columns)


def _enums(df: Any, known: dict[str, list[str]] | None = None) -> Any:
    """The repeated-string columns as Enums of their sorted distinct values: categoricals
    for pandas without another pass over the strings (Polars hands strings to Arrow
    slowly, Enums as dictionaries at once), and a numeric sort key. ``known``: the
    values a column can hold, when the query knows them (no pass to find them)."""
    import polars as pl

    strings = [c for c in CATEGORICAL if c in df.columns and df[c].dtype == pl.String]
    found = {c: v for c, v in (known or {}).items() if c in strings}
    todo = [c for c in strings if c not in found]
    if todo:  # the distinct values of every column at once (Polars runs them in parallel)
        row = df.select(pl.col(c).drop_nulls().unique().implode() for c in todo).row(0)
        found.update(zip(todo, row, strict=True))
    casts = [pl.col(c).cast(pl.Enum(sorted(set(found[c])))) for c in strings]
    return df.with_columns(casts) if casts else df


def _sorted(df: Any) -> Any:  # a Polars frame, or an Arrow table when it had to move rows
    """``df`` sorted by (time, antenna, point); antenna and point are Enums in name order."""
    import numpy as np
    import polars as pl

    if df.height < 2:
        return df
    codes = [df[c].to_physical().cast(pl.Int32).to_numpy() for c in ("antenna", "point")]
    arrange = order(df["time"].cast(pl.Int64).to_numpy(), codes[0], len(df["antenna"].dtype.categories),
                    codes[1], len(df["point"].dtype.categories))  # fmt: skip
    if arrange is None:
        return df
    # gathered by Arrow (one pass per column; Polars' gather over many chunks is slower)
    return df.to_arrow().take(pa.array(arrange(np.arange(df.height))))


def order(times: Any, antenna: Any, n_a: int, point: Any, n_p: int) -> Callable[[Any], Any] | None:
    """How to put rows in (time, antenna, point) order, from their µs times and category
    codes in name order: a function that rearranges a column (a numpy array) so, or None
    when they already are.

    Rows of a compacted archive are only transposed (:func:`_interleaved`), with no sort
    and no index array. Others are sorted on the three keys packed into one int64 (time
    since the first row × antennas × points) by numpy's stable sort (timsort), which
    merges the long sorted runs the files hold (a row group is one point of one antenna
    in time order): on a day of one point over the array 4× faster than a sort on three
    columns."""
    import numpy as np

    if len(times) < 2:
        return None
    series = antenna.astype(np.int32) * n_p + point  # one code per (antenna, point)
    blocks = _interleaved(times, series)
    if blocks is not None:
        if len(blocks) == 1 and blocks[0][1] == 1:
            return None  # one run: already in order

        def transposed(col: Any) -> Any:
            parts = [col[lo : lo + runs * n].reshape(runs, n).T.ravel() for lo, runs, n in blocks]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        return transposed
    lo, hi = int(times.min()), int(times.max())
    if (hi - lo + 1) * n_a * n_p >= 2**62:
        idx = np.lexsort((point, antenna, times))
    else:
        k = times - lo
        k *= n_a * n_p
        k += series
        if (k[1:] >= k[:-1]).all():
            return None
        idx = np.argsort(k, kind="stable")
    return lambda col: col[idx]


#: at most this many blocks (days) for the transpose; more means rows of another shape
_MAX_BLOCKS = 4096


def _interleaved(times: Any, series: Any) -> list[tuple[int, int, int]] | None:
    """The (first row, runs, samples a run) of each block when rows are as a compacted
    archive holds them: blocks in time order (a day each), each block runs of one
    series (antenna, point) in series order, every run of a block holding the same
    strictly increasing times. Within a block sample *j* of every run comes before
    sample *j + 1* of any: the order is the transpose of its runs × samples grid. (Files
    are one antenna-day each, sorted by point then time, and the logger stamps every
    antenna of a cycle with one time.) None when the rows are otherwise."""
    import numpy as np

    bounds = np.r_[0, np.flatnonzero(series[1:] != series[:-1]) + 1, len(series)]
    codes = series[bounds[:-1]]
    blocks = np.r_[0, np.flatnonzero(codes[1:] <= codes[:-1]) + 1, len(codes)]
    if len(blocks) - 1 > _MAX_BLOCKS:
        return None
    out = []
    for r0, r1 in zip(blocks[:-1], blocks[1:], strict=True):
        lo, hi = int(bounds[r0]), int(bounds[r1])
        runs, n = int(r1 - r0), int(bounds[r0 + 1] - lo)
        if runs * n != hi - lo or not (np.diff(bounds[r0 : r1 + 1]) == n).all():
            return None
        grid = times[lo:hi].reshape(runs, n)
        if n > 1 and not (grid[0, 1:] > grid[0, :-1]).all():
            return None
        if runs > 1 and not (grid[1:] == grid[0]).all():  # the same times in every run
            return None
        if hi < len(times) and not times[hi - 1] < times[hi]:  # the next block is later
            return None
        out.append((lo, runs, n))
    return out


def units(df: Any) -> dict[str, str]:
    """point → unit of a Polars frame whose point and unit are Enums (:func:`unit_pairs`)."""
    import polars as pl

    if "unit" not in df.columns or "point" not in df.columns or not df.height:
        return {}
    point, unit = (df[c].to_physical().cast(pl.Int32).fill_null(-1).to_numpy() for c in ("point", "unit"))
    return unit_pairs(point, df["point"].dtype.categories.to_list(), unit, df["unit"].dtype.categories.to_list())


def unit_pairs(point: Any, point_cats: list[str], unit: Any, unit_cats: list[str]) -> dict[str, str]:
    """point → unit from the distinct (point, unit) pairs of category codes (−1: none):
    a count over the pairs' codes, no loop over rows."""
    import numpy as np

    ok = (point >= 0) & (unit >= 0)
    n_u = max(len(unit_cats), 1)
    pairs = np.flatnonzero(np.bincount(point[ok].astype(np.int64) * n_u + unit[ok], minlength=len(point_cats) * n_u))
    return {point_cats[p]: unit_cats[u] for p, u in zip(*np.divmod(pairs, n_u), strict=True)}
