"""Benchmark: reading a full-array log back — ``e2ckit.load`` beside DuckDB and Polars.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_load.py [--data DIR] [--week] [--repeat 3]
        [--hours 6] [--layout fresh|upgraded] [--base DIR] [--many] [--trend]

The issue-21 figures: a 6-hour full-array day, fresh and upgraded, against the baseline::

    git archive 1b2fb37 | (mkdir -p /tmp/base && tar -x -C /tmp/base)
    .venv/bin/python benchmarks/bench_load.py --hours 6 --layout fresh --repeat 5 --base /tmp/base --many
    .venv/bin/python benchmarks/bench_load.py --hours 6 --layout upgraded --data /tmp/e2ckit-bench-up --repeat 5 --base /tmp/base

**The data.** A synthetic full-array log in exactly the logger's layout and schema:
66 antennas (DA41–DA65, DV01–DV25, CM01–CM12, PM01–PM04) × the 45 points of ``cryo``
+ ``cmpr`` at 1 Hz (256.6 M samples a day): cycle times on the 1 s grid as the
logger stamps them (0.1 % of the cycles started late and carry their actual start),
float32-valued random walks with noise, a latency per request, 0.5 % failed readings
(value null, ``error`` set). Each antenna-day is written by the compaction
writer itself (:func:`e2ckit.logger.compaction.arrange` and ``options``, through
:func:`e2ckit.logger.store.write_atomic`), so the files are what ``compact`` leaves:
sorted by (point, time), one row group per point. ``--hours`` logs only the first hours
of the day; ``--layout upgraded`` writes each antenna-day as an older e2ckit's compaction
did (sorted by time, 1 M-row row groups mixing every point, no summary) and then runs
``compact``, as a user's archive is upgraded. Generated once and cached in
``--data`` (default: ``$TMPDIR/e2ckit-bench-load``); ``--week`` adds six more days. The
cache is regenerated when it was made by another version of this generator or with
another compaction setting (``bench-format.json`` says which).

**The queries**, each in its own subprocess (wall time and peak RSS from
``resource.getrusage``), interleaved over engines, median of ``--repeat`` runs:

1. one point (FEMC.TEMP0), all antennas, the whole day (5.7 M rows);
2. the same point for the DV antennas, a 2-hour window (180 k rows);
3. its 1-minute mean/min/max per antenna over the day;
4. (``--week``) its 1-minute mean per antenna over the week;
5. (``--week``) its 15-minute min/max/mean/count over the week: what a week's trend
   panel asks (e2ckit reads the compacted days' 5-minute summaries; DuckDB and Polars
   the samples).

DuckDB and Polars read the same files with hive partitioning and end in the same pandas
frame as e2ckit (strings as categoricals); e2ckit's bytes per row are shown. ``--base
DIR`` runs the e2ckit of a baseline checkout beside this one (first on the children's
``PYTHONPATH``), so the floor "no slower than the baseline" is measured in one run.
``--many`` (``--many-only``: nothing else): a day of 10,000 one-row cycles of one
antenna written through the logger's store flushing every cycle, as an e2ckit without
folding left it (10,000 parts), as this logger leaves it (folded as it goes), and those
10,000 parts after ``log compact`` folded them; loaded by this e2ckit (and the baseline),
and the cost of a flush with and without folding; goal (#26) <= 2 s. Goals (#16): query 1 ≤ 1 s and within 1.2× of the
faster engine; query 3 within 1.2× of the faster, under 0.5 GB; query 4 ≤ 5 s;
result frames ≤ 40 bytes per row.

``--trend`` adds the panels' goal: ``TrendPanel(DIR, [FEMC.TEMP0])`` over every
antenna and the whole log (the week with ``--week``), built and drawn in a child
process, median of ``--repeat`` runs, and the most points any line holds. Goal (#16):
≤ 2 s for the week, ≤ 4,000 points a line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ANTENNAS = (
    [f"DA{n}" for n in range(41, 66)] + [f"DV{n:02d}" for n in range(1, 26)]
    + [f"CM{n:02d}" for n in range(1, 13)] + [f"PM{n:02d}" for n in range(1, 5)]
)  # fmt: skip
POINT = "FEMC.TEMP0"
DAY0 = date(2026, 3, 1)


# -- the data -------------------------------------------------------------------------------


def _points() -> list[tuple[str, str]]:
    from e2ckit.catalog import default_catalog

    cat = default_catalog()
    return [(p.name, p.unit) for g in ("cryo", "cmpr") for p in cat.resolve(g)]


def antenna_day(day: date, antenna: str, seed: int, seconds: int = 86400):
    """One antenna's day as the file schema holds it (rows in cycle order)."""
    import numpy as np
    import pyarrow as pa

    from e2ckit.logformat.schema import FILE_SCHEMA

    day_rng = np.random.default_rng(day.toordinal())  # the cycle times: one stamp for every antenna
    rng = np.random.default_rng(seed)
    points = _points()
    n_p = len(points)
    t0 = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1e6)
    # the cycles as the logger stamps them: on the 1 s grid (a cycle that starts within a
    # tenth of its interval of its slot is stamped with the slot), except the few that
    # started later than that (a busy host), stamped with their actual start
    cycle_t = t0 + np.arange(seconds, dtype=np.int64) * 1_000_000
    late = day_rng.random(seconds) < 1e-3
    cycle_t[late] += day_rng.integers(100_000, 600_000, int(late.sum()))
    # point-major, as compaction sorts them (arrange sorts again: same order)
    time_col = np.tile(cycle_t, n_p)
    point_idx = np.repeat(np.arange(n_p, dtype=np.int32), seconds)
    # float32 readings (what the E2C sends) around a slowly drifting level: the logger
    # benchmark's model (relative noise 1e-3)
    base = rng.uniform(3, 300, n_p)
    drift = 1 + np.cumsum(rng.normal(0, 2e-5, (n_p, seconds)), axis=1)
    values = (base[:, None] * drift * (1 + rng.normal(0, 1e-3, (n_p, seconds)))).astype(np.float32).astype(np.float64).ravel()
    failed = rng.random(values.size) < 0.005
    # round trips in 0.1 ms steps around 1.2 ms (the logger benchmark's model)
    latency = np.clip(rng.normal(12, 3, values.size), 1, None).astype(np.uint16)
    names = pa.array([p for p, _ in points], pa.string())
    units = pa.array([u for _, u in points], pa.string())
    idx = pa.array(point_idx)
    return pa.table(
        {
            "time": pa.array(time_col, pa.timestamp("us", tz="UTC")),
            "point": names.take(idx),
            "value": pa.array(values, mask=failed),
            "unit": units.take(idx),
            "status": pa.array(np.where(failed, "timeout", "ok")),
            "error": pa.array(["E2C:TIMEOUT_ERROR"], pa.string()).take(pa.array(np.zeros(values.size, np.int32), mask=~failed)),
            "latency_100us": pa.array(latency, mask=failed),
            "raw": pa.nulls(values.size, pa.binary()),
        },
        schema=FILE_SCHEMA,
    )


