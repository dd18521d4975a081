"""The aggregates of :func:`~e2ckit.dataset.load` (``every=``): Polars over the rows the
one reader (:mod:`.reader`) returns, or over the compacted days' 5-minute summaries.

One row per (bucket start ``time``, ``antenna``, ``point``) with ``unit`` and one column
per aggregate. A good reading and a bucket are defined once, for this and for the
summaries compaction writes (:mod:`e2ckit.logformat.rules`), so both count the same.

Why Polars for aggregates (measured in ``benchmarks/bench_load.py``): on the
full-array day it was faster than DuckDB and needs no extension (DuckDB's ``httpfs`` is
downloaded at run time, and this must work offline); the reader's Arrow tables (their
string columns still parquet dictionaries) go to Polars without a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from e2ckit.dataset import tidy
from e2ckit.errors import ValidationError
from e2ckit.logformat import summaries as summary_format
from e2ckit.logformat.rules import bucket_start, good_value

if TYPE_CHECKING:
    import pandas as pd

#: the aggregates ``load(agg=...)`` computes (``count``: good readings in the bucket)
AGGS = ("mean", "min", "max", "first", "last", "count", "std")
#: always in the tidy frame (the key of a sample)
KEY = ["time", "antenna", "point"]
#: the string columns that come out as categoricals
CATEGORICAL = ("antenna", "point", "unit", "status", "error")
#: the columns an aggregate reads
NEED = ["time", "point", "value", "unit", "error"]


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


class _Coded:
    """The reader's chunks as Polars sees them: numbers only. ``point``, ``unit`` and
    ``antenna`` become int32 codes into one list each (the parquet dictionaries unified,
    not decoded: handing Polars dictionary columns made it build categoricals, a third
    of an aggregate's time), ``error`` its dictionary indices (null where the reading
    did not fail: all :func:`good_value` asks of it). :meth:`decode` turns the codes of
    the (small) result back into strings."""

    def __init__(self, chunks: list[tuple[pa.Table, str | None]]) -> None:
        import pyarrow.compute as pc

        self.antennas = sorted({a for _, a in chunks if a is not None} | {
            v for t, a in chunks if a is None for v in pc.unique(pc.cast(t["antenna"], pa.string())).to_pylist() if v is not None
        })  # fmt: skip
        self.values: dict[str, list[str]] = {}
        codes: dict[str, list[pa.Array]] = {}
        for c in ("point", "unit"):
            parts = [chunk for t, _ in chunks for chunk in t[c].chunks]
            if not parts:
                self.values[c], codes[c] = [], []
                continue
            unified = pa.chunked_array(parts).unify_dictionaries()
            self.values[c] = unified.chunks[0].dictionary.to_pylist()
            codes[c] = [pc.cast(chunk.indices, pa.int32()) for chunk in unified.chunks]
        self.tables = []
        where = {a: i for i, a in enumerate(self.antennas)}
        k = 0
        for t, antenna in chunks:
            n_chunks = t["point"].num_chunks
            cols = {c: pa.chunked_array(codes[c][k : k + n_chunks], pa.int32()) for c in ("point", "unit")}
            k += n_chunks
            if antenna is not None:
                ant = pa.array(np_full(t.num_rows, where[antenna]))
            else:
                ant = pc.index_in(pc.cast(t["antenna"], pa.string()), value_set=pa.array(self.antennas, pa.string()))
            self.tables.append(pa.table({
                "time": t["time"], "value": t["value"], "error": _indices(t["error"]),
                "point": cols["point"], "unit": cols["unit"], "antenna": pc.cast(ant, pa.int32()),
            }))  # fmt: skip

    def lazy(self) -> Any:
        import polars as pl

        if not self.tables:
            empty = {"time": pl.Datetime("us", "UTC"), "value": pl.Float64, "error": pl.Int32, "point": pl.Int32,
                     "unit": pl.Int32, "antenna": pl.Int32}  # fmt: skip
            return pl.DataFrame(schema=empty).lazy()
        return pl.from_arrow(pa.concat_tables(self.tables)).lazy()  # type: ignore[union-attr]

    def bucket_key(self, every: int) -> tuple[Any, list[Any]] | None:
        """(bucket, antenna, point) packed into one int64 ``_key``, and the expressions
        that unpack it into ``time``, ``antenna`` and ``point``; None when they do not fit
        in 62 bits. Grouping on one integer instead of three columns: measured on a
        6-hour full-array day, a 1-minute aggregate of one point (1.4 M rows, 23,760
        buckets) grouped in 0.085 s instead of 0.13–0.21 s."""
        import polars as pl
        import pyarrow.compute as pc

        spans = [pc.min_max(t["time"]) for t in self.tables if t.num_rows]
        if not spans:
            return None
        lo = min(s["min"].cast(pa.int64()).as_py() for s in spans) // every
        hi = max(s["max"].cast(pa.int64()).as_py() for s in spans) // every
        n_b, n_p = hi - lo + 1, max(len(self.values["point"]), 1)
        if n_b * n_p * max(len(self.antennas), 1) >= 2**62:
            return None
        series = pl.col("antenna").cast(pl.Int64) * n_p + pl.col("point").cast(pl.Int64)
        key = (series * n_b + (pl.col("time").cast(pl.Int64) // every - lo)).alias("_key")
        k = pl.col("_key")
        back = [((k % n_b + lo) * every).cast(pl.Datetime("us", "UTC")).alias("time"),
                (k // n_b // n_p).cast(pl.Int32).alias("antenna"), (k // n_b % n_p).cast(pl.Int32).alias("point")]  # fmt: skip
        return key, back

    def decode(self, out: Any) -> Any:
        """A result's code columns as Polars strings."""
        import polars as pl

        names = {"antenna": self.antennas, **self.values}
        return out.with_columns(
            pl.col(c).map_batches(lambda s, v=names[c]: pl.Series(v, dtype=pl.String).gather(s) if len(v) else s.cast(pl.String),
                                  return_dtype=pl.String)  # fmt: skip
            for c in ("antenna", "point", "unit") if c in out.collect_schema().names()
        )


