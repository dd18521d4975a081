"""The :class:`Logger`: a sweep every cycle on a fixed time grid, its rows to the store.

Cycle *k* is due at ``t0 + k·interval`` on the logger's clock; a cycle that ends after
the next one was due counts an overrun and skips to the next slot still ahead (never a
pile-up of late cycles). A cycle's samples are stamped with its slot, the grid time,
when it started within :data:`ON_TIME` of an interval after it (the timer's wake-up
delay, ~0.2 ms); a cycle that started later than that carries its actual start. On the
grid, a compacted day's time column costs almost nothing (constant deltas: 0.006
instead of 1.6 bytes a sample), and every antenna's samples of a cycle share one time.
Each cycle's rows go to the write-ahead segment at once and to parquet parts at each
flush (:mod:`.store`); the dataset's lock (:mod:`.lock`) is held from the first cycle
until :meth:`Logger.stop` (or the end of :meth:`Logger.run`).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import secrets
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.arguments import positive_seconds, whole_number
from e2ckit.clock import SimClock, clock_file
from e2ckit.errors import LogWriteError, ValidationError
from e2ckit.logformat.schema import EVENTS_FILE, STATE_DIR
from e2ckit.logger import sweeps
from e2ckit.logger.fsio import write_error
from e2ckit.logger.lock import DatasetLock
from e2ckit.logger.recovery import recover
from e2ckit.logger.rows import CycleRows
from e2ckit.logger.status import AntennaHealth, LoggerStatus, say
from e2ckit.logger.store import FSYNC_MODES, Store
from e2ckit.names import default_deadline

if TYPE_CHECKING:
    from e2ckit.catalog import Catalog
    from e2ckit.logger.sweeps import AntennaReplies


#: a cycle that starts within this fraction of the interval after its slot is stamped
#: with the slot; a later one with its actual start (``status.late_starts`` counts them)
ON_TIME = 0.1


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
        the dataset directory (created if needed). One writer at a time: a second
        Logger or a compaction on it gets :class:`LogLockedError` naming the first.
    array:
        an Array, a host-map CSV, a SimulatedArray, or None for ``$E2CKIT_ARRAY``.
    timeout, deadline:
        seconds per request and per cycle (real time); by default at most 1 s per
        request and a deadline within the interval, so a silent antenna cannot make
        cycles overrun.
    flush_every, flush_rows:
        write the buffered cycles as parquet parts after this many real seconds, or
        this many buffered rows, whichever comes first. Every flush writes one file per
        antenna: the default 30 s makes 190,000 files a day when logging the whole array
        until :func:`compact` merges them. Between flushes every cycle is appended to
        the write-ahead segment, so a crash loses far less than a flush (``fsync``).
    fsync:
        ``"cycle"`` (default): the segment is fsynced after every cycle; a SIGKILL or a
        power cut loses at most the cycle in progress (one fsync a cycle, a few ms of
        I/O wait on a disk, little CPU). ``"flush"``: only the parquet parts are
        fsynced; a SIGKILL still loses at most the cycle in progress (the segment is in
        the OS's cache), a power cut can lose what the OS had not yet written of the
        segment: up to the cycles since the last flush.
    max_backlog:
        rows held in memory while writes fail (disk full, ...). The logger keeps
        sampling, says so on stderr and in ``status.write_error``, retries every
        ``flush_every`` and writes the backlog when it can; it stops only when the
        backlog reaches this bound (default 5,000,000: 28 minutes of 66 antennas × 45
        points at 1 Hz, about 300 MB), and :meth:`stop` then says how many rows are dropped.
    clock:
        anything with ``now() -> UNIX seconds``. Default: a SimulatedArray's own clock
        when ``array`` is one (samples carry simulated time), the clock file next to a
        simulator's host map (``sim.clock.json``, written by ``e2ckit simulate
        --write-array sim.csv``) when there is one, else the system clock; ``"wall"``:
        the system clock whatever the array. ``interval`` and ``run(duration=)`` are
        in this clock's seconds; ``timeout`` and ``deadline`` are real seconds (the
        network is real; under an accelerated clock their defaults never drop below
        what a healthy answer needs, so a slow cycle overruns instead of failing). See
        the package docstring for simulated (accelerated or stepped) clocks.
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
        fsync: str = "cycle",
        max_backlog: int = 5_000_000,
        clock: Any = None,
        concurrency: int = sweeps.DEFAULT_CONCURRENCY,
        catalog: Catalog | None = None,
    ) -> None:
        interval = positive_seconds("interval", interval)
        flush_every = positive_seconds("flush_every", flush_every)
        flush_rows = whole_number("flush_rows", flush_rows, "rows")
        max_backlog = whole_number("max_backlog", max_backlog, "rows")
        concurrency = whole_number("concurrency", concurrency, "antennas")
        if fsync not in FSYNC_MODES:
            raise ValidationError(f"fsync must be one of {', '.join(map(repr, FSYNC_MODES))}; got {fsync!r}")
        wall = isinstance(clock, str) and clock == "wall"
        if clock is not None and not wall and not callable(getattr(clock, "now", None)):
            raise ValidationError('clock must have a now() method returning UNIX seconds, or be "wall"')
        # Everything that can be wrong with the names fails here, before any cycle.
        self._catalog = sweeps.catalog_of(catalog)
        self._static, self._dynamic = sweeps.split_what(self._catalog, what)
        self.what = [what] if isinstance(what, str) else list(what)
        self.interval = interval
        self.path = Path(path)
        self.flush_every = flush_every
        self.flush_rows = flush_rows
        self.fsync = fsync
        self.max_backlog = max_backlog
        self._array = sweeps.resolve_array(array)
        if clock is None:
            clock = _simulated_clock(array, self._array)
        self.clock = None if wall else clock
        self.concurrency = concurrency
        self.antennas = self._array.select(antennas)
        for a in self.antennas:
            for p in self._static:
                p.channel_for(self._array[a].family or a)
        self.timeout, self.deadline = self._budgets(timeout, deadline)
        self._plan, self._slots = sweeps.static_plan(self._array, self.antennas, self._static)

        self._init_state(fsync)
        _live_loggers.add(self)

    def _budgets(self, timeout: float | None, deadline: float | None) -> tuple[float, float]:
        """(timeout, deadline) in real seconds, the defaults derived from the interval.

        ``interval`` and ``duration`` are clock (simulated) seconds; timeout and deadline
        real seconds, because the network is real. An accelerated clock shrinks the real
        interval, but not below what a healthy answer needs: a cycle that takes longer
        than its real interval overruns (counted, its slots skipped) rather than stamping
        healthy antennas with deadline errors."""
        rate = self._rate()
        real_interval = self.interval / rate if rate else None
        accelerated = rate is not None and rate != 1.0
        if timeout is None:
            timeout = 1.0 if real_interval is None else min(1.0, max(real_interval * 0.5, 0.02))
            if accelerated:
                timeout = max(timeout, MIN_SIM_TIMEOUT)
        timeout = positive_seconds("timeout", timeout)
        if deadline is None:
            deadline = default_deadline(timeout)
            if real_interval is not None:
                deadline = min(deadline, max(real_interval * 0.8, 0.05))
            if accelerated:
                deadline = max(deadline, 2 * timeout)
        return timeout, positive_seconds("deadline", deadline)

    def _init_state(self, fsync: str) -> None:
        """The store, the lock, the threads' primitives and the counters ``status`` reads."""
        self._session = secrets.token_hex(4)
        self._store = Store(self.path, self._session, fsync)
        self._dslock = DatasetLock(self.path, f"Logger({','.join(self.what)}) in {Path(sys.argv[0]).name or 'python'}")
        self._rows = CycleRows()
        self._lock = threading.Lock()  # guards the counters and the health
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # connections kept from cycle to cycle (closed when logging stops): a cycle a
        # second would otherwise open and close one per antenna every second
        self._pool = sweeps.ConnectionPool()
        self._opened = False
        self._t0: float | None = None
        self._k = 0
        self._last_flush = time.monotonic()
        self._failure: BaseException | None = None
        self._failure_reported = False
        self._reported_error: str | None = None  # the write failure last said on stderr
        # counters (read by `status`)
        self._cycles = self._samples = self._errors = self._dropped = 0
        self._overruns = self._skipped = self._cut_short = self._late_starts = 0
        self._last_cycle: float | None = None
        self._last_cycle_seconds: float | None = None
        self._health: dict[str, AntennaHealth] = {a: AntennaHealth() for a in self.antennas}
        # the wall clock against the monotonic one (system clock only): the schedule runs
        # on the monotonic clock, stamps on the wall clock, a jump between them is a step
        self._mono0: float | None = None
        self._offset: float | None = None
        self._steps: list[dict[str, Any]] = []
        self._shift = 0.0  # seconds the wall clock stepped since the anchor: stamps add it

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

    def _open(self) -> None:
        """Before the first cycle: create the directory, prove it writable, take the
        dataset's lock, and settle what a crashed writer left (replaying its segments)."""
        if self._opened:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".e2ckit-probe-{self._session}.tmp"
            with open(probe, "xb") as f:
                f.write(b"e2ckit")
            os.unlink(probe)
            self._dslock.acquire()
        except OSError as exc:
            raise write_error(self.path, exc) from None
        try:
            recover(self.path)
        except OSError as exc:
            self._dslock.release()
            raise write_error(self.path, exc) from None
        except BaseException:
            self._dslock.release()
            raise
        self._opened = True

    def _close(self) -> None:
        """After the final flush: give up the backlog that could not be written (it is
        in the segments for the next replay), close the segment, release the lock."""
        if not self._opened:
            return
        dropped = self._store.drop() if self._store.buffered else 0
        with self._lock:
            self._dropped += dropped
        self._store.close()
        self._dslock.release()
        self._opened = False

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
        have passed, :meth:`stop` is called from another thread, or Ctrl-C; then flush
        and release the dataset.

        With neither limit it runs until stopped. Ctrl-C (KeyboardInterrupt) is the
        normal way to end an open-ended run: the buffered rows are flushed and the
        status returned. With a stepped clock the logger advances the clock itself.
        Raises :class:`LogWriteError` if rows could not be written (they are kept for
        a later :meth:`flush`) or logging stopped at ``max_backlog``.
        """
        if self.running:
            raise RuntimeError("this logger is already running in the background; call stop() first")
        _check_limits(duration, cycles)
        self._open()
        self._stop.clear()
        self._failure = None
        end = None if duration is None else self._start_grid() + duration
        try:
            self._loop(drive=self._stepped, end=end, cycles=cycles)
        except KeyboardInterrupt:
            pass
        except LogWriteError as exc:  # stopped at max_backlog: the reason, in status too
            self._failure = exc
        finally:
            self._stop.set()
            self._pool.close()
            self._final_flush()
        if self._failure is not None:
            self._failure_reported = True
            raise self._failure
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

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background logging (:meth:`start`) ends, by its ``duration`` or
        ``cycles`` or :meth:`stop`, or ``timeout`` seconds pass; True if it is not running."""
        thread = self._thread  # stop() may clear it meanwhile
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def stop(self, timeout: float | None = None) -> LoggerStatus:
        """Stop logging (after the cycle in progress), flush, release the dataset, and
        return the status.

        Raises :class:`LogWriteError` if the logger failed to write; if the final flush
        fails too, the rows held in memory are dropped (``status.samples_dropped``) and
        the error says how many.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if not self.running:
            self._pool.close()
            self._final_flush()
            if self._opened:  # the backlog could not be written: the end for it
                n = self._store.buffered
                cause = self._failure or self._store.write_error
                text = getattr(cause, "strerror", None) or str(cause)
                self._close()
                self._failure = LogWriteError(
                    getattr(cause, "errno", 0) or 0,
                    f"{text}; {n} samples not written and dropped (the write-ahead segment keeps what "
                    f"the disk took: the next e2ckit command on {self.path} replays it)",
                )
                self._failure_reported = False
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
            self._final_flush()

    def _final_flush(self) -> None:
        """The last flush of a run, then the dataset is released; what cannot be written
        is kept, with the dataset locked, for a later :meth:`flush` (or :meth:`stop`)."""
        if not self._opened:
            return
        try:
            self.flush()
        except LogWriteError as exc:
            self._failure = self._failure or exc
        if not self._store.buffered:
            self._close()

    # -- the grid ------------------------------------------------------------------------------

    def _start_grid(self) -> float:
        """Anchor the grid at the first call; return when a run starting now begins."""
        if self._t0 is None:
            self._t0 = self._now()
            self._k = 0
            if self.clock is None:
                self._mono0 = time.monotonic()
                self._offset = self._t0 - self._mono0
            return self._t0
        return self._t0 + self._elapsed()  # on the grid's own time line (steps do not move it)

    def _elapsed(self) -> float:
        """Clock seconds since the grid's anchor: on the monotonic clock for the system
        clock (a step of the wall clock neither stalls nor rushes the schedule)."""
        assert self._t0 is not None
        if self.clock is None and self._mono0 is not None:
            return time.monotonic() - self._mono0
        return self._now() - self._t0

    def _check_step(self) -> None:
        """System clock only: a wall clock that moved against the monotonic one by more
        than :data:`STEP_S` since the last cycle stepped (NTP after a power cut, an
        operator). Recorded (status, ``DIR/.e2ckit/events.jsonl``); the stamps' slots move
        with it (they follow the corrected clock), the schedule does not."""
        if self.clock is not None or self._offset is None or self._t0 is None:
            return
        wall, mono = time.time(), time.monotonic()
        step = (wall - mono) - self._offset
        if abs(step) < STEP_S:
            return
        self._offset += step
        self._shift += step
        event = {"kind": "clock_step", "at": wall, "step_s": round(step, 6), "cycle": self._k, "session": self._session}
        with self._lock:
            self._steps.append(event)
        record_event(self.path, event)
        say(f"the wall clock stepped {step:+.3f} s (cycle {self._k}); the schedule keeps its pace, "
            "stamps follow the corrected clock")

    def _wait_until(self, due: float, drive: bool) -> bool:
        """Wait until the clock reaches ``due``; False if stopped first."""
        while True:
            if self._stop.is_set():
                return False
            if self.clock is None and self._mono0 is not None:  # the system clock: wait on the monotonic one
                left = self._mono0 + (due - self._t0) - time.monotonic()  # type: ignore[operator]
                if left <= 0:
                    return True
                self._stop.wait(min(left, 0.25))
                continue
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
            if self._store.buffered >= self.max_backlog:
                self._at_the_bound()

    def _at_the_bound(self) -> None:
        """The backlog is full: write it now, or stop logging (the rows are kept for
        :meth:`flush`, or dropped and counted by :meth:`stop`)."""
        with contextlib.suppress(LogWriteError):
            self.flush()
        err = self._store.write_error
        if err is not None:
            raise LogWriteError(
                err.errno or 0,
                f"{err.strerror or err}; logging stopped: {self._store.buffered} samples held in memory "
                f"reached max_backlog={self.max_backlog}",
            )

    def _schedule_next(self) -> None:
        """Cycle k+1 is due at t0 + (k+1)·interval; if that has passed, count an overrun
        and skip to the next slot still ahead instead of running late cycles back to back."""
        assert self._t0 is not None
        nxt = self._k + 1
        elapsed = self._elapsed()
        if elapsed > nxt * self.interval:
            ahead = int(elapsed // self.interval) + 1
            with self._lock:
                self._overruns += 1
                self._skipped += ahead - nxt
            nxt = ahead
        self._k = nxt

    # -- one cycle -----------------------------------------------------------------------------

    def _sweep(self) -> dict[str, AntennaReplies]:
        """One sweep: per antenna, its points with, aligned, each one's reply bytes and
        latency, and the failures by position (see :mod:`.sweeps`)."""
        if not self._dynamic:
            return sweeps.sweep_static(
                self._plan, self._slots, timeout=self.timeout, deadline=self.deadline,
                concurrency=self.concurrency, pool=self._pool,
            )  # fmt: skip
        return sweeps.sweep_dynamic(
            self._catalog, self._array, self.antennas, self._static, self._dynamic,
            timeout=self.timeout, deadline=self.deadline, concurrency=self.concurrency,
        )  # fmt: skip

    def _stamp_us(self, now: float) -> int:
        """The time of a cycle starting at ``now`` (µs): its slot on the grid when it
        started within :data:`ON_TIME` of an interval after it, else ``now``.

        The slot is computed in whole µs from the grid's anchor, so consecutive slots
        differ by exactly the interval (no float rounding in the stored times)."""
        now_us = round(now * 1e6)
        if self._t0 is None:
            return now_us
        slot_us = round((self._t0 + self._shift) * 1e6) + round(self._k * self.interval * 1e6)
        if -1 <= now_us - slot_us <= ON_TIME * self.interval * 1e6:
            return slot_us
        with self._lock:
            self._late_starts += 1
        return now_us

    def _cycle(self) -> int:
        """Sweep once; the rows, stamped with the cycle's slot (or its start when late:
        :meth:`_stamp_us`), go to the store."""
        self._check_step()
        now = self._now()
        stamp_us = self._stamp_us(now)
        stamp = stamp_us / 1e6
        t_real = time.perf_counter()
        swept = self._sweep()
        cut = _cut_by_deadline(swept)
        batch, health = self._rows.build(stamp_us, swept)
        self._store.append(batch)
        rows = batch.num_rows
        errors = sum(e for _, e, _ in health.values())
        with self._lock:
            for a, (n, n_err, last_error) in health.items():
                if n:
                    self._health[a] = self._health.get(a, AntennaHealth()).after(stamp, n, n_err, last_error)
            self._cycles += 1
            self._cut_short += cut
            self._samples += rows
            self._errors += errors
            self._last_cycle = stamp
            self._last_cycle_seconds = time.perf_counter() - t_real
        if self._store.wal_error is not None:
            self._say_write_error(self._store.wal_error)
        return rows

    # -- flushing ------------------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        since = time.monotonic() - self._last_flush
        if self._store.write_error is not None:  # failing: retry every flush_every, not every cycle
            if since >= self.flush_every:
                with contextlib.suppress(LogWriteError):
                    self.flush()
            return
        if self._store.buffered >= self.flush_rows or since >= self.flush_every:
            with contextlib.suppress(LogWriteError):  # the rows are kept; reported, retried
                self.flush()

    def flush(self) -> int:
        """Write every buffered row now, one new part file per (date, antenna); returns
        the rows written. On a write error the rows stay buffered (a later flush retries)
        and :class:`LogWriteError` names the path. A logger that ended with rows it could
        not write releases the dataset once a flush writes them."""
        try:
            written = self._store.flush()
        except LogWriteError as exc:
            self._say_write_error(exc)
            raise
        finally:
            self._last_flush = time.monotonic()
        if self._reported_error is not None:
            self._reported_error = None
            say(f"the log at {self.path} is written again: {written} held samples written")
        if self._opened and self._t0 is not None and not self.running and self._stop.is_set() and not self._store.buffered:
            self._close()
        return written

    def _say_write_error(self, exc: LogWriteError) -> None:
        """Say a write failure on stderr once (not every retry); ``status`` has it too."""
        text = exc.strerror or str(exc)  # the sentence, without "[Errno 28]" and the path again
        if self._reported_error is not None:
            return
        self._reported_error = text
        say(
            f"{text}; holding {self._store.buffered} samples in memory "
            f"(logging stops at {self.max_backlog}), retrying every {self.flush_every:g} s",
        )

    # -- status --------------------------------------------------------------------------------

    @property
    def status(self) -> LoggerStatus:
        """A consistent snapshot of the counters and each antenna's health."""
        store = self._store
        with self._lock:
            err = store.write_error or store.wal_error
            return LoggerStatus(
                running=self.running,
                path=str(self.path),
                cycles=self._cycles,
                samples=self._samples,
                samples_written=store.written,
                samples_buffered=store.buffered,
                errors=self._errors,
                overruns=self._overruns,
                skipped=self._skipped,
                cut_short=self._cut_short,
                late_starts=self._late_starts,
                files=store.files,
                bytes_written=store.bytes,
                last_cycle=self._last_cycle,
                last_cycle_seconds=self._last_cycle_seconds,
                failure=None if self._failure is None else str(self._failure),
                antennas=dict(self._health),
                write_error=None if err is None else (err.strerror or str(err)),
                max_backlog=self.max_backlog,
                samples_dropped=self._dropped,
                clock_steps=list(self._steps),
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
                with contextlib.suppress(LogWriteError):
                    self._store.flush()
                n = self._store.buffered
                self._close()
                if n:
                    say(f"{n} samples could not be written to {self.path} and are dropped "
                        "(the write-ahead segment keeps what it could; the next e2ckit command there replays it)")


_live_loggers: weakref.WeakSet[Logger] = weakref.WeakSet()

#: a jump of the wall clock against the monotonic clock of at least this many seconds
#: between two cycles is a step (NTP slews smaller corrections; a step is what it does
#: after a power cut, and what an operator's ``date -s`` does)
STEP_S = 1.0


def record_event(root: Path, event: dict[str, Any]) -> None:
    """Append an event to ``DIR/.e2ckit/events.jsonl`` (beside the parquet files, not a
    row: the row schema does not change); a failure to write it is not a logging failure."""
    import json

    with contextlib.suppress(OSError):
        (root / STATE_DIR).mkdir(parents=True, exist_ok=True)
        with open(root / STATE_DIR / EVENTS_FILE, "a") as f:
            f.write(json.dumps(event) + "\n")
            f.flush()
            os.fsync(f.fileno())


#: real seconds a request gets at least under an accelerated clock (see Logger.__init__)
MIN_SIM_TIMEOUT = 0.25


def _simulated_clock(given: Any, array: Any) -> Any:
    """The clock of a simulated array, so that samples carry simulated time: the
    SimulatedArray's own (same process), or the one its host map's clock file
    describes (``e2ckit simulate --write-array sim.csv`` writes ``sim.clock.json``).
    None for a real array: the system clock."""
    clock = getattr(given, "clock", None)
    if clock is not None and hasattr(given, "models") and callable(getattr(clock, "now", None)):
        return clock
    if getattr(array, "clock", None) is not None:  # a simulated array's map carries its clock
        return array.clock
    source = getattr(array, "source", None)
    if not source or not str(source).endswith(".csv"):
        return None

    path = clock_file(source)
    if not path.is_file():
        return None
    try:
        return SimClock.follow(path)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _cut_by_deadline(swept: dict[str, AntennaReplies]) -> int:
    """1 if any request of this cycle was not sent because the sweep's deadline
    passed (failure texts start with their kind: "deadline: ...")."""
    for _points, _raws, _latencies, failures in swept.values():
        if any(text.startswith("deadline") for text in failures.values()):
            return 1
    return 0


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

