"""Issue 26: random damage to a dataset, then random queries. ``load`` never raises
anything but a documented error, never returns a row twice, never returns a row of a
file it warned about, and loses no row of an undamaged file; ``log compact`` never loses
an acknowledged (readable) row. The dataset is one part an hour, or many small parts,
folded (the logger's minor compaction) or with a fold killed at a random step."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_query import truth_rows, write_log

import e2ckit
from e2ckit.logformat.files import folded
from e2ckit.logger import UnreadableFileWarning, compact
from e2ckit.logger import fold as fold_mod

ROWS = truth_rows(seed=11)
DAMAGE = st.lists(
    st.tuples(st.sampled_from(["truncate", "junk_file", "junk_dir", "foreign", "journal", "vanish", "rename"]),
              st.integers(0, 10_000), st.integers(1, 400)),  # fmt: skip
    max_size=5,
)
JOURNALS = ["{}", "[]", "3", '"x"', '{"dir": 1}', '{"dir": "..", "tmp": "a", "file": "b", "inputs": "c"}', "{"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "log"
    write_log(root, ROWS)
    return root


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    """The same rows as a logger flushing every 6 minutes writes them (40 parts an antenna)."""
    from test_query import _file_table

    from e2ckit.logger.store import write_part

    root = tmp_path_factory.mktemp("fuzz-many") / "log"
    flush = ROWS["time"].dt.floor("6min")
    for seq, (_, chunk) in enumerate(ROWS.groupby(flush, sort=True), start=1):
        for (day, antenna), part in chunk.groupby([chunk["time"].dt.strftime("%Y-%m-%d"), "antenna"]):
            write_part(root, day, antenna, _file_table(part.sort_values(["time", "point"])), "ccccdddd", seq)
    return root


class _Killed(BaseException):
    """A fold stopped at a step, as a kill would (what it did so far stays)."""


def _fold(root: Path, layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``folded``: every partition folded; ``killed-<step>``: the first fold stopped at that step."""
    if layout == "folded":
        compact(root, before="2000-01-01")  # every day open: folded
        return
    step = layout.removeprefix("killed-")

    def kill(at: str) -> None:
        if at == step:
            raise _Killed(at)

    monkeypatch.setattr(fold_mod, "_step", kill)
    d = sorted(root.glob("date=*/antenna=*"))[-1]
    with pytest.raises(_Killed):
        fold_mod.fold_partition(d)
    monkeypatch.undo()


def _key(df: pd.DataFrame) -> set[tuple]:
    """(time, antenna, point) of every row, the time as UTC nanoseconds (plain Python
    values hash ten times faster than Timestamps)."""
    assert str(df["time"].dt.tz) == "UTC", df["time"].dtype
    ns = df["time"].dt.as_unit("ns").astype("int64").tolist()
    return set(zip(ns, df["antenna"].astype(str).tolist(), df["point"].astype(str).tolist(), strict=True))


ALL = _key(ROWS)  # every row written, keyed as ``_key`` keys them (computed once)
assert len(ALL) == len(ROWS), "a row's key is unique: the rows a damage leaves are ALL less the keys it destroyed"


def _rows_of(f: Path) -> set[tuple]:
    """The keys of a part's rows (as ``_key``'s); none for a part an earlier op already damaged."""
    try:
        t = pq.read_table(f)
        ns = t["time"].cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_pylist()
    except Exception:  # noqa: BLE001 - already cut short: its rows were counted lost then
        return set()
    antenna = f.parent.name.split("=", 1)[1]
    return {(tm, antenna, p) for tm, p in zip(ns, t["point"].to_pylist(), strict=True)}


def _leftovers_of(f: Path) -> set[str]:
    """The names a fold ``f`` hides beside it (a fold killed while deleting its inputs)."""
    names = [p.name for p in f.parent.glob("part-*.parquet")]
    return folded(names) - folded(n for n in names if n != f.name)


