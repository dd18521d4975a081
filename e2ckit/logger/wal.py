"""The write-ahead segment: every cycle's rows appended at once, so a killed logger
loses at most the cycle it was in.

A logger appends each cycle (one Arrow record batch of every antenna's rows) to
``DIR/.e2ckit/wal/<session>-<seq>.arrows``, an Arrow IPC stream. At each flush it
starts the next segment, writes the finished one's rows as parquet parts named
``part-...-<session>-<seq>.parquet`` and then deletes it. A segment left behind by a
crash is *replayed* by the next writer on the directory (a logger, ``compact``): its
rows become parts under the same names, and a partition that already has the part of
that ``session-seq`` (the crash came after the part was written, before the segment
was deleted) is skipped: a replay is idempotent, and no sample is ever in two parts.
Readers never replay (:func:`e2ckit.dataset.load` reads a segment's rows into its own
memory instead): a reader never holds the writer's lock.

A segment is not ``*.parquet`` and lives in a hidden directory: no reader (DuckDB,
Polars, pyarrow.dataset) counts its rows besides the parts. How segments are named
and read is the dataset format's (:mod:`e2ckit.logformat.segments`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from e2ckit.logformat.schema import WAL_SCHEMA
from e2ckit.logformat.segments import parse_name, part_exists, read, segments, split
from e2ckit.logger.fsio import fsync_dir

#: zstd on each batch's buffers: 66 antennas x 45 points a cycle are 65 B/sample plain,
#: 17 B/sample compressed (0.3 ms more a cycle): the segment is written every second
_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


class Segment:
    """One segment being appended to: opened at the first append, one batch a cycle."""

    def __init__(self, path: Path, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self._file: Any = None
        self._writer: Any = None
        self.broken = False  # an append failed: its tail may be half a batch, append no more

    def append(self, batch: pa.RecordBatch) -> None:
        """Append one batch; it is in the OS (survives SIGKILL) on return, and on the disk
        (survives a power cut) when ``fsync``. Raises OSError (and stops appending)."""
        if self.broken:
            return
        try:
            if self._writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # unbuffered: each batch goes to the OS as the writer emits it
                self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115
                self._writer = pa.ipc.new_stream(self._file, WAL_SCHEMA, options=_OPTIONS)
                if self.fsync:  # the new file's name must survive a power cut too
                    fsync_dir(self.path.parent)
            self._writer.write_batch(batch)
            if self.fsync:
                os.fsync(self._file.fileno())
        except (OSError, pa.ArrowException) as exc:
            self.broken = True
            if isinstance(exc, OSError):
                raise
            raise OSError(getattr(exc, "errno", 0) or 0, str(exc)) from exc

    def close(self) -> None:
        """End the stream (not needed for reading it) and close the file."""
        writer, f, self._writer, self._file = self._writer, self._file, None, None
        with contextlib.suppress(OSError, pa.ArrowException):
            if writer is not None and not self.broken:
                writer.close()
        with contextlib.suppress(OSError):
            if f is not None:
                f.close()

    def delete(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def replay(root: Path, write_part: Any) -> int:
    """Turn every segment under ``root`` into parts (``write_part(day, antenna, table,
    session, seq)``) where that part is not there yet, then delete the segment.
    Call with the dataset's lock held. Returns the rows written."""
    rows = 0
    for path in segments(root):
        session, seq = parse_name(path)  # type: ignore[misc]
        for (day, antenna), table in split(read(path)).items():
            d = root / f"date={day}" / f"antenna={antenna}"
            if not part_exists(d, session, seq):
                write_part(day, antenna, table, session, seq)
                rows += table.num_rows
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return rows
