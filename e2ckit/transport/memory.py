"""The memory driver: E2Cs reached with no socket, no thread and no sleeping.

Each antenna's connection is wire's client :class:`~e2ckit.wire.Connection` joined to a
:class:`Pipe`, whose :class:`~e2ckit.wire.ServerConnection` cuts the request frames
for a *handler* — an object with two methods, as httpx's ``MockTransport`` takes a
function — which decides what the E2C does::

    handler.accept(pipe) -> bool             # False: refused (nothing listens, no power)
    handler.serve(pipe, frame) -> [(delay, bytes | None), ...]

``serve`` returns what the E2C writes back, as chunks each ``delay`` seconds after the
request arrived: one chunk for a plain reply, several for a reply split over segments,
``None`` for a reset (the E2C closes the connection), two replies' bytes for a doubled
reply, nothing at all for a silent E2C. Bytes an E2C writes when nobody asked (a stray
reply) or a reset it sends while the connection is idle go in with :meth:`Pipe.push`.
The simulator supplies its antenna models as the handler; this module imports nothing
of it.

**Time is virtual.** The driver never sleeps and never reads the clock to wait: each
antenna's exchanges advance its own count of seconds since the exchange began, and the
antennas run side by side as the socket driver runs them (up to ``concurrency`` at
once, in plan order). So a silent E2C costs its request the ``timeout`` — and the rest
of that antenna's requests, unsent, as on sockets — in *virtual* seconds, at no wall
time, whatever clock the handler keeps (a stepped simulator clock stays where it is; a
real-rate one moves on its own). Send times are the wall clock at the start of the
exchange plus the virtual offset. The failures are those of the socket driver, kind for
kind (the contract suite, ``tests/test_transport_contract.py``, checks it).

A connection kept from one exchange to the next (``pool`` given, as the logger does)
is checked before reuse like a socket in a :class:`~e2ckit.transport.engine.ConnectionPool`:
one the E2C reset, or with bytes nobody asked for, is replaced. A kept connection that
fails before any byte of its first reply (an E2C that rebooted under it: a half-open
connection) is replaced once and the request sent again — a monitor request only.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from e2ckit.errors import Failure
from e2ckit.transport.base import Exchanges, Plan, retryable
from e2ckit.wire import NEED_DATA, Connection, ServerConnection
from e2ckit.wire.frames import Request

__all__ = ["Handler", "MemoryTransport", "Pipe"]

#: what a handler's ``serve`` returns: chunks written ``delay`` seconds after the request
Chunks = Sequence[tuple[float, "bytes | None"]]


class Pipe:
    """The E2C's end of one in-memory connection (what a handler is given).

    ``antenna`` is the name the sweep uses, ``endpoint`` the endpoint it was reached
    through (whose host label may name the E2C, as a simulated array's do); ``server``
    cuts the request frames; ``state`` is free for the handler (e.g. the boot it was
    accepted in)."""

    __slots__ = ("antenna", "endpoint", "server", "late", "state")

    def __init__(self, antenna: str, endpoint: Any = None) -> None:
        self.antenna = antenna
        self.endpoint = endpoint
        self.server = ServerConnection()
        self.late: list[bytes | None] = []  # written while no request was outstanding
        self.state: Any = None

    def push(self, data: bytes | None) -> None:
        """The E2C writes ``data`` now, unasked (a stray reply), or resets the
        connection (``None``). The client side sees it before its next request."""
        self.late.append(data)


class Handler(Protocol):
    """What answers for the E2Cs of a :class:`MemoryTransport` (the simulator's models)."""

    def accept(self, pipe: Pipe) -> bool:
        """A client connects to ``pipe.antenna``: True to accept, False to refuse."""
        ...

    def serve(self, pipe: Pipe, frame: bytes) -> Chunks:
        """One 18-byte request frame arrived on ``pipe``: what the E2C writes back."""
        ...


class _Antenna:
    """One antenna's exchange: its requests, its virtual time and its columns."""

    __slots__ = ("name", "endpoint", "reqs", "t", "pipe", "conn", "kept", "give_up", "out")

    def __init__(self, name: str, endpoint: Any, reqs: Sequence[Request], t: float, pipe: Pipe | None) -> None:
        self.name = name
        self.endpoint = endpoint
        self.reqs = list(reqs)  # its own: a follow-up may extend it
        self.t = t  # virtual seconds since the exchange began
        self.pipe = pipe
        self.conn = Connection()
        self.kept = pipe is not None  # the connection came from an earlier exchange
        self.give_up: Failure | None = None
        self.out = Exchanges(name, self.reqs, [], [], [], {})

    def record(self, raw: bytes | None, sent: float, latency: float | None, failure: Failure | None) -> None:
        out = self.out
        if failure is not None:
            out.failed[len(out.raw)] = failure
        out.raw.append(raw)
        out.sent.append(sent)
        out.latency.append(latency)


class MemoryTransport:
    """The memory driver of the :class:`~e2ckit.transport.base.Transport` seam.

    ``handler`` answers for every antenna whose endpoint carries this transport (see
    the module's notes). Connections are kept from one exchange to the next when the
    exchange is given a ``pool`` (any value but None), as sockets are kept in a pool."""

    name = "memory"

    def __init__(self, handler: Handler, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.handler = handler
        self.wall_clock = wall_clock
        self._kept: dict[str, Pipe] = {}

    def __repr__(self) -> str:
        return f"MemoryTransport({self.handler!r})"

    def close(self) -> None:
        """Forget every kept connection."""
        self._kept.clear()

    def exchange(
        self,
        plan: Plan,
        *,
        timeout: float,
        deadline: float,
        concurrency: int,
        on_antenna_done: Callable[[str, Exchanges], None] | None = None,
        pool: Any = None,
        follow_up: Callable[[str, Exchanges], Sequence[Request]] | None = None,
    ) -> dict[str, Exchanges]:
        """Every antenna's requests within ``deadline`` virtual seconds; see the module."""
        wall0 = self.wall_clock()
        slots: list[float] = []  # virtual time each busy slot frees, up to concurrency
        out: dict[str, Exchanges] = {}
        for antenna, (endpoint, reqs) in plan.items():
            start = heapq.heappop(slots) if len(slots) >= concurrency else 0.0
            ant = _Antenna(antenna, endpoint, reqs, start, self._kept.pop(antenna, None))
            self._run(ant, wall0, timeout, deadline, follow_up)
            if pool is not None and ant.pipe is not None and ant.conn.reusable:
                self._kept[antenna] = ant.pipe
            heapq.heappush(slots, ant.t)
            out[antenna] = ant.out
            if on_antenna_done is not None:
                on_antenna_done(antenna, ant.out)
        return out

    # -- one antenna -----------------------------------------------------------------------

    def _run(self, ant: _Antenna, wall0: float, timeout: float, deadline: float, follow_up: Any) -> None:
        followed = False
        while True:
            while len(ant.out.raw) < len(ant.reqs):
                if ant.give_up is None and ant.t >= deadline:
                    ant.give_up = Failure.of("deadline")
                if ant.give_up is not None:
                    ant.record(None, wall0 + ant.t, None, ant.give_up)
                    continue
                self._one(ant, ant.reqs[len(ant.out.raw)], wall0, timeout, deadline)
            if follow_up is None or followed:
                return
            followed = True
            more = follow_up(ant.name, ant.out)
            if not more:
                return
            ant.reqs.extend(more)

    def _connect(self, ant: _Antenna, sent: float) -> bool:
        """A connection for the next request: the one in use, or a kept one still clean,
        else a new one. False (the failure recorded, the antenna given up) when refused.

        Within an exchange, bytes that came unasked go with the next request, as they
        would on a socket; on a connection kept from an earlier exchange they replace
        it (a stray reply, or the E2C reset it meanwhile), as a pool's check does."""
        pipe = ant.pipe
        if pipe is not None and ant.conn.reusable and not (ant.kept and pipe.late):
            return True
        pipe = Pipe(ant.name, ant.endpoint)
        if not self.handler.accept(pipe):
            ant.pipe = None
            failure = Failure.of("refused")
            ant.record(None, sent, None, failure)
            ant.give_up = failure.not_sent()
            return False
        ant.pipe, ant.conn, ant.kept = pipe, Connection(), False
        return True

    def _one(self, ant: _Antenna, req: Request, wall0: float, timeout: float, deadline: float) -> None:
        """Send ``req`` and record its outcome (one position of the columns)."""
        sent = wall0 + ant.t
        if not self._connect(ant, sent):
            return
        pipe, conn = ant.pipe, ant.conn
        assert pipe is not None
        early = [(0.0, data) for data in pipe.late]  # arrived since the last reply: with this one
        pipe.late = []
        pipe.server.receive_data(conn.send(req))
        chunks = early + self._served(pipe)
        limit = min(timeout, deadline - ant.t)
        raw, at, failure = _await(conn, chunks, limit, pipe)
        if raw is not None:
            ant.t += at  # type: ignore[operator]
            ant.record(raw, sent, at, None)
            return
        if failure is not None and ant.kept and conn.received == 0 and retryable(req, failure):
            ant.pipe = None  # half-open: the E2C rebooted under the kept connection; once more
            ant.kept = False
            return self._one(ant, req, wall0, timeout, deadline)
        if failure is None or at is None:  # nothing (whole) within the limit
            failure = Failure.of("timeout") if limit >= timeout else Failure("deadline", "no reply before the sweep's deadline")
            conn.time_out(failure)
            at = limit
        ant.t += at
        ant.record(None, sent, None, failure)
        ant.pipe = None  # a broken connection is never reused
        if failure.kind in ("refused", "timeout", "deadline"):
            ant.give_up = failure.not_sent()

    def _served(self, pipe: Pipe) -> list[tuple[float, bytes | None]]:
        chunks: list[tuple[float, bytes | None]] = []
        while True:
            frame = pipe.server.next_frame()
            if frame is NEED_DATA:
                return chunks
            chunks.extend(self.handler.serve(pipe, frame))  # type: ignore[arg-type]


def _await(
    conn: Connection, chunks: list[tuple[float, bytes | None]], limit: float, pipe: Pipe
) -> tuple[bytes | None, float | None, Failure | None]:
    """Feed ``chunks`` (in the order they arrive) to ``conn`` until it has a whole reply
    or a failure within ``limit`` seconds: ``(raw, at, None)``, ``(None, at, failure)``,
    or ``(None, None, None)`` for nothing in time. Chunks after the reply are left on
    ``pipe`` as bytes that came unasked."""
    ordered = sorted(chunks, key=lambda c: c[0])  # stable: equal delays keep their order
    for k, (delay, data) in enumerate(ordered):
        if delay >= limit:
            return None, None, None
        # chunks due at the same moment arrive together, as one read
        if data is not None and k + 1 < len(ordered) and ordered[k + 1][0] == delay and ordered[k + 1][1] is not None:
            ordered[k + 1] = (delay, data + ordered[k + 1][1])  # type: ignore[operator]
            continue
        conn.receive_data(data if data is not None else b"")
        event = conn.next_raw()
        if event is NEED_DATA:
            continue
        if isinstance(event, Failure):
            return None, delay, event
        pipe.late.extend(d for _, d in ordered[k + 1 :])
        return event, delay, None  # type: ignore[return-value]
    return None, None, None
