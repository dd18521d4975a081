"""Writing the dataset: atomic part files, the logger's backlog of cycles, and recovery.

* **Atomic parts.** A part is written to ``DIR/.e2ckit/tmp/``, fsynced, renamed into
  its partition (atomic on POSIX) and the directory fsynced: a reader never sees a
  file without its footer (one such file breaks a whole-directory read).
* **The backlog.** Cycles wait in memory (and in the write-ahead segment, :mod:`.wal`)
  until a flush writes them, one part per (date, antenna) per segment. A flush that
  fails (disk full, ...) keeps them, and later flushes retry, oldest first, under the
  same part names; :attr:`Store.buffered` is what the logger bounds.
* **Folding.** After a flush that wrote every pending segment, the partitions it
  wrote are folded (:mod:`.fold`), on a thread of its own: every :data:`~.fold.FANOUT`
  parts of a level become one file of the next, at most :data:`FOLDS_PER_FLUSH` folds a
  flush (the rest at the next), from the tables just written (nothing read back). A logger flushing every
  cycle leaves a few dozen files an antenna-day instead of 86,400.
Recovery after a crash is :mod:`.recovery`'s.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from e2ckit.errors import LogWriteError
from e2ckit.logformat.schema import FILE_SCHEMA, part_name
from e2ckit.logformat.segments import segment_name, split, wal_dir
from e2ckit.logger import wal
from e2ckit.logger.fold import Folder
from e2ckit.logger.fsio import write_atomic, write_error

#: fsync settings: "cycle" syncs the segment after every cycle, "flush" only the parts
FSYNC_MODES = ("cycle", "flush")
#: folds a flush writes at most (the full array's 66 partitions reach a fold together:
#: spread over the next flushes, so no one cycle pays for all of them)
FOLDS_PER_FLUSH = 8


def write_part(root: Path, day: str, antenna: str, table: pa.Table, session: str, seq: int) -> tuple[Path, int]:
    """One part file of segment ``session-seq``; returns its path and size."""
    directory = root / f"date={day}" / f"antenna={antenna}"
    first = table.column(0)[0].cast(pa.int64()).as_py()
    name = part_name(first, session, seq)
    table = table.replace_schema_metadata(FILE_SCHEMA.metadata)
    return directory / name, write_atomic(table, root, directory, name)


class _Epoch:
    """The cycles between two flushes: their batches, their segment, what is written."""

    __slots__ = ("batches", "done", "rows", "segment", "seq", "tables")

    def __init__(self, seq: int, segment: wal.Segment) -> None:
        self.seq = seq
        self.segment = segment
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0
        self.tables: dict[tuple[str, str], pa.Table] | None = None  # split once, at the first flush
        self.done: set[tuple[str, str]] = set()


class Store:
    """A logger's writes to one dataset: the backlog of cycles, segments, parts, counters."""

    def __init__(self, root: Path, session: str, fsync: str) -> None:
        self.root = root
        self.session = session
        self.fsync = fsync
        self._lock = threading.Lock()  # the epochs and the counters
        self._flush_lock = threading.Lock()  # one flush at a time
        self._seq = 0
        self._current = self._new_epoch()
        self._sealed: list[_Epoch] = []
        self.buffered = 0
        self.written = 0
        self.files = 0
        self.bytes = 0
        self.write_error: LogWriteError | None = None  #: the latest failure, until a write succeeds
        self.wal_error: LogWriteError | None = None
        self.folder: Folder | None = Folder(background=True)  #: None: parts are not folded

    def _new_epoch(self) -> _Epoch:
        self._seq += 1
        path = wal_dir(self.root) / segment_name(self.session, self._seq)
        return _Epoch(self._seq, wal.Segment(path, fsync=self.fsync == "cycle"))

    def append(self, batch: pa.RecordBatch) -> None:
        """A cycle's rows: into the backlog, and appended to the segment. A segment that
        cannot be written is reported (``wal_error``), not raised: the rows are kept."""
        if not batch.num_rows:
            return
        with self._lock:
            ep = self._current
            ep.batches.append(batch)
            ep.rows += batch.num_rows
            self.buffered += batch.num_rows
            try:
                ep.segment.append(batch)
            except OSError as exc:
                self.wal_error = write_error(ep.segment.path, exc)

    def flush(self) -> int:
        """Write the backlog, oldest cycles first, one part per (date, antenna) per
        segment; delete each segment once its parts are on disk. On a write failure the
        rest stays for the next flush and :class:`LogWriteError` names the path."""
        with self._flush_lock:
            with self._lock:
                if self._current.rows:
                    self._current.segment.close()
                    self._sealed.append(self._current)
                    self._current = self._new_epoch()
                pending = list(self._sealed)
            written = 0
            touched: list[Path] = []
            for ep in pending:
                written += self._write_epoch(ep, touched)
            with self._lock:
                self.write_error = None
                self.wal_error = None
            self._fold(touched)
            return written

    def _write_epoch(self, ep: _Epoch, touched: list[Path]) -> int:
        """One sealed epoch's parts (those not written yet), then its segment deleted."""
        if ep.tables is None:
            ep.tables = split(ep.batches)
            ep.batches = []  # the tables hold the same rows
        written = 0
        for (day, antenna), table in ep.tables.items():
            if (day, antenna) in ep.done:
                continue
            try:
                path, size = write_part(self.root, day, antenna, table, self.session, ep.seq)
            except OSError as exc:
                directory = self.root / f"date={day}" / f"antenna={antenna}"
                err = write_error(directory, exc)
                with self._lock:
                    self.write_error = err
                raise err from exc
            ep.done.add((day, antenna))
            touched.append(path.parent)
            if self.folder is not None:
                self.folder.wrote(path, table)
            written += table.num_rows
            with self._lock:
                self.written += table.num_rows
                self.buffered -= table.num_rows
                self.files += 1
                self.bytes += size
        ep.segment.delete()
        with self._lock:
            self._sealed.remove(ep)
        return written

    def _fold(self, touched: list[Path]) -> None:
        """Fold what this flush wrote, on the folding thread (a cycle never waits for
        it). Folding is tidying: a failure (a full disk) leaves the parts as they are
        and is tried again at the next flush."""
        if self.folder is not None:
            self.folder.fold_later(touched, FOLDS_PER_FLUSH)

    def drop(self) -> int:
        """Give up the backlog (its segments stay on disk for a replay); returns the rows."""
        with self._flush_lock, self._lock:
            n = self.buffered
            for ep in [*self._sealed, self._current]:
                ep.segment.close()
            self._sealed = []
            self._current = self._new_epoch()
            self.buffered = 0
            return n

    def close(self) -> None:
        """Close the open segment (when nothing is buffered, it is empty: removed), and
        wait for a fold's deletions still under way."""
        if self.folder is not None:
            self.folder.close()
        with self._lock:
            if self._current.rows:
                self._current.segment.close()
            else:
                self._current.segment.delete()
