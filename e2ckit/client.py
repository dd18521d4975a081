"""A blocking client for one E2C socket server.

``Client`` holds one TCP connection, opened lazily on the first request, and sends
one request at a time (a lock makes it safe to share between threads). What the bytes
mean is decided by the sans-I/O :class:`~e2ckit.wire.Connection`; this class only
moves them. The timeout is per request and counts resolving the host name, connecting,
sending and the whole reply.

After a timeout or a malformed reply the connection is closed and the next request
opens a fresh one: the E2C may still send the late reply, and on the old connection
it would be taken as the answer to the next question. For the same reason a kept
connection is checked before each request: bytes that arrived since the last reply
(a stray reply) break it, and the request goes out on a fresh connection.

Controls and resets change hardware: :meth:`Client.control` and :meth:`Client.reset`
send only with ``confirm=True`` and write the control audit log first (see
:mod:`e2ckit.audit`).

``E2CClient``, the drop-in for the published ``e2c-client``, lives in
:mod:`e2ckit.compat` (``from e2ckit.compat import E2CClient``), which builds on this module.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from e2ckit import audit
from e2ckit.arguments import host_name, positive_seconds
from e2ckit.errors import (
    E2CError,
    Failure,
    ProtocolError,
    ValidationError,
)
from e2ckit.names import DEFAULT_PORT, LRU_CHANNELS
from e2ckit.transport import resolve
from e2ckit.transport.base import retryable
from e2ckit.wire import NEED_DATA, Connection
from e2ckit.wire.frames import (
    Mode,
    NodeRecord,
    Reply,
    Request,
    monitor_request,
    reply_of,
)

__all__ = ["DEFAULT_PORT", "Client", "decode_ds18s20"]

#: request modes that change hardware: sent only from inside audit.audited_send
_CHANGES_HARDWARE = (Mode.CONTROL, Mode.RESET)

#: bytes asked of the kernel per read: a reply is 13 bytes, a get-nodes one 13 + 12 per
#: node (a longer one arrives over several reads)
_READ = 1024


class Client:
    """One connection to one E2C; one request in flight at a time.

    >>> with Client("127.0.0.1", 2000, timeout=0.5) as c:          # doctest: +SKIP
    ...     c.monitor(1, 0x13, 0x0C000)
    """

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout: float = 1.0) -> None:
        host_name("host", host)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValidationError(f"port must be 1..65535, got {port!r}")
        self.host = host
        self.port = port
        self.timeout = positive_seconds("timeout", timeout)
        self._sock: socket.socket | None = None
        self._conn = Connection()
        # readiness of the kept socket without waiting: "did anything arrive since the
        # last reply?" before each request (a socket with a timeout cannot be asked
        # that by recv, which would wait)
        self._poll: Any = None
        # the timeout the socket now has: settimeout is a system call every time, so it
        # is made only when a request needs another one (None: unknown, set it)
        self._sock_timeout: float | None = None
        self._lock = threading.Lock()

    # -- connection ---------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self._sock else "idle"
        return f"Client({self.host!r}, {self.port}, timeout={self.timeout}) [{state}]"

    @property
    def connected(self) -> bool:
        """True while a connection is open (it opens on the first request)."""
        return self._sock is not None

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        sock, self._sock, self._poll = self._sock, None, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _connect(self, deadline: float) -> socket.socket:
        """The kept connection if it is still clean, else a new one (or raise)."""
        sock, poll = self._sock, self._poll
        if sock is not None and poll is not None and self._conn.reusable and not poll.poll(0):
            return sock  # the usual case, kept lean: a kept connection with nothing pending
        sock = self._kept()
        if sock is not None:
            return sock
        result = self._open(deadline)
        if isinstance(result, Failure):
            exc = result.exception(self.host, self.port)
            exc.never_sent = True  # type: ignore[attr-defined]  # no connection: no byte left (audit: "failed")
            raise exc
        return result

    def _kept(self) -> socket.socket | None:
        """The open connection, if nothing arrived on it since its last reply."""
        sock = self._sock
        if sock is None:
            return None
        if self._conn.reusable and not self._pending():
            return sock
        if self._conn.reusable:  # a stray reply, or the E2C closed it: read what it is
            try:
                sock.settimeout(0.0)
                self._conn.receive_data(sock.recv(_READ))
            except OSError:
                self._conn.receive_data(b"")
        self.close()
        return None

    def _pending(self) -> bool:
        if self._poll is None:
            return bool(select.select([self._sock], [], [], 0)[0])
        return bool(self._poll.poll(0))

    def _open(self, deadline: float) -> socket.socket | Failure:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Failure("timeout", "timed out before connecting")
        addr = resolve.resolve(self.host, self.port, remaining)
        if isinstance(addr, Failure):
            return addr
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Failure("timeout", f"no connection within {self.timeout:g} s")
        sock = socket.socket(addr[0], socket.SOCK_STREAM)
        try:
            sock.settimeout(remaining)
            sock.connect(addr[1])
        except TimeoutError:
            sock.close()
            return Failure("timeout", f"no connection within {self.timeout:g} s")
        except ConnectionRefusedError:
            sock.close()
            return Failure.of("refused")
        except ConnectionResetError:
            # reset as it connects (a powered-off E2C accepts, then resets): before any
            # byte, which wire's Connection reads as refused, as the engine does
            sock.close()
            lost = Connection()
            lost.receive_data(b"")
            return lost.failure  # type: ignore[return-value]
        except OSError as exc:
            sock.close()
            return Failure("unreachable", f"cannot connect: {exc.strerror or exc}")
        # Requests are tiny and strictly request/reply: Nagle would only add delay.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._sock_timeout, self._conn = sock, None, Connection()
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
        return sock

    # -- requests -----------------------------------------------------------------

    def request(self, request: Request, *, timeout: float | None = None, check: bool = True) -> Reply:
        """Send one request and return its decoded reply.

        With ``check`` (the default) a non-zero E2C error code raises :class:`E2CError`;
        without it the reply is returned as is. Controls and resets are refused here
        (ValidationError, nothing sent): they go through :meth:`control` / :meth:`reset`,
        which write the audit log first.
        """
        limit = self.timeout if timeout is None else positive_seconds("timeout", timeout)
        if request.mode in _CHANGES_HARDWARE:
            if not audit.audited(request):
                raise ValidationError(
                    f"a {request.mode.name.lower()} request changes hardware and is never sent unaudited: "
                    f"use Client.{'reset' if request.mode == Mode.RESET else 'control'}(..., confirm=True)"
                )
        with self._lock:
            deadline = time.monotonic() + limit
            result = self._attempt(request, deadline, limit)
            if isinstance(result, Failure):
                raise result.exception(self.host, self.port)
        if check and result.error:
            raise E2CError(result.error, request, host=f"{self.host}:{self.port}")
        return result

    def _attempt(self, request: Request, deadline: float, limit: float) -> Reply | Failure:
        """One request on the kept connection or a new one. A kept connection that
        fails before a byte of the reply (the E2C rebooted under it: a reset or a
        half-open connection) is replaced once and a monitor or get-nodes request sent
        again; a control never is (it may have been applied)."""
        kept = self._sock
        sock = self._connect(deadline)
        before = self._conn.received
        try:
            result = self._exchange(sock, request, deadline, limit)
        except BaseException:
            # Interrupted (KeyboardInterrupt): the connection may now hold a late
            # or partial reply: never reuse it.
            self.close()
            raise
        if not isinstance(result, Failure):
            return result
        self.close()
        if sock is kept and self._conn.received == before and retryable(request, result):
            return self._attempt(request, deadline, limit)
        return result

    def _exchange(self, sock: socket.socket, request: Request, deadline: float, limit: float) -> Reply | Failure:
        conn = self._conn
        frame = conn.send(request)
        self._timeout(sock, deadline, limit)
        # A connection the E2C reset since the last request fails here, not in recv.
        try:
            sock.sendall(frame)
        except TimeoutError:
            return conn.time_out(Failure("timeout", f"request not sent within {limit:g} s"))
        except OSError:
            # reset or closed under us: the connection says what that means (refused if
            # not one byte ever came back, as the engine reads the same event)
            conn.receive_data(b"")
            return conn.failure  # type: ignore[return-value]
        # The first read runs under the timeout set before the send: a kept connection
        # answering in one segment costs one recv and one decode.
        got = 0
        while True:
            try:
                chunk: bytes | None = sock.recv(_READ)
            except TimeoutError:
                chunk = None  # the deadline check below says so
            except OSError:
                chunk = b""  # reset: the connection says what that means
            if chunk is not None:
                raw = conn.fast_reply(chunk)
                if raw is not None:  # the usual case: the whole reply in one read
                    return reply_of(raw)
                got += len(chunk)
                conn.receive_data(chunk)
                event = conn.next_event()
                if event is not NEED_DATA:
                    return event  # type: ignore[return-value]
            if self._timeout(sock, deadline, limit) <= 0:
                return conn.time_out(
                    Failure("timeout", f"no complete reply within {limit:g} s ({got} bytes received)")
                )

    def _timeout(self, sock: socket.socket, deadline: float, limit: float) -> float:
        """Give ``sock`` the time left until ``deadline`` and return it. On a kept
        connection that is the request's whole ``limit`` (to within a millisecond), which
        the socket usually has already: no system call then."""
        remaining = deadline - time.monotonic()
        want = limit if remaining > limit - 1e-3 else max(remaining, 1e-3)
        if want != self._sock_timeout:
            sock.settimeout(want)
            self._sock_timeout = want
        return remaining

    def monitor(self, channel: int, node: int, rca: int, *, timeout: float | None = None) -> bytes:
        """Read a monitor point; return its data bytes (0 to 8)."""
        return self.request(monitor_request(channel, node, rca), timeout=timeout).data

    def control(
        self,
        channel: int,
        node: int,
        rca: int,
        data: bytes | Iterable[int],
        *,
        confirm: bool = False,
        timeout: float | None = None,
        audit_log: str | os.PathLike[str] | None = None,
    ) -> None:
        """Send a control (1 to 8 data bytes). It changes hardware, so it is sent only
        with ``confirm=True``, and only after an intent line is on disk in the control
        audit log (``audit_log``, default ``$E2CKIT_AUDIT_LOG``; see :mod:`e2ckit.audit`).

        Raises ValidationError (nothing sent) for bad arguments or without ``confirm``;
        :class:`~e2ckit.audit.AuditError` (nothing sent) when the log cannot be written;
        :class:`E2CError` when the E2C refuses it; and
        :class:`~e2ckit.audit.OutcomeUnknownError` when it went out and no reply came
        back: it may have been applied.
        """
        request = Request(channel, node, rca, Mode.CONTROL, _control_bytes(data))
        self._send_audited(request, "control", confirm, timeout, audit_log)

    def reset(
        self,
        channel: int,
        node: int,
        rca: int = 0,
        *,
        confirm: bool = False,
        timeout: float | None = None,
        audit_log: str | os.PathLike[str] | None = None,
    ) -> None:
        """Send a mode-3 reset request: only with ``confirm=True``, audited like
        :meth:`control` (the same errors)."""
        self._send_audited(Request(channel, node, rca, Mode.RESET), "reset", confirm, timeout, audit_log)

    def _send_audited(
        self, request: Request, what: str, confirm: object, timeout: float | None, audit_log: object
    ) -> None:
        if timeout is not None:
            positive_seconds("timeout", timeout)
        if confirm is not True:
            raise ValidationError(
                f"Client.{what} changes hardware: pass confirm=True to send it "
                f"(it is recorded in the control audit log first), got confirm={confirm!r}"
            )
        if audit_log is not None and not isinstance(audit_log, (str, os.PathLike)):
            raise ValidationError(f"audit_log must be a path, got {audit_log!r}")
        reply = audit.audited_send(
            lambda: self.request(request, timeout=timeout, check=False),
            request, host=self.host, port=self.port, via="python", path=audit_log,  # type: ignore[arg-type]
        )  # fmt: skip
        if reply.error:
            raise E2CError(reply.error, request, host=f"{self.host}:{self.port}")

    def nodes(self, channel: int, *, timeout: float | None = None) -> list[NodeRecord]:
        """List the nodes on ``channel`` (get-nodes, mode 2)."""
        reply = self.request(Request(channel, 0, 0, Mode.GET_NODES), timeout=timeout)
        return list(reply.nodes)

    def all_nodes(self, channels: Iterable[int] = LRU_CHANNELS) -> dict[int, list[NodeRecord]]:
        """Node listings of every LRU channel (0-4), by channel."""
        return {ch: self.nodes(ch) for ch in channels}


def _control_bytes(data: object) -> bytes:
    """Control data as 1 to 8 bytes, refusing what ``bytes()`` would silently misread."""
    if isinstance(data, str):
        raise ValidationError(f"control data must be bytes or a list of byte values, not the string {data!r}")
    if isinstance(data, (int, float)):  # bytes(7) would quietly be seven zero bytes
        raise ValidationError(f"control data must be bytes or a list of byte values, not the number {data!r}")
    try:
        return bytes(data)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"control data must be 1 to 8 byte values 0..255: {exc}") from None


def decode_ds18s20(data: bytes) -> float:
    """An AMBSI's 4-byte DS18S20 reading in °C, either byte order (see
    :func:`e2ckit.catalog.ds18s20_celsius`); raises ProtocolError for a bad reading."""
    # lazy: `import e2ckit.client` stays without the catalog
    from e2ckit.catalog import ds18s20_celsius

    if len(data) != 4:
        raise ProtocolError(f"DS18S20 reading needs 4 bytes, got {len(data)}")
    celsius = ds18s20_celsius(bytes(data))
    if celsius is None:
        raise ProtocolError("DS18S20 reading has count_per_c 0")
    return celsius


def __getattr__(name: str) -> Any:
    # The drop-in lives in e2ckit.compat, which builds on this module: importing it from
    # here would close an import cycle, so the old path names the new one instead.
    if name == "E2CClient":
        raise AttributeError(
            "E2CClient moved to e2ckit.compat: use `from e2ckit.compat import E2CClient` (or `e2ckit.E2CClient`)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
