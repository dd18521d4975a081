"""What every ``e2ckit`` command shares: exit statuses, option definitions, argument parsing.

An option used by more than one command is declared here once (its flags, default
and help), and every value a user types is checked here before anything is sent:
numbers (``0x13`` or ``19``, ASCII digits only), control data bytes, timeouts and
deadlines (finite, positive, not absurd), and the ``-o`` output path (its folder
exists, it is no folder itself). A bad value raises :class:`BadInput`, which the
command guard prints as one line and turns into exit status 2.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

import typer

from e2ckit.arguments import MAX_SECONDS, timing
from e2ckit.cli.output import FORMATS, resolve_format
from e2ckit.clock import SimClock, parse_duration
from e2ckit.errors import BadInput, E2CKitError, OutputError, ValidationError
from e2ckit.names import E2C_INTERNAL_CHANNEL, MAX_NODE, MAX_RCA

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_REFUSED",
    "EXIT_STATUSES",
    "EXIT_WARN",
    "EXIT_ALARM",
    "EXIT_WAITING",
    "EXIT_STALLED",
    "BadInput",
    "check_output",
    "exit_status_of",
    "interrupted_exit",
    "interrupted_rows",
    "check_timing",
    "parse_data",
    "parse_int",
]

# -- exit statuses (documented in the top-level help and the README) --------------------

EXIT_OK = 0  # every request was answered without error
EXIT_PARTIAL = 1  # some readings failed or did not decode; a control's outcome is unknown; a log
#                   compact that skipped a day or a file, or could not run (locked, unwritable)
EXIT_BAD_INPUT = 2  # bad input: nothing was sent
EXIT_NOTHING = 3  # nothing answered: no host replied at all
EXIT_REFUSED = 4  # a control request was refused (no --yes, no terminal) or declined
EXIT_WARN = 5  # `check`: the worst verdict is a warning
EXIT_ALARM = 6  # `check`: the worst verdict is an alarm; sweep, tools, nodes --inventory: an antenna in alarm
EXIT_WAITING = 7  # `recover`: some antenna still waits on a gate (a timer, a pressure, a stage cooling)
EXIT_STALLED = 8  # `recover`: some antenna's plan stopped: a step stalled or needs a person
EXIT_INTERRUPTED = 130  # Ctrl-C: what was read is shown, "interrupted: N antennas not read"
EXIT_STATUSES = frozenset(
    {EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_NOTHING, EXIT_REFUSED, EXIT_WARN, EXIT_ALARM, EXIT_WAITING,
     EXIT_STALLED, EXIT_INTERRUPTED}
)  # fmt: skip


def interrupted_rows(exc: KeyboardInterrupt) -> tuple[list, int]:
    """(the rows a sweep read before Ctrl-C, how many antennas it did not read), from the
    KeyboardInterrupt ``api.sweep_rows`` raised (``exc.partial``); any other Ctrl-C is
    raised again."""
    partial = getattr(exc, "partial", None)
    if partial is None:
        raise exc
    return partial, len(getattr(exc, "not_read", ()))


def interrupted_exit(not_read: int) -> None:
    """Say how much an interrupted command did not read, then exit 130 (after its output)."""
    import typer

    typer.echo(f"e2ckit: interrupted: {not_read} antennas not read", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


def exit_status_of(readings_status: int, antenna_states: Iterable[str] = ()) -> int:
    """The one exit table's decision for a command that reads: ``readings_status`` (0, 1
    or 3, from what answered) and the antennas' states (:mod:`e2ckit.cli.summary`).

    Nothing answered stays 3. Otherwise an antenna in alarm makes it 6 (EXIT_ALARM), for
    sweep, tools and nodes --inventory as for check: a script sees an alarm without
    parsing the table. A warning does not change a read's status (only check exits 5).
    """
    if readings_status == EXIT_NOTHING:
        return EXIT_NOTHING
    if "alarm" in set(antenna_states):
        return EXIT_ALARM
    return readings_status


# -- limits of the addresses a user types ------------------------------------------------

CHANNEL_MAX = E2C_INTERNAL_CHANNEL  # channels 0-4 for antenna LRUs, 5 for the E2C's own node
NODE_MAX = MAX_NODE
RCA_MAX = MAX_RCA

# -- option definitions: one place for flags, defaults and help ---------------------------

_FORMAT_HELP = (f"{', '.join(FORMATS)}: table is rich on a terminal, plain text when piped; "
                "e2c: e2c-client's text (monitor request/nodes, control request, tools temperature/revision)")
FormatOpt = typer.Option(None, "--format", "-f", help=_FORMAT_HELP, metavar="FORMAT")
OutputOpt = typer.Option(
    None, "--output", "-o", help="write the data to FILE (format from its suffix unless --format)"
)
HostOpt = typer.Option(
    None, help="antenna of the active array (DV01) or E2C host name / IP address"
)
PortOpt = typer.Option(None, help="E2C socket server port [default: the host map's, else 2000]")
TimeoutOpt = typer.Option(1.0, help="seconds per request")
ChannelOpt = typer.Option(None, help="LRU channel number (0-4; 5 = the E2C itself)")
NodeOpt = typer.Option(None, help="LRU node address (0x13 or 19)")
DeadlineOpt = typer.Option(None, help="seconds for the whole command [default: 2 x timeout + 0.5]")
VerboseOpt = typer.Option(
    False, "--verbose/--no-verbose", help="print connection details on stderr"
)
AntennasOpt = typer.Option(
    "all", "--antennas", "-a", help="DV01,DV02 | DV | all (of the active array)"
)
AllOpt = typer.Option(
    False, "--all/--no-all", help="every antenna of the active array, concurrently"
)
# e2c-client's own pair (--no-show-errors), and e2ckit's --hide-errors beside it
ShowErrorsOpt = typer.Option(True, "--show-errors/--no-show-errors", help="show the error column")
HideErrorsOpt = typer.Option(False, "--hide-errors", help="no error column (as --no-show-errors)")
WideOpt = typer.Option(
    False, "--wide", help="each cause, action and legend text on one line (default: wrapped to the width)"
)
ProblemsOpt = typer.Option(
    False, "--problems", help="only the antennas (and, with --tidy, the readings) that are not ok"
)
YesOpt = typer.Option(
    False, "--yes", "-y", help="send without asking (required when there is no terminal)"
)
WhatArg = typer.Argument(
    ..., help="group (cryo, cmpr, revision, temps, ...) or point names, comma separated"
)

# the root options: where the command talks to
SimulateOpt = typer.Option(
    False,
    "--simulate",
    help="run the command against an embedded simulated array (66 antennas, seed 0, loopback)",
)
SimSeedOpt = typer.Option(0, "--sim-seed", help="with --simulate: the simulated array's random seed")
SimScenarioOpt = typer.Option(
    None,
    "--sim-scenario",
    help="with --simulate: a scenario name or .toml path (e2ckit simulate --list-scenarios)",
)
SimRateOpt = typer.Option(
    None, "--sim-rate", help="with --simulate: simulated seconds per real second [default: 1]"
)
SimAdvanceOpt = typer.Option(
    None, "--sim-advance", metavar="DURATION",
    help="with --simulate: start this far into the simulation (90, 30m, 2h, 1d)",
)  # fmt: skip
SimOutageOpt = typer.Option(
    None, "--sim-outage", metavar="ANTENNAS",
    help="with --simulate: the antennas the scenario happens to (DV01,DV02); "
    "alone, the outage scenario on them",
)  # fmt: skip
ArrayOpt = typer.Option(
    None, "--array", help="host-map CSV (antenna,host,port) instead of $E2CKIT_ARRAY"
)

# -- parsing ----------------------------------------------------------------------------------

# ASCII only: int() would also take "١٢" (Arabic-Indic digits), "1_0" and "+1", and the
# old "0x" + int(rest, 16) took "0x0x1" as 1.
_NUMBER_RE = re.compile(r"-?(?:0[xX][0-9A-Fa-f]+|[0-9]+)")


def _number(text: str) -> int | None:
    if not _NUMBER_RE.fullmatch(text):
        return None
    neg = text.startswith("-")
    t = text[1:] if neg else text
    value = int(t[2:], 16) if t[:2].lower() == "0x" else int(t, 10)
    return -value if neg else value


def parse_int(text: str | None, option: str, low: int, high: int) -> int:
    """``"0x13"`` or ``"19"`` → 19, within ``low..high``; BadInput naming the option otherwise."""
    if text is None or not str(text).strip():
        raise BadInput(f"missing {option}")
    t = str(text).strip()
    value = _number(t)
    if value is None:
        raise BadInput(f"{option} {t!r} is not a number (decimal, or hex with 0x)")
    if not low <= value <= high:
        raise BadInput(f"{option} {t} is out of range {low}..{high} (0x{low:X}..0x{high:X})")
    return value


def parse_data(text: str | None) -> bytes:
    """``"0x60 0x64"`` (spaces or commas) → b"\\x60\\x64"; 1 to 8 bytes, each 0..255."""
    if text is None or not text.strip():
        raise BadInput('missing --data: give 1 to 8 bytes, e.g. --data "0x60 0x64"')
    items = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if len(items) > 8:
        raise BadInput(f"--data has {len(items)} bytes; a CAN control carries at most 8")
    out = bytearray()
    for item in items:
        value = _number(item)
        if value is None:
            raise BadInput(f"--data byte {item!r} is not a number (decimal, or hex with 0x)")
        if not 0 <= value <= 0xFF:
            raise BadInput(
                f"--data byte {item} is out of range 0..255 (separate bytes with spaces)"
            )
        out.append(value)
    return bytes(out)


def check_seconds(option: str, value: float | None, *, zero: bool = False) -> None:
    """A finite number of seconds, positive (or ``zero`` allowed), at most MAX_SECONDS."""
    if value is None:
        return
    low_ok = value >= 0 if zero else value > 0
    if not math.isfinite(value) or not low_ok:
        kind = "a non-negative" if zero else "a positive"
        raise BadInput(f"{option} must be {kind} number of seconds, got {value:g}")
    if value > MAX_SECONDS:
        raise BadInput(f"{option} {value:g} is too long: at most {MAX_SECONDS:g} s")


def check_timing(timeout: float, deadline: float | None) -> None:
    """``--timeout`` and ``--deadline``: the one timing rule (:func:`e2ckit.arguments.timing`),
    in the CLI's words and exit status."""
    try:
        timing(timeout, deadline, option="--")
    except ValidationError as exc:
        raise BadInput(str(exc)) from None


