"""Monitor-point time series to a crash-safe parquet dataset, and :func:`load` to read it back.

A :class:`Logger` sweeps groups or points of an array on a fixed grid (cycle *k* at
``t0 + k·interval``) through the fan-out engine (one deadline per cycle) and writes
one row per sample to a hive-partitioned parquet dataset::

    DIR/date=YYYY-MM-DD/antenna=DV01/part-20260101T000000000000Z-3f2a9c1e-000001.parquet

Why the shape
-------------
* **Crash safety.** Each flush writes a *hidden* temporary file
  (``.part-...parquet.tmp``), fsyncs it, renames it into place with ``os.replace``
  (atomic on POSIX) and fsyncs the directory. A reader therefore never sees a file
  without its footer (one such file breaks a whole-directory read), and SIGKILL or a
  power cut loses at most the samples since the last flush.
* **Appending.** Part names carry the first sample's time, a random session id and a
  sequence number, so a restarted logger adds files and never overwrites one.
* **Portability.** Plain parquet, zstd, hive partitions, no e2ckit-specific types:
  pandas, pyarrow.dataset, DuckDB, Polars, Dask and Spark read it as is, e.g.
  ``duckdb.sql("select * from read_parquet('DIR/**/*.parquet', hive_partitioning=true)")``.

File schema (version :data:`SCHEMA_VERSION`, in the file metadata ``e2ckit.schema_version``)
---------------------------------------------------------------------------------------------
=================  ==============================  =========================================
column             type                            encoding (measured, see below)
=================  ==============================  =========================================
time               timestamp[us, UTC]              delta-binary-packed; the *cycle's* start
point              string                          dictionary
value              float64, null = no good value   byte-stream-split
unit               string                          dictionary
status             string ("ok" or why not)        dictionary
error              string, null = answered         dictionary
latency_100us      uint16, 0.1 ms steps            dictionary; null when nothing came back
raw                binary                          reply bytes, only where value is null
=================  ==============================  =========================================

``date`` and ``antenna`` live in the directory names only (hive style), as every
hive-aware reader expects. ``time`` is the start of the sweep cycle, shared by all
samples of the cycle, so a wide pivot lines the antennas up; each request's own
round trip is in the latency.

Encodings were chosen by measurement (an hour of 22 noisy float32 points, zstd):
the default writer gives 4.6 bytes/sample; byte-stream-split on ``value`` takes that
column from 3.5 to 2.0 bytes, and keeping ``raw`` only on failures plus a uint16
latency instead of float32 removes another ~9 bytes/sample. See
``benchmarks/bench_logger.py`` for the figures on simulator data.

Time
----
``clock=`` takes anything with ``now() -> UNIX seconds`` (a
:class:`~e2ckit.sim.clock.SimClock`). The grid *and* the logged times follow that
clock, so a simulated outage replayed at 3600× lands on a two-day time axis. A
*stepped* clock (``SimClock(rate=None)``) is driven by the logger in the foreground
(:meth:`Logger.run`, :meth:`Logger.step` advance it to each cycle's due time, which
makes tests deterministic); a background logger (:meth:`Logger.start`) waits for
whoever advances it.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import math
import os
import re
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from e2ckit import engine
from e2ckit._check import name_list, positive_seconds, whole_number
from e2ckit.errors import E2CKitError, ValidationError
from e2ckit.protocol import error_info, reply_data, reply_error

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.catalog import Catalog, Point

    #: one antenna's sweep as the logger reads it: points, and aligned with them each
    #: one's reply bytes and latency, and the failures' text by position
    _Swept = tuple[list[Point | None], list[bytes | None], list[float | None], dict[int, str]]

__all__ = [
    "FILE_SCHEMA",
    "SCHEMA_VERSION",
    "AntennaHealth",
    "LogWriteError",
    "Logger",
    "LoggerStatus",
    "UnreadableFileWarning",
    "compact",
    "load",
]

#: Bumped when the file schema changes incompatibly; written to every file's metadata.
SCHEMA_VERSION = 1

#: Columns of the tidy frame :func:`load` returns, in order.
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
_PARTITIONS = pa.schema([pa.field("date", pa.string()), pa.field("antenna", pa.string())])

# Parquet writer settings, chosen by measurement (module docstring): dictionaries for
# the few distinct strings and latencies, byte-stream-split for the noisy float
# values (zstd then finds the repeated sign/exponent bytes), delta encoding for the
# time column (runs of equal cycle times become almost nothing).
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["point", "unit", "status", "error", "latency_100us"],
    "column_encoding": {"time": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT", "raw": "PLAIN"},
    "write_statistics": ["time", "point"],
}
#: zstd level of compacted files (written once, read many times).
_COMPACT_LEVEL = 9

_PART_RE = re.compile(r"^part-.*\.parquet$")
_DATE_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_ANT_RE = re.compile(r"^antenna=(.+)$")


class LogWriteError(E2CKitError, OSError):
    """The log could not be written (no permission, disk full, ...); names the path."""


class UnreadableFileWarning(UserWarning):
    """:func:`load` or :func:`compact` skipped a file it could not read."""


# -- status --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AntennaHealth:
    """How one antenna answered in the latest cycles."""

    state: str = "unknown"  #: "ok", "partial" (some points failed), "down" (none answered), "unknown"
    last_ok: float | None = None  #: clock time of the last cycle with at least one good reply
    last_error: str | None = None  #: the latest error text, kept after recovery
    failures: int = 0  #: consecutive cycles in which nothing answered
    error_rows: int = 0  #: error rows logged for this antenna


@dataclass(frozen=True)
class LoggerStatus:
    """A snapshot of a :class:`Logger` (``logger.status``); also readable as ``status["cycles"]``."""

    running: bool
    path: str
    cycles: int  #: cycles run
    samples: int  #: rows logged (written + buffered)
    samples_written: int  #: rows safely on disk
    samples_buffered: int  #: rows waiting for the next flush
    errors: int  #: rows with an error (no reply or an E2C error code)
    overruns: int  #: cycles that ended after the next one was due
    skipped: int  #: grid slots skipped because of overruns (never piled up)
    files: int  #: part files written
    bytes_written: int
    last_cycle: float | None  #: clock time of the latest cycle
    last_cycle_seconds: float | None  #: real seconds the latest cycle took
    failure: str | None  #: why the logger stopped, if it failed
    antennas: dict[str, AntennaHealth] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (antenna health as dicts too), e.g. for JSON."""
        return asdict(self)

    def line(self) -> str:
        """One line for a terminal: cycles, samples, errors, overruns, antennas down."""
        down = sorted(a for a, h in self.antennas.items() if h.state == "down")
        partial = sum(1 for h in self.antennas.values() if h.state == "partial")
        last = ""
        if self.last_cycle is not None:
            last = " at " + datetime.fromtimestamp(self.last_cycle, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        parts = [
            f"{self.cycles} cycles{last}",
            f"{self.samples} samples ({self.samples_written} on disk, {self.files} files)",
            f"{self.errors} errors",
            f"{self.overruns} overruns",
        ]
        if down:
            shown = ",".join(down[:4]) + ("..." if len(down) > 4 else "")
            parts.append(f"{len(down)} down ({shown})")
        if partial:
            parts.append(f"{partial} partial")
        if self.failure:
            parts.append(f"FAILED: {self.failure}")
        return " | ".join(parts)


# -- buffers -----------------------------------------------------------------------------------


class _Buffer:
    """Rows of one (date, antenna) partition waiting for a flush, as column lists."""

    __slots__ = ("error", "latency", "point", "raw", "status", "time", "unit", "value")

    def __init__(self) -> None:
        self.time: list[int] = []
        self.point: list[str] = []
        self.value: list[float | None] = []
        self.unit: list[str] = []
        self.status: list[str] = []
        self.error: list[str | None] = []
        self.latency: list[float | None] = []  # seconds; made 0.1 ms steps when written
        self.raw: list[bytes | None] = []

    def __len__(self) -> int:
        return len(self.time)

    def extend(self, other: _Buffer) -> None:
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))

    def table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [
                pa.array(self.time, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(self.point, pa.string()),
                pa.array(self.value, pa.float64()),
                pa.array(self.unit, pa.string()),
                pa.array(self.status, pa.string()),
                pa.array(self.error, pa.string()),
                _latency_steps(pa.array(self.latency, pa.float64())),
                pa.array(self.raw, pa.binary()),
            ],
            schema=FILE_SCHEMA,
        )


