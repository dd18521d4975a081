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

Layering: triage; imports api (the sweep), catalog (its limits' one definition of
"cold"), errors and the clock's duration parser only.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from e2ckit.api import sweep_rows
from e2ckit.catalog.limits import cold_below_k
from e2ckit.clock import parse_duration
from e2ckit.errors import CatalogError
from e2ckit.planning import catalog_of

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.catalog import Catalog

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "PHASES",
    "PLAN_COLUMNS",
    "STATUSES",
    "Cond",
    "Reading",
    "Require",
    "Step",
    "evaluate",
    "load_steps",
    "plan_points",
    "plan_recovery",
    "read_antennas",
    "shipped_steps",
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
_STEP_KEYS = {"id", "phase", "point", "value", "done", "done_after", "stall_after", "requires", "why"}
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
    if "eta" in raw:
        m = re.fullmatch(r"timer (\d+(?:\.\d+)?)", str(raw["eta"]))
        if m is None:
            raise _err(label, f"{where}, field 'eta'", f"must be 'timer SECONDS', got {raw['eta']!r}")
        timer = float(m[1])
    when = _conds(raw["when"], label, f"{where}, field 'when'", cat)
    return Require(when, raw["why"], raw["source"], raw["wait"], timer)


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
    return Step(
        sid, raw["phase"], point, value,
        tuple(_conds(d, label, f"{where}, field 'done'", cat) for d in done),
        raw.get("done_after"), stall,
        tuple(_require(r, label, f"{where}, precondition {k + 1}", cat) for k, r in enumerate(requires)),
        str(raw.get("why", "")),
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


def _current(step: Step, readings: Mapping[str, Reading]) -> tuple[str, str, str, float]:
    """(status, gate, blocked_by, eta seconds) of the first step not done."""
    failing = [r for r in step.requires if not r.holds(readings)]
    if failing and not failing[0].wait:  # the first precondition not met (in the file's order)
        r = failing[0]
        return "blocked", f"{r.why} [{r.source}]", r.failing(readings), math.nan
    if failing:
        r = failing[0]
        eta = math.nan
        if r.timer_s is not None:
            values = [readings[c.point].value for c in r.when if c.point in readings]
            if values and math.isfinite(values[0]):
                eta = max(0.0, r.timer_s - values[0])
        return "waiting", f"{r.why} [{r.source}]", r.failing(readings), eta
    gate = "; ".join(f"{r.why} [{r.source}]" for r in step.requires)
    if step.point is not None:
        return "ready", gate, "", math.nan
    missing = "; ".join(c.shown(readings) for alt in step.done[:1] for c in alt if not c.holds(readings))
    return "waiting", step.why or gate, missing, math.nan


def evaluate(
    steps: Sequence[Step],
    readings: Mapping[str, Reading],
    *,
    now: float | None = None,
    since: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """One antenna's plan from its readings: one dict per step (the plan's columns but
    ``antenna``; ``since`` and ``eta`` as seconds). ``since``: when each step became
    current or had its control sent (the recover journal), for ``stalled``."""
    ids = {s.id: s for s in steps}
    reads = {s.id: s.reads_done(readings) for s in steps}
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
            status, gate, blocked_by, eta = _current(s, readings)
            t0 = (since or {}).get(s.id, math.nan)
            if now is not None and math.isfinite(t0):
                row["since"] = t0
                if status in ("ready", "waiting") and now - t0 > s.stall_after_s:
                    blocked_by = (f"{blocked_by}; " if blocked_by else "") + (
                        f"current for {_span(now - t0)}, stalled after {_span(s.stall_after_s)}"
                    )
                    status = "stalled"
            row.update(status=status, gate=gate, blocked_by=blocked_by, eta=eta)
        else:
            row.update(status="blocked", gate=gate, blocked_by=f"{current.id} first")
        rows.append(row)
        previous_done = done
    return rows


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------------------
# reading and the frame


def array_now(array: Any) -> float:
    """The time the array lives in: a simulated array's clock, else UNIX time."""
    clock = getattr(array, "clock", None)
    return float(clock.now()) if clock is not None and hasattr(clock, "now") else time.time()


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
    out: dict[str, dict[str, Reading]] = {}
    for r in rows:
        value = r.value
        if math.isnan(value) and r.error is None and r.text.endswith("elapsed"):
            value = math.inf  # a counter's "minimum time elapsed" sentinel (§8)
        out.setdefault(r.antenna, {})[r.point] = Reading(value, r.text, r.error)
    return out


def plan_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The plan's DataFrame: ``since`` as UTC timestamps, ``eta`` as timedeltas."""
    import pandas as pd  # lazy: plan_recovery's callers may not need pandas until here

    df = pd.DataFrame.from_records(rows, columns=PLAN_COLUMNS)
    df["since"] = pd.to_datetime(df["since"].astype("float64"), unit="s", utc=True)
    df["eta"] = pd.to_timedelta(df["eta"].astype("float64"), unit="s")
    df["status"] = pd.Categorical(df["status"], categories=list(STATUSES))
    return df


def plan_recovery(
    antennas: str | Iterable[str] | None = "all",
    *,
    array: Any = None,
    timeout: float = 1.0,
    deadline: float | None = None,
    since: Mapping[str, Mapping[str, float]] | None = None,
    steps: Sequence[Step] | None = None,
) -> pd.DataFrame:
    """Where each antenna stands in its front end's recovery after an outage.

    One sweep of the points the steps read (one ``deadline``, default ``2 × timeout +
    0.5`` s), one row per (antenna, step): ``antenna, phase, step, status`` (done, ready,
    waiting, blocked, stalled), ``action`` (the control and its value, or ``wait``),
    ``gate`` (the rule and its source), ``blocked_by`` (what is not yet true, with the
    reading), ``since`` and ``eta``. A healthy antenna: every step done; one that does
    not answer: blocked, saying so, never done. ``since`` (per antenna, per step: UNIX
    seconds it became current or had its control sent) comes from a recover journal.
    """
    steps = tuple(steps) if steps is not None else shipped_steps()
    readings = read_antennas(plan_points(steps), antennas, array=array, timeout=timeout, deadline=deadline)
    now = array_now(array)
    rows: list[dict[str, Any]] = []
    for antenna, reads in readings.items():
        for row in evaluate(steps, reads, now=now, since=(since or {}).get(antenna)):
            rows.append({"antenna": antenna, **row})
    return plan_frame(rows)