#: bumped when the generated data changes (2: cycles stamped on the grid)
FORMAT = 2


def _fresh(data: Path, hours: int, layout: str) -> None:
    """Drop a cache made by another generator version, compaction setting or shape."""
    import shutil

    from e2ckit.logformat.schema import COMPACT_LEVEL, WRITE_OPTIONS

    marker = data / "bench-format.json"
    from e2ckit.logger.compaction import MIN_GROUP

    want = {"format": FORMAT, "compact_level": COMPACT_LEVEL, "options": repr(sorted(WRITE_OPTIONS.items())),
            "min_group": MIN_GROUP, "hours": hours, "layout": layout}  # fmt: skip
    try:
        have = json.loads(marker.read_text())
    except (OSError, ValueError):
        have = None
    if have != want:
        old = sorted(data.glob("date=*"))
        if old:
            print(f"  the cached data in {data} is of another format: regenerating it", flush=True)
        for d in old:
            shutil.rmtree(d)
        shutil.rmtree(data / ".e2ckit", ignore_errors=True)
        marker.write_text(json.dumps(want))


def generate(data: Path, days: int, hours: int = 24, layout: str = "fresh") -> None:
    """Write the days missing under ``data``: each antenna-day (its first ``hours``) as
    this version's compaction writes it (``layout="fresh"``), or as an older e2ckit's
    compaction did (``"upgraded"``: sorted by time, row groups of 1 M rows mixing every
    point, no summary), then upgraded by ``compact`` as a user's archive is."""
    from e2ckit.logger.lock import DatasetLock

    _fresh(data, hours, layout)
    # a writer holds the dataset's lock: a load() meanwhile reads around the temporary
    # files instead of settling them as a crashed writer's leftovers
    lock = DatasetLock(data, "bench_load.py generating data")
    lock.acquire()
    try:
        _generate(data, days, hours, layout)
    finally:
        lock.release()
    # days generated before summaries existed get theirs as any dataset does: compact
    from e2ckit.logger import compact

    t = time.perf_counter()
    done = [r for r in compact(data, before=DAY0 + timedelta(days=days)) if r.file]
    if done:
        print(f"  compact: {len(done)} antenna-days rewritten in {time.perf_counter() - t:.0f} s", flush=True)


