"""``e2ckit log``: log groups or points to a parquet dataset, and compact it.

::

    e2ckit log GROUP|POINT... --out DIR [--interval 1] [--antennas DV01,CM] [--duration 8h]
    e2ckit log run GROUP|POINT... ...            (the same, spelled out)
    e2ckit log compact DIR [--before 2026-01-02]

``log GROUP...`` and ``log compact DIR`` share one command group: a first word that
is not a subcommand name is taken as the first GROUP of ``run`` (see
:class:`DefaultGroup`).

On a terminal a status line on stderr shows cycles, samples, errors, overruns and
antennas down; antennas going down or coming back are reported as lines on stderr
either way. SIGINT (Ctrl-C) and SIGTERM stop after the cycle in progress, flush and
exit 0. Nothing here imports pandas or pyarrow until a command runs, so the CLI starts
fast.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from datetime import datetime, timezone
from typing import Any

import typer

from e2ckit.cli.guard import err, guard, one_line
from e2ckit.cli.helptext import WholeHelp
from e2ckit.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    BadInput,
    FormatOpt,
    OutputOpt,
    check_output,
    exit_status_of,
)
from e2ckit.cli.reading import rows_status
from e2ckit.cli.summary import antenna_states, phase_line, summary_line
from e2ckit.cli.tables import emit_table, frame_table
from e2ckit.clock import parse_duration
from e2ckit.errors import E2CKitError, UnreadableFileWarning, ValidationError
from e2ckit.signals import set_from_signal

__all__ = ["DefaultGroup", "register"]

#: `log` (a logger that could not write) and `log compact` (a day or file skipped, or
#: the compaction could not run) exit with the one table's EXIT_PARTIAL
EXIT_FAILED = EXIT_PARTIAL


class DefaultGroup(WholeHelp):
    """A command group whose unknown first word means the default ``run`` subcommand,
    so that ``e2ckit log cryo ...`` and ``e2ckit log compact DIR`` both work."""

    default_command = "run"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


log_app = typer.Typer(
    cls=DefaultGroup,
    no_args_is_help=True,
    help=(
        "Log monitor points to a crash-safe parquet dataset "
        "(DIR/date=YYYY-MM-DD/antenna=XXNN/part-*.parquet), and compact it. `run` is the default: "
        "`e2ckit log cryo ...` is `e2ckit log run cryo ...`.\n\n"
        "\b\n"
        "  e2ckit log cryo cmpr --out night --interval 1\n"
        "  e2ckit log FEMC.TEMP0 --antennas DV --duration 8h --out night\n"
        "  e2ckit log compact night --before 2026-01-02"
    ),
    rich_markup_mode=None,
)


def _err(message: str) -> None:
    from e2ckit.logger.status import say  # lazy: e2ckit.logger loads pyarrow; keeps --help fast

    say(message)  # every logger message carries the time it was said


def _seconds(text: str | None, name: str) -> float | None:
    if text is None:
        return None

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None
    if value < 0:
        raise typer.BadParameter("must not be negative", param_hint=name)
    return value


_WHAT = typer.Argument(..., metavar="GROUP", help="groups or points to log (see e2ckit points)")


@log_app.command("run")
@guard
def log_run(
    what: list[str] = _WHAT,
    out: str = typer.Option("e2ckit-log", "--out", "-o", help="dataset directory (created; appended to)"),
    interval: float = typer.Option(1.0, "--interval", "-i", help="seconds between cycle starts (simulated seconds on a simulator's host map)"),
    antennas: str | None = typer.Option(None, "--antennas", "-a", help="DV01,CM03 | DV | all [default: all]"),
    duration: str | None = typer.Option(None, "--duration", "-d", help="stop after this long: 90, 30m, 8h, 1d"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds per request [default: min(1, interval/2)]"),
    flush_every: float = typer.Option(30.0, "--flush-every", help="seconds between parquet flushes (a crash loses at most one cycle: each is in the write-ahead segment)"),
    fsync: str = typer.Option("cycle", "--fsync", help="cycle: a power cut loses at most the cycle in progress; flush: at most what came since the last flush (cheaper)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no status line and no antenna messages"),
) -> None:
    """Log GROUPs or POINTs every --interval seconds until --duration, Ctrl-C or SIGTERM."""
    if fsync not in ("cycle", "flush"):
        raise BadInput(f"--fsync must be 'cycle' or 'flush', got {fsync!r}")
    dur = _seconds(duration, "--duration")
    if not out.strip():
        raise BadInput("--out is empty: give the dataset directory")
    if os.path.exists(out) and not os.path.isdir(out):
        raise BadInput(f"--out {out!r} is a file, not a dataset directory")
    from e2ckit.logger import Logger  # lazy: pulls pyarrow; keeps --help fast

    try:
        log = Logger(what, antennas, interval=interval, path=out, timeout=timeout, flush_every=flush_every,
                     fsync=fsync)  # fmt: skip
    except (E2CKitError, KeyError) as exc:  # a bad name, antenna or setting
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _run(log, what, interval, out, quiet, dur)


#: seconds between status reports without a terminal (half that on one, for the live line)
STATUS_TICK_S = 1.0


def _run(log: Any, what: list[str], interval: float, out: str, quiet: bool, dur: float | None) -> None:
    """Run ``log`` in the background until it ends, SIGINT or SIGTERM; report; exit."""
    # lazy: pulls pyarrow; keeps --help fast
    from e2ckit.logger import LogLockedError, LogWriteError

    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        set_from_signal(stop)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    tty = sys.stderr.isatty() and not quiet
    code = EXIT_OK
    try:
        try:
            log.start(duration=dur)
        except (LogWriteError, LogLockedError) as exc:  # not writable; another writer holds it
            _err(f"error: {exc}")
            raise typer.Exit(EXIT_FAILED) from None
        if not quiet:
            _say_start(log, what, interval, out)
        # end as soon as the logger does (its --duration), not at the next status tick
        threading.Thread(target=lambda: log.wait() and stop.set(), name="e2ckit-log-end", daemon=True).start()
        states: dict[str, str] = {}
        while log.running and not stop.wait(STATUS_TICK_S / 2 if tty else STATUS_TICK_S):
            _report(log, states, tty, quiet)
    finally:
        try:
            st = log.stop()  # after the cycle in progress; flushes
        except LogWriteError as exc:
            if tty:
                sys.stderr.write("\r\x1b[2K")
            _err(f"error: {exc}")
            code = EXIT_FAILED
            st = log.status
        for s, h in old.items():
            signal.signal(s, h)
    if tty:
        sys.stderr.write("\r\x1b[2K")
    why = f" ({received[0]})" if received else ""
    _err(f"stopped{why}: {st.summary(out)}")
    raise typer.Exit(code)


def _say_start(log: Any, what: list[str], interval: float, out: str) -> None:
    """What is logged where, and the simulator's clock when it is one."""
    clock = log.clock
    if clock is not None:  # a simulator's clock (its host map's clock file)
        rate = getattr(clock, "rate", None)
        now = datetime.fromtimestamp(clock.now(), tz=timezone.utc)
        _err(f"simulated time: the simulator's clock ({'stepped' if rate is None else f'{rate:g}x'}), "
             f"now {now:%Y-%m-%d %H:%M:%S} UTC; --interval and --duration are simulated seconds")  # fmt: skip
    _err(f"logging {', '.join(what)} of {len(log.antennas)} antennas every {interval:g} s to {out}")


