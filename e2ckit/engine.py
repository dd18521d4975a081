"""The fan-out engine: many antennas at once, one overall deadline.

One connection per antenna, its requests strictly in order (the E2C takes one request
at a time and its replies carry no id); antennas in parallel up to a cap; one deadline
for the whole sweep, so a silent antenna costs at most the deadline, never a timeout
per point.

The exchanges themselves run in :func:`fanout_columns`, one poll loop over non-blocking
sockets: measured here, asyncio's futures, timers and coroutine switches cost more per
18-byte request than the request itself. Orchestration (discovery, then the sweep)
stays asyncio on a private event loop in a daemon thread, so the sync entry point
(:func:`run`) works the same from a script and from a Jupyter cell whose own loop is
already running (where ``asyncio.run`` would fail), and async code can await it.

Failure is data: every planned request yields exactly one :class:`Result`, with
``error`` set when no good reply came back. The loop itself records each antenna's
exchanges as columns (:class:`Exchanges`: the reply bytes, times, failures), which a
caller that decodes replies itself, the logger, reads without a Result per sample.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import errno
import functools
import ipaddress
import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from e2ckit.array import Endpoint
from e2ckit.errors import ProtocolError, ValidationError
from e2ckit.protocol import (
    REPLY_SIZE,
    Mode,
    Reply,
    Request,
    decode_reply,
    error_info,
    whole_reply_ok,
)

__all__ = [
    "DEFAULT_CONCURRENCY", "TRANSPORT_ERRORS", "ConnectionPool", "Exchanges", "Result", "fanout", "fanout_columns",
    "run", "run_in_loop", "sweep_requests",
]  # fmt: skip

T = TypeVar("T")

#: Antennas talked to at once unless told otherwise: more than ALMA's 66, so a
#: whole-array sweep runs in one wave. A cap just under the array size is the worst
#: case: the last antennas start only when the first finish (measured with 64: the
#: sweep took 60 % longer than with every antenna at once).
DEFAULT_CONCURRENCY = 128

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


async def sweep_requests(
    plan: Mapping[str, tuple[Endpoint, Sequence[Request]]],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_antenna_done: Callable[[str, list[Result]], None] | None = None,
) -> dict[str, list[Result]]:
    """Run every antenna's requests concurrently; return results by antenna, in plan order.

    ``timeout`` bounds each request; ``deadline`` (seconds from now, default
    ``timeout`` × 2 + 0.5) bounds the whole sweep. ``concurrency`` caps the number of
    antennas talked to at once. The work itself runs in :func:`fanout` on a worker
    thread; this coroutine only waits for it, so it can be awaited from any loop.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None,
        functools.partial(
            fanout, plan, timeout=timeout, deadline=deadline, concurrency=concurrency,
            on_antenna_done=on_antenna_done,
        ),
    )  # fmt: skip


class Exchanges(NamedTuple):
    """One antenna's exchanges in plan order, as columns.

    What :func:`fanout_columns` records per request instead of a :class:`Result`: the
    reply bytes as received, so a caller that decodes them itself (the logger, every
    second for hours) makes no Result and no :class:`Reply` per sample. ``raw[i]`` is
    the whole reply to ``requests[i]`` (13 bytes for monitor and control; the codec has
    checked it), or None where no valid reply came, and then ``failed[i]`` says why. An
    E2C error is a reply: its bytes are in ``raw``, its code in their first four.
    """

    antenna: str
    requests: Sequence[Request]
    raw: list[bytes | None]
    sent: list[float]  # UNIX time each request was sent (or given up)
    latency: list[float | None]  # seconds from send to the whole reply
    failed: dict[int, tuple[str, str]]  # index -> (error code, text)

    def results(self) -> list[Result]:
        """The same exchanges as one :class:`Result` each."""
        out: list[Result] = []
        add, a, failed = out.append, self.antenna, self.failed
        columns = zip(self.requests, self.raw, self.sent, self.latency, strict=True)
        for i, (req, raw, sent, lat) in enumerate(columns):
            if raw is None:
                code, text = failed[i]
                add(_result(Result, (a, req, None, code, text, sent, None)))
            else:
                reply, code, text = _known(raw, req.mode)  # type: ignore[misc]
                add(_result(Result, (a, req, reply, code, text, sent, lat)))
        return out


