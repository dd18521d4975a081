"""The query layer (#16): every path of ``load`` against a plain pandas computation.

The data are written by the logger's own writers (parts from its store, compacted files
from compaction, a write-ahead segment from its ``wal``) and hold what a real log holds:
gaps, failed readings (value null, ``error`` set), a point whose every reading failed,
an antenna with no samples of a point, times a little off the cycle grid.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import e2ckit
from e2ckit import analysis
from e2ckit.errors import ValidationError
from e2ckit.dataset import load
from e2ckit.logformat import segments as wal
from e2ckit.logger import compact
from e2ckit.logger import compaction as compaction_mod
from e2ckit.logger.lock import DatasetLock
from e2ckit.logformat.schema import FILE_SCHEMA, LOAD_COLUMNS, WAL_SCHEMA
from e2ckit.logger.store import write_part
from e2ckit.logger.wal import Segment

ROOT = Path(__file__).resolve().parents[1]
OUTAGE = ROOT / "data" / "outage-recovery"
ANTS = ["DA41", "DV01", "DV02"]
POINTS = [("FEMC.TEMP0", "K"), ("FEMC.CRYOSTAT_PRESSURE", "mbar"), ("CMPR.TEMP1", "°C")]
T0 = pd.Timestamp("2026-01-01 22:00", tz="UTC")
AGGS = ["mean", "min", "max", "first", "last", "count", "std"]


def truth_rows(seed: int = 3) -> pd.DataFrame:
    """Four hours across midnight at a 7 s cycle, with a 20-minute gap, 5 % failed
    readings, DV02's pressure always failing and no CMPR.TEMP1 at all on DA41."""
    rng = np.random.default_rng(seed)
    cycles = T0 + pd.to_timedelta(np.arange(0, 4 * 3600, 7), unit="s")
    cycles = cycles[(cycles < T0 + pd.Timedelta("1h")) | (cycles >= T0 + pd.Timedelta("1h20min"))]  # the gap
    jitter = pd.to_timedelta(rng.integers(0, 900, len(cycles)), unit="us")
    frames = []
    for a in ANTS:
        for p, u in POINTS:
            if a == "DA41" and p == "CMPR.TEMP1":
                continue  # an antenna with no samples of this point
            n = len(cycles)
            value = np.float32(rng.normal(100, 5, n)).astype(np.float64)
            failed = rng.random(n) < 0.05
            if a == "DV02" and p == "FEMC.CRYOSTAT_PRESSURE":
                failed[:] = True
            frames.append(pd.DataFrame({
                "time": cycles + jitter, "antenna": a, "point": p,
                "value": np.where(failed, np.nan, value), "unit": u,
                "status": np.where(failed, "timeout", "ok"),
                "error": np.where(failed, "E2C:TIMEOUT_ERROR: no reply", None),
                "latency_100us": np.where(failed, np.nan, rng.integers(5, 40, n)),
            }))  # fmt: skip
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["time", "antenna", "point"], ignore_index=True)


def _file_table(rows: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "time": pa.array(rows["time"].dt.as_unit("us"), pa.timestamp("us", tz="UTC")),
            "point": pa.array(rows["point"], pa.string()),
            "value": pa.array(rows["value"], pa.float64(), from_pandas=True),
            "unit": pa.array(rows["unit"], pa.string()),
            "status": pa.array(rows["status"], pa.string()),
            "error": pa.array(rows["error"], pa.string()),
            "latency_100us": pa.array(rows["latency_100us"], pa.uint16(), from_pandas=True),
            "raw": pa.nulls(len(rows), pa.binary()),
        },
        schema=FILE_SCHEMA,
    )


def write_log(root: Path, rows: pd.DataFrame, per_hour: bool = True) -> None:
    """``rows`` as the logger's store writes them: one part per (day, antenna) per flush
    (here per hour of data)."""
    flush = rows["time"].dt.floor("1h") if per_hour else rows["time"].dt.floor("1D")
    for seq, (_, chunk) in enumerate(rows.groupby(flush, sort=True), start=1):
        for (day, antenna), part in chunk.groupby([chunk["time"].dt.strftime("%Y-%m-%d"), "antenna"]):
            write_part(root, day, antenna, _file_table(part.sort_values(["time", "point"])), "aaaabbbb", seq)


def pandas_agg(rows: pd.DataFrame, every: str, aggs: list[str]) -> pd.DataFrame:
    """The reference: pandas alone, on the same rows."""
    good = rows["error"].isna() & rows["value"].notna()
    ordered = rows.assign(bucket=rows["time"].dt.floor(every), v=rows["value"].where(good)).sort_values("time", kind="stable")
    g = ordered.groupby(["bucket", "antenna", "point"], observed=True, sort=True)
    out = pd.DataFrame({"unit": g["unit"].last()})
    for a in aggs:
        out[a] = g["v"].count().astype("int64") if a == "count" else getattr(g["v"], a)()
    out.index = out.index.set_names("time", level=0)
    return out.reset_index()


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.astype({c: str for c in ("antenna", "point", "unit") if c in got}).reset_index(drop=True)
    want = want.astype({c: str for c in ("antenna", "point", "unit") if c in want}).reset_index(drop=True)
    got["time"] = got["time"].dt.as_unit("us")
    want["time"] = want["time"].dt.as_unit("us")
    pd.testing.assert_frame_equal(got, want[list(got.columns)], check_dtype=False, check_exact=False, rtol=1e-12)


