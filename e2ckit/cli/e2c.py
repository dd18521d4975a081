"""The drop-in ``e2c-client`` commands: ``monitor`` (request, nodes, temperature) and
``tools`` (temperature, revision, cryo, cmpr, power), with the published options, values
decoded by the catalog and ``--all`` run concurrently under one deadline.
(``control`` lives in :mod:`e2ckit.cli.control`.)"""

from __future__ import annotations

import math
import os
import struct
import time
from typing import Any

import typer

from e2ckit.array import Array, Endpoint
from e2ckit.cli.app import app
from e2ckit.cli.common import (
    UNDECODED,
    WholeHelp,
    active_array,
    catalog,
    drop_column,
    emit_table,
    err,
    exit_status,
    find_point,
    frame_table,
    guard,
    hex_bytes,
    node_label,
    one_line,
    report_errors,
    resolve_target,
    rows_status,
    run_sweep,
    wide_table,
)
from e2ckit.cli.control import control_app
from e2ckit.cli.options import (
    ANTENNA_RE,
    CHANNEL_MAX,
    EXACT_ANTENNA_RE,
    EXIT_NOTHING,
    EXIT_PARTIAL,
    NODE_MAX,
    RCA_MAX,
    AllOpt,
    BadInput,
    ChannelOpt,
    DeadlineOpt,
    FormatOpt,
    HostOpt,
    NodeOpt,
    OutputOpt,
    PortOpt,
    ShowErrorsOpt,
    TimeoutOpt,
    VerboseOpt,
    check_output,
    check_timing,
    parse_int,
    interrupted_exit,
    interrupted_rows,
)
from e2ckit.cli.output import Table
from e2ckit.errors import Failure, ProtocolError, TransportError

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

    ch = parse_int(channel, "--channel", 0, CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, NODE_MAX)
    ra = parse_int(rca, "--rca", 0, RCA_MAX)
    check_timing(timeout, None)
    check_output(fmt, output)
    if interpret is not None:
        try:
            struct.calcsize(interpret.strip())
        except struct.error as exc:
            raise BadInput(f"--interpret {interpret!r} is not a struct format: {exc}") from None
    label, ep = resolve_target(host, port)
    cat = catalog()
    antenna = label if ANTENNA_RE.match(label) else None
    point = find_point(cat, ch, nd, ra, antenna, "monitor")
    lru, lru_name = node_label(cat, nd)
    if verbose:
        err(f"{label}: {ep.host}:{ep.port}, channel {ch}, node 0x{nd:02X} {lru}, rca 0x{ra:05X}")
    row = _monitor_once(ep, ch, nd, ra, timeout, point)
    interpreted = None
    if interpret is not None and row["raw"] is not None and row["error"] is None:
        try:
            values = struct.unpack(interpret.strip(), row["raw"])
            interpreted = values[0] if len(values) == 1 else " ".join(str(v) for v in values)
        except struct.error as exc:
            err(f"--interpret {interpret!r} does not fit {len(row['raw'])} data bytes: {exc}")
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
            hex_bytes(row["raw"]), row["value"], row["text"], point.unit if point else None, row["status"], row["error"],
            row["latency_ms"]]  # fmt: skip
    if interpret is not None:
        cols.append("interpreted")
        vals.append(interpreted)
    emit_table(Table(cols, [vals], title=f"{label} monitor request"), fmt, output)
    if row["error"]:
        err(f"error: {row['error']}")
        failure = Failure.parse(row["error"])
        raise typer.Exit(EXIT_NOTHING if row["raw"] is None and failure is not None and failure.down else EXIT_PARTIAL)
    if row["status"] in UNDECODED:
        # it answered, but not with what this point holds: a failed reading
        err(f"error: {point.name} reply did not decode: {row['status']} ({hex_bytes(row['raw'])})")
        raise typer.Exit(EXIT_PARTIAL)


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
    from e2ckit.client import Client
    from e2ckit.wire.frames import Mode, Request

    t0 = time.perf_counter()
    try:
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
    from e2ckit.api import nodes

    check_output(fmt, output)
    check_timing(timeout, None)
    label, ep = resolve_target(host, port)
    if verbose:
        err(f"{label}: {ep.host}:{ep.port}")
    df = nodes(label, array=Array([ep], source="--host"), timeout=timeout)
    emit_table(frame_table(df, title=f"{label} CAN nodes", hide=("node",)), fmt, output)
    report_errors(df, "channel listings")
    raise typer.Exit(exit_status(list(df["error"])))