def _latency_steps(seconds: pa.Array) -> pa.Array:
    """Latencies in seconds as the file stores them: 0.1 ms steps (rounded half to even),
    saturating at 65535 (6.5 s), null where nothing came back."""
    steps = pc.round(pc.multiply(seconds, 1e4))
    return pc.min_element_wise(steps, 65535.0, skip_nulls=False).cast(pa.uint16())


def _write_atomic(table: pa.Table, directory: Path, name: str, **options: Any) -> int:
    """Write ``table`` to ``directory/name`` so that no reader ever sees a partial file.

    The bytes go to a hidden ``.name.tmp`` first (hidden, and not ``*.parquet``, so
    no glob or dataset reader picks it up), are fsynced, and the file is renamed into
    place (atomic); then the directory is fsynced so the rename survives a power cut.
    On any failure the temporary file is removed. Returns the file's size.
    """
    tmp = directory / f".{name}.tmp"
    try:
        with open(tmp, "xb") as f:
            _write_parquet(table, f, **{**_WRITE_OPTIONS, **options})
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
    return size


def _write_parquet(table: pa.Table, where: Any, **options: Any) -> None:
    """``pq.write_table``, minus the embedded Arrow schema when pyarrow can still keep
    our key-value metadata without it: that base64 blob is ~1.3 kB a file, a third of a
    10-second part. The parquet types alone read back the same (UTC micros, uint16)."""
    meta = table.schema.metadata or {}
    if not hasattr(pq.ParquetWriter, "add_key_value_metadata"):  # pyarrow < 16
        pq.write_table(table, where, **options)
        return
    row_group_size = options.pop("row_group_size", None)
    with pq.ParquetWriter(where, table.schema.remove_metadata(), store_schema=False, **options) as w:
        w.write_table(table, row_group_size=row_group_size)
        w.add_key_value_metadata({k.decode(): v.decode() for k, v in meta.items()})


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_error(path: Path, exc: OSError) -> LogWriteError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"no write permission ({exc.strerror or exc})"
    err = LogWriteError(exc.errno or 0, f"cannot write the log at {path}: {reason}")
    err.filename = str(path)
    return err


