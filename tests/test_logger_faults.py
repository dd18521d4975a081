"""The logger when things go wrong: killed, two writers, a compaction that crashes,
a full disk, foreign files, impossible node ids (issue 13, items 4-8).

Real processes (SIGKILL, os._exit), real parquet on disk, real sockets on loopback;
the check is always the one a user relies on: every sample exactly once, for
``e2ckit.load`` and for DuckDB over ``**/*.parquet``.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e2ckit.array import Array, Endpoint
from e2ckit.catalog import default_catalog
from e2ckit.dataset import load
from e2ckit.logger import (
    Logger,
    LogLockedError,
    LogWriteError,
    UnreadableFileWarning,
    compact,
)
from e2ckit.logger import fsio as store_mod
from e2ckit.logger import wal as wal_writer
from e2ckit.logformat import segments as wal_mod
from e2ckit.logger.lock import DatasetLock
from e2ckit.sim import SimulatedArray
from e2ckit.clock import DEFAULT_EPOCH, SimClock
from e2ckit.wire.frames import NodeRecord, Reply, Request

duckdb = pytest.importorskip("duckdb")

ANTS = ["DV01", "CM03", "DA41"]
# conftest's `sim`: these antennas in memory, a new array on the test's own stepped `clock`
pytestmark = pytest.mark.sim_array(ANTS, seed=7, latency=0.0, serve=False, per_test=True)
CRYO = [p.name for p in default_catalog().resolve("cryo")]
NC = len(CRYO)
CHILD = Path(__file__).with_name("logger_child.py")


def parts(path: Path) -> list[Path]:
    return sorted(path.rglob("part-*.parquet"))


def duck_count(path: Path) -> int:
    """Rows DuckDB sees over the dataset, with no e2ckit involved."""
    if not list(path.rglob("*.parquet")):
        return 0  # (DuckDB raises on a glob that matches nothing)
    glob = f"{path}/**/*.parquet"
    return duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)").fetchall()[0][0]


def duck_duplicates(path: Path) -> int:
    if not list(path.rglob("*.parquet")):
        return 0
    glob = f"{path}/**/*.parquet"
    q = (
        f"select count(*) from (select time, antenna, point, count(*) n from read_parquet('{glob}', "
        "hive_partitioning=true) group by all having n > 1)"
    )
    return duckdb.sql(q).fetchall()[0][0]


def once(path: Path, expected: int) -> None:
    """Every sample exactly once, for load() (before and after the next writer settles
    what a crash left) and for DuckDB; nothing half-done left."""
    for settled in (False, True):
        if settled:  # the next writer (here a compaction of no day) replays and settles
            compact(path, before="2000-01-01")
        df = load(path)
        assert len(df) == expected, settled
        assert not df.duplicated(["time", "antenna", "point"]).any()
    assert duck_count(path) == expected and duck_duplicates(path) == 0
    state = path / ".e2ckit"
    assert not (state / "compact.json").exists()
    assert not [p for p in (state / "tmp").rglob("*") if p.is_file()] if (state / "tmp").exists() else True


# -- 13.4: a killed logger loses at most the last cycle ---------------------------------------


def _kill_after(out: Path, cycles: int) -> int:
    """Start a logger child that never flushes, SIGKILL it right after it reported
    ``cycles`` cycles appended to its segment; return the cycles it reported."""
    proc = subprocess.Popen([sys.executable, str(CHILD), str(out), "--wal"], stdout=subprocess.PIPE, text=True, bufsize=1)
    done = 0
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        for line in proc.stdout:  # synchronise on the child's lines, not on sleeps
            if line.startswith("cycles="):
                done = int(line.split("=")[1])
                if done >= cycles:
                    proc.send_signal(signal.SIGKILL)
                    break
            assert time.monotonic() < deadline, "the child logger made no progress"
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return done


def test_sigkill_loses_at_most_the_cycle_in_progress_and_the_segment_is_replayed_once(tmp_path) -> None:
    out = tmp_path / "log"
    reported = _kill_after(out, 7)
    assert not parts(out), "nothing was flushed: every row is in the write-ahead segment only"
    assert duck_count(out) == 0  # and no reader counts the segment
    segs = wal_mod.segments(out)
    assert len(segs) == 1 and not segs[0].name.endswith(".parquet")
    saved = segs[0].read_bytes()
    # load() reads it into its own memory (a reader never writes): every reported cycle is there
    df = load(out)
    cycles = df.time.nunique()
    assert cycles >= reported  # at most the cycle in progress at the kill is missing
    assert df.groupby("time").size().eq(2 * NC).all()  # whole cycles only
    assert wal_mod.segments(out) and not parts(out), "load never writes to the dataset"
    compact(out, before="2000-01-01")  # the next writer replays it (and compacts no day)
    assert not wal_mod.segments(out) and parts(out)
    once(out, cycles * 2 * NC)
    # a crash after the parts were written but before the segment was deleted: the
    # segment comes back; replaying it again adds nothing
    segs[0].parent.mkdir(parents=True, exist_ok=True)
    segs[0].write_bytes(saved)
    once(out, cycles * 2 * NC)
    segs[0].parent.mkdir(parents=True, exist_ok=True)
    segs[0].write_bytes(saved)
    assert all(r.file for r in compact(out, before="2100-01-01"))  # each day's one part, in the compacted layout
    once(out, cycles * 2 * NC)


def test_a_segment_cut_short_keeps_its_whole_cycles(tmp_path) -> None:
    out = tmp_path / "log"
    _kill_after(out, 4)
    seg = wal_mod.segments(out)[0]
    whole = wal_mod.read(seg)
    data = seg.read_bytes()
    seg.write_bytes(data[: len(data) - 100])  # the kill came in the middle of a batch
    assert len(wal_mod.read(seg)) == len(whole) - 1
    once(out, (len(whole) - 1) * 2 * NC)


def test_restart_after_sigkill_replays_then_appends(tmp_path) -> None:
    out = tmp_path / "log"
    reported = _kill_after(out, 5)
    with SimulatedArray(["DV01", "CM03"], seed=5, latency=0.0) as sim:
        st = Logger("cryo", array=sim, interval=0.01, path=out).run(cycles=3)
    assert st.samples_written == 3 * 2 * NC
    df = load(out)
    assert df.time.nunique() >= reported + 3
    once(out, len(df))
    assert not (out / ".e2ckit").exists(), "a clean stop leaves nothing behind"


def test_load_reads_a_running_loggers_latest_cycles_from_its_segment(sim, clock, tmp_path) -> None:
    log = Logger("cryo", array=sim, interval=1, path=tmp_path, clock=clock, flush_rows=10**9, flush_every=1e9)
    for _ in range(3):
        log.step()
    assert not parts(tmp_path)
    assert len(load(tmp_path)) == 3 * 3 * NC  # from the live segment, the logger still holds the lock
    log.flush()
    log.step()
    assert len(load(tmp_path)) == 4 * 3 * NC  # three in a part, one in the segment: none twice
    log.stop()
    once(tmp_path, 4 * 3 * NC)


@pytest.mark.parametrize("fsync", ["cycle", "flush"])
def test_fsync_setting(sim, clock, tmp_path, monkeypatch, fsync) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else "?")
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    log = Logger("cryo", array=sim, interval=1, path=tmp_path, clock=clock, flush_every=1e9, fsync=fsync)
    for _ in range(3):
        log.step()
    wal_syncs = [p for p in synced if p.endswith(".arrows")]
    assert len(wal_syncs) == (3 if fsync == "cycle" else 0)
    log.stop()
    assert any(p.endswith(".parquet") or ".e2ckit/tmp" in p for p in synced)  # parts always
    with pytest.raises(Exception, match="fsync must be one of 'cycle', 'flush'"):
        Logger("cryo", array=sim, path=tmp_path, fsync="always")


# -- 13.5: one writer per dataset ----------------------------------------------------------------


def test_a_second_logger_on_the_same_directory_gets_a_clear_error(sim, clock, tmp_path) -> None:
    a = Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock)
    b = Logger("FEMC.TEMP1", array=sim, path=tmp_path, clock=SimClock(rate=None))
    a.step()
    with pytest.raises(LogLockedError, match=rf"pid {os.getpid()} on host {socket.gethostname()}.*FEMC.TEMP0"):
        b.run(cycles=1)
    with pytest.raises(LogLockedError, match="another e2ckit process"):
        compact(tmp_path)
    a.stop()
    b.run(cycles=1)  # released at stop
    once(tmp_path, 2 * len(ANTS))


def test_compact_while_a_logger_process_writes_fails_clearly_and_a_killed_ones_lock_is_recovered(tmp_path) -> None:
    out = tmp_path / "log"
    proc = subprocess.Popen([sys.executable, str(CHILD), str(out), "--wal"], stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("cycles="):
                break
        with pytest.raises(LogLockedError, match=f"pid {proc.pid} on host"):
            compact(out)
        # the CLI's answer, in this process (a second process beside the writer, as at a shell)
        from typer.testing import CliRunner

        from e2ckit.cli import app

        r = CliRunner().invoke(app, ["log", "compact", str(out)])
        assert r.exit_code == 1 and f"pid {proc.pid}" in r.stderr and "Traceback" not in r.output, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert (out / ".e2ckit" / "lock").exists()  # left behind by the killed writer...
    compact(out)  # ... and taken over: its pid is gone, and so is its flock
    once(out, len(load(out)))


def test_a_stale_lock_file_from_a_dead_pid_is_taken_over(sim, clock, tmp_path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = tmp_path / ".e2ckit"
    state.mkdir()
    (state / "lock").write_text(f'{{"pid": {int(dead.stdout)}, "host": "{socket.gethostname()}", "command": "x"}}')
    Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock).run(cycles=1)
    once(tmp_path, len(ANTS))


def test_two_compactions_at_once_one_refused_no_duplicates(tmp_path, two_days) -> None:
    """The second compaction waits for nothing and changes nothing: it is refused."""
    out = tmp_path / "log"
    n = two_days(out)
    held = DatasetLock(out, "e2ckit log compact")
    held.acquire()
    try:
        with pytest.raises(LogLockedError, match="e2ckit log compact"):
            compact(out, before="2026-01-03")
    finally:
        held.release()
    compact(out, before="2026-01-03")
    once(out, n)
    assert len(parts(out)) == 6


# -- 13.5: a compaction that crashes at any step ---------------------------------------------


@pytest.fixture(scope="module")
def _two_days_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Two days of logs, written once for the module (read-only: tests get copies)."""
    out = tmp_path_factory.mktemp("two-days") / "log"
    clock = SimClock(start=DEFAULT_EPOCH + 86400 - 3600, rate=None)
    with SimulatedArray(ANTS, seed=2, clock=clock, latency=0.0) as sim:
        st = Logger(["cryo"], array=sim, interval=600, path=out, clock=clock, flush_rows=200).run(cycles=12)
    assert len(parts(out)) > 6
    return out, st.samples_written


