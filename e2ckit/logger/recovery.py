"""Recovery after a crash, by the next writer on the directory (a logger, ``compact``),
with the dataset's lock held: finish or roll back a compaction that crashed, remove
the temporary files crashes left, replay write-ahead segments into parts.

Readers never recover (:func:`e2ckit.dataset.load` reads around what a crash left:
a segment's rows into its own memory, a compacted file's inputs by its
``e2ckit.replaces``), so a reader never takes the writer's lock.

The journal ``DIR/.e2ckit/compact.json`` is an input like any other: one that is not
the object a compaction writes (``dir``, ``tmp``, ``file``, ``inputs``: strings and a
list of names inside the dataset) is set aside as ``compact.json.bad-<time>`` with a
warning, never obeyed, and never stops a logger from starting.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from e2ckit.errors import UnreadableFileWarning
from e2ckit.logformat.schema import STATE_DIR
from e2ckit.logformat.segments import segments
from e2ckit.logger import wal
from e2ckit.logger.fsio import fsync_dir, tmp_dir
from e2ckit.logger.status import say
from e2ckit.logger.store import write_part


def journal_path(root: Path) -> Path:
    """Where a compaction in progress keeps its journal."""
    return root / STATE_DIR / "compact.json"


def _journal_shape(j: Any, root: Path) -> str | None:
    """Why ``j`` is not a journal a compaction wrote (None: it is one)."""
    if not isinstance(j, dict):
        return f"a {type(j).__name__}, not an object"
    for key in ("dir", "tmp", "file"):
        if not isinstance(j.get(key), str) or not j[key]:
            return f"no {key!r} text"
    if not isinstance(j.get("inputs"), list) or not all(isinstance(n, str) and n for n in j["inputs"]):
        return "no 'inputs' list of names"
    names = [j["file"], *j["inputs"]]
    if any("/" in n or n in (".", "..") for n in names):
        return "a file name with a directory in it"
    for key in ("dir", "tmp"):
        p = (root / j[key]).resolve()
        if root.resolve() not in p.parents:
            return f"{key!r} outside the dataset"
    return None


def recover_journal(root: Path) -> str | None:
    """Settle a compaction a crash interrupted (lock held): roll it forward if its file
    was renamed into place, back otherwise. Returns "forward", "back", "set aside"
    (a journal of the wrong shape, kept beside with a warning) or None (no journal)."""
    path = journal_path(root)
    try:
        j = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        j = None  # a journal cut short: written before the rename, so nothing was renamed
    if j is not None and (why := _journal_shape(j, root)) is not None:
        aside = path.with_name(f"compact.json.bad-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        os.replace(path, aside)
        fsync_dir(path.parent)
        warnings.warn(f"e2ckit: the compaction journal {path} is not one ({why}): set aside as {aside.name}",
                      UnreadableFileWarning, stacklevel=3)  # fmt: skip
        return "set aside"
    done = "back"
    if j is not None:
        d = root / j["dir"]
        if (d / j["file"]).exists():
            for name in j["inputs"]:
                with contextlib.suppress(FileNotFoundError):
                    (d / name).unlink()
            fsync_dir(d)
            done = "forward"
        else:
            with contextlib.suppress(FileNotFoundError):
                (root / j["tmp"]).unlink()
    path.unlink()
    fsync_dir(path.parent)
    return done


def recover(root: Path) -> int:
    """With the lock held: complete or roll back a crashed compaction, remove the
    temporary files crashes left, replay write-ahead segments (saying so on stderr:
    rows a crashed logger left are written now, by this process). Returns rows replayed."""
    recover_journal(root)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(tmp_dir(root))
    for probe in root.glob(".e2ckit-probe-*.tmp"):  # a logger's write probe, cut short
        with contextlib.suppress(OSError):
            probe.unlink()
    found = segments(root)
    if not found:
        return 0
    rows = wal.replay(root, lambda day, a, t, session, seq: write_part(root, day, a, t, session, seq))
    say(f"replayed {len(found)} write-ahead segment(s) a crashed logger left in {root}: {rows} rows written to parts")
    return rows
