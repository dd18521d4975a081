"""The ``e2ckit`` Typer app: the root options (``--simulate``, ``--array``, ``--version``),
one-line usage errors, and the console-script entry point. The command modules add
their commands to :data:`app` (see :mod:`e2ckit.cli`)."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from e2ckit.array import Array, use_array
from e2ckit.cli.guard import ClickException, NoArgsIsHelpError, err, one_line
from e2ckit.cli.helptext import WholeHelp
from e2ckit.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_PARTIAL,
    ArrayOpt,
    BadInput,
    SimAdvanceOpt,
    SimOutageOpt,
    SimRateOpt,
    SimScenarioOpt,
    SimSeedOpt,
    SimulateOpt,
    prepare_simulation,
)
from e2ckit.cli.target import defer_simulation
from e2ckit.errors import E2CKitError
from e2ckit.version import __version__

_HELP = """\
ALMA E2C monitor and control: e2c-client's commands, done right, plus array-wide sweeps.

\b
  e2ckit --simulate sweep cryo   cryostats of a simulated 66-antenna array
  e2ckit tools cryo --all        the same on the active array ($E2CKIT_ARRAY)
  e2ckit monitor request --host DV01 --channel 1 --node 0x13 --rca 0x0C000
  e2ckit points cryo             what a group reads

Exit status: 0 all answered, 1 some readings failed or did not decode (or a
control's outcome is unknown), 2 bad input (nothing sent), 3 nothing answered,
4 control refused or declined, 5 `check`'s worst verdict is a warning, 6 an alarm
(check's verdict, or an antenna in alarm in sweep, tools, nodes --inventory);
`recover` only: 7 some antenna still waits, 8 some stalled; 130 interrupted.
"""


#: the root options, which go before the command (``e2ckit --simulate sweep cryo``)
GLOBAL_OPTIONS = ("--simulate", "--sim-seed", "--sim-scenario", "--sim-rate", "--sim-advance",
                  "--sim-outage", "--array")  # fmt: skip
FLAG_OPTIONS = ("--simulate",)  # root options that take no value


def global_option_hint(args: list[str], option: str) -> str | None:
    """``e2ckit sweep cryo --simulate`` → where the root option goes, as a command line
    with every root option moved before the command."""
    name = option.split("=", 1)[0]
    if name not in GLOBAL_OPTIONS:
        return None
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.split("=", 1)[0] in GLOBAL_OPTIONS:
            moved.append(a)
            if "=" not in a and a not in FLAG_OPTIONS and i + 1 < len(args):
                moved.append(args[i + 1])
                i += 1
        else:
            rest.append(a)
        i += 1
    fixed = " ".join(["e2ckit", *moved, *rest])
    return f"{name} is a global option: put it before the command: {fixed}"


class OneLineErrors(WholeHelp):
    """The root group: a usage error (unknown option, a value typer cannot convert, a
    missing argument) is one line on stderr and exit status 2, like every other bad
    input, instead of click's usage block."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = global_option_hint(
                list(sys.argv[1:] if args is None else args), getattr(exc, "option_name", None) or ""
            )
            if where is not None:
                err(f"error: {where}")
                sys.exit(exc.exit_code)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            err(f"error: {one_line(Exception(exc.format_message()))}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            err("aborted")
            sys.exit(EXIT_PARTIAL)
        sys.exit(code if isinstance(code, int) else 0)


#: help uses the terminal's width (click's default stops at 80 columns)
HELP_SETTINGS = {"max_content_width": 200}

app = typer.Typer(
    cls=OneLineErrors, add_completion=False, no_args_is_help=True, help=_HELP, rich_markup_mode=None,
    context_settings=HELP_SETTINGS,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    simulate: bool = SimulateOpt,
    sim_seed: int = SimSeedOpt,
    sim_scenario: str | None = SimScenarioOpt,
    sim_rate: float | None = SimRateOpt,
    sim_advance: str | None = SimAdvanceOpt,
    sim_outage: str | None = SimOutageOpt,
    array: str | None = ArrayOpt,
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """ALMA E2C monitor and control."""
    if array is not None and simulate:
        _bad("give --simulate or --array, not both")
    shaping = {"--sim-seed": sim_seed or None, "--sim-scenario": sim_scenario, "--sim-rate": sim_rate,
               "--sim-advance": sim_advance, "--sim-outage": sim_outage}  # fmt: skip
    given = [k for k, v in shaping.items() if v is not None]
    if not simulate and given:
        _bad(f"{', '.join(given)} shape{'s' if len(given) == 1 else ''} the --simulate array; add --simulate")
    if array is not None:
        _use_array(ctx, array)
    if simulate:
        if ctx.invoked_subcommand == "simulate":
            _bad("`e2ckit simulate` starts a simulated array itself; drop --simulate")
        _start_embedded_simulation(ctx, sim_seed, sim_scenario, sim_rate, sim_advance, sim_outage)


def _bad(message: str) -> None:
    err(f"error: {message}")
    raise typer.Exit(EXIT_BAD_INPUT)


def _use_array(ctx: typer.Context, array: str) -> None:
    """``--array CSV``: read now (a bad map is one line and exit 2, before any command
    runs); an empty value is an error, never a silent fall-back to the real array."""
    if not array.strip():
        _bad("--array is empty: give a host-map CSV (antenna,host,port)")
    if not os.path.isfile(array):
        _bad(f"--array {array!r}: no such file")
    try:
        given = Array.from_csv(array)
    except E2CKitError as exc:
        _bad(f"--array: {one_line(exc)}")
    _set_env(ctx, "E2CKIT_ARRAY", os.path.abspath(array))  # for the processes it starts
    # and this command's array even where the process has one already (use_array: a
    # notebook's or a test's simulated array): the map named on the command line wins
    ctx.call_on_close(use_array(given))


def _set_env(ctx: typer.Context, key: str, value: str) -> None:
    old = os.environ.get(key)
    os.environ[key] = value

    def restore() -> None:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old

    ctx.call_on_close(restore)


def _start_embedded_simulation(
    ctx: typer.Context, seed: int, scenario: str | None, rate: float | None = None,
    advance: str | None = None, outage: str | None = None,
) -> None:  # fmt: skip
    """``--simulate``: the simulated array becomes this command's active array, in
    memory."""
    try:
        sim, what = prepare_simulation(seed, scenario, rate, advance, outage)
    except BadInput as exc:
        _bad(str(exc))
    undo: list[Any] = []

    def launch() -> str:
        sim.start()
        err(f"simulating {len(sim.antennas)} antennas in memory ({what}) for this command")
        undo.append(use_array(sim.array))
        return sim.array.source

    def stop() -> None:
        for restore in undo:
            restore()  # the array first, then the simulator behind it
        defer_simulation(None)
        sim.stop()

    ctx.call_on_close(stop)
    ctx.meta["e2ckit.sim"] = sim  # for commands that drive its clock (dashboard --sim-rate)
    if ctx.invoked_subcommand in STARTED_ON_FIRST_USE:
        defer_simulation(launch)  # after the command has checked its options (cli.target.active_array)
    else:
        defer_simulation(None)
        launch()


#: commands that reach the array only through cli.target.active_array(): their
#: --simulate array starts once every option is checked
STARTED_ON_FIRST_USE = frozenset({"sweep", "nodes", "monitor", "control", "tools", "check", "recover"})


@app.command(short_help="Show current version")
def version() -> None:
    """Print the e2ckit version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] in (["version"], ["--version"]):
        # fast path: typer would load its argument coercion just to print this
        print(__version__)
        return
    app(prog_name="e2ckit")
