"""The drop-in ``e2c-client`` commands: ``monitor`` (request, nodes, temperature) and
``tools`` (temperature, revision, cryo, cmpr, power), with the published options, values
decoded by the catalog and ``--all`` run concurrently under one deadline.
(``control`` lives in :mod:`e2ckit.cli.control`.)"""

from __future__ import annotations

import math
import struct
import time
from typing import Any

import typer

from e2ckit.array import Array, Endpoint
from e2ckit.cli.app import app
from e2ckit.cli.control import control_app
from e2ckit.cli.e2c_text import (
    REVISION_RCAS,
    check_e2c_output,
    exchange,
    lru_name,
    monitor_text,
    nodes_text,
    print_text,
    revision_text,
    send_one,
    temperature_text,
    verbose_lines,
    wants_e2c_text,
)
from e2ckit.cli.guard import err, guard, one_line
from e2ckit.cli.helptext import WholeHelp
from e2ckit.cli.lookups import catalog, find_point, hex_bytes, node_label
from e2ckit.cli.options import (
    CHANNEL_MAX,
    EXIT_NOTHING,
    EXIT_PARTIAL,
    NODE_MAX,
    RCA_MAX,
    AllOpt,
    BadInput,
    ChannelOpt,
    DeadlineOpt,
    FormatOpt,
    HideErrorsOpt,
    HostOpt,
    NodeOpt,
    OutputOpt,
    PortOpt,
    ProblemsOpt,
    ShowErrorsOpt,
    TimeoutOpt,
    VerboseOpt,
    check_output,
    check_timing,
    exit_status_of,
    interrupted_exit,
    interrupted_rows,
    parse_int,
)
from e2ckit.cli.output import Table
from e2ckit.cli.reading import (
    exit_status,
    finish_read,
    report_errors,
    report_rows,
    rows_status,
    run_sweep,
)
from e2ckit.cli.summary import UNDECODED
from e2ckit.cli.tables import drop_column, emit_table, wide_table
from e2ckit.cli.target import active_array, array_name, resolve_target
from e2ckit.errors import Failure, ProtocolError, TransportError
from e2ckit.names import (
    ANTENNA_FAMILY_RE,
    ANTENNA_RE,
    E2C_INTERNAL_CHANNEL,
    E2C_INTERNAL_NODE,
    LRU_CHANNELS,
)
from e2ckit.wire.frames import Mode, Request

monitor_app = typer.Typer(cls=WholeHelp, no_args_is_help=True, help="Monitor requests (e2c-client compatible).")
tools_app = typer.Typer(
    cls=WholeHelp, no_args_is_help=True, help="Ready-made reads: temperature, revision, cryo, cmpr, power."
)
app.add_typer(monitor_app, name="monitor", short_help="E2C monitoring related commands")
app.add_typer(control_app, name="control", short_help="E2C control related commands")
app.add_typer(tools_app, name="tools", short_help="E2C utility commands")

# -- monitor --------------------------------------------------------------------------------


@monitor_app.command("request", short_help="Perform AMB monitor request")
@guard
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
    ch, nd, ra = _address(channel, node, rca)
    check_timing(timeout, None)
    _check_interpret(interpret)
    if wants_e2c_text(fmt):
        check_e2c_output(output)
        label, ep = resolve_target(host, port)
        replies = _e2c_exchange(ep, [Request(ch, nd, ra, Mode.MONITOR)], timeout, output)
        _e2c_print(host, verbose, monitor_text(replies[0].error, replies[0].data, interpret), output)
        raise typer.Exit(EXIT_PARTIAL if replies[0].error else 0)
    check_output(fmt, output)
    label, ep = resolve_target(host, port)
    cat = catalog()
    point = find_point(cat, ch, nd, ra, label if ANTENNA_FAMILY_RE.match(label) else None, "monitor")
    lru, _lru_name = node_label(cat, nd)
    if verbose:
        err(f"{label}: {ep.host}:{ep.port}, channel {ch}, node 0x{nd:02X} {lru}, rca 0x{ra:05X}")
    row = _monitor_once(ep, ch, nd, ra, timeout, point)
    interpreted = _interpret(row, interpret)
    emit_table(_monitor_table(label, ep, ch, nd, ra, lru, point, row, interpret, interpreted), fmt, output)
    _monitor_exit(row, point)


