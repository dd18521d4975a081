"""The ``e2ckit`` Typer app: the root options (``--simulate``, ``--array``, ``--version``),
one-line usage errors, and the console-script entry point. The command modules add
their commands to :data:`app` (see :mod:`e2ckit.cli`)."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import typer
from typer.core import TyperGroup

from e2ckit import __version__
from e2ckit.array import Array
from e2ckit.cli.common import ClickException, NoArgsIsHelpError, err, one_line
from e2ckit.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_PARTIAL,
    ArrayOpt,
    SimScenarioOpt,
    SimSeedOpt,
    SimulateOpt,
)
from e2ckit.errors import E2CKitError

_HELP = """\
ALMA E2C monitor and control: e2c-client's commands, done right, plus array-wide sweeps.

\b
  e2ckit --simulate sweep cryo              cryostats of a simulated 66-antenna array
  e2ckit tools cryo --all                   the same on the active array ($E2CKIT_ARRAY)
  e2ckit monitor request --host DV01 --channel 1 --node 0x13 --rca 0x0C000
  e2ckit points cryo                        what a group reads

\b
Exit status: 0 all answered, 1 some readings failed or did not decode (or a control's
outcome is unknown), 2 bad input (nothing sent), 3 nothing answered, 4 control refused
or declined; `check` only: 5 the worst verdict is a warning, 6 an alarm.
"""


class OneLineErrors(TyperGroup):
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
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            err(f"error: {one_line(Exception(exc.format_message()))}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            err("aborted")
            sys.exit(EXIT_PARTIAL)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors, add_completion=False, no_args_is_help=True, help=_HELP, rich_markup_mode=None
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
    array: str | None = ArrayOpt,
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """ALMA E2C monitor and control."""
    if array is not None and simulate:
        _bad("give --simulate or --array, not both")
    if not simulate and (sim_seed or sim_scenario is not None):
        _bad("--sim-seed and --sim-scenario shape the --simulate array; add --simulate")
    if array is not None:
        _use_array(ctx, array)
    if simulate:
        if ctx.invoked_subcommand == "simulate":
            _bad("`e2ckit simulate` starts a simulated array itself; drop --simulate")
        _start_embedded_simulation(ctx, sim_seed, sim_scenario)


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
        Array.from_csv(array)
    except E2CKitError as exc:
        _bad(f"--array: {one_line(exc)}")
    _set_env(ctx, "E2CKIT_ARRAY", os.path.abspath(array))


def _set_env(ctx: typer.Context, key: str, value: str) -> None:
    old = os.environ.get(key)
    os.environ[key] = value

    def restore() -> None:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old

    ctx.call_on_close(restore)


def _start_embedded_simulation(ctx: typer.Context, seed: int, scenario: str | None) -> None:
    from e2ckit.sim import SimulatedArray

    if scenario is not None and not scenario.strip():
        _bad("--sim-scenario is empty: give a scenario name or .toml path")
    try:
        sim = SimulatedArray(seed=seed, scenario=scenario, bind="port")
    except (ValueError, E2CKitError, OSError) as exc:  # an unknown or malformed scenario
        _bad(f"--sim-scenario: {one_line(exc)}")
    sim.start()
    tmp = tempfile.TemporaryDirectory(prefix="e2ckit-sim-")
    path = sim.write_array(os.path.join(tmp.name, "array.csv"))
    what = f"seed {seed}" + (f", scenario {sim.scenario.name}" if sim.scenario is not None else "")
    err(f"simulating {len(sim.antennas)} antennas on 127.0.0.1 ({what}) for this command")

    def stop() -> None:
        sim.stop()
        tmp.cleanup()

    ctx.call_on_close(stop)  # registered first, runs last (after the env is restored)
    ctx.meta["e2ckit.sim"] = sim  # for commands that drive its clock (dashboard --sim-rate)
    _set_env(ctx, "E2CKIT_ARRAY", str(path))


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
