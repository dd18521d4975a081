"""The fan-out engine: many antennas at once, one overall deadline.

One connection per antenna, its requests strictly in order (the E2C takes one request
at a time and its replies carry no id); antennas in parallel up to a cap; one deadline
for the whole sweep, so a silent antenna — or a host name that does not resolve —
costs at most the deadline, never a timeout per point.

:class:`Engine` runs one sweep in one poll loop over non-blocking sockets: measured
here, asyncio's futures, timers and coroutine switches cost more per 18-byte request
than the request itself. Each antenna is a :class:`_Link` whose sans-I/O
:class:`~e2ckit.wire.Connection` decides what its bytes mean; the engine only moves
them, keeps time and records. Host names are looked up concurrently
(:mod:`~e2ckit.transport.resolve`): an antenna starts as soon as its own address is
known, and a name still unresolved at the deadline gets its own failure.

This is the socket driver of the transport seam (:class:`SocketTransport`; callers go
through :func:`e2ckit.transport.exchange`). :func:`fanout_columns` runs it directly,
blocking (from any thread, a script or a Jupyter cell whose loop is running alike — no
event loop is involved); ``async`` code awaits ``e2ckit.asweep``, which runs the sweep
in a worker thread.

Failure is data: every planned request yields exactly one outcome. The loop records
each antenna's exchanges as columns (:class:`Exchanges`: reply bytes, times,
:class:`~e2ckit.errors.Failure` by position), which a caller that decodes replies
itself, the logger, reads without a :class:`Result` per sample.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import errno
import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from e2ckit.errors import Failure, ValidationError
from e2ckit.transport import resolve
from e2ckit.transport.base import DEFAULT_CONCURRENCY, Exchanges, Result, check_timing, retryable
from e2ckit.wire import NEED_DATA, Connection
from e2ckit.wire.frames import Request

try:
    import resource
except ImportError:  # not POSIX: no descriptor limit to read
    resource = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_CONCURRENCY", "FD_RESERVE", "SOCKET", "ConnectionPool", "SocketTransport", "Engine", "Exchanges",
    "Result", "fanout_columns", "socket_budget",
]  # fmt: skip

#: bytes asked of the kernel per read: a reply is 13 bytes (a get-nodes one 13 + 12 per
#: node, and a longer one arrives over several reads); small reads come from Python's
#: small-object allocator instead of a 4 kB buffer shrunk after every read
_READ = 512


class _Link:
    """One antenna: its connection, where it is in its requests, and its columns."""

    __slots__ = ("antenna", "endpoint", "addr", "lookup", "reqs", "i", "n", "sock", "fd", "conn", "connecting",
                 "sent_at", "t0", "give_up", "live", "followed", "out", "raw", "sent", "lat", "failed", "kept")  # fmt: skip

    def __init__(self, antenna: str, endpoint: Any, reqs: Sequence[Request]) -> None:
        self.antenna = antenna
        self.endpoint = endpoint
        self.addr: resolve.Address | Failure | None = None  # None while the name is looked up
        self.lookup: concurrent.futures.Future | None = None
        self.reqs = list(reqs)  # its own: a follow-up may extend it
        self.i = 0  # the request in flight (or next); also how many are recorded
        self.n = len(reqs)
        self.sock: socket.socket | None = None
        self.fd = -1
        self.conn = Connection()
        self.connecting = False
        self.sent_at = 0.0  # UNIX time the request in flight was sent
        self.t0 = 0.0  # monotonic time the request in flight (or the connect) began
        self.give_up: Failure | None = None  # what every later request gets, unsent
        self.live = False  # counted against the concurrency cap
        self.followed = False  # the follow-up requests were asked for
        self.kept = False  # its socket came from the pool (see Engine._again)
        # the columns, shared with the Exchanges handed out
        self.raw: list[bytes | None] = []
        self.sent: list[float] = []
        self.lat: list[float | None] = []
        self.failed: dict[int, Failure] = {}
        self.out = Exchanges(antenna, self.reqs, self.raw, self.sent, self.lat, self.failed)

    def record(self, failure: Failure, sent: float) -> None:
        """The current request ends with no valid reply."""
        self.failed[self.i] = failure
        self.raw.append(None)
        self.sent.append(sent)
        self.lat.append(None)
        self.i += 1


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


#: file descriptors a sweep leaves for everything else in the process: the poller and
#: the resolver's wake-up pair (3), the logger's parquet parts, write-ahead segment, lock
#: and status files, a notebook's own files, the interpreter's, with room to spare
FD_RESERVE = 32


def socket_budget() -> int:
    """How many sockets a sweep may hold at once: the soft ``RLIMIT_NOFILE`` less the
    descriptors already open and :data:`FD_RESERVE` (at least 1). Antennas past it
    wait their turn within the deadline; one never tried gets its rows saying so."""
    if resource is None:
        return DEFAULT_CONCURRENCY
    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (OSError, ValueError):
        return DEFAULT_CONCURRENCY
    if soft == resource.RLIM_INFINITY or soft < 0:
        return 1 << 20
    try:
        open_now = len(os.listdir("/proc/self/fd"))  # Linux; elsewhere the reserve must do
    except OSError:
        open_now = 0
    return max(1, soft - open_now - FD_RESERVE)


class ConnectionPool:
    """Connections kept from one sweep to the next, one per antenna.

    For a caller that sweeps the same antennas again and again (the logger, every
    cycle): each reuse spares a TCP handshake and teardown on both ends, which on
    loopback cost as much CPU as 45 requests. A connection is handed back only when
    its antenna finished cleanly (its Connection idle, nothing unread), and is checked
    again before reuse: one the E2C closed or reset meanwhile, or with bytes nobody
    asked for (a stray reply), is dropped and a fresh connection made. :meth:`close`
    when done.
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


