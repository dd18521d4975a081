"""Which files are the dataset: partitions, part files and the one admission rule.

Every path that reads the dataset (``load`` on a local directory or on object
storage, ``log compact``) lists it through here and admits a file by the same rule:

* **name and place**: ``date=YYYY-MM-DD/antenna=NAME/*.parquet``, a real date
  (``date=2026-13-45`` is skipped with a warning naming it), no hidden (``.``) or
  ``_`` file, not an input a compacted file of the partition replaces
  (``e2ckit.replaces``: a compaction that crashed between its rename and its deletions)
  nor a part or fold whose segments a fold of the partition covers (:func:`folded`:
  its name says so, no footer is read);
* **schema** (:func:`admit`): every column of the file schema with its type and no newer
  schema version, checked on the footer the reader opens anyway (whatever the file is
  named: a foreign file named ``part-*.parquet`` is refused like any other);
* anything refused is skipped with an :class:`UnreadableFileWarning` naming the file
  and the reason, and none of its rows reach a frame.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from e2ckit.errors import UnreadableFileWarning, ValidationError
from e2ckit.logformat.schema import ANT_RE, DATE_RE, foreign_reason, span

#: the key of a compacted file's metadata naming the parts it replaces
REPLACES_KEY = b"e2ckit.replaces"


def warn_skip(what: Any, reason: str, *, verb: str = "skipping") -> None:
    """The one warning for anything refused: ``e2ckit: skipping <what>: <reason>``."""
    warnings.warn(f"e2ckit: {verb} {what}: {reason}", UnreadableFileWarning, stacklevel=3)


def utc(t: Any, name: str) -> Any:
    """``t`` (anything pandas reads as a time; naive means UTC) as an aware UTC
    ``pandas.Timestamp`` (nanoseconds kept), or None."""
    if t is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(t)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name}={t!r} is not a time: {exc}") from None
    if ts is pd.NaT:
        raise ValidationError(f"{name}={t!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def day_of(name: str) -> str | None:
    """The date of a ``date=YYYY-MM-DD`` directory name when it is a real date."""
    m = DATE_RE.match(name)
    if not m:
        return None
    try:
        date.fromisoformat(m.group(1))
    except ValueError:
        return None
    return m.group(1)


def in_days(day: str, days: tuple[date | None, date | None]) -> bool:
    lo, hi = days
    d = date.fromisoformat(day)
    return (lo is None or d >= lo) and (hi is None or d <= hi)


def partitions(root: Path, days: tuple[date | None, date | None] = (None, None),
               keep_antenna: Callable[[str], bool] | None = None) -> Iterator[tuple[str, str, Path]]:  # fmt: skip
    """(date, antenna, directory) of every partition under ``root``, pruned by path; a
    ``date=`` directory that is not a real date is skipped with a warning naming it."""
    try:
        top = sorted(root.iterdir()) if root.is_dir() else []
    except FileNotFoundError:
        top = []
    for ddir in top:
        if not DATE_RE.match(ddir.name) or not ddir.is_dir():
            continue
        day = day_of(ddir.name)
        if day is None:
            warn_skip(ddir, "not a date (date=YYYY-MM-DD)", verb="skipping directory")
            continue
        if not in_days(day, days):
            continue
        try:
            inner = sorted(ddir.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for adir in inner:
            ma = ANT_RE.match(adir.name)
            if ma and adir.is_dir() and (keep_antenna is None or keep_antenna(ma.group(1))):
                yield day, ma.group(1), adir


def candidates(names: list[str]) -> list[str]:
    """The names in a partition a reader would count: ``*.parquet``, not hidden."""
    return sorted(n for n in names if n.endswith(".parquet") and not n.startswith((".", "_")))


def spans(names: Iterable[str]) -> dict[str, list[tuple[int, int, int, str]]]:
    """The parts and folds among ``names`` by session: (lo, hi, level, name), by ``lo``."""
    out: dict[str, list[tuple[int, int, int, str]]] = {}
    for n in names:
        s = span(posixpath.basename(n))
        if s is not None:
            out.setdefault(s[0], []).append((s[1], s[2], s[3], n))
    for runs in out.values():
        runs.sort()
    return out


def folded(names: Iterable[str]) -> set[str]:
    """The names among ``names`` (one partition's) that a fold among them covers: a part
    or fold of the same session whose segments lie inside the fold's ``lo..hi`` (what a
    fold that crashed between its rename and its deletions left). Names alone decide."""
    gone: set[str] = set()
    for runs in spans(names).values():
        for lo, hi, level, _name in runs:
            if level:  # a fold: what lies inside its span (itself excepted) is replaced
                gone |= {n for lo2, hi2, _l, n in runs if lo <= lo2 and hi2 <= hi and (lo2, hi2) != (lo, hi)}
    return gone


def covers(names: Iterable[str], session: str, seq: int) -> bool:
    """Whether a partition holding ``names`` has the rows of segment ``session-seq``: its
    part, or a fold whose span holds it (how a replay and a reader of segments know)."""
    for lo, hi, _level, _n in spans(names).get(session, []):
        if lo <= seq <= hi:
            return True
    return False


def replaced(paths: list[str], read_meta: Callable[[str], dict[bytes, bytes] | None]) -> set[str]:
    """The paths among ``paths`` (one partition's candidates) that a compacted file or a
    fold of the partition replaces (a crash between its rename and its deletions, or
    rows logged for the day after it was compacted). A fold replaces by its name
    (:func:`folded`); only a partition holding a compacted file *and* other files needs
    a footer read (``read_meta(path)``)."""
    gone = folded(paths)
    compacted = [p for p in paths if "-compact-" in posixpath.basename(p)]
    if not compacted or len(paths) == len(compacted) == 1:
        return gone
    for p in compacted:
        with contextlib.suppress(Exception):
            names = json.loads((read_meta(p) or {}).get(REPLACES_KEY, b"[]"))
            if isinstance(names, list):
                gone |= {posixpath.join(posixpath.dirname(p), n) for n in names if isinstance(n, str)}
    return gone


def local_meta(path: str) -> dict[bytes, bytes] | None:
    """A local parquet file's key-value metadata (its footer only)."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).metadata


def part_files(directory: Path) -> list[Path]:
    """The candidate files of one local partition (admitted by name and place; their
    schema is checked when they are opened, :func:`admit`)."""
    try:
        names = candidates(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    paths = [str(directory / n) for n in names]
    gone = replaced(paths, local_meta)
    return [Path(p) for p in paths if p not in gone]


def admit(schema: pa.Schema) -> str | None:
    """Why a file with this (Arrow) schema is refused, None when it is a part of the log."""
    return foreign_reason(schema)
