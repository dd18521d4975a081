"""Rollups: 5-minute summaries of each compacted antenna-day, for long-span aggregates.

A whole-array log at 1 Hz is 5.7 M samples a day for one point; a week's trend panel
asks for about 800 min/max/mean/count buckets per line over 40 M of them. Compaction
therefore also writes, per compacted file, the per-(5-minute, point) summary of its
good readings — count, sum, min, max (what those four aggregates need, merged exactly)
— and :func:`e2ckit.logger.load` reads summaries instead of samples for a day when

* the bucket (``every``) is a multiple of 5 minutes and the aggregates are among
  ``min``, ``max``, ``mean``, ``count`` (``std``, ``first``, ``last`` read the samples);
* the day's partition holds exactly the compacted file the summary was made from
  (rows logged after the compaction, or a newer compaction, make it stale: ignored);
* no ``start``/``end`` falls inside the day off a 5-minute boundary.

Summaries live under ``DIR/.e2ckit/rollup/date=…/antenna=…/<compacted file>.rollup``:
hidden, and not ``*.parquet``, so a reader of the dataset (DuckDB, Polars, Dask) never
sees them. They are derived data: deleting them only makes long-span queries slower.
A compaction crash can leave one without its compacted file; it names a file that is
not there and is never used (the next compaction of that day replaces it). They add
about 2 % to a compacted day (a row per point per 5 minutes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from e2ckit.logformat.rules import bucket_start, good_value
from e2ckit.logformat.schema import STATE_DIR

#: the summary's bucket, µs (5 minutes: a week's panel takes 15-minute buckets)
EVERY_US = 300_000_000
#: the aggregates a summary answers exactly
AGGS = frozenset({"min", "max", "mean", "count"})
#: the file suffix (not ``.parquet``: no dataset reader may count these as samples)
SUFFIX = ".rollup"
#: a day is summarized when it holds at least this many samples per (point, bucket) on
#: average: a slower log (a sample a minute or less) reads as fast from its samples
MIN_PER_BUCKET = 4

SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),  # the bucket's start
        pa.field("antenna", pa.string(), nullable=False),
        pa.field("point", pa.string(), nullable=False),
        pa.field("unit", pa.string()),
        pa.field("n", pa.uint32(), nullable=False),  # good readings (a number, no error)
        pa.field("sum", pa.float64()),  # null when n == 0
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
    ]
)
OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": ["antenna", "point", "unit"],
    "column_encoding": {"time": "DELTA_BINARY_PACKED", "n": "DELTA_BINARY_PACKED"},
    "write_statistics": ["time", "point"],
}


def directory(root: Path, day: str, antenna: str) -> Path:
    """Where the summary of the partition ``date=day/antenna=antenna`` lives."""
    return root / STATE_DIR / "rollup" / f"date={day}" / f"antenna={antenna}"


def path_for(root: Path, day: str, antenna: str, compacted: str) -> Path:
    """The summary of the compacted file named ``compacted`` of that partition."""
    return directory(root, day, antenna) / (compacted + SUFFIX)


#: the summary's metadata key holding the identity of the file it was made from
SOURCE_KEY = b"e2ckit.source"


def identity(path: Path) -> dict[str, int]:
    """What identifies a parquet file's content cheaply: its size and a CRC-32 of its
    footer (row counts, statistics and offsets of every row group: a file rewritten,
    cut short or with rows removed has another). Raises OSError/ValueError."""
    import zlib

    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 12:
            raise ValueError(f"{path}: not a parquet file")
        f.seek(size - 8)
        tail = f.read(8)
        n = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or n + 12 > size:
            raise ValueError(f"{path}: no parquet footer")
        f.seek(size - 8 - n)
        footer = f.read(n)
    return {"size": size, "footer_crc32": zlib.crc32(footer)}


def usable(root: Path, day: str, antenna: str, files: list[Path]) -> Path | None:
    """The summary to read for a partition whose part files are ``files``: only when the
    partition is exactly one compacted file, its summary exists and records that file's
    identity (:func:`identity`): a summary of another file of that name (rewritten in
    place, cut short), an older summary without one, or a source that cannot be read
    is never used (the samples answer; ``log compact`` rebuilds it)."""
    if len(files) != 1 or "-compact-" not in files[0].name:
        return None
    p = path_for(root, day, antenna, files[0].name)
    if not p.is_file():
        return None
    import json

    import pyarrow.parquet as pq

    try:
        recorded = json.loads((pq.read_schema(p).metadata or {}).get(SOURCE_KEY, b"null"))
        have = identity(files[0])
    except (OSError, ValueError, pa.ArrowException):
        return None
    if not isinstance(recorded, dict) or any(recorded.get(k) != v for k, v in have.items()):
        return None
    return p


def summarize(table: pa.Table, antenna: str) -> pa.Table:
    """The summary of one antenna-day (a table in the file schema): per (5-minute bucket,
    point), the count, sum, min and max of the good readings (a number and no error),
    and the unit. A bucket whose readings all failed has n = 0 and null statistics."""
    import polars as pl

    out = (
        pl.from_arrow(table.select(["time", "point", "value", "unit", "error"]))
        .lazy()
        .with_columns(bucket_start(EVERY_US), good_value().alias("_v"))
        .group_by("time", "point")
        .agg(
            pl.col("unit").drop_nulls().last().alias("unit"),
            pl.col("_v").count().cast(pl.UInt32).alias("n"),
            pl.col("_v").sum().alias("sum"),
            pl.col("_v").min().alias("min"),
            pl.col("_v").max().alias("max"),
        )
        .with_columns(pl.when(pl.col("n") > 0).then(pl.col("sum")).alias("sum"), pl.lit(antenna).alias("antenna"))
        .sort("point", "time")
        .collect()
    )
    return out.to_arrow().select(SCHEMA.names).cast(SCHEMA)