def _old_layout(table, name: str):
    """``table`` (as :func:`compaction.arrange` returns it) as an older e2ckit's
    compaction wrote it: sorted by (time, point), without the layout key; its writer
    settings (1 M-row row groups) for :func:`write_atomic`."""
    from e2ckit.logformat.schema import COMPACT_LEVEL, FILE_SCHEMA, WRITE_OPTIONS

    table = table.sort_by([("time", "ascending"), ("point", "ascending")])
    table = table.replace_schema_metadata({**FILE_SCHEMA.metadata, b"e2ckit.replaces": b"[]"})
    return table, {**WRITE_OPTIONS, "compression_level": COMPACT_LEVEL, "row_group_size": 1 << 20}


def _generate(data: Path, days: int, hours: int = 24, layout: str = "fresh") -> None:
    from e2ckit.logger import compaction, summaries
    from e2ckit.logger.fsio import write_atomic

    for k in range(days):
        day = DAY0 + timedelta(days=k)
        t = time.perf_counter()
        done = 0
        for i, antenna in enumerate(ANTENNAS):
            d = data / f"date={day}" / f"antenna={antenna}"
            if d.is_dir() and any(n.endswith(".parquet") for n in os.listdir(d)):
                continue
            table, name = compaction.arrange(antenna_day(day, antenna, seed=k * 1000 + i, seconds=hours * 3600), [])
            if layout == "upgraded":
                old, opts = _old_layout(table, name)
                write_atomic(old, data, d, name, **opts)
            else:
                write_atomic(table, data, d, name, **compaction.options(table))
                summaries.write(data, str(day), antenna, name, table, source=d / name)  # as compaction does
            done += 1
        if done:
            print(f"  generated {day}: {done} antenna-days in {time.perf_counter() - t:.0f} s", flush=True)


def size(data: Path, days: int, hours: int = 24) -> tuple[int, int, float]:
    """Bytes of the samples, of their 5-minute summaries, and both per sample."""
    dates = [f"date={DAY0 + timedelta(days=k)}" for k in range(days)]
    samples = sum(f.stat().st_size for d in dates for f in (data / d).rglob("*.parquet"))
    summaries = sum(f.stat().st_size for d in dates for f in (data / ".e2ckit" / "rollup" / d).rglob("*.rollup"))
    return samples, summaries, (samples + summaries) / (days * len(ANTENNAS) * len(_points()) * 3600 * hours)


# -- the queries (run in a child process each) ---------------------------------------------------


#: the aggregating queries: bucket (minutes) and aggregates
AGGREGATES = {
    "agg": (1, ["mean", "min", "max"]),
    "week": (1, ["mean"]),
    "week15": (15, ["min", "max", "mean", "count"]),  # what a week's trend panel asks
}


