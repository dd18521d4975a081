"""One cycle's sweep as rows: decoding each reply, the error rows, and antenna health.

The cycle's rows of every antenna become one Arrow record batch (:data:`WAL_SCHEMA`):
what the write-ahead segment appends and the backlog holds until the parquet flush.
This loop runs for every sample (thousands a second), so columns that do not change
from cycle to cycle (antenna, point, unit of a fixed plan) are built once and shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from e2ckit.errors import Failure
from e2ckit.logformat.schema import FILE_SCHEMA, WAL_SCHEMA, latency_steps
from e2ckit.logger.sweeps import DLEN_AT, LISTING_ROW, reply_data, reply_error

if TYPE_CHECKING:
    from e2ckit.logger.sweeps import AntennaReplies

_TS = pa.timestamp("us", tz="UTC")


class Rows:
    """Rows as column lists (one partition's, or synthetic ones): ``table()`` makes them
    a table of the file schema."""

    __slots__ = ("error", "latency", "point", "raw", "status", "time", "unit", "value")

    def __init__(self) -> None:
        self.time: list[int] = []  # UNIX microseconds
        self.point: list[str] = []
        self.value: list[float | None] = []
        self.unit: list[str] = []
        self.status: list[str] = []
        self.error: list[str | None] = []
        self.latency: list[float | None] = []  # seconds; made 0.1 ms steps when written
        self.raw: list[bytes | None] = []

    def __len__(self) -> int:
        return len(self.time)

    def table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [
                pa.array(self.time, pa.int64()).cast(_TS),
                pa.array(self.point, pa.string()),
                pa.array(self.value, pa.float64()),
                pa.array(self.unit, pa.string()),
                pa.array(self.status, pa.string()),
                pa.array(self.error, pa.string()),
                latency_steps(pa.array(self.latency, pa.float64())),
                pa.array(self.raw, pa.binary()),
            ],
            schema=FILE_SCHEMA,
        )


class CycleRows:
    """Turns each cycle's sweep into a record batch and per-antenna counts."""

    def __init__(self) -> None:
        # the antenna, point and unit columns of the last layout, shared while the
        # plan stays the same (a fixed plan: every cycle)
        self._layout: list[tuple[str, Any]] = []
        self._fixed: tuple[pa.Array, pa.Array, pa.Array] | None = None

    def _names(self, swept: dict[str, AntennaReplies]) -> tuple[pa.Array, pa.Array, pa.Array]:
        layout = [(a, s[0]) for a, s in swept.items()]
        if self._fixed is not None and len(layout) == len(self._layout) and all(
            a == b and p is q for (a, p), (b, q) in zip(layout, self._layout, strict=True)
        ):
            return self._fixed
        antenna: list[str] = []
        point: list[str] = []
        unit: list[str] = []
        for a, pts in layout:
            antenna += [a] * len(pts)
            for p in pts:
                if p is None:
                    point.append(LISTING_ROW)
                    unit.append("")
                elif isinstance(p, str):  # a row that stands for no catalog point
                    point.append(p)
                    unit.append("")
                else:
                    point.append(p.name)
                    unit.append(p.unit)
        fixed = (pa.array(antenna, pa.string()), pa.array(point, pa.string()), pa.array(unit, pa.string()))
        self._layout, self._fixed = layout, fixed
        return fixed

    def build(self, t_us: int, swept: dict[str, AntennaReplies]) -> tuple[pa.RecordBatch, dict[str, tuple[int, int, str | None]]]:
        """The cycle's rows, stamped ``t_us``, and per antenna (rows, error rows, last error)."""
        values: list[float | None] = []
        statuses: list[str] = []
        latencies: list[float | None] = []
        odd: list[tuple[int, str | None, bytes | None]] = []  # rows with no value, by position
        health: dict[str, tuple[int, int, str | None]] = {}
        add_value, add_status = values.append, statuses.append
        base = 0
        for a, (pts, raws, lats, failed) in swept.items():
            n = len(pts)
            latencies += lats
            n_err = 0
            last_error = None
            samplers = [getattr(p, "reply_sampler", None) for p in pts]
            for k, (sample, raw) in enumerate(zip(samplers, raws, strict=True)):
                # data means no E2C error (the engine checked), so the usual reply is
                # told by its dlen byte alone
                if raw is not None and sample is not None and (raw[DLEN_AT] or not reply_error(raw)):
                    value, status = sample(raw)
                    add_value(value)
                    add_status(status)
                    if value is None:
                        # raw bytes only where no value could be decoded: they are what a
                        # diagnosis needs, and on every row they would triple the file size.
                        # A reply that does not fit the catalog carries its error, as in a sweep.
                        data = reply_data(raw)
                        why = pts[k].decode(data).error if status == "bad length" else None  # type: ignore[union-attr]
                        odd.append((base + k, why, data))
                        if why is not None:
                            n_err += 1
                            last_error = why
                    continue
                if raw is None:
                    last_error, data = failed.get(k, "error: no reply"), None
                else:  # an E2C error reply
                    last_error, data = Failure.e2c(reply_error(raw)).text, reply_data(raw)
                add_value(None)
                add_status("error")
                odd.append((base + k, last_error, data))
                n_err += 1
            health[a] = (n, n_err, last_error)
            base += n
        antenna, point, unit = self._names(swept)
        error: list[str | None] = [None] * base
        raw_col: list[bytes | None] = [None] * base
        for k, err, data in odd:
            error[k] = err
            raw_col[k] = data
        batch = pa.RecordBatch.from_arrays(
            [
                antenna,
                pa.repeat(pa.scalar(t_us, pa.int64()), base).cast(_TS),
                point,
                pa.array(values, pa.float64()),
                unit,
                pa.array(statuses, pa.string()),
                pa.array(error, pa.string()),
                latency_steps(pa.array(latencies, pa.float64())),
                pa.array(raw_col, pa.binary()),
            ],
            schema=WAL_SCHEMA,
        )
        return batch, health