def frame_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """``pd.testing.assert_frame_equal(got, want)``, as strict and ten times cheaper.
    pandas compares a categorical column value by value, boxing each (seconds for a
    frame of a few hundred thousand rows), before it compares the column's categories
    (in order), codes and ``ordered``, which alone decide it: here only those are
    compared. An object column whose values are pairwise identical or of one type and
    equal (``raw``: all None) is settled here too; any other goes to pandas as it is,
    as do all other columns, the index, names and dtypes."""
    pd.testing.assert_index_equal(got.columns, want.columns)
    settled = {}
    for c in got.columns:
        g, w = got[c], want[c]
        if isinstance(g.dtype, pd.CategoricalDtype) or isinstance(w.dtype, pd.CategoricalDtype):
            assert isinstance(g.dtype, pd.CategoricalDtype) and isinstance(w.dtype, pd.CategoricalDtype), (c, g.dtype, w.dtype)
            pd.testing.assert_index_equal(g.cat.categories, w.cat.categories, exact=True, obj=f"{c}.categories")
            assert g.cat.ordered == w.cat.ordered, c
            settled[c] = (g.cat.codes, w.cat.codes)  # compared below, as int arrays
        elif g.dtype == object and w.dtype == object and len(g) == len(w):
            if all(x is y or (type(x) is type(y) and x == y) for x, y in zip(g.tolist(), w.tolist(), strict=True)):
                settled[c] = (pd.Series(0, index=g.index), pd.Series(0, index=w.index))  # equal: nothing left to compare
    pd.testing.assert_frame_equal(got.assign(**{c: g for c, (g, _) in settled.items()}), want.assign(**{c: w for c, (_, w) in settled.items()}))


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return truth_rows()


@pytest.fixture(scope="module")
def log_template(tmp_path_factory, rows) -> Path:
    """The log of ``rows``, written once a module (read only: each test copies it)."""
    root = tmp_path_factory.mktemp("query") / "log"
    write_log(root, rows)
    return root


@pytest.fixture
def log(tmp_path, log_template) -> Path:
    """``rows`` as the logger's store writes them (a copy of its own: tests compact or damage it)."""
    shutil.copytree(log_template, tmp_path / "log")
    return tmp_path / "log"


# -- aggregates --------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["parts", "compacted"])
@pytest.mark.parametrize("every", ["1min", "10s", "1h"])
def test_every_aggregate_equals_pandas(log, rows, layout, every) -> None:
    if layout == "compacted":
        assert any(r.file for r in compact(log, before="2026-01-03"))
    got = load(log, every=every, agg=AGGS)
    assert list(got.columns) == ["time", "antenna", "point", "unit", *AGGS]
    same(got, pandas_agg(rows, every, AGGS))
    assert got["count"].dtype == "int64"


def test_failed_readings_give_nan_with_count_zero_never_a_sentinel(log, rows) -> None:
    got = load(log, points="FEMC.CRYOSTAT_PRESSURE", antennas="DV02", every="1min", agg=AGGS)
    assert len(got) == rows[(rows.antenna == "DV02") & (rows.point == "FEMC.CRYOSTAT_PRESSURE")]["time"].dt.floor("1min").nunique()
    assert (got["count"] == 0).all()
    assert got[["mean", "min", "max", "first", "last", "std"]].isna().all().all()
    # a bucket with one good reading among failed ones: that reading alone
    mixed = load(log, every="10s", agg=["count", "min", "max", "mean"])
    one = mixed[mixed["count"] == 1]
    assert len(one) and (one["min"] == one["max"]).all() and (one["mean"] == one["min"]).all()


def test_gaps_and_missing_antennas_have_no_rows(log, rows) -> None:
    got = load(log, every="1min", agg="count")
    gap = got[(got.time >= T0 + pd.Timedelta("1h")) & (got.time < T0 + pd.Timedelta("1h20min"))]
    assert gap.empty
    assert got[(got.antenna == "DA41") & (got.point == "CMPR.TEMP1")].empty
    assert load(log, antennas="PM01", every="1min").empty


def test_filters_apply_before_aggregating(log, rows) -> None:
    start, end = T0 + pd.Timedelta("90min"), T0 + pd.Timedelta("150min")
    got = load(log, points=["FEMC.TEMP0"], antennas="DV", start=start, end=end, every="10min", agg=["mean", "count"])
    sub = rows[(rows.point == "FEMC.TEMP0") & rows.antenna.str.startswith("DV") & (rows.time >= start) & (rows.time < end)]
    same(got, pandas_agg(sub, "10min", ["mean", "count"]))


