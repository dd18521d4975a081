"""Reading a dataset where it lies: object storage (``s3://bucket/prefix``) through pyarrow.

The same layout as on disk (``date=.../antenna=.../part-*.parquet``); partitions are
listed once here and admitted by the same rule as on disk; each file is then read by
the one reader (:mod:`.reader`: schema checked, row groups skipped by their
statistics), so a bad file is skipped with the same warning as locally. Read-only:
there is no segment to read and no lock to take.

pyarrow's S3 client is used (no DuckDB extension to download, no extra package): it
takes its endpoint and credentials from the usual ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL`` for an S3-compatible server such as MinIO or Ceph), or pass a
configured ``pyarrow.fs.S3FileSystem`` as ``filesystem``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from datetime import date
from typing import Any

import pyarrow as pa

from e2ckit.errors import ValidationError
from e2ckit.logformat.files import candidates, day_of, in_days, replaced, warn_skip
from e2ckit.logformat.schema import ANT_RE, DATE_RE


def filesystem_for(path: str, filesystem: Any = None) -> tuple[Any, str]:
    """The pyarrow filesystem and the path inside it for ``path``."""
    import pyarrow.fs as pafs

    if filesystem is not None:
        return filesystem, path.split("://", 1)[1] if "://" in path else path
    if path.startswith("s3://"):
        # endpoint_override from AWS_ENDPOINT_URL (older pyarrow does not read it itself)
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        opts: dict[str, Any] = {}
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            opts = {"endpoint_override": host or endpoint, "scheme": scheme if host else "https"}
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if region:
            opts["region"] = region
        # a hanging endpoint ends in a "timed out" error, not a long silence then "no log"
        wait = timeout_seconds()
        opts.update(connect_timeout=wait, request_timeout=wait, retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=2))
        return pafs.S3FileSystem(**opts), path[len("s3://") :].rstrip("/")
    try:
        return pafs.FileSystem.from_uri(path)
    except (pa.ArrowException, ValueError) as exc:
        raise ValidationError(f"cannot open {path}: {exc}") from None


def timeout_seconds() -> float:
    """Seconds an object-store request may take (``E2CKIT_S3_TIMEOUT``, default 10)."""
    text = os.environ.get("E2CKIT_S3_TIMEOUT", "10")
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(f"E2CKIT_S3_TIMEOUT={text!r} is not a number of seconds") from None
    if not 0 < value < 3600:
        raise ValidationError(f"E2CKIT_S3_TIMEOUT={text!r} must be between 0 and 3600 seconds")
    return value


def listing(path: str, filesystem: Any, days: tuple[date | None, date | None],
            keep: Callable[[str], bool]) -> tuple[list[tuple[str, str]], Any]:  # fmt: skip
    """((file, antenna) of every candidate file the filters keep, the filesystem): the
    same admission by name and place as on disk (:mod:`e2ckit.logformat.files`); the
    schema is checked when the reader opens each file."""
    import pyarrow.fs as pafs

    fs, base = filesystem_for(path, filesystem)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except (OSError, pa.ArrowException) as exc:
        why = _why(exc)
        if why.startswith("timed out"):
            raise ValidationError(f"cannot list {path}: {why}") from None
        raise ValidationError(f"no log at {path}: {why}") from None
    by_dir: dict[str, list[str]] = {}
    bad_days: set[str] = set()
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(info.path, base).split("/")
        if len(rel) != 3 or not DATE_RE.match(rel[0]) or not ANT_RE.match(rel[1]) or rel[1].startswith("."):
            continue
        day, antenna = day_of(rel[0]), ANT_RE.match(rel[1]).group(1)  # type: ignore[union-attr]
        if day is None:
            bad_days.add(posixpath.join(posixpath.dirname(posixpath.dirname(info.path))))
            continue
        if in_days(day, days) and keep(antenna) and candidates([rel[2]]):
            by_dir.setdefault(posixpath.dirname(info.path), []).append(info.path)
    for d in sorted(bad_days):
        warn_skip(d, "not a date (date=YYYY-MM-DD)", verb="skipping directory")
    files: list[tuple[str, str]] = []
    for d, paths in sorted(by_dir.items()):
        gone = replaced(sorted(paths), lambda f: _meta(fs, f))
        antenna = ANT_RE.match(posixpath.basename(d)).group(1)  # type: ignore[union-attr]
        files += [(f, antenna) for f in sorted(paths) if f not in gone]
    return files, fs


def _meta(fs: Any, path: str) -> dict[bytes, bytes] | None:
    import pyarrow.parquet as pq

    return pq.read_schema(path, filesystem=fs).metadata


def _why(exc: BaseException) -> str:
    """An object store's failure in words: a timeout says "timed out"."""
    text = str(exc)
    low = text.lower()
    if "timeout" in low or "timed out" in low or "curlcode: 28" in low:
        return f"timed out after {timeout_seconds():g} s (E2CKIT_S3_TIMEOUT) ({text})"
    return text
