"""Write-ahead segments as a reader sees them: names, whole batches, rows by partition.

The logger (:mod:`e2ckit.logger.wal`) appends each cycle to
``DIR/.e2ckit/wal/<session>-<seq>.arrows`` (an Arrow IPC stream) and, at each flush,
writes the finished segment's rows as parts named ``part-...-<session>-<seq>.parquet``,
then deletes it. Both sides need to read a segment: the writer to replay a crashed
logger's, the dataset to show rows not yet in a part (a running logger's, or a crashed
one's before anyone replays them). A segment cut short by a crash (a half-written last
batch) is read up to its last whole batch.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from e2ckit.logformat.files import covers
from e2ckit.logformat.schema import FILE_SCHEMA, STATE_DIR, WAL_SCHEMA, WAL_SUFFIX

_FILE_NAMES = FILE_SCHEMA.names


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
    """Whether ``directory`` (or its file ``names``, if given) has the rows of segment
    ``session-seq``: its part, or a fold whose span covers it (:func:`covers`)."""
    if names is None:
        try:
            names = {n for n in os.listdir(directory) if n.startswith("part-")}
        except (FileNotFoundError, NotADirectoryError):
            return False
    return covers(names, session, seq)
