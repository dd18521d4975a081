"""``e2ckit simulate``: a simulated array in the foreground, for other terminals and tools.

Every option is checked before a socket is opened: the rate, latency and duration
finite, the port in range, the scenario known, and the ``--write-array`` /
``--write-hosts`` / ``-o`` files writable.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import typer

from e2ckit.cli.app import app
from e2ckit.cli.guard import err, guard, one_line
from e2ckit.cli.options import (
    BadInput,
    FormatOpt,
    OutputOpt,
    check_output,
    check_port,
    check_seconds,
    check_writable_file,
)
from e2ckit.cli.output import Table
from e2ckit.cli.tables import emit_table
from e2ckit.clock import SimClock, clock_file, parse_duration
from e2ckit.errors import E2CKitError
from e2ckit.signals import set_from_signal

_AntennasOpt = typer.Option(None, "--antennas", "-a", help="names or families, comma separated [default: all 66]")
_ScenarioOpt = typer.Option(None, help="scenario name or .toml path (see --list-scenarios)")
_OutageOpt = typer.Option(
    None, "--outage", metavar="ANTENNAS",
    help="the antennas the scenario happens to (DV01,DV02); alone, the outage scenario on them",
)  # fmt: skip
_AdvanceOpt = typer.Option(None, "--advance", metavar="DURATION", help="start this far into the simulation (30m, 2h, 1d)")
_ListOpt = typer.Option(False, "--list-scenarios", help="list the shipped scenarios and exit")
_SeedOpt = typer.Option(0, help="random seed: same seed, same array")
_RateOpt = typer.Option(1.0, help="simulated seconds per real second (3600: an hour a second)")
_LatencyOpt = typer.Option(0.0005, help="seconds per request on a CAN channel")
_BindOpt = typer.Option("port", help="port: 127.0.0.1 with a free port each; address: one loopback address per antenna")
_PortOpt = typer.Option(None, "--port", help="port for --bind address [default 2000]")
_WriteArrayOpt = typer.Option(None, "--write-array", metavar="CSV", help="write the host map here, for E2CKIT_ARRAY")
_WriteHostsOpt = typer.Option(None, "--write-hosts", metavar="FILE", help="write /etc/hosts lines (--bind address)")
_DurationOpt = typer.Option(None, help="stop after this many seconds [default: until Ctrl-C]")


@app.command("simulate")
@guard
def simulate_cmd(
    antennas: str | None = _AntennasOpt,
    scenario: str | None = _ScenarioOpt,
    outage: str | None = _OutageOpt,
    advance: str | None = _AdvanceOpt,
    list_scenarios: bool = _ListOpt,
    seed: int = _SeedOpt,
    rate: float = _RateOpt,
    latency: float = _LatencyOpt,
    bind: str = _BindOpt,
    port: int | None = _PortOpt,
    write_array: str | None = _WriteArrayOpt,
    write_hosts: str | None = _WriteHostsOpt,
    duration: float | None = _DurationOpt,
    fmt: str | None = FormatOpt,
    output: str | None = OutputOpt,
) -> None:
    """Run a simulated array in the foreground; print where each antenna listens.

    Then, in another terminal: E2CKIT_ARRAY=CSV e2ckit tools cryo --all
    """
    check_output(fmt, output)
    if list_scenarios:
        _list_scenarios(fmt, output)
        return
    _check_options(antennas, scenario, outage, bind, rate, latency, duration, port, write_array, write_hosts)
    sim, clock = _new_array(antennas, scenario, outage, advance, seed, rate, latency, bind, port)
    sim.start()
    # SIGTERM's handler before the listening lines: whoever reads them may stop it at once
    stop = threading.Event()
    old = _sigterm_sets(stop)
    try:
        _say_where(sim, fmt, output, write_array, write_hosts)
        what = f" scenario {sim.scenario.name}," if sim.scenario is not None else ""
        if outage:
            what += f" on {outage.upper()},"
        err(
            f"simulating {len(sim.antennas)} antennas (seed {seed},{what} rate {rate:g}x, "
            f"simulated time {clock.datetime():%Y-%m-%d %H:%M:%S} UTC); Ctrl-C to stop"
        )
        _run_until_stopped(stop, duration)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        sim.stop()
    err("simulation stopped")


def _list_scenarios(fmt: str | None, output: str | None) -> None:
    # lazy: pulls the simulator and transport; keeps --help fast
    from e2ckit.sim.scenario import list_scenarios, load_scenario

    # descriptions are prose wrapped in their TOML files: one line each
    rows = [[n, " ".join(str(getattr(load_scenario(n), "description", "")).split())] for n in list_scenarios()]
    emit_table(Table(["scenario", "description"], rows, title="scenarios", meta={"wrap": ["description"]}), fmt, output)


def _check_options(antennas: str | None, scenario: str | None, outage: str | None, bind: str, rate: float,
                   latency: float, duration: float | None, port: int | None, write_array: str | None,
                   write_hosts: str | None) -> None:  # fmt: skip
    """Every option, before a socket is opened."""
    if bind not in ("port", "address"):
        raise BadInput(f"--bind {bind!r} must be port or address")
    if not rate > 0 or rate == float("inf"):  # also NaN
        raise BadInput(f"--rate must be a positive number, got {rate:g}")
    check_seconds("--latency", latency, zero=True)
    check_seconds("--duration", duration, zero=True)
    check_port(port)
    if antennas is not None and not antennas.strip():
        raise BadInput("--antennas is empty: give names or families, or leave it out for all 66")
    if scenario is not None and not scenario.strip():
        raise BadInput("--scenario is empty: give a scenario name or .toml path")
    for option, path in (("--write-array", write_array), ("--write-hosts", write_hosts)):
        if path is not None:
            check_writable_file(path, option)
    if outage is not None and not outage.strip():
        raise BadInput("--outage is empty: give antennas, e.g. DV01,DV02")


def _new_array(antennas: str | None, scenario: str | None, outage: str | None, advance: str | None, seed: int,
               rate: float, latency: float, bind: str, port: int | None) -> tuple[Any, Any]:  # fmt: skip
    """The simulated array (not started) and its clock, ``advance`` into the simulation."""
    # lazy: pulls the simulator and transport; keeps --help fast
    from e2ckit.sim import SimulatedArray

    try:
        ahead = 0.0 if advance is None else parse_duration(advance)
    except ValueError as exc:
        raise BadInput(f"--advance: {one_line(exc)}") from None
    clock = SimClock(rate=rate)
    try:
        sim = SimulatedArray(antennas, seed=seed, latency=latency, clock=clock,
                             scenario=scenario, outage=outage, bind=bind, port=port, serve=True)  # fmt: skip
    except (ValueError, E2CKitError, OSError) as exc:  # an unknown scenario, a bad .toml, a bad seed
        raise BadInput(f"simulate: {one_line(exc)}") from None
    if ahead:
        clock.advance(ahead)
    return sim, clock


def _say_where(sim: Any, fmt: str | None, output: str | None, write_array: str | None, write_hosts: str | None) -> None:
    """Where each antenna listens (stdout), and the host map / hosts lines if asked."""
    rows = [[name, ep.host, ep.port] for name, ep in sim.array.items()]
    emit_table(Table(["antenna", "host", "port"], rows, title="simulated array", meta={"vertical": False}), fmt, output)
    sys.stdout.flush()
    if write_array:
        err(
            f"host map written to {sim.write_array(write_array)} (export E2CKIT_ARRAY={write_array}), "
            f"its simulated clock to {clock_file(write_array)} (a logger on this map stamps simulated time)"
        )
    if write_hosts:
        with open(write_hosts, "w", encoding="utf-8") as f:
            for hostname, addr in sim.host_names().items():
                f.write(f"{addr}\t{hostname}\n")
        err(f"/etc/hosts lines written to {write_hosts}")


def _sigterm_sets(stop: threading.Event) -> Any:
    """SIGTERM sets ``stop``; the handler it replaces, or None where no handler can be set
    (CliRunner in a worker thread)."""
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        return None
    return signal.signal(signal.SIGTERM, lambda *_: set_from_signal(stop))


def _run_until_stopped(stop: threading.Event, duration: float | None) -> None:
    """Until Ctrl-C, SIGTERM or ``duration`` seconds."""
    try:
        stop.wait(duration)
    except KeyboardInterrupt:
        pass
