"""Issue 26: the dataset never lies. Each of the ten faults a red team found, the same
damage read locally and from a moto S3 server (one admission rule), exact bounds,
summaries that prove what they summarise, and readers that never block writers."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_query import _file_table, frame_equal, pandas_agg, s3, same, truth_rows, write_log  # noqa: F401  (s3: a fixture)

import e2ckit
from e2ckit.logger import UnreadableFileWarning
from e2ckit.logger import Logger, compact
from e2ckit.logger import compaction as compaction_mod

ROWS = truth_rows()
DAY1 = "date=2026-01-01"
DAY2 = "date=2026-01-02"


@pytest.fixture(scope="module")
def log_template(tmp_path_factory) -> Path:
    """The log of ``ROWS``, written once a module (read only: each test copies it)."""
    root = tmp_path_factory.mktemp("faults") / "log"
    write_log(root, ROWS)
    return root


@pytest.fixture
def log(tmp_path, log_template) -> Path:
    """``ROWS`` as the logger's store writes them (a copy of its own: tests damage it)."""
    shutil.copytree(log_template, tmp_path / "log")
    return tmp_path / "log"


def load(*args, **kwargs) -> pd.DataFrame:
    """``e2ckit.load``, the warnings it gave as (file name, reason) pairs in ``attrs``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnreadableFileWarning)
        df = e2ckit.load(*args, **kwargs)
    df.attrs["warned"] = sorted(_warned(str(w.message)) for w in caught if issubclass(w.category, UnreadableFileWarning))
    return df


def _warned(message: str) -> tuple[str, str]:
    """(the file or directory's last two path parts, the reason's first words)."""
    what, _, why = message.removeprefix("e2ckit: ").partition(": ")
    return "/".join(what.rstrip("/").split("/")[-2:]), why.split(" (")[0][:40]


def rows_of(df: pd.DataFrame) -> set[tuple]:
    return set(zip(df["time"], df["antenna"].astype(str), df["point"].astype(str), strict=True))


def once(df: pd.DataFrame, want: pd.DataFrame, want_keys: pd.MultiIndex | None = None) -> None:
    """Every row of ``want`` exactly once in ``df``, nothing else (``want_keys``: its
    ``_sorted_keys``, if a caller checking many frames against one computed them once)."""
    assert not df.duplicated(["time", "antenna", "point"]).any()
    assert len(df) == len(want)
    want_keys = _sorted_keys(want) if want_keys is None else want_keys
    assert _sorted_keys(df).equals(want_keys)  # the same rows (as rows_of, ten times faster)


def _sorted_keys(df: pd.DataFrame) -> pd.MultiIndex:
    """(time, antenna, point) of every row, sorted."""
    keys = pd.DataFrame({"time": df["time"], "antenna": df["antenna"].astype(str), "point": df["point"].astype(str)})
    return pd.MultiIndex.from_frame(keys.sort_values(["time", "antenna", "point"], ignore_index=True))


# -- 1. load() during log compact ------------------------------------------------------------


def test_1_a_file_compacted_away_between_listing_and_reading_means_list_again(log, monkeypatch) -> None:
    """The listing sees the parts, then a compaction replaces them before they are
    read: load lists again and returns every row once, with no warning of damage."""
    from e2ckit.dataset import loader as load_mod

    real = load_mod.part_files
    ran = []

    def list_then_compact(d: Path) -> list[Path]:
        found = real(d)
        if not ran:
            ran.append(1)
            compact(log, before="2026-01-03")  # renames the merged file in, deletes these
        return found

    monkeypatch.setattr(load_mod, "part_files", list_then_compact)
    got = load(log)
    assert ran and got.attrs["warned"] == []
    once(got, ROWS)


def _many_parts(root: Path) -> pd.DataFrame:
    """2 days x 4 antennas x 40 parts each (a logger flushing often), the rows written."""
    rows = truth_rows(seed=5)
    rows = rows[rows.antenna != "DA41"]
    extra = rows[rows.antenna == "DV02"].assign(antenna="CM03")
    rows = pd.concat([rows, extra, rows[rows.antenna == "DV01"].assign(antenna="PM01")], ignore_index=True)
    flush = (rows["time"] - rows["time"].min()) // pd.Timedelta("6min")
    for seq, (_, chunk) in enumerate(rows.groupby(flush, sort=True), start=1):
        for (day, antenna), part in chunk.groupby([chunk["time"].dt.strftime("%Y-%m-%d"), "antenna"]):
            from e2ckit.logger.store import write_part

            write_part(root, day, antenna, _file_table(part.sort_values(["time", "point"])), "ccccdddd", seq)
    return rows


@pytest.fixture(scope="module")
def many_parts(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """``_many_parts``, written once a module (read only: each round copies it)."""
    template = tmp_path_factory.mktemp("many") / "template"
    return template, _many_parts(template)


@pytest.mark.parametrize("first", ["load", "compact"])
@pytest.mark.parametrize("before", ["2026-01-03", "2026-01-01"], ids=["compact", "fold"])
def test_1_load_during_compact_returns_every_row_exactly_once_in_any_interleaving(tmp_path, many_parts, first, before) -> None:
    """Twenty rounds each way: a compaction (or, the days still open, a fold of their
    40 parts a partition) and a load started together (one released first); every load
    returns every row once and never warns of damage."""
    import threading

    template, rows = many_parts
    keys = _sorted_keys(rows)
    for k in range(20):
        root = tmp_path / f"round{k}"
        shutil.copytree(template, root)
        go = threading.Barrier(2)
        errors: list[BaseException] = []

        def compacting() -> None:
            try:
                go.wait()
                compact(root, before=before)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        t = threading.Thread(target=compacting)
        t.start()
        go.wait()  # both go at once; who lists first is the scheduler's choice
        if first == "compact":  # let the compaction take the lock before the load lists
            os.sched_yield()
        got = load(root)
        t.join()
        assert not errors, errors
        assert got.attrs["warned"] == [], (k, got.attrs["warned"])
        once(got, rows, keys)
        once(load(root), rows, keys)  # and after


# -- 2. summaries that prove what they summarise ------------------------------------------------


def _compacted(log: Path) -> Path:
    compact(log, before="2026-01-03")
    return sorted((log / DAY1 / "antenna=DV01").glob("*-compact-*.parquet"))[0]


def test_2_a_summary_of_a_file_rewritten_in_place_is_not_used(log) -> None:
    f = _compacted(log)
    t = pq.read_table(f)
    keep = pc_ge(t, ROWS["time"].min() + pd.Timedelta("1h"))
    pq.write_table(t.filter(keep).replace_schema_metadata(t.schema.metadata), f)  # the same name, less data
    tidy = load(log, antennas="DV01")
    want = ROWS[(ROWS.antenna == "DV01") & ~((ROWS.time < ROWS.time.min() + pd.Timedelta("1h")))]
    assert len(tidy) == len(want)
    counted = load(log, antennas="DV01", every="10min", agg="count")
    assert counted["count"].sum() == want["value"].notna().sum()
    same(counted, pandas_agg(want, "10min", ["count"]))


def pc_ge(t: pa.Table, when: pd.Timestamp) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    return pc.greater_equal(t["time"], pa.scalar(when.to_pydatetime(), pa.timestamp("us", tz="UTC")))


def test_2_a_cut_short_file_gets_no_answer_from_its_summary_and_compact_rebuilds_stale_ones(log) -> None:
    f = _compacted(log)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])  # cut short
    hourly = load(log, antennas="DV01", every="1h", end="2026-01-02")  # the day of that file
    assert hourly.empty and any("part-" in w for w, _ in hourly.attrs["warned"])
    f.write_bytes(data)  # back, and now rewritten in place with other rows: stale summary
    t = pq.read_table(f)
    pq.write_table(t.slice(0, t.num_rows // 2).replace_schema_metadata(t.schema.metadata), f)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadableFileWarning)
        compact(log, before="2026-01-03")  # rebuilds the stale summary from the file
    from e2ckit.logformat.summaries import usable

    assert usable(log, "2026-01-01", "DV01", [f]) is not None
    rest = load(log, antennas="DV01", start="2026-01-01", end="2026-01-02")
    same(load(log, antennas="DV01", start="2026-01-01", end="2026-01-02", every="1h", agg="count"),
         pandas_agg(rest.assign(antenna=rest.antenna.astype(str)), "1h", ["count"]))  # fmt: skip


# -- 3. one admission rule: local and object storage alike ---------------------------------------


def _damage(log: Path) -> None:
    """A foreign parquet named part-*, one part cut short, a log file not named part-*,
    a float32 part, a badly dated directory, and a journal of the wrong shape."""
    d = log / DAY2 / "antenna=DV02"
    pq.write_table(pa.table({"x": [1, 2], "y": ["a", "b"]}), d / "part-20260102T000000000000Z-feedface-000001.parquet")
    cut = sorted((log / DAY2 / "antenna=DA41").glob("part-*.parquet"))[0]
    cut.write_bytes(cut.read_bytes()[:-50])
    t = _file_table(ROWS[ROWS.antenna == "DV01"].head(3).assign(time=lambda x: x.time + pd.Timedelta("30D")))
    os.makedirs(log / "date=2026-01-31" / "antenna=DV01")
    pq.write_table(t, log / "date=2026-01-31" / "antenna=DV01" / "from-another-writer.parquet")
    f32 = t.set_column(2, pa.field("value", pa.float32()), t["value"].cast(pa.float32()))
    os.makedirs(log / "date=2026-02-01" / "antenna=DV02")
    pq.write_table(f32.set_column(0, "time", pa.array([pd.Timestamp("2026-02-01", tz="UTC")] * 3, pa.timestamp("us", tz="UTC"))),
                   log / "date=2026-02-01" / "antenna=DV02" / "part-20260201T000000000000Z-0a0b0c0d-000001.parquet")  # fmt: skip
    os.makedirs(log / "date=2026-13-45" / "antenna=DV01")
    shutil.copy(sorted((log / DAY1 / "antenna=DV01").glob("part-*"))[0], log / "date=2026-13-45" / "antenna=DV01")
    (log / ".e2ckit").mkdir(exist_ok=True)
    (log / ".e2ckit" / "compact.json").write_text("[]")


@pytest.fixture
def damaged(tmp_path, log_template) -> tuple[Path, pd.DataFrame]:
    root = tmp_path / "damaged"
    shutil.copytree(log_template, root)  # ROWS, as written by write_log
    cut = sorted((root / DAY2 / "antenna=DA41").glob("part-*.parquet"))[0]
    lost = pq.read_table(cut).to_pandas()
    _damage(root)
    t_lost = set(lost["time"])
    want = ROWS[~((ROWS.antenna == "DA41") & ROWS.time.isin(t_lost))]
    extra = ROWS[ROWS.antenna == "DV01"].head(3).assign(time=lambda x: x.time + pd.Timedelta("30D"))
    f32 = extra.assign(antenna="DV02", time=pd.Timestamp("2026-02-01", tz="UTC"))
    return root, pd.concat([want, extra, f32], ignore_index=True)


def test_3_5_8_9_10_every_damaged_file_is_skipped_and_named_and_nothing_else_is_lost(damaged) -> None:
    root, want = damaged
    got = load(root)
    once(got, want)
    reasons = dict(got.attrs["warned"])
    assert "antenna=DV02/part-20260102T000000000000Z-feedface-000001.parquet" in reasons  # 3, 9: foreign, e2ckit name
    assert any(k.startswith("antenna=DA41/part-") for k in reasons)  # 3: cut short
    assert "log/date=2026-13-45" in reasons or any("2026-13-45" in k for k in reasons)  # 8: named
    assert len(reasons) == 3
    hourly = load(root, every="1h", agg="count")  # 3: no NaN-to-integer crash, no 1970 row
    assert hourly["time"].min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert hourly["count"].sum() == want["value"].notna().sum()


def test_3_the_same_damage_reads_the_same_from_s3(s3, damaged) -> None:
    root, want = damaged
    for f in root.rglob("*"):
        if f.is_file():
            s3.upload_file(str(f), "archive", f"x/damaged/{f.relative_to(root).as_posix()}")
    local, remote = load(root), load("s3://archive/x/damaged")
    frame_equal(remote.drop(columns=[]), local)
    assert remote.attrs["warned"] == local.attrs["warned"]
    local_h, remote_h = load(root, every="1h", agg="count"), load("s3://archive/x/damaged", every="1h", agg="count")
    frame_equal(remote_h, local_h)
    assert remote_h.attrs["warned"] == local_h.attrs["warned"]


def test_3_an_s3_endpoint_that_hangs_says_timed_out(monkeypatch) -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and never answer
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    for k, v in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.getsockname()[1]}", "AWS_ACCESS_KEY_ID": "x",
                 "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1", "E2CKIT_S3_TIMEOUT": "1"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    try:
        with pytest.raises(e2ckit.ValidationError, match="timed out"):
            e2ckit.load("s3://archive/x/damaged")
    finally:
        stop.set()
        for c in held:
            c.close()
        server.close()


# -- 4. exact bounds ------------------------------------------------------------------------


def test_4_start_and_end_are_honoured_to_the_nanosecond(log) -> None:
    t = ROWS["time"].iloc[100]
    at = ROWS[ROWS.time == t]
    after = load(log, start=t + pd.Timedelta(1, "ns"))
    assert after["time"].min() > t
    assert len(load(log, start=t, end=t + pd.Timedelta(1, "ns"))) == len(at)
    assert load(log, start=t - pd.Timedelta(1, "ns"), end=t).empty  # no row in [t - 1 ns, t)
    last = load(log)["time"].max()  # a notebook polling with start = last + 1 ns
    assert load(log, start=last + pd.Timedelta(1, "ns")).empty


# -- 6. readers never block writers ----------------------------------------------------------


def test_6_a_load_over_a_crashed_loggers_segments_takes_no_lock_and_the_next_logger_says_it_replays(tmp_path, capfd) -> None:
    import fcntl

    from test_logger_faults import _kill_after

    out = tmp_path / "log"
    _kill_after(out, 3)
    real = fcntl.flock
    calls = []
    fcntl.flock = lambda *a: calls.append(a) or real(*a)  # noqa: E731
    try:
        got = load(out)
    finally:
        fcntl.flock = real
    assert len(got) and calls == [], "a reader never takes the writer's lock"
    assert (out / ".e2ckit" / "wal").is_dir() and any((out / ".e2ckit" / "wal").iterdir())
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "CM03"], seed=7, clock=clock, latency=0.0) as sim:
        Logger("cryo", array=sim, interval=1, path=out, clock=clock).run(cycles=1)
    err = capfd.readouterr().err
    assert "replayed 1 write-ahead segment(s) a crashed logger left" in err and f"{len(got)} rows" in err


# -- 7. one day's trouble stays that day's -----------------------------------------------------


def test_7_a_day_on_another_file_system_is_skipped_named_and_the_others_compacted(log, monkeypatch) -> None:
    real = os.replace
    bad = log / DAY1 / "antenna=DV02"

    def cross(src, dst):
        if Path(dst).parent == bad:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst)

    monkeypatch.setattr(compaction_mod.os, "replace", cross)
    with pytest.warns(UnreadableFileWarning, match=r"skipping day .*date=2026-01-01/antenna=DV02: not compacted: .*cross-device"):
        results = compact(log, before="2026-01-03")
    monkeypatch.setattr(compaction_mod.os, "replace", real)
    skipped = [r for r in results if r.error]
    assert [(r.date, r.antenna) for r in skipped] == [("2026-01-01", "DV02")]
    assert all(r.file for r in results if not r.error)
    assert not (log / ".e2ckit" / "compact.json").exists()
    assert not [f for f in log.rglob("*.tmp")] and not list(bad.glob("*-compact-*"))
    once(load(log), ROWS)


def test_7_log_compact_exits_by_the_worst_outcome(log, damaged) -> None:
    ok = subprocess.run([sys.executable, "-m", "e2ckit.cli", "log", "compact", str(log), "--before", "2026-01-03"],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    root, _ = damaged
    r = subprocess.run([sys.executable, "-m", "e2ckit.cli", "log", "compact", str(root), "--before", "2026-03-01"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "date=2026-13-45" in r.stderr and "compact.json" in r.stderr
    assert "compacted" in r.stderr


# -- 10. journals validated ------------------------------------------------------------------


@pytest.mark.parametrize("journal", ["{}", "[]", '{"dir": "../..", "tmp": "x", "file": "y", "inputs": []}', "3"])
def test_10_a_journal_of_the_wrong_shape_is_set_aside_never_a_crash(log, journal) -> None:
    (log / ".e2ckit").mkdir(exist_ok=True)
    (log / ".e2ckit" / "compact.json").write_text(journal)
    once(load(log), ROWS)
    with pytest.warns(UnreadableFileWarning, match="compaction journal .* is not one"):
        compact(log, before="2026-01-03")
    assert not (log / ".e2ckit" / "compact.json").exists()
    assert list((log / ".e2ckit").glob("compact.json.bad-*"))
    once(load(log), ROWS)
