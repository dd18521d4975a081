"""The fan-out engine on its own: host names within the deadline, the concurrency cap,
the deadline, kept connections, results as columns, and both entry points (blocking,
and awaited) from inside a running event loop.

Names are resolved by a stand-in for ``socket.getaddrinfo`` (monkeypatched where the
engine's resolver calls it): ``good-e2c`` resolves to loopback at once, ``hang-e2c``
hangs until the test ends, ``nx-e2c`` fails at once. Nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from fake_e2c import FakeE2C, value_of

import e2ckit
from e2ckit import api
from e2ckit.array import Array, Endpoint
from e2ckit.catalog import default_catalog
from e2ckit.client import Client
from e2ckit.errors import E2CConnectionError, Failure
from e2ckit.transport import engine, resolve
from e2ckit.wire.frames import monitor_request

CRYO = default_catalog().resolve("cryo")


def cryo_requests(antenna: str):
    return [monitor_request(p.channel_for(antenna), p.node, p.rca) for p in CRYO]


@pytest.fixture
def fake_dns(monkeypatch):
    """``good-e2c`` → 127.0.0.1 at once; ``hang-e2c`` hangs until the test ends (or 10 s);
    ``nx-e2c`` does not exist. Each test gets its own names (a hanging look-up is shared
    by whoever asks the same name meanwhile)."""
    release = threading.Event()
    real = socket.getaddrinfo
    tag = f"t{time.monotonic_ns()}"
    asked: list[str] = []

    def fake(host, port, *args, **kwargs):
        asked.append(host)
        if host == f"hang-e2c.{tag}":
            release.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host == f"nx-e2c.{tag}":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host == f"good-e2c.{tag}":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(resolve.socket, "getaddrinfo", fake)
    names = {k: f"{k}-e2c.{tag}" for k in ("good", "hang", "nx")}
    names["asked"] = asked  # type: ignore[assignment]
    yield names
    release.set()


# -- host names ---------------------------------------------------------------------------


def test_a_hanging_name_costs_the_deadline_and_never_holds_back_a_healthy_antenna(sim, fake_dns):
    port1, port2 = sim.array["DV01"].port, sim.array["DV02"].port
    plan = {
        "DV01": (Endpoint("DV01", fake_dns["good"], port1), cryo_requests("DV01")),
        "DV02": (Endpoint("DV02", fake_dns["hang"], port2), cryo_requests("DV02")),
    }
    done_at: dict[str, float] = {}
    t0 = time.monotonic()
    out = engine.fanout_columns(
        plan, timeout=1.0, deadline=1.2, on_antenna_done=lambda a, _ex: done_at.setdefault(a, time.monotonic() - t0)
    )
    elapsed = time.monotonic() - t0

    assert 1.1 < elapsed < 1.7, f"the sweep took {elapsed:.2f} s with a 1.2 s deadline"
    good = out["DV01"]
    assert all(raw is not None for raw in good.raw) and not good.failed, good.failed
    assert done_at["DV01"] < 0.6, "the healthy antenna waited for the hanging name"
    hung = out["DV02"]
    assert all(raw is None for raw in hung.raw)
    assert {f.kind for f in hung.failed.values()} == {"unresolved"}
    assert str(hung.failed[0]) == "unresolved: host name did not resolve within 1.2 s"


def test_a_name_that_does_not_exist_is_unresolved_at_once(sim, fake_dns):
    plan = {"DV01": (Endpoint("DV01", fake_dns["nx"], 2000), cryo_requests("DV01"))}
    t0 = time.monotonic()
    results = engine.fanout_columns(plan, timeout=1.0)["DV01"].results()
    assert time.monotonic() - t0 < 0.5
    assert {r.error for r in results} == {"unresolved"}
    assert results[0].detail.startswith("host name did not resolve (")
    assert "Name or service not known" in results[0].detail
    assert results[1].detail.endswith("(not sent: an earlier request to this antenna failed)")


def test_sweep_rows_say_unresolved_not_deadline(sim, fake_dns):
    arr = Array([Endpoint("DV01", fake_dns["good"], sim.array["DV01"].port),
                 Endpoint("DV02", fake_dns["hang"], sim.array["DV02"].port),
                 Endpoint("CM01", fake_dns["nx"], sim.array["CM01"].port)])  # fmt: skip
    t0 = time.monotonic()
    rows = api.sweep_rows("cryo", array=arr, timeout=0.5, deadline=0.6)
    elapsed = time.monotonic() - t0
    assert elapsed < 1.1
    by = {a: [r.error for r in rows if r.antenna == a] for a in ("DV01", "DV02", "CM01")}
    assert by["DV01"] == [None] * (len(CRYO) + 1)  # and the derived FEMC.LO_PA_BLOCKED row
    assert all(e.startswith("unresolved: host name did not resolve within 0.6 s") for e in by["DV02"]), by["DV02"][:2]
    assert all(e.startswith("unresolved: host name did not resolve (") for e in by["CM01"])


def test_a_dynamic_group_reads_a_healthy_antenna_while_another_name_hangs(sim, fake_dns):
    """The node listing and the readings of each antenna follow each other on its own
    connection: the readings of a healthy antenna do not wait for another's listing."""
    arr = Array([Endpoint("DV01", fake_dns["good"], sim.array["DV01"].port),
                 Endpoint("DV02", fake_dns["hang"], sim.array["DV02"].port)])  # fmt: skip
    t0 = time.monotonic()
    rows = api.sweep_rows("temps", array=arr, timeout=0.5, deadline=0.6)
    assert time.monotonic() - t0 < 1.1
    good = [r for r in rows if r.antenna == "DV01"]
    assert len(good) > 5 and all(r.error is None for r in good), [r.error for r in good if r.error][:2]
    hung = [r for r in rows if r.antenna == "DV02"]
    assert [(r.point, r.error.split(" (")[0]) for r in hung] == [
        ("(node listing)", "unresolved: host name did not resolve within 0.6 s")
    ]


