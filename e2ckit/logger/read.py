"""Reading a logged dataset back: :func:`load`, with filters pushed down.

``load`` reads the part files; a file that is not part of the log (another schema, not
parquet, cut short) is skipped with an :class:`UnreadableFileWarning` naming it. Before
reading, a crash's leftovers are settled when no writer is running (see
:func:`e2ckit.logger.store.recover`); while a logger runs, the rows of its write-ahead
segment not yet in a part are read from the segment, so a notebook sees the latest
cycle, and no sample twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from e2ckit._check import name_list
from e2ckit.errors import ValidationError
from e2ckit.logger import rollup, wal
from e2ckit.logger.schema import (
    ANT_RE,
    DATE_RE,
    LOAD_COLUMNS,
    PART_RE,
    LogLockedError,
    UnreadableFileWarning,
    foreign_reason,
)

if TYPE_CHECKING:
    import pandas as pd

#: the names e2ckit gives its parts (a logger's, a compaction's); any other
#: ``*.parquet`` in a partition has its schema checked before it is read
_OURS = re.compile(r"^part-\d{8}T\d{12}Z-(?:[0-9a-f]{8}-\d{6}|compact-[0-9a-f]{8})\.parquet$")


def utc(t: Any, name: str) -> datetime | None:
    """``t`` (anything pandas reads as a time; naive means UTC) as an aware UTC datetime."""
    if t is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(t)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name}={t!r} is not a time: {exc}") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _antenna_filter(antennas: str | Iterable[str] | None) -> Any:
    """A predicate on antenna names: exact names or two-letter families (``"DV"``)."""
    if antennas is None:
        return lambda a: True
    items = antennas.split(",") if isinstance(antennas, str) else list(antennas)
    wanted = {str(i).strip().upper() for i in items if str(i).strip()}
    if "ALL" in wanted:
        return lambda a: True
    return lambda a: a.upper() in wanted or a.upper()[:2] in wanted


def _point_names(points: str | Iterable[str] | None) -> list[str] | None:
    """Point names; a catalog group name expands to its points."""
    if points is None:
        return None
    items = name_list(points, "points", "point or group names, or a list of them")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(f"points must be names (str), got {item!r}")
        if "." not in item:
            with contextlib.suppress(Exception):
                from e2ckit.catalog import default_catalog

                cat = default_catalog()
                if not cat.is_dynamic(item):
                    names += [p.name for p in cat.resolve(item)]
                    continue
        names.append(item)
    return names


def replaced(files: list[Path]) -> set[Path]:
    """Inputs of a compaction that are still on disk (the compacted file replaces them).

    Only a partition holding a compacted file *and* other parts can have any (a crash
    between the rename and the deletions, or rows logged for a day after it was
    compacted): only then is a footer read. A compacted partition alone costs nothing."""
    gone: set[Path] = set()
    compacted = [f for f in files if "-compact-" in f.name]
    if not compacted or len(files) == len(compacted) == 1:
        return gone
    for f in compacted:
        with contextlib.suppress(Exception):
            meta = pq.read_schema(f).metadata or {}
            for n in json.loads(meta.get(b"e2ckit.replaces", b"[]")):
                gone.add(f.parent / n)
    return gone


def partitions(root: Path, days: tuple[date | None, date | None] = (None, None), keep_antenna: Any = None):
    """(date, antenna, directory) of every partition under ``root``, pruned by path."""
    lo, hi = days
    for ddir in sorted(root.iterdir()) if root.is_dir() else []:
        m = DATE_RE.match(ddir.name)
        if not m or not ddir.is_dir():
            continue
        day = date.fromisoformat(m.group(1))
        if (lo is not None and day < lo) or (hi is not None and day > hi):
            continue
        for adir in sorted(ddir.iterdir()):
            ma = ANT_RE.match(adir.name)
            if ma and adir.is_dir() and (keep_antenna is None or keep_antenna(ma.group(1))):
                yield m.group(1), ma.group(1), adir


def _warn_skip(f: Path, reason: str) -> None:
    warnings.warn(f"e2ckit: skipping {f}: {reason}", UnreadableFileWarning, stacklevel=4)


def _part_files(directory: Path) -> list[Path]:
    """The parts to read in one partition: e2ckit's own, and other ``*.parquet`` files
    whose schema is the log's; the rest is skipped with a warning naming it."""
    names = sorted(os.listdir(directory))
    files = [directory / n for n in names if PART_RE.match(n)]
    gone = replaced(files)
    out = []
    for n in names:
        f = directory / n
        if not n.endswith(".parquet") or f in gone or n.startswith((".", "_")):
            continue
        if not _OURS.match(n):
            try:
                reason = foreign_reason(pq.read_schema(f))
            except (pa.ArrowException, OSError, ValueError) as exc:
                reason = f"unreadable: {exc}"
            if reason is not None:
                _warn_skip(f, reason)
                continue
        out.append(f)
    return out


