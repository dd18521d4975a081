"""``e2ckit control request``: one control, described, confirmed, audited.

The order is the safeguard: every argument and the ``-o`` path are checked, the
target is described, a person confirms (or ``--yes``), an intent line is on disk in
the audit log (:func:`e2ckit.audit.audited_send`), and only then is the request
sent; its outcome is appended after. A control that went out without a reply is
reported as "outcome unknown — it may have been applied" (exit 1), not as failed.
A control that was not sent (declined, refused, the log not writable) says so.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import typer

from e2ckit import audit
from e2ckit.cli.e2c_text import (
    check_e2c_output,
    control_text,
    print_text,
    send_one,
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
    EXIT_REFUSED,
    NODE_MAX,
    RCA_MAX,
    BadInput,
    ChannelOpt,
    FormatOpt,
    HostOpt,
    NodeOpt,
    OutputOpt,
    PortOpt,
    TimeoutOpt,
    VerboseOpt,
    YesOpt,
    check_output,
    check_timing,
    parse_data,
    parse_int,
)
from e2ckit.cli.output import Table
from e2ckit.cli.tables import emit_table
from e2ckit.cli.target import resolve_target
from e2ckit.errors import Failure, TransportError
from e2ckit.names import ANTENNA_FAMILY_RE
from e2ckit.wire.frames import Mode, Request

control_app = typer.Typer(cls=WholeHelp, no_args_is_help=True, help="Control requests: confirmed, audited.")


@control_app.command("request", short_help="Perform AMB control request")
@guard
def control_request(
    host: str | None = HostOpt,
    port: int | None = PortOpt,
    channel: str | None = ChannelOpt,
    node: str | None = NodeOpt,
    rca: str | None = typer.Option(None, help="Control request RCA"),
    data: str | None = typer.Option(
        None, help='1 to 8 bytes, space separated, decimal or 0x hex: "0x60 0x64"'
    ),
    yes: bool = YesOpt,
    timeout: float = TimeoutOpt,
    verbose: bool = VerboseOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Send one control request, after saying what it will do and getting a yes.

    An intent line is written (and fsynced) to the audit log before anything is sent,
    and the outcome after; if the log cannot be written nothing is sent. The log is
    $E2CKIT_AUDIT_LOG, default ~/.local/state/e2ckit/control-audit.jsonl.
    """
    # 1. everything the user typed, before anything else happens
    plan = _plan(host, port, channel, node, rca, data, timeout, fmt, output)
    # 2. a person's yes (or --yes); a control not sent is logged as such
    if not yes:
        _describe(plan)
        _confirm(plan)
    # 3. intent on disk, send, outcome on disk
    status, error, reply = _send(plan, yes, timeout, verbose)
    # 4. the result
    if wants_e2c_text(fmt):
        if reply is None:
            print_text(f"Error: {error}\n", output)
        else:
            print_text(verbose_lines((host or "").strip(), control_text(reply.error, reply.data))
                       if verbose else control_text(reply.error, reply.data), output)  # fmt: skip
    else:
        cols = ["antenna", "host", "channel", "node", "rca", "lru", "point", "data", "outcome", "error"]
        t = plan["target"]
        vals = [plan["label"], plan["where"], t["channel"], t["node"], t["rca"], t["lru"], t["point"],
                hex_bytes(plan["payload"]), status, error]  # fmt: skip
        emit_table(Table(cols, [vals], title=f"{plan['label']} control request"), fmt, output)
    if verbose:
        err(f"audit log: {plan['log_path']}")
    if status == "sent":
        return
    err(f"error: {error}")
    raise typer.Exit({"e2c-error": EXIT_PARTIAL, "unknown": EXIT_PARTIAL}.get(status, EXIT_NOTHING))


