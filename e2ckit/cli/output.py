"""How the CLI writes data: one :class:`Table`, four formats, stdout or a file.

(The command modules check ``-o`` before anything is sent, with
:func:`e2ckit.cli.options.check_output`; a write that still fails — a full disk —
raises :class:`OutputError` naming the file.)

* ``table`` — a rich table when stdout is a terminal; otherwise (piped, redirected,
  ``-o x.txt``) a fixed-width plain-text table. Both are laid out by :func:`layout` for
  the width (the terminal's; piped, ``$COLUMNS`` or 120): a table too wide comes in
  column groups that repeat the key column (the antenna), so no cell is ever wrapped
  or cut; long or repeated texts become short keys explained once below; warn / alarm
  / error cells carry a text marker (``!``, ``!!``, ``x``) besides their colour.
* ``csv`` / ``json`` — machine values (numbers as numbers, NaN as empty / null).
* ``parquet`` — a typed file via pyarrow; needs ``-o`` or a non-terminal stdout.

A Table carries machine ``rows`` and, separately, display ``text`` (``OPEN``,
``3.02``, ``blocked``) plus a limit state per cell for colouring. Nothing here
imports pandas; pyarrow only for parquet.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2ckit.errors import OutputError

FORMATS = ("table", "csv", "json", "parquet")
_SUFFIX_FORMAT = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "table",
}
#: ``expected``: a reading in its expected state (the turbo blocked while the backing pump
#: is off): dim, explained in the legend, never styled like a fault
_STATE_STYLE = {"alarm": "bold red", "warn": "yellow", "unavailable": "dim", "error": "red", "expected": "dim"}


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    text: list[list[str]] | None = None  # display form; default str(value)
    states: list[list[str | None]] | None = None  # ok / warn / alarm / unavailable / error
    title: str | None = None
    headers: list[str] | None = None  # display headers (with units); default columns
    meta: dict[str, Any] = field(default_factory=dict)

    def display_rows(self) -> list[list[str]]:
        if self.text is not None:
            return self.text
        return [[_display(v) for v in row] for row in self.rows]


def _display(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.6g}"
    if isinstance(v, (bytes, bytearray)):
        return v.hex(" ").upper()
    return str(v).replace("\n", "; ")


def _machine(v: Any) -> Any:
    """A JSON-friendly scalar: NaN/NA → None, bytes → hex, numpy/pandas scalars → Python."""
    if v is None:
        return None
    pd = sys.modules.get("pandas")
    if pd is not None and (v is pd.NA or v is pd.NaT):
        return None
    if hasattr(v, "item") and not isinstance(v, (bytes, bytearray, str)):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    return v


def resolve_format(fmt: str | None, output: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
        if fmt == "e2c":
            raise OutputError("--format e2c (e2c-client's text) is for monitor request, monitor nodes, "
                              "control request, tools temperature and tools revision --host")  # fmt: skip
        if fmt not in FORMATS:
            raise OutputError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    if output:
        return _SUFFIX_FORMAT.get(Path(output).suffix.lower(), "table")
    return "table"


def emit(table: Table, fmt: str | None = None, output: str | None = None) -> None:
    """Write ``table`` to ``output`` (a path) or stdout in ``fmt``."""
    fmt = resolve_format(fmt, output)
    if fmt == "parquet":
        data = _parquet_bytes(table)
        if output:
            _write(output, data)
        elif sys.stdout.isatty():
            raise OutputError("parquet is binary: give -o FILE or redirect stdout")
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return
    if fmt == "table" and output is None and sys.stdout.isatty():
        _rich(table)
        return
    if fmt == "table":
        text = plain(table)
    elif fmt == "csv":
        text = _csv(table)
    else:
        text = (
            json.dumps(
                [dict(zip(table.columns, map(_machine, r), strict=False)) for r in table.rows],
                indent=1,
            )
            + "\n"
        )
    if output:
        _write(output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _write(output: str, data: bytes) -> None:
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write -o {output}: {exc.strerror or exc}") from None


def _csv(table: Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.columns)
    for row in table.rows:
        w.writerow(["" if (m := _machine(v)) is None else m for v in row])
    return buf.getvalue()


def _parquet_bytes(table: Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for i in range(len(table.columns)):
        values = [_parquet_value(r[i]) for r in table.rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds (3 and "per antenna"): as text
            arrays.append(pa.array([None if v is None else _display(v) for v in values], pa.string()))
    t = pa.table(arrays, names=list(table.columns))
    buf = io.BytesIO()
    pq.write_table(t, buf, compression="zstd")
    return buf.getvalue()


def _parquet_value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    m = _machine(v)
    return m


def _is_numeric_column(values: Sequence[Any]) -> bool:
    seen = False
    for v in values:
        if v is None or v == "" or v == "—":  # empty, or a reading that is not there
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            seen = True
            continue
        try:
            float(str(v))
            seen = True
        except ValueError:
            return False
    return seen


def _vertical(table: Table) -> Table:
    """A one-row table shown as field/value lines (easier to read than one wide row)."""
    headers = table.headers or table.columns
    text = table.display_rows()[0]
    states = table.states[0] if table.states else [None] * len(headers)
    return Table(
        ["field", "value"],
        [[h, t] for h, t in zip(headers, text, strict=False)],
        states=[[None, s] for s in states],
        title=table.title,
    )


def plain(table: Table, width: int | None = None) -> str:
    """Fixed-width text in ``width`` columns (default :func:`output_width`): column
    groups that each fit, every cell whole, columns separated by two spaces, warn /
    alarm / error marked with text (:data:`MARKERS`), long texts explained once below."""
    width = output_width() if width is None else width
    lay = layout(table, width)
    lines: list[str] = []
    for g, cols in enumerate(lay.groups):
        if g:
            lines.append("")
        if len(lay.groups) > 1:
            lines.append(_group_title(lay, g) or "")

        def line(cells: Sequence[str], cols: list[int] = cols) -> str:
            out = [
                c.rjust(lay.widths[i]) if lay.numeric[i] else c.ljust(lay.widths[i])
                for c, i in zip(cells, cols, strict=True)
            ]
            return "  ".join(out).rstrip()

        lines.append(line([lay.headers[i] for i in cols]))
        lines.append(line(["-" * lay.widths[i] for i in cols]))
        for r in lay.body:
            parts = [r[i].split("\n") for i in cols]  # a wrapped description: several lines
            for k in range(max(len(p) for p in parts)):
                lines.append(line([p[k] if k < len(p) else "" for p in parts]))
    legend = legend_lines(lay.legend, 10**6 if table.meta.get("wide") else width)
    if legend:
        lines += ["", *legend]
    return "\n".join(lines) + "\n"


def render_rich(table: Table, console: Any) -> None:
    """``table`` on a rich ``console``: the same layout as :func:`plain` (groups that
    fit ``console.width``, no cell ever wrapped), drawn with borders and colours."""
    from rich.table import Table as RichTable
    from rich.text import Text

    lay = layout(table, console.width, sep=3, edge=4)
    for g, cols in enumerate(lay.groups):
        title = _group_title(lay, g)
        rt = RichTable(title=None if title is None else Text(title), header_style="bold", show_lines=False)
        for i in cols:
            head = lay.headers[i].rjust(lay.widths[i]) if lay.numeric[i] else lay.headers[i]
            rt.add_column(Text(head), no_wrap=True, overflow="ignore", min_width=lay.widths[i])
        for row, states in zip(lay.body, lay.states, strict=True):
            cells = []
            for i in cols:
                style = _STATE_STYLE.get(states[i] or "") or ""
                if row[i] == "—":
                    style = "dim"
                # justified here, as in plain text: rich would strip the padding that
                # keeps the digits aligned when a marker follows some of them
                pad = " " * (lay.widths[i] - len(row[i])) if lay.numeric[i] else ""
                cells.append(Text.assemble(pad, (row[i], style)))
            rt.add_row(*cells)
        console.print(rt)
    for ln in legend_lines(lay.legend, 10**6 if table.meta.get("wide") else console.width):
        console.print(Text(ln, style="dim"), soft_wrap=True)


def _rich(table: Table) -> None:
    from rich.console import Console

    render_rich(table, Console(width=output_width(), highlight=False))


# -- layout: a table that fits the width, every value whole ------------------------------------

#: text markers for limit states, shown in plain text and on a terminal alike (colour
#: alone is lost in a pipe, a log file or for a colour-blind reader)
MARKERS = {"warn": "!", "alarm": "!!", "error": "x"}
_MARKER_NAMES = {"!": "warn (outside the warn limits)", "!!": "alarm (outside the alarm limits)",
                 "x": "error"}  # fmt: skip
#: a display value longer than this that appears more than once is shown as a short key
#: with its text once in a legend below the table
REPEAT_MAX = 32
#: a status text ending in its code ("blocked: ... (-3)") longer than this is shown as
#: its code and first word ("-3 blocked")
CODED_MAX = 16
#: the narrowest a prose column (a description) is wrapped to beside the other columns
PROSE_MIN = 30
DEFAULT_WIDTH = 120  # piped output, when $COLUMNS is not set
MIN_WIDTH = 40
# a status text that ends in its code, as the catalog words FEMC statuses:
# "blocked: hardware state, interlock, ... (-3)" → key "-3 blocked"
_CODED = re.compile(r"^(?P<word>[A-Za-z][\w-]*)[^()]*\((?P<code>-?\d+)\)$")


def output_width(stream: Any = None) -> int:
    """Columns to lay a table out in: the terminal's on a terminal, else ``$COLUMNS``,
    else :data:`DEFAULT_WIDTH` (a pipe has no width; 120 keeps rows readable in a pager
    or a log file). Never less than :data:`MIN_WIDTH`."""
    stream = sys.stdout if stream is None else stream
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    try:
        if stream.isatty():
            cols = os.get_terminal_size(stream.fileno()).columns
            if cols > 0:
                return max(MIN_WIDTH, cols)
    except (OSError, ValueError, AttributeError):
        pass
    return DEFAULT_WIDTH


@dataclass
class Layout:
    """A table laid out for a width: column groups that each fit, cells short enough,
    and the legend (markers and long texts) to print once below."""

    headers: list[str]
    body: list[list[str]]
    states: list[list[str | None]]
    numeric: list[bool]
    widths: list[int]
    groups: list[list[int]]  # column indices per group, key columns first
    legend: list[tuple[str, str]]  # (key, text) in order of first use
    title: str | None


def layout(table: Table, width: int, *, sep: int = 2, edge: int = 0) -> Layout:
    """Decide how ``table`` is drawn in ``width`` columns.

    ``sep``: columns between two cells (2 in plain text, 3 for rich's ``│`` and
    padding); ``edge``: columns outside the cells (rich's outer borders). A table wider
    than ``width`` is split into column groups, each repeating the key columns (the
    antenna), so a value is never wrapped or cut. A long text (an error summary) or a
    repeated one (the same FEMC status in every row) becomes a short key explained once
    in the legend; warn / alarm / error cells carry a text marker (:data:`MARKERS`).
    """
    if len(table.rows) == 1 and table.meta.get("vertical", True) and len(table.columns) > 4:
        table = _vertical(table)
    headers = [h.replace("\n", " ") for h in (table.headers or table.columns)]
    body = [[c.replace("\n", "; ") for c in row] for row in table.display_rows()]
    n = len(headers)
    states = [list(s) + [None] * (n - len(s)) for s in table.states] if table.states else [[None] * n for _ in body]
    key = [i for i in table.meta.get("key", [0]) if i < n] or [0]
    numeric = [_is_numeric_column([r[i] for r in body]) for i in range(n)]
    keyw = sum(max([len(headers[i])] + [len(r[i]) for r in body]) for i in key) + sep * len(key) + edge
    cell_max = max(8, width - keyw - 3)
    # prose (a description) is wrapped inside its column, beside the others when at
    # least PROSE_MIN columns are left for it, else in a group of its own
    prose = {i for i, c in enumerate(table.columns) if c in table.meta.get("wrap", ()) and i not in key}
    _wrap_prose(headers, body, prose, width, sep, edge, cell_max)
    legend = _shorten(body, key, prose, cell_max)
    used_markers = _mark(body, states, numeric)
    widths = [max([len(headers[i])] + [_cell_width(r[i]) for r in body]) for i in range(n)]
    groups = _column_groups(widths, key, width, sep, edge)
    items = [(m, _MARKER_NAMES[m]) for m in ("!", "!!", "x") if m in used_markers]
    items += [(k, t) for t, k in legend.items()]
    items += list(table.meta.get("notes", []))  # e.g. why some readings are as expected
    return Layout(headers, body, states, numeric, widths, groups, items, table.title)


def _wrap_prose(headers: list[str], body: list[list[str]], prose: set[int], width: int, sep: int, edge: int,
                cell_max: int) -> None:  # fmt: skip
    """Wrap the prose columns' cells, in place, to the room the other columns leave."""
    if not prose:
        return
    n = len(headers)
    others = sum(max([len(headers[i])] + [len(r[i]) for r in body]) + sep for i in range(n) if i not in prose)
    room = width - others - edge - sep * (len(prose) - 1)
    room = room // len(prose) if room // len(prose) >= PROSE_MIN else cell_max
    for row in body:
        for i in prose:
            if len(row[i]) > room:
                row[i] = "\n".join(textwrap.wrap(row[i], room, break_on_hyphens=False)) or row[i]


def _shorten(body: list[list[str]], key: list[int], prose: set[int], cell_max: int) -> dict[str, str]:
    """Long and repeated texts → short keys (in place); the legend, text → key."""
    counts: dict[str, int] = {}
    for row in body:
        for i, c in enumerate(row):
            if i not in key:
                counts[c] = counts.get(c, 0) + 1
    legend: dict[str, str] = {}
    used_keys: set[str] = set()

    def short(text: str) -> str:
        if text in legend:
            return legend[text]
        m = _CODED.match(text)
        if m and len(text) > CODED_MAX:
            k = f"{m['code']} {m['word']}"
        else:
            k = f"[{sum(1 for v in legend.values() if v.startswith('['))+1}]"
        while k in used_keys:
            k += "'"
        legend[text] = k
        used_keys.add(k)
        return k

    for row in body:
        for i, c in enumerate(row):
            if i in key or i in prose:
                continue
            if len(c) > cell_max or (len(c) > REPEAT_MAX and counts.get(c, 0) > 1) or (
                _CODED.match(c) and len(c) > CODED_MAX):
                row[i] = short(c)
    return legend


def _mark(body: list[list[str]], states: list[list[str | None]], numeric: list[bool]) -> list[str]:
    """Markers after the value (in numbers, in a column of their own width so that the
    digits stay aligned); an error's before its text. The markers used, in order."""
    used: list[str] = []
    marked = {i for st in states for i, s in enumerate(st) if s in ("warn", "alarm")}
    for row, st in zip(body, states, strict=False):
        for i, s in enumerate(st):
            mark = MARKERS.get(s or "")
            if mark is not None and mark not in used:
                used.append(mark)
            if s == "error":
                row[i] = f"{mark} {row[i]}"
                continue
            if s and not row[i]:
                row[i] = "—"  # a reading that is not there: a dash, not a blank
            if i in marked:
                tail = f" {mark}" if mark else ""
                row[i] = f"{row[i]}{tail:<3}" if numeric[i] else (f"{row[i]}{tail}" if row[i] else mark or "")
    return used


def _column_groups(widths: list[int], key: list[int], width: int, sep: int, edge: int) -> list[list[int]]:
    """Column groups that each fit ``width``, the key columns first in every one."""
    groups: list[list[int]] = []
    cur: list[int] = []
    base = sum(widths[i] for i in key) + sep * (len(key) - 1) + edge
    used = base
    for i in (i for i in range(len(widths)) if i not in key):
        cost = sep + widths[i]
        if cur and used + cost > width:
            groups.append(key + cur)
            cur, used = [], base
        cur.append(i)
        used += cost
    if cur or not groups:
        groups.append(key + cur)
    return groups


def _cell_width(text: str) -> int:
    return max(len(part) for part in text.split("\n"))


def legend_lines(items: list[tuple[str, str]], width: int) -> list[str]:
    """The legend below a table, wrapped to ``width`` (a key, then its text)."""
    if not items:
        return []
    kw = max(len(k) for k, _ in items)
    out = []
    for k, text in items:
        out += textwrap.wrap(
            text, width=max(20, width), initial_indent=f"  {k.ljust(kw)}  ",
            subsequent_indent=" " * (kw + 4), break_on_hyphens=False,
        )  # fmt: skip
    return out


def _group_title(lay: Layout, g: int) -> str | None:
    if len(lay.groups) == 1:
        return lay.title
    return f"{lay.title or 'columns'} ({g + 1}/{len(lay.groups)})"