def test_wide_with_one_aggregate(log, rows) -> None:
    wide = load(log, points="FEMC.TEMP0", every="1h", agg="max", wide=True)
    want = pandas_agg(rows[rows.point == "FEMC.TEMP0"], "1h", ["max"]).pivot(index="time", columns=["antenna", "point"], values="max")
    assert wide.shape == want.shape
    np.testing.assert_allclose(wide.to_numpy(), want[wide.columns].to_numpy())
    assert wide.attrs["units"] == {"FEMC.TEMP0": "K"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"every": "soon"}, "every='soon' is not a duration"),
        ({"every": "0s"}, "positive duration"),
        ({"every": "1min", "agg": "median"}, "agg='median' is not one of"),
        ({"every": "1min", "agg": []}, "at least one"),
        ({"agg": "mean"}, "agg needs every="),
        ({"columns": ["value", "colour"]}, "'colour' is not one of"),
        ({"every": "1min", "agg": ["mean", "max"], "wide": True}, "exactly one aggregate"),
    ],
)
def test_bad_query_arguments_are_named(log, kwargs, match) -> None:
    with pytest.raises(ValidationError, match=match):
        load(log, **kwargs)


# -- the tidy frame ----------------------------------------------------------------------------


def test_tidy_frame_equals_the_rows_written_with_categoricals(log, rows) -> None:
    got = load(log)
    assert list(got.columns) == [c for c in LOAD_COLUMNS if c != "raw"]  # raw is empty: left out
    for c in ("antenna", "point", "unit", "status", "error"):
        assert str(got[c].dtype) == "category", c
    want = rows.assign(latency_ms=rows["latency_100us"] / 10.0)
    assert len(got) == len(want)
    np.testing.assert_array_equal(got["time"].dt.as_unit("us").to_numpy(), want["time"].dt.as_unit("us").to_numpy())
    for c in ("antenna", "point", "unit", "status"):
        assert got[c].astype(str).tolist() == want[c].tolist(), c
    np.testing.assert_array_equal(got["value"].to_numpy(), want["value"].to_numpy())
    np.testing.assert_array_equal(got["latency_ms"].to_numpy(), want["latency_ms"].to_numpy())
    assert got["error"].isna().tolist() == want["error"].isna().tolist()
    assert got.attrs["units"] == dict(POINTS)
    assert got.memory_usage(deep=True).sum() / len(got) <= 40


def test_columns_picks_what_follows_the_key(log) -> None:
    got = load(log, columns=["value"])
    assert list(got.columns) == ["time", "antenna", "point", "value"]
    full = load(log, columns=LOAD_COLUMNS)
    assert list(full.columns) == LOAD_COLUMNS and full["raw"].isna().all()  # asked for: there
    clean = load(log, points="FEMC.TEMP0", antennas="DA41", start=T0, end=T0 + pd.Timedelta("10min"))
    assert "error" not in clean or clean["error"].notna().any()


# -- layout ------------------------------------------------------------------------------------


def test_compacted_files_have_one_sorted_row_group_per_point(log, rows, monkeypatch) -> None:
    monkeypatch.setattr(compaction_mod, "MIN_GROUP", 1)  # as a whole day's points are (86,400 rows)
    before = load(log)
    compact(log, before="2026-01-03")
    files = sorted(log.rglob("*-compact-*.parquet"))
    assert len(files) == 2 * len(ANTS)
    for f in files:
        meta = pq.read_metadata(f)
        t = pq.read_table(f)
        points = [meta.row_group(i).column(1).statistics for i in range(meta.num_row_groups)]
        assert all(s.min == s.max for s in points), "one point per row group"
        assert [s.min for s in points] == sorted({s.min for s in points})
        key = list(zip(t["point"].to_pylist(), t["time"].to_pylist(), strict=True))
        assert key == sorted(key)
        encodings = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).encodings for i in range(meta.num_columns)}
        assert "DELTA_BINARY_PACKED" in encodings["time"] and "BYTE_STREAM_SPLIT" in encodings["value"]
    frame_equal(load(log), before)


def test_a_point_filter_reads_only_that_points_row_groups(log, monkeypatch) -> None:
    """The layout's promise, checked on what the reader actually decodes: a one-point
    query decodes that point's row group in each file, not the others."""
    monkeypatch.setattr(compaction_mod, "MIN_GROUP", 1)  # as a whole day's points are (86,400 rows)
    compact(log, before="2026-01-03")
    f = sorted(log.rglob("*-compact-*.parquet"))[-1]  # DV02's second day: three points
    pf = pq.ParquetFile(f)
    groups = [i for i in range(pf.num_row_groups) if pf.metadata.row_group(i).column(1).statistics.min == "FEMC.TEMP0"]
    assert len(groups) == 1 and pf.num_row_groups == 3
    import polars as pl

    n = pl.scan_parquet(str(f)).filter(pl.col("point") == "FEMC.TEMP0").collect().height
    assert n == pf.metadata.row_group(groups[0]).num_rows


def test_points_of_a_short_log_share_row_groups_and_stay_sorted() -> None:
    """A file of a few minutes is not cut into a row group per point (each costs its own
    headers and statistics); a day's worth of a point still gets its own."""
    import pyarrow as pa

    pts = [f"P{i:02d}" for i in range(45)]
    short = pa.table({"point": [p for p in pts for _ in range(20)]})
    assert compaction_mod._point_groups(short) == [900]
    day = pa.table({"point": ["A"] * 86_400 + ["B"] * 100 + ["C"] * 86_400})
    assert compaction_mod._point_groups(day) == [86_400, 100, 86_400]