class _Link:
    """One antenna's connection and where it is in its list of requests."""

    __slots__ = ("antenna", "addr", "reqs", "frames", "plain", "i", "n", "sock", "fd", "buf", "connecting",
                 "received", "sent_at", "t0", "give_up", "out", "raw", "sent", "lat", "failed")  # fmt: skip

    def __init__(self, antenna: str, addr: Any, reqs: Sequence[Request]) -> None:
        self.antenna = antenna
        self.addr = addr  # (family, sockaddr), or ("unresolved", text)
        self.reqs = reqs
        self.frames = [r.encode() for r in reqs]
        # only monitor and control requests: every reply is 13 bytes (no get-nodes)
        self.plain = all(r.mode is not Mode.GET_NODES for r in reqs)
        self.i = 0  # the request in flight (or next); also how many are recorded
        self.n = len(reqs)
        self.sock: socket.socket | None = None
        self.fd = -1
        self.buf = bytearray()
        self.connecting = False
        self.received = 0
        self.sent_at = 0.0
        self.t0 = 0.0  # monotonic time the request in flight (or the connect) began
        self.give_up: tuple[str, str] | None = None
        # the columns, shared with the Exchanges handed out
        self.raw: list[bytes | None] = []
        self.sent: list[float] = []
        self.lat: list[float | None] = []
        self.failed: dict[int, tuple[str, str]] = {}
        self.out = Exchanges(antenna, reqs, self.raw, self.sent, self.lat, self.failed)

    def record_failure(self, code: str, text: str, sent: float) -> None:
        """The current request ends with no valid reply."""
        self.failed[self.i] = (code, text)
        self.raw.append(None)
        self.sent.append(sent)
        self.lat.append(None)
        self.i += 1


def _resolve(endpoints: Mapping[str, Endpoint], end: float) -> dict[str, Any]:
    """Addresses of every endpoint; names are looked up in parallel, within the deadline."""
    out: dict[str, Any] = {}
    names: dict[str, Endpoint] = {}
    for antenna, ep in endpoints.items():
        try:
            ip = ipaddress.ip_address(ep.host)
        except ValueError:
            names[antenna] = ep
            continue
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        out[antenna] = (family, (ep.host, ep.port))
    if names:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
            futs = {a: pool.submit(socket.getaddrinfo, ep.host, ep.port, 0, socket.SOCK_STREAM)
                    for a, ep in names.items()}  # fmt: skip
            for a, fut in futs.items():
                try:
                    info = fut.result(timeout=max(end - time.monotonic(), 0.0))
                    out[a] = (info[0][0], info[0][4])
                except concurrent.futures.TimeoutError:
                    out[a] = ("unresolved", "host name look-up did not finish before the deadline")
                except OSError as exc:
                    out[a] = ("unresolved", f"host name did not resolve ({exc})")
    return out


class _Poller:
    """Readiness of many sockets: ``epoll`` where there is one (Linux), else ``selectors``.

    The sweep's inner loop calls this once per batch of replies; epoll used directly
    returns plain file descriptors, without the selector's key objects and look-ups.
    """

    def __init__(self) -> None:
        self._ep = select.epoll() if hasattr(select, "epoll") else None
        self._sel = selectors.DefaultSelector() if self._ep is None else None
        self.count = 0

    def register(self, sock: socket.socket, write: bool) -> None:
        if self._ep is not None:
            self._ep.register(sock.fileno(), select.EPOLLOUT if write else select.EPOLLIN)
        else:
            assert self._sel is not None
            self._sel.register(sock, selectors.EVENT_WRITE if write else selectors.EVENT_READ)
        self.count += 1

    def modify(self, sock: socket.socket, write: bool) -> None:
        if self._ep is not None:
            self._ep.modify(sock.fileno(), select.EPOLLOUT if write else select.EPOLLIN)
        else:
            assert self._sel is not None
            self._sel.modify(sock, selectors.EVENT_WRITE if write else selectors.EVENT_READ)

    def unregister(self, sock: socket.socket) -> None:
        try:
            if self._ep is not None:
                self._ep.unregister(sock.fileno())
            else:
                assert self._sel is not None
                self._sel.unregister(sock)
        except (KeyError, ValueError, OSError):
            return
        self.count -= 1

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        """``(file descriptor, events)`` of each socket ready within ``timeout`` seconds."""
        if self._ep is not None:
            return self._ep.poll(timeout)
        assert self._sel is not None
        return [(key.fd, ev) for key, ev in self._sel.select(timeout)]

    def close(self) -> None:
        if self._ep is not None:
            self._ep.close()
        elif self._sel is not None:
            self._sel.close()