def _address(channel: str | None, node: str | None, rca: str | None) -> tuple[int, int, int]:
    """``--channel``, ``--node`` and ``--rca`` as numbers, each within its range."""
    return (parse_int(channel, "--channel", 0, CHANNEL_MAX), parse_int(node, "--node", 0, NODE_MAX),
            parse_int(rca, "--rca", 0, RCA_MAX))  # fmt: skip


def _check_interpret(interpret: str | None) -> None:
    if interpret is not None:
        try:
            struct.calcsize(interpret.strip())
        except struct.error as exc:
            raise BadInput(f"--interpret {interpret!r} is not a struct format: {exc}") from None


def _interpret(row: dict[str, Any], interpret: str | None) -> Any:
    """``--interpret``: the reply's data unpacked with a struct format (None when not asked
    or not read); a format that does not fit marks the row's error."""
    if interpret is None or row["raw"] is None or row["error"] is not None:
        return None
    try:
        values = struct.unpack(interpret.strip(), row["raw"])
    except struct.error as exc:
        err(f"--interpret {interpret!r} does not fit {len(row['raw'])} data bytes: {exc}")
        row["error"] = "interpret: data does not fit the format"
        return None
    return values[0] if len(values) == 1 else " ".join(str(v) for v in values)


def _monitor_table(label: str, ep: Endpoint, ch: int, nd: int, ra: int, lru: str, point: Any,
                   row: dict[str, Any], interpret: str | None, interpreted: Any) -> Table:  # fmt: skip
    cols = ["antenna", "host", "channel", "node", "rca", "lru", "point", "raw", "value", "text", "unit",
            "status", "error", "latency_ms"]  # fmt: skip
    vals = [label, f"{ep.host}:{ep.port}", ch, f"0x{nd:02X}", f"0x{ra:05X}", lru, point.name if point else None,
            hex_bytes(row["raw"]), row["value"], row["text"], point.unit if point else None, row["status"], row["error"],
            row["latency_ms"]]  # fmt: skip
    if interpret is not None:
        cols.append("interpreted")
        vals.append(interpreted)
    return Table(cols, [vals], title=f"{label} monitor request")


def _monitor_exit(row: dict[str, Any], point: Any) -> None:
    """A failed or undecodable reading: one line on stderr and its exit status."""
    if row["error"]:
        err(f"error: {row['error']}")
        failure = Failure.parse(row["error"])
        raise typer.Exit(EXIT_NOTHING if row["raw"] is None and failure is not None and failure.down else EXIT_PARTIAL)
    if row["status"] in UNDECODED:
        # it answered, but not with what this point holds: a failed reading
        err(f"error: {point.name} reply did not decode: {row['status']} ({hex_bytes(row['raw'])})")
        raise typer.Exit(EXIT_PARTIAL)


# -- --format e2c: e2c-client's own text (e2ckit.cli.e2c_text) -----------------------------


def _e2c_exchange(ep: Endpoint, requests: list[Any], timeout: float, output: str | None) -> list[Any]:
    """The replies to ``requests`` on one connection; a failure ends the command."""
    replies = exchange(ep, requests, timeout)
    if isinstance(replies, str):
        _e2c_exchange_failed(replies, output)
    return replies


def _e2c_exchange_failed(why: str, output: str | None) -> None:
    """e2c-client's ``Error: ...`` line on stdout, ours on stderr, exit status 3."""
    print_text(f"Error: {why}\n", output)
    err(f"error: {why}")
    raise typer.Exit(EXIT_NOTHING)


def _e2c_print(host: str | None, verbose: bool, text: str, output: str | None) -> None:
    print_text(verbose_lines((host or "").strip(), text) if verbose else text, output)


def _monitor_once(
    ep: Endpoint, ch: int, nd: int, ra: int, timeout: float, point: Any
) -> dict[str, Any]:
    """One monitor request on a fresh connection; failure comes back as data."""

    row: dict[str, Any] = {
        "raw": None,
        "value": math.nan,
        "text": None,
        "status": None,
        "error": None,
        "latency_ms": math.nan,
    }
    from e2ckit.client import Client  # lazy: pulls the transport; keeps --help fast

    t0 = time.perf_counter()
    try:
        if ep.transport is not None:  # the --simulate array, in memory
            reply = send_one(ep, Request(ch, nd, ra, Mode.MONITOR), timeout)
        else:
            with Client(ep.host, ep.port, timeout=timeout) as c:
                reply = c.request(Request(ch, nd, ra, Mode.MONITOR), check=False)
    except (TransportError, ProtocolError) as exc:
        # the Client's exception carries its Failure: the row reads as a sweep's would
        failure = getattr(exc, "failure", None)
        row["error"] = failure.text if failure is not None else f"protocol: {one_line(exc)}"
        return row
    row["latency_ms"] = (time.perf_counter() - t0) * 1e3
    if reply.error:
        row["error"] = Failure.e2c(reply.error).text
        row["raw"] = reply.data
        return row
    row["raw"] = reply.data
    if point is not None:
        try:
            d = point.decode(reply.data)
        except Exception as exc:  # a reply the catalog cannot decode is still shown raw
            row["status"] = "undecodable"
            row["text"] = f"cannot decode: {one_line(exc)}"
        else:
            row["value"] = math.nan if d.value is None else float(d.value)
            row["text"] = d.text
            row["status"] = d.status
    return row


