"""The one reader of part files: every query (rows or aggregates, local or object
storage) reads its files here, so the admission rule, the filters and the
normalisation exist once.

For each file: open it (pyarrow's low-level reader, decoding into the jemalloc pool:
:func:`_pool`), admit it by its footer's schema (:func:`e2ckit.logformat.files.admit`:
a foreign file is skipped with an :class:`UnreadableFileWarning` naming it, whatever
its name), skip the row groups whose ``point`` and ``time`` statistics exclude the
query, read the others (``unit``, ``status``, ``error`` and ``point`` as parquet
dictionaries: an int32 index a row, no strings), then normalise the columns (strings
as dictionaries, times in UTC µs) and filter the rows exactly. In a compacted file (a
row group per point) the point column is not even read: its statistics hold its one
value. In-memory tables (a write-ahead segment's rows) get the same normalisation and
filters.

A file that cannot be read (cut short, not parquet, a column of a type that cannot be
cast) is skipped with a warning; a file that *vanished* between the listing and the
read (a compaction renamed its result in and deleted it) raises :class:`Vanished`:
the caller lists again, it is not damage.

Time bounds are whole µs (the stored precision), rounded so that the rows kept are
exactly those a nanosecond comparison keeps (:func:`bounds_us`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from e2ckit.errors import UnreadableFileWarning, Vanished
from e2ckit.logformat.files import admit

#: the string columns, read as parquet dictionaries and returned as categoricals
STRINGS = ("point", "unit", "status", "error")
_TYPES = {
    "time": pa.timestamp("us", tz="UTC"),
    "value": pa.float64(),
    "latency_100us": pa.uint16(),
    "raw": pa.binary(),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def bounds_us(t_lo: Any, t_hi: Any) -> tuple[int | None, int | None]:
    """``start`` (inclusive) and ``end`` (exclusive), pandas Timestamps in ns, as whole
    µs bounds on the stored µs times: a time ``t`` (µs) satisfies ``start <= t`` exactly
    when ``t >= ceil(start)``, and ``t < end`` exactly when ``t < ceil(end)``."""
    out = []
    for t in (t_lo, t_hi):
        out.append(None if t is None else -(-int(t.value) // 1000))
    return out[0], out[1]


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
    """One parquet file (a local path, or a file opened from a pyarrow filesystem),
    decoded into :func:`_pool`."""

    def __init__(self, source: Any, dictionary: list[str]) -> None:
        import pyarrow.parquet as pq

        try:
            reader = pq.ParquetReader(memory_pool=_pool())
            reader.open(source, read_dictionary=dictionary)
            self._low, self._file = reader, None
        except (TypeError, AttributeError):
            self._low, self._file = None, pq.ParquetFile(source, read_dictionary=dictionary)
        self.metadata = (self._low or self._file).metadata
        # the stored types (not the dictionaries asked for), with the key-value metadata
        self.schema = self.metadata.schema.to_arrow_schema()

    def read(self, groups: list[int], columns: list[str]) -> pa.Table:
        # columns decoded in parallel only when there is enough to share (measured on a
        # one-point 6-hour day of the array: 15 % less for the aggregate's read); a small
        # part's read would only pay for the hand-offs
        threads = sum(self.metadata.row_group(i).num_rows for i in groups) > 65_536
        if self._low is not None:
            idx = [self._low.column_name_idx(c) for c in columns]
            return self._low.read_row_groups(groups, column_indices=idx, use_threads=threads)
        return self._file.read_row_groups(groups, columns=columns, use_threads=threads)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            (self._low or self._file).close()


def _open(f: Any, filesystem: Any) -> Any:
    """What the reader opens: a local path as a string, a remote one as an open file."""
    if filesystem is None:
        if not os.path.exists(f):
            raise Vanished(str(f))
        return str(f)
    try:
        return filesystem.open_input_file(str(f))
    except FileNotFoundError as exc:
        raise Vanished(str(f)) from exc


def read_file(f: Any, need: list[str], points: list[str] | None, lo: int | None, hi: int | None,
              filesystem: Any = None) -> pa.Table | None:  # fmt: skip
    """The rows of ``f`` that match, normalised; None (with a warning naming the file
    and why) when it is refused or cannot be read; :class:`Vanished` when it is gone."""
    got = _read_raw(f, need, points, lo, hi, filesystem)
    if got is None:
        return None
    table, exact = got
    try:
        table = _normal(table)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        _warn(f, f"unreadable: {exc}")
        return None
    return table if exact else filtered(table, points, lo, hi)


def _read_raw(f: Any, need: list[str], points: list[str] | None, lo: int | None, hi: int | None,
              filesystem: Any) -> tuple[pa.Table, bool] | None:  # fmt: skip
    """(the row groups of ``f`` its statistics keep, as stored; whether every row of
    them matches), or None with a warning; :class:`Vanished` when it is gone."""
    reader = None
    try:
        reader = _Reader(_open(f, filesystem), [c for c in STRINGS if c in need])
        reason = admit(reader.schema)
        if reason is not None:
            _warn(f, reason)
            return None
        return _read_groups(reader, need, points, lo, hi)
    except Vanished:
        raise
    except FileNotFoundError as exc:  # gone between the check and the open
        raise Vanished(str(f)) from exc
    except KeyError:  # a dictionary asked for a column the file lacks: not a part
        _warn(f, _refusal(f, filesystem))
        return None
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        _warn(f, f"unreadable: {exc}")
        return None
    finally:
        if reader is not None:
            reader.close()


def _refusal(f: Any, filesystem: Any) -> str:
    """Why ``f`` is refused, from its footer alone (the admission rule)."""
    import pyarrow.parquet as pq

    try:
        return admit(pq.read_schema(str(f), filesystem=filesystem)) or "not an e2ckit log file"
    except (pa.ArrowException, OSError, ValueError) as exc:
        return f"unreadable: {exc}"


def _warn(f: Any, reason: str) -> None:
    warnings.warn(f"e2ckit: skipping {f}: {reason}", UnreadableFileWarning, stacklevel=2)


def _read_groups(reader: _Reader, need: list[str], points: list[str] | None, lo: int | None,
                 hi: int | None) -> tuple[pa.Table, bool]:  # fmt: skip
    """(the row groups the statistics do not rule out, whether every row of them matches)."""
    import numpy as np

    meta = reader.metadata
    names = meta.schema.names
    p_col, t_col = names.index("point"), names.index("time")
    wanted = set(points) if points is not None else None
    groups, exact, single = [], True, []
    bounded = lo is not None or hi is not None
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        p_stats = _minmax(group.column(p_col).statistics)
        if wanted is not None and p_stats is not None and p_stats["min"] == p_stats["max"] and p_stats["min"] not in wanted:
            continue  # another point's row group (the compacted layout): no need for its times
        t_stats = _time_stats(group.column(t_col).statistics) if bounded else None
        keep, whole = judge(p_stats, t_stats, wanted, lo, hi)
        if keep:
            groups.append(i)
            exact = exact and whole
            single.append(p_stats["min"] if p_stats and p_stats["min"] == p_stats["max"] else None)
    if groups and all(p is not None for p in single) and "point" in need:
        # a row group per point (the compacted layout): the point column is its
        # statistics' one value, not read (a fifth of what a one-point read decodes)
        rest = [c for c in need if c != "point"]
        parts = []
        for i, p in zip(groups, single, strict=True):
            t = reader.read([i], rest)
            codes = pa.array(np.zeros(t.num_rows, np.int8))
            parts.append(t.append_column("point", pa.DictionaryArray.from_arrays(codes, pa.array([p], pa.string()))))
        return pa.concat_tables(parts).select(need), exact
    return reader.read(groups, need), exact


def _minmax(stats: Any) -> dict[str, Any] | None:
    """A column chunk's statistics as {min, max}, or None."""
    try:
        return {"min": stats.min, "max": stats.max} if stats is not None and stats.has_min_max else None
    except (pa.ArrowException, ValueError):  # a logical type pyarrow cannot convert
        return None


