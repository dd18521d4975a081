"""Array-wide outputs end with one line on stderr that says how the array is:
``66 antennas: 58 ok, 3 warn, 2 alarm, 1 unknown, 2 silent``.

Counted, never judged here: an antenna's state is the worst ``limit`` of its readings
(the sweep's one judgement, :mod:`e2ckit.catalog.limits`) and its ``error`` column:
*silent* when no reading came back at all (its E2C did not answer), *unknown* when some
readings failed. ``--problems`` keeps the antennas
(and, in tidy output, the readings) that are not ok.

While a recovery is under way, a line by phase comes first:
``66 antennas by phase: 6 waiting on the compressor's 420 s, 20 pumping down, 40 cooling``
(:func:`phase_line`). It is read from the recovery plan's steps
(:mod:`e2ckit.triage.plan`) on the rows already swept, with no request of its own: only
when the rows include every point the plan reads (``check`` adds them to its one sweep;
``sweep recovery`` reads them), and only when some antenna is not operational. The verdict
line follows, unchanged, as the exit status does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from e2ckit.errors import Failure

__all__ = ["ANTENNA_STATES", "antenna_states", "is_problem", "phase_line", "recovery_points", "summary_line"]

#: the states an antenna is counted in, best first (the order of the summary line)
ANTENNA_STATES = ("ok", "warn", "alarm", "unknown", "silent")

#: decode statuses of a reply that arrived but could not be read as its point
UNDECODED = ("bad length", "undecodable")


def _failed(error: Any) -> bool:
    return error is not None and error == error and str(error) not in ("", "None")


def is_problem(row: Any) -> bool:
    """A tidy reading that is not ok: failed, undecodable, or outside its warn/alarm limits."""
    return _failed(row.error) or row.status in UNDECODED or row.limit in ("warn", "alarm")


def antenna_states(rows: Iterable[Any]) -> dict[str, str]:
    """Each antenna's state from its tidy rows (``antenna``, ``limit``, ``error``,
    ``status``), in the order the antennas first appear."""
    seen: dict[str, list[Any]] = {}
    for r in rows:
        seen.setdefault(r.antenna, []).append(r)
    return {a: _state(rs) for a, rs in seen.items()}


def _state(rows: Sequence[Any]) -> str:
    errors = [r.error for r in rows if _failed(r.error)]
    if errors and len(errors) == len(rows) and all(_down(e) for e in errors):
        return "silent"
    limits = {r.limit for r in rows if not _failed(r.error)}
    if "alarm" in limits:
        return "alarm"
    if "warn" in limits:
        return "warn"
    if errors or any(r.status in UNDECODED for r in rows):
        return "unknown"
    return "ok"


def _down(error: Any) -> bool:
    failure = Failure.parse(str(error))
    return failure is not None and failure.down


def summary_line(states: Mapping[str, str], what: str = "antennas") -> str:
    """``66 antennas: 58 ok, 3 warn, 2 alarm, 1 unknown, 2 silent`` (only the states that
    occur; ``ok`` always)."""
    counts = {s: 0 for s in ANTENNA_STATES}
    for s in states.values():
        counts[s] = counts.get(s, 0) + 1
    parts = [f"{n} {s}" for s, n in counts.items() if n or s == "ok"]
    return f"{len(states)} {what}: " + ", ".join(parts)


def phase_line(rows: Sequence[Any]) -> str | None:
    """``66 antennas by phase: 20 pumping down, 46 operational`` when ``rows`` (tidy rows of
    one sweep) read every point of the recovery plan and some antenna is not operational;
    else None (no recovery under way, or nothing to tell it by)."""
    plan = _plan()
    return plan.phase_summary(plan.progress_of_readings(plan.readings_of_rows(rows)))


def recovery_points() -> list[str]:
    """The points the recovery plan reads (what a sweep adds to tell each antenna's phase)."""
    plan = _plan()
    return plan.plan_points(plan.shipped_steps())


def _plan() -> Any:
    from e2ckit.triage import plan  # lazy: the catalog and the sweep (~100 ms); keeps --help fast

    return plan