def test_compact_upgrades_an_old_layout_dataset_and_it_reads_the_same(tmp_path) -> None:
    old = tmp_path / "outage"
    shutil.copytree(OUTAGE, old)
    files = sorted(old.rglob("*.parquet"))
    assert all(compaction_mod._old_layout(f) for f in files), "data/outage-recovery is an old-layout dataset"
    # read the old layout: as pandas alone reads it
    before = load(old, columns=LOAD_COLUMNS)
    plain = pd.concat(
        [pq.read_table(f).to_pandas().assign(antenna=f.parent.name.split("=")[1]) for f in files], ignore_index=True
    ).sort_values(["time", "antenna", "point"], ignore_index=True)
    assert len(before) == len(plain)
    np.testing.assert_array_equal(before["value"].to_numpy(), plain["value"].to_numpy(dtype=float))
    assert before["error"].isna().tolist() == plain["error"].isna().tolist()
    assert before["error"].dropna().astype(str).tolist() == plain["error"].dropna().tolist()
    agg_before = load(old, every="1h", agg=AGGS)
    ref = plain.assign(latency_100us=plain["latency_100us"].astype(float))
    same(agg_before, pandas_agg(ref, "1h", AGGS))
    res = compact(old, before="2100-01-01")
    assert all(r.file for r in res) and len(res) == len(files)
    assert not any(compaction_mod._old_layout(f) for f in old.rglob("*.parquet"))
    frame_equal(load(old, columns=LOAD_COLUMNS), before)
    frame_equal(load(old, every="1h", agg=AGGS), agg_before)
    assert all(r.file is None for r in compact(old, before="2100-01-01")), "upgraded once"


def test_an_upgrade_that_crashes_before_deleting_the_old_file_counts_nothing_twice(tmp_path, monkeypatch) -> None:
    old = tmp_path / "outage"
    shutil.copytree(OUTAGE, old)
    before = load(old, columns=LOAD_COLUMNS)

    def crash(step: str) -> None:
        if step == "renamed":
            raise KeyboardInterrupt

    monkeypatch.setattr(compaction_mod, "_step", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(old, before="2100-01-01")
    monkeypatch.setattr(compaction_mod, "_step", lambda step: None)
    frame_equal(load(old, columns=LOAD_COLUMNS), before)  # read around it, once
    assert (old / ".e2ckit" / "compact.json").exists(), "a reader never settles (writes): the next writer does"
    compact(old, before="2100-01-01")
    assert not (old / ".e2ckit" / "compact.json").exists()
    frame_equal(load(old, columns=LOAD_COLUMNS), before)


def test_load_reads_no_footer_of_a_compacted_dataset(log, monkeypatch) -> None:
    compact(log, before="2026-01-03")
    calls = []
    real = pq.read_schema
    monkeypatch.setattr(pq, "read_schema", lambda *a, **k: calls.append(a) or real(*a, **k))
    load(log, every="1min")
    assert calls == []


# -- the write-ahead segment -------------------------------------------------------------------


def test_a_live_loggers_segment_is_in_every_query_exactly_once(tmp_path, rows) -> None:
    """A logger holds the lock and its latest cycles are only in its segment (one of
    which was already flushed to parts): each sample counts once, raw and aggregated."""
    root = tmp_path / "live"
    cut = T0 + pd.Timedelta("3h")
    write_log(root, rows[rows.time < cut])
    late = rows[rows.time >= cut]
    half = late.time < cut + pd.Timedelta("30min")

    def segment(chunk: pd.DataFrame, seq: int) -> None:
        """A batch a cycle, its rows by (antenna, point), as a logger appends them (the
        chunk converted once, then sliced a cycle a batch)."""
        seg = Segment(wal.wal_dir(root) / wal.segment_name("livelive", seq), fsync=False)
        chunk = chunk.sort_values(["time", "antenna", "point"])
        t = _file_table(chunk).add_column(0, "antenna", pa.array(chunk["antenna"], pa.string()))
        t = t.cast(WAL_SCHEMA).combine_chunks()
        start = 0
        for n in chunk.groupby("time", sort=True).size():
            seg.append(t.slice(start, n).to_batches()[0])
            start += n
        assert start == len(chunk)
        seg.close()

    segment(late[half], 1)
    for (day, antenna), t in wal.split(wal.read(wal.wal_dir(root) / wal.segment_name("livelive", 1))).items():
        write_part(root, day, antenna, t, "livelive", 1)  # flushed, segment not yet deleted
    segment(late[~half], 2)
    lock = DatasetLock(root, "a live logger")
    lock.acquire()
    try:
        got = load(root, columns=LOAD_COLUMNS)
        assert len(got) == len(rows)
        assert not got.duplicated(["time", "antenna", "point"]).any()
        same(load(root, every="1min", agg=AGGS), pandas_agg(rows, "1min", AGGS))
        assert len(wal.segments(root)) == 2, "a live logger's segments are left alone"
    finally:
        lock.release()
    same(load(root, every="1min", agg=AGGS), pandas_agg(rows, "1min", AGGS))  # a crashed writer's: the same
    assert len(wal.segments(root)) == 2, "a reader never replays (writes): the next writer does"
    compact(root, before="2000-01-01")  # a writer: replays the segments into parts, compacts no day
    assert wal.segments(root) == []
    same(load(root, every="1min", agg=AGGS), pandas_agg(rows, "1min", AGGS))


# -- analysis ---------------------------------------------------------------------------------


def test_compare_to_median_buckets_by_time() -> None:
    """An hour of 1 Hz data at freq="1min": 60 buckets per antenna (it was one)."""
    t = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(3600), unit="s")
    rng = np.random.default_rng(0)
    tidy = pd.concat(
        [pd.DataFrame({"time": t, "antenna": a, "point": "FEMC.TEMP0", "value": 4 + rng.normal(0, 0.01, 3600) + (1 if a == "DV03" else 0), "unit": "K", "error": None})
         for a in ["DV01", "DV02", "DV03", "DV04", "DV05"]], ignore_index=True,
    )  # fmt: skip
    out = analysis.compare_to_median(tidy, "FEMC.TEMP0", freq="1min")
    assert out.groupby("antenna").size().tolist() == [60] * 5
    assert out.time.nunique() == 60 and out.time.min() == t[0] and (out.time.diff().dropna() >= pd.Timedelta(0)).all()
    means = tidy.assign(time=tidy.time.dt.floor("1min")).groupby(["time", "antenna"])["value"].mean()
    np.testing.assert_allclose(out.set_index(["time", "antenna"])["value"].sort_index(), means.sort_index())
    assert set(out[out.outlier].antenna) == {"DV03"}
    # on a frame load aggregated (categoricals, no error column) it works the same
    agg = tidy.assign(antenna=tidy.antenna.astype("category")).drop(columns="error")
    assert len(analysis.compare_to_median(agg, "FEMC.TEMP0", freq="1min")) == 300


