"""Array-wide commands: ``sweep`` (groups or points of many antennas under one deadline),
``nodes`` (each E2C's CAN nodes, or ``--inventory`` against the expected LRUs) and
``points`` (browse the catalog)."""

from __future__ import annotations

from typing import Any

import typer

from e2ckit.cli.app import app
from e2ckit.cli.guard import err, guard
from e2ckit.cli.lookups import all_points, catalog
from e2ckit.cli.options import (
    AntennasOpt,
    BadInput,
    DeadlineOpt,
    FormatOpt,
    OutputOpt,
    ProblemsOpt,
    TimeoutOpt,
    WhatArg,
    WideOpt,
    check_output,
    check_timing,
    exit_status_of,
    interrupted_exit,
    interrupted_rows,
)
from e2ckit.cli.output import Table
from e2ckit.cli.reading import (
    exit_status,
    finish_read,
    report_errors,
    report_rows,
    run_sweep,
)
from e2ckit.cli.summary import ANTENNA_STATES, antenna_states, summary_line
from e2ckit.cli.tables import emit_table, frame_table, rows_table, wide_table
from e2ckit.cli.target import active_array, check_antennas


@app.command("sweep")
@guard
def sweep_cmd(
    what: list[str] = WhatArg,
    antennas: str = AntennasOpt,
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    tidy: bool = typer.Option(
        False, "--tidy", help="one row per (antenna, point) with text, status, raw bytes, latency"
    ),
    problems: bool = ProblemsOpt,
    wide: bool = WideOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Read a group or points from many antennas at once (one deadline for all).

    Example: e2ckit --simulate sweep cryo --antennas DV
    """

    check_output(fmt, output)
    check_timing(timeout, deadline)
    items = [x.strip() for w in what for x in w.split(",") if x.strip()]
    if not items:
        raise BadInput("give a group or point names")
    from e2ckit.planning import split_what  # the sweep's own check; loaded only by this command

    split_what(catalog(), items)  # an unknown group or point: refused before anything starts
    check_antennas(antennas)
    arr = active_array()
    not_read = None
    try:
        rows = run_sweep(items if len(items) > 1 else items[0], antennas, arr, timeout, deadline, items[0])
    except KeyboardInterrupt as exc:  # Ctrl-C: show what was read, then say what was not
        rows, not_read = interrupted_rows(exc)
    shown, states = report_rows(rows, problems, tidy)
    title = f"sweep {' '.join(items)}"
    table = rows_table(shown, title=title) if tidy else wide_table(shown, title=title)
    emit_table(table, fmt, output, wide)
    if not_read is not None:
        report_errors(rows)
        interrupted_exit(not_read)
    finish_read(rows, states)


@app.command("nodes")
@guard
def nodes_cmd(
    antennas: str = AntennasOpt,
    inventory: bool = typer.Option(
        False, "--inventory", help="compare against the expected LRUs: only those not as expected (see --all)"
    ),
    every: bool = typer.Option(False, "--all", help="with --inventory: every LRU, those as expected too"),
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    problems: bool = ProblemsOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """List the CAN nodes every antenna's E2C reports (or check them against the inventory)."""
    # lazy: pulls the transport; keeps --help fast
    from e2ckit.api import inventory as api_inventory
    from e2ckit.api import nodes  # lazy: pulls the transport; keeps --help fast

    check_output(fmt, output)
    check_timing(timeout, deadline)
    if every and not inventory:
        raise BadInput("--all goes with --inventory (every LRU, those as expected too)")
    check_antennas(antennas)
    arr = active_array()
    df = nodes(arr.select(antennas), array=arr, timeout=timeout, deadline=deadline)
    states = _listing_states(df)
    if inventory:
        inv = api_inventory(array=arr, found=df)
        states = {a: _worse(states[a], s) for a, s in _inventory_states(inv).items()}
        shown = inv if every and not problems else inv[inv["state"] != "ok"]
        emit_table(frame_table(shown, title="LRU inventory"), fmt, output)
        _say_inventory(inv, shown)
    else:
        shown = df[df["antenna"].map(states) != "ok"] if problems else df
        emit_table(frame_table(shown, title="CAN nodes", hide=("node",)), fmt, output)
    report_errors(df, "channel listings")
    err(summary_line(states))
    raise typer.Exit(exit_status_of(exit_status(list(df["error"])), states.values()))


#: an inventory row's state → the antenna state it counts as (a missing LRU is an alarm:
#: the receiver cannot work without it; an unexpected one a warning)
INVENTORY_STATES = {"ok": "ok", "missing": "alarm", "unexpected": "warn", "unreachable": "unknown"}


def _listing_states(df: Any) -> dict[str, str]:
    """Each antenna's state from its node listings: silent, unknown (a channel failed) or ok."""

    rows = [_Listing(a, e) for a, e in zip(df["antenna"], df["error"], strict=True)]
    return antenna_states(rows)


class _Listing:
    """A node listing row as the summary counts it (no limit: a listing is ok or failed)."""

    __slots__ = ("antenna", "error", "limit", "status")

    def __init__(self, antenna: str, error: Any) -> None:
        self.antenna, self.error, self.limit, self.status = antenna, error, "ok", "ok"


def _inventory_states(inv: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for a, st in zip(inv["antenna"], inv["state"], strict=True):
        out[a] = _worse(out.get(a, "ok"), INVENTORY_STATES.get(st, "unknown"))
    return out


def _worse(a: str, b: str) -> str:
    return max(a, b, key=ANTENNA_STATES.index)


def _say_inventory(inv: Any, shown: Any) -> None:
    bad = inv[inv["state"] != "ok"]
    if bad.empty:
        err(f"all {len(inv)} LRUs as expected")
        return
    err(f"{len(bad)} of {len(inv)} LRUs not as expected"
        + ("" if len(shown) == len(inv) else " (shown; --all for every LRU)"))  # fmt: skip


@app.command("points")
@guard
def points_cmd(
    group: str | None = typer.Argument(None, help="only the points of this group"),
    groups: bool = typer.Option(False, "--groups", help="list the groups instead of points"),
    limits: str | None = typer.Option(
        None, "--limits", help="site limits CSV to show in force [default: $E2CKIT_SITE_LIMITS]"
    ),
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Browse the catalog: every point (or a group's), with address, type, unit, its limits
    (warn/alarm bounds in force, their source) and expected state."""

    check_output(fmt, output)
    if group is not None and not group.strip():
        raise BadInput("GROUP is empty: give a group name, or leave it out for every point")
    cat = catalog()
    if groups:
        rows = []
        for name, g in groups_of(cat).items():
            rows.append([name, group_size(cat, name, g), group_doc(g)])
        emit_table(Table(["group", "points", "description"], rows, title="groups", meta={"wrap": ["description"]}), fmt, output)
        return
    if group:
        if group not in groups_of(cat):
            try:
                pts = cat.resolve(group)
            except Exception:
                raise BadInput(
                    f"unknown group {group!r}: known groups are {', '.join(groups_of(cat))}"
                ) from None
        elif cat.is_dynamic(group):
            # built per antenna from the nodes it reports: show the generic points it reads
            pts = []
            for m in groups_of(cat)[group].members:
                try:
                    pts.append(cat.point(m))
                except Exception:
                    pts.extend(safe_resolve(cat, m))
        else:
            pts = cat.resolve(group)
    else:
        pts = all_points(cat)
    # lazy: the catalog costs ~60 ms to import; keeps --help fast
    from e2ckit.catalog.limits import limit_cells

    shown = limit_cells([p.name for p in pts], limits)  # triage: limits in force (#14)
    cols = ["name", "kind", "lru", "channel", "node", "rca", "type", "unit", "description",
            "warn_low", "warn_high", "alarm_low", "alarm_high", "limit_source", "expected"]  # fmt: skip
    rows = [[p.name, getattr(p, "kind", ""), getattr(p, "lru", ""), channel_text(p),
             "any" if p.node is None else f"0x{p.node:02X}", f"0x{p.rca:05X}",
             str(getattr(p, "dtype", getattr(p, "type", ""))), getattr(p, "unit", "") or "",
             getattr(p, "description", "") or "", *shown[p.name]] for p in pts]  # fmt: skip
    table = Table(cols, rows, title=f"points of {group}" if group else "catalog points", meta={"wrap": ["description"]})
    emit_table(table, fmt, output)


def safe_resolve(cat: Any, name: str) -> list[Any]:
    try:
        return list(cat.resolve(name))
    except Exception:
        return []


def groups_of(cat: Any) -> dict[str, Any]:
    g = cat.groups
    return dict(g) if isinstance(g, dict) else {str(x): x for x in g}


def group_doc(g: Any) -> str:
    return str(getattr(g, "description", "") or "")


def group_size(cat: Any, name: str, g: Any) -> Any:
    if getattr(cat, "is_dynamic", lambda _n: False)(name):
        return "per antenna"
    try:
        return len(cat.resolve(name))
    except Exception:
        return ""


def channel_text(p: Any) -> str:
    ch = getattr(p, "channel", None)
    if isinstance(ch, int):
        return str(ch)
    rule = getattr(p, "channel_rule", None)
    if getattr(p, "template", False):
        return "any"
    return str(rule or ch or "")

