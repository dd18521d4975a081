"""The fan-out engine's old address: everything here is :mod:`e2ckit.transport.engine`
(kept so ``engine.fanout_columns``/``engine.Exchanges`` callers work unchanged)."""

from __future__ import annotations

from e2ckit.transport.engine import (
    DEFAULT_CONCURRENCY,
    TRANSPORT_ERRORS,
    ConnectionPool,
    Engine,
    Exchanges,
    Result,
    fanout,
    fanout_columns,
    run,
    sweep_requests,
)

__all__ = [
    "DEFAULT_CONCURRENCY", "TRANSPORT_ERRORS", "ConnectionPool", "Engine", "Exchanges", "Result", "fanout",
    "fanout_columns", "run", "sweep_requests",
]  # fmt: skip
