"""The tidy frame of :func:`~e2ckit.dataset.load` (no ``every``): the chunks the reader
(:mod:`.reader`) returns, straight into a categorical pandas frame in (time, antenna,
point) order.

Why not through Polars: the cost of a tidy read is moving rows, and this moves fewer
bytes. Measured on the full-array day (one point over 66 antennas, 5.7 M rows,
``benchmarks/bench_load.py``): Polars decodes ``unit``, ``status`` and ``error`` into
strings (about 270 MB) that are then hashed back into categoricals (0.13 s), where the
reader keeps the parquet dictionaries as they are (an int32 index a row); and the frame
is built from numpy arrays in their final order, one copy per column, instead of a
gather into a new Arrow table and a conversion after it.

Nothing here changes process-wide state (an earlier version switched numpy's
huge-page hint off around the build: two threads loading at once could restore the
wrong value): each column of the frame is one numpy array allocated once, in its
final order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from e2ckit.logformat.schema import LOAD_COLUMNS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_KEY = ("time", "antenna", "point")


def wanted_columns(columns: list[str] | None) -> list[str]:
    """The columns after the key the frame will have (``raw`` decided later)."""
    if columns is None:
        return [c for c in LOAD_COLUMNS if c not in _KEY]
    return [c for c in columns if c not in _KEY]


def _small(n: int) -> Any:
    """The narrowest int type for codes of ``n`` categories (and −1)."""
    import numpy as np

    return np.int8 if n < 127 else np.int16 if n < 32767 else np.int32


def _codes(parts: list[pa.ChunkedArray | pa.Array], categories: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """One categorical column from per-chunk dictionary arrays: codes (−1 for null) into
    ``categories`` (default: the sorted values present), in the narrowest int type."""
    import numpy as np

    pieces = [c for arr in parts for c in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr])]
    dicts = [c.dictionary.to_pylist() for c in pieces]
    values = sorted({v for d in dicts for v in d if v is not None}) if categories is None else categories
    where = {v: i for i, v in enumerate(values)}
    dtype = _small(len(values))
    codes = []
    for chunk, d in zip(pieces, dicts, strict=True):
        # −1 for a null index picks the extra −1 at the end of the lookup
        lookup = np.array([where.get(v, -1) for v in d] + [-1], dtype=dtype)
        idx = chunk.indices
        if chunk.null_count:
            idx = pc.fill_null(pc.cast(idx, pa.int32()), -1)
        codes.append(lookup[idx.to_numpy(zero_copy_only=False)])
    out = np.concatenate(codes) if codes else np.zeros(0, dtype)
    if categories is None and len(out):  # only the values present (a dictionary can hold more)
        used = np.flatnonzero(np.bincount(out[out >= 0], minlength=len(values)))
        if len(used) < len(values):
            remap = np.full(len(values) + 1, -1, dtype)
            remap[used] = np.arange(len(used))
            out = remap[out]
            values = [values[i] for i in used]
    return out, values


def _numbers(parts: list[pa.ChunkedArray | pa.Array], dtype: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """One fixed-width column from per-chunk arrays: the values (whatever a null slot
    holds) and a null mask (None: no nulls). Read from the Arrow buffers without a
    conversion, so the only copy is the concatenation: nulls become NaN after the rows
    are put in order (:func:`_floats`), not before."""
    import numpy as np

    width = np.dtype(dtype).itemsize
    chunks = [c for arr in parts for c in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr])]
    pieces = []
    for chunk in chunks:
        data = chunk.buffers()[1]
        if data is None or len(chunk) == 0:
            pieces.append(np.zeros(len(chunk), dtype))
        else:
            pieces.append(np.frombuffer(data, dtype=dtype, count=len(chunk), offset=chunk.offset * width))
    values = np.concatenate(pieces) if pieces else np.zeros(0, dtype)
    if not any(c.null_count for c in chunks):
        return values, None
    nulls = [c.is_null().to_numpy(zero_copy_only=False) if c.null_count else np.zeros(len(c), bool) for c in chunks]
    return values, np.concatenate(nulls)


def _floats(values: np.ndarray, nulls: np.ndarray | None, scale: float = 1.0) -> np.ndarray:
    """Values (in their final order) as float64 with NaN for nulls, divided by ``scale``."""
    import numpy as np

    out = values.astype(np.float64, copy=values.dtype != np.float64 or not values.flags.writeable)
    if scale != 1.0:
        out /= scale
    if nulls is not None:
        out[nulls] = np.nan
    return out


def frame(
    chunks: list[tuple[pa.Table, str | None]],
    wanted: list[str],
    columns: list[str] | None,
    points: list[str] | None,
    antennas: list[str] | None,
) -> pd.DataFrame:
    """The tidy frame of the reader's chunks ((table, antenna): ``antenna`` None when the
    table has its own column), sorted by (time, antenna, point); ``antennas`` are the
    antenna categories (every antenna the query could hold)."""
    import numpy as np
    import pandas as pd

    # the antenna of a file is its directory's; a table's is its column
    in_tables = {v for t, a in chunks if a is None for c in t["antenna"].chunks for v in c.dictionary.to_pylist()}
    ant_cats = sorted(set(antennas or ()) | {a for _, a in chunks if a is not None} | (in_tables - {None}))
    where = {a: i for i, a in enumerate(ant_cats)}
    small = _small(len(ant_cats))
    ant = np.concatenate([
        np.full(t.num_rows, where[a], small) if a is not None else _codes([t["antenna"]], ant_cats)[0]
        for t, a in chunks
    ]) if chunks else np.zeros(0, small)  # fmt: skip
    point, point_cats = _codes([t["point"] for t, _ in chunks], sorted(set(points)) if points is not None else None)
    times, _ = _numbers([t["time"].cast(pa.int64()) for t, _ in chunks], np.int64)
    arrange = order(times, ant, len(ant_cats), point, len(point_cats)) or (lambda col: col)
    cols: dict[str, Any] = {
        "time": pd.Series(arrange(times).view("M8[us]")).dt.tz_localize("UTC"),
        "antenna": pd.Categorical.from_codes(arrange(ant), categories=ant_cats),
        "point": pd.Categorical.from_codes(arrange(point), categories=point_cats),
    }
    units: dict[str, str] = {}
    for name in wanted:
        if name in ("unit", "status", "error"):
            codes, cats = _codes([t[name] for t, _ in chunks], None)
            cols[name] = pd.Categorical.from_codes(arrange(codes), categories=cats)
            if name == "unit":
                units = unit_pairs(point, point_cats, codes, cats)
        elif name == "value":
            values, nulls = _numbers([t["value"] for t, _ in chunks], np.float64)
            cols[name] = _floats(arrange(values), None if nulls is None else arrange(nulls))
        elif name == "latency_ms":  # 0.1 ms steps (uint16) to ms
            values, nulls = _numbers([t["latency_100us"] for t, _ in chunks], np.uint16)
            cols[name] = _floats(arrange(values), None if nulls is None else arrange(nulls), 10.0)
        elif name == "raw":
            raw = pa.chunked_array([c for t, _ in chunks for c in t["raw"].chunks], pa.binary())
            if columns is None and raw.null_count == len(raw):
                continue  # raw only when it holds something (or asked for)
            values = np.empty(len(raw), dtype=object)
            values[:] = raw.to_pylist()
            cols[name] = arrange(values)
    df = pd.DataFrame(cols, copy=False)
    df.index = pd.RangeIndex(len(df))
    df.attrs["units"] = units
    return df


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


def unit_pairs(point: Any, point_cats: list[str], unit: Any, unit_cats: list[str]) -> dict[str, str]:
    """point → unit from the distinct (point, unit) pairs of category codes (−1: none):
    a count over the pairs' codes, no loop over rows."""
    import numpy as np

    ok = (point >= 0) & (unit >= 0)
    n_u = max(len(unit_cats), 1)
    pairs = np.flatnonzero(np.bincount(point[ok].astype(np.int64) * n_u + unit[ok], minlength=len(point_cats) * n_u))
    return {point_cats[p]: unit_cats[u] for p, u in zip(*np.divmod(pairs, n_u), strict=True)}
