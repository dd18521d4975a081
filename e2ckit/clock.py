"""Simulated time: real time, accelerated, or stepped by hand (the ground layer: the
simulator, the logger and the CLI use it; it imports nothing of e2ckit).

A :class:`SimClock` maps the real monotonic clock onto simulated UNIX seconds::

    sim_now = sim_anchor + (monotonic() - real_anchor) * rate

``rate`` 1.0 is real time, 3600.0 makes an hour pass per real second (an outage and its
recovery in a notebook cell), and ``None`` freezes the clock so that only
:meth:`SimClock.advance` moves it: that is what tests use, because the same advances give
the same simulated times, and so the same bytes from a seeded antenna model.

The default start is a fixed epoch (2026-01-01T00:00Z), not the wall clock, so that two
runs of a notebook produce the same timestamps.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_EPOCH", "SimClock", "array_now", "clock_file", "parse_duration"]

#: Simulated UNIX time at which a clock starts unless told otherwise (2026-01-01T00:00Z).
DEFAULT_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration such as ``90``, ``"45s"``, ``"30m"``, ``"2h"``, ``"1d12h"``.

    Numbers are seconds. Used by scenario files, where times are offsets from the clock's start.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().lower().replace(" ", "")
    if not _DURATION.fullmatch(s) or not s:
        raise ValueError(f"cannot read duration {text!r}: use e.g. 90, '45s', '30m', '2h', '1d12h'")
    return sum(float(n) * _UNITS[u or "s"] for n, u in _PART.findall(s))


_PART = re.compile(r"(\d+(?:\.\d*)?)(min|sec|d|h|m|s)?")
_DURATION = re.compile(r"(?:\d+(?:\.\d*)?(?:min|sec|d|h|m|s)?)+")


class SimClock:
    """Simulated UNIX time, thread-safe.

    Parameters
    ----------
    start:
        simulated time at creation: UNIX seconds or a ``datetime`` (naive means UTC);
        default :data:`DEFAULT_EPOCH` for reproducible runs.
    rate:
        simulated seconds per real second; ``None`` for a stepped clock that only
        :meth:`advance` moves.
    """

    def __init__(self, start: float | datetime | None = None, rate: float | None = 1.0) -> None:
        if start is None:
            start_s = DEFAULT_EPOCH
        elif isinstance(start, datetime):
            if start.tzinfo is None:
                start = start.replace(tzinfo=timezone.utc)
            start_s = start.timestamp()
        else:
            start_s = float(start)
        self._check_rate(rate)
        self._lock = threading.Lock()
        self.start = start_s  #: simulated time at creation; scenario offsets count from here
        self._sim_anchor = start_s
        self._real_anchor = time.monotonic()
        self._rate = None if rate is None else float(rate)

    @staticmethod
    def _check_rate(rate: float | None) -> None:
        if rate is not None and not rate >= 0:
            raise ValueError(f"rate must be >= 0 or None (stepped), got {rate!r}")

    def _now_locked(self) -> float:
        if self._rate is None:
            return self._sim_anchor
        return self._sim_anchor + (time.monotonic() - self._real_anchor) * self._rate

    def now(self) -> float:
        """Simulated UNIX seconds."""
        with self._lock:
            return self._now_locked()

    def elapsed(self) -> float:
        """Simulated seconds since the clock's start."""
        return self.now() - self.start

    def advance(
        self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0, days: float = 0.0
    ) -> float:
        """Move simulated time forward (works at any rate); returns the new :meth:`now`."""
        step = seconds + 60.0 * minutes + 3600.0 * hours + 86400.0 * days
        if step < 0:
            raise ValueError("a simulated clock does not run backwards")
        with self._lock:
            self._sim_anchor += step
            return self._now_locked()

    def set_rate(self, rate: float | None) -> None:
        """Change the rate (``None`` to freeze) without a jump in :meth:`now`."""
        self._check_rate(rate)
        with self._lock:
            self._sim_anchor = self._now_locked()
            self._real_anchor = time.monotonic()
            self._rate = None if rate is None else float(rate)

    @property
    def rate(self) -> float | None:
        """Simulated seconds per real second, or ``None`` for a stepped clock."""
        return self._rate

    @property
    def stepped(self) -> bool:
        """True when only :meth:`advance` moves the clock."""
        return self._rate is None

    def datetime(self) -> datetime:
        """:meth:`now` as a timezone-aware UTC ``datetime``."""
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def __repr__(self) -> str:
        rate = "stepped" if self._rate is None else f"rate={self._rate:g}"
        return f"SimClock({self.datetime().isoformat()}, {rate})"

    # -- sharing a clock with another process ------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write where this clock is, against the wall clock, as a small JSON file, so
        that another process (``e2ckit log`` in a second shell) can follow it with
        :meth:`follow`. A stepped clock cannot be followed: ValueError."""
        if self._rate is None:
            raise ValueError("a stepped clock moves only when advanced in its own process: it cannot be followed")
        with self._lock:
            sim, wall = self._now_locked(), time.time()
            data = {"simulated": sim, "wall": wall, "rate": self._rate, "start": self.start,
                    "note": "e2ckit simulated clock: simulated = simulated0 + (wall - wall0) * rate"}  # fmt: skip
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def follow(cls, path: str | os.PathLike[str]) -> SimClock:
        """A clock that keeps the time of the clock :meth:`save` wrote to ``path``
        (same simulated time, same rate; wall time is shared between processes)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            sim, wall, rate = float(data["simulated"]), float(data["wall"]), float(data["rate"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not an e2ckit simulated clock file: {exc}") from None
        clock = cls(start=sim + (time.time() - wall) * rate, rate=rate)
        clock.start = float(data.get("start", sim))
        return clock


def array_now(array: Any) -> float:
    """The time an array lives in (UNIX seconds): a simulated array's clock, else the wall
    clock. What the recovery journal, the plan and ``recover``'s lines are stamped with."""
    clock = getattr(array, "clock", None)
    return float(clock.now()) if clock is not None and hasattr(clock, "now") else time.time()


def clock_file(host_map: str | os.PathLike[str]) -> Path:
    """The clock file that goes with a simulator's host map: ``sim.csv`` →
    ``sim.clock.json`` (written by ``e2ckit simulate --write-array``)."""
    p = Path(host_map)
    return p.with_name(f"{p.stem}.clock.json")
