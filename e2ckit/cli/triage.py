"""Triage commands: ``check`` (diagnose antennas in one sweep: a verdict per subsystem, a
probable cause per antenna, an exit status set by the worst verdict) and ``dashboard`` (the
live recovery board served as a web page through Voilà)."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import typer

from e2ckit.cli.app import app
from e2ckit.cli.guard import err, guard
from e2ckit.cli.options import (
    EXIT_ALARM,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_WARN,
    BadInput,
    DeadlineOpt,
    FormatOpt,
    OutputOpt,
    TimeoutOpt,
    WideOpt,
    check_output,
    check_port,
    check_seconds,
    check_timing,
    interrupted_exit,
    interrupted_rows,
)
from e2ckit.cli.output import output_width
from e2ckit.cli.reading import run_sweep
from e2ckit.cli.summary import ANTENNA_STATES, phase_line, recovery_points, summary_line
from e2ckit.cli.tables import emit_table, frame_table
from e2ckit.cli.target import active_array

AntennasArg = typer.Argument(None, help="DV01,DV02 | DV | all [default: all of the active array]")
LimitsOpt = typer.Option(
    None, "--limits", help="site limits CSV (point,warn_high,...) [default: $E2CKIT_SITE_LIMITS]"
)


def check_status(d: object) -> int:
    """The exit status of a diagnosis: 3 when no antenna answered, else 6 for an alarm,
    5 for a warning, 1 when something could not be judged (unknown), 0 when all is ok."""
    import pandas as pd

    assert isinstance(d, pd.DataFrame)
    if len(d) and (d["rule"] == "down").groupby(d["antenna"]).all().all():
        return EXIT_NOTHING
    worst = set(d["verdict"])
    if "alarm" in worst:
        return EXIT_ALARM
    if "warn" in worst:
        return EXIT_WARN
    if "unknown" in worst:
        return EXIT_PARTIAL
    return EXIT_OK


@app.command("check")
@guard
def check_cmd(
    antennas: list[str] = AntennasArg,
    timeout: float = TimeoutOpt,
    deadline: float | None = DeadlineOpt,
    limits: str | None = LimitsOpt,
    slow_ms: float = typer.Option(250.0, "--slow-ms", help="an E2C whose median reply time is above this (ms) is slow: a warning, never down"),
    wide: bool = WideOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Diagnose antennas in one sweep: reachability, LRU inventory, cryostat, vacuum,
    compressor, power, LO, firmware, E2C; a verdict per subsystem and a probable cause.

    Exit status: 0 all ok, 5 worst is a warning, 6 an alarm, 1 something could not be
    judged, 3 no antenna answered, 2 bad input.

    Example: e2ckit --simulate --sim-scenario outage check DV
    """
    # lazy: the catalog costs ~60 ms to import; keeps --help fast
    from e2ckit.catalog.limits import load_limits

    # lazy: pulls pandas, pyarrow and the transport; keeps --help fast
    from e2ckit.triage.diagnose import DIAGNOSE_WHAT, diagnose_rows

    resolved = check_output(fmt, output)
    check_timing(timeout, deadline)
    if not slow_ms > 0:
        raise BadInput(f"--slow-ms must be a positive number of milliseconds, got {slow_ms:g}")
    names = ",".join(a.strip() for a in (antennas or []) if a.strip()) or "all"
    if antennas and names == "all" and any(not a.strip() for a in antennas):
        raise BadInput("ANTENNAS is empty: give names, families or all")
    lim = load_limits(limits if limits is not None else None)  # a bad site file: exit 2, nothing sent
    not_read = None
    # one sweep: the diagnosis's points and the recovery plan's (for the count by phase)
    what = [*DIAGNOSE_WHAT, *(p for p in recovery_points() if p not in DIAGNOSE_WHAT)]
    try:
        rows = run_sweep(what, None if names.lower() == "all" else names, active_array(), timeout, deadline, "check")
    except KeyboardInterrupt as exc:  # Ctrl-C: the report of what was read, then what was not
        rows, not_read = interrupted_rows(exc)
    d = diagnose_rows(rows, limits=lim, slow_ms=slow_ms)
    _check_report(d, resolved, wide, fmt, output)
    by_phase = phase_line(rows)  # while a recovery is under way: the antennas by phase first
    if by_phase:
        err(by_phase)
    err(summary_line(check_states(d)))
    if not_read is not None:
        interrupted_exit(not_read)
    raise typer.Exit(check_status(d))


