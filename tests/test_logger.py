"""The logger and load(): against the simulator over loopback, with simulated clocks.

Guards what an overnight log must give: the values the antennas served, on a grid
that does not drift, files no reader can catch half-written, nothing lost but the
last flush on SIGKILL, appends on restart, compaction that neither loses nor
duplicates a row, and a dataset other tools (DuckDB, pyarrow, Polars) read as is.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import e2ckit
from e2ckit.catalog import default_catalog
from e2ckit.clock import DEFAULT_EPOCH, SimClock
from e2ckit.dataset import load
from e2ckit.errors import ValidationError
from e2ckit.logger import (
    FILE_SCHEMA,
    LOAD_COLUMNS,
    SCHEMA_VERSION,
    Logger,
    LogWriteError,
    UnreadableFileWarning,
    _Buffer,
    compact,
)
from e2ckit.logger import compaction as compaction_mod
from e2ckit.logger import cycle as cycle_mod
from e2ckit.logger import fsio as store_mod
from e2ckit.sim import SimulatedArray

ANTS = ["DV01", "CM03", "DA41"]
# conftest's `sim`: these antennas in memory, a new array on the test's own stepped `clock`
pytestmark = pytest.mark.sim_array(ANTS, seed=7, latency=0.0, serve=False, per_test=True)
CRYO = [p.name for p in default_catalog().resolve("cryo")]
NC = len(CRYO)  # points per antenna in "cryo"
NB = NC + len(default_catalog().resolve("cmpr"))  # ... in "cryo" + "cmpr"


def parts(path: Path) -> list[Path]:
    return sorted(path.rglob("part-*.parquet"))


def hidden(path: Path) -> list[Path]:
    """Hidden files, and files being written (in ``.e2ckit/tmp``)."""
    tmp = sorted(p for p in (path / ".e2ckit" / "tmp").rglob("*") if p.is_file())
    return sorted(p for p in path.rglob(".*") if p.is_file()) + tmp


# -- what is logged ------------------------------------------------------------------------------


def test_logged_values_equal_what_the_simulator_serves(sim, clock, tmp_path) -> None:
    log = Logger(["cryo", "cmpr"], array=sim, interval=60, path=tmp_path, clock=clock)
    log.run(cycles=3)
    df = load(tmp_path, columns=LOAD_COLUMNS)  # every column, even the empty ones
    assert list(df.columns) == LOAD_COLUMNS
    assert len(df) == 3 * len(ANTS) * NB
    # by default raw only comes when some row has one (#16); error is always there, None
    # for a reading that did not fail (as in a sweep)
    assert df.error.isna().all() and df.raw.notna().any()
    plain = load(tmp_path)
    assert list(plain.columns) == LOAD_COLUMNS and plain["error"].isna().all()
    assert all(str(plain[c].dtype) == "category" for c in ("antenna", "point", "unit", "status"))
    # the clock stands at the last cycle's time: a sweep now sees the same values
    sweep = e2ckit.sweep(["cryo", "cmpr"], array=sim, tidy=True)
    last = df[df.time == df.time.max()].set_index(["antenna", "point"])
    for row in sweep[~sweep.point.isin(default_catalog().derived)].itertuples():  # points, not conditions
        got = last.loc[(row.antenna, row.point)]
        if pd.isna(row.value):
            assert pd.isna(got.value)
            assert got.raw == row.raw  # raw kept exactly where no value decodes
        else:
            assert got.value == row.value
            assert got.raw is None
        assert got.unit == row.unit and got.status == row.status
    assert str(df.time.dt.tz) == "UTC"
    assert df.value.dtype == "float64" and df.latency_ms.dtype == "float64"
    assert (df.latency_ms.dropna() >= 0).all()
    assert df.error.isna().all()


def test_points_sharing_one_reply_are_asked_once_and_logged_each(sim, clock, tmp_path) -> None:
    """LORR status bits and the two ACU temperatures are fields of shared replies: one
    request per reply, one row per point, each with the value a sweep decodes."""
    what = ["lorr", "ACU.CABIN_TEMP", "ACU.PEDESTAL_TEMP"]
    n_points = len(default_catalog().resolve(what))
    log = Logger(what, array=sim, interval=60, path=tmp_path, clock=clock)
    before = sim.requests_served()
    log.run(cycles=2)
    asked = sim.requests_served() - before
    df = load(tmp_path)
    assert len(df) == 2 * len(ANTS) * n_points
    assert asked == 2 * len(ANTS) * (n_points - 6 - 1), "7 LORR status points share one reply, 2 ACU points another"
    sweep = e2ckit.sweep(what, array=sim, tidy=True)
    last = df[df.time == df.time.max()].set_index(["antenna", "point"])
    assert sweep["error"].isna().all()
    for row in sweep.itertuples():
        assert last.loc[(row.antenna, row.point)].value == row.value, (row.antenna, row.point)


def test_connections_are_kept_between_cycles_and_replaced_when_the_e2c_drops_them(sim, clock, tmp_path) -> None:
    """A cycle a second must not cost a TCP handshake per antenna: the logger keeps its
    connections. One the E2C resets between cycles is replaced without an error row."""
    log = Logger("FEMC.TEMP0", array=sim, interval=60, path=tmp_path, clock=clock)
    before = {a: sim.connections_accepted(a) for a in ANTS}
    for _ in range(3):
        log.step()
    assert {a: sim.connections_accepted(a) - before[a] for a in ANTS} == dict.fromkeys(ANTS, 1)
    sim.fault("DV01", "down")  # resets DV01's connections...
    sim.clear_faults("DV01")  # ... and it listens again before the next cycle
    log.step()
    assert sim.connections_accepted("DV01") - before["DV01"] == 2
    assert sim.connections_accepted("CM03") - before["CM03"] == 1
    log.stop()
    assert len(log._pool) == 0, "connections closed when logging stops"
    df = load(tmp_path)
    assert len(df) == 4 * len(ANTS) and df["error"].isna().all(), df[df["error"].notna()]


def test_time_axis_is_the_clock_grid(sim, clock, tmp_path) -> None:
    log = Logger("cryo", "DV01", array=sim, interval=60, path=tmp_path, clock=clock)
    log.run(cycles=5)
    times = sorted(load(tmp_path).time.unique())
    expected = [pd.Timestamp(DEFAULT_EPOCH + 60 * k, unit="s", tz="UTC") for k in range(5)]
    assert times == expected
    assert clock.now() == DEFAULT_EPOCH + 240  # the logger drove the stepped clock


class _LateClock(SimClock):
    """A stepped clock whose timer wakes late: each advance overshoots by the next delay."""

    def __init__(self, start: float, delays: list[float]) -> None:
        super().__init__(start=start, rate=None)
        self.delays = list(delays)

    def advance(self, seconds: float) -> float:
        return super().advance(seconds + (self.delays.pop(0) if self.delays else 0.0))


def test_cycles_are_stamped_on_the_grid_unless_they_start_late(sim, tmp_path) -> None:
    """A cycle that starts within a tenth of an interval after its slot carries the slot's
    time (exact µs steps: the compacted time column is constant deltas); a later one
    carries its actual start and is counted."""
    start = DEFAULT_EPOCH + 0.1234567  # an anchor that is not a whole µs
    late = _LateClock(start, [0.0002, 0.09, 0.35, 0.001, 0.0])
    log = Logger("FEMC.TEMP0", "DV01", array=sim, interval=1.0, path=tmp_path, clock=late)
    log.run(cycles=6)
    us = load(tmp_path).time.dt.as_unit("us").astype("int64").to_numpy()
    t0 = round(start * 1e6)
    on_grid = [0, 1, 2, 4, 5]
    assert [us[k] for k in on_grid] == [t0 + k * 1_000_000 for k in on_grid]
    assert abs(us[3] - (t0 + 3_350_000)) <= 1  # its actual start (to the clock's float µs)
    assert log.status.late_starts == 1
    assert "  late      1 cycles started late, stamped with their actual start" in str(log.status).splitlines()


def test_fast_cycles_keep_exact_steps_on_a_long_grid(sim, tmp_path) -> None:
    """10 Hz for five simulated minutes with wake-up delays under a ms: every step is exactly
    100,000 µs (whole µs from the anchor, no float drift)."""
    import numpy as np

    delays = list(np.random.default_rng(3).uniform(0, 0.001, 3_000))
    late = _LateClock(DEFAULT_EPOCH + 1 / 3, delays)
    log = Logger("FEMC.TEMP0", "DV01", array=sim, interval=0.1, path=tmp_path, clock=late, flush_rows=1_000_000)
    log.run(cycles=3_000)
    us = load(tmp_path).time.dt.as_unit("us").astype("int64").to_numpy()
    assert len(us) == 3_000 and set(np.diff(us)) == {100_000}
    assert log.status.late_starts == 0


def test_accelerated_outage_gives_a_two_day_time_axis(tmp_path) -> None:
    clock = SimClock(rate=None)
    sim = SimulatedArray(["DV01", "DV02"], seed=1, clock=clock, latency=0.0)
    sim.apply_scenario("outage")  # (scenario= in the constructor trips over a server bug)
    with sim:
        # from now on 20 simulated hours per real second (2.4 s for two days): a 900 s slot
        # is 12.5 ms, and ~180 of the 192 slots run here (36,000x: 4.8 s, ~187 run)
        clock.set_rate(72_000)
        log = Logger(
            ["FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE"],
            array=sim,
            interval=900,
            path=tmp_path,
            clock=clock,
        )
        log.run(duration=2 * 86400)
    df = load(tmp_path)
    span = df.time.max() - df.time.min()
    assert pd.Timedelta(hours=40) < span < pd.Timedelta(days=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["date=2026-01-01", "date=2026-01-02"]
    # DV01 lost power 30 min in, for 3 h: error rows while down, readings before and after
    dv01 = df[df.antenna == "DV01"]
    down = dv01[dv01.error.notna()]
    assert len(down) > 0
    # (a cycle is stamped with its start; at 72,000x its sweep spans simulated minutes,
    # more on a loaded machine: one slot of slack either side)
    assert down.time.min() >= pd.Timestamp(DEFAULT_EPOCH + 1800 - 1800, unit="s", tz="UTC")
    assert down.time.max() <= pd.Timestamp(DEFAULT_EPOCH + 1800 + 3 * 3600 + 900, unit="s", tz="UTC")
    assert dv01[dv01.time > down.time.max()].error.isna().all()
    st = log.status
    assert st.cycles > 50 and st.cycles + st.skipped >= 190  # every slot ran or was skipped


def test_file_layout_schema_and_encodings(sim, clock, tmp_path) -> None:
    log = Logger(["cryo", "cmpr"], array=sim, interval=1, path=tmp_path, clock=clock, flush_rows=400)
    log.run(cycles=20)
    files = parts(tmp_path)
    assert files and not hidden(tmp_path)
    assert {f.parent.name for f in files} == {f"antenna={a}" for a in ANTS}
    assert {f.parent.parent.name for f in files} == {"date=2026-01-01"}
    for f in files:
        pf = pq.ParquetFile(f)
        assert pf.schema_arrow.remove_metadata() == FILE_SCHEMA.remove_metadata()
        assert pf.schema_arrow.metadata[b"e2ckit.schema_version"] == str(SCHEMA_VERSION).encode()
        col = pf.metadata.row_group(0).column
        assert all(col(i).compression == "ZSTD" for i in range(pf.metadata.num_columns))
        assert "BYTE_STREAM_SPLIT" in col(FILE_SCHEMA.get_field_index("value")).encodings
        assert any("DICTIONARY" in e for e in col(FILE_SCHEMA.get_field_index("point")).encodings)
        t = pf.read()
        # raw bytes only where there is no value
        raw_set = pa.compute.is_valid(t["raw"]).to_pylist()
        val_null = pa.compute.is_null(t["value"]).to_pylist()
        assert all(v for r, v in zip(raw_set, val_null, strict=True) if r)
    assert log.status.files == len(files)


def test_latency_is_stored_in_tenth_of_a_millisecond_steps_and_saturates() -> None:
    b = _Buffer()
    b.latency = [None, 0.00123, 0.0, 0.00126, 9.5]
    n = len(b.latency)
    b.time, b.point, b.value = [0] * n, ["P"] * n, [1.0] * n
    b.unit, b.status, b.error, b.raw = ["K"] * n, ["ok"] * n, [None] * n, [None] * n
    assert b.table()["latency_100us"].to_pylist() == [None, 12, 0, 13, 65535]


def test_status_counts_and_health(sim, clock, tmp_path) -> None:
    sim.fault("CM03", "down")
    log = Logger("cryo", array=sim, interval=1, path=tmp_path, clock=clock)
    st = log.run(cycles=4)
    assert st.cycles == 4 and st.samples == st.samples_written == 4 * 3 * NC
    assert st.errors == 4 * NC and st["overruns"] == 0 and not st.running
    assert st.antennas["CM03"].state == "down" and st.antennas["CM03"].failures == 4
    assert "refused" in st.antennas["CM03"].last_error
    assert st.antennas["DV01"].state == "ok"
    assert "1 down (CM03)" in st.line()
    assert st.as_dict()["antennas"]["CM03"]["error_rows"] == 4 * NC


def test_dynamic_group_logs_each_node_present_and_one_row_for_a_failed_listing(sim, clock, tmp_path) -> None:
    """``temps`` is expanded per antenna from its node listing: one row per node found,
    with the value a sweep decodes; an antenna that cannot list its nodes logs one
    error row for the listing instead."""
    sim.fault("CM03", "down")
    log = Logger("temps", array=sim, interval=60, path=tmp_path, clock=clock)
    st = log.run(cycles=2)
    df = load(tmp_path)
    live = df[df.antenna != "CM03"]
    sweep = e2ckit.sweep("temps", antennas=["DV01", "DA41"], array=sim, tidy=True)
    last = live[live.time == live.time.max()].set_index(["antenna", "point"]).sort_index()
    assert len(last) == len(sweep) > 2 * 5
    for row in sweep.itertuples():
        assert last.loc[(row.antenna, row.point)].value == row.value
    assert live.error.isna().all() and live.value.notna().all()
    cm = df[df.antenna == "CM03"]
    assert list(cm.point) == ["(node listing)"] * 2 and cm.value.isna().all()
    assert cm.error.str.startswith("refused: ").all()
    assert st.errors == 2 and st.antennas["CM03"].state == "down"


def test_dead_antenna_logs_error_rows_and_is_picked_up_again(sim, clock, tmp_path) -> None:
    log = Logger("cryo", ["DV01", "DA41"], array=sim, interval=10, path=tmp_path, clock=clock)
    log.run(cycles=2)
    sim.fault("DA41", "down")
    log.run(cycles=3)
    assert log.status.antennas["DA41"].state == "down"
    sim.clear_faults("DA41")
    log.run(cycles=2)
    assert log.status.antennas["DA41"].state == "ok"
    da = load(tmp_path, antennas="DA41")
    per_cycle = da.groupby("time").error.apply(lambda e: e.notna().all()).tolist()
    assert per_cycle == [False, False, True, True, True, False, False]
    assert da[da.error.notna()].latency_ms.isna().all() and da[da.error.isna()].latency_ms.notna().all()
    assert load(tmp_path, antennas="DV01")["error"].isna().all()  # DV01 never failed
    assert da.time.is_monotonic_increasing and da.time.nunique() == 7  # one grid across runs


def test_silent_antenna_costs_one_deadline_not_an_overrun(sim, tmp_path) -> None:
    sim.fault("CM03", "silent")
    log = Logger("cryo", array=sim, interval=0.5, path=tmp_path, timeout=0.1, deadline=0.3)
    st = log.run(cycles=3)
    assert st.overruns == 0
    assert st.antennas["CM03"].state == "down" and st.antennas["DV01"].state == "ok"
    df = load(tmp_path)
    assert df[df.antenna == "CM03"].error.str.startswith(("timeout", "deadline")).all()


# -- scheduling ------------------------------------------------------------------------------------


def test_grid_does_not_drift_and_overruns_are_counted_not_piled_up(tmp_path, sim) -> None:
    """10,000 cycles whose sweeps take a random share of the interval (sometimes longer):
    every cycle starts exactly on t0 + k·interval, overruns skip slots instead of queueing."""
    clock = SimClock(rate=None)
    log = Logger("FEMC.TEMP0", "DV01", array=sim, interval=2.0, path=tmp_path, clock=clock)
    rng = random.Random(3)
    starts: list[float] = []
    long_ones = 0

    def fake_sweep():
        nonlocal long_ones
        starts.append(clock.now())
        if rng.random() < 0.01:
            long_ones += 1
            clock.advance(2.0 * rng.uniform(1.01, 3.5))  # overrun by 1 to 3 slots
        else:
            clock.advance(2.0 * rng.uniform(0.0, 0.99))
        return {}

    log._sweep = fake_sweep  # type: ignore[method-assign]
    t0 = clock.now()
    log.run(cycles=10_000)
    st = log.status
    slots = [(s - t0) / 2.0 for s in starts]
    assert all(s == int(s) for s in slots)  # exactly on the grid, after 10,000 cycles
    assert all(b > a for a, b in zip(slots, slots[1:], strict=False))
    assert st.overruns == long_ones > 50
    assert int(slots[-1]) == 10_000 - 1 + st.skipped  # every slot either ran or was skipped


def test_real_time_background_logging(sim, tmp_path) -> None:
    # "wall": the system clock, although the array is a simulator with its own clock
    with Logger("cryo", "DV01", array=sim, interval=0.05, path=tmp_path, flush_every=0.1, clock="wall") as log:
        log.start()
        assert log.running
        deadline = time.monotonic() + 20
        while log.status.files < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        st = log.stop()
    assert not st.running and st.cycles >= 2 and st.samples_written == st.samples
    df = load(tmp_path)
    assert len(df) == st.samples
    # each cycle starts on the 50 ms grid of the first one, a little late at most (its
    # wake-up); a drifting schedule would spread these over the whole interval
    t = df.time.drop_duplicates()
    late = ((t - t.iloc[0]).dt.total_seconds() % 0.05).to_numpy()
    late = [x if x < 0.045 else x - 0.05 for x in late]  # a hair early is float rounding
    assert sorted(late)[len(late) // 2] < 0.015


def test_wait_returns_when_background_logging_ends_by_itself(sim, tmp_path) -> None:
    with Logger("FEMC.TEMP0", "DV01", array=sim, interval=0.02, path=tmp_path, clock="wall") as log:
        assert log.wait(0) and log.wait()  # not started: nothing to wait for
        log.start(cycles=3)
        assert log.wait(20) and not log.running
        assert log.status.cycles == 3
        log.start()
        assert not log.wait(0.05) and log.running  # runs until stopped: the timeout ends the wait
        log.stop()
        assert log.wait(0)


def test_background_logger_follows_a_stepped_clock_driven_elsewhere(sim, clock, tmp_path) -> None:
    log = Logger("FEMC.TEMP0", "DV01", array=sim, interval=5, path=tmp_path, clock=clock).start()
    try:
        for k in range(1, 6):
            deadline = time.monotonic() + 10
            while log.status.cycles < k and time.monotonic() < deadline:
                time.sleep(0.002)
            assert log.status.cycles == k
            clock.advance(5)
    finally:
        log.stop()
    times = load(tmp_path).time.tolist()
    assert times == [pd.Timestamp(DEFAULT_EPOCH + 5 * k, unit="s", tz="UTC") for k in range(5)]


def test_works_inside_a_running_event_loop(sim, clock, tmp_path) -> None:
    import asyncio

    async def cell():  # a Jupyter cell runs inside the kernel's loop
        return Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock).run(cycles=2)

    assert asyncio.run(cell()).samples_written == 2 * len(ANTS)


# -- bad input and bad conditions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "what, antennas",
    [("no-such-group", None), (["cryo", "FEMC.NOPE"], None), ("cryo", "XX99"), ([], None)],
)
def test_unknown_names_fail_before_the_first_cycle(sim, tmp_path, what, antennas) -> None:
    before = sim.requests_served()
    with pytest.raises(ValidationError):
        Logger(what, antennas, array=sim, path=tmp_path / "log")
    assert not (tmp_path / "log").exists()
    assert sim.requests_served() == before


def test_bad_arguments(sim, tmp_path) -> None:
    cases = [
        ({"interval": 0}, "interval must be a positive number"),
        ({"interval": "1"}, "interval must be a positive number of seconds, got '1'"),
        ({"flush_every": -1}, "flush_every must be a positive number"),
        ({"flush_rows": 0}, "flush_rows must be a whole number"),
        ({"flush_rows": 1.5}, "flush_rows must be a whole number"),
        ({"concurrency": 0}, "concurrency must be a whole number of antennas"),
        ({"concurrency": 2.0}, "concurrency must be a whole number of antennas"),
        ({"timeout": "x"}, "timeout must be a positive number"),
        ({"clock": object()}, "clock must have a now"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValidationError, match=message):
            Logger("cryo", array=sim, path=tmp_path, **kwargs)
    with pytest.raises(ValidationError, match="what must be a group or point name"):
        Logger(123, array=sim, path=tmp_path)
    log = Logger("cryo", array=sim, path=tmp_path / "limits")
    for kwargs, message in [
        ({"duration": -1}, "duration must be a non-negative number of seconds, got -1"),
        ({"duration": "5"}, "duration must be a non-negative number of seconds, got '5'"),
        ({"duration": float("nan")}, "duration must be a non-negative number"),
        ({"cycles": -1}, "cycles must be a whole number"),
        ({"cycles": 2.5}, "cycles must be a whole number"),
    ]:
        for call in (log.run, log.start):
            with pytest.raises(ValidationError, match=message):
                call(**kwargs)
    assert not log.running and log.status.cycles == 0 and not parts(tmp_path)
    with pytest.raises(ValidationError, match="points must be point or group names"):
        load(tmp_path, points=5)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_no_write_permission_names_the_path(sim, tmp_path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        log = Logger("cryo", array=sim, path=ro / "log")
        with pytest.raises(LogWriteError, match=str(ro)):
            log.run(cycles=1)
        assert sim.requests_served() == 0
    finally:
        ro.chmod(0o700)


def test_permission_denied_names_the_path_even_as_root(sim, tmp_path, monkeypatch) -> None:
    """Root ignores file modes (and CI runs as root): deny the write probe the way the kernel would."""
    import builtins

    real_open = builtins.open

    def deny(file, mode="r", *args, **kwargs):
        if "e2ckit-probe" in str(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(cycle_mod, "open", deny, raising=False)
    log = Logger("cryo", array=sim, path=tmp_path / "log")
    with pytest.raises(LogWriteError, match="(?i)permission") as info:
        log.run(cycles=1)
    assert str(tmp_path / "log") in str(info.value)
    assert sim.requests_served() == 0
    assert not [p for p in (tmp_path / "log").rglob("*") if p.is_file()]


def test_path_that_is_a_file_fails_before_the_first_cycle(sim, tmp_path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    log = Logger("cryo", array=sim, path=f / "log")
    with pytest.raises(LogWriteError, match=str(f)):
        log.run(cycles=1)
    assert sim.requests_served() == 0


def test_full_disk_gives_a_clear_error_and_no_visible_partial_file(sim, clock, tmp_path, monkeypatch) -> None:
    log = Logger("cryo", array=sim, path=tmp_path, clock=clock, flush_rows=10**9)
    log.run(cycles=1)  # one good flush first
    good = parts(tmp_path)
    real_write = store_mod.write_parquet

    def full(table, where, **kw):
        where.write(b"PAR1 half a file")  # bytes hit the disk, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod, "write_parquet", full)
    with pytest.raises(LogWriteError, match="no space left") as info:
        log.run(cycles=2)
    assert str(tmp_path) in str(info.value)
    assert parts(tmp_path) == good and not hidden(tmp_path)
    assert log.status.samples_buffered == 2 * 3 * NC  # kept for a later flush
    assert "no space left" in log.status.failure
    monkeypatch.setattr(store_mod, "write_parquet", real_write)
    log.flush()  # space freed: nothing was lost
    assert len(load(tmp_path)) == 3 * 3 * NC


def test_background_logger_stops_at_the_backlog_bound_and_says_what_it_dropped(sim, clock, tmp_path, monkeypatch) -> None:
    def full(table, where, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod, "write_parquet", full)
    bound = 3 * len(ANTS)  # three cycles
    log = Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock, flush_rows=1, max_backlog=bound).start()
    deadline = time.monotonic() + 20
    while log.running and time.monotonic() < deadline:
        clock.advance(1)  # a stepped clock: the background logger waits for it
        time.sleep(0.005)
    st = log.status
    assert not st.running and "no space left" in st.failure and f"max_backlog={bound}" in st.failure
    assert st.cycles == 3 and st.samples_buffered == bound and "no space left" in st.write_error
    with pytest.raises(LogWriteError, match=f"{bound} samples not written and dropped"):
        log.stop()
    assert log.status.samples_dropped == bound and log.status.samples_buffered == 0
    assert not parts(tmp_path) and not hidden(tmp_path)


# -- crash safety and restarts --------------------------------------------------------------------


_ENDS_WITHOUT_STOP = """
import sys, time
from e2ckit.logger import Logger
from e2ckit.sim import SimulatedArray
sim = SimulatedArray(["DV01", "CM03"], seed=5, latency=0.0).start()
log = Logger("cryo", array=sim, interval=0.02, path=sys.argv[1], flush_every=1e9, flush_rows=10**9)
log.start()
end = time.monotonic() + 30
while log.status.cycles < 3 and time.monotonic() < end:
    time.sleep(0.01)  # polling the status, which is the condition waited for
