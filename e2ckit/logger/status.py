"""What a running logger reports: each antenna's health and a snapshot of the counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


def say(message: str) -> None:
    """One message of the logger on stderr, stamped with the UTC time it was said
    (``e2ckit: 2026-12-04T22:01:05Z the log at night is written again``): a logger runs
    for days, and its messages are read long after."""
    import sys

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"e2ckit: {now} {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class AntennaHealth:
    """How one antenna answered in the latest cycles."""

    state: str = "unknown"  #: "ok", "partial" (some points failed), "down" (none answered), "unknown"
    last_ok: float | None = None  #: clock time of the last cycle with at least one good reply
    last_error: str | None = None  #: the latest error text, kept after recovery
    failures: int = 0  #: consecutive cycles in which nothing answered
    error_rows: int = 0  #: error rows logged for this antenna

    def after(self, stamp: float, n: int, n_err: int, last_error: str | None) -> AntennaHealth:
        """The health after a cycle at ``stamp`` that logged ``n`` rows, ``n_err`` of them errors."""
        state = "ok" if n_err == 0 else "down" if n_err >= n else "partial"
        return AntennaHealth(
            state=state,
            last_ok=stamp if state != "down" else self.last_ok,
            last_error=last_error or self.last_error,
            failures=self.failures + 1 if state == "down" else 0,
            error_rows=self.error_rows + n_err,
        )


@dataclass(frozen=True)
class LoggerStatus:
    """A snapshot of a :class:`~e2ckit.logger.Logger` (``logger.status``); also readable
    as ``status["cycles"]``."""

    running: bool
    path: str
    cycles: int  #: cycles run
    samples: int  #: rows logged (written + buffered)
    samples_written: int  #: rows safely in parquet files
    samples_buffered: int  #: rows waiting for the next flush (in memory and, but for the last cycle, in the write-ahead segment)
    errors: int  #: rows with an error (no reply or an E2C error code)
    overruns: int  #: cycles that ended after the next one was due
    skipped: int  #: grid slots skipped because of overruns (never piled up)
    files: int  #: part files written
    bytes_written: int
    last_cycle: float | None  #: clock time of the latest cycle
    last_cycle_seconds: float | None  #: real seconds the latest cycle took
    failure: str | None  #: why the logger stopped, if it failed
    antennas: dict[str, AntennaHealth] = field(default_factory=dict)
    write_error: str | None = None  #: the write failure being retried now (None: writes succeed)
    max_backlog: int = 0  #: the bound on samples_buffered; logging stops there while writes fail
    samples_dropped: int = 0  #: rows given up (the backlog at stop when it could not be written)
    cut_short: int = 0  #: cycles in which the deadline passed before every request was sent
    late_starts: int = 0  #: cycles that started over a tenth of an interval after their slot (stamped with their actual start, not the grid time)
    #: steps of the wall clock seen while logging (each: ``at`` UNIX seconds after the
    #: step, ``step_s`` signed seconds, ``cycle``); also in ``DIR/.e2ckit/events.jsonl``
    clock_steps: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (antenna health as dicts too), e.g. for JSON."""
        return asdict(self)

    def _down_partial(self) -> tuple[list[str], list[str]]:
        down = sorted(a for a, h in self.antennas.items() if h.state == "down")
        partial = sorted(a for a, h in self.antennas.items() if h.state == "partial")
        return down, partial

    @staticmethod
    def _names(names: list[str], most: int) -> str:
        return ",".join(names[:most]) + (f",+{len(names) - most}" if len(names) > most else "")

    def line(self, width: int | None = None) -> str:
        """One line for a terminal: cycles, samples, errors, overruns, antennas down and
        partial (named). ``width``: the line is built to fit it, dropping detail (file
        counts, then names) before it would be cut."""
        down, partial = self._down_partial()
        when = None if self.last_cycle is None else datetime.fromtimestamp(self.last_cycle, tz=timezone.utc)

        def build(detail: bool, most: int, stamp: str = "%Y-%m-%d %H:%M:%S", samples: bool = True,
                  counts: bool = True) -> str:  # fmt: skip
            last = f" at {when.strftime(stamp)}" if when is not None and stamp else ""
            parts = [f"{self.cycles} cycles{last}"]
            if samples:
                parts.append(f"{self.samples} samples ({self.samples_written} on disk, {self.files} files)"
                             if detail else f"{self.samples} samples")  # fmt: skip
            if counts:
                parts += [f"{self.errors} errors", f"{self.overruns} overruns"]
            if self.cut_short:
                parts.append(f"{self.cut_short} cut short by the deadline")
            if down:
                parts.append(f"{len(down)} down ({self._names(down, most)})" if most else f"{len(down)} down")
            if partial:
                parts.append(f"{len(partial)} partial ({self._names(partial, most)})" if most else f"{len(partial)} partial")
            if self.write_error:
                parts.append(f"WRITE FAILING, {self.samples_buffered} of {self.max_backlog} samples held: {self.write_error}")
            if self.samples_dropped:
                parts.append(f"{self.samples_dropped} samples dropped")
            if self.failure:
                parts.append(f"FAILED: {self.failure}")
            return " | ".join(parts)

        text = build(True, 4)
        if width is None:
            return text
        # what goes first when the line is too long: file counts, the date, names
        # beyond two, the time, the sample count, the names themselves, error counts
        for args in ((False, 4), (False, 4, "%H:%M:%S"), (False, 2, "%H:%M:%S"), (False, 2, ""),
                     (False, 2, "", False), (False, 1, "", False), (False, 0, "", False),
                     (False, 0, "", False, False)):  # fmt: skip
            if len(text) <= width:
                return text
            text = build(*args)
        return text if len(text) <= width else text[: max(width - 1, 0)] + "…"

    def _steps_line(self) -> str:
        last = self.clock_steps[-1]
        when = datetime.fromtimestamp(last["at"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"  clock     {len(self.clock_steps)} wall-clock step(s); last {last['step_s']:+.3f} s at {when} "
                f"(cycle {last['cycle']}): stamps follow the corrected clock, the schedule did not move")  # fmt: skip

    def summary(self, where: str | None = None) -> str:
        """One sentence for the end of a run (``e2ckit log``'s "stopped: ..." line): the
        status is rendered here only, whether as this, :meth:`line` or ``print``."""
        cut = f", {self.cut_short} cycles cut short by the deadline" if self.cut_short else ""
        return (f"{self.cycles} cycles, {self.samples_written} samples in {self.files} files at {where or self.path}, "
                f"{self.errors} errors, {self.overruns} overruns{cut}")  # fmt: skip

    def __str__(self) -> str:
        """A short multi-line summary (``print(log.status)``): one line per topic, the
        antennas that are not ok by name, never one line per antenna."""
        down, partial = self._down_partial()
        ok = sum(1 for h in self.antennas.values() if h.state == "ok")
        last = "no cycle yet"
        if self.last_cycle is not None:
            stamp = datetime.fromtimestamp(self.last_cycle, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            took = "" if self.last_cycle_seconds is None else f" (took {self.last_cycle_seconds:.2f} s)"
            last = f"last cycle {stamp}{took}"
        lines = [
            f"Logger {'running' if self.running else 'stopped'}: {self.path}",
            f"  cycles    {self.cycles}, {last}",
            f"  samples   {self.samples} ({self.samples_written} on disk in {self.files} files, "
            f"{self.samples_buffered} buffered), {self.errors} errors",
            f"  timing    {self.overruns} overruns ({self.skipped} slots skipped), "
            f"{self.cut_short} cycles cut short by the deadline",
            *([f"  late      {self.late_starts} cycles started late, stamped with their actual start"]
              if self.late_starts else []),  # fmt: skip
            *([self._steps_line()] if self.clock_steps else []),
            f"  antennas  {ok} ok, {len(partial)} partial, {len(down)} down"
            + (f"; down: {self._names(down, 8)}" if down else "")
            + (f"; partial: {self._names(partial, 8)}" if partial else ""),
        ]
        if self.write_error:
            lines.append(f"  WRITE FAILING ({self.samples_buffered} of {self.max_backlog} samples held): {self.write_error}")
        if self.samples_dropped:
            lines.append(f"  {self.samples_dropped} samples dropped")
        if self.failure:
            lines.append(f"  FAILED: {self.failure}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython / Jupyter: the summary of ``__str__``, not the dataclass repr."""
        p.text(str(self))
