"""Results as :class:`~e2ckit.cli.output.Table`: the wide table of a sweep (display text
with limit states, machine values numeric), tidy rows, a DataFrame, and writing one out."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from e2ckit.cli.guard import err
from e2ckit.cli.lookups import catalog
from e2ckit.cli.output import Table, emit, resolve_format

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.api import TidyRow


def _short_names(points: list[str]) -> dict[str, str]:
    """Drop a prefix that every point of the table shares (``FEMC.``) from headers."""
    if len(points) < 2:
        return {p: p for p in points}
    prefix = os.path.commonprefix(points)
    cut = prefix.rfind(".") + 1
    return {p: p[cut:] if cut and p[cut:] else p for p in points}


def wide_table(rows: list[TidyRow], title: str | None = None, host_of: dict[str, str] | None = None) -> Table:
    """One row per antenna, one column per point: display text with limit colours,
    machine values numeric (text for points that have no number, such as revisions).

    ``rows``: tidy rows from ``api.sweep_rows`` (no pandas on this path)."""
    from e2ckit.api import wide_parts  # lazy: pulls the transport; keeps --help fast

    w = wide_parts(rows)
    points = w.points
    short = _short_names(points)
    numeric = {
        p: any(row[j] == row[j] for row in w.values) or not any(w.text.get(a, {}).get(p) for a in w.antennas)
        for j, p in enumerate(points)
    }
    columns = ["antenna", *points, "error"]
    headers = [
        "antenna",
        *[f"{short[p]} [{w.units[p]}]" if w.units.get(p) else short[p] for p in points],
        "error",
    ]
    if host_of:
        columns.insert(1, "host")
        headers.insert(1, "host")
    expected = expected_readings(rows)
    out_rows, text, states = [], [], []
    for a, values, error in zip(w.antennas, w.values, w.errors, strict=True):
        texts, limits = w.text.get(a, {}), w.limits.get(a, {})
        vals = [(float(v) if numeric[p] else (texts.get(p) or None)) for p, v in zip(points, values, strict=True)]
        shown = [texts.get(p) or ("" if limits.get(p) != "unavailable" else "—") for p in points]
        st = ["expected" if (a, p) in expected else limits.get(p) for p in points]
        lead = [a] + ([host_of.get(a, "")] if host_of else [])
        out_rows.append([*lead, *vals, error])
        text.append([*lead, *shown, error or ""])
        states.append([None] * len(lead) + st + ["error" if error else None])
    t = Table(columns, out_rows, text=text, states=states, title=title, headers=headers)
    t.meta["key"] = [0, 1] if host_of else [0]  # repeated in every column group
    t.meta["notes"] = _expected_notes(expected, short)
    return _machine_columns(t, rows, points, len(columns) - len(points) - 1)


def expected_readings(rows: list[TidyRow]) -> dict[tuple[str, str], str]:
    """(antenna, point) → why, for readings that look odd but are in their expected state
    (the turbo pump blocked, -3, while the backing pump is off in cold operation).

    The expected states and their conditions are the judgement's (expected.csv, read by
    :mod:`e2ckit.catalog.limits`): this only asks them."""
    odd = [r for r in rows if r.status != "ok" and (r.error is None or r.error != r.error)]
    if not odd:
        return {}
    from e2ckit.catalog.limits import (  # loads expected.csv: only when something looks odd
        Limits,
        Reading,
    )

    lim = Limits()
    by_antenna: dict[str, dict[str, Any]] = {}
    for r in rows:
        value = float("nan") if r.value is None else float(r.value)
        by_antenna.setdefault(r.antenna, {})[r.point] = Reading(value, r.text or "", r.status or "ok", r.error)
    out = {}
    for r in odd:
        readings = by_antenna[r.antenna]
        for e in lim.expected.get(r.point, ()):
            if e.applies(readings):
                if e.met(readings[r.point]):
                    out[(r.antenna, r.point)] = e.description
                break
    return out


def _expected_notes(expected: dict[tuple[str, str], str], short: dict[str, str]) -> list[tuple[str, str]]:
    """Legend lines: which points read as expected, and why (one line per reason)."""
    why: dict[str, list[str]] = {}
    for (_a, p), text in expected.items():
        names = why.setdefault(text, [])
        if short.get(p, p) not in names:
            names.append(short.get(p, p))
    return [("expected", f"{', '.join(ps)}: {text}; the expected state, not a fault (shown dim)")
            for text, ps in why.items()]  # fmt: skip


#: catalog dtypes whose readings are text, never a number (revisions, raw bytes)
TEXT_DTYPES = frozenset({"version", "bytes"})


def _machine_columns(t: Table, rows: list[TidyRow], points: list[str], lead: int) -> Table:
    """What ``-o``/csv/json/parquet get from a wide table: numbers stay numbers, an enum is
    its label (``OFF``, not 0.0), and a reading with no number (blocked, a sentinel such as
    "minimum on-time elapsed") leaves its cell empty and says why in ``<point>.note``.
    The screen keeps the display text."""
    cat = catalog()
    reading = {(r.antenna, r.point): r for r in rows}

    def kind(p: str) -> str:
        try:
            pt = cat.point(p)
        except Exception:  # a derived point: the catalog computes it, no dtype to go by
            return "number"
        return "label" if pt.enum else ("text" if pt.dtype in TEXT_DTYPES else "number")

    kinds = {p: kind(p) for p in points}

    def note(r: TidyRow | None) -> str | None:
        if r is None or (r.error is not None and r.error == r.error):
            return None  # a failed reading: the error column says why
        if r.status != "ok":
            return str(r.status)
        return r.text if r.value != r.value and r.text and kinds[r.point] != "text" else None

    notes = {p: [note(reading.get((row[0], p))) for row in t.rows] for p in points}
    noted = [p for p in points if any(notes[p])]
    columns, out = list(t.columns), []
    for i, row in enumerate(t.rows):
        vals = list(row)
        for j, p in enumerate(points):
            r = reading.get((row[0], p))
            ok = r is not None and r.status == "ok" and (r.error is None or r.error != r.error)
            if kinds[p] == "label":
                vals[lead + j] = r.text if ok and r.value == r.value else None  # type: ignore[union-attr]
            elif kinds[p] == "text":
                vals[lead + j] = r.text if ok else None  # type: ignore[union-attr]
            else:
                vals[lead + j] = r.value if ok and r.value == r.value else None  # type: ignore[union-attr]
        out.append(vals + [notes[p][i] for p in noted])
    if not noted:
        t.rows = out
        return t
    t.meta["display_columns"] = list(range(len(columns)))
    t.columns, t.rows = columns + [f"{p}.note" for p in noted], out
    return t


def rows_table(rows: list[TidyRow], title: str | None = None) -> Table:
    """Tidy rows as a Table: one line per (antenna, point), time in ISO 8601, raw in hex."""
    from e2ckit.api import TIDY_COLUMNS  # lazy: pulls the transport; keeps --help fast

    out = [
        list(
            r._replace(
                time=datetime.fromtimestamp(r.time, tz=timezone.utc).isoformat(timespec="microseconds"),
                raw=None if r.raw is None else bytes(r.raw).hex(),
            )
        )
        for r in rows
    ]
    t = Table(list(TIDY_COLUMNS), out, title=title)
    t.meta["key"] = [TIDY_COLUMNS.index("antenna"), TIDY_COLUMNS.index("point")]
    return t


def frame_table(df: pd.DataFrame, title: str | None = None, hide: tuple[str, ...] = ()) -> Table:
    """A plain DataFrame as a Table (every column; ``hide`` only from the display)."""
    cols = [str(c) for c in df.columns]
    rows = [list(r) for r in df.itertuples(index=False, name=None)]
    t = Table(cols, rows, title=title)
    if hide:
        keep = [i for i, c in enumerate(cols) if c not in hide]
        shown = t.display_rows()
        t.text = [[r[i] for i in keep] for r in shown]
        t.headers = [cols[i] for i in keep]
        t.meta["display_columns"] = keep
    return t


def drop_column(table: Table, name: str) -> Table:
    i = table.columns.index(name)

    def cut(rows: list[list[Any]] | None) -> list[list[Any]] | None:
        return None if rows is None else [r[:i] + r[i + 1 :] for r in rows]

    table.columns = table.columns[:i] + table.columns[i + 1 :]
    if table.headers:
        table.headers = table.headers[:i] + table.headers[i + 1 :]
    table.rows = cut(table.rows) or []
    table.text = cut(table.text)
    table.states = cut(table.states)
    return table


def emit_table(table: Table, fmt: str | None, output: str | None, wide: bool = False) -> None:
    """Write ``table`` (stdout or ``-o``) and say where on stderr; ``wide``: every legend
    text on one line (else wrapped to the width, never cut)."""
    table.meta["wide"] = wide
    if (
        table.headers is not None
        and len(table.headers) != len(table.columns)
        and resolve_format(fmt, output) == "table"
    ):
        # a display that hides columns: render the display-only view
        keep = table.meta.get("display_columns")
        table = Table(table.headers, [[r[i] for i in keep] for r in table.rows], text=table.text,
                      states=table.states, title=table.title, meta=dict(table.meta))  # fmt: skip
    emit(table, fmt, output)
    if output:
        err(f"wrote {len(table.rows)} rows to {output}")