def _time_stats(stats: Any) -> dict[str, int] | None:
    """The time column's statistics as whole µs since the epoch, or None."""
    mm = _minmax(stats)
    try:
        return {k: int((v - _EPOCH) // _US) if isinstance(v, datetime) else int(v) for k, v in mm.items()}  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        return None


def judge(p_stats: dict[str, Any] | None, t_stats: dict[str, int] | None, wanted: set[str] | None,
          lo: int | None, hi: int | None) -> tuple[bool, bool]:  # fmt: skip
    """(read this row group, every row of it matches) from its statistics (``min`` and
    ``max``; None where the file has none); ``lo``/``hi`` in µs."""
    whole = True
    if wanted is not None:
        p_lo, p_hi = (p_stats or {}).get("min"), (p_stats or {}).get("max")
        if p_lo is None or p_hi is None:
            whole = False
        elif p_lo == p_hi:
            if p_lo not in wanted:
                return False, False
        else:
            if not any(p_lo <= p <= p_hi for p in wanted):
                return False, False
            whole = False
    if lo is not None or hi is not None:
        if t_stats is None:
            return True, False
        if (lo is not None and t_stats["max"] < lo) or (hi is not None and t_stats["min"] >= hi):
            return False, False
        whole = whole and (lo is None or t_stats["min"] >= lo) and (hi is None or t_stats["max"] < hi)
    return True, whole


def _normal(table: pa.Table) -> pa.Table:
    """``table``'s columns in the types the frame is built from: strings as dictionaries,
    times in UTC µs (an older file may hold ns: truncated)."""
    out = {}
    for name in table.column_names:
        col = table[name]
        if name in STRINGS or name == "antenna":
            if not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(pc.cast(col, pa.string()))
            elif col.type.value_type != pa.string():
                col = pc.dictionary_encode(pc.cast(pc.cast(col, col.type.value_type), pa.string()))
        elif name in _TYPES and col.type != _TYPES[name]:
            col = pc.cast(col, _TYPES[name], safe=False)
        out[name] = col
    return pa.table(out)


def _in(col: pa.ChunkedArray, values: pa.Array) -> pa.ChunkedArray:
    """Whether each value of a dictionary column (normalised) is among ``values``: judged
    once per dictionary entry and gathered by the indices, not once per row's string."""
    out = []
    for chunk in col.chunks:
        hit = pc.is_in(chunk.dictionary, value_set=values)
        out.append(pc.fill_null(pc.take(hit, chunk.indices), False))
    return pa.chunked_array(out, pa.bool_())


def filtered(table: pa.Table, points: list[str] | None, lo: int | None, hi: int | None) -> pa.Table:
    """The rows of ``table`` (normalised) for ``points`` with ``lo <= time < hi`` (µs)."""
    mask = None
    if points is not None:
        mask = _in(table["point"], pa.array(points, pa.string()))
    for bound, op in ((lo, pc.greater_equal), (hi, pc.less)):
        if bound is not None:
            m = op(table["time"], pa.scalar(bound, pa.timestamp("us", tz="UTC")))
            mask = m if mask is None else pc.and_(mask, m)
    return table if mask is None else table.filter(mask)


#: files at most this large (rows) are normalised and filtered together, a batch per
#: antenna: a day of one-row parts (a logger flushing every cycle) costs the per-file
#: reading only, not a dozen Arrow calls a file
SMALL = 4096


def read(files: list[tuple[Any, str]], tables: list[pa.Table], need: list[str], points: list[str] | None,
         lo: int | None, hi: int | None, filesystem: Any = None) -> list[tuple[pa.Table, str | None]]:  # fmt: skip
    """The matching rows of ``files`` ((path, antenna) pairs) and ``tables`` (rows with an
    ``antenna`` column): (table, antenna) chunks, ``antenna`` None for a table's
    (its own column). Raises :class:`Vanished` when a listed file is gone."""
    chunks: list[tuple[pa.Table, str | None]] = []
    if files:
        # four threads even on two cores: a file's read is Python (open, admit, pick the
        # row groups: the GIL held) then C++ decoding (released), so while one thread is
        # in Python the others decode. Measured on a 1-minute aggregate of one point over
        # a 6-hour full-array day (66 files), fresh processes on 2 shared cores: 0.18 s
        # to read with four threads, 0.30 s with two, 0.32 s with one
        workers = min(4, len(files))

        def one(item: tuple[Any, str]) -> tuple[pa.Table, bool] | None:
            return _read_raw(item[0], need, points, lo, hi, filesystem)

        small: list[tuple[pa.Table, bool]] = []
        small_of: str | None = None
        with ThreadPoolExecutor(workers) as pool:
            for (f, antenna), got in zip(files, pool.map(one, files), strict=True):
                if got is None or not got[0].num_rows:
                    continue
                if small and (antenna != small_of or got[0].num_rows > SMALL):
                    chunks += _finish(small, small_of, points, lo, hi)
                    small = []
                if got[0].num_rows <= SMALL:
                    small.append(got)
                    small_of = antenna
                else:
                    chunks += _finish([got], antenna, points, lo, hi, f)
        chunks += _finish(small, small_of, points, lo, hi)
    for t in tables:
        t = filtered(_normal(t.select([*need, "antenna"])), points, lo, hi)
        if t.num_rows:
            chunks.append((t, None))
    return chunks


def _finish(raw: list[tuple[pa.Table, bool]], antenna: str | None, points: list[str] | None, lo: int | None,
            hi: int | None, f: Any = None) -> list[tuple[pa.Table, str | None]]:  # fmt: skip
    """Raw tables of one antenna, normalised and filtered (together when they concatenate)."""
    if not raw:
        return []
    try:
        table = pa.concat_tables([t for t, _ in raw]) if len(raw) > 1 else raw[0][0]
        exact = all(e for _, e in raw)
    except (pa.ArrowException, ValueError):  # of different stored types: one by one
        return [c for one in raw for c in _finish([one], antenna, points, lo, hi, f)]
    try:
        table = _normal(table)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        if len(raw) > 1:
            return [c for one in raw for c in _finish([one], antenna, points, lo, hi, f)]
        _warn(f if f is not None else f"a file of antenna {antenna}", f"unreadable: {exc}")
        return []
    table = table if exact else filtered(table, points, lo, hi)
    return [(table, antenna)] if table.num_rows else []