def test_client_timeout_covers_name_resolution(fake_dns):
    c = Client(fake_dns["hang"], 2000, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(E2CConnectionError, match="host name did not resolve within 0.5 s") as info:
        c.monitor(1, 0x13, 0x0C000)
    assert time.monotonic() - t0 < 1.0
    assert info.value.failure.kind == "unresolved"


def test_client_resolves_a_good_name(sim, fake_dns):
    with Client(fake_dns["good"], sim.array["DV01"].port, timeout=1.0) as c:
        with Client("127.0.0.1", sim.array["DV01"].port) as by_address:
            assert c.monitor(1, 0x13, 0x0C000) == by_address.monitor(1, 0x13, 0x0C000)


def test_ip_addresses_are_not_looked_up(sim, fake_dns):
    plan = {a: (sim.array[a], cryo_requests(a)) for a in ("DV01", "CM01")}
    out = engine.fanout_columns(plan, timeout=1.0)
    assert not any(ex.failed for ex in out.values())
    assert fake_dns["asked"] == []


# -- the loop ---------------------------------------------------------------------------------


def test_concurrency_one_reads_antenna_after_antenna_with_the_same_values(sim):
    plan = {a: (sim.array[a], cryo_requests(a)) for a in sim.antennas}
    wide = engine.fanout_columns(plan, timeout=1.0)
    order: list[str] = []
    one = engine.fanout_columns(plan, timeout=1.0, concurrency=1, on_antenna_done=lambda a, _: order.append(a))
    assert order == list(plan)
    assert {a: ex.raw for a, ex in one.items()} == {a: ex.raw for a, ex in wide.items()}


def test_a_silent_antenna_costs_the_deadline_and_its_failures_are_values(sim):
    sim.fault("CM01", "silent")
    try:
        plan = {a: (sim.array[a], cryo_requests(a)) for a in sim.antennas}
        t0 = time.monotonic()
        out = engine.fanout_columns(plan, timeout=0.3, deadline=1.0)
        assert time.monotonic() - t0 < 1.3
    finally:
        sim.clear_faults()
    assert not out["DV01"].failed and not out["DV02"].failed
    failed = out["CM01"].failed
    assert len(failed) == len(CRYO) and all(isinstance(f, Failure) for f in failed.values())
    kind, detail = failed[0]  # a Failure unpacks as the (code, text) pair callers used
    assert (kind, detail) == ("timeout", "no reply within the timeout")
    assert failed[1].detail.endswith("(not sent: an earlier request to this antenna failed)")


def test_an_antenna_with_nothing_to_ask_finishes_at_once(sim):
    done: list[str] = []
    out = engine.fanout_columns({"DV01": (Endpoint("DV01", "never-looked-up.invalid", 1), [])},
                                on_antenna_done=lambda a, _: done.append(a))  # fmt: skip
    assert done == ["DV01"] and out["DV01"].raw == []


def test_the_pool_keeps_connections_and_drops_one_with_a_stray_reply():
    with FakeE2C() as e2c:
        plan = {"DV01": (Endpoint("DV01", e2c.host, e2c.port), [monitor_request(0, 0x22, 0x30000)])}
        pool = engine.ConnectionPool()
        try:
            for _ in range(3):
                assert engine.fanout_columns(plan, pool=pool)["DV01"].raw[0][5:9] == value_of(0x30000)
            assert e2c.accepted == 1 and len(pool) == 1
            e2c.send_stray()
            assert engine.fanout_columns(plan, pool=pool)["DV01"].raw[0][5:9] == value_of(0x30000)
            assert e2c.accepted == 2
        finally:
            pool.close()


@pytest.mark.parametrize(("kwargs", "field"), [({"timeout": 0}, "timeout"), ({"deadline": -1}, "deadline"),
                                               ({"concurrency": 0}, "concurrency")])  # fmt: skip
def test_bad_arguments_are_refused_before_anything(kwargs, field):
    with pytest.raises(e2ckit.ValidationError, match=field):
        engine.fanout_columns({}, **kwargs)


# -- entry points -----------------------------------------------------------------------------


def test_sync_entry_points_work_inside_a_running_event_loop(sim):
    """As from a Jupyter cell, whose loop is running: the sync API blocks, with no loop of its own."""
    plan = {a: (sim.array[a], cryo_requests(a)) for a in sim.antennas}

    async def cell():
        cols = engine.fanout_columns(plan, timeout=1.0)
        rows = api.sweep_rows("cryo", array=sim, timeout=1.0)
        return cols, rows

    cols, rows = asyncio.run(cell())
    assert not any(ex.failed for ex in cols.values())
    assert all(r.error is None for r in rows) and len(rows) == 3 * (len(CRYO) + 1)  # + the derived LO PA row


def test_async_entry_points_leave_the_loop_free(sim):
    sim.fault("CM01", "slow", delay=0.01)  # 25 points: a quarter of a second per sweep

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.create_task(ticker())
        wide = await e2ckit.asweep("cryo", array=sim, timeout=1.0)
        t.cancel()
        return wide, ticks

    try:
        wide, ticks = asyncio.run(main())
    finally:
        sim.clear_faults()
    assert list(wide.index) == sim.antennas and wide["error"].isna().all()
    assert ticks > 10, "the loop was blocked while the engine worked"


def test_no_private_event_loop_thread(sim):
    plan = {a: (sim.array[a], cryo_requests(a)) for a in sim.antennas}
    engine.fanout_columns(plan)
    api.sweep_rows("cryo", array=sim)
    assert not [t.name for t in threading.enumerate() if t.name == "e2ckit-engine"]


def test_a_hanging_look_up_does_not_delay_the_exit_of_the_process():
    """The CLI prints its table and exits: a look-up still hanging in the background
    (here 30 s) must not keep the process alive (resolver threads are daemons)."""
    import subprocess
    import sys

    code = (
        "import socket, time\n"
        "from e2ckit.transport import resolve\n"
        "def slow(*a, **k):\n"
        "    time.sleep(30)\n"
        "    raise socket.gaierror('late')\n"
        "resolve.socket.getaddrinfo = slow\n"
        "from e2ckit.transport import engine\n"
        "from e2ckit.array import Endpoint\n"
        "from e2ckit.wire.frames import monitor_request\n"
        "out = engine.fanout_columns({'DV01': (Endpoint('DV01', 'hang-e2c.invalid', 2000), [monitor_request(1, 0x13, 0)])},"
        " timeout=0.2, deadline=0.5)\n"
        "out = {'DV01': out['DV01'].results()}\n"
        "print(out['DV01'][0].error, out['DV01'][0].detail)\n"
    )
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.stdout.strip() == "unresolved host name did not resolve within 0.5 s", done.stderr
    assert time.monotonic() - t0 < 5.0


def test_a_hanging_name_never_queues_another_name_behind_it(monkeypatch):
    """Each look-up has a thread of its own, even in the moment after an idle thread was
    handed the hanging one (it used to count as idle until it took its job)."""
    release = threading.Event()

    def fake(host, port, *args, **kwargs):
        if host == "hang":
            release.wait(10)
        if host == "nx":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(resolve.socket, "getaddrinfo", fake)
    r = resolve.Resolver(workers=4)
    try:
        r.lookup("warm", 2000).result(timeout=5)  # one thread, now idle
        r.lookup("hang", 2000)
        nx = r.lookup("nx", 2000)  # at once: must not wait for "hang"
        with pytest.raises(socket.gaierror):
            nx.result(timeout=2)
    finally:
        release.set()


# -- the file-descriptor budget (issue 22, item 5) -------------------------------------------

_UNDER_ULIMIT = """
import json, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), hard))
import e2ckit
from e2ckit.array import Array, Endpoint
ports = json.loads(sys.argv[1])
names = [f"{fam}{n:02d}" for fam in ("DV", "DA", "CM", "PM") for n in range(100)][:332]
arr = Array([Endpoint(a, "127.0.0.1", ports[i % len(ports)]) for i, a in enumerate(names)], source="test")
tidy = e2ckit.sweep(["FEMC.TEMP0", "FEMC.TEMP1"], array=arr, timeout=2.0, deadline=float(sys.argv[3]), tidy=True)
print(json.dumps({"antennas": int(tidy.antenna.nunique()), "rows": len(tidy),
                  "errors": sorted(set(e.split(":")[0] for e in tidy.error.dropna())),
                  "texts": sorted(set(tidy.error.dropna()))[:3], "good": int(tidy.error.isna().sum())}))
"""


def _sweep_under_ulimit(ports: list[int], limit: int, deadline: float) -> dict:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _UNDER_ULIMIT, json.dumps(ports), str(limit), str(deadline)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_sweep_of_more_hosts_than_descriptors_waits_its_turn_and_reads_every_one(fresh_sim):
    """332 loopback hosts under a soft RLIMIT_NOFILE of 128 (``ulimit -n 128``): the sweep
    holds at most the budget of sockets at once, the rest wait their turn; every host is
    read (it used to fail whole: "Too many open files")."""
    sim = fresh_sim("all")
    ports = [ep.port for ep in sim.array.values()]
    got = _sweep_under_ulimit(ports, 128, 20.0)
    assert got["antennas"] == 332 and got["rows"] == 664
    assert got["errors"] == [] and got["good"] == 664, got


def test_hosts_left_untried_at_the_deadline_get_rows_saying_so(fresh_sim):
    """The same with E2Cs slow enough that not every wave fits the deadline: each host
    not reached has its rows, with the deadline failure; no crash, no other error."""
    # 0.25 s a reply, two requests a host, under 128 descriptors (about 90 hosts at once):
    # 332 hosts need four waves, at least 2 s; a 1.8 s deadline cuts the fourth, and leaves
    # the first wave (0.5 s) a wide margin on a loaded machine
    sim = fresh_sim("all", latency=0.25)
    ports = [ep.port for ep in sim.array.values()]
    got = _sweep_under_ulimit(ports, 128, 1.8)
    assert got["antennas"] == 332 and got["rows"] == 664, got
    assert got["errors"] == ["deadline"] and 0 < got["good"] < 664, got
    assert all("::" not in t for t in got["texts"]), got


_LOG_UNDER_ULIMIT = """
import json, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
from e2ckit.array import Array, Endpoint
from e2ckit.clock import SimClock
from e2ckit.dataset import load
from e2ckit.logger import Logger
ports = json.loads(sys.argv[1])
names = [f"{fam}{n:02d}" for fam in ("DV", "DA", "CM", "PM") for n in range(100)][:332]
arr = Array([Endpoint(a, "127.0.0.1", ports[i % len(ports)]) for i, a in enumerate(names)], source="test")
with Logger("FEMC.TEMP0", array=arr, interval=10, path=sys.argv[2], clock=SimClock(rate=None), timeout=2.0,
            deadline=10.0) as log:
    st = log.run(cycles=2)
df = load(sys.argv[2])
print(json.dumps({"cycles": st.cycles, "written": st.samples_written, "rows": len(df),
                  "errors": int(df.error.notna().sum())}))
"""


def test_the_logger_keeps_going_past_the_descriptor_limit(fresh_sim, tmp_path):
    """``e2ckit log`` over 332 hosts under ``ulimit -n 128`` used to die at its first
    cycle having written nothing; it logs every cycle of every host."""
    import json
    import subprocess
    import sys

    sim = fresh_sim("all")
    ports = [ep.port for ep in sim.array.values()]
    done = subprocess.run([sys.executable, "-c", _LOG_UNDER_ULIMIT, json.dumps(ports), str(tmp_path / "log")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"cycles": 2, "written": 2 * 332, "rows": 2 * 332, "errors": 0}, got
