"""Limits, expected states and THE judgement of a reading: what it should be, where that comes from.

:func:`judge` is the one function that gives a reading's limit state (``ok``, ``warn``,
``alarm``, ``unavailable``) and the structured :class:`Finding` behind it (point, comparison,
bound, value, source). Every face uses it: a sweep's ``limit`` column (``Point.decode`` for the
catalog bounds, :func:`judge_rows` for expected states and site bounds), ``style()``, the
panels' colours, ``alarms()``, ``diagnose()``/``e2ckit check`` and the recovery board.
Explanations are rendered from findings (:meth:`Finding.claim`), never written by hand.

Three sources, applied in this order to a reading:

1. **Expected states** of enumerated points (``data/expected.csv``): the state the
   hardware should be in, conditional on other readings — ``CMPR.DRIVE`` should be ``RUNNING``
   while the cryostat is cold (an alarm otherwise: the compressor was not restarted after a
   power failure); the turbo pump reads *blocked* (FEMC status −3) while the backing pump is
   off, which is then expected, not a fault. Columns:

   ==========  ======================================================================
   point       catalog point name
   state       the expected display text (``RUNNING``, ``CLOSED``), case-insensitive;
               ``blocked`` matches a FEMC status −3 reading
   when        ``always``, or clauses joined by `` and ``: ``POINT<NUMBER`` (also
               ``<= > >=``), ``POINT==TEXT`` / ``POINT!=TEXT``, or ``cold`` (the
               end of pumping, :data:`COLD_BELOW_K`). A clause whose point has no
               good reading does not hold.
   otherwise   the limit when ``when`` holds and the reading is not ``state``:
               ``warn`` or ``alarm``; empty: try the next row, then the bounds
   source      where the expectation comes from; description: the reason shown
   ==========  ======================================================================

   For one point the rows are tried in order and the first whose ``when`` holds decides.

2. **Bounds** of numeric points: the catalog's ``nominal``/``warn``/``alarm`` columns
   (``points.csv``, ``limit_source`` says where each comes from) ...

3. ... **overridden by a site limits file**: ``$E2CKIT_SITE_LIMITS`` or the ``limits=``
   argument of :func:`~e2ckit.alarms`, :func:`~e2ckit.diagnose` and the ``--limits`` option
   of ``e2ckit check``/``e2ckit points``. A CSV file (UTF-8, a spreadsheet's byte-order mark
   allowed), ``#`` comments allowed::

       # site limits for the OSF, agreed 2026-11
       point,warn_high,alarm_high,source
       FEMC.TEMP0,5,,OSF cryogenics group
       E2C.PROCESSOR_TEMP,70,80,OSF electronics
       AMBSI.AMBIENT_TEMP,-,-,"no limits on board temperatures here"

   Columns: ``point`` (required) and any of ``nominal_low nominal_high warn_low warn_high
   alarm_low alarm_high source``. An empty cell keeps the catalog's value, ``-`` removes
   it; a template name (``AMBSI.AMBIENT_TEMP``) applies to that point on every node. Every
   error names the file, line and column (``site.csv:3:2: warn_high: 'five' is not a
   number``): an unknown point or column, a number that is not one, a point given twice,
   bounds in the wrong order (alarm outside warn).
"""

from __future__ import annotations

import csv
import io
import math
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.catalog import default_catalog
from e2ckit.catalog._point import bound_state
from e2ckit.errors import ValidationError
from e2ckit.usertext import read_user_text

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.catalog import Catalog

__all__ = [
    "BOUND_FIELDS",
    "COLD_BELOW_K",
    "SITE_ENV",
    "Bounds",
    "Expectation",
    "Finding",
    "Limits",
    "Reading",
    "cold_below_k",
    "interlock_k",
    "is_cold",
    "judge",
    "judge_rows",
    "judge_values",
    "limit_cells",
    "limits_in_force",
    "load_limits",
    "rejudge_rows",
    "safe_to_cool_mbar",
]