# -- the logger ------------------------------------------------------------------------------


class Logger:
    """Log groups or points of an array to a parquet dataset, on a fixed time grid.

    >>> with e2ckit.Logger("cryo", "DV", interval=1, path="night") as log:   # doctest: +SKIP
    ...     log.run(duration=3600)           # foreground; or log.start() ... log.stop()

    Parameters
    ----------
    what:
        a group, a point, or a list of them; unknown names raise ValidationError here,
        before any cycle.
    antennas:
        as for :func:`e2ckit.sweep` (``None`` is every antenna of the array).
    interval:
        seconds between cycle starts, on ``clock``.
    path:
        the dataset directory (created if needed).
    array:
        an Array, a host-map CSV, a SimulatedArray, or None for ``$E2CKIT_ARRAY``.
    timeout, deadline:
        seconds per request and per cycle (real time); by default at most 1 s per
        request and a deadline within the interval, so a silent antenna cannot make
        cycles overrun.
    flush_every, flush_rows:
        flush after this many real seconds, or this many buffered rows, whichever
        comes first; ``flush_every`` bounds what a crash can lose. Every flush writes
        one file per antenna: the default 30 s makes 190,000 files a day when
        logging the whole array (10 s made three times as many, each costing the
        same fixed CPU and bytes of parquet footer) until :func:`compact` merges them.
    clock:
        anything with ``now() -> UNIX seconds``; default the system clock. See the
        module docstring for simulated (accelerated or stepped) clocks.
    """

    def __init__(
        self,
        what: str | Sequence[str],
        antennas: str | Iterable[str] | None = None,
        *,
        interval: float = 1.0,
        path: str | os.PathLike[str] = "e2ckit-log",
        array: Any = None,
        timeout: float | None = None,
        deadline: float | None = None,
        flush_every: float = 30.0,
        flush_rows: int = 100_000,
        clock: Any = None,
        concurrency: int = engine.DEFAULT_CONCURRENCY,
        catalog: Catalog | None = None,
    ) -> None:
        from e2ckit.api import _catalog, _split_what, resolve_array

        interval = positive_seconds("interval", interval)
        flush_every = positive_seconds("flush_every", flush_every)
        flush_rows = whole_number("flush_rows", flush_rows, "rows")
        concurrency = whole_number("concurrency", concurrency, "antennas")
        if clock is not None and not callable(getattr(clock, "now", None)):
            raise ValidationError("clock must have a now() method returning UNIX seconds")
        # Everything that can be wrong with the names fails here, before any cycle.
        self._catalog = _catalog(catalog)
        self._static, self._dynamic = _split_what(self._catalog, what)
        self.what = [what] if isinstance(what, str) else list(what)
        self.interval = interval
        self.path = Path(path)
        self.flush_every = flush_every
        self.flush_rows = flush_rows
        self.clock = clock
        self.concurrency = concurrency
        self._array = resolve_array(array)
        self.antennas = self._array.select(antennas)
        for a in self.antennas:
            for p in self._static:
                p.channel_for(a)
        rate = self._rate()
        real_interval = self.interval / rate if rate else None
        if timeout is None:
            timeout = 1.0 if real_interval is None else min(1.0, max(real_interval * 0.5, 0.02))
        timeout = positive_seconds("timeout", timeout)
        if deadline is None:
            deadline = timeout * 2 + 0.5
            if real_interval is not None:
                deadline = min(deadline, max(real_interval * 0.8, 0.05))
        deadline = positive_seconds("deadline", deadline)
        self.timeout = timeout
        self.deadline = deadline
        self._plan, self._slots = self._static_plan()

        self._session = secrets.token_hex(4)
        self._seq = 0
        self._lock = threading.Lock()  # guards the buffers and the counters
        self._flush_lock = threading.Lock()  # one flush at a time
        self._buffers: dict[tuple[str, str], _Buffer] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # connections kept from cycle to cycle (closed when logging stops): a cycle a
        # second would otherwise open and close one per antenna every second
        self._pool = engine.ConnectionPool()
        self._opened = False
        self._t0: float | None = None
        self._k = 0
        self._last_flush = time.monotonic()
        self._failure: BaseException | None = None
        self._failure_reported = False
        # counters (read by `status`)
        self._cycles = self._samples = self._written = self._buffered = self._errors = 0
        self._overruns = self._skipped = self._files = self._bytes = 0
        self._last_cycle: float | None = None
        self._last_cycle_seconds: float | None = None
        self._health: dict[str, AntennaHealth] = {a: AntennaHealth() for a in self.antennas}
        _live_loggers.add(self)

    # -- set-up ------------------------------------------------------------------------------

    def _rate(self) -> float | None:
        """Clock seconds per real second (None for a stepped clock)."""
        if self.clock is None:
            return 1.0
        rate = getattr(self.clock, "rate", 1.0)
        return None if rate is None else float(rate) or None

    @property
    def _stepped(self) -> bool:
        return self.clock is not None and getattr(self.clock, "rate", 1.0) is None and hasattr(self.clock, "advance")

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    def _static_plan(self) -> tuple[dict, dict[str, tuple[list[Point | None], list[int] | None]]]:
        """Requests per antenna (each address once) and its points with, per point, its
        request's index (``None`` when that is just the point's own position)."""
        from e2ckit.protocol import monitor_request

        plan: dict[str, tuple[Any, list[Any]]] = {}
        slots: dict[str, tuple[list[Point | None], list[int] | None]] = {}
        for a in self.antennas:
            index: dict[tuple[int, int, int], int] = {}
            where = [index.setdefault((p.channel_for(a), p.node, p.rca), len(index)) for p in self._static]
            slots[a] = (list(self._static), None if where == list(range(len(where))) else where)
            plan[a] = (self._array[a], [monitor_request(*key) for key in index])
        return plan, slots

    def _open(self) -> None:
        """Create the dataset directory and prove it is writable, before the first cycle."""
        if self._opened:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".e2ckit-probe-{self._session}.tmp"
            with open(probe, "xb") as f:
                f.write(b"e2ckit")
            os.unlink(probe)
        except OSError as exc:
            raise _write_error(self.path, exc) from None
        self._opened = True

    # -- context manager, foreground, background ---------------------------------------------

    def __enter__(self) -> Logger:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"Logger({','.join(self.what)} x {len(self.antennas)} antennas every {self.interval:g}s "
            f"-> {self.path}, {state}, {self._cycles} cycles)"
        )

    @property
    def running(self) -> bool:
        """True while a background thread is logging."""
        return self._thread is not None and self._thread.is_alive()

    def run(self, duration: float | None = None, cycles: int | None = None) -> LoggerStatus:
        """Log in the foreground until ``duration`` clock seconds or ``cycles`` cycles
        have passed, :meth:`stop` is called from another thread, or Ctrl-C; then flush.

        With neither limit it runs until stopped. Ctrl-C (KeyboardInterrupt) is the
        normal way to end an open-ended run: the buffered rows are flushed and the
        status returned. With a stepped clock the logger advances the clock itself.
        """
        if self.running:
            raise RuntimeError("this logger is already running in the background; call stop() first")
        _check_limits(duration, cycles)
        self._open()
        self._stop.clear()
        end = None if duration is None else self._start_grid() + duration
        try:
            self._loop(drive=self._stepped, end=end, cycles=cycles)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop.set()
            self._pool.close()
            self.flush()
        return self.status

    def step(self) -> int:
        """Run the next cycle of the grid (advancing a stepped clock to its due time) and
        return how many rows it logged. Flushes when a flush is due."""
        if self.running:
            raise RuntimeError("this logger is running in the background; step() is for driving it by hand")
        self._open()
        self._start_grid()
        self._stop.clear()
        if not self._wait_until(self._t0 + self._k * self.interval, drive=True):  # type: ignore[operator]
            return 0
        rows = self._cycle()
        self._schedule_next()
        self._maybe_flush()
        return rows

    def start(self, duration: float | None = None, cycles: int | None = None) -> Logger:
        """Log in a background thread (e.g. from a notebook) until :meth:`stop`, or until
        ``duration`` clock seconds or ``cycles`` cycles have passed (then it flushes and
        ends by itself; ``running`` turns False)."""
        if self.running:
            return self
        _check_limits(duration, cycles)
        self._open()
        self._stop.clear()
        self._failure = None
        self._failure_reported = False
        begin = self._start_grid()
        end = None if duration is None else begin + duration
        self._thread = threading.Thread(
            target=self._background, args=(end, cycles), name="e2ckit-logger", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> LoggerStatus:
        """Stop logging (after the cycle in progress), flush, and return the status.

        Raises :class:`LogWriteError` if the background thread failed to write.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if not self.running:
            self._pool.close()
        if self._opened:
            self.flush()
        if self._failure is not None and not self._failure_reported:
            self._failure_reported = True
            raise self._failure
        return self.status

    def _background(self, end: float | None, cycles: int | None) -> None:
        try:
            self._loop(drive=False, end=end, cycles=cycles)
        except BaseException as exc:  # reported by stop() and status
            self._failure = exc
        finally:
            self._pool.close()
            try:
                self.flush()
            except BaseException as exc:
                self._failure = self._failure or exc

    # -- the grid ------------------------------------------------------------------------------

    def _start_grid(self) -> float:
        """Anchor the grid at the first call; return when a run starting now begins."""
        if self._t0 is None:
            self._t0 = self._now()
            self._k = 0
            return self._t0
        return self._now()

    def _wait_until(self, due: float, drive: bool) -> bool:
        """Wait until the clock reaches ``due``; False if stopped first."""
        while True:
            if self._stop.is_set():
                return False
            now = self._now()
            if now >= due:
                return True
            if self._stepped:
                if drive:
                    self.clock.advance(due - now)
                    continue
                self._stop.wait(0.002)  # someone else moves this clock
            else:
                rate = self._rate() or 1.0
                self._stop.wait(min((due - now) / rate, 0.25))

    def _loop(self, drive: bool, end: float | None = None, cycles: int | None = None) -> None:
        self._start_grid()
        done = 0
        while not self._stop.is_set():
            if cycles is not None and done >= cycles:
                break
            due = self._t0 + self._k * self.interval  # type: ignore[operator]
            if end is not None and due >= end:
                self._wait_until(end, drive)
                break
            if not self._wait_until(due, drive):
                break
            self._cycle()
            done += 1
            self._schedule_next()
            self._maybe_flush()

    def _schedule_next(self) -> None:
        """Cycle k+1 is due at t0 + (k+1)·interval; if that has passed, count an overrun
        and skip to the next slot still ahead instead of running late cycles back to back."""
        assert self._t0 is not None
        nxt = self._k + 1
        now = self._now()
        if now > self._t0 + nxt * self.interval:
            ahead = int((now - self._t0) // self.interval) + 1
            with self._lock:
                self._overruns += 1
                self._skipped += ahead - nxt
            nxt = ahead
        self._k = nxt

    # -- one cycle -----------------------------------------------------------------------------

    def _sweep(self) -> dict[str, _Swept]:
        """One sweep through the engine: per antenna, its points with, aligned, each one's
        reply bytes and latency, and the failures by position (the point ``None`` stands
        for a failed node listing)."""
        if not self._dynamic:
            swept = engine.fanout_columns(
                self._plan, timeout=self.timeout, deadline=self.deadline, concurrency=self.concurrency,
                pool=self._pool,
            )  # fmt: skip
            out: dict[str, _Swept] = {}
            for a in self.antennas:
                pts, index = self._slots[a]
                ex = swept[a]
                failed = {k: f"{code}: {text}" for k, (code, text) in ex.failed.items()}
                if index is None:  # usually one request per point, in order: the columns as they are
                    out[a] = (pts, ex.raw, ex.latency, failed)
                else:
                    raw, lat = ex.raw, ex.latency
                    out[a] = (pts, [raw[i] for i in index], [lat[i] for i in index],
                              {k: failed[i] for k, i in enumerate(index) if i in failed})  # fmt: skip
            return out
        from e2ckit.api import _sweep_async

        per_antenna, results, discovered = engine.run(
            lambda: _sweep_async(
                self._catalog, self._array, self.antennas, self._static, self._dynamic,
                self.timeout, self.deadline, self.concurrency, None,
            )
        )  # fmt: skip
        out = {}
        for a, pts in per_antenna.items():
            by_addr = {(r.request.channel, r.request.node, r.request.rca): r for r in results[a]}
            res = [by_addr[(p.channel_for(a), p.node, p.rca)] for p in pts]
            ps: list[Point | None] = list(pts)
            if not pts:  # a dynamic group on an antenna that did not list its nodes
                bad = next((r for r in discovered.get(a, []) if not r.ok), None)
                if bad is not None:
                    ps, res = [None], [bad]
            out[a] = (
                ps,
                [r.reply.encode() if r.reply is not None else None for r in res],
                [r.latency for r in res],
                {k: f"{r.error}: {r.detail}" for k, r in enumerate(res) if r.reply is None},
            )
        return out

    def _cycle(self) -> int:
        """Sweep once and buffer one row per sample, stamped with the cycle's start."""
        stamp = self._now()
        t_real = time.perf_counter()
        swept = self._sweep()
        t_us = round(stamp * 1e6)
        day = datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d")
        rows = errors = 0
        new: dict[str, _Buffer] = {}
        health: dict[str, tuple[int, int, str | None]] = {}
        for a, (pts, raws, lats, failed) in swept.items():
            b = new[a] = _Buffer()
            n = len(pts)
            # whole columns where a sample adds nothing new; the loop below is the part
            # that looks at each reply (it runs thousands of times a second)
            b.time = [t_us] * n
            b.point = [p.name if p is not None else "(node listing)" for p in pts]
            b.unit = [p.unit if p is not None else "" for p in pts]
            b.latency = list(lats)  # a copy: the buffer grows in place
            add_value, add_status = b.value.append, b.status.append
            odd: list[tuple[int, str | None, bytes | None]] = []  # rows with no value
            n_err = 0
            last_error = None
            samplers = [p.reply_sampler if p is not None else None for p in pts]
            for k, (sample, raw) in enumerate(zip(samplers, raws, strict=True)):
                # reply: [error u32][dlen u8][data]; data means no E2C error (the engine
                # checked), so the usual reply is told by its dlen byte alone
                if raw is not None and sample is not None and (raw[4] or not reply_error(raw)):
                    value, status = sample(raw)
                    add_value(value)
                    add_status(status)
                    if value is None:
                        # raw bytes only where no value could be decoded: they are what a
                        # diagnosis needs, and on every row they would triple the file size
                        odd.append((k, None, reply_data(raw)))
                    continue
                if raw is None:
                    last_error, data = failed[k], None
                else:  # an E2C error reply
                    info = error_info(reply_error(raw))
                    last_error, data = f"{info.tag}: {info.text}", reply_data(raw)
                add_value(None)
                add_status("error")
                odd.append((k, last_error, data))
                n_err += 1
            b.error = [None] * n
            b.raw = [None] * n
            for k, err, data in odd:
                b.error[k] = err
                b.raw[k] = data
            rows += n
            errors += n_err
            health[a] = (n, n_err, last_error)
        with self._lock:
            for a, b in new.items():
                if not len(b):
                    continue
                key = (day, a)
                if key in self._buffers:
                    self._buffers[key].extend(b)
                else:
                    self._buffers[key] = b
            for a, (n, n_err, last_error) in health.items():
                old = self._health.get(a, AntennaHealth())
                if n_err == 0:
                    state = "ok"
                elif n_err >= n:
                    state = "down"
                else:
                    state = "partial"
                self._health[a] = AntennaHealth(
                    state=state,
                    last_ok=stamp if state != "down" else old.last_ok,
                    last_error=last_error or old.last_error,
                    failures=old.failures + 1 if state == "down" else 0,
                    error_rows=old.error_rows + n_err,
                )
            self._cycles += 1
            self._samples += rows
            self._buffered += rows
            self._errors += errors
            self._last_cycle = stamp
            self._last_cycle_seconds = time.perf_counter() - t_real
        return rows

    # -- flushing ------------------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if self._buffered >= self.flush_rows or time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> int:
        """Write every buffered row now, one new part file per (date, antenna); returns
        the rows written. On a write error the rows stay buffered (a later flush retries)
        and :class:`LogWriteError` names the path."""
        with self._flush_lock:
            with self._lock:
                pending, self._buffers = self._buffers, {}
            written = 0
            try:
                while pending:
                    (day, antenna), buf = next(iter(pending.items()))
                    self._write_part(day, antenna, buf)
                    del pending[(day, antenna)]
                    written += len(buf)
                    with self._lock:
                        self._written += len(buf)
                        self._buffered -= len(buf)
            finally:
                if pending:  # keep what could not be written, ahead of newer rows
                    with self._lock:
                        for key, buf in self._buffers.items():
                            if key in pending:
                                pending[key].extend(buf)
                            else:
                                pending[key] = buf
                        self._buffers = pending
                self._last_flush = time.monotonic()
            return written

    def _write_part(self, day: str, antenna: str, buf: _Buffer) -> None:
        directory = self.path / f"date={day}" / f"antenna={antenna}"
        first = datetime.fromtimestamp(buf.time[0] / 1e6, tz=timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self._seq += 1
        # first sample's time (names sort in time order), session id (a restart never
        # reuses a name), sequence number (unique within the session)
        name = f"part-{first}-{self._session}-{self._seq:06d}.parquet"
        try:
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True)
                _fsync_dir(directory.parent)
                _fsync_dir(self.path)
            size = _write_atomic(buf.table(), directory, name)
        except OSError as exc:
            err = _write_error(directory / name, exc)
            with self._lock:
                self._failure = self._failure or err
            raise err from exc
        with self._lock:
            self._files += 1
            self._bytes += size

    # -- status --------------------------------------------------------------------------------

    @property
    def status(self) -> LoggerStatus:
        """A consistent snapshot of the counters and each antenna's health."""
        with self._lock:
            return LoggerStatus(
                running=self.running,
                path=str(self.path),
                cycles=self._cycles,
                samples=self._samples,
                samples_written=self._written,
                samples_buffered=self._buffered,
                errors=self._errors,
                overruns=self._overruns,
                skipped=self._skipped,
                files=self._files,
                bytes_written=self._bytes,
                last_cycle=self._last_cycle,
                last_cycle_seconds=self._last_cycle_seconds,
                failure=None if self._failure is None else str(self._failure),
                antennas=dict(self._health),
            )

    def _at_exit(self) -> None:
        # A notebook kernel or script ending with a background logger still running:
        # flush what is buffered rather than lose it with the daemon thread.
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.deadline + 1)
        self._pool.close()
        with contextlib.suppress(Exception):
            if self._opened:
                self.flush()


