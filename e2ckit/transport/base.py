"""What every transport shares: the outcome of an exchange, and the seam itself.

A *transport* exchanges a plan's requests — per antenna, an :class:`Endpoint`-like
object and its requests in order — within one deadline, and returns each antenna's
:class:`Exchanges` (reply bytes, send times, latencies, failures by position). Two
drivers implement :class:`Transport`: the socket driver
(:class:`e2ckit.transport.engine.SocketTransport`, non-blocking sockets in one poll
loop) and the memory driver (:class:`e2ckit.transport.memory.MemoryTransport`, wire's
``Connection`` joined to a handler's ``ServerConnection`` with no socket, no thread and
virtual time). Which one an antenna uses is its endpoint's ``transport`` (None: sockets);
:func:`e2ckit.transport.exchange` splits a plan between them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from e2ckit.arguments import timing
from e2ckit.errors import Failure
from e2ckit.wire.frames import Mode, Reply, Request, decode_reply

__all__ = ["DEFAULT_CONCURRENCY", "Exchanges", "Plan", "Result", "Transport", "check_timing", "known", "retryable"]

#: ``{antenna: (endpoint, requests)}``: what a transport exchanges.
Plan = Mapping[str, tuple[Any, Sequence[Request]]]

#: Antennas talked to at once unless told otherwise: more than ALMA's 66, so a
#: whole-array sweep runs in one wave. A cap just under the array size is the worst
#: case: the last antennas start only when the first finish (measured with 64: the
#: sweep took 60 % longer than with every antenna at once).
DEFAULT_CONCURRENCY = 128

class Result(NamedTuple):
    """The outcome of one request: the reply, or why there is none.

    A named tuple rather than a dataclass: a sweep makes thousands, and a frozen
    dataclass's ``__init__`` costs several times as much.
    """

    antenna: str
    request: Request
    reply: Reply | None
    error: str | None  # None, "E2C:TIMEOUT_ERROR", or a key of errors.KINDS
    detail: str | None  # human text for the error
    time: float  # UNIX time the request was sent (or given up)
    latency: float | None  # seconds from send to complete reply

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def failure(self) -> Failure | None:
        """Why there is no good reply, as a value (None when there is one)."""
        return None if self.error is None else Failure(self.error, self.detail or "")


#: ``Result(...)`` without the named tuple's Python-level ``__new__``
_result = tuple.__new__


class Exchanges(NamedTuple):
    """One antenna's exchanges in plan order, as columns.

    What :func:`fanout_columns` records per request instead of a :class:`Result`: the
    reply bytes as received, so a caller that decodes them itself (the logger, every
    second for hours) makes no Result and no :class:`Reply` per sample. ``raw[i]`` is
    the whole reply to ``requests[i]`` (13 bytes for monitor and control; the
    connection has checked it), or None where no valid reply came, and then
    ``failed[i]`` says why (a :class:`~e2ckit.errors.Failure`, which unpacks as
    ``kind, detail``). An E2C error is a reply: its bytes are in ``raw``, its code in
    their first four.
    """

    antenna: str
    requests: Sequence[Request]
    raw: list[bytes | None]
    sent: list[float]  # UNIX time each request was sent (or given up)
    latency: list[float | None]  # seconds from send to the whole reply
    failed: dict[int, Failure]  # index -> why

    def results(self) -> list[Result]:
        """The same exchanges as one :class:`Result` each."""
        out: list[Result] = []
        add, a, failed = out.append, self.antenna, self.failed
        columns = zip(self.requests, self.raw, self.sent, self.latency, strict=True)
        for i, (req, raw, sent, lat) in enumerate(columns):
            if raw is None:
                kind, detail = failed[i]
                add(_result(Result, (a, req, None, kind, detail, sent, None)))
            else:
                reply, kind, detail = known(raw, req.mode)
                add(_result(Result, (a, req, reply, kind, detail, sent, lat)))
        return out



def check_timing(timeout: float, deadline: float | None, concurrency: int) -> float:
    """The sweep's deadline (default ``2 × timeout + 0.5``), after checking all three:
    the one timing check, used by every transport and by the planner
    (:func:`e2ckit.planning.timing`) before anything is sent."""
    return timing(timeout, deadline, concurrency)[1]



# -- replies as Results -------------------------------------------------------------------

#: Decoded replies by their bytes, with their error kind and detail (see :func:`_known`);
#: shared by every sweep, emptied when full. Replies are immutable, so sharing one is safe.
_seen: dict[bytes, tuple[Reply, str | None, str | None]] = {}
_SEEN_MAX = 8192


def known(raw: bytes, mode: Mode) -> tuple[Reply, str | None, str | None]:
    """The Reply in ``raw`` (whole, and checked when it was received), with the error
    kind and detail a Result carries for it. The same monitor and control replies come
    back again and again (states, counters, anything that did not change since the last
    cycle), so each distinct one is decoded once and kept in :data:`_seen`."""
    if mode is Mode.GET_NODES:
        return _with_error(decode_reply(raw, mode)[0])  # type: ignore[index]
    known = _seen.get(raw)
    if known is None:
        known = _with_error(decode_reply(raw, Mode.MONITOR)[0])  # type: ignore[index]
        if len(_seen) >= _SEEN_MAX:
            _seen.clear()
        _seen[raw] = known
    return known


def _with_error(reply: Reply) -> tuple[Reply, str | None, str | None]:
    """``reply`` with the error kind and detail a Result carries for it."""
    if not reply.error:
        return (reply, None, None)
    kind, detail = Failure.e2c(reply.error)
    return (reply, kind, detail)


#: request modes safe to send again on a fresh connection (they change nothing)
_RETRYABLE = (Mode.MONITOR, Mode.GET_NODES)


def retryable(request: Request, failure: Failure) -> bool:
    """May ``request`` go again on a fresh connection after ``failure`` on a *kept* one,
    when no byte of its reply came? Yes for a reset or close (the E2C rebooted under
    the kept connection, or reset it half-open) of a monitor or get-nodes request; a
    control or reset may have been applied, and is never sent twice. Every transport
    follows this one rule."""
    return request.mode in _RETRYABLE and failure.kind in ("closed", "refused")


class Transport(Protocol):
    """A way to reach E2Cs. ``exchange`` sends each antenna's requests strictly in order
    on one connection (the E2C takes one request at a time), the antennas concurrently up
    to ``concurrency``, everything within ``deadline`` seconds; every planned request
    yields exactly one outcome. ``pool`` (a socket ConnectionPool, or any true value for a
    driver that keeps its own connections) keeps connections from one exchange to the
    next; ``follow_up(antenna, exchanges)`` asks an antenna that has its answers for more
    requests, sent on the same connection under the same deadline."""

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
    ) -> dict[str, Exchanges]: ...
