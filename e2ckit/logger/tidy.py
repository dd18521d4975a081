"""The tidy read of :func:`~e2ckit.logger.load` (no ``every``): the part files through
pyarrow, straight into a categorical pandas frame.

Aggregates go through Polars (:mod:`.query`); rows do not, because the cost of a tidy
read is moving rows, and pyarrow moves fewer bytes. Measured on the full-array day
(one point over 66 antennas, 5.7 M rows, ``benchmarks/bench_load.py``): Polars decodes
``unit``, ``status`` and ``error`` into strings (about 270 MB) that are then hashed back
into categoricals (0.13 s), where pyarrow reads the parquet dictionaries as they are
(``read_dictionary``: an int32 index a row); the frame is built from numpy arrays in
their final order, one copy per column, instead of a gather into a new Arrow table and
a conversion after it; and the decoding goes into pyarrow's jemalloc pool, which keeps
140 MB less than the default for the same read (:func:`_pool`), and numpy's huge-page
hint is off meanwhile (:func:`_small_pages`). Less memory, and less time a fresh process
spends faulting it in: 0.7–0.75 s instead of 1.3–1.8 s for that day.

Row groups are skipped by their ``point`` and ``time`` statistics (a compacted file has a
row group per point), the rows of the others filtered exactly. Anything this path does
not expect (a column missing or of a type it cannot cast, a file it cannot open) raises
:class:`Unfit`, and :func:`.query.run` reads the same query through Polars instead,
which names and skips broken files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from e2ckit.logger.schema import LOAD_COLUMNS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: the string columns, read as parquet dictionaries and returned as categoricals
STRINGS = ("point", "unit", "status", "error")
_TYPES = {
    "time": pa.timestamp("us", tz="UTC"),
    "value": pa.float64(),
    "latency_100us": pa.uint16(),
    "raw": pa.binary(),
}
_KEY = ("time", "antenna", "point")


class Unfit(Exception):
    """The files are not what this path reads (the query goes through Polars instead)."""


def wanted_columns(columns: list[str] | None) -> list[str]:
    """The columns after the key the frame will have (``raw`` decided later)."""
    if columns is None:
        return [c for c in LOAD_COLUMNS if c not in _KEY]
    return [c for c in columns if c not in _KEY]


def read(
    files: list[Path],
    tables: list[pa.Table],
    points: list[str] | None,
    t_lo: Any,
    t_hi: Any,
    columns: list[str] | None,
    antennas: list[str] | None,
) -> pd.DataFrame:
    """The tidy frame of ``load()`` for ``files`` (each in its ``antenna=`` directory) and
    ``tables`` (rows with an ``antenna`` column: a live logger's segment, object storage),
    sorted by (time, antenna, point); ``antennas`` are the antenna categories."""
    with _small_pages():
        wanted = wanted_columns(columns)
        need = ["time", "point", *dict.fromkeys("latency_100us" if c == "latency_ms" else c for c in wanted)]
        chunks: list[tuple[pa.Table, str | None]] = []
        if files:
            with ThreadPoolExecutor(min(4, len(files), os.cpu_count() or 1)) as pool:
                for f, t in zip(files, pool.map(lambda f: _read_file(f, need, points, t_lo, t_hi), files), strict=True):
                    chunks.append((t, f.parent.name.partition("=")[2]))
        for t in tables:
            if "antenna" not in t.column_names or any(c not in t.column_names for c in need):
                raise Unfit("a table without the log's columns")
            chunks.append((_filtered(_normal(t.select([*need, "antenna"])), points, t_lo, t_hi), None))
        return _frame(chunks, need, wanted, columns, points, antennas)


@contextlib.contextmanager
def _small_pages() -> Iterator[None]:
    """numpy without its huge-page hint (``madvise(MADV_HUGEPAGE)`` on large arrays)
    while the frame is built, restored after (numpy's own switch, the one the
    ``NUMPY_MADVISE_HUGEPAGE`` variable sets). Measured in fresh processes on a one-point
    day of the array: with the hint 0.55 s when the kernel has free huge pages, 0.74–1.12 s
    when it must first compact memory for them (after another large process exits: its
    page faults wait, sys time 0.2 → 1.5 s); without it 0.73–0.79 s either way."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    before = switch(False) if switch is not None else None
    try:
        yield
    finally:
        if switch is not None and before is not None:
            switch(before)


def _pool() -> pa.MemoryPool:
    """The memory pool the reads decode into: jemalloc where pyarrow has it. Decoding a
    row group allocates and frees buffers about the size of its columns again; measured
    on a one-point day of the array (66 files, 187 MB of columns), the default pool
    (mimalloc) kept 387 MB for it and took 0.28–0.54 s, jemalloc 247 MB and 0.16 s: every
    page not touched is one the kernel need not fault in."""
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowException):
        return pa.default_memory_pool()


