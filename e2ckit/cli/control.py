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

from e2ckit.cli.common import (
    WholeHelp,
    catalog,
    emit_table,
    err,
    find_point,
    guard,
    hex_bytes,
    node_label,
    one_line,
    resolve_target,
)
from e2ckit.cli.options import (
    ANTENNA_RE,
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
from e2ckit.errors import Failure, TransportError

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
    # the network and the audit log only load when a control is asked for (--help stays fast)
    from e2ckit import audit
    from e2ckit.client import Client
    from e2ckit.wire.frames import Mode, Reply, Request

    # 1. everything the user typed, before anything else happens
    ch = parse_int(channel, "--channel", 0, CHANNEL_MAX)
    nd = parse_int(node, "--node", 0, NODE_MAX)
    ra = parse_int(rca, "--rca", 0, RCA_MAX)
    payload = parse_data(data)
    check_timing(timeout, None)
    check_output(fmt, output)
    label, ep = resolve_target(host, port)
    request = Request(ch, nd, ra, Mode.CONTROL, payload)
    cat = catalog()
    antenna = label if ANTENNA_RE.match(label) else None
    point = find_point(cat, ch, nd, ra, antenna, "control")
    lru, lru_name = node_label(cat, nd)
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

    def describe() -> None:
        err("Control request:")
        err(f"  target   {label} ({where})" if label != ep.host else f"  target   {where}")
        err(f"  LRU      channel {ch}, node 0x{nd:02X} {lru_text}")
        err(f"  RCA      0x{ra:05X} {pt_text}" + (f" — {desc}" if desc else ""))
        err(f"  data     {hex_bytes(payload)} ({len(payload)} byte{'s' if len(payload) != 1 else ''})")

    # 2. a person's yes (or --yes); a control not sent is logged as such
    if not yes:
        describe()
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

    # 3. intent on disk, send, outcome on disk
    def send() -> Reply:
        if yes:  # described once the intent is on disk: a log that fails is one line
            describe()
        if verbose:
            err(f"sending to {where}")
        with Client(ep.host, ep.port, timeout=timeout) as c:
            return c.request(request, check=False)

    status, error = "sent", None
    try:
        with warnings.catch_warnings(record=True) as caught:  # the outcome line could not be written
            warnings.simplefilter("always", RuntimeWarning)
            try:
                reply = audit.audited_send(send, request, host=ep.host, port=ep.port, via="cli",
                                           target=target, path=log_path)  # fmt: skip
            finally:
                for w in caught:
                    err(f"warning: {w.message}")
    except audit.OutcomeUnknownError as exc:
        status, error = "unknown", f"{audit.UNKNOWN} ({one_line(exc.cause)})"
    except TransportError as exc:  # no connection was made: not applied
        status, error = "failed", f"not sent: {one_line(exc)}"
    else:
        if reply.error:
            status, error = "e2c-error", Failure.e2c(reply.error).text

    # 4. the result
    cols = ["antenna", "host", "channel", "node", "rca", "lru", "point", "data", "outcome", "error"]
    vals = [label, where, ch, f"0x{nd:02X}", f"0x{ra:05X}", lru, point.name if point else None,
            hex_bytes(payload), status, error]  # fmt: skip
    emit_table(Table(cols, [vals], title=f"{label} control request"), fmt, output)
    if verbose:
        err(f"audit log: {log_path}")
    if status == "sent":
        return
    err(f"error: {error}")
    raise typer.Exit({"e2c-error": EXIT_PARTIAL, "unknown": EXIT_PARTIAL}.get(status, EXIT_NOTHING))


def _log_not_sent(where: str, target: dict[str, Any], payload: bytes, outcome: str, why: str) -> None:
    from e2ckit import audit

    try:
        audit.record(host=where, target=target, data=payload, outcome=outcome, detail=why)
    except OSError as exc:
        err(f"warning: the audit log could not record this {outcome} control: {exc.strerror or exc}")


def _can_confirm() -> bool:
    """A person can answer a prompt: stdin and stderr are both terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()