@monitor_app.command("nodes", short_help="List all CAN nodes reported by E2C host")
@guard
def monitor_nodes(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    timeout: float = TimeoutOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """List the nodes (LRUs) and serial numbers on every channel of one E2C."""
    e2c_text = wants_e2c_text(fmt)
    check_e2c_output(output) if e2c_text else check_output(fmt, output)
    check_timing(timeout, None)
    label, ep = resolve_target(host, port)
    if verbose and not e2c_text:
        err(f"{label}: {ep.host}:{ep.port}")
    # one connection, five listings, as e2c-client does (no fan-out engine, no pandas)
    requests = [Request(ch, 0, 0, Mode.GET_NODES) for ch in LRU_CHANNELS]
    replies = exchange(ep, requests, timeout)
    if isinstance(replies, str) and e2c_text:
        _e2c_exchange_failed(replies, output)
    rows = _node_rows(label, replies)
    if e2c_text:
        listing = [(r[1], r[2], bytes.fromhex(r[4][2:]), lru_name(r[2], r[6], r[5])) for r in rows if r[4]]
        _e2c_print(host, verbose, nodes_text(listing), output)
    else:
        emit_table(_nodes_table(label, rows), fmt, output)
    for r in rows:
        if r[7]:
            err(f"error: {label} channel {r[1]}" + (f" node {r[3]}" if r[3] else "") + f": {r[7]}")
    raise typer.Exit(exit_status([r[7] for r in rows]))


#: monitor nodes' columns (those of e2ckit.api.nodes)
NODE_COLUMNS = ["antenna", "channel", "node", "node_hex", "esn", "lru", "name", "error"]


def _node_rows(label: str, replies: list[Any] | str) -> list[list[Any]]:
    """One row per node found, or per channel whose listing failed (``replies`` is the
    failure's text when the E2C could not be reached)."""
    cat = catalog()
    rows: list[list[Any]] = []
    for i, ch in enumerate(LRU_CHANNELS):
        reply = replies if isinstance(replies, str) else replies[i]
        if isinstance(reply, str) or reply.error:
            why = reply if isinstance(reply, str) else Failure.e2c(reply.error).text
            rows.append([label, ch, None, None, None, None, None, why])
            continue
        for n in reply.nodes:
            abbrev, name = node_label(cat, n.node)
            bad = None
            if n.node > NODE_MAX:  # rare: only then load the planner that says why (it imports the engine)
                # lazy: pulls the transport; keeps --help fast
                from e2ckit.planning import impossible_node

                bad = impossible_node(ch, n)
            rows.append([label, ch, n.node, f"0x{n.node:02X}", n.esn_hex, abbrev, name, bad.text if bad else None])
    return rows


def _nodes_table(label: str, rows: list[list[Any]]) -> Table:
    """The listing as a table; the int node id is kept for csv/json, hidden on screen."""
    t = Table(NODE_COLUMNS, rows, title=f"{label} CAN nodes")
    keep = [i for i, c in enumerate(NODE_COLUMNS) if c != "node"]
    t.text = [[r[i] for i in keep] for r in t.display_rows()]
    t.headers = [NODE_COLUMNS[i] for i in keep]
    t.meta["display_columns"] = keep
    return t


def _temperature(host: str | None, port: int | None, channel: str | None, node: str | None,
                 timeout: float, verbose: bool, fmt: str | None, output: str | None) -> None:  # fmt: skip
    ch, nd, _ = _address(channel, node, "0x30003")
    check_timing(timeout, None)
    e2c_text = wants_e2c_text(fmt)
    check_e2c_output(output) if e2c_text else check_output(fmt, output)
    label, ep = resolve_target(host, port)
    if e2c_text:
        reply = _e2c_exchange(ep, [Request(ch, nd, AMBSI_TEMPERATURE_RCA, Mode.MONITOR)], timeout, output)[0]
        celsius, error = _ds18s20(reply.data) if not reply.error else (None, None)
        text = temperature_text(celsius) if celsius is not None else (
            monitor_text(reply.error, b"").splitlines()[0] + "\n" if reply.error else f"Error: {error}\n")
        _e2c_print(host, verbose, text, output)
        raise typer.Exit(0 if celsius is not None else EXIT_PARTIAL)
    lru, _name = node_label(catalog(), nd)
    if verbose:
        err(f"{label}: {ep.host}:{ep.port}, channel {ch}, node 0x{nd:02X} {lru}")
    row = _monitor_once(ep, ch, nd, AMBSI_TEMPERATURE_RCA, timeout, None)
    temp = None
    if row["error"] is None:
        temp, row["error"] = _ds18s20(row["raw"])
        temp = None if temp is None else round(temp, 4)
    cols = ["antenna", "host", "channel", "node", "lru", "temperature_C", "raw", "error"]
    vals = [label, f"{ep.host}:{ep.port}", ch, f"0x{nd:02X}", lru, temp, hex_bytes(row["raw"]), row["error"]]
    emit_table(Table(cols, [vals], title=f"{label} AMBSI temperature"), fmt, output)
    if row["error"]:
        err(f"error: {row['error']}")
        raise typer.Exit(EXIT_NOTHING if row["raw"] is None else EXIT_PARTIAL)


AMBSI_TEMPERATURE_RCA = 0x30003  # every AMBSI's DS18S20


def _ds18s20(data: bytes) -> tuple[float | None, str | None]:
    """(°C, None), or (None, why) for a reading that is no DS18S20's."""
    from e2ckit.client import decode_ds18s20  # lazy: pulls the transport; keeps --help fast

    try:
        return decode_ds18s20(data), None
    except Exception as exc:
        return None, f"protocol: {one_line(exc)}"


_TEMP_DOC = """AMBSI ambient temperature (RCA 0x30003, DS18S20) of one node, in °C."""


@tools_app.command("temperature", short_help="Perform AMB monitor request for AMBSI temperature")
@guard
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


def _group_target(
    group: str, host: str | None, port: int | None, all_: bool, include_central: bool, channel: str | None
) -> tuple[Array, Any]:
    """The array and antennas (None: all) a group read goes to: ``--all``, or one ``--host``."""
    if all_:
        arr = active_array()
        if include_central and arr.source == "ALMA defaults":  # never beside a simulated or given map
            arr = Array.default(include_central=True)  # as e2c-client: the central E2Cs too
        return arr, None
    label, ep = resolve_target(host, port)
    arr = Array([ep], source="--host")
    if group == "cmpr" and channel is None and not ANTENNA_RE.match(label):
        raise BadInput(
            f"cannot tell the compressor's channel on {label!r}: give --host as an antenna (DV01) "
            "or --channel 2 (DA/DV) or 3 (CM/PM)"
        )
    return arr, [label]


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
    what: list[str] | None = None,
    table_of: Any = None,
    problems: bool = False,
) -> None:
    """tools revision|cryo|cmpr: one group read on ``--host`` or ``--all``, as a wide table."""
    check_output(fmt, output)
    check_timing(timeout, deadline)
    if all_ and host:
        raise BadInput("give --host or --all, not both")
    if not all_ and not host:
        raise BadInput("give --host HOST (an antenna such as DV01, or a host name) or --all")
    family = "DV"
    if channel is not None:
        ch = parse_int(channel, "--channel", 2, 3)
        family = "DV" if ch == 2 else "CM"
    arr, antennas = _group_target(group, host, port, all_, include_central, channel)
    if verbose:
        err(f"{group}: {len(arr.select(antennas))} host(s) from {array_name(arr)}")
    not_read = None
    try:
        rows = run_sweep(what or group, antennas, arr, timeout, deadline, group, stand_in_family=family)
    except KeyboardInterrupt as exc:  # Ctrl-C: show what was read (issue 22 item 11)
        rows, not_read = interrupted_rows(exc)
    shown, states = report_rows(rows, problems)
    hosts = {a: f"{arr[a].host}:{arr[a].port}" for a in arr.select(antennas)}
    table = table_of(shown, title) if table_of else wide_table(shown, title=title, host_of=hosts)
    if not show_errors:
        table = drop_column(table, "error")
    emit_table(table, fmt, output)
    if not_read is not None:
        report_errors(rows)
        interrupted_exit(not_read)
    if all_:
        finish_read(rows, states)
    report_errors(rows)
    raise typer.Exit(exit_status_of(rows_status(rows), states.values()))


