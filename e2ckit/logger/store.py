"""Writing the dataset: atomic part files, the logger's backlog of cycles, and recovery.

* **Atomic parts.** A part is written to ``DIR/.e2ckit/tmp/``, fsynced, renamed into
  its partition (atomic on POSIX) and the directory fsynced: a reader never sees a
  file without its footer (one such file breaks a whole-directory read).
* **The backlog.** Cycles wait in memory (and in the write-ahead segment, :mod:`.wal`)
  until a flush writes them, one part per (date, antenna) per segment. A flush that
  fails (disk full, ...) keeps them, and later flushes retry, oldest first, under the
  same part names; :attr:`Store.buffered` is what the logger bounds.
* **Recovery** (:func:`recover`, with the lock held): finish or roll back a compaction
  that crashed, remove temporary files a crash left, replay write-ahead segments.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from e2ckit.logger import wal
from e2ckit.logger.schema import STATE_DIR, WRITE_OPTIONS, LogWriteError, part_name

#: fsync settings: "cycle" syncs the segment after every cycle, "flush" only the parts
FSYNC_MODES = ("cycle", "flush")


def tmp_dir(root: Path) -> Path:
    return root / STATE_DIR / "tmp"


def write_atomic(table: pa.Table, root: Path, directory: Path, name: str, **options: Any) -> int:
    """Write ``table`` to ``directory/name`` so that no reader ever sees a partial file.

    The bytes go to ``DIR/.e2ckit/tmp/`` first (hidden, and not ``*.parquet``, so no
    glob or dataset reader picks them up), are fsynced, and the file is renamed into
    place (atomic); then the directory is fsynced so the rename survives a power cut.
    On any failure the temporary file is removed. Returns the file's size.
    """
    tdir = tmp_dir(root)
    tmp = tdir / f"{name}.{secrets.token_hex(3)}.tmp"
    try:
        tdir.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as f:
            write_parquet(table, f, **{**WRITE_OPTIONS, **options})
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(directory.parent)
            fsync_dir(root)
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    return size


def write_parquet(table: pa.Table, where: Any, **options: Any) -> None:
    """``pq.write_table``, minus the embedded Arrow schema when pyarrow can still keep
    our key-value metadata without it: that base64 blob is ~1.3 kB a file, a third of a
    10-second part. The parquet types alone read back the same (UTC micros, uint16)."""
    meta = table.schema.metadata or {}
    if not hasattr(pq.ParquetWriter, "add_key_value_metadata"):  # pyarrow < 16
        options.pop("row_groups", None)
        pq.write_table(table, where, **options)
        return
    row_group_size = options.pop("row_group_size", None)
    row_groups = options.pop("row_groups", None)  # explicit row-group lengths, in order
    with pq.ParquetWriter(where, table.schema.remove_metadata(), store_schema=False, **options) as w:
        if row_groups is None:
            w.write_table(table, row_group_size=row_group_size)
        else:
            start = 0
            for n in row_groups:
                w.write_table(table.slice(start, n), row_group_size=n)
                start += n
        w.add_key_value_metadata({k.decode(): v.decode() for k, v in meta.items()})


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_error(path: Path, exc: OSError) -> LogWriteError:
    """A LogWriteError naming ``path`` and saying why in plain words."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"no write permission ({exc.strerror or exc})"
    err = LogWriteError(exc.errno or 0, f"cannot write the log at {path}: {reason}")
    err.filename = str(path)
    return err


def write_part(root: Path, day: str, antenna: str, table: pa.Table, session: str, seq: int) -> tuple[Path, int]:
    """One part file of segment ``session-seq``; returns its path and size."""
    from e2ckit.logger.schema import FILE_SCHEMA

    directory = root / f"date={day}" / f"antenna={antenna}"
    first = table.column(0)[0].cast(pa.int64()).as_py()
    name = part_name(first, session, seq)
    table = table.replace_schema_metadata(FILE_SCHEMA.metadata)
    return directory / name, write_atomic(table, root, directory, name)


def has_leftovers(root: Path) -> bool:
    """Whether a crash may have left something to recover (cheap: three paths)."""
    state = root / STATE_DIR
    if not state.is_dir():
        return False
    if (state / "compact.json").exists() or wal.segments(root):
        return True
    with contextlib.suppress(OSError):
        return any(tmp_dir(root).iterdir())
    return False


def recover(root: Path) -> int:
    """With the lock held: complete or roll back a crashed compaction, remove the
    temporary files crashes left, replay write-ahead segments. Returns rows replayed."""
    from e2ckit.logger.compaction import recover_journal

    recover_journal(root)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(tmp_dir(root))
    for probe in root.glob(".e2ckit-probe-*.tmp"):  # a logger's write probe, cut short
        with contextlib.suppress(OSError):
            probe.unlink()
    return wal.replay(root, lambda day, a, t, session, seq: write_part(root, day, a, t, session, seq))


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

    def _new_epoch(self) -> _Epoch:
        self._seq += 1
        path = wal.wal_dir(self.root) / wal.segment_name(self.session, self._seq)
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
            for ep in pending:
                if ep.tables is None:
                    ep.tables = wal.split(ep.batches)
                    ep.batches = []  # the tables hold the same rows
                for (day, antenna), table in ep.tables.items():
                    if (day, antenna) in ep.done:
                        continue
                    try:
                        _, size = write_part(self.root, day, antenna, table, self.session, ep.seq)
                    except OSError as exc:
                        directory = self.root / f"date={day}" / f"antenna={antenna}"
                        err = write_error(directory, exc)
                        with self._lock:
                            self.write_error = err
                        raise err from exc
                    ep.done.add((day, antenna))
                    written += table.num_rows
                    with self._lock:
                        self.written += table.num_rows
                        self.buffered -= table.num_rows
                        self.files += 1
                        self.bytes += size
                ep.segment.delete()
                with self._lock:
                    self._sealed.remove(ep)
            with self._lock:
                self.write_error = None
                self.wal_error = None
            return written

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
        """Close the open segment (when nothing is buffered, it is empty: removed)."""
        with self._lock:
            if self._current.rows:
                self._current.segment.close()
            else:
                self._current.segment.delete()