class ConnectionPool:
    """Connections kept from one sweep to the next, one per antenna.

    For a caller that sweeps the same antennas again and again (the logger, every
    cycle): each reuse spares a TCP handshake and teardown on both ends, which on
    loopback cost as much CPU as 45 requests. A connection is handed back only when
    its antenna finished cleanly (nothing in flight, nothing unread), and is checked
    again before reuse: one the E2C closed or reset meanwhile, or with bytes nobody
    asked for, is dropped and a fresh connection made. :meth:`close` when done.
    """

    def __init__(self) -> None:
        self._socks: dict[str, tuple[Any, socket.socket]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._socks)

    def take(self, antenna: str, addr: Any) -> socket.socket | None:
        """The kept connection to ``antenna`` at ``addr`` if it is still good, else None."""
        with self._lock:
            kept = self._socks.pop(antenna, None)
        if kept is None:
            return None
        kept_addr, sock = kept
        if kept_addr == addr:
            try:
                sock.recv(1, socket.MSG_PEEK)  # non-blocking: an idle, open link raises
            except BlockingIOError:
                return sock
            except OSError:
                pass  # reset by the E2C
        sock.close()  # closed by the E2C, stray bytes, or another address now
        return None

    def give(self, antenna: str, addr: Any, sock: socket.socket) -> None:
        """Keep ``sock`` for the next sweep of ``antenna``."""
        with self._lock:
            old = self._socks.pop(antenna, None)
            self._socks[antenna] = (addr, sock)
        if old is not None:
            old[1].close()

    def close(self) -> None:
        """Close every kept connection."""
        with self._lock:
            kept, self._socks = self._socks, {}
        for _, sock in kept.values():
            sock.close()


def fanout(
    plan: Mapping[str, tuple[Endpoint, Sequence[Request]]],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_antenna_done: Callable[[str, list[Result]], None] | None = None,
) -> dict[str, list[Result]]:
    """The blocking core of :func:`sweep_requests`: :func:`fanout_columns`, with every
    exchange made a :class:`Result`. (A caller that sweeps the same antennas again and
    again keeps its connections with ``fanout_columns(..., pool=...)``.)"""
    made: dict[str, list[Result]] = {}
    done = None
    if on_antenna_done is not None:
        callback = on_antenna_done

        def done(antenna: str, ex: Exchanges) -> None:
            made[antenna] = ex.results()
            callback(antenna, made[antenna])

    out = fanout_columns(
        plan, timeout=timeout, deadline=deadline, concurrency=concurrency, on_antenna_done=done
    )
    return {a: made[a] if a in made else ex.results() for a, ex in out.items()}