@tools_app.command("revision", short_help="Obtain E2C revision information")
@guard
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
    hide_errors: bool = HideErrorsOpt,
    problems: bool = ProblemsOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """E2C protocol, software and U-Boot revisions (and processor temperature)."""
    if wants_e2c_text(fmt):
        _revision_e2c_text(host, port, all_, timeout, verbose, output)
    _group_read("revision", "E2C revision information", host, port, all_, timeout, deadline,
                show_errors and not hide_errors, verbose, fmt, output, include_central=True,
                problems=problems)  # fmt: skip


def _revision_e2c_text(host: str | None, port: int | None, all_: bool, timeout: float, verbose: bool,
                       output: str | None) -> None:  # fmt: skip
    """``tools revision --host H --format e2c``: e2c-client's three lines."""
    if all_:
        raise BadInput("--format e2c takes --host: e2c-client's --all output is a rich table (use --format table)")
    check_timing(timeout, None)
    check_e2c_output(output)
    _label, ep = resolve_target(host, port)
    requests = [Request(E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE, rca, Mode.MONITOR) for rca, _ in REVISION_RCAS]
    replies = _e2c_exchange(ep, requests, timeout, output)
    text = revision_text([(rca, what, r.error, r.data) for (rca, what), r in zip(REVISION_RCAS, replies, strict=True)])
    _e2c_print(host, verbose, text, output)
    raise typer.Exit(EXIT_PARTIAL if any(r.error for r in replies) else 0)


