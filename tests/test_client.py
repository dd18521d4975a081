"""The blocking ``Client`` against the simulator over real loopback sockets.

Guards: every transport fault the simulator can inject ends in the right exception within
the timeout, and the *same* client answers correctly afterwards (a late reply is never
taken for the next answer); split replies are read exactly; lazy connect, context
manager, thread safety, the request helpers, and argument validation before any byte is
sent.
"""

from __future__ import annotations

import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from simhelpers import client_for

from e2ckit.client import Client
from e2ckit.errors import (
    E2CConnectionError,
    E2CError,
    E2CKitError,
    E2CTimeoutError,
    ProtocolError,
    TransportError,
    ValidationError,
)
from e2ckit.sim.server import FAULT_KINDS
from e2ckit.wire.frames import Mode, Reply, Request

FEMC, CMPR, E2C_NODE = 0x13, 0x25, 0x16
TEMP0 = (1, FEMC, 0x0C000)
SERIAL = (1, FEMC, 0x00000)
#: what a silent or slow E2C costs each test; a healthy answer on loopback takes milliseconds
TIMEOUT = 0.3
#: generous slack on top of a timeout for a loaded CI machine
SLACK = 1.0



pytestmark = pytest.mark.usefixtures("no_faults_left")


@pytest.fixture
def client(sim):
    c = client_for(sim, "DV01", timeout=TIMEOUT)
    yield c
    c.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn, *args, **kwargs):
    """Run ``fn`` and return (exception or None, elapsed seconds)."""
    start = time.monotonic()
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the caller checks the type
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


# -- faults --------------------------------------------------------------------------


def test_every_fault_kind_is_covered_here():
    """A new fault kind in the server must get a test below."""
    assert set(FAULT_KINDS) == {"down", "silent", "slow", "split", "drop", "garbage", "error"}


@pytest.mark.parametrize(
    "kind, params, expected",
    [
        ("down", {}, E2CConnectionError),
        ("silent", {}, E2CTimeoutError),
        ("slow", {"delay": TIMEOUT + 1.0}, E2CTimeoutError),
        ("drop", {}, E2CConnectionError),
        ("garbage", {}, ProtocolError),
    ],
)
@pytest.mark.parametrize("connected_before", [False, True], ids=["fresh", "connected"])
def test_transport_fault_raises_within_timeout_then_the_same_client_recovers(
    sim, client, kind, params, expected, connected_before
):
    good_temp = client.monitor(*TEMP0)
    good_serial = client.monitor(*SERIAL)
    assert good_temp != good_serial
    if not connected_before:
        client.close()
    sim.fault("DV01", kind, **params)

    exc, elapsed = timed(client.monitor, *TEMP0)

    assert isinstance(exc, expected), f"{kind}: got {exc!r}"
    assert isinstance(exc, E2CKitError)
    assert elapsed < TIMEOUT + SLACK, f"{kind} took {elapsed:.2f} s"
    if isinstance(exc, TransportError):
        ep = sim.array["DV01"]
        assert (exc.host, exc.port) == (ep.host, ep.port)
        assert f"{ep.host}:{ep.port}" in str(exc)
    assert not client.connected, "a failed connection is never reused"

    sim.clear_faults("DV01")
    # A different point than the one that failed: its bytes, not a late reply to TEMP0.
    assert client.monitor(*SERIAL) == good_serial
    assert client.monitor(*TEMP0) == good_temp


def test_timeout_error_is_also_a_builtin_timeout_and_connection_error_a_connection_error(sim, client):
    sim.fault("DV01", "silent")
    with pytest.raises(TimeoutError):
        client.monitor(*TEMP0)
    sim.clear_faults()
    sim.fault("DV01", "down")
    with pytest.raises(ConnectionError):
        client.monitor(*TEMP0)


