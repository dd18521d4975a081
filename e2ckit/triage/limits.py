"""Limits and expected states: what a reading should be, where that comes from, and a site's own.

Three sources, applied in this order to a reading (:meth:`Limits.judge`):

1. **Expected states** of enumerated points (``expected.csv`` beside this file): the state the
   hardware should be in, conditional on other readings — ``CMPR.DRIVE`` should be ``RUNNING``
   while the cryostat is cold (an alarm otherwise: the compressor was not restarted after a
   power failure); the turbo pump reads *blocked* (FEMC status −3) while the backing pump is
   off, which is then expected, not a fault. Columns:

   ==========  ======================================================================
   point       catalog point name
   state       the expected display text (``RUNNING``, ``CLOSED``), case-insensitive;
               ``blocked`` matches a FEMC status −3 reading
   when        ``always``, or clauses joined by `` and ``: ``POINT<NUMBER`` (also
               ``<= > >=``) or ``POINT==TEXT`` / ``POINT!=TEXT``. A clause whose
               point has no good reading does not hold.
   otherwise   the limit when ``when`` holds and the reading is not ``state``:
               ``warn`` or ``alarm``; empty: try the next row, then the bounds
   source      where the expectation comes from; description: the reason shown
   ==========  ======================================================================

   For one point the rows are tried in order and the first whose ``when`` holds decides.

2. **Bounds** of numeric points: the catalog's ``nominal``/``warn``/``alarm`` columns
   (``points.csv``, ``limit_source`` says where each comes from) ...

3. ... **overridden by a site limits file**: ``$E2CKIT_SITE_LIMITS`` or the ``limits=``
   argument of :func:`~e2ckit.alarms`, :func:`~e2ckit.diagnose` and the ``--limits`` option
   of ``e2ckit check``/``e2ckit points``. A CSV file, ``#`` comments allowed::

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
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.catalog import Catalog

__all__ = [
    "BOUND_FIELDS",
    "SITE_ENV",
    "Bounds",
    "Expectation",
    "Limits",
    "Reading",
    "limit_cells",
    "load_limits",
    "rejudge_rows",
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
        exclusive, as in the catalog."""
        for level in ("alarm", "warn"):
            high, low = getattr(self, f"{level}_high"), getattr(self, f"{level}_low")
            if high is not None and value > high:
                return level, f"> {level} {high:g}"
            if low is not None and value < low:
                return level, f"< {level} {low:g}"
        return "ok", None

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


def load_expectations(cat: Catalog, label: str = "e2ckit/triage/expected.csv", text: str | None = None) -> dict[str, list[Expectation]]:
    """The expected states, by point, from ``expected.csv`` (or ``text``)."""
    if text is None:
        text = (resources.files("e2ckit.triage") / "expected.csv").read_text(encoding="utf-8")
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
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{label}: site limits file is not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(f"cannot read site limits file {label}: {exc.strerror or exc}") from None
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
        from e2ckit.catalog import default_catalog

        self.catalog = catalog if catalog is not None else default_catalog()
        if site is None:
            site = os.environ.get(SITE_ENV) or None
        if site is True:
            raise ValidationError("limits must be a site limits file path, None or False")
        self.site: Path | None = Path(site) if site else None
        self.site_bounds = read_site_limits(self.site, self.catalog) if self.site else {}
        self.expected = load_expectations(self.catalog)

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
    return Limits(limits, catalog)


def limit_cells(points: Sequence[str], site: str | os.PathLike[str] | None = None) -> dict[str, list[Any]]:
    """For the ``points`` command (no pandas): per point ``[warn_low, warn_high, alarm_low,
    alarm_high, limit_source, expected]`` in force (None where unset)."""
    lim = Limits(site)
    out = {}
    for n in points:
        b = lim.bounds(n)
        exp = "; ".join(e.text for e in lim.expected.get(n, ()))
        out[n] = [*(getattr(b, f) if b else None for f in ("warn_low", "warn_high", "alarm_low", "alarm_high")),
                  (b.source if b else "") or "", exp]  # fmt: skip
    return out


def rejudge_rows(rows: Sequence[Any], limits: Limits | None = None) -> list[Any]:
    """Tidy rows (:class:`~e2ckit.api.TidyRow`, one sweep) with their ``limit`` judged again by
    the expected states and the site limits in force; rows that do not change are returned as
    they are. One call after ``_tidy_rows`` makes every sweep's limit column (and ``style()``,
    the CLI colours) show a compressor left off as an alarm."""
    lim = limits if limits is not None else Limits()
    # Only points with an expected state or a site bound can be judged differently from
    # the catalog limit the row already has: the rest are passed through untouched
    # (a whole-array sweep must not pay a judgement per reading).
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
            value = float("nan") if r.value is None else float(r.value)
            by_antenna.setdefault(r.antenna, {})[r.point] = Reading(value, r.text or "", r.status or "ok", r.error)
    out = []
    for r in rows:
        if not special[r.point]:
            out.append(r)
            continue
        readings = by_antenna[r.antenna]
        state, _, _ = lim.judge(r.point, readings[r.point], readings, r.limit)
        if state == r.limit or (r.limit == "unavailable" and state == "ok"):
            # an expected "blocked" (the turbo while the backing pump is off) is fine,
            # but the row still has no value: it stays unavailable
            out.append(r)
        else:
            out.append(r._replace(limit=state))
    return out
