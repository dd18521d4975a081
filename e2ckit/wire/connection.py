"""One E2C connection as a state machine, with no I/O (after h11's ``Connection``).

Whoever owns the socket feeds it bytes; this object says what they mean. The rules of
the E2C's socket server, all here and nowhere else:

* one request outstanding at a time: replies carry no request id, so the only way to
  know which request a reply answers is that exactly one was asked;
* a reply is exactly 13 bytes, and for a get-nodes without error 13 + 12 × ``dlen``
  (the node records follow the header);
* a byte more than the reply, or a byte when no request is outstanding, is a *stray*:
  nothing can tell whose reply it is, so the connection is broken and must be closed —
  a value taken from it could be the answer to another question;
* a connection whose request timed out is broken too: the late reply may still come;
* (what no rule can catch: with no request id, a stray reply that arrives only *after*
  the next request was sent looks exactly like its answer. Transports therefore read
  everything available at once, so a stray that came with or before a reply is seen,
  and look for pending bytes on a kept connection before sending on it;)
* the peer closing before any byte of a reply is how a powered-off or overloaded E2C
  turns clients away (``refused``); after that, mid-reply, it is ``closed``.

States (``state``)::

                 send(request)                    13-byte header of a
      IDLE ───────────────────▶ AWAITING_REPLY ── get-nodes, no error ──▶ AWAITING_NODES
        ▲                            │                                        │
        └──── whole reply taken ─────┴────────────── all records in ─────────┘
      any state ── stray bytes, bad bytes, EOF, time_out() ──▶ BROKEN (final)

Events (``next_event()``): a :class:`~e2ckit.wire.frames.Reply`, :data:`NEED_DATA`, or a
:class:`~e2ckit.errors.Failure` once broken. A caller that keeps reply bytes (the
engine's columns) uses ``next_raw()`` instead, and on its hot path ``fast_reply()``.

:class:`ServerConnection` is the other end (the simulator): it cuts 18-byte requests
from the stream.
"""

from __future__ import annotations

import enum

from e2ckit.errors import KINDS, Failure, FrameError, ProtocolError
from e2ckit.wire.frames import (
    REPLY_SIZE,
    REQUEST_SIZE,
    Mode,
    Reply,
    Request,
    decode_reply,
    reply_length,
    reply_problem,
)

__all__ = ["NEED_DATA", "Connection", "ServerConnection", "State"]