def _window(query: str, hours: int = 24) -> tuple[datetime | None, datetime | None, list[str] | None]:
    d0 = datetime(DAY0.year, DAY0.month, DAY0.day, tzinfo=timezone.utc)
    if query == "window":  # 10:00-12:00 (the last two hours of a shorter log)
        w0 = d0 + timedelta(hours=min(10, max(hours - 2, 0)))
        return w0, w0 + timedelta(hours=2), [a for a in ANTENNAS if a.startswith("DV")]
    if query.startswith("week"):
        return d0, d0 + timedelta(days=7), None
    return d0, d0 + timedelta(days=1), None


def run_one(engine: str, query: str, data: Path, hours: int = 24) -> dict:
    """One query on one engine; returns seconds, rows, and (e2ckit) bytes per row."""
    lo, hi, ants = _window(query, hours)
    days = [(lo + timedelta(days=k)).date() for k in range((hi - lo).days or 1)]
    minutes, aggs = AGGREGATES.get(query, (None, []))
    # the libraries are imported before the clock starts, as in a notebook
    if engine == "e2ckit":
        import pandas  # noqa: F401
        import polars  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        try:  # the reader's engine (e2ckit.dataset since the writer/reader split)
            import e2ckit.dataset.query  # noqa: F401
        except ImportError:
            import e2ckit.logger.query  # noqa: F401
    elif engine == "duckdb":
        import duckdb  # noqa: F401
    else:
        import polars  # noqa: F401
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    c0 = cpu()
    t = time.perf_counter()
    bpr = None
    if engine == "e2ckit" and query == "many":
        import e2ckit

        df = e2ckit.load(data)
        rows = len(df)
        bpr = df.memory_usage(deep=True).sum() / max(rows, 1)
    elif engine == "e2ckit":
        import e2ckit

        kw = {"every": f"{minutes}min", "agg": aggs} if minutes else {}
        df = e2ckit.load(data, points=POINT, antennas=ants, start=lo, end=hi, **kw)
        rows = len(df)
        bpr = df.memory_usage(deep=True).sum() / max(rows, 1)
    elif engine == "duckdb":
        import duckdb

        globs = [f"{data}/date={d}/*/*.parquet" for d in days]
        where = f"point = '{POINT}' and time >= TIMESTAMPTZ '{lo.isoformat()}' and time < TIMESTAMPTZ '{hi.isoformat()}'"
        if ants:
            where += " and antenna in (" + ",".join(f"'{a}'" for a in ants) + ")"
        src = f"read_parquet({globs!r}, hive_partitioning=true)"
        if minutes:
            sql_aggs = ", ".join(f"{'avg' if a == 'mean' else a}(value) as {a}" for a in aggs)
            sql = (
                f"select time_bucket(interval {minutes} minute, time) as t, antenna, point, {sql_aggs} from {src} "
                f"where {where} and error is null group by all order by t, antenna, point"
            )
        else:
            sql = f"select time, antenna, point, value, unit, status, latency_100us from {src} where {where} order by time, antenna, point"
        con = duckdb.connect()
        con.execute("SET TimeZone='UTC'")
        rel = con.sql(sql)
        table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
        rows = len(_categorical_pandas(table))  # the same pandas frame as e2ckit's
    else:
        import polars as pl

        globs = [f"{data}/date={d}/*/*.parquet" for d in days]
        lf = pl.scan_parquet(globs, hive_partitioning=True)
        cond = (pl.col("point") == POINT) & (pl.col("time") >= lo) & (pl.col("time") < hi)
        if ants:
            cond = cond & pl.col("antenna").is_in(ants)
        lf = lf.filter(cond)
        if minutes:
            v = pl.col("value").filter(pl.col("error").is_null())
            exprs = [getattr(v, "count" if a == "count" else a)().alias(a) for a in aggs]
            lf = lf.group_by(pl.col("time").dt.truncate(f"{minutes}m"), "antenna", "point").agg(exprs)
            out = lf.sort("time", "antenna", "point").collect()
        else:
            out = lf.select("time", "antenna", "point", "value", "unit", "status", "latency_100us").sort("time", "antenna", "point").collect()
        rows = len(_categorical_pandas(out.to_arrow()))  # the same pandas frame as e2ckit's
    seconds = time.perf_counter() - t
    cpu_seconds = cpu() - c0  # every thread's: on a shared machine steadier than the wall clock
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    module = sys.modules["e2ckit"].__file__ if "e2ckit" in sys.modules else None
    return {"seconds": seconds, "cpu": cpu_seconds, "rows": rows, "rss_mb": rss, "bytes_per_row": bpr, "module": module}