def test_late_reply_after_slow_timeout_is_never_the_next_answer(sim, client):
    """The slow reply to TEMP0 arrives after the timeout; the next question is SERIAL."""
    serial = client.monitor(*SERIAL)
    temp = client.monitor(*TEMP0)
    assert len(serial) == 8 and len(temp) == 5
    delay = TIMEOUT + 0.3
    sent = time.monotonic()
    sim.fault("DV01", "slow", delay=delay)
    with pytest.raises(E2CTimeoutError):
        client.monitor(*TEMP0)
    sim.clear_faults()
    # Keep asking SERIAL from while the late TEMP0 reply is on its way until well after
    # the server has sent it: every answer must be SERIAL's bytes.
    answers = 0
    while time.monotonic() < sent + delay + 0.3:
        assert client.monitor(*SERIAL) == serial
        answers += 1
    assert answers > 1
    assert client.monitor(*TEMP0) == temp


def test_slow_within_timeout_succeeds(sim, client):
    expected = client.monitor(*TEMP0)
    sim.fault("DV01", "slow", delay=0.2)
    start = time.monotonic()
    assert client.monitor(*TEMP0, timeout=2.0) == expected
    assert time.monotonic() - start >= 0.2


def test_split_replies_are_read_exactly(sim, client):
    expected = {rca: client.monitor(1, FEMC, rca) for rca in (0x0C000, 0x0C044, 0x00000, 0x30003)}
    nodes = client.nodes(0)
    assert len(nodes) >= 2, "a multi-record get-nodes reply, to split records too"
    sim.fault("DV01", "split")
    client.close()
    for rca, data in expected.items():
        assert client.monitor(1, FEMC, rca) == data
    assert client.nodes(0) == nodes
    with pytest.raises(E2CError) as exc:
        client.monitor(1, 0x7F0, 0x0)  # an error reply, split too
    assert exc.value.code == 5002
    sim.clear_faults()
    assert client.monitor(*SERIAL) == expected[0x00000]


def test_error_fault_raises_e2c_error_with_code_name_and_request(sim, client):
    other = client.monitor(*SERIAL)
    sim.fault("DV01", "error", code=5013, node=FEMC, rca=0x0C000)
    start = time.monotonic()
    with pytest.raises(E2CError) as exc:
        client.monitor(*TEMP0)
    assert time.monotonic() - start < TIMEOUT + SLACK
    err = exc.value
    assert (err.code, err.name) == (5013, "READ_PERM_DENIED")
    assert err.request == Request(*TEMP0)
    assert "5013" in str(err) and "READ_PERM_DENIED" in str(err) and "0x0c000" in str(err)
    assert not isinstance(err, TransportError)
    # Other points on the same connection are untouched, and the connection stays open.
    assert client.monitor(*SERIAL) == other
    assert client.connected
    reply = client.request(Request(*TEMP0), check=False)
    assert reply == Reply(5013)
    sim.clear_faults()
    assert len(client.monitor(*TEMP0)) == 5


def test_error_fault_default_is_can_timeout_for_every_point(sim, client):
    sim.fault("DV01", "error")
    for point in (TEMP0, SERIAL, (5, E2C_NODE, 0x0E)):
        with pytest.raises(E2CError) as exc:
            client.monitor(*point)
        assert (exc.value.code, exc.value.name) == (5002, "TIMEOUT_ERROR")
        assert exc.value.request == Request(*point)


def test_fault_on_one_antenna_leaves_the_others_alone(sim):
    sim.fault("DV01", "down")
    with client_for(sim, "DV02", TIMEOUT) as c2, client_for(sim, "DV01", TIMEOUT) as c1:
        assert len(c2.monitor(*SERIAL)) == 8
        with pytest.raises(E2CConnectionError):
            c1.monitor(*SERIAL)


def test_connection_refused_on_a_port_nothing_listens_on():
    c = Client("127.0.0.1", free_port(), timeout=TIMEOUT)
    exc, elapsed = timed(c.monitor, *TEMP0)
    assert isinstance(exc, E2CConnectionError)
    assert elapsed < TIMEOUT + SLACK
    # the same words as a sweep's row for the same cause (Failure.of("refused"))
    assert "connection refused: nothing listens" in str(exc)


# -- basics --------------------------------------------------------------------------


