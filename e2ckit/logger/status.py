"""What a running logger reports: each antenna's health and a snapshot of the counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


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
        if self.write_error:
            parts.append(f"WRITE FAILING, {self.samples_buffered} of {self.max_backlog} samples held: {self.write_error}")
        if self.samples_dropped:
            parts.append(f"{self.samples_dropped} samples dropped")
        if self.failure:
            parts.append(f"FAILED: {self.failure}")
        return " | ".join(parts)
