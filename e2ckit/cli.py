"""The ``e2ckit`` command line.

Drop-in for the published ``e2c-client`` (same commands and options), with values
decoded by the catalog, array-wide commands run concurrently under one deadline, and
new commands for sweeps, node inventories, the catalog and the simulator::

    e2ckit version
    e2ckit monitor request --host H [--port P] --channel C --node N --rca R [--interpret FMT]
    e2ckit monitor nodes --host H
    e2ckit monitor temperature --host H --channel C --node N     (= tools temperature)
    e2ckit control request --host H --channel C --node N --rca R --data "0x60 0x64" [--yes]
    e2ckit tools temperature --host H --channel C --node N
    e2ckit tools revision|cryo|cmpr (--host H | --all)
    e2ckit sweep GROUP|POINT[,POINT...] [--antennas DV01,DV02 | DV | all] [--tidy]
    e2ckit nodes [--antennas ...] [--inventory]
    e2ckit points [GROUP] [--groups]
    e2ckit simulate [--antennas] [--scenario] [--seed] [--rate] [--bind port|address] [--write-array CSV]
    e2ckit log ...                                              (when the logger is installed)

Global options: ``--simulate`` runs the command against an embedded simulated array of
all 66 antennas (seeded, loopback, stopped when the command ends; ``--sim-seed`` and
``--sim-scenario`` shape it); ``--array CSV``
uses that host map instead of ``$E2CKIT_ARRAY`` / the ALMA defaults.

``--host`` takes an antenna of the active array (``DV01``, ``dv01-e2c``) or any host
name or address (with ``--port``). ``--all`` means every antenna of the active array.

Conventions: data on stdout, messages and progress on stderr. ``--format
table|csv|json|parquet`` and ``-o FILE`` on every command that returns data; ``table``
is a rich table on a terminal and an untruncated fixed-width text table otherwise.

Exit status:
    0  every request was answered without error
    1  some readings failed (an E2C error code, or some hosts did not answer)
    2  bad input: an unknown antenna, group or point, a bad number, out of range values
    3  nothing answered: no host replied at all
    4  a control request was refused (no --yes and no terminal) or declined at the prompt

Control requests are appended to the audit log (see :mod:`e2ckit.audit`):
``$E2CKIT_AUDIT_LOG``, default ``~/.local/state/e2ckit/control-audit.jsonl``.

Start-up stays light: nothing here imports pandas, pyarrow, matplotlib or ipywidgets
until a command needs them.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

    from e2ckit._cli_output import Table
    from e2ckit.api import TidyRow
    from e2ckit.array import Array, Endpoint

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2
EXIT_NOTHING = 3
EXIT_REFUSED = 4

_HELP = """\
ALMA E2C monitor and control: e2c-client's commands, done right, plus array-wide sweeps.

\b
  e2ckit --simulate sweep cryo              cryostats of a simulated 66-antenna array
  e2ckit tools cryo --all                   the same on the active array ($E2CKIT_ARRAY)
  e2ckit monitor request --host DV01 --channel 1 --node 0x13 --rca 0x0C000
  e2ckit points cryo                        what a group reads

