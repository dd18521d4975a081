"""Folding: a partition's small parts merged into larger ones as the logger goes.

A logger flushing often writes a part per antenna at every flush (every cycle at the
extreme: 86,400 one-row files an antenna-day), and a reader pays for every file it
opens (0.7 ms each: 7 s for 10,000 one-row parts). So, like an LSM tree's minor
compaction, the writer folds them: when a session has :data:`FANOUT` consecutive files
of one level in a partition (parts are level 0), their rows become one *fold* of the
next level, ``part-<first time>-<session>-<lo>-<hi>-f<level>.parquet``, whose name
says which segments' rows it holds. A partition then holds at most about
``FANOUT × levels`` files (10,000 one-row parts: 10 files), and every row is rewritten
about log₁₆(parts) times.

The steps: read the inputs (each admitted by the one rule; a refused or unreadable
file is never folded, and no fold's span ever covers it), write the fold to a hidden
temporary file beside them, fsync, rename it into place (the commit), fsync the
directory, delete the inputs. No journal is needed: the name is the promise. A reader
that lists the fold and some of its inputs (a crash, or a read between the rename and
the deletions) drops the inputs by their names (:func:`e2ckit.logformat.files.replaced`);
one that listed the inputs before the rename finds one gone and lists again. The next
writer on the partition (this module, ``compact``) deletes such leftovers. A segment's
rows are "in a part" when a part or a fold covers its ``session-seq``
(:func:`~e2ckit.logformat.files.covers`): a replay never writes them twice, a reader of
segments never counts them twice.

The store asks for folds after a flush that wrote every pending segment, and the
logger's folds run on a thread of their own (a cycle never waits for one): a fold may
then take a part whose segment the next flush has not deleted yet. That is safe for
the same reason: the fold's span covers that segment, so its rows are counted once
whether a reader (or a replay after a crash) finds the segment or not.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from e2ckit.logformat.files import admit, candidates, folded, spans
from e2ckit.logformat.schema import FILE_SCHEMA, WRITE_OPTIONS, fold_name
from e2ckit.logger.fsio import fsync_dir, write_parquet

#: files of one level a fold merges (and how many of a level make one)
FANOUT = 16
#: rows of the tables a writer keeps after writing them, so that folding them reads
#: nothing back (a one-row part costs 0.3–1 ms to read, its share of a fold 0.1 ms)
CACHE_ROWS = 1 << 18


def _step(name: str) -> None:
    """Called after each step of a fold; tests replace it to crash there."""


class Folder:
    """One writer's folding of the partitions it writes: their file names (listed once,
    then kept), the tables it wrote lately (folded without reading them back), the
    files it could not fold (never read again; no fold covers them), and the
    partitions with folds left over when a flush's budget ran out.

    ``background=True`` (the logger's): :meth:`fold_later` folds on a thread of its own,
    so a cycle never waits for a fold's writes, fsyncs and deletions; :meth:`close`
    waits for it (before the writer lets go of the lock). A fold may then hold a part
    whose segment is not deleted yet: its span says the segment's rows are in it, so a
    replay or a reader of segments never counts them twice."""

    def __init__(self, cache_rows: int = CACHE_ROWS, background: bool = False) -> None:
        self.cache_rows = cache_rows
        self._worker: ThreadPoolExecutor | None = ThreadPoolExecutor(1, "e2ckit-fold") if background else None
        self._lock = threading.Lock()  # names and cache: the writer adds, the folding thread folds
        self.refused: set[Path] = set()
        self.folds = 0  #: folds written
        self.error: OSError | None = None  #: the last fold that failed (the parts stay as they are)
        self._names: dict[Path, set[str]] = {}
        self._cache: OrderedDict[Path, pa.Table] = OrderedDict()
        self._rows = 0
        self._waiting: dict[Path, None] = {}

    def wrote(self, path: Path, table: pa.Table) -> None:
        """``path`` was just written with ``table``'s rows (in the file schema)."""
        with self._lock:
            names = self._names.get(path.parent)
            if names is not None:
                names.add(path.name)
            self._keep(path, table)

    def fold_later(self, dirs: list[Path], budget: int | None) -> None:
        """:meth:`fold` on the folding thread (at once without one); a failure (a full
        disk) is kept in :attr:`error` and the parts stay as they are."""
        if self._worker is None:
            self._quietly(dirs, budget)
            return
        with contextlib.suppress(RuntimeError):  # the interpreter is exiting: no fold (tidying) now
            self._worker.submit(self._quietly, dirs, budget)

    def _quietly(self, dirs: list[Path], budget: int | None) -> None:
        try:
            self.fold(dirs, budget)
            self.error = None
        except OSError as exc:
            self.error = exc

    def fold(self, dirs: list[Path], budget: int | None) -> int:
        """Fold the partitions ``dirs`` (and those left over), at most ``budget`` folds
        in all (None: every fold there is); returns the folds written."""
        todo = list(dict.fromkeys([*self._waiting, *dirs]))
        self._waiting = {}
        done = 0
        for k, d in enumerate(todo):
            left = None if budget is None else budget - done
            if left == 0:
                self._waiting.update(dict.fromkeys(todo[k:]))
                break
            if d not in self._names:
                listed = _settle(d)
                with self._lock:
                    self._names[d] = listed
            try:
                n = self._fold_one(d, left)
            except BaseException:
                with self._lock:
                    self._names.pop(d, None)  # listed again next time: the disk is the truth
                raise
            done += n
            if n == left:
                self._waiting[d] = None  # it may have more
        self.folds += done
        return done

    def _fold_one(self, d: Path, budget: int | None) -> int:
        names = self._names[d]
        done = 0
        while budget is None or done < budget:
            with self._lock:
                run = _next_run(names, d, self.refused)
                if run is None:
                    break
                cached = {d / n: self._cache[d / n] for *_, n in run[2] if d / n in self._cache}
            session, level, inputs = run
            table = _read(d, inputs, self.refused, cached)
            if table is None:
                continue  # a refused input: a barrier now; look again
            name = _write(d, table, session, inputs, level + 1)
            with self._lock:
                for *_, n in inputs:
                    names.discard(n)
                    old = self._cache.pop(d / n, None)
                    self._rows -= 0 if old is None else old.num_rows
                names.add(name)
                self._keep(d / name, table)
            _delete([d / n for *_, n in inputs])
            done += 1
        return done

    def close(self) -> None:
        """Wait for the folding under way (before the writer lets go of the lock)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = ThreadPoolExecutor(1, "e2ckit-fold")

    def _keep(self, path: Path, table: pa.Table) -> None:
        if table.num_rows > self.cache_rows // 4:
            return
        self._cache[path] = table
        self._rows += table.num_rows
        while self._rows > self.cache_rows:
            _, old = self._cache.popitem(last=False)
            self._rows -= old.num_rows


def fold_partition(d: Path, budget: int | None = None, refused: set[Path] | None = None) -> int:
    """Fold ``d``'s runs of :data:`FANOUT` same-level files of a session, oldest first,
    at most ``budget`` folds (None: until none is left), reading the files from disk
    (``log compact`` on a day still open). Call with the dataset's lock held.
    ``refused`` collects files that could not be folded. Returns the folds written.
    Raises OSError when the disk refuses (the inputs are then untouched)."""
    folder = Folder(cache_rows=0)
    if refused is not None:
        folder.refused = refused
    return folder.fold([d], budget)


def _settle(d: Path) -> set[str]:
    """The partition's candidate names, after deleting what a crashed fold left: the
    inputs a fold in place covers (rolled forward) and hidden temporary files."""
    try:
        listed = os.listdir(d)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    for n in listed:
        if n.startswith(".part-") and n.endswith(".tmp"):
            with contextlib.suppress(OSError):
                (d / n).unlink()
    names = set(candidates(listed))
    for n in folded(names):
        with contextlib.suppress(FileNotFoundError):
            (d / n).unlink()
        names.discard(n)
    return names


def _next_run(names: set[str], d: Path, refused: set[Path]) -> tuple[str, int, list[tuple[int, int, str]]] | None:
    """The oldest :data:`FANOUT` consecutive files of one session and one level, none
    refused (consecutive among *all* the session's files: a fold's span never holds a
    file that is not among its inputs); None when there is none."""
    for session, runs in sorted(spans(names).items()):
        if len(runs) < FANOUT:
            continue
        streak: list[tuple[int, int, str]] = []
        level = -1
        for lo, hi, lv, n in runs:
            if d / n in refused:
                streak, level = [], -1
                continue
            if lv != level:
                streak, level = [], lv
            streak.append((lo, hi, n))
            if len(streak) == FANOUT:
                return session, level, streak
    return None


def _read(d: Path, inputs: list[tuple[int, int, str]], refused: set[Path],
          cache: dict[Path, pa.Table]) -> pa.Table | None:  # fmt: skip
    """The inputs' rows in the file schema, in order (from ``cache`` where it has them);
    None (the file added to ``refused``) when one is not a part of the log or cannot
    be read."""
    tables = []
    for *_, n in inputs:
        t = cache.get(d / n)
        if t is None:
            try:
                pf = pq.ParquetFile(d / n)
                if admit(pf.schema_arrow) is not None:
                    raise ValueError("not a part of the log")
                t = pf.read(columns=FILE_SCHEMA.names).cast(FILE_SCHEMA)
            except (pa.ArrowException, OSError, ValueError, KeyError):
                refused.add(d / n)
                return None
        tables.append(t.replace_schema_metadata(None))
    return pa.concat_tables(tables)


def _write(d: Path, table: pa.Table, session: str, inputs: list[tuple[int, int, str]], level: int) -> str:
    """The fold of ``table`` (the ``inputs``' rows) written beside them and renamed into
    place (the commit: from here its name replaces them); returns its name."""
    first = pc.min(table["time"]).cast(pa.int64()).as_py()
    name = fold_name(first, session, inputs[0][0], inputs[-1][1], level)
    tmp = d / f".{name}.{secrets.token_hex(3)}.tmp"
    try:
        with open(tmp, "xb") as f:
            write_parquet(table.replace_schema_metadata(FILE_SCHEMA.metadata), f, **WRITE_OPTIONS)
            f.flush()
            os.fsync(f.fileno())
        _step("written")
        os.replace(tmp, d / name)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(d)  # the rename on the disk before any input leaves it
    _step("renamed")
    return name


def _delete(paths: list[Path]) -> None:
    """A fold's inputs deleted (what a crash leaves of them, the next writer deletes)."""
    for k, p in enumerate(paths):
        with contextlib.suppress(OSError):
            p.unlink()
        if k == 0:
            _step("deleting")