print(log.status.samples_written, flush=True)
# the script ends here with the logger still running and nothing flushed
"""


def test_a_script_ending_with_a_background_logger_running_flushes_it(tmp_path) -> None:
    """A notebook kernel or script that ends without stop(): the buffered rows are
    written at interpreter exit, not lost with the daemon thread."""
    out = tmp_path / "log"
    r = subprocess.run(
        [sys.executable, "-c", _ENDS_WITHOUT_STOP, str(out)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0"], "nothing was on disk before the exit"
    df = load(out)
    assert len(df) >= 3 * 2 * NC and len(df) % (2 * NC) == 0, len(df)
    assert not hidden(out)


def test_sigkill_loses_at_most_the_last_flush_and_restart_appends(tmp_path) -> None:
    out = tmp_path / "log"
    child = Path(__file__).with_name("logger_child.py")
    proc = subprocess.Popen(
        [sys.executable, str(child), str(out)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    written = 0
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        for line in proc.stdout:  # synchronise on the child's lines, not on sleeps
            if line.startswith("written="):
                written = int(line.split()[0].split("=")[1])
                files = int(line.split()[1].split("=")[1])
                if files >= 6 and len(parts(out)) >= 2:
                    break
            assert time.monotonic() < deadline, "the child logger made no progress"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    # every visible file is whole, and every sample reported flushed is there
    for f in parts(out):
        pq.read_table(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        before = load(out)
    assert len(before) >= written > 0
    assert before.groupby("time").size().eq(2 * NC).all()  # whole cycles only
    # a restart appends: new files, the old ones untouched
    old = {f: f.stat().st_mtime_ns for f in parts(out)}
    with SimulatedArray(["DV01", "CM03"], seed=5, latency=0.0) as sim:
        Logger("cryo", array=sim, interval=0.01, path=out).run(cycles=3)
    after = load(out)
    assert len(after) == len(before) + 3 * 2 * NC
    assert all(f.exists() and f.stat().st_mtime_ns == m for f, m in old.items())
    assert len(parts(out)) == len(old) + 2


def test_two_loggers_on_one_path_never_overwrite(sim, clock, tmp_path) -> None:
    a = Logger("FEMC.TEMP0", array=sim, path=tmp_path, clock=clock)
    b = Logger("FEMC.TEMP1", array=sim, path=tmp_path, clock=SimClock(rate=None))
    a.run(cycles=2)
    b.run(cycles=2)
    df = load(tmp_path)
    assert len(df) == 2 * 2 * len(ANTS) and len(parts(tmp_path)) == 2 * len(ANTS)


# -- reading ----------------------------------------------------------------------------------------


@pytest.fixture
def two_days(tmp_path) -> Path:
    """A log of DV01, CM03 and DA41 across midnight, several files per partition."""
    clock = SimClock(start=DEFAULT_EPOCH + 86400 - 3600, rate=None)
    with SimulatedArray(ANTS, seed=2, clock=clock, latency=0.0) as sim:
        sim.fault("CM03", "error", code=5002, rca=0x0C000)  # one point answers an E2C error
        Logger(["cryo", "cmpr"], array=sim, interval=600, path=tmp_path, clock=clock, flush_rows=300).run(cycles=12)
    return tmp_path


def test_load_filters_are_pushed_down(two_days) -> None:
    full = load(two_days)
    assert len(full) == 12 * 3 * NB
    assert full.time.is_monotonic_increasing
    one = load(two_days, points="FEMC.TEMP0", antennas=["dv01"])
    assert len(one) == 12 and set(one.antenna) == {"DV01"}
    fam = load(two_days, points=["cryo"], antennas="DV,CM03")
    assert set(fam.antenna) == {"DV01", "CM03"} and set(fam.point) == set(CRYO)
    late = load(two_days, start="2026-01-02", end=pd.Timestamp("2026-01-02 00:30", tz="UTC"))
    assert sorted(late.time.unique()) == [pd.Timestamp("2026-01-02 00:00", tz="UTC"), pd.Timestamp("2026-01-02 00:10", tz="UTC"), pd.Timestamp("2026-01-02 00:20", tz="UTC")]
    assert load(two_days, start="2030-01-01").empty
    err = full[(full.antenna == "CM03") & (full.point == "FEMC.TEMP0")]
    assert err.error.str.startswith("E2C:TIMEOUT_ERROR").all() and err.value.isna().all()
    assert full.attrs["units"]["FEMC.TEMP0"] == "K"


def test_load_wide(two_days) -> None:
    wide = load(two_days, points=["FEMC.TEMP0", "FEMC.TEMP1"], wide=True)
    assert wide.index.name == "time" and len(wide) == 12
    assert list(wide.columns.names) == ["antenna", "point"]
    assert ("DV01", "FEMC.TEMP0") in wide.columns
    assert wide["CM03", "FEMC.TEMP0"].isna().all() and wide["CM03", "FEMC.TEMP1"].notna().all()
    assert wide.xs("FEMC.TEMP1", axis=1, level="point").shape == (12, 3)
    assert wide.attrs["units"]["FEMC.TEMP1"] == "K"


def test_load_empty_and_missing(tmp_path) -> None:
    df = load(tmp_path)
    assert df.empty and list(df.columns) == [c for c in LOAD_COLUMNS if c != "raw"]
    assert list(load(tmp_path, columns=LOAD_COLUMNS).columns) == LOAD_COLUMNS
    assert load(tmp_path, wide=True).empty
    with pytest.raises(ValidationError, match="no log"):
        load(tmp_path / "nope")


def test_load_skips_an_unreadable_file_with_a_warning_naming_it(two_days) -> None:
    total = len(load(two_days))
    victim = parts(two_days)[0]
    n_victim = pq.read_metadata(victim).num_rows
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # a file with no footer
    junk = two_days / "date=2026-01-02" / "antenna=DV01" / "part-junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.warns(UnreadableFileWarning) as record:
        df = load(two_days)
    messages = " ".join(str(w.message) for w in record)
    assert victim.name in messages and junk.name in messages
    assert len(df) == total - n_victim


def test_duckdb_reads_the_dataset_without_e2ckit(two_days) -> None:
    duckdb = pytest.importorskip("duckdb")
    glob = f"{two_days}/**/*.parquet"
    n = duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)").fetchall()[0][0]
    assert n == len(load(two_days))
    rows = duckdb.sql(
        f"select antenna, count(*), count(value), min(date) from read_parquet('{glob}', hive_partitioning=true) "
        "where point = 'FEMC.TEMP0' group by antenna order by antenna"
    ).fetchall()
    assert [(a, c, v) for a, c, v, _ in rows] == [("CM03", 12, 0), ("DA41", 12, 12), ("DV01", 12, 12)]


def test_pyarrow_and_pandas_read_the_dataset_without_e2ckit(two_days) -> None:
    import pyarrow.dataset as ds

    t = ds.dataset(two_days, format="parquet", partitioning="hive").to_table()
    assert t.num_rows == len(load(two_days))
    assert {"date", "antenna", "time", "point", "value"} <= set(t.column_names)
    assert len(pd.read_parquet(two_days)) == t.num_rows


def test_polars_reads_the_dataset_without_e2ckit(two_days) -> None:
    pl = pytest.importorskip("polars")
    df = pl.scan_parquet(f"{two_days}/**/*.parquet", hive_partitioning=True).collect()
    assert df.height == len(load(two_days)) and "antenna" in df.columns


def test_temp_files_are_invisible_to_readers(two_days) -> None:
    duckdb = pytest.importorskip("duckdb")
    d = parts(two_days)[0].parent
    (d / ".part-crashed.parquet.tmp").write_bytes(b"PAR1 half")  # what SIGKILL mid-write leaves
    n = duckdb.sql(f"select count(*) from read_parquet('{two_days}/**/*.parquet', hive_partitioning=true)").fetchall()[0][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load(two_days)) == n == 12 * 3 * NB


# -- compaction -------------------------------------------------------------------------------------


def _key(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["time", "antenna", "point"]).reset_index(drop=True)


def test_compaction_conserves_rows_and_leaves_open_days(two_days) -> None:
    before = load(two_days)
    n_files = len(parts(two_days))
    results = compact(two_days, before="2026-01-02")  # 2026-01-02 is still "open"
    assert {r.date for r in results} == {"2026-01-01"}
    assert all(r.files_before > 1 and r.rows > 0 for r in results)
    day1 = sorted((two_days / "date=2026-01-01").rglob("part-*.parquet"))
    assert len(day1) == 3 and all("-compact-" in f.name for f in day1)
    assert len(parts(two_days)) < n_files and not hidden(two_days)
    after = load(two_days)
    assert len(after) == len(before)
    pd.testing.assert_frame_equal(_key(after), _key(before))
    # then everything; a second pass has nothing to do
    compact(two_days, before="2026-01-03")
    assert len(parts(two_days)) == 6
    pd.testing.assert_frame_equal(_key(load(two_days)), _key(before))
    assert all(r.file is None for r in compact(two_days, before="2026-01-03"))


def test_compaction_interrupted_before_deleting_its_inputs(two_days, monkeypatch) -> None:
    """A crash between the rename and the deletes leaves inputs behind: load() does not
    count them twice, and the next compaction removes them."""
    before = load(two_days)
    real_unlink = Path.unlink
    calls = {"n": 0}

    def crash_after_two(self, *a, **kw):
        if self.name.startswith("part-") and "-compact-" not in self.name:
            calls["n"] += 1
            if calls["n"] > 2:
                raise KeyboardInterrupt("power cut")
        return real_unlink(self, *a, **kw)

    monkeypatch.setattr(Path, "unlink", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        compact(two_days, before="2026-01-03")
    monkeypatch.setattr(Path, "unlink", real_unlink)
    pd.testing.assert_frame_equal(_key(load(two_days)), _key(before))
    compact(two_days, before="2026-01-03")
    pd.testing.assert_frame_equal(_key(load(two_days)), _key(before))
    assert len(parts(two_days)) == 6


def test_compaction_keeps_unreadable_files_and_warns(two_days) -> None:
    junk = two_days / "date=2026-01-01" / "antenna=DV01" / "part-junk.parquet"
    junk.write_bytes(b"junk")
    with pytest.warns(UnreadableFileWarning, match="part-junk"):
        compact(two_days, before="2026-01-02")
    assert junk.exists()


def test_compaction_on_a_full_disk_keeps_the_inputs(two_days, monkeypatch) -> None:
    before = load(two_days)
    files = parts(two_days)

    def full(table, where, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compaction_mod, "write_parquet", full)
    with pytest.warns(UnreadableFileWarning, match="not compacted: .*no space left") as record:
        results = compact(two_days, before="2026-01-03")
    assert results and all(r.error and "no space left" in r.error and r.file is None for r in results)
    assert len(record) == len(results)  # each day named, each skipped, none stopping the others
    assert parts(two_days) == files and not hidden(two_days)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(_key(load(two_days)), _key(before))


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def array_csv(tmp_path, monkeypatch):
    with SimulatedArray(["DV01", "CM03"], seed=4, latency=0.0) as sim:
        path = sim.write_array(tmp_path / "array.csv")
        monkeypatch.setenv("E2CKIT_ARRAY", str(path))
        yield sim, path


def _cli():
    from typer.testing import CliRunner

    from e2ckit.cli import app

    return CliRunner(), app


@pytest.mark.parametrize("spelling", [[], ["run"]])
def test_cli_log_both_spellings(array_csv, tmp_path, spelling) -> None:
    runner, app = _cli()
    out = tmp_path / "log"
    args = ["log", *spelling, "cryo", "FEMC.TEMP0", "--antennas", "DV01", "--interval", "0.05"]
    res = runner.invoke(app, [*args, "--duration", "0.2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = load(out)
    assert set(df.antenna) == {"DV01"} and 1 <= df.time.nunique() <= 5
    assert "stopped" in res.output and f"{len(df)} samples" in res.output


def test_cli_log_exits_when_its_duration_ends_not_at_the_next_status_tick(array_csv, tmp_path, monkeypatch) -> None:
    """The status loop ticks every second; a 50 ms run used to sit out the whole tick.
    With a 60 s tick, sitting it out would take a minute: the run must end long before."""
    from e2ckit.cli import log as log_cli

    monkeypatch.setattr(log_cli, "STATUS_TICK_S", 60.0)
    runner, app = _cli()
    args = ["log", "FEMC.TEMP0", "--antennas", "DV01", "--interval", "0.02", "--duration", "0.05"]
    t0 = time.monotonic()
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "log")])
    took = time.monotonic() - t0
    assert res.exit_code == 0, res.output
    assert took < 30, f"log --duration 0.05 sat out its status tick: {took:.2f} s"
    assert load(tmp_path / "log").time.nunique() >= 2


def test_cli_log_compact(two_days) -> None:
    runner, app = _cli()
    before = len(load(two_days))
    res = runner.invoke(app, ["log", "compact", str(two_days), "--before", "2026-01-03"])
    assert res.exit_code == 0, res.output
    assert "compacted 6 of 6 closed partitions" in res.output
    assert len(parts(two_days)) == 6 and len(load(two_days)) == before


def test_cli_log_bad_input(array_csv, tmp_path) -> None:
    runner, app = _cli()
    res = runner.invoke(app, ["log", "no-such-group", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "no-such-group" in res.output
    assert not (tmp_path / "x").exists()
    res = runner.invoke(app, ["log", "cryo", "--duration", "soon", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["log", "compact", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no log" in res.output
    assert runner.invoke(app, ["log", "--help"]).exit_code == 0


def test_cli_log_starts_without_pandas_or_pyarrow() -> None:
    code = "import sys, e2ckit.cli.log; print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_log_flushes_and_exits_0_on_a_signal(array_csv, tmp_path, sig) -> None:
    sim, csv = array_csv
    sim.fault("CM03", "down")  # its "down" line tells us a cycle has run
    out = tmp_path / "log"
    env = {**os.environ, "E2CKIT_ARRAY": str(csv)}
    cmd = [sys.executable, "-m", "e2ckit.cli", "log", "cryo", "--interval", "0.05"]
    proc = subprocess.Popen(
        [*cmd, "--flush-every", "3600", "--out", str(out)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "CM03 down" in line:
            break
    proc.send_signal(sig)
    rest = proc.stderr.read()
    proc.wait(30)
    assert proc.returncode == 0, "".join(lines) + rest
    assert f"stopped ({sig.name})" in rest
    written = int(rest.split(" samples")[0].split()[-1])
    df = load(out)  # nothing was flushed before the signal: all of it came from the final flush
    assert len(df) == written > 0
    assert set(df.antenna) == {"DV01", "CM03"}


def test_the_logger_module_starts_without_pandas() -> None:
    """Writing needs pyarrow only; pandas (pulled in by pyarrow.dataset) waits for reading,
    so `e2ckit log` takes its first sample without paying for that import."""
    code = "import sys, e2ckit.logger; print(sorted(m for m in ('pandas', 'pyarrow.dataset') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
