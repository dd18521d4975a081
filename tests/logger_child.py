"""Helper for the SIGKILL tests: a logger against a simulator it starts itself.

Run as ``python tests/logger_child.py DIR [--wal]``. It logs ``cryo`` of two simulated
antennas (loopback, free ports) every 20 ms, and prints a line after each cycle so the
parent can synchronise on lines, then kill it with SIGKILL mid-run:

* default: flushing every 50 ms, ``written=N files=F`` once N rows are safely in parts;
* ``--wal``: never flushing (everything is in the write-ahead segment only),
  ``cycles=N`` once the N-th cycle has been appended to the segment.
"""

from __future__ import annotations

import sys

from e2ckit.logger import Logger
from e2ckit.sim import SimulatedArray


def main(path: str, wal: bool) -> None:
    with SimulatedArray(["DV01", "CM03"], seed=5, latency=0.0) as sim:
        flush_every = 1e9 if wal else 0.05
        log = Logger("cryo", array=sim, interval=0.02, path=path, flush_every=flush_every, flush_rows=10**9)
        print("ready", flush=True)
        last = -1
        while True:  # until killed
            log.step()
            st = log.status
            if wal:
                print(f"cycles={st.cycles}", flush=True)
            elif st.samples_written != last:
                last = st.samples_written
                print(f"written={st.samples_written} files={st.files}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], "--wal" in sys.argv[2:])