\b
Exit status: 0 all answered, 1 some readings failed, 2 bad input,
3 nothing answered, 4 control refused or declined.
"""

app = typer.Typer(add_completion=False, no_args_is_help=True, help=_HELP, rich_markup_mode=None)
monitor_app = typer.Typer(no_args_is_help=True, help="Monitor requests (e2c-client compatible).")
control_app = typer.Typer(no_args_is_help=True, help="Control requests: confirmed, audited.")
tools_app = typer.Typer(
    no_args_is_help=True, help="Ready-made reads: temperature, revision, cryo, cmpr."
)
app.add_typer(monitor_app, name="monitor", short_help="E2C monitoring related commands")
app.add_typer(control_app, name="control", short_help="E2C control related commands")
app.add_typer(tools_app, name="tools", short_help="E2C utility commands")


# -- shared option declarations ----------------------------------------------------

_FORMAT_HELP = "table (rich on a terminal, plain text when piped), csv, json or parquet"
FormatOpt = typer.Option(None, "--format", "-f", help=_FORMAT_HELP, metavar="FORMAT")
OutputOpt = typer.Option(
    None, "--output", "-o", help="write the data to FILE (format from its suffix unless --format)"
)
HostOpt = typer.Option(
    None, help="antenna of the active array (DV01) or E2C host name / IP address"
)
PortOpt = typer.Option(None, help="E2C socket server port [default: the host map's, else 2000]")
TimeoutOpt = typer.Option(1.0, help="seconds per request")
ChannelOpt = typer.Option(None, help="LRU channel number (0-4; 5 = the E2C itself)")
NodeOpt = typer.Option(None, help="LRU node address (0x13 or 19)")
DeadlineOpt = typer.Option(None, help="seconds for the whole command [default: 2 x timeout + 0.5]")
VerboseOpt = typer.Option(
    False, "--verbose/--no-verbose", help="print connection details on stderr"
)


class BadInput(Exception):
    """Bad input on the command line: reported in one line, exit status 2."""


def _err(message: str) -> None:
    typer.echo(f"e2ckit: {message}", err=True)


def _guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into one line on stderr and a documented exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from e2ckit._cli_output import OutputError
        from e2ckit.errors import E2CKitError, TransportError, ValidationError

        try:
            return func(*args, **kwargs)
        except (BadInput, ValidationError, OutputError) as exc:
            _err(f"error: {_one_line(exc)}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except TransportError as exc:
            _err(f"error: {_one_line(exc)}")
            raise typer.Exit(EXIT_NOTHING) from None
        except E2CKitError as exc:
            _err(f"error: {_one_line(exc)}")
            raise typer.Exit(EXIT_PARTIAL) from None
        except KeyError as exc:  # a catalog look-up that missed
            _err(f"error: unknown name {exc.args[0] if exc.args else exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BrokenPipeError:
            # `e2ckit ... | head`: the reader went away; not an error worth a traceback.
            with _suppress():
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            raise typer.Exit(EXIT_OK) from None

    return wrapper


@contextmanager
def _suppress() -> Iterator[None]:
    try:
        yield
    except Exception:
        pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


# -- parsing -------------------------------------------------------------------------

_CHANNEL_MAX = 5  # channels 0-4 for antenna LRUs, 5 for the E2C's own node
_NODE_MAX = 0x7FE
_RCA_MAX = 0x3FFFF
_ANTENNA_RE = re.compile(r"^(CM|DA|DV|PM)\d+$")


def parse_int(text: str | None, option: str, low: int, high: int) -> int:
    """``"0x13"`` or ``"19"`` → 19, within ``low..high``; BadInput naming the option otherwise."""
    if text is None or not str(text).strip():
        raise BadInput(f"missing {option}")
    t = str(text).strip()
    try:
        value = int(t[2:], 16) if t.lower().startswith("0x") else int(t, 10)
    except ValueError:
        raise BadInput(f"{option} {t!r} is not a number (decimal, or hex with 0x)") from None
    if not low <= value <= high:
        raise BadInput(f"{option} {t} is out of range {low}..{high} (0x{low:X}..0x{high:X})")
    return value


def parse_data(text: str | None) -> bytes:
    """``"0x60 0x64"`` (spaces or commas) → b"\\x60\\x64"; 1 to 8 bytes, each 0..255."""
    if text is None or not text.strip():
        raise BadInput('missing --data: give 1 to 8 bytes, e.g. --data "0x60 0x64"')
    items = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if len(items) > 8:
        raise BadInput(f"--data has {len(items)} bytes; a CAN control carries at most 8")
    out = bytearray()
    for item in items:
        try:
            value = int(item[2:], 16) if item.lower().startswith("0x") else int(item, 10)
        except ValueError:
            raise BadInput(
                f"--data byte {item!r} is not a number (decimal, or hex with 0x)"
            ) from None
        if not 0 <= value <= 0xFF:
            raise BadInput(
                f"--data byte {item} is out of range 0..255 (separate bytes with spaces)"
            )
        out.append(value)
    return bytes(out)


def _check_timing(timeout: float, deadline: float | None) -> None:
    if timeout <= 0:
        raise BadInput(f"--timeout must be positive, got {timeout:g}")
    if deadline is not None and deadline <= 0:
        raise BadInput(f"--deadline must be positive, got {deadline:g}")


# -- where to talk ------------------------------------------------------------------------


def _active_array() -> Array:
    from e2ckit.array import default_array

    return default_array()


def resolve_target(host: str | None, port: int | None) -> tuple[str, Endpoint]:
    """``--host``/``--port`` → (label, endpoint).

    An antenna of the active array (``DV01``, ``dv01-e2c``, ``dv01-e2c.some.domain``)
    uses its host-map entry (``--port`` overrides the port). A name shaped like an
    antenna that the array does not hold is an error (a typo, not a host). Anything
    else is taken as a host name or address, on ``--port`` or 2000.
    """
    from e2ckit.array import DEFAULT_PORT, Endpoint

    if host is None or not host.strip():
        raise BadInput("missing --host (an antenna such as DV01, or an E2C host name or address)")
    if port is not None and not 0 < port < 65536:
        raise BadInput(f"--port {port} is out of range 1..65535")
    h = host.strip()
    name = h if _looks_like_ip(h) else h.split(".")[0].upper()
    if name.endswith("-E2C"):
        name = name[: -len("-E2C")]
    arr = _active_array()
    if name in arr.antennas:
        ep = arr[name]
        if h.upper() in (name, f"{name}-E2C", ep.host.upper()):
            return name, Endpoint(name, ep.host, ep.port if port is None else port)
        # a fully qualified name of a known antenna (dv01-e2c.site.domain): that host
        return name, Endpoint(name, h, DEFAULT_PORT if port is None else port)
    if _ANTENNA_RE.match(name):
        raise BadInput(
            f"unknown antenna {h!r}: not in the active array ({arr.source or 'in memory'})"
        )
    return h, Endpoint(h, h, DEFAULT_PORT if port is None else port)


def _looks_like_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# -- catalog helpers ------------------------------------------------------------------------


def _catalog() -> Any:
    from e2ckit.catalog import default_catalog

    return default_catalog()


def _all_points(cat: Any) -> list[Any]:
    pts = cat.points
    return list(pts.values()) if isinstance(pts, dict) else list(pts)


def find_point(
    cat: Any, channel: int, node: int, rca: int, antenna: str | None, kind: str
) -> Any | None:
    """The catalog point at this address (``kind`` monitor or control), if any."""
    for p in _all_points(cat):
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


def _node_label(cat: Any, node: int) -> tuple[str, str]:
    try:
        info = cat.node_info(node)
        return str(info.abbrev), str(info.name)
    except Exception:
        return "", ""


# -- results → tables and exit status -----------------------------------------------------


def exit_status(errors: list[Any]) -> int:
    """0 no errors; 3 every row failed without any host answering; 1 otherwise."""
    bad = [str(e) for e in errors if e is not None and e == e and str(e) not in ("", "None")]
    if not bad:
        return EXIT_OK
    if len(bad) == len(errors) and not any(e.startswith("E2C:") for e in bad):
        return EXIT_NOTHING
    return EXIT_PARTIAL


def _report_errors(frame: Any, what: str = "readings") -> None:
    """One summary line per failing antenna on stderr (data stays clean on stdout).

    ``frame``: a DataFrame with ``antenna`` and ``error`` columns, or tidy rows
    (``api.TidyRow``)."""
    if isinstance(frame, list):
        antennas, errors = [r.antenna for r in frame], [r.error for r in frame]
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
    _err(f"{n_bad} of {len(errors)} {what} failed on {len(counts)} of {len(total)} antennas:")
    for a, e in first.items():
        _err(f"  {a}: {counts[a]}/{total[a]} failed, e.g. {e}")


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
    from e2ckit._cli_output import Table
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
    out_rows, text, states = [], [], []
    for a, values, err in zip(w.antennas, w.values, w.errors, strict=True):
        texts, limits = w.text.get(a, {}), w.limits.get(a, {})
        vals = [(float(v) if numeric[p] else (texts.get(p) or None)) for p, v in zip(points, values, strict=True)]
        shown = [texts.get(p) or ("" if limits.get(p) != "unavailable" else "—") for p in points]
        st = [limits.get(p) for p in points]
        lead = [a] + ([host_of.get(a, "")] if host_of else [])
        out_rows.append([*lead, *vals, err])
        text.append([*lead, *shown, err or ""])
        states.append([None] * len(lead) + st + ["error" if err else None])
    return Table(columns, out_rows, text=text, states=states, title=title, headers=headers)


def rows_table(rows: list[TidyRow], title: str | None = None) -> Table:
    """Tidy rows as a Table: one line per (antenna, point), time in ISO 8601, raw in hex."""
    from datetime import datetime, timezone

    from e2ckit._cli_output import Table
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
    return Table(list(TIDY_COLUMNS), out, title=title)


def frame_table(df: pd.DataFrame, title: str | None = None, hide: tuple[str, ...] = ()) -> Table:
    """A plain DataFrame as a Table (every column; ``hide`` only from the display)."""
    from e2ckit._cli_output import Table

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


def _emit(table: Table, fmt: str | None, output: str | None) -> None:
    from e2ckit._cli_output import emit, resolve_format

    if (
        table.headers is not None
        and len(table.headers) != len(table.columns)
        and resolve_format(fmt, output) == "table"
    ):
        # a display that hides columns: render the display-only view
        from e2ckit._cli_output import Table as T

        keep = table.meta.get("display_columns")
        table = T(
            table.headers,
            [[r[i] for i in keep] for r in table.rows],
            text=table.text,
            title=table.title,
        )
    emit(table, fmt, output)
    if output:
        _err(f"wrote {len(table.rows)} rows to {output}")


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if total < 2 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=total)

        def tick(done: int, _total: int, antenna: str) -> None:
            bar.update(task, completed=done, description=f"{label} {antenna}")

        yield tick


_EXACT_ANTENNA_RE = re.compile(r"^(CM|DA|DV|PM)\d{2}$")


def _run_sweep(
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
    from e2ckit.array import Array, Endpoint

    _check_timing(timeout, deadline)
    arr = resolve_array(array)
    names = arr.select(antennas)
    rename: dict[str, str] = {}
    taken = set(arr.antennas)
    endpoints = []
    n = 99
    for a in names:
        ep = arr[a]
        if _EXACT_ANTENNA_RE.match(a):
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
    with _progress(len(names), label) as tick:
        progress = None if tick is None else (lambda d, t, a: tick(d, t, rename.get(a, a)))
        rows = sweep_rows(what, names, array=arr, timeout=timeout, deadline=deadline, progress=progress)
    if rename:
        rows = [r._replace(antenna=rename.get(r.antenna, r.antenna)) for r in rows]
    return rows


# -- root ---------------------------------------------------------------------------------


def _version_callback(value: bool) -> None:
    if value:
        from e2ckit import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    simulate: bool = typer.Option(
        False,
        "--simulate",
        help="run the command against an embedded simulated array (66 antennas, seed 0, loopback)",
    ),
    sim_seed: int = typer.Option(
        0, "--sim-seed", help="with --simulate: the simulated array's random seed"
    ),
    sim_scenario: str | None = typer.Option(
        None,
        "--sim-scenario",
        help="with --simulate: a scenario name or .toml path (e2ckit simulate --list-scenarios)",
    ),
    array: str | None = typer.Option(
        None, "--array", help="host-map CSV (antenna,host,port) instead of $E2CKIT_ARRAY"
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="print the version and exit",
    ),
) -> None:
    """ALMA E2C monitor and control."""
    if array and simulate:
        _err("error: give --simulate or --array, not both")
        raise typer.Exit(EXIT_BAD_INPUT)
    if not simulate and (sim_seed or sim_scenario):
        _err("error: --sim-seed and --sim-scenario shape the --simulate array; add --simulate")
        raise typer.Exit(EXIT_BAD_INPUT)
    if array:
        if not os.path.isfile(array):
            _err(f"error: --array {array!r}: no such file")
            raise typer.Exit(EXIT_BAD_INPUT)
        _set_env(ctx, "E2CKIT_ARRAY", os.path.abspath(array))
    if simulate:
        if ctx.invoked_subcommand == "simulate":
            _err("error: `e2ckit simulate` starts a simulated array itself; drop --simulate")
            raise typer.Exit(EXIT_BAD_INPUT)
        _start_embedded_simulation(ctx, sim_seed, sim_scenario)


def _set_env(ctx: typer.Context, key: str, value: str) -> None:
    old = os.environ.get(key)
    os.environ[key] = value

    def restore() -> None:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old

    ctx.call_on_close(restore)


def _start_embedded_simulation(ctx: typer.Context, seed: int, scenario: str | None) -> None:
    import tempfile

    from e2ckit.errors import E2CKitError
    from e2ckit.sim import SimulatedArray

    try:
        sim = SimulatedArray(seed=seed, scenario=scenario, bind="port")
    except (ValueError, E2CKitError) as exc:  # an unknown or malformed scenario
        _err(f"error: --sim-scenario: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    sim.start()
    tmp = tempfile.TemporaryDirectory(prefix="e2ckit-sim-")
    path = sim.write_array(os.path.join(tmp.name, "array.csv"))
    what = f"seed {seed}" + (f", scenario {sim.scenario.name}" if sim.scenario is not None else "")
    _err(f"simulating {len(sim.antennas)} antennas on 127.0.0.1 ({what}) for this command")

    def stop() -> None:
        sim.stop()
        tmp.cleanup()

    ctx.call_on_close(stop)  # registered first, runs last (after the env is restored)
    _set_env(ctx, "E2CKIT_ARRAY", str(path))


@app.command(short_help="Show current version")
def version() -> None:
    """Print the e2ckit version."""
    from e2ckit import __version__

    typer.echo(__version__)


# -- monitor --------------------------------------------------------------------------------


@monitor_app.command("request", short_help="Perform AMB monitor request")
@_guard
def monitor_request(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    channel: str | None = ChannelOpt,
    node: str | None = NodeOpt,
    rca: str | None = typer.Option(None, help="Monitor request RCA (0x0C000)"),
    interpret: str | None = typer.Option(
        None, help='also unpack the data with this struct format (">f")'
    ),
    timeout: float = TimeoutOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Read one monitor point; decode it when the catalog knows the address.

    Example: e2ckit monitor request --host DV01 --channel 1 --node 0x13 --rca 0x0C000
    """
    import struct

    from e2ckit._cli_output import Table, resolve_format

    ch = parse_int(channel, "--channel", 0, _CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, _NODE_MAX)
    ra = parse_int(rca, "--rca", 0, _RCA_MAX)
    _check_timing(timeout, None)
    resolve_format(fmt, output)
    if interpret is not None:
        try:
            struct.calcsize(interpret.strip())
        except struct.error as exc:
            raise BadInput(f"--interpret {interpret!r} is not a struct format: {exc}") from None
    label, ep = resolve_target(host, port)
    cat = _catalog()
    antenna = label if _ANTENNA_RE.match(label) else None
    point = find_point(cat, ch, nd, ra, antenna, "monitor")
    lru, lru_name = _node_label(cat, nd)
    if verbose:
        _err(f"{label}: {ep.host}:{ep.port}, channel {ch}, node 0x{nd:02X} {lru}, rca 0x{ra:05X}")
    row = _monitor_once(ep, ch, nd, ra, timeout, point)
    interpreted = None
    if interpret is not None and row["raw"] is not None and row["error"] is None:
        try:
            values = struct.unpack(interpret.strip(), row["raw"])
            interpreted = values[0] if len(values) == 1 else " ".join(str(v) for v in values)
        except struct.error as exc:
            _err(f"--interpret {interpret!r} does not fit {len(row['raw'])} data bytes: {exc}")
            row["error"] = row["error"] or "interpret: data does not fit the format"
    cols = [
        "antenna",
        "host",
        "channel",
        "node",
        "rca",
        "lru",
        "point",
        "raw",
        "value",
        "text",
        "unit",
        "status",
        "error",
        "latency_ms",
    ]
    vals = [label, f"{ep.host}:{ep.port}", ch, f"0x{nd:02X}", f"0x{ra:05X}", lru, point.name if point else None,
            _hex(row["raw"]), row["value"], row["text"], point.unit if point else None, row["status"], row["error"],
            row["latency_ms"]]  # fmt: skip
    if interpret is not None:
        cols.append("interpreted")
        vals.append(interpreted)
    _emit(Table(cols, [vals], title=f"{label} monitor request"), fmt, output)
    if row["error"]:
        _err(f"error: {row['error']}")
        raise typer.Exit(
            EXIT_NOTHING
            if row["raw"] is None and not row["error"].startswith("E2C:")
            else EXIT_PARTIAL
        )


