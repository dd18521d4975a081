"""Writing a compacted day's 5-minute summary (the format is
:mod:`e2ckit.logformat.summaries`'s; compaction calls :func:`write`)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pyarrow as pa

from e2ckit.logformat.summaries import OPTIONS, MIN_PER_BUCKET, SUFFIX, directory, summarize
from e2ckit.logger.fsio import write_atomic


def write(root: Path, day: str, antenna: str, compacted: str, table: pa.Table) -> Path | None:
    """Summarize ``table`` (the compacted file's rows) next to the other summaries of its
    partition, replacing them; None when the day is too sparse to be worth it."""
    d = directory(root, day, antenna)
    for old in d.glob("*" + SUFFIX) if d.is_dir() else []:
        with contextlib.suppress(OSError):
            old.unlink()
    if not table.num_rows:
        return None
    summary = summarize(table, antenna)
    if table.num_rows < MIN_PER_BUCKET * summary.num_rows:  # a slow log: no faster than its samples
        return None
    write_atomic(summary, root, d, compacted + SUFFIX, **OPTIONS)
    return d / (compacted + SUFFIX)
