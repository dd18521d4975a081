"""Triage commands: ``check`` (diagnose antennas in one sweep: a verdict per subsystem, a
probable cause per antenna, an exit status set by the worst verdict) and ``dashboard`` (the
live recovery board served as a web page through Voilà)."""

from __future__ import annotations

import signal
import subprocess

import typer

from e2ckit.cli.app import app
from e2ckit.cli.common import active_array, emit_table, err, frame_table, guard, run_sweep
from e2ckit.cli.output import output_width
from e2ckit.cli.summary import summary_line
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
    check_timing,
)

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
    from e2ckit.triage.diagnose import DIAGNOSE_WHAT, diagnose_rows
    from e2ckit.triage.limits import load_limits

    resolved = check_output(fmt, output)
    check_timing(timeout, deadline)
    names = ",".join(a.strip() for a in (antennas or []) if a.strip()) or "all"
    if antennas and names == "all" and any(not a.strip() for a in antennas):
        raise BadInput("ANTENNAS is empty: give names, families or all")
    lim = load_limits(limits if limits is not None else None)  # a bad site file: exit 2, nothing sent
    rows = run_sweep(DIAGNOSE_WHAT, None if names.lower() == "all" else names, active_array(), timeout, deadline, "check")
    d = diagnose_rows(rows, limits=lim)
    if resolved == "table":
        text = d.to_text(10**6 if wide else output_width())  # whole causes: wrapped to the width, or one line each
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            err(f"wrote the report of {d['antenna'].nunique()} antennas to {output}")
        else:
            typer.echo(text)
    else:
        emit_table(frame_table(d, title="check"), fmt, output)
    err(summary_line(check_states(d)))
    raise typer.Exit(check_status(d))


def check_states(d: object) -> dict[str, str]:
    """Each antenna's worst verdict (silent when its only finding is that it is down), for
    the summary line; counted from the diagnosis, not judged here."""
    from e2ckit.cli.summary import ANTENNA_STATES

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
    what: str = typer.Option("outage", "--what", help="group(s) to log, comma separated"),
    interval: float = typer.Option(60.0, "--interval", help="seconds between logged cycles (on the array's clock)"),
    every: float = typer.Option(5.0, "--every", help="real seconds between board updates"),
    log: str | None = typer.Option(None, "--log", help="log into this dataset folder [default: a temporary one]"),
    port: int | None = typer.Option(None, "--port", help="port of the web page on 127.0.0.1 [default: a free one]"),
    sim_rate: float | None = typer.Option(
        None, "--sim-rate", help="with --simulate: simulated seconds per real second (3600: an hour a second)"
    ),
    duration: float | None = typer.Option(None, "--duration", help="real seconds to serve, then stop [default: until Ctrl-C]"),
    limits: str | None = LimitsOpt,
) -> None:
    """Serve the live recovery board (verdict, cool-down ETA and flags per antenna) as a web
    page through Voilà, fed by a logger running in this command.

    Example: e2ckit --simulate --sim-scenario recovery dashboard DV01,DV02,DV03 --sim-rate 3600
    """
    import importlib.util
    import os
    import socket
    import subprocess
    import sys
    import tempfile
    import time

    from e2ckit.cli.options import check_port, check_seconds

    for name, value in (("--interval", interval), ("--every", every), ("--sim-rate", sim_rate), ("--duration", duration)):
        check_seconds(name, value)
    check_port(port)
    sim = ctx.meta.get("e2ckit.sim")
    if sim_rate is not None and sim is None:
        raise BadInput("--sim-rate drives the simulated array's clock: add --simulate")
    if log is not None:
        if not log.strip():
            raise BadInput("--log is empty: give a dataset folder")
        if os.path.exists(log) and not os.path.isdir(log):
            raise BadInput(f"--log {log!r} is a file, not a dataset folder")
        if not os.path.isdir(os.path.dirname(os.path.abspath(log))):
            raise BadInput(f"--log {log!r}: the folder it goes in does not exist")
    if importlib.util.find_spec("voila") is None:
        raise BadInput("the dashboard needs Voilà: pip install 'e2ckit[dashboard]'")
    from e2ckit.logger import Logger
    from e2ckit.triage.limits import load_limits

    load_limits(limits)  # a bad site file: exit 2 before anything starts
    names = ",".join(a.strip() for a in (antennas or []) if a.strip()) or None
    groups = [w.strip() for w in what.split(",") if w.strip()]
    if not groups:
        raise BadInput("--what is empty: give a group such as outage")
    arr = active_array()
    if sim is not None and sim_rate is not None:
        sim.clock.set_rate(sim_rate)
    tmp = tempfile.TemporaryDirectory(prefix="e2ckit-dashboard-")
    path = os.path.abspath(log or os.path.join(tmp.name, "log"))
    logger = Logger(groups, None if names in (None, "all") else names, interval=interval, path=path, array=arr,
                    clock=sim.clock if sim is not None else None, flush_every=max(every / 2, 0.5))  # fmt: skip
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    notebook = os.path.join(tmp.name, "recovery-board.ipynb")
    _write_board_notebook(notebook, path, every, os.path.abspath(limits) if limits else None)
    logger.start()
    cmd = [sys.executable, "-m", "voila", notebook, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--VoilaConfiguration.file_allowlist=[]", "--show_tracebacks=True"]  # fmt: skip
    # Voila in a session of its own, so that stopping it stops its kernel too (the kernel
    # is Voila's child and outlives a plain terminate of Voila)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    # SIGTERM (a service manager, a test) ends the command like Ctrl-C: through the clean-up below
    previous = signal.signal(signal.SIGTERM, _interrupt)
    err(f"recovery board at http://127.0.0.1:{port}/ (logging {', '.join(groups)} of {len(logger.antennas)} antennas into {path}); Ctrl-C stops")
    try:
        end = None if duration is None else time.monotonic() + duration
        while proc.poll() is None and (end is None or time.monotonic() < end):
            time.sleep(0.1 if end is None else max(min(0.1, end - time.monotonic()), 0))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_session(proc)
        logger.stop()
        tmp.cleanup()
    if proc.returncode not in (0, -15, None) and duration is None:
        err(f"voila exited with status {proc.returncode}")
        raise typer.Exit(EXIT_PARTIAL)
    raise typer.Exit(EXIT_OK)


def _write_board_notebook(path: str, log: str, every: float, limits: str | None) -> None:
    """The one-cell notebook Voilà serves: a RecoveryBoard over the log."""
    import json

    src = (
        "from e2ckit.triage.board import RecoveryBoard\n"
        f"board = RecoveryBoard({log!r}, every={every!r}, limits={limits!r})\n"
        "board"
    )
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "board", "metadata": {}, "outputs": [],
                   "source": src}],  # fmt: skip
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