def test_analysis_on_a_frame_without_an_error_column(log) -> None:
    df = load(log, antennas="DA41", points="FEMC.TEMP0", start=T0, end=T0 + pd.Timedelta("2min"), columns=["value", "unit"])
    assert "error" not in df
    assert len(analysis.good(df)) == df["value"].notna().sum()
    assert not analysis.is_down(df).any() and analysis.explain_errors(df).empty


# -- beyond one machine: Dask, object storage -----------------------------------------------------


def test_dask_computes_the_same_aggregate(log, rows) -> None:
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    compact(log, before="2026-01-02")  # a mix: a compacted day and a day of parts
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, distributed.Client(cluster):
        ddf = dd.read_parquet(str(log), columns=["time", "point", "value", "error", "antenna"])
        ddf = ddf[ddf["point"] == "FEMC.TEMP0"]
        ddf = ddf.assign(bucket=ddf["time"].dt.floor("10min"), good=ddf["value"].where(ddf["error"].isna()))
        dask_mean = ddf.groupby(["bucket", "antenna"])["good"].agg(["mean", "count"]).compute()
    ours = load(log, points="FEMC.TEMP0", every="10min", agg=["mean", "count"])
    dask_mean = dask_mean.reset_index().rename(columns={"bucket": "time"})
    dask_mean["antenna"] = dask_mean["antenna"].astype(str)
    dask_mean = dask_mean.sort_values(["time", "antenna"], ignore_index=True)
    assert len(dask_mean) == len(ours)
    np.testing.assert_array_equal(ours["antenna"].astype(str), dask_mean["antenna"])
    np.testing.assert_allclose(ours["mean"], dask_mean["mean"], rtol=1e-12)
    np.testing.assert_array_equal(ours["count"], dask_mean["count"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch, tmp_path):
    """A moto S3 server on loopback (its own process), and the AWS environment that
    points every client at it and nowhere else."""
    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for k, v in {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
    }.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    deadline = time.monotonic() + 30
    while True:  # until the server accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("moto server did not start")
            time.sleep(0.05)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="archive")
    yield client
    proc.terminate()
    proc.wait(timeout=10)


def test_load_reads_an_archive_on_s3(s3, log, rows) -> None:
    compact(log, before="2026-01-02")  # a compacted day and a day of parts, as an archive may be
    for f in log.rglob("*.parquet"):
        s3.upload_file(str(f), "archive", f"site/log/{f.relative_to(log).as_posix()}")
    s3.put_object(Bucket="archive", Key="site/log/.e2ckit/lock", Body=json.dumps({"pid": 1}).encode())
    got = load("s3://archive/site/log", columns=LOAD_COLUMNS)
    frame_equal(got, load(log, columns=LOAD_COLUMNS))
    same(load("s3://archive/site/log/", every="1min", agg=AGGS), pandas_agg(rows, "1min", AGGS))
    one = load("s3://archive/site/log", points="FEMC.TEMP0", antennas="DV", start=T0 + pd.Timedelta("2h"), every="10min", agg=["mean", "count"])
    sub = rows[(rows.point == "FEMC.TEMP0") & rows.antenna.str.startswith("DV") & (rows.time >= T0 + pd.Timedelta("2h"))]
    same(one, pandas_agg(sub, "10min", ["mean", "count"]))
    with pytest.raises(ValidationError, match="no log at s3://archive/nothing-here"):
        load("s3://archive/nothing-here")


def test_import_e2ckit_does_not_import_the_engine() -> None:
    code = "import sys, e2ckit, e2ckit.logger; print(any(m in sys.modules for m in ('polars', 'duckdb', 'dask')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert e2ckit.load is load