def _categorical_pandas(table):
    """An engine's Arrow result as the pandas frame e2ckit returns: its string columns
    as categoricals (dictionary-encoded first, so pandas does not build Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or str(col.type) == "string_view":
            col = pc.dictionary_encode(pc.cast(col, pa.string()))
        cols[name] = col
    return pa.table(cols).to_pandas()


#: ``--base DIR``: the e2ckit at DIR (a checkout of the baseline, e.g. ``git archive
#: 1b2fb37``) measured beside this one, as the engine "base"
BASE: Path | None = None


def child(engine: str, query: str, data: Path, hours: int = 24) -> dict:
    env = dict(os.environ)
    if engine == "base":  # the baseline's e2ckit first on the path (before an editable install)
        env["PYTHONPATH"] = str(BASE)
        engine = "e2ckit"
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, query, "--data", str(data), "--hours", str(hours)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def many_parts(data: Path, n: int = 10_000, fold: bool = False) -> tuple[Path, dict]:
    """A day of ``n`` one-row cycles of one antenna written as a logger flushing every
    cycle writes them: through the logger's store (append, flush), one part a flush;
    ``fold=False`` as an e2ckit without folding left them (10,000 parts), ``fold=True``
    as this logger leaves them (folded as it goes). Cached, with the flushes' times."""
    import pyarrow as pa

    from e2ckit.logformat.schema import WAL_SCHEMA
    from e2ckit.logger.store import Store

    root = data.parent / (data.name + f"-{n}-{'folded' if fold else 'parts'}")
    d = root / f"date={DAY0}" / "antenna=DV01"
    stats = root / "bench-flushes.json"
    if d.is_dir() and stats.is_file():
        return root, json.loads(stats.read_text())
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    table = antenna_day(DAY0, "DV01", seed=1, seconds=n // 40 + 1).sort_by("time").slice(0, n)
    table = table.add_column(0, "antenna", pa.array(["DV01"] * n)).replace_schema_metadata(None).cast(WAL_SCHEMA)
    store = Store(root, "manyrows", "flush")
    if not fold:
        store.folder = None
    times = []
    t = time.perf_counter()
    for k in range(n):
        store.append(table.slice(k, 1).to_batches()[0])
        t1 = time.perf_counter()
        store.flush()
        times.append(time.perf_counter() - t1)
    store.close()
    out = {"mean_ms": 1e3 * statistics.mean(times), "median_ms": 1e3 * statistics.median(times),
           "p99_ms": 1e3 * sorted(times)[int(0.99 * n)], "max_ms": 1e3 * max(times),
           "files": len(os.listdir(d)), "folds": store.folder.folds if store.folder else 0,
           "load_average": os.getloadavg()[0]}  # fmt: skip
    stats.write_text(json.dumps(out))
    print(f"  wrote {n} one-row cycles ({'folding' if fold else 'not folding'}) in {time.perf_counter() - t:.0f} s", flush=True)
    return root, out


def folded_copy(root: Path) -> Path:
    """``root`` (a day of parts) copied and folded by ``e2ckit log compact`` as it folds a
    day still open (the fold of :mod:`e2ckit.logger.fold`, reading the parts back)."""
    import shutil

    from e2ckit.logger.fold import fold_partition

    out = root.parent / (root.name + "-compact-folded")
    d = out / f"date={DAY0}" / "antenna=DV01"
    if d.is_dir() and (out / "bench-fold.json").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(root, out)
    t = time.perf_counter()
    fold_partition(d)
    (out / "bench-fold.json").write_text(json.dumps({"seconds": time.perf_counter() - t}))
    return out


def run_trend(data: Path) -> dict:
    """The panels' goal: ``TrendPanel(DIR, [POINT])`` over every antenna and the whole
    log, built and drawn (the libraries imported first, as in a notebook)."""
    import matplotlib

    matplotlib.use("Agg")
    import ipywidgets  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401
    import polars  # noqa: F401

    from e2ckit.panels import TrendPanel

    t = time.perf_counter()
    panel = TrendPanel(str(data), [POINT])
    panel.figure.canvas.draw()
    seconds = time.perf_counter() - t
    # what a line holds: a min and a max per bucket (drawn as a line, or in the grey band
    # of the antennas not named)
    per_line = 2 * int(panel.data.groupby(["antenna", "point"], observed=True).size().max())
    named = [ln for ln in panel.figure.axes[0].get_lines() if (ln.get_gid() or "").startswith("antenna:")]
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds, "rss_mb": rss, "per_line": per_line, "named": len(named),
        "antennas": len(panel.antennas.value), "span": str(panel.end - panel.start),
    }  # fmt: skip


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "e2ckit-bench-load")
    ap.add_argument("--week", action="store_true", help="also generate and query a week")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trend", action="store_true", help="also time a TrendPanel over the data (panels' goal)")
    ap.add_argument("--hours", type=int, default=24, help="hours logged a day (24; the issue-21 figures: 6)")
    ap.add_argument("--layout", choices=["fresh", "upgraded"], default="fresh",
                    help="fresh: written by this compaction; upgraded: an older compaction's layout, then `compact`")
    ap.add_argument("--base", type=Path, help="a checkout of the baseline e2ckit, measured beside this one")
    ap.add_argument("--many", action="store_true", help="also load a day of 10,000 one-row parts (issue 26)")
    ap.add_argument("--many-only", action="store_true", help="only the day of 10,000 one-row parts")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "QUERY"), help=argparse.SUPPRESS)
    return ap.parse_args()


