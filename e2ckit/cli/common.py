"""What the command modules share beyond options: the guard that turns every failure
into one line and an exit status, where to talk (``--host``, the active array), the
catalog look-ups, tables built from results, and the exit status of a set of readings."""

from __future__ import annotations

import functools
import ipaddress
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from e2ckit.array import DEFAULT_PORT, Array, Endpoint, default_array
from e2ckit.cli.options import (
    ANTENNA_RE,
    EXACT_ANTENNA_RE,
    EXIT_BAD_INPUT,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    BadInput,
    check_port,
    exit_status_of,
    check_timing,
)
from e2ckit.cli.output import OutputError, Table, emit, resolve_format
from e2ckit.cli.summary import UNDECODED as _UNDECODED
from e2ckit.errors import AuditError, E2CKitError, Failure, TransportError, ValidationError

try:  # typer >= 0.16 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # noqa: F401 (app uses it)
except ImportError:  # pragma: no cover - typer on click
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[no-redef]  # noqa: F401

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit.api import TidyRow

#: decode statuses of a reply that arrived but could not be read as its point: the
#: reading failed although nothing says "error" (exit status 1, not 0)
UNDECODED = _UNDECODED


class WholeHelp(TyperGroup):
    """A command group whose ``--help`` shows each command's first sentence whole
    (wrapped to the terminal) instead of cutting it at the line's end with "..."."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def err(message: str) -> None:
    """One line on stderr, prefixed ``e2ckit:``."""
    typer.echo(f"e2ckit: {message}", err=True)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into one line on stderr and a documented exit status.

    Bad input (ours, the library's ValidationError, an unwritable output, an audit log
    that cannot be written) is 2; no connection at all is 3; any other library error
    or OSError is 1. Anything else is a bug, still reported in one line (exit 1).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, ClickException):
            raise  # typer's own: the root group prints them in one line
        except (BadInput, ValidationError, OutputError, AuditError) as exc:
            err(f"error: {one_line(exc)}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except TransportError as exc:
            err(f"error: {one_line(exc)}")
            raise typer.Exit(EXIT_NOTHING) from None
        except E2CKitError as exc:
            err(f"error: {one_line(exc)}")
            raise typer.Exit(EXIT_PARTIAL) from None
        except KeyError as exc:  # a catalog look-up that missed
            err(f"error: unknown name {exc.args[0] if exc.args else exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BrokenPipeError:
            # `e2ckit ... | head`: the reader went away; not an error worth a traceback.
            with _suppress():
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            raise typer.Exit(EXIT_OK) from None
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            err(f"error:{where}: {exc.strerror or one_line(exc)}")
            raise typer.Exit(EXIT_PARTIAL) from None
        except Exception as exc:  # a bug: one line, never a traceback
            err(f"internal error: {type(exc).__name__}: {one_line(exc)} (please report this)")
            raise typer.Exit(EXIT_PARTIAL) from None

    return wrapper


@contextmanager
def _suppress() -> Iterator[None]:
    try:
        yield
    except Exception:
        pass


# -- where to talk ------------------------------------------------------------------------


class _Simulation:
    """The ``--simulate`` array of this command: started by the first command step that
    needs an array (so every option is checked before 66 simulated E2Cs start), and the
    host-map file it writes, which messages call "the --simulate array", never by path."""

    start: Callable[[], str] | None = None
    csv: str | None = None


def defer_simulation(start: Callable[[], str] | None) -> None:
    """Register (or, with None, forget) the ``--simulate`` start; ``start`` returns the
    host-map path it wrote (and set as ``$E2CKIT_ARRAY``)."""
    _Simulation.start, _Simulation.csv = start, None


def start_simulation() -> None:
    """Start the deferred ``--simulate`` array now, if there is one and it has not started."""
    start, _Simulation.start = _Simulation.start, None
    if start is not None:
        _Simulation.csv = start()


def check_antennas(antennas: Any) -> None:
    """``--antennas`` checked before a deferred ``--simulate`` array starts (it holds the
    66 ALMA antennas, as the default map does); with any other map, on use."""
    if _Simulation.start is not None and antennas is not None:
        Array.default().select(antennas)


def array_name(arr: Array) -> str:
    """Where the host map came from, in words a user knows (no temporary paths)."""
    if _Simulation.csv is not None and arr.source == _Simulation.csv:
        return "the --simulate array"
    return arr.source or "in memory"


def active_array() -> Array:
    """The host map commands talk to (``--array``, ``$E2CKIT_ARRAY``, ``--simulate``, the
    ALMA defaults); starts the ``--simulate`` array on first use."""
    start_simulation()
    return default_array()


def resolve_target(host: str | None, port: int | None) -> tuple[str, Endpoint]:
    """``--host``/``--port`` → (label, endpoint).

    An antenna of the active array (``DV01``, ``dv01-e2c``, ``dv01-e2c.some.domain``)
    uses its host-map entry (``--port`` overrides the port). A name shaped like an
    antenna that the array does not hold is an error (a typo, not a host). Anything
    else is taken as a host name or address, on ``--port`` or 2000.
    """
    if host is None or not host.strip():
        raise BadInput("missing --host (an antenna such as DV01, or an E2C host name or address)")
    check_port(port)
    h = host.strip()
    if any(c.isspace() or not c.isprintable() for c in h):
        raise BadInput(f"--host {h!r} is not a host name")
    name = h if _looks_like_ip(h) else h.split(".")[0].upper()
    if name.endswith("-E2C"):
        name = name[: -len("-E2C")]
    arr = active_array()
    if name in arr.antennas:
        ep = arr[name]
        if h.upper() in (name, f"{name}-E2C", ep.host.upper()):
            return name, Endpoint(name, ep.host, ep.port if port is None else port)
        # a fully qualified name of a known antenna (dv01-e2c.site.domain): that host
        return name, Endpoint(name, h, DEFAULT_PORT if port is None else port)
    if ANTENNA_RE.match(name):
        raise BadInput(
            f"unknown antenna {h!r}: not in the active array ({array_name(arr)})"
        )
    known = [e for e in arr.values() if e.host == h and (port is None or e.port == port)]
    if len(known) == 1:  # an address the map knows: show its antenna, not the address
        return known[0].antenna, Endpoint(known[0].antenna, h, known[0].port)
    return h, Endpoint(h, h, DEFAULT_PORT if port is None else port)


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# -- catalog helpers ------------------------------------------------------------------------


def catalog() -> Any:
    from e2ckit.catalog import default_catalog

    return default_catalog()


def all_points(cat: Any) -> list[Any]:
    pts = cat.points
    return list(pts.values()) if isinstance(pts, dict) else list(pts)


def find_point(
    cat: Any, channel: int, node: int, rca: int, antenna: str | None, kind: str
) -> Any | None:
    """The catalog point at this address (``kind`` monitor or control), if any."""
    for p in all_points(cat):
        if p.node != node or p.rca != rca or getattr(p, "kind", "monitor") != kind:
            continue
        try:
            ch = p.channel_for(antenna) if antenna else None
        except Exception:
            ch = None
        fixed = getattr(p, "channel", None)
        if ch is None and isinstance(fixed, int):
            ch = fixed
        if ch is None or ch == channel:
            return p
    return None


def node_label(cat: Any, node: int) -> tuple[str, str]:
    try:
        info = cat.node_info(node)
        return str(info.abbrev), str(info.name)
    except Exception:
        return "", ""


def hex_bytes(data: bytes | None) -> str | None:
    return None if data is None else " ".join(f"0x{b:02X}" for b in data)


# -- results → exit status and error summaries -----------------------------------------------


def _down(error: str) -> bool:
    """Whether a row's error says its E2C did not answer (refused, timeout, unresolved...)."""
    failure = Failure.parse(error)
    return failure is not None and failure.down