def _check_report(d: Any, resolved: str, wide: bool, fmt: str | None, output: str | None) -> None:
    """The report on stdout (or into ``output``); its summary line goes to stderr."""
    if resolved == "table":
        # whole causes: wrapped to the width, or one line each; the count is on stderr
        text = d.to_text(10**6 if wide else output_width(), summary=False)
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            err(f"wrote the report of {d['antenna'].nunique()} antennas to {output}")
        else:
            typer.echo(text)
    else:
        emit_table(frame_table(d, title="check"), fmt, output)


def check_states(d: object) -> dict[str, str]:
    """Each antenna's worst verdict (silent when its only finding is that it is down), for
    the summary line; counted from the diagnosis, not judged here."""

    out: dict[str, str] = {}
    for a, verdict, rule in zip(d["antenna"], d["verdict"], d["rule"], strict=True):  # type: ignore[index]
        state = "silent" if rule == "down" else verdict
        out[a] = max(out.get(a, "ok"), state, key=ANTENNA_STATES.index)
    return out


@app.command("dashboard")
@guard
def dashboard_cmd(
    ctx: typer.Context,
    antennas: list[str] = AntennasArg,
    what: str = typer.Option("outage,recovery", "--what", help="group(s) to log, comma separated (the recovery "
                             "group gives each antenna's phase and next step)"),
    interval: float = typer.Option(60.0, "--interval", help="seconds between logged cycles (on the array's clock)"),
    every: float = typer.Option(5.0, "--every", help="real seconds between board updates"),
    log: str | None = typer.Option(None, "--log", help="log into this dataset folder (kept) "
                                   "[default: a new folder under $XDG_STATE_HOME/e2ckit/dashboard, kept]"),
    bind: str = typer.Option("127.0.0.1", "--bind", metavar="ADDRESS",
                             help="address the page listens on (0.0.0.0: every interface; beyond loopback "
                                  "a token is required: --token, or one is made and printed)"),
    port: int | None = typer.Option(None, "--port", help="port of the web page [default: a free one]"),
    token: str | None = typer.Option(None, "--token", help="the page's access token (?token=...)"),
    sim_rate: float | None = typer.Option(
        None, "--sim-rate", help="with --simulate: simulated seconds per real second (3600: an hour a second)"
    ),
    duration: float | None = typer.Option(None, "--duration", help="real seconds to serve, then stop [default: until Ctrl-C]"),
    limits: str | None = LimitsOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Voilà's and the kernel's messages on stderr too"),
) -> None:
    """Serve the live recovery board (verdict, recovery phase and next step, cool-down ETA
    and flags per antenna) as a web page through Voilà, fed by a logger running in this command.

    Example: e2ckit --simulate --sim-scenario recovery --sim-advance 7h dashboard DV01,DV02,DV03 --sim-rate 60
    """

    for name, value in (("--interval", interval), ("--every", every), ("--sim-rate", sim_rate), ("--duration", duration)):
        check_seconds(name, value)
    check_port(port)
    sim = ctx.meta.get("e2ckit.sim")
    if sim_rate is not None and sim is None:
        raise BadInput("--sim-rate drives the simulated array's clock: add --simulate")
    access = dashboard_token(bind, token)
    groups = [w.strip() for w in what.split(",") if w.strip()]
    if not groups:
        raise BadInput("--what is empty: give a group such as outage")
    path = dashboard_log_folder(log)
    _check_voila(limits)
    names = ",".join(a.strip() for a in (antennas or []) if a.strip()) or None
    arr = active_array()
    if sim is not None and sim_rate is not None:
        sim.clock.set_rate(sim_rate)
    from e2ckit.logger import Logger  # lazy: pulls pyarrow; keeps --help fast

    logger = Logger(groups, None if names in (None, "all") else names, interval=interval, path=path, array=arr,
                    clock=sim.clock if sim is not None else None, flush_every=max(every / 2, 0.5))  # fmt: skip
    logger.start()
    try:
        code = _serve_board(logger, groups, path, bind, port, access, every, limits, duration, verbose)
    finally:
        logger.stop()
    raise typer.Exit(code)


