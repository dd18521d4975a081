"""The fan-out engine: many antennas at once, one overall deadline.

One asyncio connection per antenna, its requests strictly in order (the E2C takes one
request at a time and its replies carry no id); antennas in parallel up to a cap;
one deadline for the whole sweep, so a silent antenna costs at most the deadline,
never a timeout per point.

The engine runs on a private event loop in a daemon thread. The sync entry points
(:func:`run`) therefore work the same from a script and from a Jupyter cell whose
own loop is already running (where ``asyncio.run`` would fail).

Failure is data: every planned request yields exactly one :class:`Result`, with
``error`` set when no good reply came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from e2ckit.array import Endpoint
from e2ckit.errors import ProtocolError, ValidationError
from e2ckit.protocol import Reply, ReplyDecoder, Request, error_info

__all__ = ["Result", "run", "sweep_requests"]

T = TypeVar("T")

#: Short error codes a Result may carry besides ``E2C:<NAME>``.
TRANSPORT_ERRORS = {
    "refused": "connection refused: nothing listens (E2C down or powered off)",
    "unresolved": "host name did not resolve",
    "timeout": "no reply within the timeout",
    "deadline": "the sweep's deadline passed before this request was sent",
    "closed": "connection closed by the E2C mid-reply",
    "protocol": "reply bytes are not the E2C protocol",
    "unreachable": "network error",
}


class Result(NamedTuple):
    """The outcome of one request: the reply, or why there is none.

    A named tuple rather than a dataclass: a sweep makes thousands, and a frozen
    dataclass's ``__init__`` costs several times as much.
    """

    antenna: str
    request: Request
    reply: Reply | None
    error: str | None  # None, "E2C:TIMEOUT_ERROR", or a key of TRANSPORT_ERRORS
    detail: str | None  # human text for the error
    time: float  # UNIX time the request was sent (or given up)
    latency: float | None  # seconds from send to complete reply

    @property
    def ok(self) -> bool:
        return self.error is None


class _ReplyProtocol(asyncio.Protocol):
    """Feeds received bytes to the codec's incremental decoder; hands replies to a waiter.

    Lower level than streams on purpose: a sweep is thousands of tiny exchanges, and
    a future plus one timer per request costs far less than a task per ``wait_for``.
    """

    def __init__(self) -> None:
        self.decoder = ReplyDecoder()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.lost = False
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        try:
            replies = self.decoder.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        for reply in replies:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(self.lost_error())

    def lost_error(self) -> Exception:
        # A connection reset before it carried a single reply byte is how a powered-off
        # or overloaded E2C turns clients away: treat it like a refusal.
        if not self.received:
            return ConnectionRefusedError("connection reset by the E2C before any reply (E2C down or powered off)")
        return ConnectionResetError("connection closed by the E2C mid-reply")

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class _Connection:
    """One connection to one E2C, opened on demand, dropped after any fault."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.proto: _ReplyProtocol | None = None

    async def open(self, timeout: float) -> None:
        if self.proto is not None and not self.proto.lost:
            return
        loop = asyncio.get_running_loop()
        ep = self.endpoint
        try:
            _, self.proto = await asyncio.wait_for(
                loop.create_connection(_ReplyProtocol, ep.host, ep.port), timeout
            )
        except ConnectionResetError:
            raise _ReplyProtocol().lost_error() from None

    def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.proto = None

    async def exchange(self, request: Request, timeout: float) -> Reply:
        proto = self.proto
        assert proto is not None and proto.transport is not None
        loop = asyncio.get_running_loop()
        if proto.lost:  # reset between connect and now: no reply can come
            raise proto.lost_error()
        fut: asyncio.Future[Reply] = loop.create_future()
        proto.waiter = fut
        proto.decoder.expect(request.mode)
        proto.transport.write(request.encode())

        def expire() -> None:
            if not fut.done():
                fut.set_exception(TimeoutError())

        timer = loop.call_later(timeout, expire)
        try:
            return await fut
        finally:
            timer.cancel()
            proto.waiter = None


def _classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timeout", TRANSPORT_ERRORS["timeout"]
    if isinstance(exc, ConnectionRefusedError):
        return "refused", str(exc) if exc.args and isinstance(exc.args[0], str) else TRANSPORT_ERRORS["refused"]
    if isinstance(exc, socket.gaierror):
        return "unresolved", f"host name did not resolve ({exc})"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "closed", TRANSPORT_ERRORS["closed"]
    if isinstance(exc, ProtocolError):
        return "protocol", f"{TRANSPORT_ERRORS['protocol']}: {exc}"
    if isinstance(exc, OSError):
        return "unreachable", f"network error: {exc.strerror or exc}"
    return "protocol", f"{type(exc).__name__}: {exc}"


