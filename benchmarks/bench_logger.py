"""Benchmark: the logger's CPU and disk cost, and its write path against ``DataFrame.to_parquet``.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_logger.py [--seconds 60] [--hour-antennas 4] [--samples 1000000]

1. **Live load**: 66 simulated antennas × (``cryo`` + ``cmpr``) at 1 Hz. The simulator
   runs in its own process (``python -m e2ckit.sim``) so that the CPU measured is the
   logger's alone (its cycle thread, the engine's poll loop and its flushes): CPU seconds
   per sample and % of one core, cycle times, overruns, bytes per sample on disk as
   flushed (a file per antenna at every flush, 30 s by default) and after compaction.
   Baseline, same run and simulator: the bare exchange (send, poll, recv in a minimal
   loop at 1 Hz, nothing decoded or kept), the floor of any Python client for this load.
2. **An hour at 1 Hz, compacted**: a stepped simulated clock drives an hour of
   1 Hz cycles for a few antennas (in-process, no waiting), then compaction: bytes per
   sample of a closed partition, where the per-file overhead no longer counts.
3. **Write throughput**: one million synthetic samples (66 antennas × 45 points, noisy
   float32 values, 2 % failures) through the logger's buffers and flush, against a
   tidy DataFrame of the same rows written with ``DataFrame.to_parquet`` (defaults,
   one file) — with and without building that DataFrame.

Targets (issue 7): under 10 % of one core for the live load, at most 4 bytes per
sample on disk after compaction.
"""

from __future__ import annotations

import argparse
import inspect
import math
import random
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import e2ckit
from e2ckit.catalog import default_catalog
from e2ckit.dataset import load
from e2ckit.logformat import segments as wal
from e2ckit.logger import Logger, compact
from e2ckit.logger.rows import Rows

#: cycles per flush in the simulated hour: the logger's default flush_every at 1 Hz
FLUSH_CYCLES = round(inspect.signature(Logger).parameters["flush_every"].default)


def _disk(path: Path) -> tuple[int, int]:
    files = list(path.rglob("part-*.parquet"))
    return len(files), sum(f.stat().st_size for f in files)