_live_loggers: weakref.WeakSet[Logger] = weakref.WeakSet()


def _check_limits(duration: object, cycles: object) -> None:
    """``run``/``start`` limits: a non-negative number of seconds, a count of cycles."""
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration < math.inf
    ):
        raise ValidationError(f"duration must be a non-negative number of seconds, got {duration!r}")
    if cycles is not None and (isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 0):
        raise ValidationError(f"cycles must be a whole number, 0 or more; got {cycles!r}")


@atexit.register
def _flush_all_at_exit() -> None:
    for log in list(_live_loggers):
        log._at_exit()


# -- reading --------------------------------------------------------------------------------


def _utc(t: Any, name: str) -> datetime | None:
    if t is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(t)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name}={t!r} is not a time: {exc}") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _antenna_filter(antennas: str | Iterable[str] | None) -> Any:
    """A predicate on antenna names: exact names or two-letter families (``"DV"``)."""
    if antennas is None:
        return lambda a: True
    items = antennas.split(",") if isinstance(antennas, str) else list(antennas)
    wanted = {str(i).strip().upper() for i in items if str(i).strip()}
    if "ALL" in wanted:
        return lambda a: True
    return lambda a: a.upper() in wanted or a.upper()[:2] in wanted


def _point_names(points: str | Iterable[str] | None) -> list[str] | None:
    """Point names; a catalog group name expands to its points."""
    if points is None:
        return None
    items = name_list(points, "points", "point or group names, or a list of them")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(f"points must be names (str), got {item!r}")
        if "." not in item:
            with contextlib.suppress(Exception):
                from e2ckit.catalog import default_catalog

                cat = default_catalog()
                if not cat.is_dynamic(item):
                    names += [p.name for p in cat.resolve(item)]
                    continue
        names.append(item)
    return names


