"""``e2ckit recover``: show the recovery plan, then carry it out (confirmed, audited,
journaled); see :mod:`e2ckit.triage.recover`."""

from __future__ import annotations

import math
import os
import sys
import tempfile
import textwrap
import time
from typing import Any

import typer

from e2ckit.cli.app import app
from e2ckit.cli.guard import err, guard
from e2ckit.cli.options import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_STALLED,
    EXIT_WAITING,
    BadInput,
    TimeoutOpt,
)
from e2ckit.cli.output import output_width
from e2ckit.cli.target import active_array
from e2ckit.clock import array_now, parse_duration
from e2ckit.errors import ValidationError

#: exit status by the worst antenna outcome (best first)
_EXIT = {"reached": EXIT_OK, "waiting": EXIT_WAITING, "stalled": EXIT_STALLED, "refused": EXIT_REFUSED,
         "error": EXIT_PARTIAL}  # fmt: skip
_WORST = ("error", "refused", "stalled", "waiting", "reached")


def _seconds(option: str, text: str) -> float:
    try:
        value = parse_duration(text)
    except (ValueError, TypeError):
        raise BadInput(f"{option} {text!r} is not a duration (90, 45s, 30m, 2h, 1d12h)") from None
    if value < 0:
        raise BadInput(f"{option} must not be negative, got {text!r}")
    return value


def _plan_status(plan: Any, until: str) -> int:
    """A plan's exit status (the one exit table): 0 every antenna has reached ``until``;
    8 (EXIT_STALLED) one is blocked or stalled — it needs a person, another step first, or
    does not answer; else 7 (EXIT_WAITING): only ready steps and gates opening with time."""
    firsts = []
    for _, rows in plan.groupby("antenna", sort=False):
        rows = rows.iloc[: list(rows.step).index(until) + 1]
        pending = rows[rows.status != "done"]
        if not pending.empty:
            firsts.append(pending.iloc[0].status)
    if not firsts:
        return EXIT_OK
    return EXIT_STALLED if {"blocked", "stalled"} & set(firsts) else EXIT_WAITING


def _in(seconds: float) -> str:
    """``in 20 s``, ``in 35 min``, ``in 6.2 h``: an ETA as a person reads it."""
    if seconds < 120:
        return f"in {seconds:.0f} s"
    return f"in {seconds / 60:.0f} min" if seconds < 7200 else f"in {seconds / 3600:.1f} h"


def _current_lines(plan: Any, until: str, label: str) -> list[str]:
    """One line per antenna: the first step not done (up to step ``until``, which the user
    called ``label``), or reached."""
    lines = []
    for antenna, rows in plan.groupby("antenna", sort=False):
        steps = list(rows.step)
        rows = rows.iloc[: steps.index(until) + 1]
        pending = rows[rows.status != "done"]
        if pending.empty:
            lines.append(f"{antenna}  {label} reached")
            continue
        r = pending.iloc[0]
        why = f": {r.blocked_by}" if r.blocked_by else ""
        eta = f" ({_in(r.eta.total_seconds())})" if r.eta == r.eta else ""
        lines.append(f"{antenna}  {r.step} {r.status}, {r.action}{why}{eta}; {len(pending)} step(s) to {label}")
    return lines


def _say(line: str) -> None:
    """One line of the report on stdout: whole into a pipe or a file (one line a
    transition, for scripts and logs), wrapped to the terminal's width on one."""
    if sys.stdout.isatty():
        line = "\n".join(textwrap.wrap(line, output_width(), subsequent_indent="      ", break_on_hyphens=False)) or line
    typer.echo(line)


def _confirm(yes: bool) -> None:
    if yes:
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        err("refused: not carrying out a recovery without --yes when there is no terminal to confirm on")
        raise typer.Exit(EXIT_REFUSED)
    if not typer.confirm("Carry out this plan (each control sent when its gate reads open)?", default=False, err=True):
        err("declined: nothing sent")
        raise typer.Exit(EXIT_REFUSED)


def _reporter(notifier: Any, array: Any) -> Any:
    """The on_event of recover(): one line per transition, stamped in UTC in the array's
    time (a simulated array's clock under --simulate, else the wall clock), also notified."""

    def event(antenna: str, step: str, what: str, detail: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(array_now(array)))
        _say(f"{stamp} {antenna} {step} {what}" + (f": {detail}" if detail else ""))
        notifier.send({"time": stamp, "antenna": antenna, "step": step, "event": what, "detail": detail})

    return event


def _checked(until: str, wait: str, interval: str, watch: bool, url: str | None,
             log: str | None) -> tuple[Any, str, float, float]:  # fmt: skip
    """The steps, the step --until names, --wait and --interval in seconds; BadInput (exit
    2) before anything is sent."""
    from e2ckit.triage.plan import resolve_until, shipped_steps  # lazy: --help stays fast

    steps = shipped_steps()
    try:
        target = resolve_until(until, steps, what="--until")
    except ValidationError as exc:
        raise BadInput(str(exc)) from None
    wait_s, interval_s = _seconds("--wait", wait), _seconds("--interval", interval)
    if interval_s <= 0:
        raise BadInput("--interval must be more than 0")
    if log is not None and not os.path.isdir(log):
        raise BadInput(f"--log {log!r}: no such directory (a log written by e2ckit log)")
    if url is not None and not url.startswith(("http://", "https://")):
        raise BadInput(f"--notify-url {url!r} is not an http:// or https:// URL")
    return steps, target, (math.inf if watch else wait_s), interval_s