def _table(rows: list[tuple[str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


class ExternalSim:
    """The simulated array in its own process, so the logger does not share its GIL."""

    def __init__(self, tmp: Path, latency: float) -> None:
        csv = tmp / "array.csv"
        cmd = [sys.executable, "-m", "e2ckit.sim", "--seed", "1", "--latency", str(latency), "--write-array", str(csv)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        for _ in range(66):  # one line per antenna once every listener is open
            if not self.proc.stdout.readline():
                raise SystemExit(f"simulator failed: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.csv = csv

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def bare_exchange(plan: dict, cycles: int, interval: float = 1.0) -> float:
    """CPU seconds per request of the least any Python client must do for the same load:
    one socket per antenna kept open, its frames sent one at a time, each reply read
    before the next request, a cycle every ``interval`` seconds as the logger runs; no
    decoding, no results, no timeouts. Most of it is the kernel's loopback TCP work, so
    it moves with the machine's speed as the logger's figure does: the ratio between the
    two is the steadier number on a shared machine."""
    ep = select.epoll()
    socks: dict[int, tuple[socket.socket, list[bytes]]] = {}
    for endpoint, requests in plan.values():
        s = socket.create_connection((endpoint.host, endpoint.port), timeout=5)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ep.register(s.fileno(), select.EPOLLIN)
        socks[s.fileno()] = (s, [r.encode() for r in requests])
    n = 0
    cpu0 = time.process_time()
    start = time.monotonic()
    try:
        for k in range(cycles):
            time.sleep(max(start + k * interval - time.monotonic(), 0.0))
            nxt = dict.fromkeys(socks, 1)
            for s, frames in socks.values():
                s.send(frames[0])
            left = len(socks)
            while left:
                for fd, _ in ep.poll(5.0):
                    s, frames = socks[fd]
                    if not s.recv(4096):  # 13 bytes, whole on loopback
                        raise SystemExit("the simulator closed a connection")
                    n += 1
                    i = nxt[fd]
                    if i < len(frames):
                        nxt[fd] = i + 1
                        s.send(frames[i])
                    else:
                        left -= 1
        return (time.process_time() - cpu0) / n
    finally:
        for s, _ in socks.values():
            s.close()
        ep.close()


def live(seconds: float, tmp: Path, latency: float) -> list[tuple[str, str, str]]:
    sim = ExternalSim(tmp, latency)
    out = tmp / "live"
    try:
        log = Logger(["cryo", "cmpr"], array=sim.csv, interval=1.0, path=out)
        cycle_times: list[float] = []
        flush_times: list[float] = []
        wal_bytes = [0]  # the write-ahead segments' sizes when each flush retires them
        cycle, flush = log._cycle, log.flush

        def timed_cycle() -> int:
            t = time.perf_counter()
            n = cycle()
            cycle_times.append(time.perf_counter() - t)
            return n

        def timed_flush() -> int:
            wal_bytes[0] += sum(p.stat().st_size for p in wal.segments(out))
            t = time.perf_counter()
            n = flush()
            flush_times.append(time.perf_counter() - t)
            return n

        log._cycle, log.flush = timed_cycle, timed_flush  # type: ignore[method-assign]
        log.run(cycles=2)  # warm up: connections, imports
        cpu0, wall0, n0 = time.process_time(), time.perf_counter(), log.status.samples
        st = log.run(duration=seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        samples = st.samples - n0
        floor = bare_exchange(log._plan, cycles=15)
    finally:
        sim.close()
    files, size = _disk(out)
    rows_on_disk = st.samples_written
    t = time.perf_counter()
    res = compact(out, before="2100-01-01")
    t_compact = time.perf_counter() - t
    files_c, size_c = _disk(out)
    assert len(load(out)) == rows_on_disk, "compaction lost rows"
    cycle_times.sort()
    p = lambda q: cycle_times[min(len(cycle_times) - 1, int(q * len(cycle_times)))]  # noqa: E731
    per_point = len(default_catalog().resolve(["cryo", "cmpr"]))
    return [
        ("live: 66 antennas x (cryo+cmpr) at 1 Hz", "", ""),
        ("  points per antenna, samples per second", f"{per_point}", f"{samples / wall:.0f}/s"),
        ("  measured for", f"{wall:.1f} s", f"{st.cycles - 2} cycles"),
        ("  logger CPU (whole process)", f"{cpu:.2f} s", f"{100 * cpu / wall:.1f} % of one core"),
        ("  CPU per sample", f"{1e6 * cpu / samples:.1f} us", f"{cpu / samples / floor:.2f}x the floor"),
        ("  floor: the bare exchange, per request", f"{1e6 * floor:.1f} us", "send, poll, recv; nothing else"),
        ("  cycle time median / p95 / max", f"{1e3 * p(0.5):.0f} / {1e3 * p(0.95):.0f} ms", f"{1e3 * cycle_times[-1]:.0f} ms"),
        ("  flushes: count, median time", f"{len(flush_times)}", f"{1e3 * sorted(flush_times)[len(flush_times) // 2]:.0f} ms"),
        ("  overruns, errors", f"{st.overruns}", f"{st.errors}"),
        (f"  write-ahead segment (fsync={log.fsync}, deleted at each flush)", "", f"{wal_bytes[0] / st.samples:.1f} B/sample"),
        (f"  on disk as flushed ({log.flush_every:g} s files)", f"{files} files", f"{size / rows_on_disk:.2f} B/sample"),
        ("  after compaction (one file per antenna)", f"{files_c} files, {t_compact:.1f} s", f"{size_c / rows_on_disk:.2f} B/sample"),
        ("  compacted partitions", f"{sum(r.file is not None for r in res)}", ""),
    ]


def hour(antennas: int, tmp: Path) -> list[tuple[str, str, str]]:
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=None)
    names = ["DV01", "DA41", "CM01", "PM01", "DV02", "DA42", "CM02", "PM02"][:antennas]
    out = tmp / "hour"
    with SimulatedArray(names, seed=1, clock=clock, latency=0.0) as sim:
        log = Logger(["cryo", "cmpr"], array=sim, interval=1.0, path=out, clock=clock, flush_rows=10**9, flush_every=1e9)
        t = time.perf_counter()
        for _ in range(3600):
            log.step()
            if log.status.samples_buffered >= FLUSH_CYCLES * len(names) * 45:  # flushes as live
                log.flush()
        st = log.run(cycles=0)
        took = time.perf_counter() - t
    files, size = _disk(out)
    compact(out, before="2100-01-01")
    files_c, size_c = _disk(out)
    n = st.samples_written
    assert len(load(out)) == n
    return [
        (f"an hour at 1 Hz, {len(names)} antennas (stepped clock)", f"{n} samples", f"{took:.0f} s to run"),
        (f"  as flushed ({FLUSH_CYCLES} s files)", f"{files} files", f"{size / n:.2f} B/sample"),
        ("  after compaction", f"{files_c} files", f"{size_c / n:.2f} B/sample"),
    ]


def synthetic(n: int) -> tuple[list[str], list[Rows]]:
    """``n`` samples as the logger buffers them: 66 antennas x 45 points per cycle."""
    rng = random.Random(1)
    ants = e2ckit.Array.default().antennas
    points = [f"P.{k:02d}" for k in range(45)]
    per_cycle = len(ants) * len(points)
    cycles = math.ceil(n / per_cycle)
    base = {(a, p): rng.uniform(3, 300) for a in ants for p in points}
    bufs: dict[str, Rows] = {a: Rows() for a in ants}
    import numpy as np

    t0 = 1767225600_000000
    count = 0
    for k in range(cycles):
        for a in ants:
            b = bufs[a]
            for p in points:
                if count == n:
                    break
                count += 1
                b.time.append(t0 + k * 1_000_000)
                b.point.append(p)
                if rng.random() < 0.02:
                    b.value.append(None)
                    b.status.append("error")
                    b.error.append("E2C:TIMEOUT_ERROR: 5002 CAN bus timeout")
                    b.raw.append(None)
                    b.latency.append(None)
                else:
                    v = base[(a, p)] * (1 + rng.gauss(0, 1e-3))
                    b.value.append(float(np.float32(v)))
                    b.status.append("ok")
                    b.error.append(None)
                    b.raw.append(None)
                    b.latency.append(max(1, int(rng.gauss(12, 3))) / 1e4)  # seconds
                b.unit.append("K")
    return ants, list(bufs.values())


def throughput(n: int, tmp: Path) -> list[tuple[str, str, str]]:
    import pandas as pd

    ants, bufs = synthetic(n)
    # the logger's write path: the rows become Arrow batches (as each cycle's do), the
    # flush splits them by partition and writes one atomic part each
    import pyarrow as pa

    from e2ckit.logformat.schema import WAL_SCHEMA
    from e2ckit.logger.store import Store

    (tmp / "logger").mkdir()
    store = Store(tmp / "logger", "00000000", "flush")
    t = time.perf_counter()
    for a, b in zip(ants, bufs, strict=True):
        table = b.table()
        table = table.add_column(0, "antenna", pa.array([a] * len(b), pa.string()))
        for batch in table.replace_schema_metadata(None).cast(WAL_SCHEMA).to_batches():
            store._current.batches.append(batch)  # the backlog, without the segment
            store._current.rows += batch.num_rows
            store.buffered += batch.num_rows
    store.flush()
    t_logger = time.perf_counter() - t
    _, size_logger = _disk(tmp / "logger")
    # the same rows as a tidy DataFrame, written by pandas
    t = time.perf_counter()
    frames = []
    for a, b in zip(ants, bufs, strict=True):
        frames.append(
            pd.DataFrame(
                {
                    "time": pd.to_datetime(b.time, unit="us", utc=True),
                    "antenna": a,
                    "point": b.point,
                    "value": pd.array(b.value, dtype="float64"),
                    "unit": b.unit,
                    "status": b.status,
                    "error": b.error,
                    "latency_ms": [math.nan if x is None else x * 1e3 for x in b.latency],
                    "raw": b.raw,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    t_frame = time.perf_counter() - t
    t = time.perf_counter()
    df.to_parquet(tmp / "pandas.parquet")
    t_pandas = time.perf_counter() - t
    size_pandas = (tmp / "pandas.parquet").stat().st_size
    t = time.perf_counter()
    df.to_parquet(tmp / "pandas-zstd.parquet", compression="zstd")
    t_pandas_z = time.perf_counter() - t
    size_pandas_z = (tmp / "pandas-zstd.parquet").stat().st_size
    rate = lambda s: f"{n / s / 1e6:.2f} M samples/s"  # noqa: E731
    return [
        (f"write {n:,} synthetic samples", "time, rate", "bytes/sample, ratio"),
        ("  logger flush (66 part files, atomic)", f"{t_logger:.2f} s, {rate(t_logger)}", f"{size_logger / n:.2f} B"),
        ("  DataFrame.to_parquet (snappy, 1 file)", f"{t_pandas:.2f} s, {rate(t_pandas)}", f"{size_pandas / n:.2f} B ({size_pandas / size_logger:.1f}x)"),
        ("  DataFrame.to_parquet (zstd, 1 file)", f"{t_pandas_z:.2f} s, {rate(t_pandas_z)}", f"{size_pandas_z / n:.2f} B ({size_pandas_z / size_logger:.1f}x)"),
        ("  building that DataFrame first", f"{t_frame:.2f} s", ""),
        ("  speed: logger vs to_parquet (snappy)", f"{t_pandas / t_logger:.2f}x", f"{(t_pandas + t_frame) / t_logger:.2f}x incl. the frame"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the live run")
    ap.add_argument("--latency", type=float, default=0.0005, help="simulated seconds per request per CAN channel")
    ap.add_argument("--hour-antennas", type=int, default=4, help="antennas in the simulated hour (0: skip)")
    ap.add_argument("--samples", type=int, default=1_000_000, help="synthetic samples for the write comparison")
    args = ap.parse_args()
    head = ("measure", "value", "value")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        _table([head, *live(args.seconds, tmp, args.latency)])
        print()
        if args.hour_antennas:
            _table([head, *hour(args.hour_antennas, tmp)])
            print()
        _table([head, *throughput(args.samples, tmp)])


if __name__ == "__main__":
    main()