def _hex(data: bytes | None) -> str | None:
    return None if data is None else " ".join(f"0x{b:02X}" for b in data)


def _monitor_once(
    ep: Endpoint, ch: int, nd: int, ra: int, timeout: float, point: Any
) -> dict[str, Any]:
    """One monitor request on a fresh connection; failure comes back as data."""
    import math
    import time

    from e2ckit.client import Client
    from e2ckit.errors import ProtocolError, TransportError
    from e2ckit.protocol import Mode, Request, error_info

    row: dict[str, Any] = {
        "raw": None,
        "value": math.nan,
        "text": None,
        "status": None,
        "error": None,
        "latency_ms": math.nan,
    }
    t0 = time.perf_counter()
    try:
        with Client(ep.host, ep.port, timeout=timeout) as c:
            reply = c.request(Request(ch, nd, ra, Mode.MONITOR), check=False)
    except TransportError as exc:
        row["error"] = _one_line(exc)
        return row
    except ProtocolError as exc:
        row["error"] = f"protocol: {_one_line(exc)}"
        return row
    row["latency_ms"] = (time.perf_counter() - t0) * 1e3
    if reply.error:
        info = error_info(reply.error)
        row["error"] = f"{info.tag}: {info.text}"
        row["raw"] = reply.data
        return row
    row["raw"] = reply.data
    if point is not None:
        try:
            d = point.decode(reply.data)
        except Exception as exc:  # a reply the catalog cannot decode is still shown raw
            row["status"] = "undecodable"
            row["text"] = f"cannot decode: {_one_line(exc)}"
        else:
            row["value"] = math.nan if d.value is None else float(d.value)
            row["text"] = d.text
            row["status"] = d.status
    return row


