"""Monitor-point time series to a crash-safe parquet dataset (the writer; reading it
back is :func:`e2ckit.dataset.load`).

A :class:`Logger` sweeps groups or points of an array on a fixed grid (cycle *k* at
``t0 + k·interval``) through the fan-out engine (one deadline per cycle) and writes
one row per sample to a hive-partitioned parquet dataset::

    DIR/date=YYYY-MM-DD/antenna=DV01/part-20260101T000000000000Z-3f2a9c1e-000001.parquet

The package, one job per module:

======================  ==================================================================
``cycle``               the :class:`Logger`: the time grid, run/start/step/stop, flushing
``rows``                one cycle's replies as rows (decoding, error rows), antenna health
``status``              :class:`LoggerStatus` and :class:`AntennaHealth`
``store``               part files of the backlog of cycles
``wal``                 the write-ahead segment: appended every cycle, replayed after a crash
``fsio``                atomic files, directory fsync, write errors in words
``recovery``            after a crash: the compaction journal, temporary files, segments
``lock``                one writer per dataset (pid, host; released by the kernel on a crash)
``compaction``          :func:`compact`, journaled so that a crash is completed or undone
``summaries``           writing a compacted day's 5-minute summary
``sweeps``              the only calls into the rest of e2ckit (planning and running sweeps)
======================  ==================================================================

The file schema, names and admission rule are :mod:`e2ckit.logformat`'s (shared with
the reader, :mod:`e2ckit.dataset`); ``logger`` never imports ``dataset``.

What a crash can lose
---------------------
* **Every cycle** is appended to a write-ahead segment (an Arrow IPC stream in the
  hidden ``DIR/.e2ckit/wal/``) before the next one starts; **every flush** (30 s by
  default) turns the segment into parquet parts, written to a temporary file, fsynced,
  renamed into place (atomic) with the directory fsynced, so no reader ever sees a
  part without its footer. The next logger or ``compact`` on the directory replays a
  crashed logger's segment into parts, exactly once, and says so on stderr; ``load``
  reads such a segment's rows into its own memory meanwhile (a reader never writes).
* **SIGKILL, an exception, the OOM killer**: at most the cycle in progress is lost
  (the segment is in the OS's cache), whatever ``fsync`` says.
* **A power cut or kernel crash**: with ``fsync="cycle"`` (the default; one fsync a
  cycle) at most the cycle in progress; with ``fsync="flush"`` what the OS had not
  yet written back of the segment, at worst every cycle since the last flush.
* **A full disk**: the logger keeps sampling into memory (bounded: ``max_backlog``),
  says so on stderr and in its status, retries every ``flush_every`` and writes the
  backlog when space returns; it stops only at the bound.

One writer per dataset: a logger or a compaction holds ``DIR/.e2ckit/lock`` (pid, host,
command); a second one gets :class:`LogLockedError` naming the first.

Why the shape
-------------
* **Appending.** Part names carry the first sample's time, a random session id and a
  sequence number (that of the segment the rows came from), so a restarted logger
  adds files and never overwrites one, and a replay knows what was written.
* **Portability.** Plain parquet, zstd, hive partitions, no e2ckit-specific types:
  pandas, pyarrow.dataset, DuckDB, Polars, Dask and Spark read it as is, e.g.
  ``duckdb.sql("select * from read_parquet('DIR/**/*.parquet', hive_partitioning=true)")``.
  Nothing e2ckit keeps besides the data is ``*.parquet`` or outside ``DIR/.e2ckit``.

File schema (version :data:`SCHEMA_VERSION`, in the file metadata ``e2ckit.schema_version``)
---------------------------------------------------------------------------------------------
=================  ==============================  =========================================
column             type                            encoding (measured, see below)
=================  ==============================  =========================================
time               timestamp[us, UTC]              delta-binary-packed; the *cycle's* slot
point              string                          dictionary
value              float64, null = no good value   byte-stream-split
unit               string                          dictionary
status             string ("ok" or why not)        dictionary
error              string, null = answered         dictionary
latency_100us      uint16, 0.1 ms steps            dictionary; null when nothing came back
raw                binary                          reply bytes, only where value is null
=================  ==============================  =========================================

``date`` and ``antenna`` live in the directory names only (hive style), as every
hive-aware reader expects. ``time`` is the sweep cycle's slot on the grid (``t0 +
k·interval``; the actual start when the cycle began over a tenth of an interval
late, counted in ``status.late_starts``), shared by all samples of the cycle, so a
wide pivot lines the antennas up and a compacted day's times cost almost nothing
(constant steps); each request's own round trip is in the latency.

Encodings were chosen by measurement (an hour of 22 noisy float32 points, zstd):
the default writer gives 4.6 bytes/sample; byte-stream-split on ``value`` takes that
column from 3.5 to 2.0 bytes, and keeping ``raw`` only on failures plus a uint16
latency instead of float32 removes another ~9 bytes/sample. See
``benchmarks/bench_logger.py`` for the figures on simulator data.

Time
----
``clock=`` takes anything with ``now() -> UNIX seconds`` (a
:class:`~e2ckit.clock.SimClock`). The grid *and* the logged times follow that
clock, so a simulated outage replayed at 3600× lands on a two-day time axis. A
*stepped* clock (``SimClock(rate=None)``) is driven by the logger in the foreground
(:meth:`Logger.run`, :meth:`Logger.step` advance it to each cycle's due time, which
makes tests deterministic); a background logger (:meth:`Logger.start`) waits for
whoever advances it.

Without ``clock=``, a logger on a :class:`~e2ckit.sim.SimulatedArray` uses the
simulator's own clock, and a logger on a simulator's host map (``sim.csv``) the clock
file written beside it (``sim.clock.json``, by ``e2ckit simulate --write-array``), so
that simulated events are logged at their simulated times; ``clock="wall"`` forces the
system clock. ``interval`` and ``duration`` are clock seconds; ``timeout`` and
``deadline`` real seconds (under an accelerated clock their defaults stay at what a
healthy answer needs: a slow cycle overruns rather than failing). Cycles in which the
deadline passed before every request was sent are counted (``status.cut_short``).
"""

from __future__ import annotations

from typing import Any

from e2ckit.errors import LogLockedError, LogWriteError, UnreadableFileWarning
from e2ckit.logformat.schema import FILE_SCHEMA, LOAD_COLUMNS, SCHEMA_VERSION
from e2ckit.logger.compaction import CompactResult, compact
from e2ckit.logger.cycle import Logger
from e2ckit.logger.rows import Rows
from e2ckit.logger.status import AntennaHealth, LoggerStatus

__all__ = [
    "FILE_SCHEMA",
    "LOAD_COLUMNS",
    "SCHEMA_VERSION",
    "AntennaHealth",
    "CompactResult",
    "LogLockedError",
    "LogWriteError",
    "Logger",
    "LoggerStatus",
    "UnreadableFileWarning",
    "compact",
]

#: the rows of one partition as column lists (the name the benchmarks and tests used)
_Buffer = Rows


def __getattr__(name: str) -> Any:
    """``e2ckit.logger.load`` is gone: the reader lives in :mod:`e2ckit.dataset`, and the
    writer does not import the reader (the layers); the error says where it went."""
    if name == "load":
        raise AttributeError(
            "e2ckit.logger.load moved to e2ckit.dataset: use `from e2ckit.dataset import load` (or `e2ckit.load`)"
        )
    raise AttributeError(f"module 'e2ckit.logger' has no attribute {name!r}")