def exit_status(errors: list[Any], undecoded: int = 0) -> int:
    """0 no errors; 3 every row failed without any host answering; 1 otherwise.

    ``undecoded``: readings that arrived but did not decode (:data:`UNDECODED`): they
    make a clean run partial (1).
    """
    bad = [str(e) for e in errors if e is not None and e == e and str(e) not in ("", "None")]
    if not bad:
        return EXIT_PARTIAL if undecoded else EXIT_OK
    # "Nothing answered" only when every failure says the E2C did not answer at all: an
    # E2C error code or a reply that does not fit its catalog entry came from a host.
    if len(bad) == len(errors) and all(_down(e) for e in bad):
        return EXIT_NOTHING
    return EXIT_PARTIAL


def rows_status(rows: list[TidyRow]) -> int:
    """The exit status of a sweep's tidy rows (errors and undecodable readings)."""
    return exit_status([r.error for r in rows], sum(1 for r in rows if r.status in UNDECODED))


def report_errors(frame: Any, what: str = "readings") -> None:
    """One summary line per failing antenna on stderr (data stays clean on stdout).

    ``frame``: a DataFrame with ``antenna`` and ``error`` columns, or tidy rows
    (``api.TidyRow``), whose undecodable readings count as failed too."""
    if isinstance(frame, list):
        antennas = [r.antenna for r in frame]
        errors = [r.error or (f"{r.status}: {r.point} reply did not decode" if r.status in UNDECODED else None)
                  for r in frame]  # fmt: skip
    else:
        antennas, errors = list(frame["antenna"]), list(frame["error"])
    total: dict[str, int] = {}
    counts: dict[str, int] = {}
    first: dict[str, Any] = {}
    for a, e in zip(antennas, errors, strict=True):
        total[a] = total.get(a, 0) + 1
        if e is not None and e == e:
            counts[a] = counts.get(a, 0) + 1
            first.setdefault(a, e)
    if not counts:
        return
    n_bad = sum(counts.values())
    err(f"{n_bad} of {len(errors)} {what} failed on {len(counts)} of {len(total)} antennas:")
    for a, e in first.items():
        err(f"  {a}: {counts[a]}/{total[a]} failed, e.g. {e}")


