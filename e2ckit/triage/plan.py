"""The recovery plan: which step of the front end's recovery each antenna is at, and why.

The steps are data (``e2ckit/catalog/data/recovery.toml``: phase, control, preconditions
with their sources, how completion reads back, when it counts as stalled).
:func:`plan_recovery` reads every point those steps name in one sweep (one deadline) and
gives one row per (antenna, step) with its status:

* ``done``: it reads back done, and so does every step before it;
* ``ready``: its preconditions hold and its control may be sent now;
* ``waiting``: it waits on something that comes with time alone (a timer, a pressure
  falling, a stage cooling);
* ``blocked``: it needs another step first, or a person (an interlock, a fault, an
  antenna that does not answer);
* ``stalled``: it has been current longer than its ``stall_after`` (known from the
  journal of :func:`e2ckit.triage.recover.recover`).

:func:`antenna_progress` (and :func:`progress_rows`, :func:`phase_summary`) read each
antenna's phase, next step and progress (done, recovering, waiting, stalled) from those rows,
for the board and the summary lines; :func:`progress_of_readings` does it from readings
already in hand (a sweep's, a log's) when they include every point the plan reads.

Layering: triage; imports api (the sweep), catalog (its limits' one definition of
"cold"), errors and the clock's duration parser only.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from e2ckit.api import sweep_rows
from e2ckit.catalog.limits import cold_below_k
from e2ckit.clock import array_now, parse_duration
from e2ckit.errors import CatalogError, ValidationError
from e2ckit.planning import catalog_of
from e2ckit.triage.eta import cooldown_interval, pumpdown_seconds
from e2ckit.triage.journal import Journal

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.catalog import Catalog

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "PHASES",
    "duration_words",
    "PHASE_WORDS",
    "PROGRESS",
    "PROGRESS_COLUMNS",
    "PLAN_COLUMNS",
    "STATUSES",
    "Cond",
    "Reading",
    "Require",
    "Step",
    "antenna_progress",
    "evaluate",
    "load_steps",
    "plan_points",
    "phase_summary",
    "plan_recovery",
    "progress_of_readings",
    "progress_rows",
    "read_antennas",
    "readings_of_rows",
    "resolve_until",
    "shipped_steps",
    "stall_clocks",
]

STEPS_FILE = Path(__file__).resolve().parent.parent / "catalog" / "data" / "recovery.toml"
_LABEL = "e2ckit/catalog/data/recovery.toml"
PHASES = ("power", "vacuum", "cooling", "closing", "done")
STATUSES = ("done", "ready", "waiting", "blocked", "stalled")
PLAN_COLUMNS = ["antenna", "phase", "step", "status", "action", "gate", "blocked_by", "since", "eta"]
_OPS = {
    "==": lambda v, x: v == x,
    "!=": lambda v, x: v != x,
    "<": lambda v, x: v < x,
    "<=": lambda v, x: v <= x,
    ">": lambda v, x: v > x,
    ">=": lambda v, x: v >= x,
}
_COND_RE = re.compile(r"^(?P<point>[A-Z0-9_]+\.[A-Z0-9_*]+)\s+(?P<op>==|!=|<=|>=|<|>|in|answers)\s*(?P<arg>.*)$")
_STEP_KEYS = {"id", "phase", "point", "value", "done", "done_after", "stall_after", "requires", "why", "eta"}
_REQ_KEYS = {"when", "why", "source", "wait", "eta"}


class Reading(NamedTuple):
    """One antenna's reading of one point, as the plan needs it."""

    value: float  # NaN when there is no good reading (+inf: a counter's "time elapsed")
    text: str
    error: str | None


@dataclass(frozen=True)
class Cond:
    """One condition: ``POINT OP NUMBER``, ``POINT in LO..HI``, ``POINT answers`` or
    ``answers`` (the antenna's E2C answered at all)."""

    point: str | None
    op: str
    lo: float = math.nan
    hi: float = math.nan
    text: str = ""

    def holds(self, readings: Mapping[str, Reading]) -> bool:
        """True when the readings show the condition (a missing or bad reading: False)."""
        if self.point is None:
            return any(r.error is None for r in readings.values())
        r = readings.get(self.point)
        if r is None or r.error is not None:
            return False
        if self.op == "answers":
            return True
        if math.isnan(r.value):  # a bad reading (-3 blocked, sensor absent) proves nothing
            return False
        if self.op == "in":
            return self.lo <= r.value <= self.hi
        return bool(_OPS[self.op](r.value, self.lo))

    def shown(self, readings: Mapping[str, Reading]) -> str:
        """The condition with what it reads: ``FEMC.GATE_VALVE == 1 (reads CLOSED)``."""
        if self.point is None:
            errors = sorted({r.error for r in readings.values() if r.error})
            return "the E2C does not answer" + (f" ({errors[0]})" if errors else "")
        r = readings.get(self.point)
        if r is None:
            return f"{self.text} (not read)"
        if r.error is not None:
            return f"{self.text} (no reading: {r.error})"
        return f"{self.text} (reads {r.text or r.value})"


