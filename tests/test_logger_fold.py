"""Issue 26, many small parts: a logger folds its small parts as it goes (16 files of a
level become one of the next), and every acknowledged row stays exactly once — for a
reader during a fold, a reader between its segments and its listing, a fold killed at
any step, a replay after a fold, and a logger writing while readers read."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from e2ckit.clock import SimClock
from e2ckit.dataset import load
from e2ckit.dataset import loader as loader_mod
from e2ckit.logformat import segments as wal_mod
from e2ckit.logformat.schema import WAL_SCHEMA, span
from e2ckit.logger import Logger, UnreadableFileWarning, compact
from e2ckit.logger.fold import FANOUT
from e2ckit.logger.store import Store
from e2ckit.sim import SimulatedArray

DAY = "2026-01-05"
T0_US = 1767571200_000000  # 2026-01-05T00:00Z


def _files(d: Path) -> list[str]:
    return sorted(n for n in os.listdir(d) if n.endswith(".parquet"))


def _batch(k: int, antenna: str = "DV01") -> pa.RecordBatch:
    """Cycle ``k``'s one row (a point of one antenna), as the logger's backlog holds it."""
    t = pa.table({
        "antenna": [antenna], "time": pa.array([T0_US + k * 1_000_000], pa.timestamp("us", tz="UTC")),
        "point": ["FEMC.TEMP0"], "value": [float(k)], "unit": ["K"], "status": ["ok"], "error": [None],
        "latency_100us": pa.array([12], pa.uint16()), "raw": pa.array([None], pa.binary()),
    })  # fmt: skip
    return t.cast(WAL_SCHEMA).to_batches()[0]


def _flushed(root: Path, n: int, session: str = "s1", fold: bool = True) -> Store:
    """A store that appended and flushed ``n`` one-row cycles (a logger flushing every
    cycle; ``fold=False``: one that does not fold, as an older e2ckit)."""
    store = Store(root, session, "flush")
    if not fold:
        store.folder = None
    for k in range(n):
        store.append(_batch(k))
        store.flush()
    if store.folder is not None:
        store.folder.close()  # the folds' deletions done (a logger waits so when it stops)
    return store


def _once(df, n: int) -> None:
    assert len(df) == n
    assert not df.duplicated(["time", "antenna", "point"]).any()


def _quiet_load(root: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadableFileWarning)  # no damage is ever reported
        return load(root, **kw)


@pytest.fixture
def stepped():
    clock = SimClock(start=T0_US / 1e6, rate=None)
    with SimulatedArray(["DV01", "CM01"], seed=4, clock=clock, latency=0.0, serve=False) as sim:
        yield sim, clock


def test_a_logger_flushing_every_cycle_keeps_a_few_files_and_every_row_once(stepped, tmp_path) -> None:
    sim, clock = stepped
    st = Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock, flush_rows=1).run(cycles=300)
    assert st.samples_written == 600 and st.files >= 600  # a part per antenna per cycle was written
    for d in tmp_path.glob("date=*/antenna=*"):
        names = _files(d)
        levels = sorted({span(n)[3] for n in names})  # type: ignore[index]
        assert len(names) < 2 * FANOUT, names  # 300 parts: one fold of 256, two of 16, twelve parts
        assert levels == [0, 1, 2]
    df = _quiet_load(tmp_path)
    _once(df, 600)
    assert df["time"].nunique() == 300


def test_a_reader_between_its_segments_and_its_listing_while_a_flush_folds_twice_counts_each_row_once(
    tmp_path, monkeypatch
) -> None:
    """The reader reads the segment of cycle 256, then the logger flushes it (part 256,
    segment deleted) and folds it twice over (into a fold of 16, then one of 256), then
    the reader lists: the fold's span says the segment's rows are in it."""
    store = _flushed(tmp_path, FANOUT * FANOUT - 1)
    store.append(_batch(FANOUT * FANOUT - 1))  # in the segment only
    real = loader_mod.part_files
    flushed = []

    def flush_then_list(d: Path) -> list[Path]:
        if not flushed:
            flushed.append(store.flush())
            store.folder.close()  # type: ignore[union-attr]
        return real(d)

    monkeypatch.setattr(loader_mod, "part_files", flush_then_list)
    df = _quiet_load(tmp_path)
    assert flushed == [1] and not wal_mod.segments(tmp_path)
    assert [span(n)[1:] for n in _files(tmp_path / f"date={DAY}" / "antenna=DV01")] == [(1, 256, 2)]  # type: ignore[index]
    _once(df, FANOUT * FANOUT)


def test_a_listing_that_saw_the_inputs_of_a_fold_lists_again(tmp_path, monkeypatch) -> None:
    store = _flushed(tmp_path, FANOUT - 1)
    store.append(_batch(FANOUT - 1))
    real = loader_mod.part_files
    listed = []

    def list_then_fold(d: Path) -> list[Path]:
        found = real(d)
        if not listed:
            listed.append(len(found))
            store.flush()  # the 16th part, then the fold: the 15 listed are gone
            store.folder.close()  # type: ignore[union-attr]
        return found

    monkeypatch.setattr(loader_mod, "part_files", list_then_fold)
    _once(_quiet_load(tmp_path), FANOUT)
    assert listed == [FANOUT - 1]


def test_a_replay_of_a_segment_whose_part_was_folded_adds_nothing(tmp_path) -> None:
    store = Store(tmp_path, "s1", "flush")
    store.append(_batch(0))
    saved = wal_mod.segments(tmp_path)[0]
    data = saved.read_bytes()
    store.flush()
    for k in range(1, FANOUT):
        store.append(_batch(k))
        store.flush()
    store.folder.close()  # type: ignore[union-attr]
    d = tmp_path / f"date={DAY}" / "antenna=DV01"
    assert len(_files(d)) == 1  # folded: part 1 is in the fold only
    saved.write_bytes(data)  # the segment of cycle 0 comes back (a crash before its deletion)
    _once(_quiet_load(tmp_path), FANOUT)  # a reader counts it once
    compact(tmp_path, before="2000-01-01")  # the next writer replays it: nothing to write
    assert not wal_mod.segments(tmp_path) and len(_files(d)) == 1
    _once(_quiet_load(tmp_path), FANOUT)


_CRASH = """
import os, sys
from pathlib import Path
from e2ckit.logger import fold
def crash(step):
    if step == sys.argv[2]:
        os._exit(3)  # no cleanup, no finally: as a power cut or SIGKILL