def dashboard_token(bind: str, token: str | None) -> str | None:
    """The page's access token: the one given; a new one when the page listens beyond
    loopback (printed once at start); none on loopback without ``--token``."""
    import ipaddress
    import secrets

    if not bind.strip():
        raise BadInput("--bind is empty: give an address such as 127.0.0.1 or 0.0.0.0")
    if token is not None and not token.strip():
        raise BadInput("--token is empty")
    try:
        loopback = ipaddress.ip_address(bind.strip()).is_loopback
    except ValueError:
        loopback = bind.strip().lower() == "localhost"
    if token is None and not loopback:
        return secrets.token_urlsafe(24)
    return token


def dashboard_log_folder(log: str | None) -> str:
    """``--log``, checked; else a new folder of its own under the state directory, which
    the command keeps (a recovery's log is worth keeping) and names at start."""
    import os
    from datetime import datetime, timezone

    if log is None:
        state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        log = os.path.join(state, "e2ckit", "dashboard", datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
        os.makedirs(os.path.dirname(log), exist_ok=True)
    if not log.strip():
        raise BadInput("--log is empty: give a dataset folder")
    if os.path.exists(log) and not os.path.isdir(log):
        raise BadInput(f"--log {log!r} is a file, not a dataset folder")
    if not os.path.isdir(os.path.dirname(os.path.abspath(log))):
        raise BadInput(f"--log {log!r}: the folder it goes in does not exist")
    return os.path.abspath(log)


def _check_voila(limits: str | None) -> None:
    import importlib.util

    if importlib.util.find_spec("voila") is None:
        raise BadInput("the dashboard needs Voilà: pip install 'e2ckit[dashboard]'")
    # lazy: the catalog costs ~60 ms to import; keeps --help fast
    from e2ckit.catalog.limits import load_limits

    load_limits(limits)  # a bad site file: exit 2 before anything starts


def _serve_board(logger: Any, groups: list[str], path: str, bind: str, port: int | None, token: str | None,
                 every: float, limits: str | None, duration: float | None, verbose: bool) -> int:  # fmt: skip
    """Voilà on a pre-started kernel (the page shows its first row at once), until Ctrl-C,
    SIGTERM or ``duration``; the exit status."""
    import os
    import socket
    import subprocess
    import tempfile
    import threading
    import time

    if port is None:
        with socket.socket() as s:
            s.bind((bind if bind != "0.0.0.0" else "", 0))
            port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="e2ckit-dashboard-") as tmp:
        notebook = os.path.join(tmp, "recovery-board.ipynb")
        _write_board_notebook(notebook, path, every, os.path.abspath(limits) if limits else None)
        proc = subprocess.Popen(_voila_command(notebook, bind, port, token, verbose), stdin=subprocess.DEVNULL,
                                stdout=None if verbose else subprocess.DEVNULL, stderr=None if verbose else subprocess.PIPE,
                                env=_voila_env(verbose), start_new_session=True, text=True)  # fmt: skip
        # Voila in a session of its own, so that stopping it stops its kernel too
        previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM ends it like Ctrl-C
        shown = "0.0.0.0" if bind in ("0.0.0.0", "") else bind
        err(f"recovery board at http://{shown}:{port}/" + (f"?token={token}" if token else "")
            + f" (logging {', '.join(groups)} of {len(logger.antennas)} antennas into {path}, kept); Ctrl-C stops")  # fmt: skip
        stopping = threading.Event()  # set when we stop Voilà: what its kernels then say is our doing
        errors = _forward_errors(proc, stopping) if not verbose else None
        try:
            end = None if duration is None else time.monotonic() + duration
            while proc.poll() is None and (end is None or time.monotonic() < end):
                time.sleep(0.1 if end is None else max(min(0.1, end - time.monotonic()), 0))
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            stopping.set()
            _stop_session(proc)
            if errors is not None:
                errors.join(timeout=5)
    err(f"the log is kept in {path}")
    if proc.returncode not in (0, -15, -9, None) and duration is None:
        err(f"voila exited with status {proc.returncode}")
        return EXIT_PARTIAL
    return EXIT_OK