def _temperature(host: str | None, port: int | None, channel: str | None, node: str | None,
                 timeout: float, verbose: bool, fmt: str | None, output: str | None) -> None:  # fmt: skip
    ch = parse_int(channel, "--channel", 0, CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, NODE_MAX)
    check_timing(timeout, None)
    check_output(fmt, output)
    label, ep = resolve_target(host, port)
    cat = catalog()
    lru, _name = node_label(cat, nd)
    if verbose:
        err(f"{label}: {ep.host}:{ep.port}, channel {ch}, node 0x{nd:02X} {lru}")
    row = _monitor_once(ep, ch, nd, 0x30003, timeout, None)
    temp = None
    if row["error"] is None:
        try:
            from e2ckit.client import decode_ds18s20

            temp = round(decode_ds18s20(row["raw"]), 4)
        except Exception as exc:
            row["error"] = f"protocol: {one_line(exc)}"
    cols = ["antenna", "host", "channel", "node", "lru", "temperature_C", "raw", "error"]
    vals = [
        label,
        f"{ep.host}:{ep.port}",
        ch,
        f"0x{nd:02X}",
        lru,
        temp,
        hex_bytes(row["raw"]),
        row["error"],
    ]
    emit_table(Table(cols, [vals], title=f"{label} AMBSI temperature"), fmt, output)
    if row["error"]:
        err(f"error: {row['error']}")
        raise typer.Exit(EXIT_NOTHING if row["raw"] is None else EXIT_PARTIAL)


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
) -> None:

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
    if all_:
        arr = active_array()
        if include_central and arr.source == "ALMA defaults":  # never beside a simulated or given map
            arr = Array.default(include_central=True)  # as e2c-client: the central E2Cs too
        antennas: Any = None
    else:
        label, ep = resolve_target(host, port)
        arr = Array([ep], source="--host")
        antennas = [label]
        if group == "cmpr" and channel is None and not EXACT_ANTENNA_RE.match(label):
            raise BadInput(
                f"cannot tell the compressor's channel on {label!r}: give --host as an antenna (DV01) "
                "or --channel 2 (DA/DV) or 3 (CM/PM)"
            )
    if verbose:
        err(f"{group}: {len(arr.select(antennas))} host(s) from {arr.source or 'memory'}")
    not_read = None
    try:
        rows = run_sweep(what or group, antennas, arr, timeout, deadline, group, stand_in_family=family)
    except KeyboardInterrupt as exc:  # Ctrl-C: show what was read (issue 22 item 11)
        rows, not_read = interrupted_rows(exc)
    hosts = {a: f"{arr[a].host}:{arr[a].port}" for a in arr.select(antennas)}
    table = table_of(rows, title) if table_of else wide_table(rows, title=title, host_of=hosts)
    if not show_errors:
        table = drop_column(table, "error")
    emit_table(table, fmt, output)
    report_errors(rows)
    if not_read is not None:
        interrupted_exit(not_read)
    raise typer.Exit(rows_status(rows))


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
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """E2C protocol, software and U-Boot revisions (and processor temperature)."""
    _group_read("revision", "E2C revision information", host, port, all_, timeout, deadline, show_errors,
                verbose, fmt, output, include_central=True)  # fmt: skip


@tools_app.command("cryo", short_help="Perform AMB monitor request for Cryostat status")
@guard
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



@tools_app.command("power", short_help="Front-end power and interlock status")
@guard
def tools_power(
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
    """Front-end power and interlocks, one line per antenna: FEPS outputs, system interlocks,
    flags set (rail and condition), rails off nominal, cartridges on, FETIM, safe to cool, ACU
    power flag, and the power / interlock verdicts of diagnose."""
    _group_read("power", "Front-end power and interlocks", host, port, all_, timeout, deadline, show_errors,
                verbose, fmt, output, what=_power_what(), table_of=_power_table)  # fmt: skip


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