@dataclass(frozen=True)
class Require:
    """A precondition of a step: all of ``when``; ``wait``: it comes with time alone."""

    when: tuple[Cond, ...]
    why: str
    source: str
    wait: bool
    timer_s: float | None = None  # "timer N": the reading counts seconds up to N
    pumpdown: bool = False  # "pressure": a pressure falling to its bound (needs history)

    def holds(self, readings: Mapping[str, Reading]) -> bool:
        return all(c.holds(readings) for c in self.when)

    def failing(self, readings: Mapping[str, Reading]) -> str:
        """What is not yet true, with the readings."""
        return "; ".join(c.shown(readings) for c in self.when if not c.holds(readings))


@dataclass(frozen=True)
class Step:
    """One step of the recovery (one ``[[steps]]`` table)."""

    id: str
    phase: str
    point: str | None  # the control point, None for a wait
    value: int | None
    done: tuple[tuple[Cond, ...], ...]  # alternatives, each all-of
    done_after: str | None
    stall_after_s: float
    requires: tuple[Require, ...]
    why: str = ""
    cooling: bool = False  # eta = "cooling": its done conditions come as stages cool

    @property
    def action(self) -> str:
        """``FEMC.SET_TURBO_PUMP = 1``, or ``wait``."""
        return "wait" if self.point is None else f"{self.point} = {self.value}"

    def reads_done(self, readings: Mapping[str, Reading]) -> bool:
        """Its completion reads back (whatever the steps before it read)."""
        return any(all(c.holds(readings) for c in alt) for alt in self.done)

    def points(self) -> set[str]:
        conds = [c for alt in self.done for c in alt] + [c for r in self.requires for c in r.when]
        return {c.point for c in conds if c.point is not None}


# --------------------------------------------------------------------------------------
# loading and validating the steps


def _err(label: str, where: str, msg: str) -> CatalogError:
    return CatalogError(f"{label}: {where}: {msg}")


def _cond(text: object, label: str, where: str, cat: Catalog) -> tuple[Cond, ...]:
    if not isinstance(text, str) or not text.strip():
        raise _err(label, where, f"a condition must be a non-empty string, got {text!r}")
    text = text.strip()
    if text == "answers":
        return (Cond(None, "answers", text=text),)
    if text == "cold":  # the one definition of "cold" (catalog.limits), not a copy of its numbers
        return tuple(Cond(p, "<", k, text=f"{p} < {k:g}") for p, k in cold_below_k().items())
    m = _COND_RE.match(text)
    if m is None:
        raise _err(label, where, f"cannot read condition {text!r} (POINT OP NUMBER, POINT in LO..HI, POINT answers)")
    pattern, op, arg = m["point"], m["op"], m["arg"].strip()
    # a wildcard (FEPS.OVER_VOLT_*) stands for every monitor point it matches, all of them
    names = sorted(n for n, p in cat.points.items() if p.kind == "monitor" and fnmatch.fnmatchcase(n, pattern))
    if not names or ("*" not in pattern and names != [pattern]):
        raise _err(label, where, f"{pattern!r} in {text!r} is not a monitor point of the catalog")
    try:
        if op == "answers":
            if arg:
                raise ValueError
            return tuple(Cond(n, op, text=f"{n} answers") for n in names)
        if op == "in":
            lo, hi = (float(x) for x in arg.split(".."))
            return tuple(Cond(n, op, lo, hi, f"{n} in {arg}") for n in names)
        return tuple(Cond(n, op, float(arg), text=f"{n} {op} {arg}") for n in names)
    except ValueError:
        raise _err(label, where, f"cannot read the number(s) in {text!r}") from None


def _conds(text: str, label: str, where: str, cat: Catalog) -> tuple[Cond, ...]:
    return tuple(c for part in text.split(" and ") for c in _cond(part, label, where, cat))