def _report(log: Any, states: dict[str, str], tty: bool, quiet: bool) -> None:
    """Antennas that changed state as lines; then the status line (terminal only)."""
    if quiet:
        return
    st = log.status
    lines = []
    for a, h in st.antennas.items():
        was = states.get(a)
        if h.state == was or h.state == "unknown":
            continue
        if h.state == "down":
            lines.append(f"{a} down: {h.last_error}")
        elif was == "down":
            lines.append(f"{a} answers again")
        states[a] = h.state
    if tty:
        sys.stderr.write("\r\x1b[2K")
    for line in lines:
        _err(line)
    if tty:
        sys.stderr.write(st.line(_width()))
        sys.stderr.flush()


def _width() -> int:
    """Room for the status line: ``$COLUMNS`` if set, else the terminal's width, else 200
    (a pseudo-terminal nobody sized reports 0 columns: the line is not cut to nothing)."""
    try:
        cols = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        cols = 0
    if cols <= 0:
        try:
            cols = os.get_terminal_size(sys.stderr.fileno()).columns
        except OSError:
            cols = 0
    return max(cols - 1, 20) if cols > 0 else 200


@log_app.command("compact")
@guard
def log_compact(
    path: str = typer.Argument(..., metavar="DIR", help="dataset directory"),
    before: str | None = typer.Option(
        None, "--before", help="compact days before this date (YYYY-MM-DD) [default: today, UTC]"
    ),
) -> None:
    """Merge each closed day's part files into one file per antenna, atomically."""
    # lazy: pulls pyarrow; keeps --help fast
    from e2ckit.logger import LogLockedError, LogWriteError, compact

    if not path.strip():
        raise BadInput("DIR is empty: give the dataset directory")
    try:
        with warnings.catch_warnings(record=True) as skipped:
            warnings.simplefilter("always", UnreadableFileWarning)
            results = compact(path, before=before)
    except ValidationError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (LogWriteError, LogLockedError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    except ValueError as exc:  # a part file pyarrow cannot read or merge (ArrowInvalid)
        _err(f"error: cannot compact {path}: {one_line(exc)}")
        raise typer.Exit(EXIT_FAILED) from None
    for w in skipped:  # files and days left alone (another schema, another file system): one line each
        _err(f"warning: {str(w.message).removeprefix('e2ckit: ')}")
    _compact_report(results)
    # the worst outcome decides: a day (or a badly named directory) skipped is partial;
    # a file left alone (another tool's, or damaged) is a warning, the day is compacted
    if any(r.error for r in results) or any("skipping directory" in str(w.message) for w in skipped):
        raise typer.Exit(EXIT_PARTIAL)


def _compact_report(results: list[Any]) -> None:
    """A line per compacted partition on stdout, the totals on stderr."""
    done = [r for r in results if r.file is not None]
    rows = sum(r.rows for r in done)
    b0 = sum(r.bytes_before for r in done)
    b1 = sum(r.bytes_after for r in done)
    for r in done:
        typer.echo(
            f"date={r.date} antenna={r.antenna}: {r.files_before} files -> 1, {r.rows} rows, "
            f"{r.bytes_before} -> {r.bytes_after} bytes"
        )
    ratio = f" ({b1 / b0:.0%})" if b0 else ""
    failed = sum(1 for r in results if r.error)
    also = f"; {failed} skipped (named above)" if failed else ""
    _err(f"compacted {len(done)} of {len(results)} closed partitions: {rows} rows, {b0} -> {b1} bytes{ratio}{also}")


@log_app.command("status")
@guard
def log_status(
    path: str = typer.Argument(..., metavar="DIR", help="dataset directory (what e2ckit log --out wrote)"),
    antennas: str | None = typer.Option(None, "--antennas", "-a", help="DV01,CM03 | DV | all [default: all]"),
    limits: str | None = typer.Option(None, "--limits", help="site limits CSV [default: $E2CKIT_SITE_LIMITS]"),
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """How each antenna stands in a log now: its latest logged cycle judged (state and worst
    reading; an antenna not logged for two cycles is unknown, never ok), then a summary
    line on stderr. Exit status as a sweep's: 6 an antenna in alarm, 1 readings failed or
    stale, 3 nothing answered (or nothing logged), 0 otherwise."""
    resolved = check_output(fmt, output)
    if not path.strip() or not os.path.isdir(path):
        raise BadInput(f"no log at {path!r}: not a dataset directory")
    # lazy: pulls pyarrow, pandas and the catalog; keeps --help fast
    from e2ckit.triage.logstatus import behind, latest_judged

    try:
        with warnings.catch_warnings(record=True) as skipped:
            warnings.simplefilter("always", UnreadableFileWarning)
            judged = latest_judged(path, antennas=None if antennas in (None, "all") else antennas, limits=limits)
    except (E2CKitError, KeyError) as exc:  # a bad antenna selection or site limits file
        raise BadInput(str(exc).strip("'\"")) from None
    for w in skipped:  # a damaged file: what it held is not in the table, said so
        _err(f"warning: {str(w.message).removeprefix('e2ckit: ')}")
    rows = list(judged.itertuples(index=False))
    states = antenna_states(rows)
    if rows:
        emit_table(frame_table(_status_frame(judged, states), title="log status" if resolved == "table" else None), fmt, output)
    stopped = behind(judged) if rows else None  # has the log itself stopped?
    if stopped:
        err(stopped)
    by_phase = phase_line(rows)  # while a recovery is under way, and the log has the plan's points
    if by_phase:
        err(by_phase)
    err(summary_line(states) if rows else f"no antenna logged in {path}")
    code = exit_status_of(rows_status(rows), states.values()) if rows else EXIT_NOTHING
    # a file skipped as damaged: this status may lack an antenna or a cycle, never "all ok"
    raise typer.Exit(EXIT_PARTIAL if skipped and code == EXIT_OK else code)


def _status_frame(judged: Any, states: dict[str, str]) -> Any:
    """One row per antenna: its state, when its latest cycle was logged, its worst reading."""
    import pandas as pd  # lazy: loaded already by the log's reader

    rank = {"alarm": 0, "warn": 1, "unavailable": 2, "ok": 3}
    out = []
    for antenna, g in judged.groupby(judged["antenna"].astype(object), sort=True):
        worst = g.iloc[int(g["limit"].map(rank).to_numpy().argmin())]
        said = "" if worst["limit"] == "ok" else f"{worst['point']} {worst['reason']}".strip()
        if states[antenna] == "silent":
            said = f"no answer: {worst['error']}"
        out.append((antenna, states[antenna], f"{g['time'].max():%Y-%m-%d %H:%M:%S} UTC", said))
    return pd.DataFrame(out, columns=["antenna", "state", "last", "worst"])


def register(app: typer.Typer) -> None:
    """Add the ``log`` command group to the main ``e2ckit`` app."""
    app.add_typer(log_app, name="log", short_help="log points to a parquet dataset; compact it")