def _table(queries: list[tuple[str, str]], engines: list[str], results: dict[tuple[str, str], list[dict]]) -> None:
    names = {"e2ckit": "e2ckit", "base": "e2ckit@base", "duckdb": "DuckDB→pandas", "polars": "Polars→pandas"}
    header = ["query", "rows", *(names[e] for e in engines), "e2ckit / faster"]
    header += ["e2ckit / base", "CPU e2ckit / base"] if "base" in engines else []
    header += ["e2ckit peak RSS", "B/row"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for q, label in queries:
        med = {e: statistics.median(r["seconds"] for r in results[(q, e)]) for e in engines}
        rss = {e: statistics.median(r["rss_mb"] for r in results[(q, e)]) for e in engines}
        first = results[(q, "e2ckit")][0]
        faster = min(med["duckdb"], med["polars"])
        row = [label, f"{first['rows']:,}", *(f"{med[e]:.2f} s ({rss[e] / 1024:.2f} GB)" for e in engines),
               f"{med['e2ckit'] / faster:.2f}×"]  # fmt: skip
        if "base" in engines:  # CPU seconds (every thread's): steadier than wall time on a shared machine
            cpu = {e: statistics.median(r["cpu"] for r in results[(q, e)]) for e in ("e2ckit", "base")}
            row += [f"{med['e2ckit'] / med['base']:.2f}×", f"{cpu['e2ckit']:.2f} / {cpu['base']:.2f} s ({cpu['e2ckit'] / cpu['base']:.2f}×)"]
        row += [f"{rss['e2ckit'] / 1024:.2f} GB", f"{first['bytes_per_row']:.1f}"]
        print("| " + " | ".join(row) + " |")
    print(f"\n(times: medians of {len(results[(queries[0][0], 'e2ckit')])} interleaved runs, the engines taking "
          "turns going first, each query in its own process; DuckDB and Polars end in a pandas frame as e2ckit "
          "does; GB: peak RSS)")  # fmt: skip


def _many(args: argparse.Namespace) -> None:
    """Issue 26: a day of 10,000 one-row parts (a logger flushing every cycle)."""
    parts, plain = many_parts(args.data, fold=False)
    folded, folding = many_parts(args.data, fold=True)
    compacted = folded_copy(parts)
    fold_s = json.loads((compacted / "bench-fold.json").read_text())["seconds"]
    cases = [("10,000 parts on disk (an e2ckit without folding)", parts, plain["files"]),
             ("written by this logger (folding as it goes)", folded, folding["files"]),
             (f"those 10,000 parts after `log compact` folds them ({fold_s:.0f} s)", compacted,
              len(os.listdir(compacted / f"date={DAY0}" / "antenna=DV01")))]  # fmt: skip
    engines = ["e2ckit", *(["base"] if args.base else [])]
    print(f"\na day of 10,000 one-row cycles of one antenna (goal #26: <= 2 s); load average {os.getloadavg()[0]:.2f}")
    header = ["the day", "files", *(("e2ckit@base" if e == "base" else "e2ckit") for e in engines)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, root, files in cases:
        runs = {e: [child(e, "many", root)["seconds"] for _ in range(args.repeat)] for e in engines}
        cells = [f"{statistics.median(runs[e]):.2f} s" for e in engines]
        print("| " + " | ".join([label, f"{files:,}", *cells]) + " |")
    print(f"(medians of {args.repeat}, each load in its own process; load average after {os.getloadavg()[0]:.2f})")
    print("\nthe logger's flush of one cycle (one part), 10,000 flushes: mean / median / p99 / max")
    for label, st in (("not folding", plain), ("folding", folding)):
        print(f"  {label:12s} {st['mean_ms']:.2f} / {st['median_ms']:.2f} / {st['p99_ms']:.1f} / {st['max_ms']:.1f} ms"
              f"  ({st['folds']} folds, {st['files']} files left; load average {st['load_average']:.2f})")


def _trend(args: argparse.Namespace) -> None:
    runs = [child("e2ckit", "trend", args.data) for _ in range(args.repeat)]
    r = runs[0]
    each = ", ".join(f"{x['seconds']:.2f}" for x in runs)
    print(
        f"TrendPanel({POINT}) over the whole log ({r['span']}, {r['antennas']} antennas), built and drawn: "
        f"{statistics.median(x['seconds'] for x in runs):.2f} s (median of {len(runs)}, each in its own "
        f"process; runs {each}), at most {r['per_line']} points a "
        f"line ({r['named']} antennas named, the rest in the band), peak RSS {statistics.median(x['rss_mb'] for x in runs) / 1024:.2f} GB"
    )


def main() -> None:
    global BASE
    args = _args()
    BASE = args.base
    if args.child:
        engine, query = args.child
        print(json.dumps(run_trend(args.data) if query == "trend" else run_one(engine, query, args.data, args.hours)))
        return
    days = 7 if args.week else 1
    args.data.mkdir(parents=True, exist_ok=True)
    if args.many_only:
        _many(args)
        return
    print(f"data: {args.data} ({args.hours} h a day, {args.layout}); load average {os.getloadavg()[0]:.2f}")
    generate(args.data, days, args.hours, args.layout)
    samples, summaries, per = size(args.data, days, args.hours)
    print(
        f"on disk: {(samples + summaries) / 1e6:.0f} MB for {days} day(s) ({samples / 1e6:.0f} MB of samples, "
        f"{summaries / 1e6:.1f} MB of 5-minute summaries), {per:.2f} bytes per sample\n"
    )
    queries = [
        ("point", "one point, all antennas, whole log"),
        ("window", "the same, DV antennas, a 2-hour window"),
        ("agg", "1-min mean/min/max per antenna, the whole log"),
    ] + ([("week", "1-min mean per antenna, one point, the week"),
          ("week15", "15-min min/max/mean/count, the week (a week's panel)")] if args.week else [])  # fmt: skip
    engines = ["e2ckit", *(["base"] if args.base else []), "duckdb", "polars"]
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.repeat):
        for q, _label in queries:
            # the engines take turns going first: on this shared machine a process that
            # follows one which kept both cores busy often runs slower
            k = r % len(engines)
            for e in engines[k:] + engines[:k]:
                results.setdefault((q, e), []).append(child(e, q, args.data, args.hours))
    if args.base:
        assert str(args.base) in (results[("point", "base")][0]["module"] or ""), "the baseline was not imported"
    _table(queries, engines, results)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.many:
        _many(args)
    if args.trend:
        _trend(args)


if __name__ == "__main__":
    main()
