"""Writing files so that no reader ever sees half of one: the primitives every writer
of the dataset uses (parts, compacted files, summaries, the compaction journal).

* :func:`write_atomic`: bytes to ``DIR/.e2ckit/tmp/`` (hidden, not ``*.parquet``),
  fsynced, renamed into place (atomic on POSIX), the directory fsynced.
* :func:`fsync_dir`: a rename or a new name survives a power cut (the one copy).
* :func:`write_error`: an OSError as a :class:`LogWriteError` naming the path in plain words.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from e2ckit.errors import LogWriteError
from e2ckit.logformat.schema import STATE_DIR, WRITE_OPTIONS


def tmp_dir(root: Path) -> Path:
    return root / STATE_DIR / "tmp"


def write_atomic(table: pa.Table, root: Path, directory: Path, name: str, **options: Any) -> int:
    """Write ``table`` to ``directory/name`` so that no reader ever sees a partial file.

    The bytes go to ``DIR/.e2ckit/tmp/`` first (hidden, and not ``*.parquet``, so no
    glob or dataset reader picks them up), are fsynced, and the file is renamed into
    place (atomic); then the directory is fsynced so the rename survives a power cut.
    On any failure the temporary file is removed. Returns the file's size.
    """
    tdir = tmp_dir(root)
    tmp = tdir / f"{name}.{secrets.token_hex(3)}.tmp"
    try:
        tdir.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as f:
            write_parquet(table, f, **{**WRITE_OPTIONS, **options})
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(directory.parent)
            fsync_dir(root)
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    return size


def write_parquet(table: pa.Table, where: Any, **options: Any) -> None:
    """``pq.write_table``, minus the embedded Arrow schema when pyarrow can still keep
    our key-value metadata without it: that base64 blob is ~1.3 kB a file, a third of a
    10-second part. The parquet types alone read back the same (UTC micros, uint16)."""
    meta = table.schema.metadata or {}
    if not hasattr(pq.ParquetWriter, "add_key_value_metadata"):  # pyarrow < 16
        options.pop("row_groups", None)
        pq.write_table(table, where, **options)
        return
    row_group_size = options.pop("row_group_size", None)
    row_groups = options.pop("row_groups", None)  # explicit row-group lengths, in order
    with pq.ParquetWriter(where, table.schema.remove_metadata(), store_schema=False, **options) as w:
        if row_groups is None:
            w.write_table(table, row_group_size=row_group_size)
        else:
            start = 0
            for n in row_groups:
                w.write_table(table.slice(start, n), row_group_size=n)
                start += n
        w.add_key_value_metadata({k.decode(): v.decode() for k, v in meta.items()})


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_error(path: Path, exc: OSError) -> LogWriteError:
    """A LogWriteError naming ``path`` and saying why in plain words."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"no write permission ({exc.strerror or exc})"
    err = LogWriteError(exc.errno or 0, f"cannot write the log at {path}: {reason}")
    err.filename = str(path)
    return err