@pytest.fixture
def two_days(_two_days_template: tuple[Path, int]) -> Callable[[Path], int]:
    """``two_days(out)``: a copy of the module's two days of logs at ``out``; returns its samples."""

    def copy(out: Path) -> int:
        template, n = _two_days_template
        shutil.copytree(template, out)
        assert len(parts(out)) > 6
        return n

    return copy


#: A process that has imported e2ckit once and forks a child for each crash run: every
#: child is a real process killed with ``os._exit(3)`` (no cleanup, no ``finally``: as a
#: power cut or SIGKILL), without each paying Python's start and e2ckit's imports (0.4 s).
#: It forks from its own single thread (the pattern of multiprocessing's forkserver), never
#: from pytest's process. One job a line on stdin: a function's name and arguments; one
#: exit status a line back; each child's stderr in the file the job names.
_CRASHER = """
import json, os, sys, traceback
from e2ckit.clock import SimClock
from e2ckit.logger import Logger, compaction, store
from e2ckit.sim import SimulatedArray

def compaction_killed_at(out, target):
    def crash(step):
        if step == target:
            os._exit(3)
    compaction._step = crash
    compaction.compact(out, before="2026-01-03")

def logger_killed_in_its_first_flush(out):
    real = store.write_part
    def first_part_then_crash(*args, **kwargs):
        real(*args, **kwargs)
        os._exit(3)  # one partition's part is in place, the others and the segment's deletion are not
    store.write_part = first_part_then_crash
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "CM03", "DA41"], seed=7, clock=clock, latency=0.0) as sim:
        log = Logger("cryo", array=sim, interval=1, path=out, clock=clock, flush_every=1e9)
        for _ in range(3):
            log.step()
        log.flush()

print("ready", flush=True)
for line in sys.stdin:
    name, args, stderr = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        try:
            globals()[name](*args)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)  # not killed: the test fails on it
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.fixture(scope="module")
def crash() -> Iterator[Callable[..., tuple[int, str]]]:
    """``crash(name, *args)``: run ``name(*args)`` of :data:`_CRASHER` in a child process
    killed at its step; its exit status (3: killed there) and its stderr."""
    proc = subprocess.Popen([sys.executable, "-c", _CRASHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None

    def reply(timeout: float = 120) -> str:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        assert ready, f"the crasher gave no answer within {timeout} s"
        return proc.stdout.readline().strip()

    def run(name: str, *args: str) -> tuple[int, str]:
        stderr = Path(args[0]).parent / f"crash-{time.monotonic_ns()}.stderr"
        proc.stdin.write(json.dumps([name, list(args), str(stderr)]) + "\n")
        proc.stdin.flush()
        code = reply()
        return int(code), stderr.read_text() if stderr.exists() else ""

    try:
        assert reply() == "ready"
        yield run
    finally:
        proc.stdin.close()
        proc.wait(30)
        proc.stdout.close()


@pytest.mark.parametrize("step", ["written", "journaled", "renamed", "deleting", "deleted"])
@pytest.mark.parametrize("recover_with", ["load", "compact", "logger"])
def test_a_compaction_killed_at_any_step_is_completed_or_rolled_back(tmp_path, step, recover_with, two_days, crash) -> None:
    out = tmp_path / "log"
    n = two_days(out)
    code, stderr = crash("compaction_killed_at", str(out), step)
    assert code == 3, stderr
    if step in ("renamed", "deleting"):
        assert duck_count(out) > n  # what a reader without e2ckit sees until the next e2ckit command
    if recover_with == "load":
        assert len(load(out)) == n
    elif recover_with == "compact":
        compact(out, before="2026-01-03")
        assert len(parts(out)) == 6
    else:  # a logger started on the directory settles it before its first cycle
        clock = SimClock(start=DEFAULT_EPOCH + 3 * 86400, rate=None)
        with SimulatedArray(["DV01"], seed=3, clock=clock, latency=0.0) as sim:
            n += Logger("FEMC.TEMP0", array=sim, path=out, clock=clock).run(cycles=1).samples_written
    once(out, n)
    assert not (out / ".e2ckit").exists() or not any((out / ".e2ckit").rglob("*.tmp"))
    compact(out, before="2026-01-03")  # and a later compaction finishes the job
    once(out, n)
    assert len(list((out / "date=2026-01-01").rglob("*.parquet")) + list((out / "date=2026-01-02").rglob("*.parquet"))) == 6


def test_leftover_temporary_files_are_cleaned_up(sim, clock, tmp_path) -> None:
    Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock).run(cycles=1)
    d = parts(tmp_path)[0].parent
    (d / ".part-old-crash.parquet.tmp").write_bytes(b"PAR1 half")  # an older e2ckit's leftover
    tmp = tmp_path / ".e2ckit" / "tmp"
    tmp.mkdir(parents=True)
    (tmp / "part-x.parquet.123.tmp").write_bytes(b"PAR1 half")
    clock.advance(60)
    Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock).run(cycles=1)
    assert not tmp.exists()
    compact(tmp_path, before="2100-01-01")
    assert not (d / ".part-old-crash.parquet.tmp").exists()
    once(tmp_path, 2 * len(ANTS))


# -- 13.6: a full disk loses nothing that fits in memory -----------------------------------------


class FullDisk:
    """``open`` for the store and the write-ahead segment whose files fail every write
    with ENOSPC while ``full`` (the bytes before the failure reach the disk, as they do)."""

    def __init__(self) -> None:
        self.full = False
        self.failed = 0

    def open(self, file, mode="r", *args, **kwargs):
        f = open(file, mode, *args, **kwargs)  # noqa: SIM115
        return _File(f, self) if "r" not in mode else f


class _File:
    def __init__(self, f, disk: FullDisk) -> None:
        self._f, self._disk = f, disk

    def write(self, data):
        if self._disk.full:
            self._disk.failed += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def test_a_full_disk_keeps_sampling_says_so_and_writes_the_backlog_when_space_returns(sim, clock, tmp_path, monkeypatch, capfd) -> None:
    disk = FullDisk()
    monkeypatch.setattr(store_mod, "open", disk.open, raising=False)
    monkeypatch.setattr(wal_writer, "open", disk.open, raising=False)
    per = 3 * NC
    log = Logger("cryo", array=sim, interval=1, path=tmp_path, clock=clock, flush_rows=1, flush_every=1e-6)
    for _ in range(2):
        log.step()
    assert log.status.samples_written == 2 * per and log.status.write_error is None
    disk.full = True
    for k in range(5):
        assert log.step() == per  # still sampling
        st = log.status
        assert "no space left" in st.write_error and st.samples_buffered == (k + 1) * per
        assert "WRITE FAILING" in st.line()
    assert disk.failed >= 5
    err = capfd.readouterr().err
    assert err.count("no space left on the device") == 1, err  # said once, not every retry
    assert "holding" in err and "retrying" in err
    disk.full = False  # space returns
    log.step()
    st = log.status
    assert st.write_error is None and st.samples_buffered == 0 and st.samples_written == 8 * per
    assert "written again" in capfd.readouterr().err
    log.stop()
    once(tmp_path, 8 * per)


def test_stop_at_the_bound_drops_only_what_the_disk_did_not_take(sim, clock, tmp_path, monkeypatch) -> None:
    """The disk fills up for good: the logger stops at max_backlog and says how many
    samples it dropped; the segment kept what it wrote before the disk filled."""
    disk = FullDisk()
    monkeypatch.setattr(store_mod, "open", disk.open, raising=False)
    monkeypatch.setattr(wal_writer, "open", disk.open, raising=False)
    per = 3 * NC
    log = Logger("cryo", array=sim, interval=1, path=tmp_path, clock=clock, flush_every=1e9, max_backlog=4 * per)
    log.step()
    log.step()  # two cycles in the segment, none in a part
    disk.full = True
    with pytest.raises(LogWriteError, match=f"max_backlog={4 * per}"):
        log.run(cycles=10)
    assert log.status.cycles == 4 and log.status.samples_buffered == 4 * per
    with pytest.raises(LogWriteError, match=f"{4 * per} samples not written and dropped"):
        log.stop()
    assert log.status.samples_dropped == 4 * per
    disk.full = False
    once(tmp_path, 2 * per)  # the two cycles the segment took before the disk filled


# -- 13.7: foreign files are skipped, not merged ---------------------------------------------


def _foreign(d: Path) -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    other = pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    files = [d / "part-foreign.parquet", d / "notes.parquet", d / "part-text.parquet"]
    pq.write_table(other, files[0])
    pq.write_table(other, files[1])
    files[2].write_text("not parquet")
    return files


def test_foreign_files_are_skipped_with_a_warning_naming_them(sim, clock, tmp_path) -> None:
    Logger("cryo", array=sim, path=tmp_path, clock=clock, flush_rows=NC).run(cycles=3)
    d = parts(tmp_path)[0].parent
    foreign = _foreign(d)
    with pytest.warns(UnreadableFileWarning) as record:
        df = load(tmp_path)
    text = " ".join(str(w.message) for w in record)
    assert all(f.name in text for f in foreign)
    assert len(df) == 3 * 3 * NC and df.time.notna().all() and df.point.notna().all()
    with pytest.warns(UnreadableFileWarning) as record:
        compact(tmp_path, before="2100-01-01")
    text = " ".join(str(w.message) for w in record)
    assert all(f.name in text for f in foreign)
    assert all(f.exists() for f in foreign)  # left alone
    with pytest.warns(UnreadableFileWarning):
        assert len(load(tmp_path)) == 3 * 3 * NC


def test_compact_over_only_foreign_files_does_not_crash(tmp_path) -> None:
    foreign = _foreign(tmp_path / "date=2026-01-01" / "antenna=DV01")
    with pytest.warns(UnreadableFileWarning):
        assert [r.file for r in compact(tmp_path, before="2100-01-01")] == [None]
    r = subprocess.run(
        [sys.executable, "-m", "e2ckit.cli", "log", "compact", str(tmp_path), "--before", "2100-01-01"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0 and "Traceback" not in r.stderr and foreign[0].name in r.stderr
    assert "compacted 0 of 1" in r.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load(tmp_path).empty


# -- 13.8: impossible node ids in a listing ----------------------------------------------------


class FakeE2C:
    """A tiny E2C on loopback whose channel-0 node listing reports ``nodes`` (some of
    them impossible); monitor requests answer AMBIENT_TEMP = 21.5 °C."""

    def __init__(self, nodes: list[int]) -> None:
        self.nodes = nodes
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked: list[tuple[int, int]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        cat = default_catalog()
        with conn:
            buf = b""
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while len(buf) >= 18:
                    req, buf = Request.decode(buf[:18]), buf[18:]
                    if req.mode == 2:
                        found = self.nodes if req.channel == 0 else []
                        reply = Reply(nodes=tuple(NodeRecord(n, bytes(8)) for n in found))
                    else:
                        self.asked.append((req.channel, req.node))
                        reply = Reply(data=cat.node_point("AMBIENT_TEMP", req.channel, req.node).encode(21.5))
                    conn.sendall(reply.encode())

    def close(self) -> None:
        self.sock.close()


def test_impossible_node_ids_get_an_error_row_and_the_rest_is_logged(tmp_path) -> None:
    fake = FakeE2C([0x13, 0x7FF, 0xFFFFFFFF, 0x40])
    try:
        arr = Array([Endpoint("DV01", "127.0.0.1", fake.port)])
        st = Logger("temps", array=arr, interval=60, path=tmp_path, clock=SimClock(rate=None), timeout=2).run(cycles=2)
    finally:
        fake.close()
    df = load(tmp_path)
    assert sorted(set(fake.asked)) == [(0, 0x13), (0, 0x40)]  # the impossible ones were never asked
    good = df[df.error.isna()]
    assert len(good) == 2 * 2 and (good.value.round(3) == 21.5).all()
    bad = df[df.error.notna()]
    assert sorted(set(bad.point)) == ["(node 0x7ff on channel 0)", "(node 0xffffffff on channel 0)"]
    assert bad.error.str.contains("which no CAN id can address").all() and len(bad) == 2 * 2
    assert st.errors == 4 and st.antennas["DV01"].state == "partial"


def test_cli_log_temps_with_impossible_node_ids_does_not_crash(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from e2ckit.cli import app

    fake = FakeE2C([0x7FF, 0x13])
    try:
        csv = tmp_path / "array.csv"
        csv.write_text(f"antenna,host,port\nDV01,127.0.0.1,{fake.port}\n")
        monkeypatch.setenv("E2CKIT_ARRAY", str(csv))
        out = tmp_path / "log"
        res = CliRunner().invoke(app, ["log", "temps", "--interval", "0.1", "--duration", "0.25", "--out", str(out)])
    finally:
        fake.close()
    assert res.exit_code == 0, res.output
    df = load(out)
    assert set(df.point) == {"(node 0x7ff on channel 0)", "FEMC[0:0x13].AMBIENT_TEMP"}
    assert df[df.point.str.startswith("(node")].error.notna().all() and df[df.error.isna()].value.notna().all()


def test_cli_log_on_a_directory_another_writer_holds_exits_1_with_one_line(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from e2ckit.cli import app

    with SimulatedArray(["DV01"], seed=4, latency=0.0) as sim:
        monkeypatch.setenv("E2CKIT_ARRAY", str(sim.write_array(tmp_path / "array.csv")))
        out = tmp_path / "log"
        with DatasetLock(out, "e2ckit log compact"):
            res = CliRunner().invoke(app, ["log", "cryo", "--duration", "0.1", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert f"pid {os.getpid()}" in res.output and "(e2ckit log compact)" in res.output
    assert "Traceback" not in res.output and not parts(out)


def test_a_logger_killed_in_the_middle_of_a_flush_loses_nothing_and_duplicates_nothing(tmp_path, crash) -> None:
    out = tmp_path / "log"
    code, stderr = crash("logger_killed_in_its_first_flush", str(out))
    assert code == 3, stderr
    assert len(parts(out)) == 1 and len(wal_mod.segments(out)) == 1
    assert duck_count(out) == 3 * NC  # one antenna's three cycles: the part written before the crash
    once(out, 3 * 3 * NC)  # load() replays the other partitions, skips the one written
    assert len(parts(out)) == 3 and not wal_mod.segments(out)