def _replaced(files: list[Path]) -> set[Path]:
    """Inputs of a compaction that are still on disk (the compacted file replaces them)."""
    gone: set[Path] = set()
    for f in files:
        if "-compact-" not in f.name:
            continue
        with contextlib.suppress(Exception):
            meta = pq.read_schema(f).metadata or {}
            for n in json.loads(meta.get(b"e2ckit.replaces", b"[]")):
                gone.add(f.parent / n)
    return gone


def _partitions(root: Path, days: tuple[date | None, date | None] = (None, None), keep_antenna: Any = None):
    """(date, antenna, directory) of every partition under ``root``, pruned by path."""
    lo, hi = days
    for ddir in sorted(root.iterdir()) if root.is_dir() else []:
        m = _DATE_RE.match(ddir.name)
        if not m or not ddir.is_dir():
            continue
        day = date.fromisoformat(m.group(1))
        if (lo is not None and day < lo) or (hi is not None and day > hi):
            continue
        for adir in sorted(ddir.iterdir()):
            ma = _ANT_RE.match(adir.name)
            if ma and adir.is_dir() and (keep_antenna is None or keep_antenna(ma.group(1))):
                yield m.group(1), ma.group(1), adir


def _part_files(directory: Path) -> list[Path]:
    files = sorted(f for f in directory.iterdir() if _PART_RE.match(f.name))
    gone = _replaced(files)
    return [f for f in files if f not in gone]


