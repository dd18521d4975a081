"""Run a simulated array from a shell: ``python -m e2ckit.sim --help``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from e2ckit.clock import SimClock
from e2ckit.errors import E2CKitError
from e2ckit.signals import set_from_signal
from e2ckit.sim import SimulatedArray
from e2ckit.sim.scenario import list_scenarios, load_scenario


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m e2ckit.sim",
        description="Start a simulated ALMA array of fake E2C servers on loopback and print where each listens.",
    )
    p.add_argument("--antennas", default=None, help="names or families, comma separated (default: all 66)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same array)")
    p.add_argument("--scenario", default=None, help="scenario name or .toml path (see --list-scenarios)")
    p.add_argument("--list-scenarios", action="store_true", help="list the shipped scenarios and exit")
    p.add_argument("--rate", type=float, default=1.0, help="simulated seconds per real second (3600 = an hour a second)")
    p.add_argument("--latency", type=float, default=0.0005, help="seconds per request on a CAN channel")
    p.add_argument(
        "--bind",
        choices=["port", "address"],
        default="port",
        help="port: all on 127.0.0.1 with free ports; address: one loopback address per antenna on port 2000",
    )
    p.add_argument("--port", type=int, default=None, help="port for --bind address (default 2000)")
    p.add_argument("--write-array", metavar="CSV", default=None, help="write the host map here, for E2CKIT_ARRAY")
    p.add_argument("--write-hosts", metavar="FILE", default=None, help="write /etc/hosts lines for --bind address")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.list_scenarios:
        for name in list_scenarios():
            print(f"{name:18s} {load_scenario(name).description}")
        return 0
    try:
        sim = SimulatedArray(
            args.antennas,
            seed=args.seed,
            latency=args.latency,
            clock=SimClock(rate=args.rate),
            scenario=args.scenario,
            bind=args.bind,
            port=args.port,
            serve=True,
        )
        sim.start()
    except E2CKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write_array:
        print(f"host map written to {sim.write_array(args.write_array)}", file=sys.stderr)
    if args.write_hosts:
        with open(args.write_hosts, "w") as f:
            for hostname, addr in sim.host_names().items():
                f.write(f"{addr}\t{hostname}\n")
        print(f"hosts lines written to {args.write_hosts}", file=sys.stderr)
    stop = threading.Event()  # SIGTERM's handler first: a reader of the lines may stop it at once
    signal.signal(signal.SIGTERM, lambda *_: set_from_signal(stop))
    # The listening lines come last, so a reader that sees them can use the files too.
    for name, ep in sim.array.items():
        print(f"{name}\t{ep.host}:{ep.port}", flush=True)
    print(f"simulating {len(sim.antennas)} antennas; Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
