"""The two definitions every reader and writer of the dataset shares, so that a
summary written by ``compact`` counts exactly what ``load`` counts from the samples:
a *good reading* and a *bucket*. (Polars expressions; Polars is imported when used.)
"""

from __future__ import annotations

from typing import Any


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