class _NeedData:
    """Sentinel: the bytes so far are not a whole reply (or request) yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by ``next_event``/``next_raw``/``next_frame`` while more bytes are needed.
NEED_DATA = _NeedData()


class State(enum.Enum):
    """Where a :class:`Connection` is (see the module's diagram)."""

    IDLE = "idle"
    AWAITING_REPLY = "awaiting reply"
    AWAITING_NODES = "awaiting node records"
    BROKEN = "broken"


_IDLE, _REPLY, _NODES, _BROKEN = State.IDLE, State.AWAITING_REPLY, State.AWAITING_NODES, State.BROKEN
_GET_NODES = Mode.GET_NODES


class Connection:
    """The client's side of one E2C connection: ``send``, ``receive_data``, ``next_event``.

    >>> conn = Connection()
    >>> frame = conn.send(Request(1, 0x13, 0x0C000))   # the 18 bytes to write
    >>> conn.receive_data(Reply(0, b"\\x01\\x02").encode()[:5])
    >>> conn.next_event()
    NEED_DATA
    >>> conn.receive_data(Reply(0, b"\\x01\\x02").encode()[5:])
    >>> conn.next_event().data, conn.state
    (b'\\x01\\x02', <State.IDLE: 'idle'>)
    """

    __slots__ = ("state", "mode", "failure", "received", "_buf", "_plain", "_decoded")

    def __init__(self) -> None:
        self.state = _IDLE
        self.mode: Mode = Mode.MONITOR  # of the request outstanding (or the last one)
        self.failure: Failure | None = None  # why it broke
        self.received = 0  # bytes received over the connection's life
        self._buf = bytearray()
        # a monitor or control reply is due and nothing of it has arrived: the state in
        # which a whole 13-byte read is the usual event (see fast_reply)
        self._plain = False
        self._decoded: Reply | None = None  # a get-nodes reply next_raw decoded to check it

    def __repr__(self) -> str:
        return f"<Connection {self.state.value}, {len(self._buf)} bytes buffered>"

    @property
    def reusable(self) -> bool:
        """True when another request may be sent: idle, nothing buffered, not broken."""
        return self.state is _IDLE and not self._buf

    # -- our side ----------------------------------------------------------------------

    def send(self, request: Request) -> bytes:
        """Start ``request``; return the 18 bytes to write. Only when idle: one
        request at a time, and never on a broken connection."""
        if self.state is not _IDLE:
            raise ProtocolError(f"cannot send a request on a connection that is {self.state.value}")
        mode = self.mode = request.mode
        self.state = _REPLY
        self._plain = mode is not _GET_NODES
        self._decoded = None
        return request._frame

    def time_out(self, failure: Failure) -> Failure:
        """No reply in time: the connection is broken (its late reply may still come)."""
        return self._break(failure)

    # -- their side ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the socket; ``b""`` means the peer closed (or reset) it."""
        if self.state is _BROKEN:
            return
        if not data:
            self._break(self._lost())
            return
        self.received += len(data)
        self._plain = False
        if self.state is _IDLE:
            self._break(Failure("protocol", f"{len(data)} stray bytes with no request outstanding"))
            return
        self._buf += data

    def fast_reply(self, data: bytes) -> bytes | None:
        """The hot path: ``data`` (one read) if it is exactly the whole, valid monitor or
        control reply now due, which is taken (the connection goes idle); else None, and
        nothing changes — then ``receive_data(data)`` and ``next_raw()``."""
        if self._plain and len(data) == REPLY_SIZE and reply_problem(data) is None:
            self._plain = False
            self.state = _IDLE
            self.received += REPLY_SIZE
            return data
        return None

    def next_raw(self) -> bytes | _NeedData | Failure:
        """The whole next reply's bytes once they are in (checked by the codec),
        :data:`NEED_DATA`, or the :class:`Failure` that broke the connection."""
        state = self.state
        if state is _BROKEN:
            return self.failure  # type: ignore[return-value]
        buf = self._buf
        if state is _IDLE or len(buf) < REPLY_SIZE:
            return NEED_DATA
        need = reply_length(buf, self.mode)
        if need > REPLY_SIZE:
            self.state = _NODES
        if len(buf) < need:
            return NEED_DATA
        if len(buf) > need:
            # Two replies' worth for one request: which of them is ours cannot be told.
            return self._break(Failure("protocol", f"{len(buf) - need} unexpected bytes after the reply"))
        raw = bytes(buf)
        if need == REPLY_SIZE:
            problem = reply_problem(raw)
            if problem is not None:
                return self._break(Failure("protocol", f"{KINDS['protocol']}: {problem}"))
        else:
            try:  # node records are checked by decoding them: keep that for next_event
                self._decoded = decode_reply(raw, self.mode)[0]  # type: ignore[index]
            except (FrameError, ValueError) as exc:
                return self._break(Failure("protocol", f"{KINDS['protocol']}: {exc}"))
        buf.clear()
        self.state = _IDLE
        return raw

    def next_event(self) -> Reply | _NeedData | Failure:
        """The next reply, decoded; :data:`NEED_DATA`; or the :class:`Failure` that broke
        the connection."""
        raw = self.next_raw()
        if isinstance(raw, bytes):
            decoded, self._decoded = self._decoded, None
            return decoded if decoded is not None else decode_reply(raw, self.mode)[0]  # type: ignore[index]
        return raw

    # -- rules -------------------------------------------------------------------------

    def _lost(self) -> Failure:
        if self.received == 0:
            # Reset before a single reply byte: how a powered-off or overloaded E2C
            # turns clients away. Treated like a refusal.
            return Failure("refused", "connection reset by the E2C before any reply (E2C down or powered off)")
        if self.state is _IDLE:
            return Failure("closed", "connection closed by the E2C while idle")
        return Failure("closed", KINDS["closed"])

    def _break(self, failure: Failure) -> Failure:
        self.state = _BROKEN
        self.failure = failure
        self._plain = False
        self._buf.clear()
        return failure


class ServerConnection:
    """The E2C's side: requests cut from the byte stream, 18 bytes each.

    ``next_frame()`` gives the bytes of the next whole request (decoding, and answering
    a malformed one with ``REQUEST_ERROR``, is the server's business) or :data:`NEED_DATA`.
    """

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes of a request not complete yet."""
        return len(self._buf)

    def receive_data(self, data: bytes | memoryview) -> None:
        """Bytes read from the client."""
        self._buf += data

    def whole_frame(self, data: bytes | memoryview) -> bytes | None:
        """The hot path: ``data`` (one read) as the next request's frame when it is
        exactly one whole request and nothing is buffered before it; else None, and
        nothing changes — then ``receive_data(data)`` and ``next_frame()``."""
        if len(data) == REQUEST_SIZE and not self._buf:
            return bytes(data)
        return None

    def next_frame(self) -> bytes | _NeedData:
        """The next whole request frame (18 bytes), or :data:`NEED_DATA`."""
        buf = self._buf
        if len(buf) < REQUEST_SIZE:
            return NEED_DATA
        frame = bytes(buf[:REQUEST_SIZE])
        del buf[:REQUEST_SIZE]
        return frame
