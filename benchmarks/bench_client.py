"""Client benchmark (on demand, not collected by pytest).

    /work/venv/bin/python benchmarks/bench_client.py [--requests 3000] [--repeat 3]
        [--threads 1,2,4,8] [--latency 0]

1. Round trips per second through one connection to one simulated antenna, for the same
   requests: e2ckit's ``Client``, e2ckit's drop-in ``E2CClient`` and the published
   ``e2c_client.E2CClient`` 0.2.2, for a 5-byte monitor (FEMC TEMP0) and a get-nodes
   reply of 15 records (channel 0); and the client process's CPU time per request.
   Ratios are relative to the published client. Runs of the three clients are
   interleaved and the best run of each is shown.
2. Simulator throughput: all 66 antennas, ``T`` client threads each holding one
   e2ckit ``Client`` per antenna and asking round-robin; total requests/s.

The simulator runs in its own process (``python -m e2ckit.sim``, loopback, free ports,
stepped clock), so client and server do not share one interpreter lock; on a 2-core
machine that is one core each. ``--latency`` is the simulated CAN time per request
(default 0: measure the software, not the sleep).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from e2c_client import E2CClient as PublishedClient

from e2ckit.array import Array
from e2ckit.client import Client
from e2ckit.compat import E2CClient as DropIn

FEMC = 0x13


class SimProcess:
    """``python -m e2ckit.sim`` in a child process; ``array`` once it listens."""

    def __init__(self, antennas: str, latency: float) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-client-")
        csv = Path(self._dir.name) / "array.csv"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "e2ckit.sim", "--antennas", antennas, "--seed", "1",
             "--rate", "0", "--latency", str(latency), "--write-array", str(csv)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        while True:  # "simulating N antennas" comes after the host map is written
            line = lines.get(timeout=120)
            if line is None:
                raise SystemExit(f"the simulator exited with {self.proc.wait()}")
            if line.startswith("simulating"):
                break
        self.array = Array.from_csv(csv)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._dir.cleanup()


def rate(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """(requests/s, client CPU seconds per request) over ``n`` calls after a warm-up.

    CPU time is this process's only (the simulator runs in another), so it measures the
    client's own cost and is far less sensitive to other load than wall-clock rates.
    """
    for _ in range(min(n, 50)):
        fn()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / n


def round_trips(host: str, port: int, n: int, repeat: int) -> list[tuple[str, str, float, float]]:
    rows = []
    ours = Client(host, port, timeout=5)
    dropin = DropIn(host, port, timeout=5, verbose=False)
    published = PublishedClient(host, port, timeout=5, verbose=False)
    expected = ours.monitor(1, FEMC, 0x0C000)
    assert published.send_request(0, 1, FEMC, 0x0C000, 0) == (0, expected)
    assert dropin.send_request(0, 1, FEMC, 0x0C000, 0) == (0, expected)
    cases = {
        "monitor (13-byte reply)": (
            lambda: ours.monitor(1, FEMC, 0x0C000),
            lambda: dropin.send_request(0, 1, FEMC, 0x0C000, 0),
            lambda: published.send_request(0, 1, FEMC, 0x0C000, 0),
        ),
        "get-nodes ch 0 (193 bytes)": (
            lambda: ours.nodes(0),
            lambda: dropin.send_request(0, 0, 0, 0, 2),
            lambda: published.send_request(0, 0, 0, 0, 2),
        ),
    }
    for case, (a, b, c) in cases.items():
        clients = (("e2ckit Client", a), ("e2ckit E2CClient (drop-in)", b), ("e2c-client 0.2.2", c))
        best = {who: (0.0, float("inf")) for who, _ in clients}
        # Interleave the clients run by run, so that load from elsewhere hits them alike.
        for _ in range(repeat):
            for who, fn in clients:
                r, cpu = rate(fn, n)
                best[who] = (max(best[who][0], r), min(best[who][1], cpu))
        rows += [(case, who, r, cpu) for who, (r, cpu) in best.items()]
    ours.close()
    dropin._client.close()
    return rows


def throughput(array: Array, threads: int, per_thread: int) -> float:
    eps = list(array.values())
    barrier = threading.Barrier(threads + 1)
    done: list[int] = []

    def work(offset: int) -> None:
        clients = [Client(ep.host, ep.port, timeout=5) for ep in eps]
        for c in clients:  # connect before the clock starts
            c.monitor(1, FEMC, 0x0C000)
        barrier.wait()
        k = offset
        for _ in range(per_thread):
            clients[k % len(clients)].monitor(1, FEMC, 0x0C000)
            k += 1
        done.append(per_thread)
        for c in clients:
            c.close()

    ts = [threading.Thread(target=work, args=(i * 7,)) for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    assert sum(done) == threads * per_thread
    return sum(done) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000, help="requests per round-trip run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (best is shown)")
    ap.add_argument("--threads", default="1,2,4,8", help="client thread counts for the throughput table")
    ap.add_argument("--latency", type=float, default=0.0, help="simulated CAN seconds per request")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, simulated latency {args.latency * 1e3:g} ms")

    sim = SimProcess("DV01", args.latency)
    try:
        ep = sim.array["DV01"]
        rows = round_trips(ep.host, ep.port, args.requests, args.repeat)
    finally:
        sim.close()
    print("\n1. Round trips through one connection to one simulated antenna (best of runs)")
    print(f"{'request':28s} {'client':28s} {'requests/s':>11s} {'ratio':>7s} {'client CPU us/req':>18s} {'ratio':>7s}")
    for case in dict.fromkeys(r[0] for r in rows):
        base, base_cpu = next((v, cpu) for c, w, v, cpu in rows if c == case and w.startswith("e2c-client"))
        for c, who, v, cpu in rows:
            if c == case:
                print(f"{c:28s} {who:28s} {v:11,.0f} {v / base:6.2f}x {cpu * 1e6:18.1f} {cpu / base_cpu:6.2f}x")
    print("ratio: relative to e2c-client 0.2.2 (requests/s: higher is faster; CPU: lower is cheaper)")

    sim = SimProcess("all", args.latency)
    try:
        assert len(sim.array) == 66
        print("\n2. Simulator throughput, 66 antennas, one Client per antenna per thread")
        print(f"{'threads':>7s} {'requests':>9s} {'requests/s':>11s}")
        for t in (int(x) for x in args.threads.split(",")):
            per = max(args.requests // t, 66)
            print(f"{t:7d} {per * t:9d} {throughput(sim.array, t, per):11,.0f}")
    finally:
        sim.close()


if __name__ == "__main__":
    main()
