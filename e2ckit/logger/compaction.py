"""Compaction: each closed day's part files merged into one per antenna, crash-safe.

The compacted file is sorted by (point, time) with one row group per point (the
*layout*, named in its metadata ``e2ckit.sorted_by``): a reader filtering on a point
decodes that point's row group and skips the others by their statistics. A compacted
file of an older e2ckit (sorted by time: every row group holds every point) is
rewritten in this layout by the next compaction, like any other merge.

Per partition the steps are: read the parts (files of another schema and unreadable
ones are skipped with a warning and left alone), merge and sort them, write the result
to ``DIR/.e2ckit/tmp/`` and check it holds every row, write the *journal*
``DIR/.e2ckit/compact.json`` (partition, temporary file, final name, inputs), rename the
result into place, delete the inputs, delete the journal. A crash at any step is
settled by the next writer on the directory
(:func:`e2ckit.logger.recovery.recover_journal`, run by a logger and ``compact`` with
the lock held): if the result was renamed into place the inputs still there are
deleted (rolled forward), otherwise the temporary file is (rolled back). Between a
crash after the rename and that next writer, a reader without e2ckit can see a day's
rows twice; ``load`` never does (the compacted file names its inputs in its
metadata, ``e2ckit.replaces``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from e2ckit.errors import E2CKitError, ValidationError
from e2ckit.logformat import summaries as summary_format
from e2ckit.logformat.files import (
    admit,
    candidates,
    local_meta,
    partitions,
    replaced,
    utc,
    warn_skip,
)
from e2ckit.logformat.schema import COMPACT_LEVEL, FILE_SCHEMA, OLD_TMP_RE, WRITE_OPTIONS
from e2ckit.logger import summaries
from e2ckit.logger.fold import fold_partition
from e2ckit.logger.fsio import fsync_dir, tmp_dir, write_error, write_parquet
from e2ckit.logger.lock import DatasetLock
from e2ckit.logger.recovery import journal_path, recover


@dataclass(frozen=True)
class CompactResult:
    """What :func:`compact` did to one partition."""

    date: str
    antenna: str
    files_before: int
    rows: int
    bytes_before: int
    bytes_after: int
    file: str | None  #: the compacted file (None: nothing to do)
    error: str | None = None  #: why this day was skipped (None: it was not)


#: a compaction's temporary file, hidden beside its partition's parts (removed when a
#: crash left it: the journal, if any, is settled first)
TMP_RE = re.compile(r"^\.part-.*\.parquet\.[0-9a-f]{6}\.tmp$")

#: the file metadata key naming the sort order of a compacted file, and this version's
#: layout: rows sorted by (point, time), one row group per point (a point filter reads
#: one row group of a day's file, skipping the others by their statistics)
LAYOUT_KEY = b"e2ckit.sorted_by"
LAYOUT = b"point,time"
#: at most this many rows a row group (a point logged at 10 Hz still splits)
MAX_GROUP = 1 << 20
#: points with fewer rows than this share a row group with their neighbours: a row group
#: costs its own page headers and statistics, so a short log (minutes) cut one per point
#: was ten times the size (56 instead of 5 bytes a sample). From 16,384 rows (4.5 hours
#: at 1 Hz) a point has its own group, which a point filter reads alone: on a 6-hour
#: full-array day (21,600 rows a point) the shared groups of 65,536 made a one-point
#: query decode and filter four points' rows (benchmarks/bench_load.py --hours 6)
MIN_GROUP = 1 << 14


def _old_layout(f: Path) -> bool:
    """Whether ``f`` is a compacted file of the old layout (sorted by time)."""
    if "-compact-" not in f.name:
        return False
    meta = pq.read_schema(f).metadata or {}
    return meta.get(LAYOUT_KEY) != LAYOUT


def _point_groups(table: pa.Table) -> list[int]:
    """Row-group lengths of ``table`` (sorted by point): one per point, split at
    :data:`MAX_GROUP` rows; neighbouring points under :data:`MIN_GROUP` rows share one."""
    sizes: list[int] = []
    pending = 0
    for item in pc.value_counts(table["point"]).to_pylist():
        n = item["counts"]
        if n < MIN_GROUP:
            pending += n
            if pending >= MIN_GROUP:
                sizes.append(pending)
                pending = 0
            continue
        if pending:
            sizes.append(pending)
            pending = 0
        sizes += [MAX_GROUP] * (n // MAX_GROUP) + ([n % MAX_GROUP] if n % MAX_GROUP else [])
    if pending:
        sizes.append(pending)
    return sizes


def arrange(table: pa.Table, replaces: list[str]) -> tuple[pa.Table, str]:
    """A partition's rows as a compacted file holds them (sorted by point then time,
    metadata naming the inputs it replaces and the layout), and the file's name."""
    table = table.sort_by([("point", "ascending"), ("time", "ascending")])
    first = pc.min(table["time"]).as_py() if table.num_rows else datetime(1970, 1, 1, tzinfo=timezone.utc)
    name = f"part-{first.strftime('%Y%m%dT%H%M%S%fZ')}-compact-{secrets.token_hex(4)}.parquet"
    meta = dict(FILE_SCHEMA.metadata)
    meta[b"e2ckit.replaces"] = json.dumps(replaces).encode()
    meta[LAYOUT_KEY] = LAYOUT
    return table.replace_schema_metadata(meta), name