def test_lazy_connect(sim):
    before = sim.requests_served("DV01")
    c = client_for(sim, "DV01")
    assert not c.connected and "idle" in repr(c)
    assert sim.requests_served("DV01") == before
    c.monitor(*SERIAL)
    assert c.connected and "connected" in repr(c)
    assert sim.requests_served("DV01") == before + 1
    c.close()
    assert not c.connected


def test_no_connection_is_made_by_the_constructor():
    # Nothing listens on this port: construction must not notice.
    c = Client("127.0.0.1", free_port())
    assert not c.connected


def test_context_manager_closes_and_client_can_be_reused(sim):
    with client_for(sim, "DV01") as c:
        serial = c.monitor(*SERIAL)
        sock = c._sock
        assert sock is not None
    assert not c.connected
    assert sock.fileno() == -1, "the socket itself is closed"
    assert c.monitor(*SERIAL) == serial  # opens a new connection
    c.close()
    c.close()  # idempotent


def test_context_manager_closes_on_error(sim):
    with pytest.raises(E2CError), client_for(sim, "DV01") as c:
        c.monitor(6, FEMC, 0)
    assert not c.connected


def test_thread_safety_every_answer_matches_its_question(sim):
    """Many threads share one client; each answer must be its own question's bytes."""
    points = [(1, FEMC, 0x0C000 + 4 * k) for k in range(13)]
    points += [(1, FEMC, 0x0C044), (1, FEMC, 0x00000), (5, E2C_NODE, 0x00000), (5, E2C_NODE, 0x0E)]
    points += [(2, CMPR, rca) for rca in range(1, 8)]
    points += [(0, node, 0x00000) for node in (0x22, 0x29, 0x2A, 0x30, 0x60, 0x61)]
    with client_for(sim, "DV01") as c:
        expected = {p: c.monitor(*p) for p in points}
        assert len(set(expected.values())) > len(points) // 2, "answers differ, so a swap would show"

        def hammer(offset: int) -> list[tuple]:
            wrong = []
            for i in range(60):
                p = points[(offset * 7 + i) % len(points)]
                got = c.monitor(*p)
                if got != expected[p]:
                    wrong.append((p, got))
            return wrong

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(hammer, range(8)))
    assert results == [[]] * 8


def test_monitor_returns_the_served_bytes(sim, client):
    from e2ckit.catalog import default_catalog

    cat = default_catalog()
    model = sim.models["DV01"]
    for name in ("FEMC.TEMP0", "FEMC.TEMP5", "FEMC.TEMP9", "CMPR.TEMP1", "E2C.PROCESSOR_TEMP"):
        p = cat.point(name)
        decoded = cat.point(name).decode(client.monitor(p.channel_for("DV01"), p.node, p.rca))
        assert decoded.ok, decoded
        assert decoded.value == pytest.approx(model.peek(name), rel=1e-5), name


def test_processor_temperature_is_a_big_endian_float(client, sim):
    data = client.monitor(5, E2C_NODE, 0x0E)
    (celsius,) = struct.unpack(">f", data)
    assert celsius == pytest.approx(sim.models["DV01"].peek("E2C.PROCESSOR_TEMP"), rel=1e-6)
    assert 20.0 < celsius < 90.0


def test_request_returns_the_reply_and_check_false_keeps_errors(client):
    reply = client.request(Request(*SERIAL))
    assert reply.ok and len(reply.data) == 8
    bad = client.request(Request(6, FEMC, 0), check=False)
    assert bad == Reply(5009) and not bad.ok and bad.error_info.name == "BADCHAN_ERROR"
    with pytest.raises(E2CError) as exc:
        client.request(Request(6, FEMC, 0))
    assert exc.value.code == 5009


def test_nodes_and_all_nodes(sim, client):
    model = sim.models["DV01"]
    for ch in range(6):
        assert client.nodes(ch) == model.nodes(ch)
    every = client.all_nodes()
    assert sorted(every) == [0, 1, 2, 3, 4]
    assert FEMC in [n.node for n in every[1]]
    assert CMPR in [n.node for n in every[2]]
    assert every[3] == [] and every[4] == []


