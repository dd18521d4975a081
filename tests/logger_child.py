"""Helper for the SIGKILL test: a logger against a simulator it starts itself.

Run as ``python tests/logger_child.py DIR``. It logs ``cryo`` of two simulated
antennas (loopback, free ports) every 20 ms, flushing every 50 ms, and after each
cycle prints ``written=N files=F`` once N rows are safely on disk, so the parent can
synchronise on lines and files, then kill it with SIGKILL mid-run.
"""

from __future__ import annotations

import sys

from e2ckit.logger import Logger
from e2ckit.sim import SimulatedArray


def main(path: str) -> None:
    with SimulatedArray(["DV01", "CM03"], seed=5, latency=0.0) as sim:
        log = Logger("cryo", array=sim, interval=0.02, path=path, flush_every=0.05)
        print("ready", flush=True)
        last = -1
        while True:  # until killed
            log.step()
            st = log.status
            if st.samples_written != last:
                last = st.samples_written
                print(f"written={st.samples_written} files={st.files}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
