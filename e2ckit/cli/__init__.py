"""The ``e2ckit`` command line.

Drop-in for the published ``e2c-client`` (same commands and options), with values
decoded by the catalog, array-wide commands run concurrently under one deadline, and
new commands for sweeps, node inventories, the catalog, the simulator and logging::

    e2ckit version
    e2ckit monitor request --host H [--port P] --channel C --node N --rca R [--interpret FMT]
    e2ckit monitor nodes --host H
    e2ckit monitor temperature --host H --channel C --node N     (= tools temperature)
    e2ckit control request --host H --channel C --node N --rca R --data "0x60 0x64" [--yes]
    e2ckit tools temperature --host H --channel C --node N
    e2ckit tools revision|cryo|cmpr (--host H | --all)
    e2ckit sweep GROUP|POINT[,POINT...] [--antennas DV01,DV02 | DV | all] [--tidy]
    e2ckit nodes [--antennas ...] [--inventory]
    e2ckit points [GROUP] [--groups]
    e2ckit simulate [--antennas] [--scenario] [--seed] [--rate] [--bind port|address] [--write-array CSV]
    e2ckit log GROUP... --out DIR | e2ckit log compact DIR

Global options: ``--simulate`` runs the command against an embedded simulated array of
all 66 antennas (seeded, loopback, stopped when the command ends; ``--sim-seed``,
``--sim-scenario``, ``--sim-outage``, ``--sim-advance`` and ``--sim-rate`` shape it);
``--array CSV`` uses that host map instead of ``$E2CKIT_ARRAY`` / the ALMA defaults.
Given after the command, a global option is refused with the command line that works.

``--host`` takes an antenna of the active array (``DV01``, ``dv01-e2c``) or any host
name or address (with ``--port``). ``--all`` means every antenna of the active array.

Conventions: data on stdout, messages and progress on stderr. ``--format
table|csv|json|parquet`` and ``-o FILE`` on every command that returns data; ``table``
is a rich table on a terminal and an untruncated fixed-width text table otherwise.
Every failure is one line on stderr, never a traceback.

Exit status:
    0  every request was answered without error
    1  some readings failed or did not decode (an E2C error code, some hosts did not
       answer, a reply of the wrong length), or a control's outcome is unknown
    2  bad input: an unknown antenna, group or point, a bad number, out of range values,
       an unwritable output or audit log; nothing was sent
    3  nothing answered: no host replied at all
    4  a control request was refused (no --yes and no terminal) or declined at the prompt
    5  check: the worst verdict is a warning
    6  an alarm: check's worst verdict, or an antenna in alarm in sweep, tools or
       nodes --inventory (decided once, in options.exit_status_of)

The package, one module per job::

    app        the Typer app, root options (--simulate, --array), one-line usage errors, main()
    options    the exit table, every shared option definition, argument parsing and checks
    guard      every failure one line on stderr and an exit status, never a traceback
    helptext   help pages whose command summaries are whole sentences
    target     where to talk: the active host map, the deferred --simulate array, --host
    lookups    catalog look-ups: a point by address, a node's LRU, bytes as hex
    tables     results as tables: the wide sweep table, tidy rows, frames; writing them out
    reading    the sweep with its progress bar; failures, summary and exit status after a read
    summary    the summary line of array-wide outputs and --problems (counted, not judged)
    e2c_text   --format e2c: e2c-client's own text, byte for byte
    e2c        the drop-in e2c-client families: monitor and tools (and registers control)
    control    control request: described, confirmed, audited (e2ckit.audit) before it is sent
    arraywide  the array-wide commands: sweep, nodes (--inventory), points
    simulate   a simulated array in the foreground
    log        log and log compact (the parquet logger)
    triage     check and dashboard (the live recovery board through Voila)
    recover    recover: the recovery steps after an outage, planned, audited, carried out
    output     Table and the four output formats

Start-up stays light: nothing here imports pandas, pyarrow, matplotlib or ipywidgets
(or the fan-out engine) until a command needs them.
"""

from __future__ import annotations

from e2ckit.cli import arraywide as _arraywide  # noqa: F401  (registers sweep, nodes, points)
from e2ckit.cli import e2c as _e2c  # noqa: F401  (registers monitor, control, tools)
from e2ckit.cli import log as _log
from e2ckit.cli import recover as _recover  # noqa: F401  (registers recover)
from e2ckit.cli import simulate as _simulate  # noqa: F401  (registers simulate)
from e2ckit.cli import triage as _triage  # noqa: F401  (registers check, dashboard)
from e2ckit.cli.app import app, main
from e2ckit.cli.options import (
    EXIT_ALARM,
    EXIT_BAD_INPUT,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_STATUSES,
    BadInput,
    parse_data,
    parse_int,
)
from e2ckit.cli.reading import exit_status
from e2ckit.cli.target import resolve_target

_log.register(app)

__all__ = [
    "EXIT_ALARM",
    "EXIT_BAD_INPUT",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_REFUSED",
    "EXIT_STATUSES",
    "BadInput",
    "app",
    "exit_status",
    "main",
    "parse_data",
    "parse_int",
    "resolve_target",
]