class Engine:
    """One sweep: every antenna's requests, concurrently, in one poll loop. :meth:`run` once.

    Each antenna has one non-blocking socket and at most one request in flight. A sweep
    is thousands of 18-byte exchanges, so the usual one (a whole monitor reply in one
    read) records its bytes and sends the next request with nothing else made per
    request (:meth:`_on_reply`). Timeouts are found by a scan of the connections
    waiting, every ``timeout``/50 (1 to 20 ms), so a request may be declared lost that
    much late; the deadline itself is kept to the millisecond. With a ``pool``,
    connections come from it and go back to it instead of being opened and closed for
    every sweep. With ``follow_up``, an antenna that has its answers is asked for more
    requests (``follow_up(antenna, exchanges)``), sent on the same connection before
    it finishes; its Exchanges then hold both.
    """

    def __init__(
        self,
        plan: Mapping[str, tuple[Any, Sequence[Request]]],
        *,
        timeout: float = 1.0,
        deadline: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_antenna_done: Callable[[str, Exchanges], None] | None = None,
        pool: ConnectionPool | None = None,
        follow_up: Callable[[str, Exchanges], Sequence[Request]] | None = None,
    ) -> None:
        self.deadline = check_timing(timeout, deadline, concurrency)
        self.follow_up = follow_up
        self.timeout = timeout
        # one socket per antenna talked to: never more than the process may open, and a
        # pool keeps no more than leaves room for them (kept sockets hold descriptors too)
        room = socket_budget()
        self.concurrency = min(concurrency, room)
        self.pool_cap = 0 if pool is None else len(pool) + room - self.concurrency
        self.on_antenna_done = on_antenna_done
        self.pool = pool
        for a, (ep, _) in plan.items():
            if getattr(ep, "transport", None) not in (None, SOCKET):
                # never look its label up as a host name: it is reached another way
                raise ValidationError(
                    f"{a} is reached through {ep.transport!r}, not sockets: use e2ckit.transport.exchange"
                )
        self.links = {a: _Link(a, ep, reqs) for a, (ep, reqs) in plan.items()}
        self.waiting = collections.deque(self.links.values())
        self.resolving: list[_Link] = []  # taken from waiting while their name is looked up
        self.live = 0
        self.poller = _Poller()
        # every link with a socket is here: waiting for its connection, or for a reply
        self.by_fd: dict[int, _Link] = {}
        # descriptors closed while a batch of events is handled: a later event of the
        # same batch was about the old socket, even if a new connection got the number
        self.closed_in_batch: set[int] = set()
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self.end = 0.0
        self.to_unix = 0.0

    # -- the loop ------------------------------------------------------------------------

    def exchange(self) -> dict[str, Exchanges]:
        """Exchange every planned request within the deadline; every antenna's
        :class:`Exchanges`, in plan order."""
        monotonic = time.monotonic
        self.end = monotonic() + self.deadline
        # UNIX time of a monotonic reading, so a request costs one clock read, not two
        self.to_unix = time.time() - monotonic()
        tick = min(max(self.timeout / 50, 1e-3), 0.02)
        try:
            self._look_up()
            next_scan = monotonic() + tick
            while self.waiting or self.live or self.resolving:
                self._start_waiting()
                now = monotonic()
                if now >= next_scan:
                    self._expire(now)
                    next_scan = now + tick if now + tick < self.end else self.end
                if not (self.live or self.waiting or self.resolving):
                    break
                wait = next_scan - monotonic()
                self._handle(self.poller.poll(wait if wait > 0 else 0.0))
        finally:
            for link in self.links.values():
                self._close(link)
            self.poller.close()
            if self._wake is not None:
                for s in self._wake:
                    s.close()
        return {a: link.out for a, link in self.links.items()}

    def _handle(self, events: list[tuple[int, int]]) -> None:
        """One batch of ready sockets. The usual event, a whole valid monitor reply in
        one read, goes straight to :meth:`_on_reply`."""
        by_fd, closed = self.by_fd, self.closed_in_batch
        closed.clear()
        for fd, _ in events:
            link = by_fd.get(fd)
            if link is None or fd in closed:
                if self._wake is not None and fd == self._wake[0].fileno():
                    self._resolved()
                continue
            if link.connecting:
                self._on_connect(link)
                continue
            try:
                data = link.sock.recv(_READ)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            raw = link.conn.fast_reply(data)
            if raw is not None:
                self._on_reply(link, raw)
            else:
                self._on_data(link, data)  # partial, closed, bad bytes, get-nodes

    def _start_waiting(self) -> None:
        """Start antennas up to the concurrency cap, in plan order; one whose name is
        still being looked up waits aside, holding no place."""
        waiting = self.waiting
        while waiting and self.live < self.concurrency:
            link = waiting.popleft()
            if link.addr is None:
                self.resolving.append(link)
                continue
            link.live = True
            self.live += 1
            self._advance(link)

    def _defer(self, link: _Link) -> None:
        """``link`` could not have a socket (the process is out of file descriptors):
        back to the head of the queue, and no more antennas at once than now hold one."""
        link.live = False
        self.live -= 1
        self.waiting.appendleft(link)
        self.concurrency = max(1, self.live)

    # -- names ------------------------------------------------------------------------------

    def _look_up(self) -> None:
        """Start every antenna's look-up at once (an IP address needs none)."""
        for link in self.links.values():
            if not link.n:
                link.addr = Failure("unresolved", "no request")  # never used: nothing to send
                continue
            fut = resolve.lookup(link.endpoint.host, link.endpoint.port)
            if fut.done():
                link.addr = resolve.outcome(fut)
                continue
            link.lookup = fut
            if self._wake is None:
                self._wake = socket.socketpair()
                for s in self._wake:
                    s.setblocking(False)
                self.poller.register(self._wake[0], write=False)
            fut.add_done_callback(self._wakeup)

    def _wakeup(self, _fut: Any) -> None:
        # on the resolver's thread: only nudge the loop
        with contextlib.suppress(OSError):
            self._wake[1].send(b"\0")  # type: ignore[index]

    def _resolved(self) -> None:
        """Some look-ups finished: their antennas join the queue."""
        with contextlib.suppress(OSError):
            self._wake[0].recv(4096)  # type: ignore[index]
        still = []
        for link in self.resolving:
            if link.lookup is not None and link.lookup.done():
                link.addr = resolve.outcome(link.lookup)
                self.waiting.append(link)
            else:
                still.append(link)
        self.resolving = still
        for link in self.links.values():  # not yet taken from the queue
            if link.addr is None and link.lookup is not None and link.lookup.done():
                link.addr = resolve.outcome(link.lookup)

    # -- one antenna ------------------------------------------------------------------------

    def _advance(self, link: _Link) -> None:
        """Send the next request (connecting first if needed), or finish the antenna."""
        while link.i < link.n:
            now = time.monotonic()
            if link.give_up is None and now >= self.end:
                link.give_up = Failure.of("deadline")
            if link.give_up is not None:
                while link.i < link.n:
                    link.record(link.give_up, time.time())
                break
            link.sent_at = now + self.to_unix
            link.t0 = now
            if link.sock is None:
                ready = self._open(link)
                if ready is None:
                    continue  # failed, recorded: the rest get the same
                if not ready:
                    return  # connecting
            try:
                link.sock.send(link.conn.send(link.reqs[link.i]))  # type: ignore[union-attr]
            except OSError:
                link.conn.receive_data(b"")
                if self._again(link, link.conn.failure):  # type: ignore[arg-type]
                    continue
                self._fail(link, link.conn.failure, stop=link.conn.failure.kind == "refused")  # type: ignore[union-attr]
                continue
            return
        self._finish(link)

    def _again(self, link: _Link, failure: Failure) -> bool:
        """A kept connection that failed before any reply byte (the E2C rebooted under
        it): True, and it is closed for the request to go again on a fresh one (once;
        monitor and get-nodes only, see :func:`~e2ckit.transport.base.retryable`)."""
        if not link.kept or link.conn.received or not retryable(link.reqs[link.i], failure):
            return False
        link.kept = False
        self._close(link)
        return True

    def _open(self, link: _Link) -> bool | None:
        """Give ``link`` a socket: a kept one (True: send now), a new one connecting
        (False: wait), or none (None: the failure is recorded)."""
        addr = link.addr
        if isinstance(addr, Failure):
            self._fail(link, addr, stop=True)
            return None
        assert addr is not None
        pool = self.pool
        if pool is not None:
            kept = pool.take(link.antenna, addr)
            if kept is not None:
                self._attach(link, kept, connecting=False)
                return True
        try:
            sock = socket.socket(addr[0], socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE) and self.live > 1:
                self._defer(link)  # out of descriptors after all: its turn comes when one is freed
                return False
            self._fail(link, Failure("unreachable", f"no socket for this antenna: {exc.strerror or exc}"), stop=True)
            return None
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(addr[1])
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self._fail(link, _connect_failure(err), stop=True)
            return None
        self._attach(link, sock, connecting=True)
        return False

    def _attach(self, link: _Link, sock: socket.socket, connecting: bool) -> None:
        link.sock, link.fd, link.connecting, link.conn = sock, sock.fileno(), connecting, Connection()
        link.kept = not connecting
        self.poller.register(sock, write=connecting)
        self.by_fd[link.fd] = link

    def _on_connect(self, link: _Link) -> None:
        sock = link.sock
        assert sock is not None
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            if err == errno.ECONNRESET:
                link.conn.receive_data(b"")  # reset before any byte: refused
                failure = link.conn.failure
            else:
                failure = _connect_failure(err)
            self._fail(link, failure, stop=True)  # type: ignore[arg-type]
            self._advance(link)
            return
        link.connecting = False
        self.poller.modify(sock, write=False)
        self._advance(link)

    def _on_reply(self, link: _Link, data: bytes) -> None:
        """The usual event, kept lean: a whole, valid monitor or control reply (the
        connection took it); the next request goes out at once. What :meth:`_on_data`
        and :meth:`_advance` would do, minus their checks for cases that cannot apply."""
        now = time.monotonic()
        link.raw.append(data)
        link.sent.append(link.sent_at)
        link.lat.append(now - link.t0)
        i = link.i + 1
        link.i = i
        if i < link.n and link.give_up is None and now < self.end:
            link.sent_at = now + self.to_unix
            link.t0 = now
            try:
                link.sock.send(link.conn.send(link.reqs[i]))  # type: ignore[union-attr]
            except OSError:
                link.conn.receive_data(b"")
                self._fail(link, link.conn.failure, stop=False)  # type: ignore[arg-type]
                self._advance(link)
            return
        self._advance(link)

    def _on_data(self, link: _Link, data: bytes) -> None:
        """Bytes read from ``link``'s connection: part of a reply, a whole one the long
        way (get-nodes, several reads), or trouble the connection names."""
        conn = link.conn
        conn.receive_data(data)
        event = conn.next_raw()
        if event is NEED_DATA:
            return
        if isinstance(event, Failure):
            # refused (reset before any reply) stops the antenna; a connection lost
            # mid-reply or bad bytes cost this request only: the next one reconnects
            if not self._again(link, event):
                self._fail(link, event, stop=event.kind == "refused")
        else:
            link.raw.append(event)  # type: ignore[arg-type]
            link.sent.append(link.sent_at)
            link.lat.append(time.monotonic() - link.t0)
            link.i += 1
        self._advance(link)

    def _expire(self, now: float) -> None:
        """Fail the requests (and connects) that waited too long, and at the deadline
        the antennas whose names are still being looked up."""
        end = self.end
        for link in list(self.by_fd.values()):
            if link.sock is None or link.i >= link.n:
                continue
            if now >= end - 1e-3:
                failure = Failure("deadline", "no reply before the sweep's deadline")
            elif now - link.t0 >= self.timeout:
                failure = Failure.of("timeout")
            else:
                continue
            self._fail(link, link.conn.time_out(failure), stop=True)
            self._advance(link)
        if now >= end - 1e-3:
            # names still being looked up: their own failure, not "deadline"
            waited = resolve.unresolved(self.deadline)
            for link in self.resolving + [x for x in self.waiting if x.addr is None]:
                link.addr = waited
                if link.i < link.n:
                    self._fail(link, waited, stop=True)
            if self.resolving:
                self.waiting.extend(self.resolving)
                self.resolving = []

    def _fail(self, link: _Link, failure: Failure, stop: bool) -> None:
        """The current request failed; with ``stop`` the rest get the same cause, unsent."""
        link.record(failure, link.sent_at or time.time())
        self._close(link)
        if stop:
            link.give_up = failure.not_sent()

    def _close(self, link: _Link) -> None:
        if link.sock is not None:
            self.poller.unregister(link.sock)
            self.by_fd.pop(link.fd, None)
            self.closed_in_batch.add(link.fd)
            link.sock.close()
            link.sock = None
            link.fd = -1

    def _finish(self, link: _Link) -> None:
        if self.follow_up is not None and not link.followed:
            # more requests that depend on the answers so far (the readings of the nodes
            # a listing found): on the same connection, under the same deadline
            link.followed = True
            more = self.follow_up(link.antenna, link.out)
            if more:
                link.reqs.extend(more)
                link.n = len(link.reqs)
                self._advance(link)
                return
        pool = self.pool
        if (pool is not None and link.sock is not None and not link.connecting and link.conn.reusable
                and len(pool) < self.pool_cap):  # fmt: skip
            self.poller.unregister(link.sock)
            self.by_fd.pop(link.fd, None)
            self.closed_in_batch.add(link.fd)
            pool.give(link.antenna, link.addr, link.sock)
            link.sock, link.fd = None, -1
        self._close(link)
        if link.live:
            link.live = False
            self.live -= 1
        if self.on_antenna_done is not None:
            self.on_antenna_done(link.antenna, link.out)


