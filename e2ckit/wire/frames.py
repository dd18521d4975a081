"""The E2C socket-server wire format: frames as pure bytes in and values out.

No sockets, no asyncio, no pandas. The rules of *one connection* (which reply belongs
to which request, how long it is, what a stray byte means) are
:mod:`e2ckit.wire.connection`'s; this module only packs and unpacks frames.

Rules of the wire (see ``shared/e2c-protocol.md``):

* every integer is big-endian;
* a request is always 18 bytes, a reply 13 bytes, followed for *get-nodes* by
  exactly ``dlen`` node records of 12 bytes each;
* replies carry no request id, so one request may be outstanding per connection.

Request (18 bytes)::

    offset  0       2       4               8     9     10                    18
           +-------+-------+---------------+-----+-----+----------------------+
           |  res  |  bus  |    can_id     |mode |dlen |  data, zero padded   |
           +-------+-------+---------------+-----+-----+----------------------+
              u16     u16        u32         u8    u8         8 bytes

    can_id = ((node + 1) & 0x7FF) << 18 | (rca & 0x3FFFF)

Reply (13 bytes)::

    offset  0               4     5                     13
           +---------------+-----+----------------------+
           |     error     |dlen |  data, zero padded   |
           +---------------+-----+----------------------+
                 u32         u8         8 bytes

Node record (12 bytes, ``dlen`` of them after a successful get-nodes reply)::

    offset  0               4                       12
           +---------------+-----------------------+
           |    node_id    |   ESN (1-wire serial)  |
           +---------------+-----------------------+
                 u32                8 bytes
"""

from __future__ import annotations

import enum
import functools
import struct
from dataclasses import dataclass, field

from e2ckit.errors import (
    ERRORS,
    ErrorCode,
    ErrorInfo,
    FrameError,
    ShortFrameError,
    ValidationError,
    error_info,
)
from e2ckit.names import E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE, MAX_CHANNEL, MAX_NODE, MAX_RCA

__all__ = [
    "CONTROL_RCA_OFFSET",
    "REPLY_DATA_AT",
    "REPLY_DLEN_AT",
    "E2C_INTERNAL_CHANNEL",
    "E2C_INTERNAL_NODE",
    "ERRORS",
    "ErrorCode",
    "ErrorInfo",
    "MAX_CHANNEL",
    "MAX_NODE",
    "MAX_RCA",
    "Mode",
    "NODE_RECORD_SIZE",
    "NodeRecord",
    "REPLY_SIZE",
    "REQUEST_SIZE",
    "DATA_SIZE",
    "Reply",
    "Request",
    "decode_reply",
    "error_info",
    "monitor_request",
    "reply_data",
    "reply_dlen",
    "reply_error",
    "reply_of",
    "reply_problem",
    "whole_reply_ok",
    "pack_can_id",
    "unpack_can_id",
]

REQUEST_SIZE = 18
REPLY_SIZE = 13
NODE_RECORD_SIZE = 12
DATA_SIZE = 8
#: where a reply's dlen byte and its data start: for hot paths that read a reply in place
#: (the catalog's sampler) instead of calling :func:`reply_dlen` / :func:`reply_data`
REPLY_DLEN_AT = 4
REPLY_DATA_AT = 5
#: the error field of a reply that reports no error
_NO_ERROR = bytes(4)

#: FEMC convention: the control RCA of a point is its monitor RCA + 0x10000.
CONTROL_RCA_OFFSET = 0x10000

_REQUEST = struct.Struct(">HHIBB8s")
_REPLY = struct.Struct(">IB8s")
_NODE = struct.Struct(">I8s")


class Mode(enum.IntEnum):
    """What the E2C does with a request."""

    MONITOR = 0
    CONTROL = 1
    GET_NODES = 2
    RESET = 3


def reply_data(reply: bytes) -> bytes:
    """The data bytes of a whole monitor or control reply's bytes (``dlen`` of them,
    after the 5-byte header), cut out without decoding the rest."""
    return bytes(reply[5 : 5 + reply[4]])


def reply_dlen(reply: bytes) -> int:
    """The ``dlen`` byte of a reply's bytes: how many data bytes (or node records) it has."""
    return reply[4]


def reply_error(reply: bytes) -> int:
    """The error code of a whole reply's bytes (0: none), read in place: for a caller
    that keeps replies as bytes (the engine's columns) instead of :class:`Reply`."""
    return int.from_bytes(reply[:4], "big")


