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

import typer

from e2ckit import names
from e2ckit._check import MAX_SECONDS
from e2ckit.cli.output import FORMATS, OutputError, resolve_format
from e2ckit.names import ANTENNA_FAMILY_RE, E2C_INTERNAL_CHANNEL, MAX_NODE, MAX_RCA

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_REFUSED",
    "EXIT_STATUSES",
    "EXIT_WARN",
    "EXIT_ALARM",
    "BadInput",
    "check_output",
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
EXIT_ALARM = 6  # `check`: the worst verdict is an alarm
EXIT_STATUSES = frozenset({EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_NOTHING, EXIT_REFUSED, EXIT_WARN, EXIT_ALARM})


class BadInput(Exception):
    """Bad input on the command line: reported in one line, exit status 2."""


# -- limits of the addresses a user types ------------------------------------------------

CHANNEL_MAX = E2C_INTERNAL_CHANNEL  # channels 0-4 for antenna LRUs, 5 for the E2C's own node
NODE_MAX = MAX_NODE
RCA_MAX = MAX_RCA
ANTENNA_RE = ANTENNA_FAMILY_RE  # a family and digits: looks like an antenna, even if unknown
EXACT_ANTENNA_RE = names.ANTENNA_RE

# -- option definitions: one place for flags, defaults and help ---------------------------

_FORMAT_HELP = f"{', '.join(FORMATS)}: table is rich on a terminal, plain text when piped"
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
ShowErrorsOpt = typer.Option(True, "--show-errors/--hide-errors", help="show the error column")
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
    """``--timeout`` and ``--deadline``: finite, positive, at most MAX_SECONDS."""
    if math.isfinite(timeout) and timeout <= 0:
        raise BadInput(f"--timeout must be positive, got {timeout:g}")
    check_seconds("--timeout", timeout)
    if deadline is not None and math.isfinite(deadline) and deadline <= 0:
        raise BadInput(f"--deadline must be positive, got {deadline:g}")
    check_seconds("--deadline", deadline)


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