def np_full(n: int, value: int) -> Any:
    import numpy as np

    return np.full(n, value, np.int32)


def _indices(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column's indices (nulls where it is null), or the column as is."""
    if pa.types.is_dictionary(col.type):
        return pa.chunked_array([c.indices for c in col.chunks], col.type.index_type)
    return col


def aggregate(chunks: list[tuple[pa.Table, str | None]], every: int, aggs: list[str],
              columns: list[str] | None) -> pd.DataFrame:  # fmt: skip
    """Buckets of ``every`` µs over the reader's chunks."""
    import polars as pl

    coded = _Coded(chunks)
    # the streaming engine: linear in the rows, one group table
    key = coded.bucket_key(every)
    if key is None:
        out = coded.lazy().group_by(bucket_start(every), "antenna", "point").agg(_agg_exprs(aggs)).collect(engine="streaming")
    else:
        k, back = key
        out = coded.lazy().group_by(k).agg(_agg_exprs(aggs)).collect(engine="streaming").select(*back, pl.exclude("_key"))
    return _buckets(coded.decode(out), aggs, columns)


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


def from_summaries(chunks: list[tuple[pa.Table, str | None]], summaries: list[Path], points: list[str] | None,
                   lo: int | None, hi: int | None, every: int, aggs: list[str],
                   columns: list[str] | None) -> pd.DataFrame:  # fmt: skip
    """Buckets of ``every`` (a multiple of the summaries' 5 minutes) from partial sums:
    the summaries of the days that have one, and the samples of the others (``chunks``)
    grouped the same way (count, sum, min, max of the good readings); merged per bucket
    exactly as one pass over the samples would count them."""
    import polars as pl

    assert every % summary_format.EVERY_US == 0 and set(aggs) <= summary_format.AGGS
    bucket = bucket_start(every)
    parts = []
    if chunks:
        v = good_value()
        coded = _Coded(chunks)
        parts.append(coded.decode(
            coded.lazy().group_by(bucket, "antenna", "point").agg(
                pl.col("unit").drop_nulls().last(), v.count().cast(pl.Int64).alias("n"),
                v.sum().alias("sum"), v.min().alias("min"), v.max().alias("max"),
            )  # fmt: skip
        ))
    # a summary's time is its 5-minute bucket; the days read from one have no start or
    # end inside them off that grid, so filtering on it is filtering the samples
    conds = []
    if points is not None:
        conds.append(pl.col("point").is_in(points))
    if lo is not None:
        conds.append(pl.col("time").cast(pl.Int64) >= lo)
    if hi is not None:
        conds.append(pl.col("time").cast(pl.Int64) < hi)
    summary = pl.scan_parquet([str(p) for p in summaries])
    summary = summary.filter(*conds) if conds else summary
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
    arrange = tidy.order(df["time"].cast(pl.Int64).to_numpy(), codes[0], len(df["antenna"].dtype.categories),
                    codes[1], len(df["point"].dtype.categories))  # fmt: skip
    if arrange is None:
        return df
    # gathered by Arrow (one pass per column; Polars' gather over many chunks is slower)
    return df.to_arrow().take(pa.array(arrange(np.arange(df.height))))


def units(df: Any) -> dict[str, str]:
    """point → unit of a Polars frame whose point and unit are Enums (:func:`unit_pairs`)."""
    import polars as pl

    if "unit" not in df.columns or "point" not in df.columns or not df.height:
        return {}
    point, unit = (df[c].to_physical().cast(pl.Int32).fill_null(-1).to_numpy() for c in ("point", "unit"))
    return tidy.unit_pairs(point, df["point"].dtype.categories.to_list(), unit, df["unit"].dtype.categories.to_list())