def _read_files(files: list[Path], root: Path, flt: Any) -> pa.Table:
    """Read part files with ``flt`` pushed down; a file that cannot be read is skipped
    with a warning naming it (the fast path reads all at once, the slow one file by file)."""
    # here, not at the top: pyarrow.dataset imports pandas, and only reading needs it,
    # so `e2ckit log` starts its first cycle without waiting for either
    import pyarrow.dataset as ds

    fmt = ds.ParquetFileFormat()
    part = ds.partitioning(_PARTITIONS, flavor="hive")
    schema = pa.unify_schemas([FILE_SCHEMA, _PARTITIONS])

    def dataset(paths: list[Path]) -> ds.Dataset:
        return ds.dataset([str(p) for p in paths], schema=schema, format=fmt, partitioning=part, partition_base_dir=str(root))

    try:
        return dataset(files).to_table(filter=flt)
    except (pa.ArrowException, OSError):
        pass
    tables = []
    for f in files:
        try:
            tables.append(dataset([f]).to_table(filter=flt))
        except (pa.ArrowException, OSError) as exc:
            warnings.warn(f"e2ckit: skipping unreadable file {f}: {exc}", UnreadableFileWarning, stacklevel=3)
    return pa.concat_tables(tables) if tables else schema.empty_table()


