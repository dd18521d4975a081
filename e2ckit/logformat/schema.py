"""The dataset's layout: file schema, writer settings, names of files and directories.

One place for every rule a reader without e2ckit relies on::

    DIR/date=YYYY-MM-DD/antenna=DV01/part-<first time>-<session>-<seq>.parquet   the data
    DIR/date=.../antenna=.../part-<first time>-compact-<id>.parquet             a compacted day
    DIR/date=.../antenna=.../part-<first time>-<session>-<lo>-<hi>-f<level>.parquet
                                     a fold: the parts of segments lo..hi of a session, merged
                                     by the logger as it goes (it replaces what its span covers)
    DIR/.e2ckit/lock                 the one writer: pid and host (held with flock)
    DIR/.e2ckit/wal/<session>-<seq>.arrows   write-ahead segments (Arrow IPC streams)
    DIR/.e2ckit/tmp/                 files being written (renamed into place when whole)
    DIR/.e2ckit/compact.json         the journal of a compaction in progress
    DIR/.e2ckit/events.jsonl         events of the logging (wall-clock steps), a JSON object a line
    DIR/.e2ckit/rollup/date=.../antenna=.../<compacted file>.rollup
                                     5-minute summaries of a compacted day (derived;
                                     long-span aggregates read them: see .rollup)

Everything e2ckit keeps besides the data lives in the hidden ``.e2ckit`` directory,
and nothing there ends in ``.parquet``: hive readers (pyarrow.dataset, pandas, Spark,
Dask) skip hidden directories and ``**/*.parquet`` globs (DuckDB, Polars) never match it.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: Bumped when the file schema changes incompatibly; written to every file's metadata.
SCHEMA_VERSION = 1

#: Columns of the tidy frame :func:`~e2ckit.logger.load` returns, in order.
LOAD_COLUMNS = ["time", "antenna", "point", "value", "unit", "status", "error", "latency_ms", "raw"]

_META = {
    b"e2ckit.schema_version": str(SCHEMA_VERSION).encode(),
    b"e2ckit.layout": b"DIR/date=YYYY-MM-DD/antenna=XXNN/part-*.parquet (hive); one row per sample",
    b"e2ckit.latency_100us": b"request round trip in units of 0.1 ms (uint16, saturates at 65535); null: no reply",
}

#: The schema of every part file (``date`` and ``antenna`` are in the path).
FILE_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("point", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("unit", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("latency_100us", pa.uint16()),
        pa.field("raw", pa.binary()),
    ],
    metadata=_META,
)
PARTITIONS = pa.schema([pa.field("date", pa.string()), pa.field("antenna", pa.string())])
#: A cycle's rows as the write-ahead segment and the in-memory backlog hold them: the
#: file schema plus the antenna (a cycle covers every antenna; its date is its time's).
WAL_SCHEMA = pa.schema([pa.field("antenna", pa.string(), nullable=False), *FILE_SCHEMA]).remove_metadata()

# Parquet writer settings, chosen by measurement (package docstring): dictionaries for
# the few distinct strings and latencies, byte-stream-split for the noisy float
# values (zstd then finds the repeated sign/exponent bytes), delta encoding for the
# time column (runs of equal cycle times become almost nothing).
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["point", "unit", "status", "error", "latency_100us"],
    "column_encoding": {"time": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT", "raw": "PLAIN"},
    "write_statistics": ["time", "point"],
}
#: zstd level of compacted files (written once, read many times). Measured on the
#: synthetic full-array day (benchmarks/bench_load.py, one antenna-day of 3.9 M samples):
#: level 9 gives 2.98 bytes a sample in 0.44 s, 17 gives 2.79 in 1.5 s (the values'
#: mantissas compress better with the longer search), 19 gives 2.78 in 2.2 s. Reading
#: is as fast at any level. Compacting a whole-array day at 17: about 2 min of one core.
COMPACT_LEVEL = 17

PART_RE = re.compile(r"^part-.*\.parquet$")
DATE_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
ANT_RE = re.compile(r"^antenna=(.+)$")
#: temporary files an older e2ckit wrote next to the parts (cleaned up by compaction)
OLD_TMP_RE = re.compile(r"^\.part-.*\.parquet\.tmp$")

STATE_DIR = ".e2ckit"  #: e2ckit's own files in a dataset directory (hidden from readers)
#: events of the logging (clock steps), one JSON object a line, in ``STATE_DIR``
EVENTS_FILE = "events.jsonl"
WAL_SUFFIX = ".arrows"  #: Arrow IPC stream: not ``*.parquet``, so no reader counts it


def part_name(first_us: int, session: str, seq: int) -> str:
    """``part-<first sample's time>-<session>-<seq>.parquet``: names sort in time order,
    a restarted logger (new session) never reuses one, and ``session-seq`` names the
    write-ahead segment the rows came from (how a replay knows it was already written)."""
    from datetime import datetime, timezone

    first = datetime.fromtimestamp(first_us / 1e6, tz=timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"part-{first}-{session}-{seq:06d}.parquet"


def fold_name(first_us: int, session: str, lo: int, hi: int, level: int) -> str:
    """``part-<first time>-<session>-<lo>-<hi>-f<level>.parquet``: a *fold*, the rows of
    every part of segments ``lo``..``hi`` of ``session`` in its partition, merged by the
    logger (level 1 folds parts, level 2 folds level-1 folds, ...). Its name is its
    promise: a file of the same session whose span lies inside it is replaced by it
    (:func:`e2ckit.logformat.files.replaced`), so the rename into place is the commit."""
    from datetime import datetime, timezone

    first = datetime.fromtimestamp(first_us / 1e6, tz=timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"part-{first}-{session}-{lo:06d}-{hi:06d}-f{level}.parquet"


#: a part's or a fold's name: (first time, session, lo[, hi, level])
SPAN_RE = re.compile(r"^part-(\d{8}T\d{12}Z)-([^-.]+)-(\d{6,})(?:-(\d{6,})-f([1-9]\d*))?\.parquet$")


def span(name: str) -> tuple[str, int, int, int] | None:
    """(session, lo, hi, level) of a part (``lo == hi``, level 0) or a fold name; None
    for any other name (a compacted file, a file renamed by hand)."""
    m = SPAN_RE.match(name)
    if m is None or m.group(2) == "compact":  # part-<time>-compact-<8 digits>: a compacted file
        return None
    lo = int(m.group(3))
    if m.group(4) is None:
        return m.group(2), lo, lo, 0
    hi = int(m.group(4))
    return (m.group(2), lo, hi, int(m.group(5))) if hi > lo else None


def latency_steps(seconds: pa.Array) -> pa.Array:
    """Latencies in seconds as the file stores them: 0.1 ms steps (rounded half to even),
    saturating at 65535 (6.5 s), null where nothing came back."""
    steps = pc.round(pc.multiply(seconds, 1e4))
    return pc.min_element_wise(steps, 65535.0, skip_nulls=False).cast(pa.uint16())


def _castable(name: str, got: pa.DataType) -> bool:
    """Whether a column ``name`` stored as ``got`` reads as the file schema's type without
    loss of meaning (another writer's float32 values, large strings, dictionaries, a
    time in ns): the reader casts it."""
    want = FILE_SCHEMA.field(name).type
    if pa.types.is_dictionary(got):
        got = got.value_type
    if got.equals(want):
        return True
    if name == "time":
        return pa.types.is_timestamp(got)
    if name == "value":
        return pa.types.is_floating(got) or pa.types.is_integer(got)
    if name == "latency_100us":
        return pa.types.is_integer(got)
    if name == "raw":
        return pa.types.is_binary(got) or pa.types.is_large_binary(got)
    return pa.types.is_string(got) or pa.types.is_large_string(got) or str(got) == "string_view"


def foreign_reason(schema: pa.Schema) -> str | None:
    """Why a parquet file with ``schema`` is not a part of this log (None: it is one).

    A part has every column of :data:`FILE_SCHEMA` with its type or one that reads as it
    (:func:`_castable`; extra columns are tolerated, for a later minor version) and no
    newer incompatible schema version. The one admission rule by schema, for every
    reader and for compaction (:func:`e2ckit.logformat.files.admit`)."""
    missing = [f.name for f in FILE_SCHEMA if f.name not in schema.names]
    if missing:
        return f"not an e2ckit log file (no column {', '.join(missing)})"
    for f in FILE_SCHEMA:
        got = schema.field(f.name).type
        if not _castable(f.name, got):
            return f"column {f.name} is {got}, not {f.type}"
    version = (schema.metadata or {}).get(b"e2ckit.schema_version")
    if version is not None and version != str(SCHEMA_VERSION).encode():
        return f"schema version {version.decode(errors='replace')}, this e2ckit reads {SCHEMA_VERSION}"
    return None