def test_control_and_reset_reach_the_model(fresh_sim):
    s = fresh_sim(["DV01"])
    model = s.models["DV01"]
    with client_for(s, "DV01") as c:
        before = len(model.controls)
        assert c.control(1, FEMC, 0x1C046, b"\x01", confirm=True) is None  # SET_VACUUM_GAUGE on
        assert c.control(1, FEMC, 0x1C046, [0], confirm=True) is None  # an iterable of ints works too
        recs = model.controls[before:]
        assert [(r.channel, r.node, r.rca, r.data) for r in recs] == [
            (1, FEMC, 0x1C046, b"\x01"),
            (1, FEMC, 0x1C046, b"\x00"),
        ]
        assert recs[0].point == "FEMC.SET_VACUUM_GAUGE" and recs[0].accepted
        assert model.peek("FEMC.VACUUM_GAUGE") == 0
        assert c.reset(1, FEMC, confirm=True) is None
        with pytest.raises(E2CError) as exc:
            c.control(1, 0x7F0, 0x1, b"\x01", confirm=True)  # no such node
        assert exc.value.code == 5002 and exc.value.request.mode is Mode.CONTROL


# -- validation before anything is sent ---------------------------------------------


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda c: c.monitor(0x10000, FEMC, 0), "channel"),
        (lambda c: c.monitor(-1, FEMC, 0), "channel"),
        (lambda c: c.monitor(1, 0x7FF, 0), "node"),
        (lambda c: c.monitor(1, FEMC, 0x40000), "rca"),
        (lambda c: c.monitor(1, FEMC, "0x10"), "rca"),
        (lambda c: c.monitor(1.0, FEMC, 0), "channel"),
        (lambda c: c.control(1, FEMC, 0x1C046, b""), "data"),
        (lambda c: c.control(1, FEMC, 0x1C046, bytes(9)), "data"),
        (lambda c: c.control(1, FEMC, 0x1C046, [256]), "bytes must be in range"),
        (lambda c: c.control(1, FEMC, 0x1C046, "0x01"), "not the string"),
        (lambda c: c.control(1, FEMC, 0x1C046, 7), "control data must be"),
        (lambda c: c.request(Request(1, FEMC, 0, Mode.MONITOR, b"\x01")), "carries no data"),
        (lambda c: c.nodes(0x10000), "channel"),
    ],
)
def test_validation_errors_before_anything_is_sent(sim, call, field):
    before = sim.requests_served("DV01")
    c = client_for(sim, "DV01")
    with pytest.raises(ValidationError) as exc:
        call(c)
    assert field in str(exc.value)
    assert not c.connected, "no connection opened"
    assert sim.requests_served("DV01") == before


def test_request_validation_names_the_field():
    with pytest.raises(ValidationError, match="rca"):
        Request(1, FEMC, 0x40000)
    with pytest.raises(ValidationError, match="mode"):
        Request(1, FEMC, 0, mode=7)


@pytest.mark.parametrize("port", [0, -1, 65536, 70000, "2000", None, 2000.0])
def test_bad_port(port):
    with pytest.raises(ValidationError, match="port"):
        Client("127.0.0.1", port)


@pytest.mark.parametrize("timeout", [0, -1, None, -0.001, float("inf"), float("nan"), True, "1"])
def test_bad_timeout(timeout):
    with pytest.raises(ValidationError, match="timeout must be a positive number of seconds"):
        Client("127.0.0.1", 2000, timeout=timeout)


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), "1"])
def test_bad_per_request_timeout_is_refused_before_anything_is_sent(sim, timeout):
    with client_for(sim, "DV01") as c:
        with pytest.raises(ValidationError, match="timeout must be a positive number of seconds"):
            c.monitor(*TEMP0, timeout=timeout)
        assert not c.connected, "refused before connecting"
        assert len(c.monitor(*TEMP0)) == 5


def test_per_request_timeout_overrides_the_default(sim):
    sim.fault("DV01", "silent")
    with client_for(sim, "DV01", timeout=30.0) as c:
        exc, elapsed = timed(c.monitor, *TEMP0, timeout=0.3)
    assert isinstance(exc, E2CTimeoutError)
    assert 0.3 <= elapsed < 0.3 + SLACK