def fanout_columns(
    plan: Mapping[str, tuple[Endpoint, Sequence[Request]]],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_antenna_done: Callable[[str, Exchanges], None] | None = None,
    pool: ConnectionPool | None = None,
) -> dict[str, Exchanges]:
    """Run every antenna's requests concurrently in one poll loop; return each antenna's
    :class:`Exchanges`, in plan order. Blocking; no asyncio.

    Each antenna has one non-blocking socket and at most one request in flight;
    replies are cut out of the byte stream by the codec. A sweep is thousands of
    18-byte exchanges, so the usual one (a whole monitor reply in one read) records its
    bytes and sends the next request with nothing else made per request: no Result, no
    timer. Timeouts are found by a scan of the connections waiting, every
    ``timeout``/50 (1 to 20 ms), so a request may be declared lost that much late; the
    deadline itself is kept to the millisecond. With a ``pool``, connections come from
    it and go back to it instead of being opened and closed for every sweep.
    """
    if not timeout > 0:
        raise ValidationError(f"timeout must be positive, got {timeout}")
    if deadline is None:
        deadline = timeout * 2 + 0.5
    if not deadline > 0:
        raise ValidationError(f"deadline must be positive, got {deadline}")
    if concurrency < 1:
        raise ValidationError(f"concurrency must be at least 1, got {concurrency}")
    monotonic = time.monotonic
    end = monotonic() + deadline
    # UNIX time of a monotonic reading, so a request costs one clock read, not two
    to_unix = time.time() - monotonic()
    addrs = _resolve({a: ep for a, (ep, _) in plan.items()}, end)
    links = {a: _Link(a, addrs[a], reqs) for a, (_, reqs) in plan.items()}
    waiting = collections.deque(links.values())
    poller = _Poller()
    # every link with a socket is waiting: for its connection, or for a reply
    by_fd: dict[int, _Link] = {}
    # descriptors closed while a batch of events is handled: a later event of the same
    # batch was about the old socket, even if a new connection got the number again
    closed_in_batch: set[int] = set()
    tick = min(max(timeout / 50, 1e-3), 0.02)
    live = 0

    def close(link: _Link) -> None:
        if link.sock is not None:
            poller.unregister(link.sock)
            by_fd.pop(link.fd, None)
            closed_in_batch.add(link.fd)
            link.sock.close()
            link.sock = None
            link.fd = -1
        link.buf.clear()

    def finish(link: _Link) -> None:
        nonlocal live
        if pool is not None and link.sock is not None and not link.buf and not link.connecting:
            poller.unregister(link.sock)
            by_fd.pop(link.fd, None)
            closed_in_batch.add(link.fd)
            pool.give(link.antenna, link.addr, link.sock)
            link.sock, link.fd = None, -1
        close(link)
        live -= 1
        if on_antenna_done is not None:
            on_antenna_done(link.antenna, link.out)

    def fail(link: _Link, code: str, text: str, stop: bool) -> None:
        """The current request failed; with ``stop`` the rest get the same error unsent."""
        link.record_failure(code, text, link.sent_at or time.time())
        close(link)
        if stop:
            link.give_up = (code, text + " (not sent: an earlier request to this antenna failed)")

    def advance(link: _Link) -> None:
        """Send the next request (connecting first if needed), or finish the antenna."""
        while link.i < link.n:
            now = monotonic()
            if link.give_up is None and now >= end:
                link.give_up = ("deadline", TRANSPORT_ERRORS["deadline"])
            if link.give_up is not None:
                code, text = link.give_up
                while link.i < link.n:
                    link.record_failure(code, text, time.time())
                break
            link.sent_at = now + to_unix
            link.t0 = now
            if link.sock is None and pool is not None and link.addr[0] != "unresolved":
                kept = pool.take(link.antenna, link.addr)
                if kept is not None:
                    link.sock, link.fd, link.connecting, link.received = kept, kept.fileno(), False, 0
                    poller.register(kept, write=False)
                    by_fd[link.fd] = link
            if link.sock is None:
                if link.addr[0] == "unresolved":
                    fail(link, "unresolved", link.addr[1], stop=True)
                    continue
                sock = socket.socket(link.addr[0], socket.SOCK_STREAM)
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                err = sock.connect_ex(link.addr[1])
                if err not in (0, errno.EINPROGRESS):
                    sock.close()
                    code = "refused" if err == errno.ECONNREFUSED else "unreachable"
                    fail(link, code, TRANSPORT_ERRORS[code] if code == "refused" else f"network error: {os.strerror(err)}", stop=True)
                    continue
                link.sock, link.fd, link.connecting, link.received = sock, sock.fileno(), True, 0
                poller.register(sock, write=True)
                by_fd[link.fd] = link
                return
            try:
                link.sock.send(link.frames[link.i])
            except OSError:
                fail(link, *_lost(link), stop=link.received == 0)
                continue
            return
        finish(link)

    def expire(now: float) -> None:
        """Fail the requests (and connects) that waited too long."""
        for link in list(by_fd.values()):
            if link.sock is None or link.i >= link.n:
                continue
            if now >= end - 1e-3:
                fail(link, "deadline", "no reply before the sweep's deadline", stop=True)
            elif now - link.t0 >= timeout:
                fail(link, "timeout", TRANSPORT_ERRORS["timeout"], stop=True)
            else:
                continue
            advance(link)

    def on_ready(link: _Link) -> None:
        sock = link.sock
        assert sock is not None
        if link.connecting:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                if err == errno.ECONNRESET:
                    code, text = _lost(link)
                elif err == errno.ECONNREFUSED:
                    code, text = "refused", TRANSPORT_ERRORS["refused"]
                else:
                    code, text = "unreachable", f"network error: {os.strerror(err)}"
                fail(link, code, text, stop=True)
                advance(link)
                return
            link.connecting = False
            poller.modify(sock, write=False)
            advance(link)
            return
        try:
            data = sock.recv(_READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        on_data(link, data)

    def on_data(link: _Link, data: bytes) -> None:
        """Bytes read from ``link``'s connection: a reply, part of one, or trouble."""
        if not data:
            fail(link, *_lost(link), stop=link.received == 0)
            advance(link)
            return
        link.received += len(data)
        buf = link.buf
        if buf:
            buf += data
            data = bytes(buf)
        try:
            done = decode_reply(data, link.reqs[link.i].mode)
            if done is not None and done[1] != len(data):
                raise ProtocolError(f"{len(data) - done[1]} unexpected bytes after the reply")
        except ProtocolError as exc:
            fail(link, "protocol", f"{TRANSPORT_ERRORS['protocol']}: {exc}", stop=False)
            advance(link)
            return
        if done is None:
            if not buf:
                buf += data
            return  # part of a reply: wait for the rest
        buf.clear()
        link.raw.append(data)
        link.sent.append(link.sent_at)
        link.lat.append(monotonic() - link.t0)
        link.i += 1
        advance(link)

    def on_reply(link: _Link, sock: socket.socket, data: bytes) -> None:
        """The usual event, kept lean: a whole, valid monitor or control reply; the next
        request goes out at once. What :func:`on_data` and :func:`advance` would do for
        it, minus their checks for the cases that cannot apply here."""
        now = monotonic()
        link.received += 13
        link.raw.append(data)
        link.sent.append(link.sent_at)
        link.lat.append(now - link.t0)
        i = link.i + 1
        link.i = i
        if i < link.n and link.give_up is None and now < end:
            link.sent_at = now + to_unix
            link.t0 = now
            try:
                sock.send(link.frames[i])
            except OSError:
                fail(link, *_lost(link), stop=False)
                advance(link)
            return
        advance(link)

    poll = poller.poll
    try:
        next_scan = monotonic() + tick
        while waiting or live:
            while waiting and live < concurrency:
                live += 1
                advance(waiting.popleft())
            now = monotonic()
            if now >= next_scan:
                expire(now)
                next_scan = now + tick if now + tick < end else end
            if not live and not waiting:
                break
            wait = next_scan - monotonic()
            if wait < 0:
                wait = 0.0
            if not poller.count:
                if live:
                    time.sleep(wait)
                continue
            closed_in_batch.clear()
            for fd, _ in poll(wait):
                link = by_fd.get(fd)
                if link is None or fd in closed_in_batch:
                    continue
                if link.connecting or link.buf:
                    on_ready(link)
                    continue
                sock = link.sock
                try:
                    data = sock.recv(_READ)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                # the usual event: one whole, valid monitor (or control) reply in one read
                if link.plain and len(data) == REPLY_SIZE and whole_reply_ok(data):
                    on_reply(link, sock, data)  # type: ignore[arg-type]
                    continue
                on_data(link, data)  # anything else: partial, closed, bad bytes, get-nodes
    finally:
        for link in links.values():
            close(link)
        poller.close()
    return {a: link.out for a, link in links.items()}


#: Decoded replies by their bytes, with their error code and text (see :func:`_known`);
#: shared by every sweep, emptied when full. Replies are immutable, so sharing one is safe.
_seen: dict[bytes, tuple[Reply, str | None, str | None]] = {}
_SEEN_MAX = 8192
#: bytes asked of the kernel per read: a reply is 13 bytes (a get-nodes one 13 + 12 per
#: node, and a longer one arrives over several reads); small reads come from Python's
#: small-object allocator instead of a 4 kB buffer shrunk after every read
_READ = 512
#: ``Result(...)`` without the named tuple's Python-level ``__new__``
_result = tuple.__new__


def _known(raw: bytes, mode: Mode) -> tuple[Reply, str | None, str | None]:
    """The Reply in ``raw`` (whole, and checked when it was received), with the error
    code and text a Result carries for it. The same monitor and control replies come
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
    """``reply`` with the error code and text a Result carries for it."""
    if not reply.error:
        return (reply, None, None)
    info = error_info(reply.error)
    return (reply, info.tag, info.text)


def _lost(link: _Link) -> tuple[str, str]:
    # A connection reset before it carried a single reply byte is how a powered-off
    # or overloaded E2C turns clients away: treat it like a refusal.
    if link.received == 0:
        return "refused", "connection reset by the E2C before any reply (E2C down or powered off)"
    return "closed", TRANSPORT_ERRORS["closed"]


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
