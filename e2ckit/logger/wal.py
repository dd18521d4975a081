"""The write-ahead segment: every cycle's rows appended at once, so a killed logger
loses at most the cycle it was in.

A logger appends each cycle (one Arrow record batch of every antenna's rows) to
``DIR/.e2ckit/wal/<session>-<seq>.arrows``, an Arrow IPC stream. At each flush it
starts the next segment, writes the finished one's rows as parquet parts named
``part-...-<session>-<seq>.parquet`` and then deletes it. A segment left behind by a
crash is *replayed* by the next e2ckit command that writes or reads the directory (a
logger, ``compact``, ``load``): its rows become parts under the same names, and a
partition that already has the part of that ``session-seq`` (the crash came after
the part was written, before the segment was deleted) is skipped: a replay is
idempotent, and no sample is ever in two parts.

A segment is not ``*.parquet`` and lives in a hidden directory: no reader (DuckDB,
Polars, pyarrow.dataset) counts its rows besides the parts. A segment cut short by
the crash (a half-written last batch) is read up to its last whole batch.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from e2ckit.logger.schema import FILE_SCHEMA, STATE_DIR, WAL_SCHEMA, WAL_SUFFIX

_FILE_NAMES = FILE_SCHEMA.names
#: zstd on each batch's buffers: 66 antennas x 45 points a cycle are 65 B/sample plain,
#: 17 B/sample compressed (0.3 ms more a cycle): the segment is written every second
_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def wal_dir(root: Path) -> Path:
    return root / STATE_DIR / "wal"


def segment_name(session: str, seq: int) -> str:
    return f"{session}-{seq:06d}{WAL_SUFFIX}"


def parse_name(path: Path) -> tuple[str, int] | None:
    """``(session, seq)`` of a segment file name, None for anything else."""
    stem = path.name[: -len(WAL_SUFFIX)] if path.name.endswith(WAL_SUFFIX) else ""
    session, _, seq = stem.rpartition("-")
    return (session, int(seq)) if session and seq.isdigit() else None


def segments(root: Path) -> list[Path]:
    """The segment files under ``root`` (a session's in order; the order of sessions
    does not matter: each row is in one segment only)."""
    d = wal_dir(root)
    try:
        found = [p for p in d.iterdir() if parse_name(p) is not None]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found)  # (a running logger may delete one meanwhile: no stat here)


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
                    _fsync_dir(self.path.parent)
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


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read(path: Path) -> list[pa.RecordBatch]:
    """The whole batches of a segment (a crash may have cut its last one short)."""
    batches: list[pa.RecordBatch] = []
    try:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_stream(source)
            if not reader.schema.equals(WAL_SCHEMA):
                return []
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowException, OSError, ValueError):
        pass  # empty, cut short in its schema or last batch: keep the whole batches
    return batches


def day_of(batch: pa.RecordBatch) -> str:
    """The UTC date of a cycle's batch (every row of a cycle has its time)."""
    t_us = batch.column(1)[0].cast(pa.int64()).as_py()
    return datetime.fromtimestamp(t_us / 1e6, tz=timezone.utc).strftime("%Y-%m-%d")


def split(batches: list[pa.RecordBatch]) -> dict[tuple[str, str], pa.Table]:
    """Cycle batches as one table of the file schema per (date, antenna), rows in time order."""
    by_day: dict[str, list[pa.RecordBatch]] = {}
    for b in batches:
        if b.num_rows:
            by_day.setdefault(day_of(b), []).append(b)
    out: dict[tuple[str, str], pa.Table] = {}
    for day, bs in by_day.items():
        t = pa.Table.from_batches(bs)
        t = t.take(pc.sort_indices(t, [("antenna", "ascending")]))  # a stable sort: time order kept
        start = 0
        for item in pc.value_counts(t["antenna"]).to_pylist():  # in sorted order
            n = item["counts"]
            part = t.slice(start, n).select(_FILE_NAMES)
            out[(day, item["values"])] = part.cast(FILE_SCHEMA)
            start += n
    return out


def part_exists(directory: Path, session: str, seq: int, names: set[str] | None = None) -> bool:
    """Whether ``directory`` has the part of segment ``session-seq`` (in ``names``, if given)."""
    tail = f"-{session}-{seq:06d}.parquet"
    if names is not None:
        return any(n.endswith(tail) for n in names)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        return any(n.endswith(tail) and n.startswith("part-") for n in os.listdir(directory))
    return False


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


def unreplayed(root: Path, listed: dict[Path, set[str]]) -> dict[tuple[str, str], pa.Table]:
    """Rows of the segments under ``root`` whose part is not among ``listed`` (part names
    by partition directory, listed *before* this call): what a reader that may not
    replay (a live logger holds the lock, or the directory is read-only) adds in memory.
    Listing first makes a flush racing with the read lose rows for a moment, never
    count them twice."""
    out: dict[tuple[str, str], list[pa.Table]] = {}
    for path in segments(root):
        parsed = parse_name(path)
        if parsed is None:
            continue
        session, seq = parsed
        for (day, antenna), table in split(read(path)).items():
            d = root / f"date={day}" / f"antenna={antenna}"
            if not part_exists(d, session, seq, listed.get(d, set())):
                out.setdefault((day, antenna), []).append(table)
    return {k: pa.concat_tables(v) for k, v in out.items()}