fold._step = crash
fold.fold_partition(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("step", ["written", "renamed", "deleting"])
@pytest.mark.parametrize("settle", ["load", "compact", "logger"])
def test_a_fold_killed_at_any_step_leaves_every_row_once(tmp_path, step, settle) -> None:
    _flushed(tmp_path, FANOUT, fold=False)
    d = tmp_path / f"date={DAY}" / "antenna=DV01"
    assert len(_files(d)) == FANOUT
    r = subprocess.run([sys.executable, "-c", _CRASH, str(d), step], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    if step != "written":
        assert len(_files(d)) > 1 and any(span(n)[3] == 1 for n in _files(d))  # type: ignore[index]
    _once(_quiet_load(tmp_path), FANOUT)  # a reader reads around it
    if settle == "compact":
        compact(tmp_path, before="2000-01-01")  # a day still open: folded, leftovers settled
    elif settle == "logger":  # the next logger writing the partition settles it at its first flush
        store = Store(tmp_path, "s2", "flush")
        store.append(_batch(FANOUT))
        store.flush()
        store.close()
    names = _files(d)
    if settle != "load":
        assert [span(n)[3] for n in names if span(n)[0] == "s1"] == [1], names  # type: ignore[index]
        assert not [n for n in os.listdir(d) if n.startswith(".")]
    _once(_quiet_load(tmp_path), FANOUT + (settle == "logger"))


def test_loads_while_a_logger_writes_and_folds_see_every_acknowledged_row_exactly_once(stepped, tmp_path) -> None:
    """A reader loading again and again while a logger flushing every cycle writes and
    folds (a fold every 16 cycles, one of 256 at cycle 256): each load holds every cycle
    acknowledged before it began, whole, and no row twice."""
    sim, clock = stepped
    log = Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock, flush_rows=1)
    log.step()
    done = threading.Event()
    seen: list[tuple[int, object]] = []
    errors: list[BaseException] = []

    def reading() -> None:
        try:
            while not done.is_set() or len(seen) < 20:
                acked = log.status.cycles
                seen.append((acked, _quiet_load(tmp_path)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=reading)
    t.start()
    try:
        for _ in range(299):
            log.step()
    finally:
        done.set()
        t.join()
    log.stop()
    assert not errors, errors
    final = _quiet_load(tmp_path)
    _once(final, 600)
    cycles = sorted(final["time"].unique())
    assert len(seen) >= 20
    for acked, df in seen:
        assert not df.duplicated(["time", "antenna", "point"]).any()
        per_cycle = df.groupby("time").size()
        assert set(df["time"]) <= set(cycles), "a row that was never written"
        # every acknowledged cycle whole (a cycle flushed during the load may show in part)
        assert per_cycle.reindex(cycles[:acked]).eq(2).all(), f"a load missed an acknowledged row ({acked})"


_KILLED_WHILE_FOLDING = """
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_logger_fold import _batch
from e2ckit.logger import fold
from e2ckit.logger.store import Store
def crash(step):
    if step == sys.argv[2]:
        os._exit(3)  # the folding thread kills the process: no cleanup, as a SIGKILL
fold._step = crash
store = Store(Path(sys.argv[1]), "s1", "cycle")
for k in range(10_000):
    store.append(_batch(k))  # in the segment (fsynced): acknowledged
    print(k, flush=True)
    store.flush()
"""


@pytest.mark.parametrize("step", ["written", "renamed", "deleting"])
def test_a_logger_killed_while_folding_loses_no_acknowledged_row_and_duplicates_none(tmp_path, step) -> None:
    """A logger flushing every cycle, killed by its folding thread at a step of its
    first fold (while the cycle thread appends and flushes): every cycle it
    acknowledged is read once, before and after the next writer settles it."""
    out = tmp_path / "log"
    r = subprocess.run([sys.executable, "-c", _KILLED_WHILE_FOLDING, str(out), step, str(Path(__file__).parent)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 3, r.stderr
    acked = int(r.stdout.split()[-1]) + 1
    assert acked >= FANOUT  # the first fold began after the 16th flush
    for settled in (False, True):
        if settled:
            compact(out, before="2000-01-01")  # the next writer: replays, folds, deletes leftovers
        df = _quiet_load(out)
        assert not df.duplicated(["time", "antenna", "point"]).any()
        assert acked <= len(df) <= acked + 1  # the cycle in progress at the kill may be there
        assert df["value"].tolist() == [float(k) for k in range(len(df))]
    d = out / f"date={DAY}" / "antenna=DV01"
    assert not [n for n in os.listdir(d) if n.startswith(".")] and not wal_mod.segments(out)