@monitor_app.command("nodes", short_help="List all CAN nodes reported by E2C host")
@_guard
def monitor_nodes(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    timeout: float = TimeoutOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """List the nodes (LRUs) and serial numbers on every channel of one E2C."""
    from e2ckit._cli_output import resolve_format
    from e2ckit.api import nodes
    from e2ckit.array import Array

    resolve_format(fmt, output)
    _check_timing(timeout, None)
    label, ep = resolve_target(host, port)
    if verbose:
        _err(f"{label}: {ep.host}:{ep.port}")
    df = nodes(label, array=Array([ep], source="--host"), timeout=timeout)
    _emit(frame_table(df, title=f"{label} CAN nodes", hide=("node",)), fmt, output)
    _report_errors(df, "channel listings")
    raise typer.Exit(exit_status(list(df["error"])))


def _temperature(host: str | None, port: int | None, channel: str | None, node: str | None,
                 timeout: float, verbose: bool, fmt: str | None, output: str | None) -> None:  # fmt: skip
    from e2ckit._cli_output import Table, resolve_format
    from e2ckit.client import decode_ds18s20

    ch = parse_int(channel, "--channel", 0, _CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, _NODE_MAX)
    _check_timing(timeout, None)
    resolve_format(fmt, output)
    label, ep = resolve_target(host, port)
    cat = _catalog()
    lru, _name = _node_label(cat, nd)
    if verbose:
        _err(f"{label}: {ep.host}:{ep.port}, channel {ch}, node 0x{nd:02X} {lru}")
    row = _monitor_once(ep, ch, nd, 0x30003, timeout, None)
    temp = None
    if row["error"] is None:
        try:
            temp = round(decode_ds18s20(row["raw"]), 4)
        except Exception as exc:
            row["error"] = f"protocol: {_one_line(exc)}"
    cols = ["antenna", "host", "channel", "node", "lru", "temperature_C", "raw", "error"]
    vals = [
        label,
        f"{ep.host}:{ep.port}",
        ch,
        f"0x{nd:02X}",
        lru,
        temp,
        _hex(row["raw"]),
        row["error"],
    ]
    _emit(Table(cols, [vals], title=f"{label} AMBSI temperature"), fmt, output)
    if row["error"]:
        _err(f"error: {row['error']}")
        raise typer.Exit(EXIT_NOTHING if row["raw"] is None else EXIT_PARTIAL)


_TEMP_DOC = """AMBSI ambient temperature (RCA 0x30003, DS18S20) of one node, in °C."""


@tools_app.command("temperature", short_help="Perform AMB monitor request for AMBSI temperature")
@_guard
def tools_temperature(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    channel: str | None = ChannelOpt,
    node: str | None = NodeOpt,
    timeout: float = TimeoutOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """AMBSI ambient temperature (RCA 0x30003, DS18S20) of one node, in °C."""
    _temperature(host, port, channel, node, timeout, verbose, fmt, output)


# The seed README spells it `monitor temperature`: the same command under both names.
monitor_app.command("temperature", short_help="AMBSI temperature of one node (as tools temperature)")(
    tools_temperature
)


# -- tools: group reads on one host or all ----------------------------------------------------------


def _group_read(
    group: str,
    title: str,
    host: str | None,
    port: int | None,
    all_: bool,
    timeout: float,
    deadline: float | None,
    show_errors: bool,
    verbose: bool,
    fmt: str | None,
    output: str | None,
    include_central: bool = False,
    channel: str | None = None,
) -> None:
    from e2ckit._cli_output import resolve_format
    from e2ckit.array import Array

    resolve_format(fmt, output)
    _check_timing(timeout, deadline)
    if all_ and host:
        raise BadInput("give --host or --all, not both")
    if not all_ and not host:
        raise BadInput("give --host HOST (an antenna such as DV01, or a host name) or --all")
    family = "DV"
    if channel is not None:
        ch = parse_int(channel, "--channel", 2, 3)
        family = "DV" if ch == 2 else "CM"
    if all_:
        arr = _active_array()
        if include_central and not os.environ.get("E2CKIT_ARRAY"):
            arr = Array.default(include_central=True)  # as e2c-client: the central E2Cs too
        antennas: Any = None
    else:
        label, ep = resolve_target(host, port)
        arr = Array([ep], source="--host")
        antennas = [label]
        if group == "cmpr" and channel is None and not _EXACT_ANTENNA_RE.match(label):
            raise BadInput(
                f"cannot tell the compressor's channel on {label!r}: give --host as an antenna (DV01) "
                "or --channel 2 (DA/DV) or 3 (CM/PM)"
            )
    if verbose:
        _err(f"{group}: {len(arr.select(antennas))} host(s) from {arr.source or 'memory'}")
    rows = _run_sweep(group, antennas, arr, timeout, deadline, group, stand_in_family=family)
    hosts = {a: f"{arr[a].host}:{arr[a].port}" for a in arr.select(antennas)}
    table = wide_table(rows, title=title, host_of=hosts)
    if not show_errors:
        table = _drop_column(table, "error")
    _emit(table, fmt, output)
    _report_errors(rows)
    raise typer.Exit(exit_status([r.error for r in rows]))


def _drop_column(table: Table, name: str) -> Table:
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


AllOpt = typer.Option(
    False, "--all/--no-all", help="every antenna of the active array, concurrently"
)
ShowErrorsOpt = typer.Option(True, "--show-errors/--hide-errors", help="show the error column")


@tools_app.command("revision", short_help="Obtain E2C revision information")
@_guard
def tools_revision(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    all_: bool = typer.Option(
        False,
        "--all/--no-all",
        help="every E2C of the active array (with the ALMA defaults: central E2Cs too)",
    ),
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    show_errors: bool = ShowErrorsOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """E2C protocol, software and U-Boot revisions (and processor temperature)."""
    _group_read("revision", "E2C revision information", host, port, all_, timeout, deadline, show_errors,
                verbose, fmt, output, include_central=True)  # fmt: skip


@tools_app.command("cryo", short_help="Perform AMB monitor request for Cryostat status")
@_guard
def tools_cryo(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    all_: bool = AllOpt,
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    show_errors: bool = ShowErrorsOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Cryostat (FEMC) status: temperatures, pumps, valves, vacuum; the catalog's `cryo` group."""
    _group_read(
        "cryo",
        "Cryostat status",
        host,
        port,
        all_,
        timeout,
        deadline,
        show_errors,
        verbose,
        fmt,
        output,
    )


@tools_app.command("cmpr", short_help="Perform AMB monitor requests for Compressor status")
@_guard
def tools_cmpr(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    all_: bool = AllOpt,
    channel: str | None = typer.Option(
        None, help="compressor channel when --host is no antenna name: 2 (DA/DV), 3 (CM/PM)"
    ),
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    show_errors: bool = ShowErrorsOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Helium compressor status (°C, MPa, alarms, timers); the catalog's `cmpr` group.

    The compressor is on channel 2 on DA/DV antennas and 3 on CM/PM: give --host as
    an antenna name (DV01) or a host name that starts with one (dv01-e2c).
    """
    _group_read("cmpr", "Compressor status", host, port, all_, timeout, deadline, show_errors, verbose, fmt, output,
                channel=channel)  # fmt: skip


# -- control -----------------------------------------------------------------------------------


@control_app.command("request", short_help="Perform AMB control request")
@_guard
def control_request(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    channel: str | None = ChannelOpt,
    node: str | None = NodeOpt,
    rca: str | None = typer.Option(None, help="Control request RCA"),
    data: str | None = typer.Option(
        None, help='1 to 8 bytes, space separated, decimal or 0x hex: "0x60 0x64"'
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="send without asking (required when there is no terminal)"
    ),
    timeout: float = TimeoutOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Send one control request, after saying what it will do and getting a yes.

    Every request, sent or not, is appended to the audit log ($E2CKIT_AUDIT_LOG,
    default ~/.local/state/e2ckit/control-audit.jsonl).
    """
    from e2ckit import audit
    from e2ckit._cli_output import Table, resolve_format

    ch = parse_int(channel, "--channel", 0, _CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, _NODE_MAX)
    ra = parse_int(rca, "--rca", 0, _RCA_MAX)
    payload = parse_data(data)
    _check_timing(timeout, None)
    resolve_format(fmt, output)
    label, ep = resolve_target(host, port)
    cat = _catalog()
    antenna = label if _ANTENNA_RE.match(label) else None
    point = find_point(cat, ch, nd, ra, antenna, "control")
    lru, lru_name = _node_label(cat, nd)
    try:
        log_path = audit.check_writable()
    except OSError as exc:
        raise BadInput(
            f"cannot write the control audit log {audit.audit_path()}: {exc.strerror or exc}; nothing sent"
        ) from None
    target = {"antenna": label, "channel": ch, "node": f"0x{nd:02X}", "rca": f"0x{ra:05X}",
              "lru": lru or None, "point": point.name if point else None}  # fmt: skip
    where = f"{ep.host}:{ep.port}"
    lru_text = (
        f"{lru} ({lru_name})" if lru and lru_name and lru_name != lru else (lru or "unknown LRU")
    )
    pt_text = point.name if point else "not in the catalog"
    desc = getattr(point, "description", "") if point else ""
    _err("Control request:")
    _err(f"  target   {label} ({where})" if label != ep.host else f"  target   {where}")
    _err(f"  LRU      channel {ch}, node 0x{nd:02X} {lru_text}")
    _err(f"  RCA      0x{ra:05X} {pt_text}" + (f" — {desc}" if desc else ""))
    _err(f"  data     {_hex(payload)} ({len(payload)} byte{'s' if len(payload) != 1 else ''})")

    def log(outcome: str, detail: str | None = None) -> None:
        audit.record(
            host=where, target=target, data=payload, outcome=outcome, detail=detail, path=log_path
        )

    if not yes:
        if not _can_confirm():
            log("refused", "no --yes and no terminal to confirm on")
            _err(
                "refused: not sending a control request without --yes when there is no terminal to confirm on"
            )
            raise typer.Exit(EXIT_REFUSED)
        if not typer.confirm("Send this control request?", default=False, err=True):
            log("declined", "declined at the prompt")
            _err("not sent")
            raise typer.Exit(EXIT_REFUSED)
    if verbose:
        _err(f"sending to {where}")
    status, error = _send_control(ep, ch, nd, ra, payload, timeout)
    log(status, error)
    cols = ["antenna", "host", "channel", "node", "rca", "lru", "point", "data", "outcome", "error"]
    vals = [
        label,
        where,
        ch,
        f"0x{nd:02X}",
        f"0x{ra:05X}",
        lru,
        point.name if point else None,
        _hex(payload),
        status,
        error,
    ]
    _emit(Table(cols, [vals], title=f"{label} control request"), fmt, output)
    if verbose:
        _err(f"audit log: {log_path}")
    if status == "sent":
        return
    _err(f"error: {error}")
    raise typer.Exit(EXIT_PARTIAL if status == "e2c-error" else EXIT_NOTHING)


def _can_confirm() -> bool:
    """A person can answer a prompt: stdin and stderr are both terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _send_control(
    ep: Endpoint, ch: int, nd: int, ra: int, payload: bytes, timeout: float
) -> tuple[str, str | None]:
    from e2ckit.client import Client
    from e2ckit.errors import ProtocolError, TransportError
    from e2ckit.protocol import Mode, Request, error_info

    try:
        with Client(ep.host, ep.port, timeout=timeout) as c:
            reply = c.request(Request(ch, nd, ra, Mode.CONTROL, payload), check=False)
    except (TransportError, ProtocolError) as exc:
        return "failed", _one_line(exc)
    if reply.error:
        info = error_info(reply.error)
        return "e2c-error", f"{info.tag}: {info.text}"
    return "sent", None


# -- new commands ---------------------------------------------------------------------------------


WhatArg = typer.Argument(
    ..., help="group (cryo, cmpr, revision, temps, ...) or point names, comma separated"
)


@app.command("sweep")
@_guard
def sweep_cmd(
    what: list[str] = WhatArg,
    antennas: str = typer.Option(
        "all", "--antennas", "-a", help="DV01,DV02 | DV | all (of the active array)"
    ),
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    tidy: bool = typer.Option(
        False, "--tidy", help="one row per (antenna, point) with text, status, raw bytes, latency"
    ),
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Read a group or points from many antennas at once (one deadline for all).

    Example: e2ckit --simulate sweep cryo --antennas DV
    """
    from e2ckit._cli_output import resolve_format

    resolve_format(fmt, output)
    items = [x.strip() for w in what for x in w.split(",") if x.strip()]
    if not items:
        raise BadInput("give a group or point names")
    arr = _active_array()
    rows = _run_sweep(items if len(items) > 1 else items[0], antennas, arr, timeout, deadline, items[0])
    title = f"sweep {' '.join(items)}"
    table = rows_table(rows, title=title) if tidy else wide_table(rows, title=title)
    _emit(table, fmt, output)
    _report_errors(rows)
    raise typer.Exit(exit_status([r.error for r in rows]))


@app.command("nodes")
@_guard
def nodes_cmd(
    antennas: str = typer.Option(
        "all", "--antennas", "-a", help="DV01,DV02 | DV | all (of the active array)"
    ),
    inventory: bool = typer.Option(
        False, "--inventory", help="compare against the expected LRUs: ok / missing / unexpected"
    ),
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """List the CAN nodes every antenna's E2C reports (or check them against the inventory)."""
    from e2ckit._cli_output import resolve_format
    from e2ckit.api import inventory as api_inventory
    from e2ckit.api import nodes

    resolve_format(fmt, output)
    _check_timing(timeout, deadline)
    arr = _active_array()
    names = arr.select(antennas)
    df = nodes(names, array=arr, timeout=timeout, deadline=deadline)
    if inventory:
        inv = api_inventory(array=arr, found=df)
        _emit(frame_table(inv, title="LRU inventory"), fmt, output)
        bad = inv[inv["state"] != "ok"]
        if not bad.empty:
            _err(
                f"{len(bad)} LRUs not as expected: "
                + ", ".join(
                    f"{a} {lru} {st}"
                    for a, lru, st in zip(bad["antenna"], bad["lru"], bad["state"], strict=False)
                )[:2000]
            )
    else:
        _emit(frame_table(df, title="CAN nodes", hide=("node",)), fmt, output)
    _report_errors(df, "channel listings")
    raise typer.Exit(exit_status(list(df["error"])))


@app.command("points")
@_guard
def points_cmd(
    group: str | None = typer.Argument(None, help="only the points of this group"),
    groups: bool = typer.Option(False, "--groups", help="list the groups instead of points"),
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Browse the catalog: every point (or a group's), with address, type and unit."""
    from e2ckit._cli_output import Table, resolve_format

    resolve_format(fmt, output)
    cat = _catalog()
    if groups:
        rows = []
        for name, g in _groups(cat).items():
            rows.append([name, _group_size(cat, name, g), _group_doc(g)])
        _emit(Table(["group", "points", "description"], rows, title="groups"), fmt, output)
        return
    if group:
        if group not in _groups(cat):
            try:
                pts = cat.resolve(group)
            except Exception:
                raise BadInput(
                    f"unknown group {group!r}: known groups are {', '.join(_groups(cat))}"
                ) from None
        elif cat.is_dynamic(group):
            # built per antenna from the nodes it reports: show the generic points it reads
            pts = []
            for m in _groups(cat)[group].members:
                try:
                    pts.append(cat.point(m))
                except Exception:
                    pts.extend(_safe_resolve(cat, m))
        else:
            pts = cat.resolve(group)
    else:
        pts = _all_points(cat)
    cols = ["name", "kind", "lru", "channel", "node", "rca", "type", "unit", "description"]
    rows = [[p.name, getattr(p, "kind", ""), getattr(p, "lru", ""), _channel_text(p),
             "any" if p.node is None else f"0x{p.node:02X}", f"0x{p.rca:05X}",
             str(getattr(p, "dtype", getattr(p, "type", ""))), getattr(p, "unit", "") or "",
             getattr(p, "description", "") or ""] for p in pts]  # fmt: skip
    _emit(Table(cols, rows, title=f"points of {group}" if group else "catalog points"), fmt, output)


def _safe_resolve(cat: Any, name: str) -> list[Any]:
    try:
        return list(cat.resolve(name))
    except Exception:
        return []


def _groups(cat: Any) -> dict[str, Any]:
    g = cat.groups
    return dict(g) if isinstance(g, dict) else {str(x): x for x in g}


def _group_doc(g: Any) -> str:
    return str(getattr(g, "description", "") or "")


def _group_size(cat: Any, name: str, g: Any) -> Any:
    if getattr(cat, "is_dynamic", lambda _n: False)(name):
        return "per antenna"
    try:
        return len(cat.resolve(name))
    except Exception:
        return ""


def _channel_text(p: Any) -> str:
    ch = getattr(p, "channel", None)
    if isinstance(ch, int):
        return str(ch)
    rule = getattr(p, "channel_rule", None)
    if getattr(p, "template", False):
        return "any"
    return str(rule or ch or "")


@app.command("simulate")
@_guard
def simulate_cmd(
    antennas: str | None = typer.Option(
        None, "--antennas", "-a", help="names or families, comma separated [default: all 66]"
    ),
    scenario: str | None = typer.Option(
        None, help="scenario name or .toml path (see --list-scenarios)"
    ),
    list_scenarios: bool = typer.Option(
        False, "--list-scenarios", help="list the shipped scenarios and exit"
    ),
    seed: int = typer.Option(0, help="random seed: same seed, same array"),
    rate: float = typer.Option(
        1.0, help="simulated seconds per real second (3600: an hour a second)"
    ),
    latency: float = typer.Option(0.0005, help="seconds per request on a CAN channel"),
    bind: str = typer.Option(
        "port",
        help="port: 127.0.0.1 with a free port each; address: one loopback address per antenna",
    ),
    port: int | None = typer.Option(None, "--port", help="port for --bind address [default 2000]"),
    write_array: str | None = typer.Option(
        None, "--write-array", metavar="CSV", help="write the host map here, for E2CKIT_ARRAY"
    ),
    write_hosts: str | None = typer.Option(
        None, "--write-hosts", metavar="FILE", help="write /etc/hosts lines (--bind address)"
    ),
    duration: float | None = typer.Option(
        None, help="stop after this many seconds [default: until Ctrl-C]"
    ),
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Run a simulated array in the foreground; print where each antenna listens.

    Then, in another terminal: E2CKIT_ARRAY=CSV e2ckit tools cryo --all
    """
    import signal
    import threading

    from e2ckit._cli_output import Table, resolve_format

    resolve_format(fmt, output)
    if list_scenarios:
        from e2ckit.sim.scenario import list_scenarios as _list
        from e2ckit.sim.scenario import load_scenario

        rows = [[n, getattr(load_scenario(n), "description", "")] for n in _list()]
        _emit(Table(["scenario", "description"], rows, title="scenarios"), fmt, output)
        return
    if bind not in ("port", "address"):
        raise BadInput(f"--bind {bind!r} must be port or address")
    if rate <= 0:
        raise BadInput(f"--rate must be positive, got {rate:g}")
    if duration is not None and duration < 0:
        raise BadInput(f"--duration must not be negative, got {duration:g}")
    from e2ckit.sim import SimulatedArray
    from e2ckit.sim.clock import SimClock

    sim = SimulatedArray(
        antennas,
        seed=seed,
        latency=latency,
        clock=SimClock(rate=rate),
        scenario=scenario,
        bind=bind,
        port=port,
    )
    sim.start()
    try:
        rows = [[name, ep.host, ep.port] for name, ep in sim.array.items()]
        _emit(
            Table(
                ["antenna", "host", "port"], rows, title="simulated array", meta={"vertical": False}
            ),
            fmt,
            output,
        )
        sys.stdout.flush()
        if write_array:
            _err(
                f"host map written to {sim.write_array(write_array)} (export E2CKIT_ARRAY={write_array})"
            )
        if write_hosts:
            with open(write_hosts, "w", encoding="utf-8") as f:
                for hostname, addr in sim.host_names().items():
                    f.write(f"{addr}\t{hostname}\n")
            _err(f"/etc/hosts lines written to {write_hosts}")
        what = f" scenario {scenario}," if scenario else ""
        _err(
            f"simulating {len(sim.antennas)} antennas (seed {seed},{what} rate {rate:g}x); Ctrl-C to stop"
        )
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        else:  # pragma: no cover - CliRunner in a worker thread
            old = None
        try:
            stop.wait(duration)
        except KeyboardInterrupt:
            pass
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
    finally:
        sim.stop()
    _err("simulation stopped")


# -- the logger's commands (e2ckit.cli_log adds the `log` group) ------------------------------------

from e2ckit import cli_log as _cli_log  # noqa: E402  (registers after every other command)

_cli_log.register(app)


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] in (["version"], ["--version"]):
        # fast path: typer would load its pydantic-based argument coercion just to print this
        from e2ckit import __version__

        print(__version__)
        return
    app(prog_name="e2ckit")


if __name__ == "__main__":
    main()
