"""Reading a logged dataset back: :func:`load`, with filters pushed down.

``load`` lists the partitions (:mod:`e2ckit.logformat.files`), reads the files through
the one reader (:mod:`.reader`: a file that is not part of the log, or cannot be read,
is skipped with an :class:`UnreadableFileWarning` naming it), adds the rows of
write-ahead segments not in a part yet (:mod:`.live`: a running logger's latest cycles,
or a crashed one's, read into memory; a reader never writes), and builds the tidy
frame (:mod:`.tidy`) or the aggregates (:mod:`.query`). A file that vanishes between
the listing and the read (a compaction replaced it) makes it list again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.arguments import name_list
from e2ckit.dataset import live, query, reader, tidy
from e2ckit.errors import ValidationError
from e2ckit.logformat import summaries as summary_format
from e2ckit.logformat.files import part_files, partitions, utc
from e2ckit.logformat.schema import LOAD_COLUMNS
from e2ckit.names import selected

if TYPE_CHECKING:
    import pandas as pd

#: times a query lists the dataset again when a listed file vanished (compaction)
RELISTS = 50


def antenna_filter(antennas: str | Iterable[str] | None) -> Any:
    """A predicate on antenna names: exact names or two-letter families (``"DV"``)."""
    if antennas is None:
        return lambda a: True
    items = antennas.split(",") if isinstance(antennas, str) else list(antennas)
    wanted = {str(i).strip().upper() for i in items if str(i).strip()}
    if "ALL" in wanted:
        return lambda a: True
    return lambda a: selected(a, wanted)


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
                # the catalog only for a group name: `import e2ckit.dataset` stays light
                from e2ckit.catalog import default_catalog

                cat = default_catalog()
                if not cat.is_dynamic(item):
                    names += [p.name for p in cat.resolve(item)]
                    continue
        names.append(item)
    return names


@dataclass
class Query:
    """A ``load()`` call's arguments, checked: what to read and what to answer."""

    points: list[str] | None
    lo: int | None  #: first µs included (None: from the start)
    hi: int | None  #: first µs excluded (None: to the end)
    days: tuple[date | None, date | None]
    keep: Any  #: antenna predicate
    every: int | None  #: bucket, µs
    aggs: list[str]
    columns: list[str] | None

    @property
    def need(self) -> list[str]:
        """The file columns the answer needs."""
        if self.every is not None:
            return list(query.NEED)
        wanted = tidy.wanted_columns(self.columns)
        return ["time", "point", *dict.fromkeys("latency_100us" if c == "latency_ms" else c for c in wanted)]

    def summaries_apply(self) -> bool:
        """Whether the compacted days' 5-minute summaries can answer."""
        cols = self.columns or []
        return (
            self.every is not None and self.every % summary_format.EVERY_US == 0 and set(self.aggs) <= summary_format.AGGS
            and all(c in (*self.aggs, "unit", "time", "antenna", "point") for c in cols)
        )  # fmt: skip

    def whole_buckets(self, day: str) -> bool:
        """Whether the bounds fall inside ``day`` only on the summaries' 5-minute grid."""
        d0 = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        d0_us = (d0 - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
        for t in (self.lo, self.hi):
            if t is not None and d0_us < t < d0_us + 86_400_000_000 and t % summary_format.EVERY_US:
                return False
        return True


def parse(points: Any, antennas: Any, start: Any, end: Any, wide: bool, every: Any, agg: Any, columns: Any) -> Query:
    """The arguments of :func:`load`, checked (a ValidationError names the bad one)."""
    t_lo, t_hi = utc(start, "start"), utc(end, "end")
    lo, hi = reader.bounds_us(t_lo, t_hi)
    step = query.every_us(every) if every is not None else None
    if step is None and agg is not None:
        raise ValidationError("agg needs every= (the bucket length, e.g. every='1min')")
    aggs = query.agg_names(agg) if step is not None else []
    allowed = ["unit", *aggs] if step is not None else [c for c in LOAD_COLUMNS if c not in query.KEY]
    cols = query.column_names(columns if columns is None or isinstance(columns, str) else list(columns), [*query.KEY, *allowed])
    if wide and step is not None and len(aggs) != 1:
        raise ValidationError(f"wide=True with every= needs exactly one aggregate, got agg={aggs}")
    days = (t_lo.date() if t_lo is not None else None, t_hi.date() if t_hi is not None else None)
    return Query(_point_names(points), lo, hi, days, antenna_filter(antennas), step, aggs, cols)


def _listing(root: Path, q: Query) -> tuple[list[tuple[Path, str]], list[tuple[Path, list[tuple[Path, str]]]], dict[tuple[str, str], list[Path]]]:  # fmt: skip
    """(files to read, (summary, its files) of days read from summaries, files by partition)."""
    files: list[tuple[Path, str]] = []
    rollups: list[tuple[Path, list[tuple[Path, str]]]] = []
    listed: dict[tuple[str, str], list[Path]] = {}
    summed = q.summaries_apply()
    for day, antenna, d in partitions(root, q.days, q.keep):
        found = part_files(d)
        listed[(day, antenna)] = found
        summary = summary_format.usable(root, day, antenna, found) if summed and q.whole_buckets(day) else None
        if summary is not None:
            rollups.append((summary, [(f, antenna) for f in found]))
        else:
            files += [(f, antenna) for f in found]
    return files, rollups, listed


def _tables(pending: live.Pending, listed: dict[tuple[str, str], list[Path]], q: Query) -> list[Any]:
    """The segments' rows whose part was not listed, as tables with an antenna column."""
    out = []
    for (day, antenna), t in sorted(pending.missing(listed).items()):
        if q.keep(antenna) and (q.days[0] is None or date.fromisoformat(day) >= q.days[0]) and (
            q.days[1] is None or date.fromisoformat(day) <= q.days[1]
        ):
            out.append(live.with_partition(t, antenna))
    return out


def _read_local(root: Path, q: Query) -> pd.DataFrame:
    """The answer from a local dataset, listing again while files vanish under it."""
    for _ in range(RELISTS):
        pending = live.Pending(root)  # before the listing: never a row twice, never none
        files, rollups, listed = _listing(root, q)
        tables = _tables(pending, listed, q)
        antennas = sorted({a for day_a in listed for a in day_a[1:]} | {t["antenna"][0].as_py() for t in tables if t.num_rows})
        try:
            return _answer(files, tables, rollups, q, antennas, None)
        except reader.Vanished:
            continue  # a compaction replaced a file after the listing: list again
    raise ValidationError(f"{root} kept changing under the read ({RELISTS} listings): is a compaction looping?")


def _answer(files: list[tuple[Any, str]], tables: list[Any], rollups: list[Any], q: Query,
            antennas: list[str] | None, filesystem: Any) -> pd.DataFrame:  # fmt: skip
    """The frame ``load`` returns (before ``wide``), from files, tables and summaries."""
    if rollups:
        chunks = reader.read(files, tables, q.need, q.points, q.lo, q.hi, filesystem)
        try:
            return query.from_summaries(chunks, [s for s, _ in rollups], q.points, q.lo, q.hi, q.every, q.aggs, q.columns)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a summary that cannot be read (derived data): the samples answer
            files = files + [f for _, fs in rollups for f in fs]
    chunks = reader.read(files, tables, q.need, q.points, q.lo, q.hi, filesystem)
    if q.every is not None:
        return query.aggregate(chunks, q.every, q.aggs, q.columns)
    return tidy.frame(chunks, tidy.wanted_columns(q.columns), q.columns, q.points, antennas)


def _wide(df: pd.DataFrame, what: str) -> pd.DataFrame:
    """The tidy (or bucket) frame with index ``time`` and columns (antenna, point)."""
    import pandas as pd

    frame = df[["time", "antenna", "point", what]].astype({"antenna": str, "point": str})
    series = frame.set_index(["time", "antenna", "point"])[what]
    series = series[~series.index.duplicated(keep="last")]
    out = series.unstack(["antenna", "point"]).sort_index(axis=1)
    if out.columns.nlevels != 2:  # empty
        out = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"),
                           columns=pd.MultiIndex.from_tuples([], names=["antenna", "point"]), dtype="float64")  # fmt: skip
    out.attrs["units"] = df.attrs["units"]
    return out


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
    fail: test it with ``isna()``) and ``raw`` (reply bytes where no value could be
    decoded; only when any row has some); sorted by time, antenna, point. ``antenna``,
    ``point``, ``unit``, ``status`` and ``error`` are categoricals. ``columns`` picks the
    columns after the key, e.g. ``columns=["value"]``. ``df.attrs["units"]``: point → unit.

    ``every`` (``"1min"``, ``"10s"``, a timedelta) with ``agg`` (``mean``, ``min``,
    ``max``, ``first``, ``last``, ``count``, ``std`` or a list; default ``mean``): one row
    per (bucket start ``time``, ``antenna``, ``point``) with ``unit`` and one column per
    aggregate. Buckets are aligned to the UNIX epoch (multiples of ``every`` since
    1970-01-01 UTC: the same as midnight UTC only when ``every`` divides a day); a
    bucket without rows is absent. Failed readings never enter an aggregate: ``count``
    is the number of good readings.

    ``points`` (names or catalog groups), ``antennas`` (names or families) and ``start``
    (inclusive) / ``end`` (exclusive) (anything pandas reads as a time, to the
    nanosecond; naive means UTC) are pushed down to the directory names and the parquet
    statistics. A file that is not part of the log, or cannot be read, is skipped with an
    :class:`UnreadableFileWarning` naming it. Rows of write-ahead segments not in a part
    yet (a running logger's latest cycles, a crashed one's) are read too; ``load``
    never writes to the dataset. ``path`` may be ``s3://bucket/prefix`` (or a path in
    ``filesystem``, a ``pyarrow.fs.FileSystem``): read where it lies.

    ``wide=True``: index ``time``, columns a MultiIndex (``antenna``, ``point``), values
    ``value`` (or the one aggregate of ``agg``).
    """
    q = parse(points, antennas, start, end, wide, every, agg, columns)
    if filesystem is not None or "://" in str(path):
        from e2ckit.dataset import remote  # pyarrow's filesystems only when asked for

        files, fs = remote.listing(str(path), filesystem, q.days, q.keep)
        df = _answer(files, [], [], q, None, fs)
    else:
        root = Path(path)
        if not root.is_dir():
            raise ValidationError(f"no log at {root}: not a directory")
        df = _read_local(root, q)
    if not wide:
        return df
    return _wide(df, q.aggs[0] if q.every is not None else "value")