def _check_int(field_name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field_name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValidationError(
            f"{field_name} {value:#x} ({value}) is out of range {low:#x}..{high:#x}"
        )
    return value


def pack_can_id(node: int, rca: int) -> int:
    """Pack a node id and relative CAN address into the 29-bit AMB identifier.

    The node sits in the top 11 bits *offset by one* (node 0 is ``1 << 18``),
    the RCA in the low 18 bits.
    """
    _check_int("node", node, 0, MAX_NODE)
    _check_int("rca", rca, 0, MAX_RCA)
    return ((node + 1) & 0x7FF) << 18 | rca


def unpack_can_id(can_id: int) -> tuple[int, int]:
    """Split an AMB identifier into ``(node, rca)``; the inverse of :func:`pack_can_id`.

    Identifiers whose node field is 0 (which would be node −1) are rejected.
    """
    _check_int("can_id", can_id, 0, 0xFFFFFFFF)
    top = (can_id >> 18) & 0x7FF
    if can_id >> 29:
        raise FrameError(f"can_id {can_id:#x} has bits set above the 29-bit AMB identifier")
    if top == 0:
        raise FrameError(f"can_id {can_id:#x} has node field 0, which encodes no node")
    return top - 1, can_id & MAX_RCA


@dataclass(frozen=True)
class Request:
    """One request to an E2C: a monitor, a control, a get-nodes or a reset.

    Validation happens at construction, so a ``Request`` that exists can be sent.
    """

    channel: int
    node: int
    rca: int
    mode: Mode = Mode.MONITOR
    data: bytes = b""
    resource: int = 0

    def __post_init__(self) -> None:
        _check_int("channel", self.channel, 0, MAX_CHANNEL)
        _check_int("node", self.node, 0, MAX_NODE)
        _check_int("rca", self.rca, 0, MAX_RCA)
        _check_int("resource", self.resource, 0, 0xFFFF)
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError:
            raise ValidationError(
                f"mode {self.mode!r} is not one of 0 monitor, 1 control, 2 get-nodes, 3 reset"
            ) from None
        if not isinstance(self.data, (bytes, bytearray, memoryview)):
            raise ValidationError(f"data must be bytes, got {type(self.data).__name__}")
        object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > DATA_SIZE:
            raise ValidationError(f"data is {len(self.data)} bytes; at most {DATA_SIZE} fit a CAN frame")
        if self.mode is Mode.CONTROL and not self.data:
            raise ValidationError("a control request needs 1 to 8 data bytes, got none")
        if self.mode is not Mode.CONTROL and self.data:
            raise ValidationError(
                f"a {self.mode.name.lower().replace('_', '-')} request carries no data, "
                f"got {len(self.data)} bytes"
            )

    @property
    def can_id(self) -> int:
        """The 29-bit AMB identifier of this request."""
        return pack_can_id(self.node, self.rca)

    def encode(self) -> bytes:
        """The 18 bytes to send."""
        return self._frame

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # the generated hash of every field, worked out once: the simulator looks a
        # request up in its reply cache for every frame it reads
        return hash((self.channel, self.node, self.rca, self.mode, self.data, self.resource))

    @functools.cached_property
    def _frame(self) -> bytes:
        # Requests are immutable and sweeps send the same ones every cycle: pack once.
        return _REQUEST.pack(
            self.resource, self.channel, self.can_id, self.mode, len(self.data), self.data
        )

    @classmethod
    def decode(cls, frame: bytes) -> Request:
        """Parse exactly 18 bytes into a request (the simulator's side).

        Raises :class:`~e2ckit.errors.ShortFrameError` for fewer bytes and
        :class:`~e2ckit.errors.FrameError` for anything that is not a valid request.
        """
        frame = bytes(frame)
        if len(frame) < REQUEST_SIZE:
            raise ShortFrameError(f"request needs {REQUEST_SIZE} bytes, got {len(frame)}")
        if len(frame) > REQUEST_SIZE:
            raise FrameError(f"request is {REQUEST_SIZE} bytes, got {len(frame)}")
        resource, channel, can_id, mode, dlen, data = _REQUEST.unpack(frame)
        node, rca = unpack_can_id(can_id)
        if mode not in Mode._value2member_map_:
            raise FrameError(f"mode {mode} is not one of 0..3")
        if dlen > DATA_SIZE:
            raise FrameError(f"dlen {dlen} is more than {DATA_SIZE}")
        if mode != Mode.CONTROL:
            # Published clients send dlen 0 and zero padding for non-control modes;
            # the E2C ignores the data field there, and so do we.
            dlen = 0
        try:
            return cls(channel, node, rca, Mode(mode), data[:dlen], resource)
        except ValidationError as exc:
            raise FrameError(str(exc)) from None


@dataclass(frozen=True)
class NodeRecord:
    """One node found by a get-nodes request: its id and 8-byte ESN."""

    node: int
    esn: bytes

    def __post_init__(self) -> None:
        _check_int("node", self.node, 0, 0xFFFFFFFF)
        if len(self.esn) != 8:
            raise ValidationError(f"esn must be 8 bytes, got {len(self.esn)}")
        object.__setattr__(self, "esn", bytes(self.esn))

    @property
    def esn_hex(self) -> str:
        """The ESN as the published client prints it, ``0x10DA070401080072``."""
        return "0x" + self.esn.hex().upper()

    def encode(self) -> bytes:
        """The 12 bytes of this record."""
        return _NODE.pack(self.node, self.esn)

    @classmethod
    def decode(cls, frame: bytes) -> NodeRecord:
        """Parse exactly 12 bytes into a node record."""
        if len(frame) != NODE_RECORD_SIZE:
            raise ShortFrameError(f"node record needs {NODE_RECORD_SIZE} bytes, got {len(frame)}")
        node, esn = _NODE.unpack(bytes(frame))
        return cls(node, esn)


@dataclass(frozen=True, slots=True)
class Reply:
    """An E2C reply: error code, data bytes and, for get-nodes, the node records.

    Slotted: a sweep makes one per request, and a logger thousands a second.
    """

    error: int = 0
    data: bytes = b""
    nodes: tuple[NodeRecord, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_int("error", self.error, 0, 0xFFFFFFFF)
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        if len(self.data) > DATA_SIZE:
            raise ValidationError(f"reply data is {len(self.data)} bytes; at most {DATA_SIZE}")
        if self.nodes and self.data:
            raise ValidationError("a reply carries either data or node records, not both")
        if len(self.nodes) > 0xFF:
            raise ValidationError(f"{len(self.nodes)} node records do not fit the u8 dlen field")

    @property
    def ok(self) -> bool:
        """True when the E2C reported no error."""
        return self.error == 0

    @property
    def error_info(self) -> ErrorInfo:
        """The error-table row for :attr:`error`."""
        return error_info(self.error)

    def encode(self) -> bytes:
        """The bytes to send: 13, plus 12 per node record."""
        dlen = len(self.nodes) if self.nodes else len(self.data)
        head = _REPLY.pack(self.error, dlen, self.data)
        return head + b"".join(n.encode() for n in self.nodes)


@functools.lru_cache(maxsize=16384, typed=True)  # typed: 1.0 and True are not channel 1
def monitor_request(channel: int, node: int, rca: int) -> Request:
    """``Request(channel, node, rca)``, built and validated once per address.

    Requests are immutable and sweeps and loggers ask the same addresses every cycle.
    """
    return Request(channel, node, rca)


def decode_reply(buffer: bytes, mode: Mode | int) -> tuple[Reply, int] | None:
    """Decode one reply to a request of ``mode`` from the start of ``buffer``.

    Returns ``(reply, bytes_consumed)``, or ``None`` if more bytes are needed.
    A get-nodes reply is complete only once all ``dlen`` node records are in.
    Raises :class:`~e2ckit.errors.FrameError` for a reply that cannot be valid.
    """
    if len(buffer) < REPLY_SIZE:
        return None
    error, dlen, data = _REPLY.unpack_from(buffer, 0)
    if mode == Mode.GET_NODES and error == 0:
        end = REPLY_SIZE + dlen * NODE_RECORD_SIZE
        if len(buffer) < end:
            return None
        records = tuple(
            NodeRecord.decode(bytes(buffer[o : o + NODE_RECORD_SIZE]))
            for o in range(REPLY_SIZE, end, NODE_RECORD_SIZE)
        )
        return Reply(error, b"", records), end
    problem = reply_problem(buffer)
    if problem is not None:
        raise FrameError(problem)
    return _checked_reply(error, data[:dlen]), REPLY_SIZE


def reply_problem(reply: bytes | bytearray) -> str | None:
    """What makes the 13-byte monitor or control reply at the start of ``reply``
    invalid, or None when it is valid: **the one reply-validity rule** (every decoder,
    connection and fast path asks this). A reply carries at most 8 data bytes, and an
    error reply none: the E2C sends ``dlen`` 0 with every error, so anything else is
    not an E2C reply."""
    dlen = reply[4]
    if dlen > DATA_SIZE:
        return f"reply dlen {dlen} is more than {DATA_SIZE}"
    if dlen and reply[:4] != _NO_ERROR:
        return f"reply has error {int.from_bytes(reply[:4], 'big')} and dlen {dlen}; errors carry no data"
    return None


def whole_reply_ok(reply: bytes) -> bool:
    """Whether exactly 13 bytes are a valid monitor or control reply
    (:func:`reply_problem` has nothing to say), without decoding it: for a caller that
    keeps the bytes (the engine's columns)."""
    return reply_problem(reply) is None


def reply_of(reply: bytes) -> Reply:
    """The :class:`Reply` of a whole monitor or control reply already checked (by
    :func:`whole_reply_ok`, as the connection's ``fast_reply`` does), without checking again."""
    return _checked_reply(int.from_bytes(reply[:4], "big"), reply[5 : 5 + reply[4]])


def _checked_reply(error: int, data: bytes) -> Reply:
    """A Reply from fields the decoder has already checked (skips ``__post_init__``,
    which a sweep would otherwise run thousands of times for nothing)."""
    reply = object.__new__(Reply)
    object.__setattr__(reply, "error", error)
    object.__setattr__(reply, "data", data)
    object.__setattr__(reply, "nodes", ())
    return reply


def reply_length(header: bytes | bytearray, mode: Mode | int) -> int:
    """How many bytes the whole reply has whose first 13 bytes are ``header``.

    13 for every reply, plus 12 per node record (``dlen`` of them) for a get-nodes reply
    without error: an error reply to a get-nodes carries no records.
    """
    if mode == Mode.GET_NODES and header[:4] == _NO_ERROR:
        return REPLY_SIZE + header[4] * NODE_RECORD_SIZE
    return REPLY_SIZE
