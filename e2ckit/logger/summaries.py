"""Writing a compacted day's 5-minute summary (the format is
:mod:`e2ckit.logformat.summaries`'s; compaction calls :func:`write`)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pyarrow as pa

from e2ckit.logformat.summaries import (
    MIN_PER_BUCKET,
    OPTIONS,
    SOURCE_KEY,
    SUFFIX,
    directory,
    identity,
    summarize,
)
from e2ckit.logger.fsio import write_atomic


def write(root: Path, day: str, antenna: str, compacted: str, table: pa.Table, *, source: Path) -> Path | None:
    """Summarize ``table`` (the rows of the compacted file ``source``, to be named
    ``compacted``) next to the other summaries of its partition, replacing them, with
    the identity of ``source`` (size, footer checksum) and its row count in the
    summary's metadata; None when the day is too sparse to be worth it."""
    d = directory(root, day, antenna)
    for old in d.glob("*" + SUFFIX) if d.is_dir() else []:
        with contextlib.suppress(OSError):
            old.unlink()
    if not table.num_rows:
        return None
    summary = summarize(table, antenna)
    if table.num_rows < MIN_PER_BUCKET * summary.num_rows:  # a slow log: no faster than its samples
        return None
    source_id = {**identity(source), "rows": table.num_rows, "file": compacted}
    summary = summary.replace_schema_metadata({SOURCE_KEY: json.dumps(source_id).encode()})
    write_atomic(summary, root, d, compacted + SUFFIX, **OPTIONS)
    return d / (compacted + SUFFIX)
