"""The I/O around the sans-I/O core, behind one seam.

:func:`exchange` is what the planner, the api and the logger call: it sends a plan's
requests (``{antenna: (endpoint, requests)}``) within one deadline and returns each
antenna's :class:`~e2ckit.transport.base.Exchanges`. Each endpoint names its driver in
``endpoint.transport``: None for sockets (:mod:`~e2ckit.transport.engine`, the fan-out
engine, with host names resolved within the deadline by :mod:`~e2ckit.transport.resolve`),
or a :class:`~e2ckit.transport.memory.MemoryTransport` (no sockets; what a
``SimulatedArray`` hands out unless asked to serve). One plan may mix them: each
driver's share runs in turn, each within what is left of the one deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from e2ckit.transport.base import (
    DEFAULT_CONCURRENCY,
    Exchanges,
    Plan,
    Result,
    Transport,
    check_timing,
)
from e2ckit.transport.engine import SOCKET, ConnectionPool
from e2ckit.wire.frames import Request

__all__ = [
    "DEFAULT_CONCURRENCY", "ConnectionPool", "Exchanges", "Result", "Transport", "check_timing", "exchange",
    "exchange_results", "transport_of",
]  # fmt: skip


def transport_of(endpoint: Any) -> Transport:
    """The driver ``endpoint`` is reached through (sockets unless it names another)."""
    return getattr(endpoint, "transport", None) or SOCKET


def exchange(
    plan: Plan,
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_antenna_done: Callable[[str, Exchanges], None] | None = None,
    pool: Any = None,
    follow_up: Callable[[str, Exchanges], Sequence[Request]] | None = None,
) -> dict[str, Exchanges]:
    """Every antenna's requests, each through its endpoint's transport, within one
    ``deadline`` (default ``2 × timeout + 0.5``); each antenna's Exchanges in plan order.

    ``timeout`` bounds each request, ``concurrency`` the antennas talked to at once;
    ``pool`` keeps connections from one exchange to the next (a
    :class:`~e2ckit.transport.engine.ConnectionPool`); ``follow_up(antenna, exchanges)``
    asks an antenna that has its answers for more requests (same connection, same
    deadline). Blocking; no event loop.
    """
    total = check_timing(timeout, deadline, concurrency)
    shares: dict[int, tuple[Transport, dict[str, Any]]] = {}
    for antenna, entry in plan.items():
        driver = transport_of(entry[0])
        shares.setdefault(id(driver), (driver, {}))[1][antenna] = entry
    if len(shares) == 1:
        driver, share = next(iter(shares.values()))
        return driver.exchange(share, timeout=timeout, deadline=total, concurrency=concurrency,
                               on_antenna_done=on_antenna_done, pool=pool, follow_up=follow_up)  # fmt: skip
    end = time.monotonic() + total
    done: dict[str, Exchanges] = {}
    for driver, share in shares.values():
        left = max(end - time.monotonic(), 1e-3)
        done.update(driver.exchange(share, timeout=timeout, deadline=left, concurrency=concurrency,
                                    on_antenna_done=on_antenna_done, pool=pool, follow_up=follow_up))  # fmt: skip
    return {a: done[a] for a in plan}


def exchange_results(
    plan: Plan,
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_antenna_done: Callable[[str, list[Result]], None] | None = None,
    follow_up: Callable[[str, Exchanges], Sequence[Request]] | None = None,
) -> dict[str, list[Result]]:
    """:func:`exchange`, with every exchange made a :class:`~e2ckit.transport.base.Result`."""
    made: dict[str, list[Result]] = {}
    done = None
    if on_antenna_done is not None:
        callback = on_antenna_done

        def done(antenna: str, ex: Exchanges) -> None:
            made[antenna] = ex.results()
            callback(antenna, made[antenna])

    out = exchange(plan, timeout=timeout, deadline=deadline, concurrency=concurrency, on_antenna_done=done,
                   follow_up=follow_up)  # fmt: skip
    return {a: made[a] if a in made else ex.results() for a, ex in out.items()}