def _summaries_apply(step: int | None, aggs: list[str], columns: list[str] | None) -> bool:
    """Whether a query can be answered from the compacted days' 5-minute summaries."""
    return (
        step is not None and step % rollup.EVERY_US == 0 and set(aggs) <= rollup.AGGS
        and all(c in (*aggs, "unit", "time", "antenna", "point") for c in columns or [])
    )  # fmt: skip


def _whole_buckets(day: str, t_lo: datetime | None, t_hi: datetime | None) -> bool:
    """Whether ``start``/``end`` fall inside ``day`` only on the summaries' 5-minute grid
    (a summary cannot split its bucket)."""
    d0 = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    for t in (t_lo, t_hi):
        if t is None or not d0 < t < d0 + timedelta(days=1):
            continue
        us = round((t - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))
        if us % rollup.EVERY_US:
            return False
    return True


def settle(root: Path) -> None:
    """Replay what a crash left (segments, a compaction, temporary files) if no writer
    holds the dataset; otherwise leave it (the writer does, or already did)."""
    from e2ckit.logger.lock import DatasetLock
    from e2ckit.logger.store import has_leftovers, recover

    if not has_leftovers(root):
        return
    lock = DatasetLock(root, "e2ckit load (replaying a crashed writer's segments)")
    try:
        lock.acquire()
    except (LogLockedError, OSError):
        return  # a writer is at work, or the directory is read-only: read around it
    try:
        recover(root)
    except OSError as exc:
        warnings.warn(f"e2ckit: could not replay the leftovers in {root}: {exc}", UnreadableFileWarning, stacklevel=3)
    finally:
        lock.release()


