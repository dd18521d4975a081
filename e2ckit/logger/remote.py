"""Reading a dataset where it lies: object storage (``s3://bucket/prefix``) through pyarrow.

The same layout as on disk (``date=.../antenna=.../part-*.parquet``); partitions are
pruned by their names from one listing, the point and time filters are pushed down to
the Parquet reader (row groups skipped by their statistics), and the rows join the
same Polars query as local files. Read-only: an archive on object storage has no
writer, so there is no segment to replay and no lock to take.

pyarrow's S3 client is used (no DuckDB extension to download, no extra package): it
takes its endpoint and credentials from the usual ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL`` for an S3-compatible server such as MinIO or Ceph), or pass a
configured ``pyarrow.fs.S3FileSystem`` as ``filesystem``.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable
from datetime import date
from typing import Any

import pyarrow as pa

from e2ckit.errors import ValidationError
from e2ckit.logger.schema import ANT_RE, DATE_RE, FILE_SCHEMA, PART_RE, PARTITIONS


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
        return pafs.S3FileSystem(**opts), path[len("s3://") :].rstrip("/")
    try:
        return pafs.FileSystem.from_uri(path)
    except (pa.ArrowException, ValueError) as exc:
        raise ValidationError(f"cannot open {path}: {exc}") from None


def read(
    path: str,
    filesystem: Any,
    days: tuple[date | None, date | None],
    keep: Callable[[str], bool],
    points: list[str] | None,
    t_lo: Any,
    t_hi: Any,
) -> pa.Table:
    """The rows of the dataset at ``path`` that the filters keep, as one Arrow table
    (file schema plus ``date`` and ``antenna``)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    fs, base = filesystem_for(path, filesystem)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except (OSError, pa.ArrowException) as exc:
        raise ValidationError(f"no log at {path}: {exc}") from None
    lo, hi = days
    files, by_dir = [], {}
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(info.path, base).split("/")
        if len(rel) != 3 or not PART_RE.match(rel[2]):
            continue
        md, ma = DATE_RE.match(rel[0]), ANT_RE.match(rel[1])
        if not md or not ma:
            continue
        day = date.fromisoformat(md.group(1))
        if (lo is not None and day < lo) or (hi is not None and day > hi) or not keep(ma.group(1)):
            continue
        files.append(info.path)
        by_dir.setdefault(posixpath.dirname(info.path), []).append(info.path)
    gone: set[str] = set()  # inputs of a compaction still there (as on disk)
    for d, fl in by_dir.items():
        compacted = [f for f in fl if "-compact-" in posixpath.basename(f)]
        if compacted and len(fl) > 1:
            import pyarrow.parquet as pq

            for f in compacted:
                meta = pq.read_schema(f, filesystem=fs).metadata or {}
                gone |= {posixpath.join(d, n) for n in json.loads(meta.get(b"e2ckit.replaces", b"[]"))}
    files = sorted(f for f in files if f not in gone)
    schema = pa.unify_schemas([FILE_SCHEMA.remove_metadata(), PARTITIONS])
    if not files:
        return schema.empty_table()
    dataset = ds.dataset(
        files, schema=schema, filesystem=fs, format="parquet",
        partitioning=ds.partitioning(PARTITIONS, flavor="hive"), partition_base_dir=base,
    )  # fmt: skip
    flt = None
    conds = []
    if points is not None:
        conds.append(pc.field("point").isin(points))
    if t_lo is not None:
        conds.append(pc.field("time") >= pa.scalar(t_lo, pa.timestamp("us", tz="UTC")))
    if t_hi is not None:
        conds.append(pc.field("time") < pa.scalar(t_hi, pa.timestamp("us", tz="UTC")))
    for c in conds:
        flt = c if flt is None else flt & c
    return dataset.to_table(filter=flt)