def load(
    path: str | os.PathLike[str],
    points: str | Iterable[str] | None = None,
    antennas: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    wide: bool = False,
) -> pd.DataFrame:
    """Read a logged dataset as a tidy DataFrame (or a wide one with ``wide=True``).

    Columns: ``time`` (UTC), ``antenna``, ``point``, ``value`` (float64, NaN when there
    was no good reading), ``unit``, ``status``, ``error``, ``latency_ms`` (float64, NaN
    when nothing came back), ``raw`` (reply bytes where no value could be decoded, else
    None); sorted by time, antenna, point.

    ``points`` (names or catalog groups), ``antennas`` (names or families) and
    ``start`` (inclusive) / ``end`` (exclusive) (anything pandas reads as a time;
    naive means UTC) are pushed down: whole partitions are skipped by their directory
    names, the rest by parquet statistics. A file that cannot be read is skipped with
    an :class:`UnreadableFileWarning` naming it.

    ``wide=True``: index ``time``, columns a MultiIndex (``antenna``, ``point``), values
    ``value``; ``df.attrs["units"]`` maps point → unit. ``wide["DV01", "FEMC.TEMP0"]``
    is one series; ``wide.xs("FEMC.TEMP0", axis=1, level="point")`` one point, all antennas.
    """
    import pandas as pd

    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"no log at {root}: not a directory")
    t_lo, t_hi = _utc(start, "start"), _utc(end, "end")
    days = (t_lo.date() if t_lo else None, t_hi.date() if t_hi else None)
    files = [f for _, _, d in _partitions(root, days, _antenna_filter(antennas)) for f in _part_files(d)]
    names = _point_names(points)
    flt = None
    conds = []
    if names is not None:
        conds.append(pc.field("point").isin(names))
    if t_lo is not None:
        conds.append(pc.field("time") >= pa.scalar(t_lo, pa.timestamp("us", tz="UTC")))
    if t_hi is not None:
        conds.append(pc.field("time") < pa.scalar(t_hi, pa.timestamp("us", tz="UTC")))
    for c in conds:
        flt = c if flt is None else flt & c
    table = _read_files(files, root, flt) if files else pa.unify_schemas([FILE_SCHEMA, _PARTITIONS]).empty_table()
    table = table.sort_by([("time", "ascending"), ("antenna", "ascending"), ("point", "ascending")])
    latency = pc.divide(table["latency_100us"].cast(pa.float64()), 10.0)
    out = pa.table(
        {
            "time": table["time"],
            "antenna": table["antenna"],
            "point": table["point"],
            "value": table["value"],
            "unit": table["unit"],
            "status": table["status"],
            "error": table["error"],
            "latency_ms": latency,
            "raw": table["raw"],
        }
    )
    df = out.to_pandas()
    df["value"] = df["value"].astype("float64")  # nulls to NaN
    df["latency_ms"] = df["latency_ms"].astype("float64")
    df["raw"] = df["raw"].astype(object).where(df["raw"].notna(), None)
    df.attrs["units"] = dict(zip(df["point"], df["unit"], strict=False)) if len(df) else {}
    if not wide:
        return df
    series = df.set_index(["time", "antenna", "point"])["value"]
    series = series[~series.index.duplicated(keep="last")]
    out_wide = series.unstack(["antenna", "point"]).sort_index(axis=1)
    if out_wide.columns.nlevels != 2:  # empty
        out_wide = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"), columns=pd.MultiIndex.from_tuples([], names=["antenna", "point"]), dtype="float64")
    out_wide.attrs["units"] = df.attrs["units"]
    return out_wide