def test_a_file_with_other_column_types_is_read_with_the_rest(log, rows) -> None:
    """A parquet file another tool wrote into a partition with the log's columns but
    nanosecond times: read with the others (the whole-list scan falls back to one by one)."""
    d = log / "date=2026-01-02" / "antenna=DV01"
    extra = rows[(rows.antenna == "DV01")].iloc[:5].assign(time=lambda x: x.time + pd.Timedelta("1D"))
    t = _file_table(extra)
    t = t.set_column(0, pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False), t["time"].cast(pa.timestamp("ns", tz="UTC")))
    pq.write_table(t, d / "from-another-tool.parquet")
    got = load(log, columns=LOAD_COLUMNS)
    assert len(got) == len(rows) + 5
    same(load(log, every="1h", agg=AGGS), pandas_agg(pd.concat([rows, extra], ignore_index=True), "1h", AGGS))


def test_a_compacted_archive_reads_back_in_time_order_with_or_without_shared_cycle_times(tmp_path, rows, monkeypatch) -> None:
    """Compacted files (an antenna-day each, sorted by point then time) come back sorted
    by (time, antenna, point) and equal to pandas' sort of the same rows: over two days,
    when every antenna of a cycle shares one time (read without a sort) and when one
    antenna's samples are missing or off the others' times (sorted)."""
    from e2ckit.dataset import tidy

    used = []
    real = tidy._interleaved
    monkeypatch.setattr(tidy, "_interleaved", lambda t, s: used.append(real(t, s) is not None) or real(t, s))
    shifted = rows.copy()
    off = (shifted["antenna"] == "DV01") & (shifted.index % 97 == 0)
    shifted.loc[off, "time"] += pd.Timedelta("1ms")  # a few of DV01's samples off the shared times
    gap = shifted[~((shifted["antenna"] == "DV02") & (shifted.index % 89 == 0))]  # and DV02 missing some
    for name, data, fast in (("shared", rows, True), ("shifted", shifted, False), ("gap", gap, False)):
        root = tmp_path / name
        write_log(root, data)
        compact(root, before="2026-01-03")
        for point, _ in POINTS:
            used.clear()
            got = load(root, points=point)
            want = data[data["point"] == point].sort_values(["time", "antenna"], kind="stable", ignore_index=True)
            assert used and used[-1] is fast, (name, point)
            np.testing.assert_array_equal(got["time"].dt.as_unit("us").to_numpy(), want["time"].dt.as_unit("us").to_numpy())
            assert got["antenna"].astype(str).tolist() == want["antenna"].tolist(), (name, point)
            np.testing.assert_array_equal(got["value"].to_numpy(), want["value"].to_numpy())
        got = load(root)  # every point: one run per (antenna, point)
        want = data.sort_values(["time", "antenna", "point"], kind="stable", ignore_index=True)
        assert len(got) == len(want)
        for c in ("antenna", "point"):
            assert got[c].astype(str).tolist() == want[c].tolist(), (name, c)
        np.testing.assert_array_equal(got["time"].dt.as_unit("us").to_numpy(), want["time"].dt.as_unit("us").to_numpy())
        np.testing.assert_array_equal(got["value"].to_numpy(), want["value"].to_numpy())


# -- the compacted days' 5-minute summaries ----------------------------------------------------------

SUMMED = ["min", "max", "mean", "count"]


@pytest.fixture
def summed(monkeypatch) -> list[int]:
    """How many summaries each load() read (0: every day read from its samples)."""
    from e2ckit.dataset import query

    used: list[int] = []
    real = query.from_summaries

    def spy(chunks, summaries, *args, **kwargs):
        used.append(len(summaries))
        return real(chunks, summaries, *args, **kwargs)

    monkeypatch.setattr(query, "from_summaries", spy)
    return used


@pytest.mark.parametrize("every", ["5min", "15min", "1h"])
def test_summaries_answer_long_buckets_as_the_samples_do(log, rows, summed, every) -> None:
    """Compaction writes a 5-minute summary per antenna-day; buckets of a multiple of 5
    minutes are computed from it and equal pandas over the samples (gaps, failed
    readings, a point that always fails, an antenna without a point)."""
    compact(log, before="2026-01-03")
    assert len(list((log / ".e2ckit" / "rollup").rglob("*.rollup"))) == 2 * len(ANTS)
    got = load(log, every=every, agg=SUMMED)
    assert summed == [2 * len(ANTS)]
    same(got, pandas_agg(rows, every, SUMMED))
    failing = got[(got.antenna == "DV02") & (got.point == "FEMC.CRYOSTAT_PRESSURE")]
    assert len(failing) and (failing["count"] == 0).all() and failing[["min", "max", "mean"]].isna().all().all()
    # with filters, and a start and end on the 5-minute grid
    start, end = T0 + pd.Timedelta("90min"), T0 + pd.Timedelta("150min")
    got = load(log, points="FEMC.TEMP0", antennas="DV", start=start, end=end, every=every, agg=["mean", "count"])
    sub = rows[(rows.point == "FEMC.TEMP0") & rows.antenna.str.startswith("DV") & (rows.time >= start) & (rows.time < end)]
    same(got, pandas_agg(sub, every, ["mean", "count"]))
    assert summed[-1] == 2 * 2


