"""How the CLI writes data: one :class:`Table`, four formats, stdout or a file.

(The command modules check ``-o`` before anything is sent, with
:func:`e2ckit.cli.options.check_output`; a write that still fails — a full disk —
raises :class:`OutputError` naming the file.)

* ``table`` — a rich table when stdout is a terminal; otherwise (piped, redirected,
  ``-o x.txt``) a fixed-width plain-text table that never truncates a cell.
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
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("table", "csv", "json", "parquet")
_SUFFIX_FORMAT = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "table",
}
_STATE_STYLE = {"alarm": "bold red", "warn": "yellow", "unavailable": "dim", "error": "red"}


class OutputError(ValueError):
    """The requested output cannot be produced (bad format, parquet to a terminal)."""


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
        if v is None or v == "":
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


def plain(table: Table) -> str:
    """Fixed-width text: every cell whole, columns separated by two spaces."""
    if len(table.rows) == 1 and table.meta.get("vertical", True) and len(table.columns) > 4:
        table = _vertical(table)
    headers = [h.replace("\n", " ") for h in (table.headers or table.columns)]
    body = [[c.replace("\n", "; ") for c in row] for row in table.display_rows()]
    widths = [len(h) for h in headers]
    for row in body:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [_is_numeric_column([r[i] for r in body]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=False)
        ]
        return "  ".join(out).rstrip()

    lines = [line(headers), line(["-" * w for w in widths])]
    lines += [line(r) for r in body]
    return "\n".join(lines) + "\n"


def _rich(table: Table) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    if len(table.rows) == 1 and table.meta.get("vertical", True) and len(table.columns) > 4:
        table = _vertical(table)
    console = Console()
    rt = RichTable(title=table.title, header_style="bold", show_lines=False)
    body = table.display_rows()
    numeric = [_is_numeric_column([r[i] for r in body]) for i in range(len(table.columns))]
    for h, num in zip(table.headers or table.columns, numeric, strict=False):
        rt.add_column(h, overflow="fold", justify="right" if num else "left")
    for i, row in enumerate(body):
        states = table.states[i] if table.states else [None] * len(row)
        cells = []
        for c, s in zip(row, states, strict=False):
            style = _STATE_STYLE.get(s or "")
            cells.append(
                f"[{style}]{_escape(c)}[/]"
                if style and c
                else _escape(c)
                if c
                else ("[dim]—[/]" if s else "")
            )
        rt.add_row(*cells)
    console.print(rt)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