def _voila_command(notebook: str, bind: str, port: int, token: str | None, verbose: bool) -> list[str]:
    import sys

    return [sys.executable, "-m", "voila", notebook, "--no-browser", f"--port={port}", f"--Voila.ip={bind}",
            "--VoilaConfiguration.file_allowlist=[]", "--show_tracebacks=False",  # tracebacks: the terminal's, not the page's
            "--preheat_kernel=True", "--pool_size=2",  # kernels that ran the board before a page opens (two screens)
            f"--Voila.log_level={'INFO' if verbose else 'ERROR'}",
            *([f"--token={token}"] if token else [])]  # fmt: skip


def _voila_env(verbose: bool) -> dict[str, str]:
    import os

    env = dict(os.environ)
    if not verbose:  # Voilà's and Jupyter's deprecation warnings are not the operator's business
        env["PYTHONWARNINGS"] = "ignore::DeprecationWarning,ignore::PendingDeprecationWarning"
    return env


#: lines of Voilà's stderr that are noise on a control-room terminal (shown with -v)
_NOISE = ("Kernel is running over TCP without encryption", "Warning:", "warn(")


def _forward_errors(proc: Any, stopping: Any) -> Any:
    """Without -v, pass on only what matters from Voilà's stderr: errors and tracebacks —
    until ``stopping`` is set: a pre-started kernel stopped by our own SIGTERM prints a
    traceback of its interrupted start-up, which is no error of the board's."""
    import sys
    import threading

    def pump() -> None:
        for line in proc.stderr:
            if line.strip() and not stopping.is_set() and not any(n in line for n in _NOISE):
                sys.stderr.write(line)

    t = threading.Thread(target=pump, name="e2ckit-voila-stderr", daemon=True)
    t.start()
    return t


def _write_board_notebook(path: str, log: str, every: float, limits: str | None) -> None:
    """The notebook Voilà serves: large text for a control-room screen, then a
    RecoveryBoard over the log (updated at once, so the first rows are in the page)."""
    import json

    style = ("from IPython.display import HTML, display\n"
             "display(HTML('<style>body, .e2ckit-board {font-size: 22px !important} "
             ".e2ckit-board table {font-size: 100% !important} .e2ckit-board h3 {font-size: 140%} "
             ".e2ckit-board-updated {font-size: 18px !important}</style>'))")  # fmt: skip
    src = (
        "from IPython.display import display\n"
        "from e2ckit.triage.board import RecoveryBoard\n"
        f"board = RecoveryBoard({log!r}, every={every!r}, limits={limits!r})\n"
        "board.update()\n"
        "display(board.widget)  # the live widget only: the page needs no static copy"
    )
    cells = [{"cell_type": "code", "execution_count": None, "id": cid, "metadata": {}, "outputs": [], "source": code}
             for cid, code in (("style", style), ("board", src))]  # fmt: skip
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _stop_session(proc: subprocess.Popen) -> None:
    """Stop Voila and everything it started (its kernels): the whole process group."""
    import os

    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return  # the group is gone
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # Voila is gone; its kernel may still be shutting down: give the group the same signal
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        return