@tools_app.command("cryo", short_help="Perform AMB monitor request for Cryostat status")
@guard
def tools_cryo(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    all_: bool = AllOpt,
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    show_errors: bool = ShowErrorsOpt,
    hide_errors: bool = HideErrorsOpt,
    problems: bool = ProblemsOpt,
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
        show_errors and not hide_errors,
        verbose,
        fmt,
        output,
        problems=problems,
    )


@tools_app.command("cmpr", short_help="Perform AMB monitor requests for Compressor status")
@guard
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
    hide_errors: bool = HideErrorsOpt,
    problems: bool = ProblemsOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Helium compressor status (°C, MPa, alarms, timers); the catalog's `cmpr` group.

    The compressor is on channel 2 on DA/DV antennas and 3 on CM/PM: give --host as
    an antenna name (DV01) or a host name that starts with one (dv01-e2c).
    """
    _group_read("cmpr", "Compressor status", host, port, all_, timeout, deadline, show_errors and not hide_errors,
                verbose, fmt, output, channel=channel, problems=problems)  # fmt: skip



@tools_app.command("power", short_help="Front-end power and interlock status")
@guard
def tools_power(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    all_: bool = AllOpt,
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    show_errors: bool = ShowErrorsOpt,
    hide_errors: bool = HideErrorsOpt,
    problems: bool = ProblemsOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Front-end power and interlocks, one line per antenna: FEPS outputs, system interlocks,
    flags set (rail and condition), rails off nominal, cartridges on, FETIM, safe to cool, ACU
    power flag, and the power / interlock verdicts of diagnose."""
    _group_read("power", "Front-end power and interlocks", host, port, all_, timeout, deadline,
                show_errors and not hide_errors, verbose, fmt, output, what=_power_what(), table_of=_power_table,
                problems=problems)  # fmt: skip


def _power_what() -> list[str]:
    from e2ckit.triage.power import POWER_WHAT  # lazy: keeps `e2ckit --help` light

    return [*POWER_WHAT, "FEMC[0x13].SW_REV"]  # the FEMC's AMBSI: tells a silent FEMC from a missing one


def _power_table(rows: list, title: str) -> Table:
    from e2ckit.triage.power import power_table  # lazy: keeps `e2ckit --help` light

    columns, values, states = power_table(rows)
    errors = {}
    for r in rows:
        if r.error and r.antenna not in errors:
            errors[r.antenna] = r.error
    return Table([*columns, "error"], [[*v, errors.get(v[0])] for v in values], states=[[*s, None] for s in states],
                 title=title)  # fmt: skip