def test_what_a_summary_cannot_answer_is_read_from_the_samples(log, rows, summed) -> None:
    """std/first/last, a bucket off the 5-minute grid, a start inside a day off it, and
    rows logged into a day after it was compacted all read samples, and are right."""
    compact(log, before="2026-01-03")
    same(load(log, every="1h", agg=AGGS), pandas_agg(rows, "1h", AGGS))
    same(load(log, every="1min", agg=SUMMED), pandas_agg(rows, "1min", SUMMED))
    assert summed == []
    start = T0 + pd.Timedelta("62min") + pd.Timedelta("7s")  # inside the first day, off the grid
    got = load(log, start=start, every="15min", agg=SUMMED)
    same(got, pandas_agg(rows[rows.time >= start], "15min", SUMMED))
    assert summed == [len(ANTS)]  # the second day still from its summaries
    # a reading logged into the second day after its compaction
    late = rows[(rows.antenna == "DV01") & (rows.time >= "2026-01-02 01:00")].head(3).copy()
    late["time"] += pd.Timedelta("1ms")
    late["value"] = 1e6
    write_part(log, "2026-01-02", "DV01", _file_table(late), "ccccdddd", 1)
    both = pd.concat([rows, late], ignore_index=True)
    got = load(log, every="15min", agg=SUMMED)
    same(got, pandas_agg(both, "15min", SUMMED))
    assert summed[-1] == 2 * len(ANTS) - 1 and got["max"].max() == 1e6


def test_days_with_and_without_summaries_merge_into_one_answer(log, rows, summed) -> None:
    compact(log, before="2026-01-02")  # the first day only; the second stays in parts
    got = load(log, every="15min", agg=SUMMED)
    assert summed == [len(ANTS)]
    same(got, pandas_agg(rows, "15min", SUMMED))


def test_a_broken_or_orphan_summary_is_never_used(log, rows, summed) -> None:
    compact(log, before="2026-01-03")
    summaries = sorted((log / ".e2ckit" / "rollup").rglob("*.rollup"))
    summaries[0].write_bytes(b"not parquet")  # a summary cut short
    orphan = summaries[1].with_name("part-20260101T000000000000Z-compact-00000000.parquet.rollup")
    summaries[1].rename(orphan)  # a summary of a file that is not there (a crashed compaction)
    want = pandas_agg(rows, "15min", SUMMED)
    same(load(log, every="15min", agg=SUMMED), want)  # read from the samples
    # the next compaction writes the missing summary (an upgrade of a dataset without them)
    compact(log, before="2026-01-03")
    assert summaries[1].exists()
    same(load(log, every="15min", agg=SUMMED), want)


def test_summaries_are_invisible_to_other_readers_of_the_dataset(log, rows) -> None:
    """Derived data in the hidden state directory, not ``*.parquet``: DuckDB/Polars globs
    and hive readers count every sample once."""
    import polars as pl

    compact(log, before="2026-01-03")
    assert list((log / ".e2ckit" / "rollup").rglob("*.rollup"))
    assert not [p for p in log.rglob("*.parquet") if ".e2ckit" in p.parts]
    assert pl.scan_parquet(f"{log}/**/*.parquet", hive_partitioning=True).select(pl.len()).collect().item() == len(rows)


def test_a_slow_log_gets_no_summary(tmp_path) -> None:
    """A sample every two minutes: a summary of 5-minute buckets would hold about as
    many rows as the samples."""
    slow = truth_rows()
    t = slow["time"]
    slow = slow[(t.dt.second < 7) & (t.dt.minute % 2 == 0)].reset_index(drop=True)  # a cycle in two minutes
    write_log(tmp_path / "slow", slow)
    compact(tmp_path / "slow", before="2026-01-03")
    assert not list((tmp_path / "slow").rglob("*.rollup"))
    same(load(tmp_path / "slow", every="15min", agg=SUMMED), pandas_agg(slow, "15min", SUMMED))


def test_compacting_a_compacted_archive_again_reads_no_samples(log, rows, monkeypatch) -> None:
    """A daily ``compact`` over a long archive must not read every old day again."""
    compact(log, before="2026-01-03")
    reads = []
    real = pq.read_table
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    read_file = pq.ParquetFile.read  # compaction reads a part's samples through its ParquetFile
    monkeypatch.setattr(pq.ParquetFile, "read", lambda self, *a, **k: reads.append(self) or read_file(self, *a, **k))
    assert not any(r.file for r in compact(log, before="2026-01-03"))
    assert reads == []
    # a day whose summary is gone gets it back, reading that day only
    lost = sorted((log / ".e2ckit" / "rollup").rglob("*.rollup"))[0]
    lost.unlink()
    compact(log, before="2026-01-03")
    assert lost.exists() and len(reads) == 1


# -- the tidy read against pandas on the same rows -------------------------------------------------


def tidy_reference(data: pd.DataFrame, points=None, antennas=None, start=None, end=None, columns=None) -> pd.DataFrame:
    """What ``load`` must return for these filters: pandas alone, on the rows written."""
    df = data
    if points is not None:
        df = df[df["point"].isin([points] if isinstance(points, str) else points)]
    if antennas is not None:
        df = df[df["antenna"].str.startswith(antennas)]
    if start is not None:
        df = df[df["time"] >= start]
    if end is not None:
        df = df[df["time"] < end]
    df = df.sort_values(["time", "antenna", "point"], kind="stable", ignore_index=True)
    df = df.assign(latency_ms=df["latency_100us"] / 10.0, raw=None)
    wanted = [c for c in (columns or [c for c in LOAD_COLUMNS if c != "raw"]) if c not in ("time", "antenna", "point")]
    return df[["time", "antenna", "point", *wanted]]