def _connect_failure(err: int) -> Failure:
    if err == errno.ECONNREFUSED:
        return Failure.of("refused")
    return Failure("unreachable", f"network error: {os.strerror(err)}")


# -- entry points ---------------------------------------------------------------------------


class SocketTransport:
    """The socket driver of the :class:`~e2ckit.transport.base.Transport` seam: an
    :class:`Engine` per exchange (``pool``: a :class:`ConnectionPool`, or None)."""

    name = "socket"

    def exchange(
        self,
        plan: Mapping[str, tuple[Any, Sequence[Request]]],
        *,
        timeout: float,
        deadline: float,
        concurrency: int,
        on_antenna_done: Callable[[str, Exchanges], None] | None = None,
        pool: ConnectionPool | None = None,
        follow_up: Callable[[str, Exchanges], Sequence[Request]] | None = None,
    ) -> dict[str, Exchanges]:
        return Engine(
            plan, timeout=timeout, deadline=deadline, concurrency=concurrency, on_antenna_done=on_antenna_done,
            pool=pool if isinstance(pool, ConnectionPool) else None, follow_up=follow_up,
        ).exchange()  # fmt: skip

    def __repr__(self) -> str:
        return "SocketTransport()"


#: The one socket driver (it holds no state: every exchange makes its own Engine).
SOCKET = SocketTransport()


def fanout_columns(
    plan: Mapping[str, tuple[Any, Sequence[Request]]],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_antenna_done: Callable[[str, Exchanges], None] | None = None,
    pool: ConnectionPool | None = None,
    follow_up: Callable[[str, Exchanges], Sequence[Request]] | None = None,
) -> dict[str, Exchanges]:
    """Run every antenna's requests concurrently; each antenna's :class:`Exchanges`, in
    plan order. Blocking; no event loop (so it works inside a running one too).

    ``timeout`` bounds each request; ``deadline`` (seconds from now, default
    ``2 × timeout + 0.5``) the whole sweep, host-name look-ups included;
    ``concurrency`` caps the antennas talked to at once; with a ``pool``, connections
    are kept from one sweep to the next; ``follow_up`` (see :class:`Engine`) asks an
    antenna that has its answers for more requests.
    """
    return Engine(
        plan, timeout=timeout, deadline=deadline, concurrency=concurrency, on_antenna_done=on_antenna_done,
        pool=pool, follow_up=follow_up,
    ).exchange()  # fmt: skip
