"""The fake E2C server over real loopback sockets.

Guards: a DV10-like inventory per channel (compressor on channel 2 for DA/DV, 3 for CM/PM),
the E2C's own node on channel 5, the E2C error codes (bad channel, absent node, unknown
RCA, unparsable request), controls recorded by the model, several clients at once, a
server that survives hostile clients (random bytes, short requests, resets) while serving a
well-behaved one, ``bind="address"`` mode, the host-map CSV and ``python -m e2ckit.sim``.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from simhelpers import client_for

from e2ckit.array import Array
from e2ckit.client import Client
from e2ckit.errors import E2CError, ValidationError
from e2ckit.sim import SimulatedArray
from e2ckit.wire.frames import REPLY_SIZE, Mode, Reply, Request, decode_reply

FEMC, CMPR, E2C_NODE, ACU = 0x13, 0x25, 0x16, 0x00
#: channel 0 and 1 nodes of the real DV10 listing (protocol notes §6)
DV10_CH0 = {0x22, 0x29, 0x2A, 0x30, 0x32, 0x40, 0x41, 0x42, 0x43, 0x50, 0x51, 0x52, 0x53, 0x60, 0x61}
DV10_CH1 = {0x13, 0x24, 0x26, 0x28}

SIM_ANTENNAS = ("DV01", "DV02", "CM01")  # the shared ``sim`` fixture's antennas



pytestmark = pytest.mark.usefixtures("no_faults_left")


def raw_connect(sim, antenna: str) -> socket.socket:
    ep = sim.array[antenna]
    s = socket.create_connection((ep.host, ep.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def raw_request(s: socket.socket, frame: bytes) -> Reply:
    s.sendall(frame)
    out = decode_reply(recv_exactly(s, REPLY_SIZE), Mode.MONITOR)
    assert out is not None
    return out[0]


# -- inventory -----------------------------------------------------------------------


@pytest.mark.parametrize("antenna, cmpr_channel", [("DV01", 2), ("DV02", 2), ("CM01", 3)])
def test_get_nodes_per_channel_is_dv10_like(sim, antenna, cmpr_channel):
    with client_for(sim, antenna) as c:
        listing = {ch: [n.node for n in c.nodes(ch)] for ch in range(6)}
    assert DV10_CH0 <= set(listing[0])
    assert DV10_CH1 <= set(listing[1])
    assert CMPR in listing[cmpr_channel]
    other = 3 if cmpr_channel == 2 else 2
    assert CMPR not in listing[other] and CMPR not in listing[0] and CMPR not in listing[1]
    assert listing[5] == [E2C_NODE]
    for ch, nodes in listing.items():
        assert nodes == sorted(set(nodes)), f"channel {ch}: sorted, no duplicates"


def test_node_records_carry_the_esn_the_node_answers(sim):
    with client_for(sim, "DV01") as c:
        for rec in c.nodes(1):
            assert c.monitor(1, rec.node, 0x00000) == rec.esn
        assert c.nodes(1) == sim.models["DV01"].nodes(1)


def test_antennas_differ(sim):
    serials = set()
    for a in SIM_ANTENNAS:
        with client_for(sim, a) as c:
            serials.add(c.monitor(1, FEMC, 0x00000))
            serials.add(c.monitor(5, E2C_NODE, 0x00000))
    assert len(serials) == 2 * len(SIM_ANTENNAS)


def test_e2c_internal_node(sim):
    model = sim.models["DV01"]
    with client_for(sim, "DV01") as c:
        serial = c.monitor(5, E2C_NODE, 0x00000)
        assert len(serial) == 8 and serial == c.nodes(5)[0].esn
        for rca in (0x30000, 0x30004, 0x30005):  # protocol, software, U-Boot revisions
            rev = c.monitor(5, E2C_NODE, rca)
            assert len(rev) == 3, hex(rca)
        assert tuple(c.monitor(5, E2C_NODE, 0x30005)) == tuple(model.peek("E2C.UBOOT_REV"))
        (celsius,) = struct.unpack(">f", c.monitor(5, E2C_NODE, 0x0000E))
    assert 20.0 < celsius < 90.0
    assert celsius == pytest.approx(model.peek("E2C.PROCESSOR_TEMP"), rel=1e-6)


# -- error codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_, code, name",
    [
        (Request(6, FEMC, 0x0C000), 5009, "BADCHAN_ERROR"),
        (Request(0xFFFF, FEMC, 0x0C000), 5009, "BADCHAN_ERROR"),
        (Request(6, 0, 0, Mode.GET_NODES), 5009, "BADCHAN_ERROR"),
        (Request(1, 0x7F0, 0x0C000), 5002, "TIMEOUT_ERROR"),  # absent node
        (Request(0, FEMC, 0x0C000), 5002, "TIMEOUT_ERROR"),  # FEMC is on channel 1, not 0
        (Request(1, FEMC, 0x3FFF0), 5002, "TIMEOUT_ERROR"),  # unknown RCA
        (Request(2, CMPR, 0x3FF00), 5002, "TIMEOUT_ERROR"),
    ],
)
def test_error_codes(sim, request_, code, name):
    with client_for(sim, "DV01") as c:
        with pytest.raises(E2CError) as exc:
            c.request(request_)
        assert (exc.value.code, exc.value.name) == (code, name)
        assert c.connected, "an E2C error keeps the connection"
        assert len(c.monitor(1, FEMC, 0)) == 8


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">HHIBB8s", 0, 1, 0x13 << 18 | 0x0C000, 9, 0, bytes(8)),  # mode 9
        struct.pack(">HHIBB8s", 0, 1, 0x0C000, 0, 0, bytes(8)),  # node field 0
        struct.pack(">HHIBB8s", 0, 1, 0xFFFFFFFF, 0, 0, bytes(8)),  # bits above 29
        struct.pack(">HHIBB8s", 0, 1, 0x14 << 18 | 0x1C046, 1, 9, bytes(8)),  # dlen 9
        struct.pack(">HHIBB8s", 0, 1, 0x14 << 18 | 0x1C046, 1, 0, bytes(8)),  # control, no data
    ],
    ids=["mode9", "node-field-0", "high-bits", "dlen9", "control-dlen0"],
)
def test_unparsable_request_is_5003_and_the_connection_goes_on(sim, frame):
    with raw_connect(sim, "DV01") as s:
        assert raw_request(s, frame) == Reply(5003)
        femc_esn = {n.node: n.esn for n in sim.models["DV01"].nodes(1)}[FEMC]
        assert raw_request(s, Request(1, FEMC, 0x00000).encode()) == Reply(0, femc_esn)


def test_requests_are_answered_in_order_when_pipelined(sim):
    """Several requests sent at once on one connection: answers come back in order."""
    reqs = [Request(1, FEMC, 0x00000), Request(6, FEMC, 0), Request(5, E2C_NODE, 0x30005), Request(1, FEMC, 0x0C000)]
    with client_for(sim, "DV01") as c:
        expected = [c.request(r, check=False) for r in reqs]
    with raw_connect(sim, "DV01") as s:
        s.sendall(b"".join(r.encode() for r in reqs))
        got = [decode_reply(recv_exactly(s, REPLY_SIZE), r.mode)[0] for r in reqs]  # type: ignore[index]
    assert got == expected
    assert [r.error for r in got] == [0, 5009, 0, 0]


# -- controls ------------------------------------------------------------------------


def test_controls_are_recorded_by_the_model(fresh_sim):
    s = fresh_sim(["DV01", "CM01"])
    with client_for(s, "DV01") as c, client_for(s, "CM01") as c2:
        c.control(1, FEMC, 0x1C034, b"\x01", confirm=True)  # FEMC SET_BACKING_PUMP on
        c2.control(3, CMPR, 0x1003, b"\x01", confirm=True)  # CMPR fault latch reset (channel 3 on a CM)
        c.control(0, 0x22, 0x31000, b"\x01", confirm=True)  # AMBSI reset of the LORR
    dv = s.models["DV01"].controls
    assert [(r.channel, r.node, r.rca, r.data, r.point) for r in dv] == [
        (1, FEMC, 0x1C034, b"\x01", "FEMC.SET_BACKING_PUMP"),
        (0, 0x22, 0x31000, b"\x01", None),
    ]
    assert all(r.accepted for r in dv)
    assert s.models["DV01"].peek("FEMC.BACKING_PUMP") == 1
    cm = s.models["CM01"].controls
    assert [(r.channel, r.node, r.rca) for r in cm] == [(3, CMPR, 0x1003)]


def test_control_to_an_absent_node_is_5002_and_recorded_as_refused(fresh_sim):
    s = fresh_sim(["DV01"])
    with client_for(s, "DV01") as c, pytest.raises(E2CError) as exc:
        c.control(1, 0x7F0, 0x1, b"\x01", confirm=True)
    assert exc.value.code == 5002
    (rec,) = s.models["DV01"].controls
    assert not rec.accepted and rec.node == 0x7F0


# -- concurrency and hostile clients -------------------------------------------------


def _expected_constants(sim, antenna: str) -> dict[tuple[int, int, int], bytes]:
    """Points whose bytes never change on a stepped clock, whatever others send."""
    points = [(1, FEMC, 0x00000), (5, E2C_NODE, 0x00000), (5, E2C_NODE, 0x30005), (0, 0x22, 0x00000)]
    with client_for(sim, antenna) as c:
        return {p: c.monitor(*p) for p in points}


def test_several_clients_at_once(sim):
    expected = {a: _expected_constants(sim, a) for a in SIM_ANTENNAS}
    nodes = {a: sim.models[a].nodes(1) for a in SIM_ANTENNAS}

    def work(i: int) -> int:
        antenna = SIM_ANTENNAS[i % len(SIM_ANTENNAS)]
        checked = 0
        with client_for(sim, antenna) as c:
            for j in range(25):
                for p, data in expected[antenna].items():
                    assert c.monitor(*p) == data
                    checked += 1
                if j % 5 == 0:
                    assert c.nodes(1) == nodes[antenna]
        return checked

    with ThreadPoolExecutor(9) as pool:
        counts = list(pool.map(work, range(9)))
    assert counts == [100] * 9


def _hostile(sim, antenna: str, seed: int, iterations: int) -> int:
    """Random bytes, short requests, garbage lengths and resets; returns connections made."""
    rng = random.Random(seed)
    ep = sim.array[antenna]
    made = 0
    for _ in range(iterations):
        s = socket.create_connection((ep.host, ep.port), timeout=2)
        made += 1
        how = rng.randrange(4)
        try:
            if how == 0:  # random bytes, any length
                s.sendall(rng.randbytes(rng.randrange(1, 200)))
            elif how == 1:  # a short request, then a polite close
                s.sendall(Request(1, FEMC, 0).encode()[: rng.randrange(1, 18)])
            elif how == 2:  # a whole request, then a reset before reading the answer
                s.sendall(Request(1, FEMC, 0x0C000).encode())
            else:  # random bytes then a reset mid-frame
                s.sendall(rng.randbytes(rng.randrange(19, 60)))
            if how in (2, 3):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # the server may already have dropped us; that is its right
        finally:
            s.close()
    return made


def test_server_survives_hostile_clients_and_keeps_serving(fresh_sim):
    s = fresh_sim(["DV01", "DV02"])
    expected = _expected_constants(s, "DV01")
    # Connections left hanging with half a request must not block anyone.
    hanging = [raw_connect(s, "DV01") for _ in range(3)]
    for h in hanging:
        h.sendall(Request(1, FEMC, 0).encode()[:7])
    stop = threading.Event()
    good_answers: list[int] = []
    errors: list[BaseException] = []

    def well_behaved() -> None:
        try:
            with client_for(s, "DV01", timeout=2.0) as c:
                n = 0
                while not stop.is_set() and n < 2000:
                    for p, data in expected.items():
                        assert c.monitor(*p) == data
                        n += 1
                good_answers.append(n)
        except BaseException as exc:  # reported below
            errors.append(exc)

    good = threading.Thread(target=well_behaved)
    good.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            made = sum(pool.map(lambda i: _hostile(s, "DV01" if i % 2 else "DV02", i, 60), range(4)))
    finally:
        stop.set()
        good.join(timeout=30)
        for h in hanging:
            h.close()
    assert not good.is_alive()
    assert errors == []
    assert made == 240
    assert good_answers and good_answers[0] > 0, "the good client was served during the attack"
    # and afterwards, on fresh connections, both antennas still answer correctly
    assert _expected_constants(s, "DV01") == expected
    with client_for(s, "DV02") as c:
        assert [n.node for n in c.nodes(5)] == [E2C_NODE]


# -- bind="address", host map, command line --------------------------------------------


def test_bind_address_gives_each_antenna_its_own_loopback_address(address_sim):
    s = address_sim(["DV01", "CM01"])
    arr = s.array
    assert s.antennas == ["CM01", "DV01"], "antennas in ALMA map order"
    hosts = [arr["CM01"].host, arr["DV01"].host]
    assert hosts == ["127.0.1.1", "127.0.1.2"]
    assert arr["DV01"].port == arr["CM01"].port
    assert s.host_names() == {"cm01-e2c": "127.0.1.1", "dv01-e2c": "127.0.1.2"}
    serials = {}
    for a in ("DV01", "CM01"):
        with client_for(s, a) as c:
            serials[a] = c.monitor(5, E2C_NODE, 0x00000)
            assert serials[a] == s.models[a].nodes(5)[0].esn
    assert serials["DV01"] != serials["CM01"]


def test_simulator_refuses_non_loopback_addresses():
    with pytest.raises(ValidationError, match="loopback"):
        SimulatedArray(["DV01"], host="192.0.2.1")
    with pytest.raises(ValidationError, match="loopback"):
        SimulatedArray(["DV01"], bind="address", base_address="192.0.2.1")


def test_write_array_round_trips_through_from_csv(sim, tmp_path):
    path = sim.write_array(tmp_path / "array.csv")
    back = Array.from_csv(path)
    assert dict(back) == dict(sim.array)
    assert back.antennas == sim.antennas == ["CM01", "DV01", "DV02"]  # ALMA map order
    for ep in back.values():
        assert ep.host == "127.0.0.1" and ep.port > 0


def test_array_csv_fixture_sets_the_override(sim, array_csv):
    from e2ckit.array import default_array

    assert os.environ["E2CKIT_ARRAY"] == str(array_csv)
    assert dict(default_array()) == dict(sim.array)


def test_write_array_before_start_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="start"):
        SimulatedArray(["DV01"]).write_array(tmp_path / "x.csv")


def _reader(stream, q: queue.Queue) -> None:
    for line in stream:
        q.put(line)
    q.put(None)


@pytest.mark.slow
def test_command_line_prints_where_each_antenna_listens(tmp_path):
    csv_path = tmp_path / "array.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "e2ckit.sim", "--antennas", "DV01,CM01", "--write-array", str(csv_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: queue.Queue = queue.Queue()
    err: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, out), daemon=True).start()
    threading.Thread(target=_reader, args=(proc.stderr, err), daemon=True).start()
    try:
        listening = {}
        deadline = time.monotonic() + 60
        while len(listening) < 2:
            line = out.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, "the simulator exited before printing both antennas"
            name, where = line.rstrip("\n").split("\t")
            host, port = where.rsplit(":", 1)
            listening[name] = (host, int(port))
        assert sorted(listening) == ["CM01", "DV01"]
        # stderr says "simulating ..." once the host map is written
        while True:
            line = err.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, "the simulator exited early"
            if line.startswith("simulating"):
                break
        back = Array.from_csv(csv_path)
        assert {a: (ep.host, ep.port) for a, ep in back.items()} == listening
        for name, (host, port) in listening.items():
            assert host == "127.0.0.1"
            with Client(host, port, timeout=2.0) as c:
                assert [n.node for n in c.nodes(5)] == [E2C_NODE]
                assert CMPR in [n.node for n in c.nodes(3 if name == "CM01" else 2)]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0


def test_failed_start_releases_the_listeners_it_opened():
    """One antenna's address is taken: start fails, and the others' listeners are freed."""
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.1.2", 0))
    except OSError as exc:
        blocker.close()
        pytest.skip(f"cannot bind 127.0.1.2 on this machine: {exc}")
    with blocker:
        blocker.listen()
        port = blocker.getsockname()[1]
        s = SimulatedArray(["CM01", "CM02"], bind="address", port=port)  # CM01 → .1, CM02 → .2
        with pytest.raises(ValidationError, match="CM02"):
            s.start()
        assert not s.running
        with socket.socket() as probe:
            probe.bind(("127.0.1.1", port))  # would raise EADDRINUSE if CM01's listener leaked


def test_sim_client_fixture_closes_its_clients(sim, sim_client):
    c = sim_client(sim, "CM01", timeout=1.0)
    assert not c.connected and c.timeout == 1.0
    assert [n.node for n in c.nodes(5)] == [E2C_NODE]
    assert c.connected  # closed by the fixture at teardown


def test_scenario_given_to_the_constructor_applies_its_faults() -> None:
    """flaky-network marks PM03 down: with the scenario passed at construction, PM03 refuses."""
    from e2ckit.client import Client
    from e2ckit.errors import E2CConnectionError
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    with SimulatedArray(["PM03", "DV01"], seed=1, clock=SimClock(rate=None), scenario="flaky-network", serve=True) as sim:
        assert sim.scenario is not None and sim.scenario.name == "flaky-network"
        pm03, dv01 = sim.array["PM03"], sim.array["DV01"]
        with Client(dv01.host, dv01.port, timeout=2) as c:
            assert len(c.monitor(1, 0x13, 0x0C000)) == 5
        with pytest.raises(E2CConnectionError), Client(pm03.host, pm03.port, timeout=2) as c:
            c.monitor(1, 0x13, 0x0C000)
