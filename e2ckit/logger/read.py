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
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from e2ckit._check import name_list
from e2ckit.errors import ValidationError
from e2ckit.logger import wal
from e2ckit.logger.schema import (
    ANT_RE,
    DATE_RE,
    FILE_SCHEMA,
    PART_RE,
    PARTITIONS,
    LogLockedError,
    UnreadableFileWarning,
    foreign_reason,
)

if TYPE_CHECKING:
    import pandas as pd

#: the names e2ckit gives its parts (a logger's, a compaction's); any other
#: ``*.parquet`` in a partition has its schema checked before it is read
_OURS = re.compile(r"^part-\d{8}T\d{12}Z-(?:[0-9a-f]{8}-\d{6}|compact-[0-9a-f]{8})\.parquet$")
_SCHEMA = pa.unify_schemas([FILE_SCHEMA, PARTITIONS])


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
    """Inputs of a compaction that are still on disk (the compacted file replaces them)."""
    gone: set[Path] = set()
    for f in files:
        if "-compact-" not in f.name:
            continue
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


def _dataset(paths: list[Path], root: Path) -> Any:
    # here, not at the top: pyarrow.dataset imports pandas, and only reading needs it,
    # so `e2ckit log` starts its first cycle without waiting for either
    import pyarrow.dataset as ds

    return ds.dataset(
        [str(p) for p in paths], schema=_SCHEMA, format=ds.ParquetFileFormat(),
        partitioning=ds.partitioning(PARTITIONS, flavor="hive"), partition_base_dir=str(root),
    )  # fmt: skip


def _read_files(files: list[Path], root: Path, flt: Any) -> pa.Table:
    """Read part files with ``flt`` pushed down; a file that cannot be read or is not a
    part of the log is skipped with a warning naming it (the fast path reads all at
    once, the slow one file by file)."""
    try:
        table = _dataset(files, root).to_table(filter=flt)
        # a part never has a row without time or point: a file of another schema does
        if not table["time"].null_count and not table["point"].null_count:
            return table
    except (pa.ArrowException, OSError):
        pass
    tables = []
    for f in files:
        try:
            reason = foreign_reason(pq.read_schema(f))
            if reason is None:
                tables.append(_dataset([f], root).to_table(filter=flt))
                continue
        except (pa.ArrowException, OSError, ValueError) as exc:
            reason = f"unreadable: {exc}"
        _warn_skip(f, reason)
    return pa.concat_tables(tables) if tables else _SCHEMA.empty_table()


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
) -> pd.DataFrame:
    """Read a logged dataset as a tidy DataFrame (or a wide one with ``wide=True``).

    Columns: ``time`` (UTC), ``antenna``, ``point``, ``value`` (float64, NaN when there
    was no good reading), ``unit``, ``status``, ``error``, ``latency_ms`` (float64, NaN
    when nothing came back), ``raw`` (reply bytes where no value could be decoded, else
    None); sorted by time, antenna, point.

    ``points`` (names or catalog groups), ``antennas`` (names or families) and
    ``start`` (inclusive) / ``end`` (exclusive) (anything pandas reads as a time;
    naive means UTC) are pushed down: whole partitions are skipped by their directory
    names, the rest by parquet statistics. A file that cannot be read, or that is not
    part of the log (another schema, not parquet), is skipped with an
    :class:`UnreadableFileWarning` naming it.

    A crashed logger's write-ahead segment is replayed into parts first (when no writer
    holds the directory); a running logger's latest cycles are read from its segment.

    ``wide=True``: index ``time``, columns a MultiIndex (``antenna``, ``point``), values
    ``value``; ``df.attrs["units"]`` maps point → unit. ``wide["DV01", "FEMC.TEMP0"]``
    is one series; ``wide.xs("FEMC.TEMP0", axis=1, level="point")`` one point, all antennas.
    """
    import pandas as pd

    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"no log at {root}: not a directory")
    t_lo, t_hi = utc(start, "start"), utc(end, "end")
    names = _point_names(points)
    settle(root)
    days = (t_lo.date() if t_lo else None, t_hi.date() if t_hi else None)
    keep = _antenna_filter(antennas)
    listed: dict[Path, set[str]] = {}
    files: list[Path] = []
    for _, _, d in partitions(root, days, keep):
        found = _part_files(d)
        listed[d] = {f.name for f in found}
        files += found
    flt = None
    conds = []
    if names is not None:
        conds.append(pc.field("point").isin(names))
    if t_lo is not None:
        conds.append(pc.field("time") >= pa.scalar(t_lo, pa.timestamp("us", tz="UTC")))
    if t_hi is not None:
        conds.append(pc.field("time") < pa.scalar(t_hi, pa.timestamp("us", tz="UTC")))
    for c in conds:
        flt = c if flt is None else flt & c
    tables = [_read_files(files, root, flt)] if files else []
    if wal.segments(root):  # a running logger's rows not in a part yet (listed first: never twice)
        for (day, antenna), t in wal.unreplayed(root, listed).items():
            dd = date.fromisoformat(day)
            if (days[0] and dd < days[0]) or (days[1] and dd > days[1]) or not keep(antenna):
                continue
            n = t.num_rows
            t = t.append_column("date", pa.array([day] * n, pa.string()))
            t = t.append_column("antenna", pa.array([antenna] * n, pa.string()))
            t = t.replace_schema_metadata(None).cast(_SCHEMA)
            tables.append(t.filter(flt) if flt is not None else t)
    table = pa.concat_tables(tables) if tables else _SCHEMA.empty_table()
    table = table.sort_by([("time", "ascending"), ("antenna", "ascending"), ("point", "ascending")])
    latency = pc.divide(table["latency_100us"].cast(pa.float64()), 10.0)
    out = pa.table(
        {
            "time": table["time"],
            "antenna": table["antenna"],
            "point": table["point"],
            "value": table["value"],
            "unit": table["unit"],
            "status": table["status"],
            "error": table["error"],
            "latency_ms": latency,
            "raw": table["raw"],
        }
    )
    df = out.to_pandas()
    df["value"] = df["value"].astype("float64")  # nulls to NaN
    df["latency_ms"] = df["latency_ms"].astype("float64")
    df["raw"] = df["raw"].astype(object).where(df["raw"].notna(), None)
    df["error"] = df["error"].astype(object).where(df["error"].notna(), None)  # None, as sweep() gives
    df.attrs["units"] = dict(zip(df["point"], df["unit"], strict=False)) if len(df) else {}
    if not wide:
        return df
    series = df.set_index(["time", "antenna", "point"])["value"]
    series = series[~series.index.duplicated(keep="last")]
    out_wide = series.unstack(["antenna", "point"]).sort_index(axis=1)
    if out_wide.columns.nlevels != 2:  # empty
        out_wide = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"), columns=pd.MultiIndex.from_tuples([], names=["antenna", "point"]), dtype="float64")
    out_wide.attrs["units"] = df.attrs["units"]
    return out_wide
