"""The sans-I/O E2C connection: every rule of one connection, tested with no network.

After h11's tests: a table of (request, reply bytes) fed whole, in awkward chunks and
one byte at a time; the illegal moves (a second request, stray bytes, bytes after the
reply, EOF, a timeout) each break the connection with a Failure of the right kind; and
a ConnectionPair that runs the client's Connection against the simulator's
AntennaModel through the server's ServerConnection, no sockets.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simhelpers import ConnectionPair

from e2ckit.errors import Failure, ProtocolError
from e2ckit.wire import NEED_DATA, Connection, ServerConnection, State
from e2ckit.wire.frames import (
    NODE_RECORD_SIZE,
    REPLY_SIZE,
    Mode,
    NodeRecord,
    Reply,
    Request,
    decode_reply,
)

H = bytes.fromhex
ESN_A = H("10DA070401080072")
ESN_B = H("107FB44C01080038")
MON = Request(1, 0x13, 0x0C000)
GET_NODES = Request(2, 0, 0, Mode.GET_NODES)

#: (request, the reply it gets, exact bytes of that reply)
EXCHANGES = [
    (MON, Reply(0, H("40833333FD")), H("00000000 05 40833333FD000000")),
    (MON, Reply(5002), H("0000138A 00 0000000000000000")),
    (Request(0, 0x29, 0x10181, Mode.CONTROL, b"\x01"), Reply(0), H("00000000 00 0000000000000000")),
    (Request(1, 0x13, 0, Mode.RESET), Reply(0), H("00000000 00 0000000000000000")),
    (GET_NODES, Reply(0, nodes=()), H("00000000 00 0000000000000000")),
    (
        GET_NODES,
        Reply(0, nodes=(NodeRecord(0x13, ESN_A), NodeRecord(0x26, ESN_B))),
        H("00000000 02 0000000000000000") + H("00000013") + ESN_A + H("00000026") + ESN_B,
    ),
    (GET_NODES, Reply(5009), H("00001391 00 0000000000000000")),  # an error carries no records
    # impossible node ids are still records of the listing: judged by whoever reads it
    (GET_NODES, Reply(0, nodes=(NodeRecord(0x7FF, ESN_A), NodeRecord(0xFFFFFFFF, ESN_B))),
     H("00000000 02 0000000000000000") + H("000007FF") + ESN_A + H("FFFFFFFF") + ESN_B),
]  # fmt: skip


def sent(request: Request) -> Connection:
    conn = Connection()
    assert conn.send(request) == request.encode()
    assert conn.state is State.AWAITING_REPLY
    return conn


@pytest.mark.parametrize(("request_", "reply", "wire"), EXCHANGES)
def test_whole_reply_in_one_read(request_, reply, wire):
    conn = sent(request_)
    conn.receive_data(wire)
    assert conn.next_event() == reply
    assert conn.state is State.IDLE and conn.reusable
    assert conn.next_event() is NEED_DATA


@pytest.mark.parametrize(("request_", "reply", "wire"), EXCHANGES)
def test_reply_fed_one_byte_at_a_time(request_, reply, wire):
    conn = sent(request_)
    for i in range(len(wire) - 1):
        conn.receive_data(wire[i : i + 1])
        assert conn.next_event() is NEED_DATA, f"reply complete early at byte {i}"
        if request_.mode is Mode.GET_NODES and reply.nodes and i >= REPLY_SIZE - 1:
            assert conn.state is State.AWAITING_NODES
        else:
            assert conn.state is State.AWAITING_REPLY
    conn.receive_data(wire[-1:])
    assert conn.next_event() == reply
    assert conn.reusable


def test_one_connection_carries_the_exchanges_in_turn_in_awkward_chunks():
    conn = Connection()
    for request_, reply, wire in EXCHANGES:
        conn.send(request_)
        for i in range(0, len(wire), 7):
            conn.receive_data(wire[i : i + 7])
        assert conn.next_event() == reply
    assert conn.received == sum(len(w) for _, _, w in EXCHANGES)


@pytest.mark.parametrize(("request_", "reply", "wire"), EXCHANGES)
def test_fast_reply_takes_exactly_a_whole_plain_reply(request_, reply, wire):
    conn = sent(request_)
    taken = conn.fast_reply(wire)
    if request_.mode is not Mode.GET_NODES:
        assert taken == wire and conn.reusable
    else:  # a get-nodes reply always goes the long way: it may have records
        assert taken is None and conn.state is State.AWAITING_REPLY


def test_fast_reply_refuses_partial_and_invalid_reads_and_changes_nothing():
    conn = sent(MON)
    assert conn.fast_reply(H("00000000 05 40833333FD0000")) is None  # 12 bytes
    assert conn.fast_reply(H("0000138A 04 0000000000000000")) is None  # error with data
    assert conn.fast_reply(H("00000000 EE 0000000000000000")) is None  # dlen 238
    assert conn.state is State.AWAITING_REPLY
    assert Connection().fast_reply(EXCHANGES[0][2]) is None  # idle: nothing is due


def test_only_one_request_outstanding():
    conn = sent(MON)
    with pytest.raises(ProtocolError, match="awaiting reply"):
        conn.send(MON)


@pytest.mark.parametrize(
    ("feed", "kind", "text"),
    [
        (EXCHANGES[0][2] + EXCHANGES[1][2], "protocol", "13 unexpected bytes after the reply"),
        (EXCHANGES[0][2] + b"\x00", "protocol", "1 unexpected bytes after the reply"),
        (H("00000000 EE 0000000000000000"), "protocol", "dlen 238"),
        (H("0000138A 04 0000000000000000"), "protocol", "errors carry no data"),
    ],
)
def test_bad_or_extra_bytes_break_the_connection(feed, kind, text):
    conn = sent(MON)
    conn.receive_data(feed)
    event = conn.next_event()
    assert isinstance(event, Failure) and event.kind == kind and text in event.detail
    assert conn.state is State.BROKEN and not conn.reusable
    assert conn.next_event() == event  # broken for good
    with pytest.raises(ProtocolError, match="broken"):
        conn.send(MON)


def test_a_stray_reply_on_an_idle_connection_breaks_it_before_the_next_request():
    """The E2C has no request id: a reply nobody asked for would be taken as the next
    answer. Fed while idle, it breaks the connection, so the next request goes on a fresh one."""
    conn = sent(MON)
    conn.receive_data(EXCHANGES[0][2])
    assert conn.next_event() == EXCHANGES[0][1]
    conn.receive_data(EXCHANGES[1][2])  # the stray
    assert conn.state is State.BROKEN
    assert conn.failure == Failure("protocol", "13 stray bytes with no request outstanding")
    with pytest.raises(ProtocolError):
        conn.send(MON)


@pytest.mark.parametrize(
    ("before", "kind"),
    [(b"", "refused"), (EXCHANGES[0][2][:5], "closed")],
    ids=["before-any-byte", "mid-reply"],
)
def test_eof_while_waiting(before, kind):
    conn = sent(MON)
    conn.receive_data(before)
    conn.receive_data(b"")
    event = conn.next_event()
    assert isinstance(event, Failure) and event.kind == kind and event.down


def test_eof_before_any_byte_is_refused_whatever_the_state():
    conn = Connection()
    conn.receive_data(b"")  # reset as the connection opened: a powered-off E2C
    assert conn.failure.kind == "refused"


def test_eof_while_idle_is_not_reusable():
    conn = sent(MON)
    conn.receive_data(EXCHANGES[0][2])
    conn.next_event()
    conn.receive_data(b"")
    assert conn.state is State.BROKEN and conn.failure.kind == "closed"


def test_a_connection_that_timed_out_is_never_reused():
    conn = sent(MON)
    conn.receive_data(EXCHANGES[0][2][:3])
    failure = conn.time_out(Failure.of("timeout"))
    assert conn.state is State.BROKEN and not conn.reusable
    conn.receive_data(EXCHANGES[0][2][3:])  # the late rest of the reply
    assert conn.next_event() == failure
    with pytest.raises(ProtocolError):
        conn.send(MON)


@given(st.binary(min_size=0, max_size=200), st.sampled_from(list(Mode)), st.integers(1, 50))
def test_any_bytes_give_a_reply_need_data_or_a_protocol_failure(data, mode, chunk):
    """Random bytes never raise: every event is one of the three, and a reply is what
    the codec decodes from the same bytes."""
    req = Request(0, 1, 0, mode, b"\x01" if mode is Mode.CONTROL else b"")
    conn = sent(req)
    for i in range(0, len(data), chunk):
        conn.receive_data(data[i : i + chunk])
    event = conn.next_event()
    if isinstance(event, Reply):
        assert decode_reply(data, mode) == (event, len(data))
    elif isinstance(event, Failure):
        assert event.kind == "protocol"
    else:
        assert event is NEED_DATA
        assert len(data) < REPLY_SIZE or (mode is Mode.GET_NODES and data[:4] == bytes(4)
                                          and len(data) < REPLY_SIZE + data[4] * NODE_RECORD_SIZE)  # fmt: skip


def test_server_connection_cuts_requests_from_any_slicing():
    frames = [r.encode() for r, _, _ in EXCHANGES]
    stream = b"".join(frames)
    server = ServerConnection()
    got = []
    for i in range(0, len(stream), 5):
        server.receive_data(stream[i : i + 5])
        while (frame := server.next_frame()) is not NEED_DATA:
            got.append(frame)
    assert got == frames and server.buffered == 0


# -- a ConnectionPair: the client's connection against the simulator's model, no network --


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_connection_pair_against_the_antenna_model(chunk):
    from e2ckit.catalog import default_catalog
    from e2ckit.clock import SimClock
    from e2ckit.sim.model import AntennaModel

    model = AntennaModel("DV01", seed=3, clock=SimClock(rate=None))
    pair = ConnectionPair(model, chunk)
    cat = default_catalog()
    for p in cat.resolve("cryo"):
        req = Request(p.channel_for("DV01"), p.node, p.rca)
        assert pair.exchange(req) == model.handle(req)
    listing = pair.exchange(Request(0, 0, 0, Mode.GET_NODES))
    assert isinstance(listing, Reply) and listing.ok and listing.nodes
    absent = pair.exchange(Request(4, 0x7F0, 0x30000))
    assert isinstance(absent, Reply) and absent.error == 5002
    assert pair.client.reusable and pair.server.buffered == 0