async def _run_antenna(
    antenna: str, endpoint: Endpoint, requests: Sequence[Request], timeout: float, deadline: float
) -> list[Result]:
    """Send ``requests`` in order over one connection, never past ``deadline`` (monotonic)."""
    conn = _Connection(endpoint)
    results: list[Result] = []
    give_up: tuple[str, str] | None = None
    try:
        for req in requests:
            now = time.monotonic()
            if give_up is None and now >= deadline:
                give_up = ("deadline", TRANSPORT_ERRORS["deadline"])
            if give_up is not None:
                results.append(Result(antenna, req, None, give_up[0], give_up[1], time.time(), None))
                continue
            budget = min(timeout, deadline - now)
            sent_at = time.time()
            t0 = time.perf_counter()
            try:
                await conn.open(budget)
                reply = await conn.exchange(req, max(budget - (time.perf_counter() - t0), 1e-3))
            except Exception as exc:  # every failure becomes a row
                conn.close()
                code, text = _classify(exc)
                if isinstance(exc, asyncio.TimeoutError | TimeoutError) and time.monotonic() >= deadline - 1e-3:
                    code, text = "deadline", "no reply before the sweep's deadline"
                results.append(Result(antenna, req, None, code, text, sent_at, None))
                # A host that refuses, does not resolve, or stays silent will do the same
                # for the rest: give those rows the same error instead of waiting again.
                # A dropped connection or garbage reply is retried on a new connection.
                if code in ("refused", "unresolved", "timeout", "deadline", "unreachable"):
                    give_up = (code, text + " (not sent: an earlier request to this antenna failed)")
                continue
            latency = time.perf_counter() - t0
            if reply.error:
                info = error_info(reply.error)
                results.append(
                    Result(antenna, req, reply, f"E2C:{info.name}", f"{info.code} {info.description}", sent_at, latency)
                )
            else:
                results.append(Result(antenna, req, reply, None, None, sent_at, latency))
    finally:
        conn.close()
    return results


async def sweep_requests(
    plan: Mapping[str, tuple[Endpoint, Sequence[Request]]],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = 64,
    on_antenna_done: Callable[[str, list[Result]], None] | None = None,
) -> dict[str, list[Result]]:
    """Run every antenna's requests concurrently; return results by antenna, in plan order.

    ``timeout`` bounds each request; ``deadline`` (seconds from now, default
    ``timeout`` × 2 + 0.5) bounds the whole sweep. ``concurrency`` caps the number of
    antennas talked to at once.
    """
    if timeout <= 0:
        raise ValidationError(f"timeout must be positive, got {timeout}")
    if deadline is None:
        deadline = timeout * 2 + 0.5
    if deadline <= 0:
        raise ValidationError(f"deadline must be positive, got {deadline}")
    if concurrency < 1:
        raise ValidationError(f"concurrency must be at least 1, got {concurrency}")
    end = time.monotonic() + deadline
    gate = asyncio.Semaphore(concurrency)

    async def one(antenna: str, endpoint: Endpoint, reqs: Sequence[Request]) -> list[Result]:
        async with gate:
            res = await _run_antenna(antenna, endpoint, reqs, timeout, end)
        if on_antenna_done is not None:
            on_antenna_done(antenna, res)
        return res

    tasks = {a: asyncio.ensure_future(one(a, ep, reqs)) for a, (ep, reqs) in plan.items()}
    await asyncio.gather(*tasks.values())
    return {a: t.result() for a, t in tasks.items()}


# -- the private loop -------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="e2ckit-engine", daemon=True).start()
            _loop = loop
        return _loop


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine made by ``make()`` on the engine's loop and wait for it.

    Safe from any thread, including one with a running event loop (Jupyter).
    """
    loop = _get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError("e2ckit's sync API was called from its own engine loop; await the async API instead")

    async def wrapper() -> T:
        return await make()

    return asyncio.run_coroutine_threadsafe(wrapper(), loop).result()


def run_in_loop(coro_fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> Awaitable[T]:
    """Await ``coro_fn(*args, **kwargs)`` on the engine loop from another running loop."""
    loop = _get_loop()
    fut = asyncio.run_coroutine_threadsafe(coro_fn(*args, **kwargs), loop)
    return asyncio.wrap_future(fut)