class _Reader:
    """One parquet file, decoded into :func:`_pool` (pyarrow's low-level reader, which
    takes a pool; ``ParquetFile``, which does not, where that reader is not as expected)."""

    def __init__(self, f: Path, dictionary: list[str]) -> None:
        try:
            reader = pq.ParquetReader(memory_pool=_pool())
            reader.open(str(f), read_dictionary=dictionary)
            self._low, self._file = reader, None
        except (TypeError, AttributeError):
            self._low, self._file = None, pq.ParquetFile(f, read_dictionary=dictionary)
        self.metadata = (self._low or self._file).metadata

    def read(self, groups: list[int], columns: list[str]) -> pa.Table:
        if self._low is not None:
            idx = [self._low.column_name_idx(c) for c in columns]
            return self._low.read_row_groups(groups, column_indices=idx, use_threads=False)
        return self._file.read_row_groups(groups, columns=columns, use_threads=False)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            (self._low or self._file).close()


def _read_file(f: Path, need: list[str], points: list[str] | None, t_lo: Any, t_hi: Any) -> pa.Table:
    """The rows of ``f`` that match, from the row groups its statistics do not rule out."""
    import numpy as np

    reader = None
    try:
        reader = _Reader(f, [c for c in STRINGS if c in need])
        meta = reader.metadata
        names = meta.schema.names
        if any(c not in names for c in need):
            raise Unfit(f"{f}: not every column of the log")
        p_col, t_col = names.index("point"), names.index("time")
        wanted = set(points) if points is not None else None
        groups, exact, single = [], True, []
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            p_stats = _minmax(group.column(p_col).statistics)
            keep, whole = _judge(p_stats, _minmax(group.column(t_col).statistics), wanted, t_lo, t_hi)
            if keep:
                groups.append(i)
                exact = exact and whole
                single.append(p_stats["min"] if p_stats and p_stats["min"] == p_stats["max"] else None)
        if groups and all(p is not None for p in single):
            # a row group per point (the compacted layout): the point column is its
            # statistics' one value, not read (a fifth of what a one-point read decodes)
            rest = [c for c in need if c != "point"]
            parts = []
            for i, p in zip(groups, single, strict=True):
                t = reader.read([i], rest)
                codes = pa.array(np.zeros(t.num_rows, np.int8))
                parts.append(t.append_column("point", pa.DictionaryArray.from_arrays(codes, pa.array([p], pa.string()))))
            table = pa.concat_tables(parts).select(need)
        else:
            table = reader.read(groups, need)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Unfit(f"{f}: {exc}") from exc
    finally:
        if reader is not None:
            reader.close()
    table = _normal(table)
    return table if exact else _filtered(table, points, t_lo, t_hi)


def _minmax(stats: Any) -> dict[str, Any] | None:
    """A column chunk's statistics as {min, max}, or None."""
    try:
        return {"min": stats.min, "max": stats.max} if stats is not None and stats.has_min_max else None
    except (pa.ArrowException, ValueError):  # a logical type pyarrow cannot convert
        return None


def _judge(p_stats: dict[str, Any] | None, t_stats: dict[str, Any] | None, wanted: set[str] | None,
           t_lo: Any, t_hi: Any) -> tuple[bool, bool]:  # fmt: skip
    """(read this row group, every row of it matches) from its statistics (dicts of
    ``min`` and ``max``; None where the file has none)."""
    whole = True
    if wanted is not None:
        lo, hi = (p_stats or {}).get("min"), (p_stats or {}).get("max")
        if lo is None or hi is None:
            whole = False
        elif lo == hi:
            if lo not in wanted:
                return False, False
        else:
            if not any(lo <= p <= hi for p in wanted):
                return False, False
            whole = False
    if t_lo is not None or t_hi is not None:
        try:
            lo, hi = t_stats["min"], t_stats["max"]  # type: ignore[index]
            if (t_lo is not None and hi < t_lo) or (t_hi is not None and lo >= t_hi):
                return False, False
            whole = whole and (t_lo is None or lo >= t_lo) and (t_hi is None or hi < t_hi)
        except (KeyError, TypeError, ValueError):  # no statistics, or not comparable
            whole = False
    return True, whole


def _normal(table: pa.Table) -> pa.Table:
    """``table``'s columns in the types the frame is built from: strings as dictionaries,
    times in UTC µs (an older file may hold ns: truncated as the Polars path does)."""
    out = {}
    for name in table.column_names:
        col = table[name]
        try:
            if name in STRINGS or name == "antenna":
                if not pa.types.is_dictionary(col.type):
                    col = pc.dictionary_encode(pc.cast(col, pa.string()))
            elif name in _TYPES and col.type != _TYPES[name]:
                col = pc.cast(col, _TYPES[name], safe=False)
        except (pa.ArrowException, ValueError) as exc:
            raise Unfit(f"column {name}: {exc}") from exc
        out[name] = col
    return pa.table(out)


def _filtered(table: pa.Table, points: list[str] | None, t_lo: Any, t_hi: Any) -> pa.Table:
    mask = None
    if points is not None:
        mask = pc.is_in(pc.cast(table["point"], pa.string()), value_set=pa.array(points, pa.string()))
    for bound, op in ((t_lo, pc.greater_equal), (t_hi, pc.less)):
        if bound is not None:
            m = op(table["time"], pa.scalar(bound, pa.timestamp("us", tz="UTC")))
            mask = m if mask is None else pc.and_(mask, m)
    return table if mask is None else table.filter(mask)


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


def _frame(
    chunks: list[tuple[pa.Table, str | None]],
    need: list[str],
    wanted: list[str],
    columns: list[str] | None,
    points: list[str] | None,
    antennas: list[str] | None,
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from e2ckit.logger.query import order, unit_pairs

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
