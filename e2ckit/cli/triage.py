"""Triage commands: ``check`` (diagnose antennas in one sweep: a verdict per subsystem, a
probable cause per antenna, an exit status set by the worst verdict) and ``dashboard`` (the
live recovery board served as a web page through Voilà)."""

from __future__ import annotations

import typer

from e2ckit.cli.app import app
from e2ckit.cli.common import active_array, emit_table, err, frame_table, guard, run_sweep
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
        text = d.to_text()
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            err(f"wrote the report of {d['antenna'].nunique()} antennas to {output}")
        else:
            typer.echo(text)
    else:
        emit_table(frame_table(d, title="check"), fmt, output)
    raise typer.Exit(check_status(d))