# -- results → tables ----------------------------------------------------------------------


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
    from e2ckit.api import wide_parts

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
    :mod:`e2ckit.triage.limits`; moving to the catalog): this only asks them."""
    odd = [r for r in rows if r.status != "ok" and (r.error is None or r.error != r.error)]
    if not odd:
        return {}
    from e2ckit.triage.limits import Limits, Reading  # loads expected.csv: only when something looks odd

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
    from e2ckit.api import TIDY_COLUMNS

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


@contextmanager
def progress(names: list[str], label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar on stderr when it is a terminal (nothing otherwise), naming the
    antennas still awaited: those are the ones worth a look when it stalls."""
    if len(names) < 2 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    awaited = dict.fromkeys(names)  # insertion-ordered set
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=len(names))

        def tick(done: int, _total: int, antenna: str) -> None:
            awaited.pop(antenna, None)
            bar.update(task, completed=done, description=f"{label}: waiting for {awaited_text(list(awaited))}")

        yield tick


def awaited_text(names: list[str], shown: int = 4) -> str:
    """``DV03, DV07, CM01, PM02 +5``: the first few antennas still awaited, and how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" +{more}" if more > 0 else "")


def run_sweep(
    what: str | list[str],
    antennas: Any,
    array: Any,
    timeout: float,
    deadline: float | None,
    label: str,
    stand_in_family: str = "DV",
) -> list[TidyRow]:
    """``api.sweep_rows`` (tidy rows, no pandas) with a progress bar, for any host map.

    The catalog addresses points per antenna family, so an E2C that is no antenna
    (a bare address, a central LO host) is swept under a stand-in antenna name of
    ``stand_in_family`` and renamed back in the result.
    """
    from e2ckit.api import resolve_array, sweep_rows

    check_timing(timeout, deadline)
    arr = resolve_array(array)
    names = arr.select(antennas)
    rename: dict[str, str] = {}
    taken = set(arr.antennas)
    endpoints = []
    n = 99
    for a in names:
        ep = arr[a]
        if EXACT_ANTENNA_RE.match(a):
            endpoints.append(ep)
            continue
        while f"{stand_in_family}{n:02d}" in taken:
            n -= 1
        alias = f"{stand_in_family}{n:02d}"
        taken.add(alias)
        rename[alias] = a
        endpoints.append(Endpoint(alias, ep.host, ep.port))
    if rename:
        arr = Array(endpoints, source=arr.source)
        names = [e.antenna for e in endpoints]
    with progress([rename.get(a, a) for a in names], label) as tick:
        on_tick = None if tick is None else (lambda d, t, a: tick(d, t, rename.get(a, a)))
        rows = sweep_rows(what, names, array=arr, timeout=timeout, deadline=deadline, progress=on_tick)
    if rename:
        rows = [r._replace(antenna=rename.get(r.antenna, r.antenna)) for r in rows]
    return rows


def report_rows(rows: list[TidyRow], problems: bool, tidy: bool = False) -> tuple[list[TidyRow], dict[str, str]]:
    """The rows to show (``--problems``: only the antennas that are not ok, and with
    ``tidy`` only their readings that are not ok) and every antenna's state."""
    from e2ckit.cli.summary import antenna_states, is_problem

    states = antenna_states(rows)
    if problems:
        rows = [r for r in rows if states[r.antenna] != "ok" and (not tidy or is_problem(r))]
    return rows, states


def finish_read(rows: list[TidyRow], states: dict[str, str]) -> None:
    """After an array-wide read's table: failures, the summary line, the exit status."""
    from e2ckit.cli.summary import summary_line

    report_errors(rows)
    err(summary_line(states))
    raise typer.Exit(exit_status_of(rows_status(rows), states.values()))