def options(table: pa.Table) -> dict[str, Any]:
    """Writer settings of a compacted file of ``table`` (as :func:`arrange` returns it):
    the part settings (delta-binary-packed time, byte-stream-split values, dictionaries
    for the strings), zstd level :data:`COMPACT_LEVEL`, one row group per point."""
    return {**WRITE_OPTIONS, "compression_level": COMPACT_LEVEL, "row_groups": _point_groups(table)}


def _step(name: str) -> None:
    """Called after each step of a compaction; tests replace it to crash there."""



def compact(path: str | os.PathLike[str], before: Any = None) -> list[CompactResult]:
    """Merge the part files of each closed partition into one, atomically.

    A partition is closed when its date is before ``before`` (a date or anything
    pandas reads as one; default today, UTC). Compaction is a writer: it takes the
    dataset's lock (:class:`~e2ckit.logger.LogLockedError` while a logger or another
    compaction writes it), first settles what a crash left (a compaction half done,
    temporary files, write-ahead segments), and journals each partition so that a crash
    at any moment leaves every sample exactly once after the next e2ckit command.
    Files of another schema, non-parquet and unreadable files are left in place with an
    :class:`~e2ckit.logger.UnreadableFileWarning` naming them. Partitions of days not
    closed yet are *folded* instead (:mod:`.fold`: every 16 small parts of a level
    become one file), as a logger folds the days it writes.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"no log at {root}: not a directory")
    if before is None:
        cutoff = datetime.now(timezone.utc).date()
    else:
        cutoff = utc(before, "before").date()
    lock = DatasetLock(root, "e2ckit log compact")
    try:
        lock.acquire()
        recover(root)
    except OSError as exc:
        lock.release()
        raise write_error(root, exc) from exc
    try:
        results = [_one_day(root, day, antenna, d) for day, antenna, d in list(partitions(root, (None, cutoff - timedelta(days=1))))]
        for _day, _antenna, d in list(partitions(root, (cutoff, None))):
            _fold_open(d)
        return results
    finally:
        lock.release()


def _fold_open(d: Path) -> None:
    """A partition of a day still open (a logger may write it again): its small parts
    folded (:mod:`.fold`), not compacted, so that a day an older e2ckit (or a logger
    without folding) left in thousands of parts reads fast today. A failure is named
    and the partition left as it is."""
    try:
        fold_partition(d)
    except (OSError, E2CKitError, pa.ArrowException, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        warn_skip(d, f"not folded: {why}; its files are left as they were", verb="skipping day")


def _one_day(root: Path, day: str, antenna: str, d: Path) -> CompactResult:
    """One partition compacted, or skipped with a warning naming it and why (another
    file system, a file that cannot be merged, ...): one day's trouble stays that day's."""
    try:
        return _compact_partition(root, day, antenna, d)
    except (OSError, E2CKitError, pa.ArrowException, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        warn_skip(d, f"not compacted: {why}; its files are left as they were", verb="skipping day")
        return CompactResult(day, antenna, 0, -1, 0, 0, None, error=why)


def _already_compacted(root: Path, day: str, antenna: str, f: Path) -> CompactResult | None:
    """A partition that is one compacted file of this layout: nothing to merge, and its
    samples are not read again (a daily ``compact`` of a long archive stays cheap),
    unless its 5-minute summary is missing (compacted by an e2ckit without them, or
    lost) or stale (made from another file of that name): then it is written. None when the file needs the full treatment."""
    try:
        if admit(pq.read_schema(f)) is not None or _old_layout(f):
            return None
        if summary_format.usable(root, day, antenna, [f]) is None:  # missing, or of another file: rebuilt
            with contextlib.suppress(OSError):
                table = pq.read_table(f, columns=FILE_SCHEMA.names).cast(FILE_SCHEMA)
                summaries.write(root, day, antenna, f.name, table, source=f)
        size = f.stat().st_size
    except (pa.ArrowException, OSError, ValueError):
        return None
    return CompactResult(day, antenna, 1, -1, size, size, None)


def _inputs(d: Path) -> list[Path]:
    """The files of a partition a compaction merges: every candidate (checked when read),
    after removing what a crashed compaction or an older e2ckit left beside them."""
    names = sorted(os.listdir(d))
    for n in names:  # temporary files of an older e2ckit (or of a crash), next to the parts
        if OLD_TMP_RE.match(n) or TMP_RE.match(n):
            with contextlib.suppress(OSError):
                (d / n).unlink()
    everything = [d / n for n in candidates(names)]
    leftovers = {Path(p) for p in replaced([str(f) for f in everything], local_meta)}
    for f in leftovers:  # inputs a crashed older e2ckit left behind its compacted file
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    return [f for f in everything if f not in leftovers]


def _read_inputs(files: list[Path]) -> tuple[list[pa.Table], list[Path]]:
    """The tables of the files admitted (the one rule: :func:`~e2ckit.logformat.files.admit`);
    the others are left alone with a warning naming them."""
    tables, inputs = [], []
    for f in files:
        try:
            with pq.ParquetFile(f) as pf:  # footer parsed once for the schema and the read
                reason = admit(pf.schema_arrow)
                if reason is None:
                    t = pf.read(columns=FILE_SCHEMA.names).cast(FILE_SCHEMA)
        except (pa.ArrowException, OSError, ValueError) as exc:
            reason = f"unreadable: {exc}"
        if reason is not None:
            warn_skip(f, reason, verb="not compacting")
            continue
        tables.append(t)
        inputs.append(f)
    return tables, inputs


def _compact_partition(root: Path, day: str, antenna: str, d: Path) -> CompactResult:
    files = _inputs(d)
    if len(files) == 1 and "-compact-" in files[0].name:
        done = _already_compacted(root, day, antenna, files[0])
        if done is not None:
            return done
    tables, inputs = _read_inputs(files)
    bytes_before = sum(f.stat().st_size for f in inputs)
    # nothing to do for a compacted file of this layout (above) or none; a single part
    # (a day flushed once, as an accelerated simulation does) or an old-layout compacted
    # file (sorted by time, row groups of every point) is rewritten in the layout, with
    # its summary, like any merge
    nothing = CompactResult(day, antenna, len(inputs), -1, bytes_before, bytes_before, None)
    if len(inputs) == 0 or (len(inputs) == 1 and "-compact-" in inputs[0].name and not _old_layout(inputs[0])):
        return nothing
    merged, name = arrange(pa.concat_tables(tables), [f.name for f in inputs])
    if not merged.num_rows:
        return nothing
    tmp, size = _write_merged(root, day, antenna, d, merged, name)
    _swap(root, d, tmp, name, inputs)
    return CompactResult(day, antenna, len(inputs), merged.num_rows, bytes_before, size, str(d / name))


def _write_merged(root: Path, day: str, antenna: str, d: Path, merged: pa.Table, name: str) -> tuple[Path, int]:
    """The merged file written beside its partition (a hidden temporary name on the day's
    own file system, so the rename into place cannot cross devices), checked to hold
    every row, and its summary; returns (temporary file, size)."""
    tmp = d / f".{name}.{secrets.token_hex(3)}.tmp"
    try:
        with open(tmp, "xb") as f:
            write_parquet(merged, f, **options(merged))
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        _step("written")
        check = pq.read_metadata(tmp).num_rows
        if check != merged.num_rows:  # never delete inputs unless every row is in the new file
            raise E2CKitError(f"compaction of {d} wrote {check} rows instead of {merged.num_rows}; inputs kept")
        # the 5-minute summary, before the file it summarizes is in place: it names the
        # file (and its size and footer), so a crash from here leaves one never used.
        # Derived data: one that cannot be written (a full disk) does not stop the
        # compaction; the next compact writes it
        with contextlib.suppress(OSError):
            summaries.write(root, day, antenna, name, merged, source=tmp)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise write_error(d / name, exc) from exc
        raise
    return tmp, size


def _swap(root: Path, d: Path, tmp: Path, name: str, inputs: list[Path]) -> None:
    """Journal, rename the merged file into place, delete the inputs, drop the journal.
    A failure before the rename undoes the journal and the temporary file."""
    journal = journal_path(root)
    tdir = tmp_dir(root)
    entry = {"dir": str(d.relative_to(root)), "tmp": str(tmp.relative_to(root)), "file": name,
             "inputs": [f.name for f in inputs]}  # fmt: skip
    try:
        tdir.mkdir(parents=True, exist_ok=True)
        with open(tdir / "compact.json", "w") as jf:
            json.dump(entry, jf)
            jf.flush()
            os.fsync(jf.fileno())
        os.replace(tdir / "compact.json", journal)
        fsync_dir(journal.parent)
        _step("journaled")
        os.replace(tmp, d / name)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if not isinstance(exc, KeyboardInterrupt):  # a crash (the tests' KeyboardInterrupt) leaves it for recovery
            with contextlib.suppress(OSError):
                journal.unlink()
        if isinstance(exc, OSError):
            raise write_error(d / name, exc) from exc
        raise
    fsync_dir(d)
    _step("renamed")
    for k, f in enumerate(inputs):
        f.unlink()
        if k == 0:
            _step("deleting")
    fsync_dir(d)
    _step("deleted")
    journal.unlink()
    fsync_dir(journal.parent)