def _watch_plan(names: Any, array: Any, until: tuple[str, str], interval: float, timeout: float, report: Any,
                log: str | None) -> int:  # fmt: skip
    """--dry-run --watch: re-plan every ``interval`` and report each antenna's current
    step as it changes, until every antenna has reached ``until`` (step id, as the user
    called it). Sends nothing."""
    from e2ckit.triage.plan import plan_recovery  # lazy: --help stays fast

    seen: dict[str, tuple[str, str]] = {}
    step, label = until
    while True:
        plan = plan_recovery(names, array=array, timeout=timeout, log=log)
        reached = True
        for antenna, rows in plan.groupby("antenna", sort=False):
            rows = rows.iloc[: list(rows.step).index(step) + 1]
            pending = rows[rows.status != "done"]
            now = (label, "reached") if pending.empty else (pending.iloc[0].step, pending.iloc[0].status)
            reached &= pending.empty
            if seen.get(antenna) != now:
                seen[antenna] = now
                report(antenna, now[0], now[1], "" if pending.empty else pending.iloc[0].blocked_by)
        if reached:
            return EXIT_OK
        time.sleep(interval)


@app.command("recover")
@guard
def recover_cmd(
    ctx: typer.Context,
    antennas: str = typer.Argument(..., help="DV01,DV02 | DV | all"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the plan; send nothing"),
    yes: bool = typer.Option(False, "--yes", help="do not ask (scripts); every control is still audited"),
    until: str = typer.Option("operational", "--until", help="a phase (power vacuum cooling closing done) or a step (cold...)"),
    wait: str = typer.Option("10m", "--wait", help="real time to keep reading gates that open with time"),
    interval: str = typer.Option("10s", "--interval", help="real time between reads while waiting"),
    watch: bool = typer.Option(False, "--watch", help="keep going until every antenna reaches --until"),
    notify_command: str | None = typer.Option(None, "--notify-command", help="run CMD per transition, JSON on stdin"),
    notify_url: str | None = typer.Option(None, "--notify-url", help="POST each transition as JSON to URL"),
    log: str | None = typer.Option(None, "--log", metavar="DIR", help="a log of them (e2ckit log): pump/cool ETAs"),
    timeout: float = TimeoutOpt,
) -> None:
    """Bring front ends back after an outage: the plan per antenna (steps gated by the
    firmware's rules), then its ready controls, in order, each gate re-read just before
    sending and each effect read back; antennas in parallel. --dry-run --watch follows
    the plan without sending anything.

    --until takes a phase (power, vacuum, cooling, closing, done: every step of it done) or
    a step id (cold, compressor, ...); cooling is the phase, step:cooling the step.

    Exit status: 0 every antenna reached --until, 7 some still wait, 8 some stalled or
    need a person, 4 refused or declined, 1 an error, 2 bad input (nothing sent).

    Example: e2ckit --simulate --sim-scenario outage --sim-outage DV01 --sim-advance 6h
    --sim-rate 3600 recover DV01 --yes --until cold
    """
    # lazy: the plan and the network load only when the command runs (--help stays fast)
    from e2ckit.triage.notify import Notifier

    # lazy: pulls the api and transport; keeps --help fast
    from e2ckit.triage.plan import plan_recovery

    steps, target, wait_s, interval_s = _checked(until, wait, interval, watch, notify_url, log)
    arr = active_array()  # starts a --simulate array, now that every option is checked
    array = ctx.meta.get("e2ckit.sim") or arr  # a simulated array: its clock as well
    names, journal = (None if antennas.strip().lower() == "all" else antennas), _journal(ctx)
    plan = plan_recovery(names, array=array, timeout=timeout, journal=journal, log=log)
    for line in _current_lines(plan, target, until):
        _say(line)
    notifier = Notifier(notify_command, notify_url)
    try:
        report = _reporter(notifier, array)
        if dry_run:
            # a dry run says by its status where the plan stands: a script sees an antenna
            # that waits (7) or needs a person (8) without parsing the lines
            code = (_watch_plan(names, array, (target, until), interval_s, timeout, report, log) if watch
                    else _plan_status(plan, target))  # fmt: skip
        else:
            _confirm(yes)
            code = _carry_out(names, array, steps, until, (wait_s, interval_s, timeout), report, journal)
    finally:
        notifier.close()
    raise typer.Exit(code)


def _journal(ctx: typer.Context) -> Any:
    """Where the recover journal lives: the user's (a rerun continues), or, for the embedded
    simulator, which starts a new simulated world with every command, this command's own
    directory (a journal of another world would hold back controls this one never got)."""
    from e2ckit.triage.journal import journal_dir  # lazy: --help stays fast

    return tempfile.mkdtemp(prefix="e2ckit-recover-sim-") if ctx.meta.get("e2ckit.sim") else journal_dir()


def _carry_out(names: Any, array: Any, steps: Any, until: str, times: tuple[float, float, float], report: Any,
               journal: Any) -> int:  # fmt: skip
    """recover() with the CLI's reporting; the exit status of the worst outcome. ``times``:
    wait, interval and timeout (s)."""
    from e2ckit.triage.recover import recover  # lazy: --help stays fast

    wait, interval, timeout = times
    try:
        out = recover(names, confirm=True, array=array, until=until, wait=wait, interval=interval,
                      timeout=timeout, on_event=report, steps=steps, journal=journal)  # fmt: skip
    except KeyboardInterrupt:  # every antenna's thread stopped at its next read (recover())
        err("interrupted: nothing more is sent; rerun the same command to continue (the journal keeps its place)")
        return EXIT_INTERRUPTED
    for r in out.itertuples():
        _say(f"{r.antenna}  {r.outcome}" + (f" at {r.step}" if r.step else "") + f": {r.reason}")
    worst = next(w for w in _WORST if w in set(out.outcome))
    return _EXIT[worst]
