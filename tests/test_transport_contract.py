"""One contract, three transports: the blocking ``Client``, the socket driver (the
fan-out engine) and the memory driver give the same outcome for every fault the
simulator can inject, for a stray reply, two replies to one request, an outage and an
E2C that reboots under a kept connection.

After python-can's back-to-back tests: one suite, run once per transport through a
parametrised fixture. Each transport reads a list of requests from one antenna and
gives, per request, the data bytes or the :class:`~e2ckit.errors.Failure` (the
Client's exception carries it as ``.failure``), so they are compared kind for kind.
Every E2C here can be reached both ways: a simulated array serving sockets hands out
its memory transport too, and the hand-written fake E2C is also a memory handler.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

import pytest
from fake_e2c import STRAY_RCA, FakeE2C, value_of

from e2ckit import transport as seam
from e2ckit.array import Endpoint
from e2ckit.client import Client
from e2ckit.errors import EXCEPTIONS, E2CKitError, Failure
from e2ckit.sim.server import FAULT_KINDS, MEMORY_HOST
from e2ckit.transport import engine
from e2ckit.transport.memory import MemoryTransport
from e2ckit.wire.frames import Request, monitor_request

FEMC = 0x13
TEMP0 = monitor_request(1, FEMC, 0x0C000)
SERIAL = monitor_request(1, FEMC, 0x00000)
TEMP1 = monitor_request(1, FEMC, 0x0C001)
TIMEOUT = 0.5
SLACK = 1.0

Outcome = bytes | Failure


class Target(NamedTuple):
    """One E2C, reachable both ways."""

    socket: Endpoint  # its loopback host:port
    memory: Endpoint  # the same E2C through a memory transport


def sim_target(sim, antenna: str = "DV01") -> Target:
    return Target(sim.socket_array[antenna], sim.memory_array[antenna])


def fake_target(e2c: FakeE2C) -> Target:
    return Target(Endpoint("DV01", e2c.host, e2c.port), Endpoint("DV01", MEMORY_HOST, transport=MemoryTransport(e2c)))


def _columns(ex: engine.Exchanges) -> list[Outcome]:
    out: list[Outcome] = []
    for i, raw in enumerate(ex.raw):
        if raw is None:
            out.append(ex.failed[i])
        else:
            error = int.from_bytes(raw[:4], "big")
            out.append(Failure.e2c(error) if error else raw[5 : 5 + raw[4]])
    return out


class ClientTransport:
    """The blocking client: one Client per antenna, one request after another, kept."""

    name = "client"

    def __init__(self) -> None:
        self._clients: dict[tuple[str, int], Client] = {}

    def read(self, target: Target, requests: Sequence[Request]) -> list[Outcome]:
        host, port = target.socket.host, target.socket.port
        c = self._clients.setdefault((host, port), Client(host, port, timeout=TIMEOUT))
        out: list[Outcome] = []
        for req in requests:
            try:
                reply = c.request(req, check=False)
            except E2CKitError as exc:
                failure = exc.failure  # type: ignore[attr-defined]
                assert isinstance(exc, EXCEPTIONS[failure.kind]), "the one table maps kinds to exceptions"
                assert not c.connected, "a failed connection is never reused"
                out.append(failure)
                continue
            out.append(Failure.e2c(reply.error) if reply.error else reply.data)
        return out

    def close(self) -> None:
        for c in self._clients.values():
            c.close()


class EngineTransport:
    """The fan-out engine: the requests as one antenna's plan, connections kept in a pool
    from one read to the next (as the logger keeps them)."""

    name = "engine"

    def __init__(self) -> None:
        self.pool = engine.ConnectionPool()

    def read(self, target: Target, requests: Sequence[Request]) -> list[Outcome]:
        plan = {"DV01": (target.socket, list(requests))}
        return _columns(engine.fanout_columns(plan, timeout=TIMEOUT, pool=self.pool)["DV01"])

    def close(self) -> None:
        self.pool.close()


class MemoryDriver:
    """The memory driver, through the seam every caller uses, connections kept."""

    name = "memory"

    def read(self, target: Target, requests: Sequence[Request]) -> list[Outcome]:
        plan = {"DV01": (target.memory, list(requests))}
        return _columns(seam.exchange(plan, timeout=TIMEOUT, pool=True)["DV01"])

    def close(self) -> None:
        pass


@pytest.fixture(params=[ClientTransport, EngineTransport, MemoryDriver], ids=["client", "engine", "memory"])
def transport(request):
    t = request.param()
    yield t
    t.close()


@pytest.fixture
def dv01(sim):
    sim.clear_faults()
    yield sim_target(sim)
    sim.clear_faults()


def kinds(outcomes: Sequence[Outcome]) -> list[str | None]:
    return [o.kind if isinstance(o, Failure) else None for o in outcomes]


def test_every_fault_kind_has_a_contract():
    assert set(FAULT_KINDS) == set(FAULTS) | {"slow", "split"}


#: fault → (parameters, the failure kinds the first request may end with)
FAULTS = {
    "down": ({}, {"refused"}),
    "silent": ({}, {"timeout"}),
    "drop": ({}, {"closed", "refused"}),  # half a reply then a reset: the reset may overtake it
    "garbage": ({}, {"protocol"}),
    "error": ({"code": 5009, "rca": 0x0C000}, {"E2C:BADCHAN_ERROR"}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_gives_the_same_failure_then_the_transport_recovers(transport, sim, dv01, fault):
    good = transport.read(dv01, [TEMP0, SERIAL])
    assert all(isinstance(v, bytes) for v in good) and good[0] != good[1]
    params, expected = FAULTS[fault]
    sim.fault("DV01", fault, **params)

    t0 = time.monotonic()
    failed = transport.read(dv01, [TEMP0])
    assert time.monotonic() - t0 < TIMEOUT + SLACK
    assert isinstance(failed[0], Failure) and failed[0].kind in expected, failed

    sim.clear_faults("DV01")
    # a different point first: its own bytes, never a late reply to TEMP0
    assert transport.read(dv01, [SERIAL, TEMP0]) == [good[1], good[0]]


def test_slow_beyond_the_timeout_is_a_timeout_and_the_late_reply_is_never_an_answer(transport, sim, dv01):
    good = transport.read(dv01, [TEMP0, SERIAL])
    sim.fault("DV01", "slow", delay=TIMEOUT + 0.3)
    assert kinds(transport.read(dv01, [TEMP0])) == ["timeout"]
    sim.clear_faults("DV01")
    assert transport.read(dv01, [SERIAL, TEMP0]) == [good[1], good[0]]


def test_slow_within_the_timeout_and_split_replies_give_the_right_values(transport, sim, dv01):
    good = transport.read(dv01, [TEMP0, SERIAL, TEMP1])
    for fault, params in (("slow", {"delay": TIMEOUT / 5}), ("split", {})):
        sim.fault("DV01", fault, **params)
        assert transport.read(dv01, [TEMP0, SERIAL, TEMP1]) == good, fault
        sim.clear_faults("DV01")


RCAS = [0x30000 + i for i in range(6)]


def test_a_stray_reply_on_a_kept_connection_never_becomes_a_value(transport):
    """The E2C's replies carry no request id: one extra reply on a kept connection
    would be taken as the answer to the next request, and every later value shifted."""
    with FakeE2C() as e2c:
        reqs = [monitor_request(0, 0x22, rca) for rca in RCAS]
        target = fake_target(e2c)
        first = transport.read(target, reqs[:3])
        assert first == [value_of(r) for r in RCAS[:3]]
        e2c.send_stray()  # written: on loopback it is now in the client's receive queue

        after = transport.read(target, reqs)

        for rca, got in zip(RCAS, after, strict=True):
            assert got != value_of(STRAY_RCA), "the stray reply was taken as a value"
            assert got == value_of(rca) or (isinstance(got, Failure) and got.kind == "protocol"), got
        assert after == [value_of(r) for r in RCAS], "a stray on an idle connection: a fresh connection, no loss"
        assert e2c.accepted == 2, "the connection with the stray was replaced, once"


def test_two_replies_to_one_request_are_a_protocol_error_never_a_shifted_value(transport):
    with FakeE2C(double_on=frozenset({RCAS[2]})) as e2c:
        reqs = [monitor_request(0, 0x22, rca) for rca in RCAS]
        got = transport.read(fake_target(e2c), reqs)
        expected: list[Outcome | str] = [value_of(r) for r in RCAS]
        expected[2] = "protocol"
        assert [g.kind if isinstance(g, Failure) else g for g in got] == expected


def test_the_drop_in_e2cclient_never_returns_a_stray_reply_as_a_value():
    from e2ckit.compat import E2CClient

    with FakeE2C() as e2c, E2CClient(e2c.host, e2c.port, timeout=TIMEOUT, verbose=False) as c:
        assert c.send_request(0, 0, 0x22, RCAS[0], 0) == (0, value_of(RCAS[0]))
        e2c.send_stray()
        assert [c.send_request(0, 0, 0x22, rca, 0) for rca in RCAS] == [(0, value_of(rca)) for rca in RCAS]


def test_an_outage_refuses_while_the_power_is_off_then_reconnects_cleanly(transport, fresh_sim):
    """A powered-off E2C turns every connection away (a reset before any byte: refused);
    a kept connection gives the same, not "closed"; power back, the next read is whole."""
    sim = fresh_sim(("DV01",))
    target = sim_target(sim)
    good = transport.read(target, [TEMP0, SERIAL])
    assert all(isinstance(v, bytes) for v in good)
    model, clock = sim.models["DV01"], sim.clock
    model.power_off(clock.now())
    clock.advance(1)

    t0 = time.monotonic()
    off = transport.read(target, [TEMP0, SERIAL])
    assert time.monotonic() - t0 < TIMEOUT + SLACK
    assert kinds(off) == ["refused", "refused"], off

    model.power_on(clock.now())
    clock.advance(1)
    back = transport.read(target, [SERIAL, TEMP0])
    assert all(isinstance(v, bytes) for v in back) and back[0] == good[1], back


@pytest.mark.parametrize("half_open", [False, True], ids=["reset", "half-open"])
def test_an_e2c_rebooting_under_a_kept_connection_costs_no_reading(transport, fresh_sim, half_open):
    """The E2C restarts while a connection is kept: it resets it, or (half-open) forgets
    it and resets it only when the next request comes. Either way the next read is whole,
    on exactly one fresh connection — a monitor request is sent again, once."""
    sim = fresh_sim(("DV01",))
    target = sim_target(sim)
    good = transport.read(target, [TEMP0, SERIAL])
    accepted = sim.connections_accepted("DV01")
    sim.reboot("DV01", half_open=half_open)

    assert transport.read(target, [TEMP0, SERIAL]) == good
    assert sim.connections_accepted("DV01") == accepted + 1


def test_one_plan_may_mix_drivers_under_one_deadline(sim, dv01):
    """Each endpoint names its driver: a plan of memory and socket endpoints gives each
    antenna its exchanges, in plan order, the same bytes either way."""
    mixed = {"DV02": (sim.memory_array["DV02"], [TEMP0, SERIAL]), "DV01": (sim.socket_array["DV01"], [TEMP0, SERIAL]),
             "CM01": (sim.memory_array["CM01"], [TEMP0])}  # fmt: skip
    got = seam.exchange(mixed, timeout=TIMEOUT)
    assert list(got) == ["DV02", "DV01", "CM01"]
    assert all(not ex.failed for ex in got.values())
    same = seam.exchange({"DV02": (sim.socket_array["DV02"], [TEMP0, SERIAL])}, timeout=TIMEOUT)
    assert got["DV02"].raw == same["DV02"].raw


def test_the_socket_driver_never_looks_up_an_in_memory_endpoint(sim):
    """A memory endpoint handed to the socket engine directly is refused at once, never
    resolved as a host name; a Client given its label fails at once, saying why."""
    ep = sim.memory_array["DV01"]
    with pytest.raises(E2CKitError, match="transport.exchange"):
        engine.fanout_columns({"DV01": (ep, [TEMP0])}, timeout=TIMEOUT)
    t0 = time.monotonic()
    with pytest.raises(E2CKitError, match="serve=True"):
        Client(ep.host, ep.port, timeout=TIMEOUT).request(TEMP0)
    assert time.monotonic() - t0 < TIMEOUT