def _damage(root: Path, ops: list[tuple[str, int, int]]) -> set[tuple]:
    """Apply ``ops``; return the keys of the rows they destroyed."""
    lost: set[tuple] = set()
    for op, pick, size in ops:
        parts = sorted(root.rglob("part-*.parquet"))
        f = parts[pick % len(parts)] if parts else None
        if f is not None and f.name in folded(p.name for p in f.parent.glob("part-*.parquet")):
            # what a killed fold left beside the fold holding its rows: no reader reads
            # it, so damaging it loses nothing (renamed by hand it would stop being a
            # leftover and count twice: not damage we model)
            if op == "truncate":
                f.write_bytes(f.read_bytes()[:-size])
            elif op == "vanish":
                f.unlink()
            if op in ("truncate", "vanish", "rename"):
                continue
        hidden = _leftovers_of(f) if f is not None else set()
        if op == "rename" and hidden:
            continue  # a fold renamed by hand beside its leftovers: both count, as above
        if op == "truncate" and f is not None:
            lost |= _rows_of(f)
            data = f.read_bytes()
            f.write_bytes(data[: max(0, len(data) - size)])
        elif op == "vanish" and f is not None:
            # a fold gone from beside its leftovers: they are parts again, and what they
            # hold is still there (a leftover cut short earlier holds nothing readable)
            back = set().union(*(_rows_of(f.parent / n) for n in hidden))
            lost |= _rows_of(f) - back
            f.unlink()
        elif op == "rename" and f is not None:  # a part under another name: still the log's (same schema)
            f.rename(f.with_name(f"renamed-{pick}-{f.stem}.parquet"))  # (a name of its own: a rename never replaces)
        elif op == "junk_file":
            d = f.parent if f is not None else root
            (d / f"junk-{pick}.parquet").write_bytes(bytes(size))
        elif op == "junk_dir":
            (root / f"date=2026-{pick % 20:02d}-{size % 40:02d}" / "antenna=XX01").mkdir(parents=True, exist_ok=True)
            (root / f"date=2026-{pick % 20:02d}-{size % 40:02d}" / "antenna=XX01" / "part-x.parquet").write_bytes(b"PAR1")
        elif op == "foreign" and f is not None:
            pq.write_table(pa.table({"time": [1, 2], "point": ["a", "b"]}), f.parent / f"part-20260101T000000000000Z-0000000{pick % 10}-000001.parquet")
        elif op == "journal":
            (root / ".e2ckit").mkdir(exist_ok=True)
            (root / ".e2ckit" / "compact.json").write_text(JOURNALS[pick % len(JOURNALS)])
    return lost


QUERIES = st.sampled_from([{}, {"points": "FEMC.TEMP0"}, {"antennas": "DV"}, {"every": "10min", "agg": ["count", "mean"]},
                           {"start": "2026-01-01T23:00Z", "end": "2026-01-02T01:00Z"}, {"every": "5min", "agg": "count"}])  # fmt: skip


LAYOUTS = st.sampled_from(["hourly", "many", "folded", "killed-written", "killed-renamed", "killed-deleting"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=DAMAGE, query=QUERIES, compacted=st.booleans(), layout=LAYOUTS)
def test_random_damage_never_lies(template, many, tmp_path, monkeypatch, ops, query, compacted, layout) -> None:
    import tempfile

    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "log"
    shutil.copytree(template if layout == "hourly" else many, root)
    if layout not in ("hourly", "many"):
        _fold(root, layout, monkeypatch)
    if compacted:
        compact(root, before="2026-01-02")  # a compacted day beside a day of parts
    lost = _damage(root, ops)
    want = ALL - lost  # the keys of the rows no op destroyed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableFileWarning)
        try:
            tidy = e2ckit.load(root)
        except e2ckit.ValidationError:
            return  # a documented error (e.g. nothing left that is a log)
        assert not tidy.duplicated(["time", "antenna", "point"]).any()
        got = _key(tidy)
        assert got <= ALL, "a row that was never written"
        assert got == want, "a readable row lost, or a row of a damaged file returned"
        e2ckit.load(root, **query)  # any query answers (or raises a documented error)
        compact(root, before="2026-01-03")
        after = e2ckit.load(root)
    assert _key(after) == got, "compaction lost or added a row"
