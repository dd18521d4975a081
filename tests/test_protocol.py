"""The wire codec (e2ckit.wire.frames): one table of (message, exact bytes) drives encode and decode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2ckit.errors import (
    ERRORS,
    FrameError,
    ProtocolError,
    ShortFrameError,
    ValidationError,
    error_info,
)
from e2ckit.wire.frames import (
    NODE_RECORD_SIZE,
    REPLY_SIZE,
    Mode,
    NodeRecord,
    Reply,
    Request,
    decode_reply,
    pack_can_id,
    reply_data,
    reply_dlen,
    reply_error,
    unpack_can_id,
    whole_reply_ok,
)

H = bytes.fromhex

# Each request written out by hand from the layout: res u16, bus u16, can_id u32,
# mode u8, dlen u8, 8 data bytes. can_id = (node + 1) << 18 | rca.
REQUESTS = [
    # FEMC TEMP0: node 0x13 → (0x14 << 18) = 0x0500000, | 0xC000
    (Request(1, 0x13, 0x0C000), H("0000 0001 0050C000 00 00 0000000000000000")),
    # LORR ambient temperature on channel 0
    (Request(0, 0x22, 0x30003), H("0000 0000 008F0003 00 00 0000000000000000")),
    # E2C internal node, processor temperature
    (Request(5, 0x16, 0x0000E), H("0000 0005 005C000E 00 00 0000000000000000")),
    # control with 4 bytes (IFProc attenuators), padded to 8
    (Request(0, 0x29, 0x0181, Mode.CONTROL, bytes([0x60, 0x64, 0x48, 0x44])),
     H("0000 0000 00A80181 01 04 6064484400000000")),
    # control with a full 8 bytes, non-zero resource id
    (Request(2, 0x25, 0x1001, Mode.CONTROL, bytes(range(1, 9)), resource=7),
     H("0007 0002 00981001 01 08 0102030405060708")),
    # get-nodes on channel 2, node 0 → node field 1
    (Request(2, 0, 0, Mode.GET_NODES), H("0000 0002 00040000 02 00 0000000000000000")),
    # reset of node 0x7FE (the highest: node field 0x7FF), rca 0x3FFFF
    (Request(1, 0x7FE, 0x3FFFF, Mode.RESET), H("0000 0001 1FFFFFFF 03 00 0000000000000000")),
]

ESN_A = H("10DA070401080072")
ESN_B = H("107FB44C01080038")

# (mode of the request, reply, exact bytes)
REPLIES = [
    (Mode.MONITOR, Reply(0, H("40833333FD")), H("00000000 05 40833333FD000000")),
    (Mode.MONITOR, Reply(0, H("42287492")), H("00000000 04 4228749200000000")),
    (Mode.MONITOR, Reply(5002), H("0000138A 00 0000000000000000")),
    (Mode.MONITOR, Reply(5009), H("00001391 00 0000000000000000")),
    (Mode.CONTROL, Reply(0), H("00000000 00 0000000000000000")),
    (Mode.MONITOR, Reply(0, ESN_A), H("00000000 08") + ESN_A),
    (Mode.GET_NODES, Reply(0, nodes=()), H("00000000 00 0000000000000000")),
    (
        Mode.GET_NODES,
        Reply(0, nodes=(NodeRecord(0x13, ESN_A), NodeRecord(0x26, ESN_B))),
        H("00000000 02 0000000000000000") + H("00000013") + ESN_A + H("00000026") + ESN_B,
    ),
    (Mode.GET_NODES, Reply(5009), H("00001391 00 0000000000000000")),
]


@pytest.mark.parametrize(("request_", "wire"), REQUESTS)
def test_request_encodes_to_exact_bytes(request_: Request, wire: bytes) -> None:
    assert request_.encode() == wire
    assert len(wire) == 18


@pytest.mark.parametrize(("request_", "wire"), REQUESTS)
def test_request_decodes_from_exact_bytes(request_: Request, wire: bytes) -> None:
    assert Request.decode(wire) == request_


@pytest.mark.parametrize(("mode", "reply", "wire"), REPLIES)
def test_reply_encodes_to_exact_bytes(mode: Mode, reply: Reply, wire: bytes) -> None:
    assert reply.encode() == wire


@pytest.mark.parametrize(("mode", "reply", "wire"), REPLIES)
def test_reply_decodes_whole(mode: Mode, reply: Reply, wire: bytes) -> None:
    assert decode_reply(wire, mode) == (reply, len(wire))


@pytest.mark.parametrize(("mode", "reply", "wire"), REPLIES)
def test_reply_error_and_data_read_from_the_bytes(mode: Mode, reply: Reply, wire: bytes) -> None:
    assert reply_error(wire) == reply.error
    assert reply_dlen(wire) == (len(reply.nodes) if reply.nodes else len(reply.data))
    if mode is not Mode.GET_NODES:
        assert reply_data(wire) == reply.data and reply_data(bytearray(wire)) == reply.data


def test_get_nodes_reply_waits_for_every_record() -> None:
    _, reply, wire = REPLIES[7]
    assert decode_reply(wire[: REPLY_SIZE + NODE_RECORD_SIZE], Mode.GET_NODES) is None
    assert decode_reply(wire[:-1], Mode.GET_NODES) is None


def test_can_id_packing_offsets_node_by_one() -> None:
    assert pack_can_id(0, 0) == 1 << 18
    assert pack_can_id(0x13, 0x0C000) == 0x0050C000
    assert unpack_can_id(0x0050C000) == (0x13, 0x0C000)
    with pytest.raises(FrameError, match="node field 0"):
        unpack_can_id(0x3FFFF)
    with pytest.raises(FrameError, match="29-bit"):
        unpack_can_id(0x20000000 | 1 << 18)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel": -1, "node": 1, "rca": 0}, r"channel -0x1 \(-1\) is out of range"),
        ({"channel": 0x10000, "node": 1, "rca": 0}, "channel 0x10000"),
        ({"channel": 0, "node": 0x7FF, "rca": 0}, r"node 0x7ff \(2047\) is out of range 0x0..0x7fe"),
        ({"channel": 0, "node": 1, "rca": 0x40000}, "rca 0x40000"),
        ({"channel": 0, "node": 1, "rca": 0, "mode": 4}, "mode 4 is not one of"),
        ({"channel": 0, "node": 1, "rca": 0, "mode": Mode.CONTROL}, "control request needs 1 to 8 data bytes"),
        ({"channel": 0, "node": 1, "rca": 0, "mode": Mode.CONTROL, "data": bytes(9)}, "data is 9 bytes"),
        ({"channel": 0, "node": 1, "rca": 0, "data": b"\x01"}, "monitor request carries no data"),
        ({"channel": 0, "node": 1, "rca": 0, "mode": Mode.GET_NODES, "data": b"\x01"}, "get-nodes request carries no data"),
        ({"channel": "1", "node": 1, "rca": 0}, "channel must be an integer"),
        ({"channel": 0, "node": True, "rca": 0}, "node must be an integer"),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Request(**kwargs)


def test_error_table_is_complete() -> None:
    assert sorted(ERRORS) == [0, *range(5002, 5016), 5999]
    assert ERRORS[5002].name == "TIMEOUT_ERROR"
    assert ERRORS[5009].name == "BADCHAN_ERROR"
    assert error_info(1234).name == "UNKNOWN(1234)"
    # the two forms every result, table and error row shows
    assert ERRORS[5002].tag == "E2C:TIMEOUT_ERROR"
    assert ERRORS[5002].text == "5002 CAN bus timeout: the node did not answer"


def test_short_and_long_request_frames() -> None:
    with pytest.raises(ShortFrameError):
        Request.decode(bytes(17))
    with pytest.raises(FrameError):
        Request.decode(bytes(19))


def test_reply_with_error_and_data_is_malformed() -> None:
    with pytest.raises(FrameError, match="errors carry no data"):
        decode_reply(H("0000138A 04 0000000000000000"), Mode.MONITOR)
    with pytest.raises(FrameError, match="dlen 238"):
        decode_reply(H("00000000 EE 0000000000000000"), Mode.MONITOR)


def test_non_control_data_bytes_on_the_wire_are_ignored() -> None:
    # An old client may leave junk in the data field of a monitor request.
    wire = H("0000 0001 0050C000 00 03 AABBCC0000000000")
    assert Request.decode(wire) == Request(1, 0x13, 0x0C000)


requests_st = st.builds(
    lambda ch, node, rca, mode, data, res: Request(
        ch, node, rca, mode, (data or b"\x00") if mode == Mode.CONTROL else b"", res
    ),
    st.integers(0, 0xFFFF),
    st.integers(0, 0x7FE),
    st.integers(0, 0x3FFFF),
    st.sampled_from(list(Mode)),
    st.binary(min_size=0, max_size=8),
    st.integers(0, 0xFFFF),
)


@given(requests_st)
def test_request_round_trip(req: Request) -> None:
    assert Request.decode(req.encode()) == req


@given(
    st.one_of(
        st.builds(Reply, st.just(0), st.binary(max_size=8)),
        st.builds(lambda e: Reply(e), st.integers(1, 0xFFFFFFFF)),
    ),
    st.sampled_from([Mode.MONITOR, Mode.CONTROL, Mode.RESET]),
)
def test_reply_round_trip(reply: Reply, mode: Mode) -> None:
    assert decode_reply(reply.encode(), mode) == (reply, REPLY_SIZE)


@given(st.lists(st.tuples(st.integers(0, 0xFFFFFFFF), st.binary(min_size=8, max_size=8)), max_size=40))
def test_node_listing_round_trip(records: list[tuple[int, bytes]]) -> None:
    reply = Reply(0, nodes=tuple(NodeRecord(n, e) for n, e in records))
    wire = reply.encode()
    assert decode_reply(wire, Mode.GET_NODES) == (reply, len(wire))


@given(st.binary(min_size=0, max_size=64))
def test_random_request_bytes_raise_only_protocol_errors(data: bytes) -> None:
    try:
        Request.decode(data)
    except ProtocolError:
        pass


def test_monitor_request_is_built_once_and_still_validated() -> None:
    from e2ckit.wire.frames import monitor_request

    assert monitor_request(1, 0x13, 0x0C000) is monitor_request(1, 0x13, 0x0C000)
    assert monitor_request(1, 0x13, 0x0C000) == Request(1, 0x13, 0x0C000)
    with pytest.raises(ValidationError, match="channel must be an integer"):
        monitor_request(1.0, 0x13, 0x0C000)  # equal to 1 and hashed alike: must not hit the cache
    with pytest.raises(ValidationError, match="node must be an integer"):
        monitor_request(1, True, 0x0C000)


@given(
    st.one_of(
        st.binary(min_size=REPLY_SIZE, max_size=REPLY_SIZE),
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 12), st.binary(min_size=8, max_size=8)).map(
            lambda t: t[0].to_bytes(4, "big") + bytes([t[1]]) + t[2]
        ),
        st.tuples(st.integers(0, 12), st.binary(min_size=8, max_size=8)).map(lambda t: bytes([0, 0, 0, 0, t[0]]) + t[1]),
    )
)
def test_whole_reply_ok_says_what_decode_reply_accepts(data: bytes) -> None:
    """The engine's check of a whole reply, without decoding it, accepts exactly the
    13-byte replies the codec decodes (for monitor and control requests)."""
    try:
        decode_reply(data, Mode.MONITOR)
        valid = True
    except ProtocolError:
        valid = False
    assert whole_reply_ok(data) is valid