#: environment variable naming the site limits file
SITE_ENV = "E2CKIT_SITE_LIMITS"
BOUND_FIELDS = ("nominal_low", "nominal_high", "warn_low", "warn_high", "alarm_low", "alarm_high")
_SITE_COLUMNS = ("point", *BOUND_FIELDS, "source")
_CLAUSE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*\.[A-Za-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$")
_NODE_NAME = re.compile(r"^[A-Za-z0-9?]+\[[^\]]+\]\.([A-Za-z0-9_]+)$")


@dataclass(frozen=True)
class Reading:
    """One reading as the judges need it: value (NaN: none), text, status, and whether
    anything came back at all (``error`` None)."""

    value: float
    text: str = ""
    status: str = "ok"
    error: str | None = None

    @property
    def good(self) -> bool:
        return self.error is None and self.status == "ok" and not math.isnan(self.value)

    @property
    def blocked(self) -> bool:
        return self.error is None and self.status.startswith("blocked")


@dataclass(frozen=True)
class Bounds:
    """Numeric limits of one point and where they come from (None: no bound)."""

    nominal_low: float | None = None
    nominal_high: float | None = None
    warn_low: float | None = None
    warn_high: float | None = None
    alarm_low: float | None = None
    alarm_high: float | None = None
    source: str = ""

    def state(self, value: float) -> tuple[str, str | None]:
        """(``ok``/``warn``/``alarm``, which bound was crossed) for a good value; bounds are
        exclusive, as in the catalog (the same comparison as ``Point.limit_state``)."""
        state, field_ = bound_state(value, self.warn_low, self.warn_high, self.alarm_low, self.alarm_high)
        if field_ is None:
            return state, None
        level, side = field_.split("_")
        return state, f"{'>' if side == 'high' else '<'} {level} {getattr(self, field_):g}"

    @property
    def empty(self) -> bool:
        return all(getattr(self, f) is None for f in BOUND_FIELDS)


@dataclass(frozen=True)
class Clause:
    point: str
    op: str
    operand: float | str

    def holds(self, readings: Mapping[str, Reading]) -> bool:
        r = readings.get(self.point)
        if r is None or not r.good:
            return False
        if self.op in ("==", "!="):
            same = r.text.strip().lower() == str(self.operand).lower()
            return same if self.op == "==" else not same
        x, y = r.value, float(self.operand)  # type: ignore[arg-type]
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[self.op]


@dataclass(frozen=True)
class Expectation:
    """One row of ``expected.csv``."""

    point: str
    state: str
    when: tuple[Clause, ...]  # empty: always
    otherwise: str  # "", "warn" or "alarm"
    source: str
    description: str

    def applies(self, readings: Mapping[str, Reading]) -> bool:
        return all(c.holds(readings) for c in self.when)

    def met(self, r: Reading) -> bool:
        if self.state.lower() == "blocked":
            return r.blocked
        return r.good and r.text.strip().lower() == self.state.lower()

    @property
    def when_text(self) -> str:
        def operand(x: float | str) -> str:
            return f"{x:g}" if isinstance(x, float) else x

        return " and ".join(f"{c.point}{c.op}{operand(c.operand)}" for c in self.when) or "always"

    @property
    def text(self) -> str:
        """``RUNNING when FEMC.TEMP9<250 (else alarm)``, ``OK (else alarm)``."""
        cond = f" when {self.when_text}" if self.when else ""
        return f"{self.state}{cond}" + (f" (else {self.otherwise})" if self.otherwise else "")


def _fail(label: str, line: int, col: int, message: str) -> ValidationError:
    return ValidationError(f"{label}:{line}:{col}: {message}")


def _csv_rows(label: str, text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    rows = []
    try:
        for fields in reader:
            if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
                continue
            if not header:
                header = [f.strip() for f in fields]
                continue
            rows.append((reader.line_num, [f.strip() for f in fields]))
    except csv.Error as exc:
        raise _fail(label, reader.line_num, 1, f"not CSV: {exc}") from None
    return header, rows


def _parse_when(text: str, points: Mapping[str, Any], label: str, line: int, col: int) -> tuple[Clause, ...]:
    if text.strip().lower() in ("", "always"):
        return ()
    out = []
    for part in re.split(r"\s+and\s+", text.strip()):
        if part.strip().lower() == "cold":  # the one definition of "cold" (COLD_BELOW_K), not a copy
            out += [Clause(p, "<", k) for p, k in COLD_BELOW_K.items()]
            continue
        m = _CLAUSE.match(part)
        if not m:
            raise _fail(label, line, col, f"when: {part!r} is not POINT<NUMBER, POINT==TEXT or 'always'")
        name, op, operand = m.groups()
        if name not in points:
            raise _fail(label, line, col, f"when: unknown point {name!r}")
        if op in ("==", "!="):
            out.append(Clause(name, op, operand))
        else:
            try:
                out.append(Clause(name, op, float(operand)))
            except ValueError:
                raise _fail(label, line, col, f"when: {operand!r} is not a number") from None
    return tuple(out)


def load_expectations(cat: Catalog, label: str = "e2ckit/catalog/data/expected.csv", text: str | None = None) -> dict[str, list[Expectation]]:
    """The expected states, by point, from ``expected.csv`` (or ``text``)."""
    if text is None:
        text = (resources.files("e2ckit.catalog") / "data" / "expected.csv").read_text(encoding="utf-8")
    header, rows = _csv_rows(label, text)
    want = ["point", "state", "when", "otherwise", "source", "description"]
    if header != want:
        raise _fail(label, 1, 1, f"header must be {','.join(want)}")
    out: dict[str, list[Expectation]] = {}
    for line, f in rows:
        f = f + [""] * (len(want) - len(f))
        point, state, when, otherwise, source, description = f[:6]
        if point not in cat.points:
            raise _fail(label, line, 1, f"point: unknown point {point!r}")
        if not state:
            raise _fail(label, line, 2, "state: missing")
        if otherwise not in ("", "warn", "alarm"):
            raise _fail(label, line, 4, f"otherwise: {otherwise!r} is not warn, alarm or empty")
        clauses = _parse_when(when, cat.points, label, line, 3)
        out.setdefault(point, []).append(Expectation(point, state, clauses, otherwise, source, description))
    return out


def _site_number(text: str, label: str, line: int, col: int, name: str) -> float | None | str:
    if text == "":
        return "keep"
    if text == "-":
        return None
    try:
        value = float(text)
    except ValueError:
        raise _fail(label, line, col, f"{name}: {text!r} is not a number (or '-' to remove the bound)") from None
    if not math.isfinite(value):
        raise _fail(label, line, col, f"{name}: {text!r} is not a finite number")
    return value


def _check_order(b: Bounds, label: str, line: int, col: int, point: str) -> None:
    """alarm_low <= warn_low <= warn_high <= alarm_high and nominal_low <= nominal_high, where
    set (the nominal range is documentation: it does not judge readings)."""
    for names in (("alarm_low", "warn_low", "warn_high", "alarm_high"), ("nominal_low", "nominal_high")):
        chain = [(n, getattr(b, n)) for n in names if getattr(b, n) is not None]
        for (n1, v1), (n2, v2) in zip(chain, chain[1:], strict=False):
            if v1 > v2:
                raise _fail(label, line, col, f"{point}: {n1} {v1:g} is above {n2} {v2:g} (the bounds must nest: alarm outside warn)")


def read_site_limits(path: str | os.PathLike[str], cat: Catalog) -> dict[str, Bounds]:
    """The bounds a site file sets, by point name (catalog bounds with the file's changes)."""
    p = Path(path)
    label = str(p)
    text = read_user_text(p, "site limits file")  # a spreadsheet's byte-order mark is no column name
    header, rows = _csv_rows(label, text)
    if not header:
        raise _fail(label, 1, 1, "empty site limits file: need a header 'point,warn_high,...'")
    for i, h in enumerate(header, 1):
        if h not in _SITE_COLUMNS:
            raise _fail(label, 1, i, f"unknown column {h!r} (columns: {', '.join(_SITE_COLUMNS)})")
    if header.count("point") != 1 or len(set(header)) != len(header):
        dup = next((h for h in header if header.count(h) > 1), "point")
        raise _fail(label, 1, header.index(dup) + 1 if dup in header else 1, f"column {dup!r} must appear exactly once")
    out: dict[str, Bounds] = {}
    seen: dict[str, int] = {}
    for line, fields in rows:
        if len(fields) > len(header) and any(fields[len(header) :]):
            raise _fail(label, line, len(header) + 1, f"{len(fields)} fields, the header has {len(header)}")
        row = dict(zip(header, fields + [""] * (len(header) - len(fields)), strict=False))
        name = row["point"]
        pcol = header.index("point") + 1
        point = cat.points.get(name) or cat.templates.get(name)
        if point is None:
            import difflib

            close = difflib.get_close_matches(name, [*cat.points, *cat.templates], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise _fail(label, line, pcol, f"point: unknown point {name!r}{hint}")
        if name in seen:
            raise _fail(label, line, pcol, f"point: {name} is already set on line {seen[name]}")
        seen[name] = line
        base = _catalog_bounds(point)
        changes: dict[str, Any] = {}
        for f in BOUND_FIELDS:
            if f in row:
                v = _site_number(row[f], label, line, header.index(f) + 1, f)
                if v != "keep":
                    changes[f] = v
        if not changes:
            raise _fail(label, line, pcol, f"{name}: the row changes no bound (give a number, or '-' to remove one)")
        source = row.get("source") or f"site file {label}:{line}"
        b = replace(base, **changes, source=f"site: {source}")
        _check_order(b, label, line, pcol, name)
        out[name] = b
    return out


def _catalog_bounds(p: Any) -> Bounds:
    return Bounds(*(getattr(p, f) for f in BOUND_FIELDS), source=p.limit_source or "")


class Limits:
    """The limits and expected states in force: the catalog's, a site file's, ``expected.csv``.

    ``site``: a site limits file; None reads ``$E2CKIT_SITE_LIMITS`` (unset or empty: none);
    ``False``: ignore the variable.
    """

    def __init__(self, site: str | os.PathLike[str] | None | bool = None, catalog: Catalog | None = None) -> None:
        self.catalog = catalog if catalog is not None else default_catalog()
        if site is None:
            site = os.environ.get(SITE_ENV) or None
        if site is True:
            raise ValidationError("limits must be a site limits file path, None or False")
        self.site: Path | None = Path(site) if site else None
        self.site_bounds = read_site_limits(self.site, self.catalog) if self.site else {}
        self.expected = _expectations(self.catalog)

    def __repr__(self) -> str:
        return f"Limits(site={str(self.site) if self.site else None!r}, {len(self.site_bounds)} site overrides)"

    def _template_name(self, name: str) -> str | None:
        m = _NODE_NAME.match(name)
        return f"AMBSI.{m.group(1)}" if m else None

    def bounds(self, name: str) -> Bounds | None:
        """The bounds in force for a point name (node points take their template's)."""
        if name in self.site_bounds:
            return self.site_bounds[name]
        p = self.catalog.points.get(name)
        if p is None:
            t = self._template_name(name)
            if t is not None and t in self.site_bounds:
                return self.site_bounds[t]
            p = self.catalog.templates.get(t) if t else None
        return _catalog_bounds(p) if p is not None else None

    def judge(self, point: str, reading: Reading, readings: Mapping[str, Reading], limit: str = "ok") -> tuple[str, str, str]:
        """(limit, reason, source) of one reading, with the antenna's other ``readings`` for
        conditional expectations. ``limit`` is the reading's own (used for derived
        conditions and points without bounds). The reason is empty when all is well."""
        if reading.error is not None:
            return "unavailable", f"no reading: {reading.error}", ""
        for e in self.expected.get(point, ()):
            if not e.applies(readings):
                continue
            if e.met(reading):
                return "ok", "", e.source
            if e.otherwise:
                return e.otherwise, f"{reading.text or reading.status}: {e.description}", e.source
        if not reading.good:
            if limit == "unavailable" or reading.status != "ok":
                return "unavailable", reading.status if reading.status != "ok" else (reading.text or "no value"), ""
            return limit, reading.text, ""
        d = self.catalog.derived.get(point)
        if d is not None:
            return (limit, f"{reading.text}: {d.description}" if limit != "ok" else "", d.limit_source)
        b = self.bounds(point)
        if b is None or b.empty:
            return limit, (reading.text if limit != "ok" else ""), b.source if b else ""
        state, crossed = b.state(reading.value)
        if state == "ok":
            return "ok", "", b.source
        return state, f"{reading.text} {crossed}", b.source

    def table(self, points: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per monitor point: unit, the six bounds in force, their source and the
        expected states (``RUNNING when FEMC.TEMP9<250 (else alarm); ...``)."""
        import pandas as pd

        cat = self.catalog
        names = list(points) if points is not None else [n for n, p in cat.points.items() if p.kind == "monitor"]
        rows = []
        for n in names:
            p = cat.points.get(n) or cat.templates.get(n)
            b = self.bounds(n)
            exp = "; ".join(e.text for e in self.expected.get(n, ()))
            rows.append(
                (n, getattr(p, "unit", ""), *(getattr(b, f) if b else None for f in BOUND_FIELDS), b.source if b else "", exp)
            )
        df = pd.DataFrame(rows, columns=["point", "unit", *BOUND_FIELDS, "limit_source", "expected"])
        for f in BOUND_FIELDS:
            df[f] = df[f].astype("float64")
        return df


def load_limits(limits: Limits | str | os.PathLike[str] | None | bool = None, catalog: Catalog | None = None) -> Limits:
    """A :class:`Limits` from what a caller passed as ``limits=``: a Limits, a site file
    path, None (``$E2CKIT_SITE_LIMITS``) or False (no site file)."""
    if isinstance(limits, Limits):
        return limits
    if limits is not None and not isinstance(limits, (str, os.PathLike, bool)):
        raise ValidationError(f"limits must be a site limits file path, a Limits, None or False; got {limits!r}")
    if limits is True:
        raise ValidationError("limits must be a site limits file path, None or False")
    return limits_in_force(limits, catalog)


def limit_cells(points: Sequence[str], site: str | os.PathLike[str] | None = None) -> dict[str, list[Any]]:
    """For the ``points`` command (no pandas): per point ``[warn_low, warn_high, alarm_low,
    alarm_high, limit_source, expected]`` in force (None where unset)."""
    lim = limits_in_force(site)
    out = {}
    for n in points:
        b = lim.bounds(n)
        exp = "; ".join(e.text for e in lim.expected.get(n, ()))
        out[n] = [*(getattr(b, f) if b else None for f in ("warn_low", "warn_high", "alarm_low", "alarm_high")),
                  (b.source if b else "") or "", exp]  # fmt: skip
    return out


# -- the one judgement ------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le,
}  # fmt: skip
_SHOWN_OP = {">=": "≥", "<=": "≤"}


def _shown(value: float, op: str, bound: float, text: str = "") -> str:
    """The reading's own text, or ``value`` with just enough digits, such that the shown
    number compares with the shown bound as the value does (6.0004 > 6 is shown "6.0004",
    never "6.00")."""
    b = float(f"{bound:g}")
    try:
        if _OPS[op](float(text), b) == _OPS[op](value, bound):
            return text
    except ValueError:
        pass
    for digits in range(3, 18):
        text = f"{value:.{digits}g}"
        if _OPS[op](float(text), b) == _OPS[op](value, bound):
            return text
    return repr(value)


@dataclass(frozen=True)
class Finding:
    """Why a reading has its limit state, as data: ``point``, ``comparison`` (``>``, ``<``,
    ``>=``, ``<=``; ``is not`` for an expected state; ``outside`` for a value outside a valid
    range; ``""`` when nothing was compared), ``bound`` (a number, a state, or (low, high)),
    ``bound_name`` (``alarm_high``, ``expected``, ``valid``, ``threshold``), ``value``,
    ``text``. A derived condition (the LO-PA interlock) carries its inputs' findings in
    ``parts``. :meth:`claim` renders it; :meth:`holds` checks the claim against its numbers."""

    point: str
    state: str  # ok / warn / alarm / unavailable
    value: float = math.nan
    text: str = ""
    comparison: str = ""
    bound: Any = None
    bound_name: str = ""
    unit: str = ""
    source: str = ""
    why: str = ""  # the expected state's or condition's description, or the error
    parts: tuple[Finding, ...] = ()

    def holds(self) -> bool:
        """Whether the comparison is true of ``value``/``text`` and ``bound`` (and of every
        part); True when nothing was compared."""
        if not all(p.holds() for p in self.parts):
            return False
        if self.comparison in _OPS:
            return _OPS[self.comparison](self.value, self.bound)
        if self.comparison == "outside":
            low, high = self.bound
            return not ((low is None or self.value > low) and (high is None or self.value < high))
        if self.comparison == "is not":
            return self.text.strip().lower() != str(self.bound).strip().lower()
        return True

    def _measure(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.comparison in _OPS:
            level = self.bound_name.split("_")[0] + " " if self.bound_name.endswith(("_high", "_low")) else ""
            shown = _shown(self.value, self.comparison, self.bound, self.text)
            return f"{shown}{unit} {_SHOWN_OP.get(self.comparison, self.comparison)} {level}{self.bound:g}{unit}"
        if self.comparison == "outside":
            low, high = self.bound
            return f"{self.text or format(self.value, 'g')}{unit} invalid (valid only within {low:g} < T < {high:g}{unit})"
        return self.text or self.why

    @property
    def reason(self) -> str:
        """The claim without the point name (as ``alarms()`` and the reports show it beside
        the point); empty when the reading is ok."""
        if self.state == "ok":
            return ""
        if self.parts:
            return f"{self.why}: " + ", ".join(p.claim() for p in self.parts)
        if self.comparison == "is not":
            return f"{self.text}: {self.why}"
        if self.comparison:
            return self._measure()
        return self.why or self.text

    def claim(self) -> str:
        """One line saying what was found: ``FEMC.TEMP0 62 K > alarm 30 K``."""
        if self.comparison == "is not":
            return f"{self.point} {self.text} is not {self.bound} ({self.why})"
        return f"{self.point} {self.reason or self._measure()}".rstrip()


def _derived_finding(d: Any, point: str, reading: Reading, readings: Mapping[str, Reading], own: str) -> Finding:
    """A derived condition judged from its inputs, with one part per input."""
    inputs: dict[str, Any] = {}
    parts = []
    for name in d.inputs:
        r = readings.get(name)
        if r is None or r.error is not None:
            inputs[name] = None
            parts.append(Finding(name, "unavailable", why=f"no reading{': ' + r.error if r and r.error else ''}"))
            continue
        inputs[name] = (None if math.isnan(r.value) else r.value, r.status)
        if d._valid(inputs[name]):
            op = ">=" if r.value >= d.threshold else "<"
            parts.append(Finding(name, "ok", r.value, r.text, op, d.threshold, "threshold", d.unit or "K"))
        elif r.good:
            parts.append(Finding(name, "ok", r.value, r.text, "outside", (d.valid_low, d.valid_high), "valid", "K"))
        else:
            parts.append(Finding(name, "unavailable", r.value, r.text, why=r.status))
    if all(v is None for v in inputs.values()):
        return Finding(point, own, reading.value, reading.text, source=d.limit_source, why=d.description)
    dec = d.evaluate(inputs)
    state = dec.limit
    shown = [p for p in parts if state != "ok" or p.comparison == "<"]
    # the condition's name ("LO PAs blocked"), then each input's own comparison: the claims
    # are the inputs', never the description's general "both >= 30 K or invalid"
    name = d.description.split(":", 1)[0]
    return Finding(point, state, reading.value, dec.text, source=d.limit_source, why=name, parts=tuple(shown))


def _expected_finding(point: str, reading: Reading, readings: Mapping[str, Reading], limits: Limits) -> Finding | None:
    for e in limits.expected.get(point, ()):
        if not e.applies(readings):
            continue
        if e.met(reading):
            return Finding(point, "ok", reading.value, reading.text, source=e.source)
        if e.otherwise:
            shown = reading.text or reading.status
            return Finding(point, e.otherwise, reading.value, shown, "is not", e.state, "expected", source=e.source,
                           why=f"{e.description}" + (f"; expected {e.state} when {e.when_text}" if e.when else ""))  # fmt: skip
    return None


def judge(
    point: str,
    reading: Reading,
    readings: Mapping[str, Reading] | None = None,
    *,
    limits: Limits | None = None,
    own: str = "ok",
) -> Finding:
    """THE limit state of one reading, as a :class:`Finding`: ``state`` is ``ok``, ``warn``,
    ``alarm`` or ``unavailable``.

    ``readings``: the same antenna's other readings of the same cycle, for conditional
    expected states and derived conditions; ``limits``: the limits in force (default
    :func:`limits_in_force`: the catalog, ``$E2CKIT_SITE_LIMITS``, expected states);
    ``own``: the state the reading came with (used only for a point with no bounds and no
    expectation, e.g. a derived condition whose inputs were not read). Order: no reading →
    ``unavailable``; an expected state that applies; a bad status → ``unavailable``; a
    derived condition from its inputs; the bounds (exclusive, alarm before warn)."""
    lim = limits if limits is not None else limits_in_force()
    readings = readings if readings is not None else {point: reading}
    unit = getattr(lim.catalog.points.get(point), "unit", "")
    if reading.error is not None:
        return Finding(point, "unavailable", reading.value, reading.text, why=f"no reading: {reading.error}")
    expected = _expected_finding(point, reading, readings, lim)
    if expected is not None:
        return expected
    if not reading.good:
        if own == "unavailable" or reading.status != "ok":
            why = reading.status if reading.status != "ok" else (reading.text or "no value")
            return Finding(point, "unavailable", reading.value, reading.text, why=why)
        return Finding(point, own, reading.value, reading.text, why=reading.text)
    d = lim.catalog.derived.get(point)
    if d is not None:
        return _derived_finding(d, point, reading, readings, own)
    b = lim.bounds(point)
    if b is None or b.empty:
        return Finding(point, own, reading.value, reading.text, unit=unit, source=b.source if b else "", why=reading.text)
    state, field_ = bound_state(reading.value, b.warn_low, b.warn_high, b.alarm_low, b.alarm_high)
    if field_ is None:
        return Finding(point, "ok", reading.value, reading.text, unit=unit, source=b.source)
    op = ">" if field_.endswith("_high") else "<"
    return Finding(point, state, reading.value, reading.text, op, getattr(b, field_), field_, unit, b.source)


def judge_values(point: str, values: Any, limits: Limits | None = None) -> Any:
    """:func:`judge`'s state for many good readings of one point at once (a numpy array of
    states, ``unavailable`` for NaN): what the panels colour a trend or a heat map by. A
    point with an expected state or a derived condition is judged value by value; the
    others by their bounds in force, the comparison of :func:`bound_state`, vectorised
    (a property test checks the two agree)."""
    import numpy as np  # only the panels call this: numpy is loaded there already

    lim = limits if limits is not None else limits_in_force()
    v = np.asarray(values, dtype=float)
    state = np.full(v.shape, "ok", dtype=object)
    if point in lim.expected or point in lim.catalog.derived:
        for i, x in np.ndenumerate(v):
            state[i] = judge(point, Reading(float(x), f"{x:g}"), limits=lim).state if x == x else "unavailable"
        return state
    b = lim.bounds(point)
    if b is not None:
        with np.errstate(invalid="ignore"):
            # lowest priority first, so that an alarm overwrites a warn (bound_state's order)
            for level, low, high in (("warn", b.warn_low, b.warn_high), ("alarm", b.alarm_low, b.alarm_high)):
                if low is not None:
                    state[v < low] = level
                if high is not None:
                    state[v > high] = level
    state[np.isnan(v)] = "unavailable"
    return state


# -- the limits in force, loaded once ---------------------------------------------------------

_EXPECTED: dict[int, tuple[Any, dict[str, list[Expectation]]]] = {}
_IN_FORCE: dict[tuple[Any, ...], Limits] = {}


def _expectations(cat: Catalog) -> dict[str, list[Expectation]]:
    """``expected.csv`` parsed once per catalog (it ships with the package and does not change)."""
    hit = _EXPECTED.get(id(cat))
    if hit is None or hit[0] is not cat:
        hit = _EXPECTED[id(cat)] = (cat, load_expectations(cat))
    return hit[1]


def limits_in_force(site: str | os.PathLike[str] | None | bool = None, catalog: Catalog | None = None) -> Limits:
    """The :class:`Limits` in force, shared: built once per (catalog, site file as it is on
    disk), so a sweep, a logger cycle or a panel refresh does not read the files again; a
    site file that changes on disk (its size, inode or modification time) is read anew."""
    if catalog is None:
        catalog = default_catalog()
    if site is None:
        site = os.environ.get(SITE_ENV) or None
    key: tuple[Any, ...] = (id(catalog), None)
    if site and site is not True:
        try:
            st = os.stat(site)
            key = (id(catalog), os.fspath(site), st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return Limits(site, catalog)  # the error names the file
    hit = _IN_FORCE.get(key)
    if hit is None or hit.catalog is not catalog:
        if len(_IN_FORCE) > 32:
            _IN_FORCE.clear()
        hit = _IN_FORCE[key] = Limits(site if site else False, catalog)
    return hit


def interlock_k(catalog: Catalog | None = None) -> float:
    """The LO-PA interlock's temperature (K): the threshold of ``FEMC.LO_PA_BLOCKED`` in
    ``derived.csv`` (firmware paChannel.c, 30 K). The one home of the 30 K that
    ``analysis`` and ``recovery`` use; ``FEMC.TEMP0``'s alarm bound is checked against it."""
    if catalog is None:
        catalog = default_catalog()
    return float(catalog.derived["FEMC.LO_PA_BLOCKED"].threshold)


#: "Cold", the one definition: the end of pumping of FEControl ``OPTIMIZE/CryostatPumping``
#: (e2c-protocol.md §15): the 4K stage (TEMP0) below 5 K **and** the 15K stage (TEMP5) below
#: 30 K, both strictly and both valid readings. The recovery steps (``recovery.toml``'s
#: ``cold`` condition), ``recovery()``'s ``cold`` column and its ETA targets all read it here;
#: a site limits file does not move it (it is a procedure's rule, not a judgement's bound).
COLD_BELOW_K: Mapping[str, float] = {"FEMC.TEMP0": 5.0, "FEMC.TEMP5": 30.0}


def cold_below_k() -> dict[str, float]:
    """:data:`COLD_BELOW_K` as a new dict: point -> the bound (K) it must read below."""
    return dict(COLD_BELOW_K)


def is_cold(values: Mapping[str, float]) -> bool:
    """Whether ``values`` (point -> K; a missing or NaN reading is never cold) show the
    cryostat cold: every stage of :data:`COLD_BELOW_K` below its bound."""
    return all(float(values.get(p, math.nan)) < k for p, k in COLD_BELOW_K.items())


def safe_to_cool_mbar(catalog: Catalog | None = None) -> float:
    """The cryostat pressure (mbar) at or below which the front end lets the compressor cool:
    ``FEMC.CRYOSTAT_PRESSURE``'s alarm bound in ``points.csv`` (firmware, 5e-4 mbar)."""
    if catalog is None:
        catalog = default_catalog()
    return float(catalog.points["FEMC.CRYOSTAT_PRESSURE"].alarm_high)  # type: ignore[arg-type]


def judge_rows(rows: Sequence[Any], limits: Limits | None = None) -> list[Any]:
    """Tidy rows (:class:`~e2ckit.api.TidyRow`, one sweep) whose ``limit`` :func:`judge` gives
    differently from the catalog bounds ``Point.decode`` applied — points with an expected
    state or a site bound — replaced; the others returned as they are (a whole-array sweep
    pays no second judgement for them). The limits in force are loaded once per process."""
    lim = limits if limits is not None else limits_in_force()
    special: dict[str, bool] = {}

    def is_special(name: str) -> bool:
        hit = special.get(name)
        if hit is None:
            hit = special[name] = name in lim.expected or (
                bool(lim.site_bounds) and (name in lim.site_bounds or lim._template_name(name) in lim.site_bounds)
            )
        return hit

    touched = {r.antenna for r in rows if is_special(r.point)}
    if not touched:
        return list(rows)
    by_antenna: dict[str, dict[str, Reading]] = {}
    for r in rows:
        if r.antenna in touched:
            value = math.nan if r.value is None else float(r.value)
            by_antenna.setdefault(r.antenna, {})[r.point] = Reading(value, r.text or "", r.status or "ok", r.error)
    out = []
    for r in rows:
        if not special[r.point]:
            out.append(r)
            continue
        readings = by_antenna[r.antenna]
        # an expected "blocked" (the turbo while the backing pump is off) is ok, as alarms(),
        # diagnose() and the board judge it: one judgement, the same state everywhere
        state = judge(r.point, readings[r.point], readings, limits=lim, own=r.limit).state
        out.append(r if state == r.limit else r._replace(limit=state))
    return out


#: the former name of :func:`judge_rows`
rejudge_rows = judge_rows