@pytest.mark.parametrize("layout", ["parts", "compacted"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"columns": LOAD_COLUMNS},
        {"points": "FEMC.TEMP0"},
        {"points": ["CMPR.TEMP1", "FEMC.TEMP0", "NOT.LOGGED"], "antennas": "DV"},
        {"start": T0 + pd.Timedelta("70min"), "end": T0 + pd.Timedelta("150min") + pd.Timedelta("3s")},
        {"columns": ["value"]},
        {"columns": ["error", "status"], "points": "FEMC.CRYOSTAT_PRESSURE"},
    ],
)
def test_the_tidy_read_equals_pandas_on_the_rows_written(log, rows, layout, kwargs) -> None:
    """The tidy frame (the one reader, dictionaries straight to categoricals) holds
    exactly the rows pandas selects from what was written, in (time, antenna, point)
    order, with categoricals, float64 numbers and the units; a file of another tool
    (ns times, not named part-*) is read with the rest."""
    if layout == "compacted":
        compact(log, before="2026-01-03")
    d = log / "date=2026-01-02" / "antenna=DV01"  # and a file of another tool, ns times
    extra = rows[(rows.antenna == "DV01")].iloc[:5].assign(time=lambda x: x.time + pd.Timedelta("1D"))
    t = _file_table(extra)
    pq.write_table(t.set_column(0, pa.field("time", pa.timestamp("ns", tz="UTC")), t["time"].cast(pa.timestamp("ns", tz="UTC"))),
                   d / "from-another-tool.parquet")  # fmt: skip
    got = load(log, **kwargs)
    want = tidy_reference(pd.concat([rows, extra], ignore_index=True), **kwargs)
    assert len(got) == len(want) > 0
    assert list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(got["time"].dt.as_unit("us").to_numpy(), want["time"].dt.as_unit("us").to_numpy())
    for c in got.columns[1:]:
        if c in ("antenna", "point", "unit", "status", "error"):
            assert str(got[c].dtype) == "category", c
            norm = lambda col: [None if pd.isna(v) else v for v in col]  # noqa: E731
            assert norm(got[c].astype(object)) == norm(want[c]), c
        elif c == "raw":
            assert got[c].isna().all()
        else:
            assert got[c].dtype == np.float64, c
            np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy().astype(float))
    units = {p: u for p, u in POINTS if p in set(want["point"])} if "unit" in got.columns else {}
    assert got.attrs["units"] == units


def test_the_tidy_read_leaves_numpys_huge_page_setting_as_it_found_it(log) -> None:
    """The read changes no process-wide setting (an earlier version switched numpy's
    huge-page hint off while it built the frame): the caller's is there afterwards."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    if not hasattr(multiarray, "_get_madvise_hugepage"):
        pytest.skip("this numpy has no huge-page switch")
    before = multiarray._get_madvise_hugepage()
    try:
        for setting in (True, False):
            multiarray._set_madvise_hugepage(setting)
            assert len(load(log, points="FEMC.TEMP0"))
            assert multiarray._get_madvise_hugepage() is setting
    finally:
        multiarray._set_madvise_hugepage(before)


def test_a_day_flushed_in_one_part_is_compacted_too(tmp_path, rows, summed) -> None:
    """A day written in a single part (an accelerated simulation flushes once) ends in
    the compacted layout with its summary, like a day of many parts; it reads the same."""
    root = tmp_path / "once"
    write_log(root, rows, per_hour=False)
    before = load(root)
    done = compact(root, before="2026-01-03")
    assert all(r.file and r.files_before == 1 for r in done) and len(done) == 2 * len(ANTS)
    for f in root.rglob("*-compact-*.parquet"):
        assert pq.read_schema(f).metadata[compaction_mod.LAYOUT_KEY] == compaction_mod.LAYOUT
    frame_equal(load(root), before)
    same(load(root, every="15min", agg=SUMMED), pandas_agg(rows, "15min", SUMMED))
    assert summed == [2 * len(ANTS)]
    assert not any(r.file for r in compact(root, before="2026-01-03"))  # and then nothing to do


def test_a_summary_that_cannot_be_written_does_not_stop_the_compaction(log, rows, monkeypatch) -> None:
    """A full disk when the summary is written: the day is compacted all the same, reads
    right from its samples, and the next compact writes the summary."""
    import errno

    from e2ckit.logger import summaries as rollup

    real = rollup.write

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rollup, "write", full)
    assert all(r.file for r in compact(log, before="2026-01-03"))
    assert not list(log.rglob("*.rollup"))
    same(load(log, every="15min", agg=SUMMED), pandas_agg(rows, "15min", SUMMED))
    monkeypatch.setattr(rollup, "write", real)
    compact(log, before="2026-01-03")
    assert len(list(log.rglob("*.rollup"))) == 2 * len(ANTS)
    same(load(log, every="15min", agg=SUMMED), pandas_agg(rows, "15min", SUMMED))
