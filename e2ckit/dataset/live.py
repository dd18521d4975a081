"""Rows not in a part yet: a running logger's write-ahead segments, or a crashed
logger's before the next writer replays them, read into the reader's memory.

A reader never replays a segment into parts (that is a write, and would take the
writer's lock: a ``load`` must never stop a logger from starting or a compaction from
running). It reads the segments *first*, then lists the parts, and keeps a segment's
rows for a partition only where that listing has no part of the segment
(``part-...-<session>-<seq>.parquet``, a fold whose name's span covers it, or a
compacted file whose ``e2ckit.replaces`` names it): a flush racing with the read is seen either as the segment's rows or as
its part, never both and never neither.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pyarrow as pa

from e2ckit.logformat.files import REPLACES_KEY, covers, local_meta, part_files
from e2ckit.logformat.segments import parse_name, read, segments, split


class Pending:
    """The segments' rows by partition, read before the parts are listed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        #: (session, seq, date, antenna, rows) of every segment's rows
        self.rows: list[tuple[str, int, str, str, pa.Table]] = []
        for path in segments(root):
            parsed = parse_name(path)
            if parsed is None:
                continue
            for (day, antenna), table in split(read(path)).items():
                self.rows.append((*parsed, day, antenna, table))

    def __bool__(self) -> bool:
        return bool(self.rows)

    def partitions(self) -> set[tuple[str, str]]:
        return {(day, antenna) for _, _, day, antenna, _ in self.rows}

    def missing(self, listed: dict[tuple[str, str], list[Path]]) -> dict[tuple[str, str], pa.Table]:
        """The rows whose part is not among ``listed`` (the files of each partition,
        listed after the segments were read), by (date, antenna)."""
        out: dict[tuple[str, str], list[pa.Table]] = {}
        known: dict[tuple[str, str], set[str]] = {}
        for session, seq, day, antenna, table in self.rows:
            if (day, antenna) not in known:
                known[(day, antenna)] = _written(listed.get((day, antenna), []))
            if not covers(known[(day, antenna)], session, seq):
                out.setdefault((day, antenna), []).append(table)
        return {k: pa.concat_tables(v) for k, v in out.items()}


def _written(files: list[Path]) -> set[str]:
    """The part names a partition's files hold: their own, and those a compacted file
    among them replaces (its footer read only then)."""
    names = {f.name for f in files}
    for f in files:
        if "-compact-" in f.name:
            with contextlib.suppress(Exception):
                replaces = json.loads((local_meta(str(f)) or {}).get(REPLACES_KEY, b"[]"))
                names |= {n for n in replaces if isinstance(n, str)}
    return names


def with_partition(table: pa.Table, antenna: str) -> pa.Table:
    """A segment's rows of one partition with their ``antenna`` column (as a reader's table)."""
    n = table.num_rows
    t = table.append_column("antenna", pa.array([antenna] * n, pa.string()))
    return t.replace_schema_metadata(None)


def unflushed(root: Path) -> list[tuple[str, str, pa.Table]]:
    """(date, antenna, rows) of the write-ahead segments under ``root`` not in a part yet:
    a running logger's newest cycles (or a crashed one's), as :func:`~e2ckit.dataset.load`
    reads them. The rows are in the file schema; nothing is written."""

    pending = Pending(root)
    if not pending:
        return []
    listed = {(day, a): part_files(root / f"date={day}" / f"antenna={a}") for day, a in pending.partitions()}
    return [(day, a, t) for (day, a), t in sorted(pending.missing(listed).items())]