def load(
    path: str | os.PathLike[str],
    points: str | Iterable[str] | None = None,
    antennas: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    wide: bool = False,
    *,
    every: str | timedelta | None = None,
    agg: str | Iterable[str] | None = None,
    columns: str | Iterable[str] | None = None,
    filesystem: Any = None,
) -> pd.DataFrame:
    """Read a logged dataset as a tidy DataFrame, aggregated over time with ``every``.

    Columns: ``time`` (UTC), ``antenna``, ``point``, ``value`` (float64, NaN when there
    was no good reading), ``unit``, ``status``, ``latency_ms`` (float64, NaN when
    nothing came back), ``error`` (the failure's text; missing where a reading did not
    fail, as in a tidy sweep: test it with ``isna()``) and ``raw`` (reply bytes where no
    value could be decoded; only when any row has some); sorted by time, antenna, point.
    ``antenna``, ``point``, ``unit``, ``status`` and ``error`` are categoricals. ``columns`` picks
    the columns after the key (time, antenna, point), e.g. ``columns=["value"]``;
    columns named there are always present. ``df.attrs["units"]`` maps point → unit.

    ``every`` (``"1min"``, ``"10s"``, ``"1h"``, a timedelta) with ``agg`` (one of
    ``mean``, ``min``, ``max``, ``first``, ``last``, ``count``, ``std`` or a list;
    default ``mean``) aggregates in the query engine: one row per (bucket start
    ``time``, ``antenna``, ``point``) with ``unit`` and one column per aggregate.
    Buckets are aligned to midnight UTC (to the UNIX epoch); a bucket without rows is
    absent. Failed readings (an error, or no value) never enter an aggregate:
    ``count`` is the number of good readings, and a bucket of failed readings only
    has NaN aggregates and count 0.

    ``points`` (names or catalog groups), ``antennas`` (names or families) and
    ``start`` (inclusive) / ``end`` (exclusive) (anything pandas reads as a time;
    naive means UTC) are pushed down: whole partitions are skipped by their directory
    names, the rest by parquet statistics (row groups of other points are not read in
    files compacted by this version). A file that cannot be read, or that is not part
    of the log (another schema, not parquet), is skipped with an
    :class:`UnreadableFileWarning` naming it.

    A crashed logger's write-ahead segment is replayed into parts first (when no writer
    holds the directory); a running logger's latest cycles are read from its segment.

    ``path`` may be ``s3://bucket/prefix`` (or a path in ``filesystem``, a
    ``pyarrow.fs.FileSystem``): the archive is read where it lies, read-only.

    ``wide=True``: index ``time``, columns a MultiIndex (``antenna``, ``point``), values
    ``value`` (or the one aggregate of ``agg``); ``wide["DV01", "FEMC.TEMP0"]`` is one
    series; ``wide.xs("FEMC.TEMP0", axis=1, level="point")`` one point, all antennas.
    """
    import pandas as pd

    from e2ckit.logger import query

    t_lo, t_hi = utc(start, "start"), utc(end, "end")
    names = _point_names(points)
    step = query.every_us(every) if every is not None else None
    if step is None and agg is not None:
        raise ValidationError("agg needs every= (the bucket length, e.g. every='1min')")
    aggs = query.agg_names(agg) if step is not None else []
    allowed = ["unit", *aggs] if step is not None else [c for c in LOAD_COLUMNS if c not in query.KEY]
    cols = query.column_names(columns if columns is None or isinstance(columns, str) else list(columns), [*query.KEY, *allowed])
    if wide and step is not None and len(aggs) != 1:
        raise ValidationError(f"wide=True with every= needs exactly one aggregate, got agg={aggs}")
    days = (t_lo.date() if t_lo else None, t_hi.date() if t_hi else None)
    keep = _antenna_filter(antennas)
    rollups: list[tuple[Path, list[Path]]] = []  # days read from their 5-minute summaries
    remote = filesystem is not None or "://" in str(path)
    if remote:
        from e2ckit.logger import remote as remote_mod

        files, root, tables = [], Path("."), [remote_mod.read(str(path), filesystem, days, keep, names, t_lo, t_hi)]
        names_seen = set()
    else:
        root = Path(path)
        if not root.is_dir():
            raise ValidationError(f"no log at {root}: not a directory")
        settle(root)
        listed: dict[Path, set[str]] = {}
        files = []
        names_seen: set[str] = set()
        summed = _summaries_apply(step, aggs, cols)
        for day, antenna, d in partitions(root, days, keep):
            names_seen.add(antenna)
            found = _part_files(d)
            listed[d] = {f.name for f in found}
            summary = rollup.usable(root, day, antenna, found) if summed and _whole_buckets(day, t_lo, t_hi) else None
            if summary is not None:
                rollups.append((summary, found))
            else:
                files += found
        tables = []
        if wal.segments(root):  # a running logger's rows not in a part yet (listed first: never twice)
            for (day, antenna), t in wal.unreplayed(root, listed).items():
                dd = date.fromisoformat(day)
                if (days[0] and dd < days[0]) or (days[1] and dd > days[1]) or not keep(antenna):
                    continue
                n = t.num_rows
                t = t.append_column("date", pa.array([day] * n, pa.string()))
                t = t.append_column("antenna", pa.array([antenna] * n, pa.string()))
                tables.append(t.replace_schema_metadata(None))
                names_seen.add(antenna)
    df = query.run(files, root, tables, names, t_lo, t_hi, every=step, aggs=aggs, columns=cols,
                   antennas=None if remote else sorted(names_seen), rollups=rollups)  # fmt: skip
    if not wide:
        return df
    what = aggs[0] if step is not None else "value"
    frame = df[["time", "antenna", "point", what]].astype({"antenna": str, "point": str})
    series = frame.set_index(["time", "antenna", "point"])[what]
    series = series[~series.index.duplicated(keep="last")]
    out_wide = series.unstack(["antenna", "point"]).sort_index(axis=1)
    if out_wide.columns.nlevels != 2:  # empty
        out_wide = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"), columns=pd.MultiIndex.from_tuples([], names=["antenna", "point"]), dtype="float64")
    out_wide.attrs["units"] = df.attrs["units"]
    return out_wide
