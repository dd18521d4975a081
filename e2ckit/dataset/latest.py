"""The last cycles of each antenna's log, counted in the logger's own order (not in wall
time, which steps): what a "now" derived from a log may use (issue 22).

The order of cycles is the order they were appended: a running logger's write-ahead
segment holds the newest; before it, its parts, newest written last (their modification
times), each holding its cycles in the order they ran (a part is one segment's rows of
one antenna, as appended; a fold holds a run of one session's parts, in order, and comes
before that session's later parts whenever it was written). A cycle's rows share one stamp (the cycle's slot), so the
cycles are the runs of equal ``time`` in that order, even across a backward step of the
wall clock. Compacted files (closed days, sorted by point then time) come before any part
and are ordered by time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.dataset import live, reader
from e2ckit.dataset.loader import _point_names, antenna_filter
from e2ckit.errors import ValidationError
from e2ckit.logformat.files import part_files, partitions
from e2ckit.logformat.schema import FILE_SCHEMA, span

if TYPE_CHECKING:
    import pandas as pd


def latest(path: str | os.PathLike[str], cycles: int = 2, *, antennas: Any = None, points: Any = None) -> pd.DataFrame:
    """The rows of each antenna's last ``cycles`` logged cycles, newest first by antenna:
    the tidy columns of :func:`~e2ckit.dataset.load` (``latency_ms`` in ms) plus ``cycle``
    (0 the newest, 1 the one before, ...), counted in the logger's order of appending,
    not by their stamps (a stepped wall clock cannot make an old reading look new).
    ``antennas``/``points`` filter as in ``load``. Nothing is written."""
    import pandas as pd

    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ValidationError(f"cycles must be a whole number, 1 or more; got {cycles!r}")
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"no log at {root}: not a directory")
    keep, names = antenna_filter(antennas), _point_names(points)
    pending = live.Pending(root)  # before the listing, as load does
    days: dict[str, list[tuple[str, Path]]] = {}
    for day, antenna, d in partitions(root, keep_antenna=keep):
        days.setdefault(antenna, []).append((day, d))
    unflushed = {a: t for (_day, a), t in sorted(pending.missing(_listed(days)).items())}
    frames = []
    for antenna in sorted(set(days) | {a for a in unflushed if keep(a)}):
        tables = _newest_first(days.get(antenna, []), unflushed.get(antenna), cycles)
        frame = _last_cycles(tables, cycles, names)
        if frame is not None:
            frames.append(frame.assign(antenna=antenna))
    cols = ["time", "antenna", "point", "value", "unit", "status", "error", "latency_ms", "cycle"]
    if not frames:
        return pd.DataFrame({c: [] for c in cols})
    out = pd.concat(frames, ignore_index=True)[cols]
    return out.astype({c: "category" for c in ("antenna", "point", "unit", "status", "error")})


def _listed(days: dict[str, list[tuple[str, Path]]]) -> dict[tuple[str, str], list[Path]]:
    return {(day, a): part_files(d) for a, ds in days.items() for day, d in ds}


def _newest_first(days: list[tuple[str, Path]], unflushed: Any, cycles: int) -> list[Any]:
    """An antenna's tables, newest first, read until they hold more than ``cycles`` stamps."""
    out = [] if unflushed is None else [unflushed]
    stamps = set() if unflushed is None else set(unflushed["time"].to_pylist())
    need = FILE_SCHEMA.names
    for f in _files_newest_first(days):
        if len(stamps) > cycles:
            return out
        try:
            t = reader.read_file(f, need, None, None, None)
        except reader.Vanished:
            continue  # compacted meanwhile: its rows are in the compacted file
        if t is None:
            continue
        if "-compact-" in f.name:
            t = t.sort_by("time")
        out.append(t)
        stamps |= set(t["time"].to_pylist())
    return out


def _files_newest_first(days: list[tuple[str, Path]]) -> Iterator[Path]:
    """An antenna's files, newest rows first. The parts of the newest days not compacted
    yet are ordered together, by appending order (a backward step of the wall clock
    across midnight puts the newest cycles in the day before); then compacted files,
    a day at a time."""
    ordered = sorted(days, reverse=True)
    parts: list[Path] = []
    compacted: list[Path] = []
    split = len(ordered)  # where the compacted days begin
    for i, (_day, d) in enumerate(ordered):
        files = part_files(d)
        loose = [f for f in files if "-compact-" not in f.name]
        if files and not loose:
            split = i  # a compacted day: the days before it are compacted too (read below)
            break
        parts += loose
        compacted += [f for f in files if f not in loose]
    yield from _newest_parts(parts)
    yield from compacted
    for _day, d in ordered[split:]:
        yield from part_files(d)


def _newest_parts(files: list[Path]) -> list[Path]:
    """Parts and folds, newest rows first: a session's by its segments (a fold written
    late still holds segments older than the parts after it), sessions (and files of
    no session) by when their newest file was written."""
    groups: dict[str, list[tuple[int, Path]]] = {}
    for f in files:
        s = span(f.name)
        groups.setdefault(s[0] if s else f"\0{f.name}", []).append((s[2] if s else 0, f))
    newest = {k: max(_written(f) for _, f in v) for k, v in groups.items()}
    out: list[Path] = []
    for k in sorted(groups, key=lambda k: newest[k], reverse=True):
        out += [f for _, f in sorted(groups[k], key=lambda x: x[0], reverse=True)]
    return out


def _written(f: Path) -> tuple[int, str]:
    try:
        return f.stat().st_mtime_ns, f.name
    except OSError:
        return 0, f.name


def _last_cycles(tables: list[Any], cycles: int, names: list[str] | None) -> pd.DataFrame | None:
    """The rows of the last ``cycles`` runs of equal ``time`` (tables newest first, each
    in appended order), with their ``cycle`` number."""
    import pyarrow as pa

    if not tables:
        return None
    ordered = pa.concat_tables([t.select(FILE_SCHEMA.names).cast(FILE_SCHEMA.remove_metadata()) for t in reversed(tables)])
    df = ordered.to_pandas()
    run = (df["time"] != df["time"].shift()).cumsum()
    df["cycle"] = run.max() - run
    df = df[df["cycle"] < cycles]
    if names is not None:
        df = df[df["point"].isin(names)]
    df = df.assign(latency_ms=df["latency_100us"].astype("float64") / 10.0).drop(columns=["latency_100us", "raw"])
    return df.sort_values(["cycle", "point"], ascending=[True, True], kind="stable")