def _require(raw: object, label: str, where: str, cat: Catalog) -> Require:
    if not isinstance(raw, dict):
        raise _err(label, where, f"a precondition must be a table, got {raw!r}")
    extra = set(raw) - _REQ_KEYS
    if extra:
        raise _err(label, where, f"unknown field(s) {sorted(extra)}")
    for key in ("when", "why", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _err(label, f"{where}, field {key!r}", "missing or empty")
    if not isinstance(raw.get("wait"), bool):
        raise _err(label, f"{where}, field 'wait'", f"must be true or false, got {raw.get('wait')!r}")
    timer = None
    if "eta" in raw and raw["eta"] != "pressure":
        m = re.fullmatch(r"timer (\d+(?:\.\d+)?)", str(raw["eta"]))
        if m is None:
            raise _err(label, f"{where}, field 'eta'", f"must be 'timer SECONDS' or 'pressure', got {raw['eta']!r}")
        timer = float(m[1])
    when = _conds(raw["when"], label, f"{where}, field 'when'", cat)
    pumpdown = raw.get("eta") == "pressure"
    if pumpdown and not (len(when) == 1 and when[0].op in ("<", "<=")):
        raise _err(label, f"{where}, field 'eta'", "'pressure' needs one condition POINT <= NUMBER")
    return Require(when, raw["why"], raw["source"], raw["wait"], timer, pumpdown)


def _step(raw: object, i: int, label: str, cat: Catalog) -> Step:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"].isidentifier():
        raise _err(label, f"step {i + 1}", "needs an 'id' of one word")
    sid = raw["id"]
    where = f"step {sid!r}"
    extra = set(raw) - _STEP_KEYS
    if extra:
        raise _err(label, where, f"unknown field(s) {sorted(extra)}")
    if raw.get("phase") not in PHASES:
        raise _err(label, f"{where}, field 'phase'", f"must be one of {', '.join(PHASES)}, got {raw.get('phase')!r}")
    point, value = raw.get("point"), raw.get("value")
    if (point is None) != (value is None):
        raise _err(label, where, "'point' and 'value' go together (neither: a wait)")
    if point is not None:
        p = cat.points.get(point)
        if p is None or p.kind != "control":
            raise _err(label, f"{where}, field 'point'", f"{point!r} is not a control point of the catalog")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
            raise _err(label, f"{where}, field 'value'", f"must be an integer 0-255, got {value!r}")
    done = raw.get("done")
    if not isinstance(done, list) or not done:
        raise _err(label, f"{where}, field 'done'", "must be a non-empty list of conditions")
    try:
        stall = parse_duration(raw.get("stall_after", ""))
    except (ValueError, TypeError) as exc:
        raise _err(label, f"{where}, field 'stall_after'", str(exc)) from None
    requires = raw.get("requires", [])
    if not isinstance(requires, list):
        raise _err(label, f"{where}, field 'requires'", "must be a list of tables")
    if raw.get("eta", "cooling") != "cooling" or ("eta" in raw and point is not None):
        raise _err(label, f"{where}, field 'eta'", f"only a wait takes eta = 'cooling', got {raw.get('eta')!r}")
    return Step(
        sid, raw["phase"], point, value,
        tuple(_conds(d, label, f"{where}, field 'done'", cat) for d in done),
        raw.get("done_after"), stall,
        tuple(_require(r, label, f"{where}, precondition {k + 1}", cat) for k, r in enumerate(requires)),
        str(raw.get("why", "")), raw.get("eta") == "cooling",
    )  # fmt: skip


def load_steps(text: str | None = None, label: str = _LABEL, catalog: Catalog | None = None) -> tuple[Step, ...]:
    """The recovery steps of ``text`` (default: the shipped file), validated against the
    catalog. CatalogError naming the file, the step and the field on anything wrong."""
    cat = catalog_of(catalog)
    if text is None:
        text = STEPS_FILE.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{label}: not valid TOML: {exc}") from None
    raw = data.get("steps")
    if set(data) - {"steps"} or not isinstance(raw, list) or not raw:
        raise CatalogError(f"{label}: expected [[steps]] tables only")
    steps = tuple(_step(r, i, label, cat) for i, r in enumerate(raw))
    ids = [s.id for s in steps]
    for s in steps:
        if ids.count(s.id) > 1:
            raise _err(label, f"step {s.id!r}", "the id is used twice")
        if s.done_after is not None and s.done_after not in ids:
            raise _err(label, f"step {s.id!r}, field 'done_after'", f"no step {s.done_after!r}")
    return steps


@functools.lru_cache(maxsize=1)
def shipped_steps() -> tuple[Step, ...]:
    """The shipped steps against the default catalog, loaded and checked once."""
    return load_steps()


def plan_points(steps: Sequence[Step]) -> list[str]:
    """Every monitor point the steps read, in a stable order."""
    return sorted(set().union(*(s.points() for s in steps)))


# --------------------------------------------------------------------------------------
# evaluation


#: one antenna's history of some points: point -> (times in UNIX seconds, values), sorted
History = Mapping[str, tuple[Sequence[float], Sequence[float]]]
_NO_LOG = "no ETA without a log of its readings"
_TOO_EARLY = "ETA too early to tell"


def _gate_eta(r: Require, readings: Mapping[str, Reading], history: History | None, now: float | None) -> tuple[float, str]:
    """(seconds until the waiting precondition ``r`` opens, a note when that is unknown)."""
    if r.timer_s is not None:
        values = [readings[c.point].value for c in r.when if c.point in readings]
        if values and math.isfinite(values[0]):
            return max(0.0, r.timer_s - values[0]), ""
        return math.nan, ""
    if not r.pumpdown or history is None:  # None: no ETA asked for (recover's own reads)
        return math.nan, ""
    c = r.when[0]
    if c.point not in history:
        return math.nan, _NO_LOG
    t, v = history[c.point]
    secs = pumpdown_seconds(t, v, c.lo)
    return _from_now(secs, t, now)


def _from_now(secs: float, t: Sequence[float], now: float | None) -> tuple[float, str]:
    """Seconds from the last sample counted from ``now`` instead, with a note when unknown."""
    if math.isnan(secs):
        return math.nan, _TOO_EARLY
    if math.isinf(secs):
        return math.nan, "not falling"
    lag = (now - float(t[-1])) if now is not None and len(t) else 0.0
    return max(secs - lag, 0.0), ""


def _cooling_eta(step: Step, history: History | None, now: float | None) -> tuple[float, str]:
    """Seconds until ``step``'s done conditions read true as the stages cool: per
    alternative the slowest of its ``POINT < K`` (the cool-down ETA of
    :mod:`e2ckit.triage.eta` on the readings since the compressor last started), the
    soonest alternative; NaN with a note when no log is given or it says too little."""
    if history is None:  # no ETA asked for (recover's own reads)
        return math.nan, ""
    start = _restart(history)
    best, note = math.inf, _TOO_EARLY
    for alt in step.done:
        worst = 0.0
        for c in alt:
            if c.point is None or c.op not in ("<", "<=") or c.point not in history:
                worst, note = math.nan, (_NO_LOG if c.point is not None and c.point not in history else note)
                break
            t, v = (np.asarray(x, dtype=float) for x in history[c.point])
            keep = t >= start
            e = cooldown_interval((t[keep] - start) / 3600.0, v[keep], c.lo, _cold_range(c.point, c.lo))
            secs, why = _from_now(e.hours * 3600.0, t, now)
            if math.isnan(secs):
                worst, note = math.nan, why
                break
            worst = max(worst, secs)
        if math.isfinite(worst):
            best = min(best, worst)
    return (best, "") if math.isfinite(best) else (math.nan, note)


def _restart(history: History) -> float:
    """When the compressor drive last went from off to on in ``history`` (else its start)."""
    t, v = history.get("CMPR.DRIVE", ((), ()))
    start = -math.inf
    for i in range(1, len(v)):
        if v[i] == 1 and v[i - 1] == 0:
            start = float(t[i])
    return start


def _cold_range(point: str, target: float) -> tuple[float, float]:
    """The stage's cold range (its nominal bounds in the catalog), for the ETA's floors."""
    p = catalog_of(None).points.get(point)
    lo, hi = (getattr(p, "nominal_low", None), getattr(p, "nominal_high", None)) if p is not None else (None, None)
    if lo is None or hi is None or not lo <= hi:
        return (0.0, target / 2)
    return (float(lo), float(hi))


def _current(
    step: Step, readings: Mapping[str, Reading], history: History | None = None, now: float | None = None
) -> tuple[str, str, str, float]:
    """(status, gate, blocked_by, eta seconds) of the first step not done."""
    failing = [r for r in step.requires if not r.holds(readings)]
    if failing and not failing[0].wait:  # the first precondition not met (in the file's order)
        r = failing[0]
        return "blocked", f"{r.why} [{r.source}]", r.failing(readings), math.nan
    if failing:
        r = failing[0]
        eta, note = _gate_eta(r, readings, history, now)
        return "waiting", f"{r.why} [{r.source}]", _noted(r.failing(readings), note), eta
    gate = "; ".join(f"{r.why} [{r.source}]" for r in step.requires)
    if step.point is not None:
        return "ready", gate, "", math.nan
    missing = "; ".join(c.shown(readings) for alt in step.done[:1] for c in alt if not c.holds(readings))
    eta, note = _cooling_eta(step, history, now) if step.cooling else (math.nan, "")
    return "waiting", step.why or gate, _noted(missing, note), eta


def _noted(text: str, note: str) -> str:
    return f"{text}; {note}" if text and note else (text or note)


def evaluate(
    steps: Sequence[Step],
    readings: Mapping[str, Reading],
    *,
    now: float | None = None,
    since: Mapping[str, float] | None = None,
    shown_since: Mapping[str, float] | None = None,
    history: History | None = None,
) -> list[dict[str, Any]]:
    """One antenna's plan from its readings: one dict per step (the plan's columns but
    ``antenna``; ``since`` and ``eta`` as seconds). ``since``: when each step's stall clock
    started (the recover journal: a control step's when its control went out, a wait's when
    it became current), for ``stalled``; ``shown_since``: the ``since`` column (default
    ``since``); ``history``: the antenna's earlier readings, for the pressure and cooling ETAs
    (None: no such ETA is asked for, and no note says so)."""
    ids = {s.id: s for s in steps}
    reads = {s.id: s.reads_done(readings) for s in steps}
    shown = shown_since if shown_since is not None else (since or {})
    rows: list[dict[str, Any]] = []
    previous_done, current = True, None
    for s in steps:
        done = previous_done and (reads[s.id] or (s.done_after is not None and reads[ids[s.done_after].id]))
        row = {"phase": s.phase, "step": s.id, "action": s.action, "since": math.nan, "eta": math.nan}
        gate = "; ".join(f"{r.why} [{r.source}]" for r in s.requires) or s.why
        if done:
            row.update(status="done", gate=gate, blocked_by="")
        elif current is None:
            current = s
            status, gate, blocked_by, eta = _current(s, readings, history, now)
            row["since"] = shown.get(s.id, math.nan)
            t0 = (since or {}).get(s.id, math.nan)
            if now is not None and math.isfinite(t0) and status in ("ready", "waiting") and now - t0 > s.stall_after_s:
                blocked_by = (f"{blocked_by}; " if blocked_by else "") + (
                    f"current for {duration_words(now - t0)}, stalled after {duration_words(s.stall_after_s)}"
                )
                status = "stalled"
            row.update(status=status, gate=gate, blocked_by=blocked_by, eta=eta)
        else:
            row.update(status="blocked", gate=gate, blocked_by=f"{current.id} first")
        rows.append(row)
        previous_done = done
    return rows


def duration_words(seconds: float) -> str:
    """A duration as an operator reads it: ``40 s``, ``12 min``, ``3.5 h``, ``12 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


# --------------------------------------------------------------------------------------
# reading and the frame


def read_antennas(
    points: Sequence[str],
    antennas: str | Iterable[str] | None,
    *,
    array: Any = None,
    timeout: float = 1.0,
    deadline: float | None = None,
) -> dict[str, dict[str, Reading]]:
    """One sweep of ``points``: readings by antenna, then by point."""
    rows = sweep_rows(list(points), antennas, array=array, timeout=timeout, deadline=deadline)
    return readings_of_rows(rows)


def readings_of_rows(rows: Iterable[Any]) -> dict[str, dict[str, Reading]]:
    """Readings by antenna, then by point, of tidy rows (anything with ``antenna``,
    ``point``, ``value``, ``text`` and ``error``: a sweep's rows, a log's)."""
    out: dict[str, dict[str, Reading]] = {}
    for r in rows:
        value = math.nan if r.value is None else float(r.value)
        error = r.error if isinstance(r.error, str) and r.error not in ("", "None") else None
        text = r.text if isinstance(r.text, str) else ""
        if math.isnan(value) and error is None and text.endswith("elapsed"):
            value = math.inf  # a counter's "minimum time elapsed" sentinel (§8)
        out.setdefault(str(r.antenna), {})[r.point] = Reading(value, text, error)
    return out


def plan_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The plan's DataFrame: ``since`` as UTC timestamps, ``eta`` as timedeltas."""
    import pandas as pd  # lazy: plan_recovery's callers may not need pandas until here

    df = pd.DataFrame.from_records(rows, columns=PLAN_COLUMNS)
    df["since"] = pd.to_datetime(df["since"].astype("float64"), unit="s", utc=True)
    df["eta"] = pd.to_timedelta(df["eta"].astype("float64"), unit="s")
    df["status"] = pd.Categorical(df["status"], categories=list(STATUSES))
    return df


def resolve_until(until: str, steps: Sequence[Step] | None = None, what: str = "until") -> str:
    """The step id that ``until`` names. A phase (``power, vacuum, cooling, closing, done``)
    means its last step: every step of the phase done (``power`` → ``fe_powered``,
    ``vacuum`` → ``safe_to_cool``, ``cooling`` → ``cold``, ``closing`` → ``pumps_closed``,
    ``done`` → ``operational``); any other word is a step id (``cold``, ``compressor``...).
    One word is both, ``cooling``: alone it is the phase; ``step:cooling`` is the step (4K
    or 15K below 30 K), ``phase:NAME`` the phase, for either. ValidationError naming the
    word and every valid choice otherwise (``what``: how the caller calls the argument)."""
    steps = tuple(steps) if steps is not None else shipped_steps()
    ids = [s.id for s in steps]
    last = {s.phase: s.id for s in steps}  # the last step of each phase (steps are in order)
    kind, _, name = until.partition(":") if ":" in str(until) else ("", "", str(until))
    if kind in ("", "phase") and name in last:
        return last[name]
    if kind in ("", "step") and name in ids:
        return name
    phases = ", ".join(p for p in PHASES if p in last)
    raise ValidationError(f"{what} {until!r} is not a phase or a step: phases {phases}; steps {', '.join(ids)}")


def _histories(log: Any, antennas: Iterable[str], points: Sequence[str]) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Per antenna, per point: the log's good readings as (UNIX seconds, values), in time order."""
    import pandas as pd  # lazy: only when a log is given

    if not isinstance(log, pd.DataFrame):
        from e2ckit.dataset import load  # the dataset reader (pyarrow) only when given a path

        log = load(log, points=list(points))
    missing = [c for c in ("time", "antenna", "point", "value") if c not in log.columns]
    if missing:
        raise ValidationError(f"plan_recovery(log=): the log lacks column(s) {', '.join(missing)}: load it with e2ckit.load()")
    keep = log["point"].isin(list(points)) & log["antenna"].isin(list(antennas))
    if "error" in log.columns:
        keep &= log["error"].isna()
    g = log.loc[keep, ["time", "antenna", "point", "value"]].sort_values("time", kind="stable")
    t = (g["time"] - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1) if len(g) else g["time"]
    g = g.assign(t=t)
    out: dict[str, dict[str, tuple[Any, Any]]] = {}
    for (antenna, point), x in g.groupby(["antenna", "point"], sort=False, observed=True):
        out.setdefault(str(antenna), {})[str(point)] = (x["t"].to_numpy(float), x["value"].to_numpy(float))
    return out


def _with_now(history: Mapping[str, tuple[Any, Any]], reads: Mapping[str, Reading], now: float) -> History:
    """``history`` with this plan's own readings appended as the latest samples."""
    out = dict(history)
    for point, r in reads.items():
        if point in out and r.error is None and math.isfinite(r.value):
            t, v = out[point]
            if not len(t) or t[-1] < now:
                out[point] = (np.append(t, now), np.append(v, r.value))
    return out


def plan_recovery(
    antennas: str | Iterable[str] | None = "all",
    *,
    array: Any = None,
    timeout: float = 1.0,
    deadline: float | None = None,
    since: Mapping[str, Mapping[str, float]] | None = None,
    journal: str | os.PathLike[str] | None = None,
    log: Any = None,
    steps: Sequence[Step] | None = None,
) -> pd.DataFrame:
    """Where each antenna stands in its front end's recovery after an outage.

    One sweep of the points the steps read (one ``deadline``, default ``2 × timeout +
    0.5`` s), one row per (antenna, step): ``antenna, phase, step, status`` (done, ready,
    waiting, blocked, stalled), ``action`` (the control and its value, or ``wait``),
    ``gate`` (the rule and its source), ``blocked_by`` (what is not yet true, with the
    reading), ``since`` and ``eta``. A healthy antenna: every step done; one that does
    not answer: blocked, saying so, never done.

    ``since`` (UTC; the current step only): when the step became current or its control
    last went out, from the recover journal in ``journal`` (a directory, as
    :func:`e2ckit.triage.recover.recover` writes it; or a mapping ``since`` of antenna →
    step → UNIX seconds); NaT without one. The journal's times also make a step
    ``stalled`` past its ``stall_after``, as ``recover`` judges it.

    ``eta`` (a timedelta from now; the current step only, while it is ``waiting``): the
    compressor's 420 s window, from its counter; a pressure falling to 5e-4 mbar, from the
    recent rate of fall of its readings in ``log`` (:func:`e2ckit.triage.eta.pumpdown_seconds`:
    that rate held, so "not before"); a stage cooling (``cooling``: 4K or 15K below 30 K;
    ``cold``: 4K < 5 K and 15K < 30 K), the central estimate of the cool-down ETA
    ``recovery()`` uses, on the readings in ``log`` since the compressor started. ``log``: a
    loaded log (:func:`e2ckit.load`) or its path, holding the antennas' earlier readings.
    NaT otherwise, and ``blocked_by`` says why where a model applies (``no ETA without a
    log of its readings``, ``ETA too early to tell``, ``not falling``).
    """
    steps = tuple(steps) if steps is not None else shipped_steps()
    points = plan_points(steps)
    readings = read_antennas(points, antennas, array=array, timeout=timeout, deadline=deadline)
    now = array_now(array)
    histories = _histories(log, readings, points) if log is not None else None
    rows: list[dict[str, Any]] = []
    for antenna, reads in readings.items():
        stall, shown = (since or {}).get(antenna), None
        if journal is not None:
            j = Journal.of(journal, antenna)
            stall = {**stall_clocks(steps, j), **(stall or {})}
            shown = {**j.since, **((since or {}).get(antenna) or {})}
        # no log: an empty history, so a waiting step says it has no ETA without one
        history = _with_now(histories.get(antenna, {}), reads, now) if histories is not None else {}
        for row in evaluate(steps, reads, now=now, since=stall, shown_since=shown, history=history):
            rows.append({"antenna": antenna, **row})
    return plan_frame(rows)


def stall_clocks(steps: Sequence[Step], journal: Journal) -> dict[str, float]:
    """When each step's stall clock started, from its journal: a control step's when its
    control went out (waiting on its gate is bounded by recover's ``wait``), a wait's when
    it became current."""
    out = {}
    for s in steps:
        t = journal.sent.get(s.id) if s.point is not None else journal.since.get(s.id)
        if t is not None:
            out[s.id] = t
    return out


# --------------------------------------------------------------------------------------
# each antenna's progress, read from the plan's rows


#: an antenna's progress through its recovery, as the board colours it: every step done;
#: its next control may go now; its next step waits on a gate that opens with time alone
#: (a timer, a pressure falling, a stage cooling); it needs a person or has stalled
PROGRESS = ("done", "recovering", "waiting", "stalled")
PROGRESS_COLUMNS = ["antenna", "phase", "step", "action", "status", "progress", "next", "stage"]
_PROGRESS_OF = {"ready": "recovering", "waiting": "waiting", "blocked": "stalled", "stalled": "stalled"}
#: a phase in the words of the summary line (an antenna whose next step waits on a timer,
#: or is blocked or stalled, is counted by that instead)
PHASE_WORDS = {"power": "powering up", "vacuum": "pumping down", "cooling": "cooling",
               "closing": "closing the pumps", "done": "operational"}  # fmt: skip


def _seconds(eta: Any) -> float:
    """A plan row's ``eta`` in seconds: a float (``evaluate``) or a Timedelta (the frame)."""
    if eta is None:
        return math.nan
    seconds = getattr(eta, "total_seconds", None)
    value = seconds() if seconds is not None else float(eta)
    return value if value == value else math.nan


def _next_text(row: Mapping[str, Any]) -> str:
    """The next step in words: ``turbo: FEMC.SET_TURBO_PUMP = 1``, ``cooling: wait for
    FEMC.TEMP0 < 30 (reads 80.2)``, ``fe_powered blocked: FETIM.SHUTDOWN == 0 (reads 1)``."""
    step, action, status, why = row["step"], row["action"], str(row["status"]), row["blocked_by"] or ""
    eta = _seconds(row.get("eta"))
    when = f" (in {duration_words(eta)})" if math.isfinite(eta) and eta > 0 else ""
    if status == "ready":
        return f"{step}: {action}"
    if status == "waiting":
        if action == "wait":
            return f"{step}: wait for {why}{when}" if why else f"{step}: wait"
        return f"{step}: {action} once {why}{when}" if why else f"{step}: {action}"
    then = f" (then {action})" if action != "wait" else ""
    return f"{step} {status}: {why}{then}"


def _stage(row: Mapping[str, Any], step: Step | None) -> str:
    """The words an antenna is counted by in the summary line."""
    status = str(row["status"])
    if step is not None and all(c.point is None for alt in step.done for c in alt):
        return "not answering"  # its first step: the E2C answers at all
    if status in ("blocked", "stalled"):
        return f"{status} at {row['step']}"
    timer = next((r for r in (step.requires if step else ()) if r.timer_s is not None), None)
    if status == "waiting" and timer is not None and any(c.text in (row["blocked_by"] or "") for c in timer.when):
        return f"waiting on the {row['step']}'s {timer.timer_s:g} s"
    return PHASE_WORDS.get(str(row["phase"]), str(row["phase"]))


def progress_rows(plan: Any, steps: Sequence[Step] | None = None) -> list[dict[str, Any]]:
    """Each antenna's progress from a plan (the frame of :func:`plan_recovery`, or rows of
    :func:`evaluate` with ``antenna``): one dict per antenna with the
    :data:`PROGRESS_COLUMNS`, read from its first step not done (nothing is re-judged).
    ``steps``: the steps the plan was made of (default: the shipped ones)."""
    by_id = {s.id: s for s in (steps if steps is not None else shipped_steps())}
    rows = plan.to_dict("records") if hasattr(plan, "to_dict") else list(plan)
    by_antenna: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_antenna.setdefault(str(r["antenna"]), []).append(r)
    out = []
    for antenna, rs in by_antenna.items():
        row = next((r for r in rs if str(r["status"]) != "done"), None)
        if row is None:
            out.append(dict(antenna=antenna, phase="done", step="", action="", status="done", progress="done",
                            next="", stage=PHASE_WORDS["done"]))  # fmt: skip
            continue
        status = str(row["status"])
        out.append(dict(antenna=antenna, phase=str(row["phase"]), step=str(row["step"]), action=str(row["action"]),
                        status=status, progress=_PROGRESS_OF.get(status, "stalled"), next=_next_text(row),
                        stage=_stage(row, by_id.get(str(row["step"])))))  # fmt: skip
    return out


def antenna_progress(plan: pd.DataFrame, steps: Sequence[Step] | None = None) -> pd.DataFrame:
    """One row per antenna of a plan (:func:`plan_recovery`'s frame): its ``phase`` (``done``
    when every step is), its next ``step``, that step's ``action`` and ``status``, its
    ``progress`` (:data:`PROGRESS`: done, recovering, waiting, stalled), the ``next`` step in
    words and the ``stage`` it is counted by in :func:`phase_summary`."""
    import pandas as pd  # lazy: the caller has a plan frame, so pandas is loaded already

    df = pd.DataFrame.from_records(progress_rows(plan, steps), columns=PROGRESS_COLUMNS)
    df["progress"] = pd.Categorical(df["progress"], categories=list(PROGRESS))
    return df


def phase_summary(progress: Iterable[Mapping[str, Any]], steps: Sequence[Step] | None = None) -> str | None:
    """``66 antennas by phase: 20 pumping down, 6 waiting on the compressor's 420 s, 40
    cooling`` (in the order of the recovery, then those blocked or stalled); None when no
    recovery is under way (every antenna operational)."""
    progress = list(progress)
    if not progress:
        return None
    order = {s.id: i for i, s in enumerate(steps if steps is not None else shipped_steps())}
    counts: dict[str, list[Any]] = {}
    for p in progress:
        p = dict(p)
        key = (p["progress"] != "stalled", order.get(p["step"], len(order)) if p["step"] else len(order))
        entry = counts.setdefault(p["stage"], [key, 0])
        entry[0], entry[1] = min(entry[0], key), entry[1] + 1
    total = sum(n for _, n in counts.values())
    if not counts or set(counts) == {PHASE_WORDS["done"]}:
        return None
    parts = [f"{n} {stage}" for stage, (_, n) in sorted(counts.items(), key=lambda kv: kv[1][0])]
    return f"{total} antennas by phase: " + ", ".join(parts)


def progress_of_readings(
    readings: Mapping[str, Mapping[str, Reading]], steps: Sequence[Step] | None = None
) -> list[dict[str, Any]]:
    """Each antenna's progress from readings already in hand (a sweep's, a log's latest),
    when they include every point of the plan (:func:`plan_points`); else none at all
    (an empty list: a step judged on a point not read would be wrong)."""
    if steps is None and not _may_cover(readings):
        return []  # (checked before the shipped steps load: ~60 ms a sweep without them saves)
    steps = tuple(steps) if steps is not None else shipped_steps()
    need = plan_points(steps)
    rows = []
    for antenna, reads in readings.items():
        if any(p not in reads for p in need):
            return []
        rows.extend({"antenna": antenna, **r} for r in evaluate(steps, reads))
    return progress_rows(rows, steps)


def _may_cover(readings: Mapping[str, Mapping[str, Reading]]) -> bool:
    """Whether every antenna's readings include the catalog's ``recovery`` group (the
    shipped plan's points, kept equal to them by a test): False spares loading the steps."""
    try:
        need = {p.name for p in catalog_of(None).resolve("recovery")}
    except Exception:  # a catalog without the group: the steps themselves decide
        return True
    return bool(readings) and all(need <= set(reads) for reads in readings.values())