def _plan(host: str | None, port: int | None, channel: str | None, node: str | None, rca: str | None,
          data: str | None, timeout: float, fmt: str | None, output: str | None) -> dict[str, Any]:  # fmt: skip
    """Every argument checked and the control described, before anything is sent."""

    ch = parse_int(channel, "--channel", 0, CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, NODE_MAX)
    ra = parse_int(rca, "--rca", 0, RCA_MAX)
    payload = parse_data(data)
    check_timing(timeout, None)
    check_e2c_output(output) if wants_e2c_text(fmt) else check_output(fmt, output)
    label, ep = resolve_target(host, port)
    cat = catalog()
    point = find_point(cat, ch, nd, ra, label if ANTENNA_FAMILY_RE.match(label) else None, "control")
    lru, lru_name = node_label(cat, nd)
    try:
        log_path = audit.check_writable()
    except OSError as exc:
        raise BadInput(
            f"cannot write the control audit log {audit.audit_path()}: {exc.strerror or exc}; nothing sent"
        ) from None
    target = {"antenna": label, "channel": ch, "node": f"0x{nd:02X}", "rca": f"0x{ra:05X}",
              "lru": lru or None, "point": point.name if point else None}  # fmt: skip
    lru_text = f"{lru} ({lru_name})" if lru and lru_name and lru_name != lru else (lru or "unknown LRU")
    desc = getattr(point, "description", "") if point else ""
    return {"label": label, "ep": ep, "where": f"{ep.host}:{ep.port}", "target": target, "payload": payload,
            "request": Request(ch, nd, ra, Mode.CONTROL, payload), "log_path": log_path,
            "lru_text": lru_text, "point_text": (point.name if point else "not in the catalog")
            + (f" — {desc}" if desc else "")}  # fmt: skip


def _describe(plan: dict[str, Any]) -> None:
    """What will be sent, where, on stderr."""
    t, payload, where = plan["target"], plan["payload"], plan["where"]
    err("Control request:")
    err(f"  target   {plan['label']} ({where})" if plan["label"] != plan["ep"].host else f"  target   {where}")
    err(f"  LRU      channel {t['channel']}, node {t['node']} {plan['lru_text']}")
    err(f"  RCA      {t['rca']} {plan['point_text']}")
    err(f"  data     {hex_bytes(payload)} ({len(payload)} byte{'s' if len(payload) != 1 else ''})")


def _confirm(plan: dict[str, Any]) -> None:
    """A person's yes at the terminal; no terminal, or no, is logged and exit status 4."""
    where, target, payload = plan["where"], plan["target"], plan["payload"]
    if not _can_confirm():
        _log_not_sent(where, target, payload, "refused", "no --yes and no terminal to confirm on")
        err("refused: not sending a control request without --yes when there is no terminal to confirm on")
        raise typer.Exit(EXIT_REFUSED)
    try:
        agreed = typer.confirm("Send this control request?", default=False, err=True)
    except typer.Abort:  # Ctrl-C or end of input at the prompt
        agreed = False
    if not agreed:
        _log_not_sent(where, target, payload, "declined", "declined at the prompt")
        err("not sent")
        raise typer.Exit(EXIT_REFUSED)


def _send(plan: dict[str, Any], yes: bool, timeout: float, verbose: bool) -> tuple[str, str | None, Any]:
    """Intent on disk, the request, the outcome on disk: (status, error, reply or None)."""
    from e2ckit.client import Client  # lazy: pulls the transport; keeps --help fast

    ep = plan["ep"]

    def send() -> Any:
        if yes:  # described once the intent is on disk: a log that fails is one line
            _describe(plan)
        if verbose:
            err(f"sending to {plan['where']}")
        if ep.transport is not None:  # the --simulate array, in memory
            return send_one(ep, plan["request"], timeout)
        with Client(ep.host, ep.port, timeout=timeout) as c:
            return c.request(plan["request"], check=False)

    try:
        with warnings.catch_warnings(record=True) as caught:  # the outcome line could not be written
            warnings.simplefilter("always", RuntimeWarning)
            try:
                reply = audit.audited_send(send, plan["request"], host=ep.host, port=ep.port, via="cli",
                                           target=plan["target"], path=plan["log_path"])  # fmt: skip
            finally:
                for w in caught:
                    err(f"warning: {w.message}")
    except audit.OutcomeUnknownError as exc:
        return "unknown", f"{audit.UNKNOWN} ({one_line(exc.cause)})", None
    except TransportError as exc:  # no connection was made: not applied
        return "failed", f"not sent: {one_line(exc)}", None
    if reply.error:
        return "e2c-error", Failure.e2c(reply.error).text, reply
    return "sent", None, reply


def _log_not_sent(where: str, target: dict[str, Any], payload: bytes, outcome: str, why: str) -> None:
    try:
        audit.record(host=where, target=target, data=payload, outcome=outcome, detail=why)
    except OSError as exc:
        err(f"warning: the audit log could not record this {outcome} control: {exc.strerror or exc}")


def _can_confirm() -> bool:
    """A person can answer a prompt: stdin and stderr are both terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()