def check_port(port: int | None, option: str = "--port") -> None:
    if port is not None and not 0 < port < 65536:
        raise BadInput(f"{option} {port} is out of range 1..65535")


def check_output(fmt: str | None, output: str | None) -> str:
    """The output format, after checking ``-o`` can be written: before anything is sent.

    ``-o ''``, a folder, a path into a missing folder or one the user cannot write, and
    parquet onto a terminal are refused here rather than after the requests were made
    (or, for a control, after it was sent).
    """
    try:
        resolved = resolve_format(fmt, output)
    except OutputError as exc:
        raise BadInput(str(exc)) from None
    if output is None:
        if resolved == "parquet" and sys.stdout.isatty():
            raise BadInput("parquet is binary: give -o FILE or redirect stdout")
        return resolved
    check_writable_file(output, "-o")
    return resolved


def check_writable_file(path: str, option: str) -> None:
    """``path`` can be created or replaced as a file; BadInput naming ``option`` if not."""
    if not path.strip():
        raise BadInput(f"{option} is empty: give a file name")
    if "\0" in path:
        raise BadInput(f"{option} {path!r} contains a NUL byte")
    if os.path.isdir(path):
        raise BadInput(f"{option} {path!r} is a directory: give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInput(f"{option} {path!r}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise BadInput(f"{option} {path!r}: permission denied")


# -- --simulate -------------------------------------------------------------------------------

def prepare_simulation(
    seed: int, scenario: str | None, rate: float | None, advance: str | None, outage: str | None
) -> tuple[Any, str]:
    """The embedded simulated array of ``--simulate``, not yet started (the caller starts it
    once the command's own options are checked), and what to say about it (``"seed 0,
    scenario outage on DV01"``); BadInput for a bad ``--sim-*`` value."""
    from e2ckit.sim import SimulatedArray  # noqa: PLC0415 (only with --simulate: keeps --help fast)

    if scenario is not None and not scenario.strip():
        raise BadInput("--sim-scenario is empty: give a scenario name or .toml path")
    if rate is not None and not (0 < rate < float("inf")):
        raise BadInput(f"--sim-rate must be a positive number of simulated seconds per second, got {rate:g}")
    try:
        ahead = 0.0 if advance is None else parse_duration(advance)
    except ValueError as exc:
        raise BadInput(f"--sim-advance: {_one_line(exc)}") from None
    if outage is not None and not outage.strip():
        raise BadInput("--sim-outage is empty: give antennas, e.g. DV01,DV02")
    clock = SimClock(rate=1.0 if rate is None else rate)
    try:
        # in memory for every command (no socket, no thread, nothing written): monitor and
        # control reach an endpoint through its own driver (cli.e2c_text.send_one)
        sim = SimulatedArray(seed=seed, scenario=scenario, outage=outage, clock=clock, serve=False)
    except (ValueError, E2CKitError, OSError) as exc:  # an unknown or malformed scenario
        raise BadInput(f"--sim-{'outage' if outage and 'outage' in str(exc) else 'scenario'}: {_one_line(exc)}") from None
    if ahead:
        clock.advance(ahead)  # the scenario's events are scheduled from the clock's start
    what = f"seed {seed}" + (f", scenario {sim.scenario.name}" if sim.scenario is not None else "")
    if outage:
        what += f" on {outage.upper()}"
    if ahead or rate:
        what += f", simulated time {clock.datetime():%Y-%m-%d %H:%M:%S} UTC" + (f" at {rate:g}x" if rate else "")
    return sim, what


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc).strip() or type(exc).__name__).split())