# -- compaction ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompactResult:
    """What :func:`compact` did to one partition."""

    date: str
    antenna: str
    files_before: int
    rows: int
    bytes_before: int
    bytes_after: int
    file: str | None  #: the compacted file (None: nothing to do)


def compact(path: str | os.PathLike[str], before: Any = None) -> list[CompactResult]:
    """Merge the part files of each closed partition into one, atomically.

    A partition is closed when its date is before ``before`` (a date or anything
    pandas reads as one; default today, UTC), so a running logger's current day is
    left alone. Per partition: the parts are read, sorted by time, written to a hidden
    temporary file that is checked to hold exactly as many rows as its inputs, renamed
    into place, and only then are the inputs deleted. The compacted file names its
    inputs in its metadata (``e2ckit.replaces``): if a crash leaves some of them behind,
    :func:`load` ignores them and the next compaction deletes them, so no row is ever
    lost or counted twice. Unreadable files are left in place with a warning.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"no log at {root}: not a directory")
    if before is None:
        cutoff = datetime.now(timezone.utc).date()
    else:
        b = _utc(before, "before")
        assert b is not None
        cutoff = b.date()
    results = []
    for day, antenna, d in list(_partitions(root, (None, cutoff - timedelta(days=1)))):
        results.append(_compact_partition(root, day, antenna, d))
    return results


def _compact_partition(root: Path, day: str, antenna: str, d: Path) -> CompactResult:
    everything = sorted(f for f in d.iterdir() if _PART_RE.match(f.name))
    leftovers = _replaced(everything)
    for f in leftovers:  # roll forward a compaction that crashed before deleting its inputs
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    files = [f for f in everything if f not in leftovers]
    if len(files) <= 1:
        size = files[0].stat().st_size if files else 0
        return CompactResult(day, antenna, len(files), -1, size, size, None)
    tables, inputs = [], []
    for f in files:
        try:
            t = pq.read_table(f, schema=FILE_SCHEMA)
        except (pa.ArrowException, OSError) as exc:
            warnings.warn(f"e2ckit: not compacting unreadable file {f}: {exc}", UnreadableFileWarning, stacklevel=3)
            continue
        tables.append(t.select(FILE_SCHEMA.names))
        inputs.append(f)
    bytes_before = sum(f.stat().st_size for f in inputs)
    if len(inputs) <= 1:
        return CompactResult(day, antenna, len(inputs), -1, bytes_before, bytes_before, None)
    merged = pa.concat_tables(tables).sort_by([("time", "ascending"), ("point", "ascending")])
    rows = merged.num_rows
    first = merged["time"][0].as_py().strftime("%Y%m%dT%H%M%S%fZ")
    name = f"part-{first}-compact-{secrets.token_hex(4)}.parquet"
    meta = dict(FILE_SCHEMA.metadata)
    meta[b"e2ckit.replaces"] = json.dumps([f.name for f in inputs]).encode()
    merged = merged.replace_schema_metadata(meta)
    try:
        size = _write_atomic(merged, d, name, compression_level=_COMPACT_LEVEL, row_group_size=1 << 20)
    except OSError as exc:
        raise _write_error(d / name, exc) from exc
    check = pq.read_metadata(d / name).num_rows
    if check != rows:  # never delete inputs unless every row is in the new file
        (d / name).unlink()
        raise E2CKitError(f"compaction of {d} wrote {check} rows instead of {rows}; inputs kept")
    for f in inputs:
        f.unlink()
    _fsync_dir(d)
    return CompactResult(day, antenna, len(inputs), rows, bytes_before, size, str(d / name))
