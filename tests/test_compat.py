"""Compatibility with the published ``e2c-client`` 0.2.2, used unchanged against the simulator.

Guards two promises: (1) the simulator speaks the real protocol well enough that the
published library and CLI read nodes, AMBSI temperatures, revisions and cryostat points
from it and print the simulator's values; (2) ``e2ckit.compat.E2CClient`` is a drop-in:
for the same requests it returns exactly the published ``send_request`` tuples.

Only loopback is contacted: the CLI gets ``--host 127.0.0.1 --port P``, or, for ``--all``,
real ALMA host names resolved by ``tests/hostshim.py`` to 127.0.1.x (any ``*-e2c`` name
the shim does not map fails to resolve).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import e2c_client
import pytest
from e2c_client import E2CClient as PublishedClient
from simhelpers import client_for

from e2ckit.compat import E2CClient as OurClient
from hostshim import shim_env

FEMC, CMPR, E2C_NODE = 0x13, 0x25, 0x16
CLI = shutil.which("e2c-client", path=os.path.dirname(sys.executable)) or shutil.which("e2c-client")
#: FEMC cryostat temperature sensors the published ``tools cryo`` table shows
CRYO_COLUMNS = {0: 8, 1: 9, 5: 10, 6: 11, 8: 12, 9: 13, 10: 14, 12: 15}



def test_the_published_client_is_the_one_we_pin():
    assert e2c_client.__version__ == "0.2.2"


pytestmark = pytest.mark.usefixtures("no_faults_left")


def endpoint(sim, antenna="DV01"):
    ep = sim.array[antenna]
    return ep.host, ep.port


def femc_float(data: bytes) -> float:
    assert len(data) == 5 and data[4] == 0, "float + FEMC status 0"
    return struct.unpack(">f", data[:4])[0]


# -- the library -----------------------------------------------------------------------


REQUESTS = [
    # (resource, bus, node, rca, mode, data)
    (0, 1, FEMC, 0x0C000, 0, b""),  # cryostat TEMP0
    (0, 1, FEMC, 0x0C024, 0, b""),  # TEMP9
    (0, 1, FEMC, 0x0C044, 0, b""),  # cryostat pressure
    (0, 1, FEMC, 0x0C034, 0, b""),  # backing pump
    (0, 1, FEMC, 0x0C038, 0, b""),  # turbo (253 while the backing pump is off)
    (0, 1, FEMC, 0x00000, 0, b""),  # ESN
    (0, 1, FEMC, 0x30003, 0, b""),  # AMBSI ambient temperature
    (7, 1, FEMC, 0x0C000, 0, b""),  # a resource id is ignored
    (0, 2, CMPR, 0x00007, 0, b""),  # compressor supply pressure
    (0, 2, CMPR, 0x00013, 0, b""),  # time since power on
    (0, 5, E2C_NODE, 0x00000, 0, b""),
    (0, 5, E2C_NODE, 0x30000, 0, b""),
    (0, 5, E2C_NODE, 0x30004, 0, b""),
    (0, 5, E2C_NODE, 0x30005, 0, b""),
    (0, 5, E2C_NODE, 0x0000E, 0, b""),
    *[(0, ch, 0, 0, 2, b"") for ch in range(6)],  # get-nodes
    (0, 6, FEMC, 0x0C000, 0, b""),  # bad channel: 5009
    (0, 6, 0, 0, 2, b""),  # get-nodes on a bad channel
    (0, 1, 0x7F0, 0x0C000, 0, b""),  # absent node: 5002
    (0, 1, FEMC, 0x3FFF0, 0, b""),  # unknown RCA: 5002
    (0, 1, FEMC, 0x1C046, 1, b"\x01"),  # control: vacuum gauge on (it is on)
    (0, 0, 0x22, 0x00000, 3, b""),  # reset
]


def test_send_request_tuples_are_identical(fresh_sim):
    s = fresh_sim(["DV01"])
    host, port = endpoint(s)
    published = PublishedClient(host, port, timeout=2, verbose=False)
    ours = OurClient(host, port, timeout=2, verbose=False)
    with published, ours:
        got_published = [published.send_request(*r) for r in REQUESTS]
        got_ours = [ours.send_request(*r) for r in REQUESTS]
    for req, a, b in zip(REQUESTS, got_published, got_ours, strict=True):
        assert a == b, req
    # not vacuous: errors, data and node lists are all among them
    codes = {code for code, _ in got_ours}
    assert codes == {0, 5002, 5009}
    assert any(isinstance(d, list) and len(d) > 10 for _, d in got_ours)
    assert got_ours[4][1][-1] == 0xFD, "turbo enable blocked (253) while the backing pump is off"


def test_split_replies_read_by_our_drop_in(sim):
    """The published client would misparse these (single recv); the drop-in does not."""
    host, port = endpoint(sim)
    with OurClient(host, port, timeout=2, verbose=False) as ours:
        expected = [ours.send_request(*r) for r in REQUESTS[:15]]
        sim.fault("DV01", "split")
        ours._client.close()
        assert [ours.send_request(*r) for r in REQUESTS[:15]] == expected


def test_get_all_nodes_same_as_the_simulator(sim, capsys):
    host, port = endpoint(sim)
    model = sim.models["DV01"]
    with PublishedClient(host, port, timeout=2, verbose=False) as published:
        theirs = published.get_all_nodes()
    printed_theirs = capsys.readouterr().out.splitlines()
    with OurClient(host, port, timeout=2, verbose=False) as ours:
        mine = ours.get_all_nodes()
    printed_mine = capsys.readouterr().out.splitlines()
    expected = [
        [ch, [{"node_id": r.node, "serial": r.esn} for r in model.nodes(ch)]]
        for ch in range(5)
        if model.nodes(ch)
    ]
    assert theirs == mine == expected
    assert [c for c, _ in theirs] == [0, 1, 2], "DV: LRUs on 0 and 1, compressor and ACU on 2"
    # the printed lines agree up to the LRU name, which each takes from its own table
    assert len(printed_theirs) == len(printed_mine) == sum(len(n) for _, n in expected)
    for a, b in zip(printed_theirs, printed_mine, strict=True):
        assert a.rsplit(",", 1)[0] == b.rsplit(",", 1)[0]
    assert any("Node id:  0X13, ESN: 0x" in line and "[FEMC]" in line for line in printed_theirs)


def test_ambsi_temperature(sim):
    host, port = endpoint(sim)
    model = sim.models["DV01"]
    nodes = [(ch, r.node) for ch in range(3) for r in model.nodes(ch)]
    assert len(nodes) > 15
    with PublishedClient(host, port, timeout=2, verbose=False) as published, OurClient(
        host, port, timeout=2, verbose=False
    ) as ours:
        for ch, node in nodes:
            theirs = published.get_temperature_c(ch, node)
            assert ours.get_temperature_c(ch, node) == theirs
            assert theirs == pytest.approx(model.peek("AMBIENT_TEMP", node=node, channel=ch), abs=1 / 16 + 1e-9)
            assert 0.0 < theirs < 60.0
    # both byte orders are exercised (some simulated AMBSIs send little-endian)
    with client_for(sim, "DV01") as c:
        first = {c.monitor(ch, node, 0x30003)[0] for ch, node in nodes}
    assert 0x00 in first and first - {0x00, 0xFF}


def test_revisions_and_cryostat_points(sim):
    host, port = endpoint(sim, "CM01")
    model = sim.models["CM01"]
    with PublishedClient(host, port, timeout=2, verbose=False) as published:
        revs = {
            rca: published.send_request(0, 5, E2C_NODE, rca, 0)
            for rca in (0x30000, 0x30004, 0x30005)
        }
        temps = {k: published.send_request(0, 1, FEMC, 0x0C000 + 4 * k, 0) for k in range(13)}
        cmpr_on_3 = published.send_request(0, 3, CMPR, 0x00007, 0)
    assert all(err == 0 and len(d) == 3 for err, d in revs.values())
    assert tuple(revs[0x30005][1]) == tuple(model.peek("E2C.UBOOT_REV"))
    for k, (err, data) in temps.items():
        assert err == 0
        assert femc_float(data) == pytest.approx(model.peek(f"FEMC.TEMP{k}"), rel=1e-6)
    t = [femc_float(temps[k][1]) for k in range(13)]
    assert max(t[:5]) < min(t[5:9]) < max(t[5:9]) < min(t[9:]), "4K < 15K < 110K stages"
    assert cmpr_on_3[0] == 0 and len(cmpr_on_3[1]) == 4, "CM antennas: compressor on channel 3"


# -- the command line -------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    assert CLI, "the published e2c-client CLI is installed with the test extras"
    env = dict(os.environ if env is None else env)
    env["COLUMNS"] = "1000"  # rich truncates tables to 80 columns when piped
    r = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr
    assert "Error:" not in r.stdout and "Exception" not in r.stdout, r.stdout
    return r.stdout


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of a rich table, by their first cell."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


@pytest.mark.slow
def test_cli_monitor_nodes(sim):
    host, port = endpoint(sim)
    out = run_cli("monitor", "nodes", "--host", host, "--port", str(port))
    model = sim.models["DV01"]
    for ch in range(5):
        for r in model.nodes(ch):
            line = f"Channel: {ch}, Node id: {hex(r.node).upper():>5s}, ESN: 0x{r.esn.hex().upper()}"
            assert line in out
    assert "[FEMC]" in out and "[CMPR]" in out and "[LORR]" in out


@pytest.mark.slow
@pytest.mark.parametrize("channel, node", [(1, "0x13"), (0, "0x22"), (2, "37")])
def test_cli_temperature(sim, channel, node):
    host, port = endpoint(sim)
    out = run_cli("tools", "temperature", "--host", host, "--port", str(port), "--channel", str(channel), "--node", node)
    line = next(x for x in out.splitlines() if x.startswith("Temperature:"))
    value = float(line.split()[1])
    expected = sim.models["DV01"].peek("AMBIENT_TEMP", node=int(node, 0), channel=channel)
    assert value == pytest.approx(expected, abs=1 / 16 + 1e-9)


@pytest.mark.slow
def test_cli_revision(sim):
    host, port = endpoint(sim)
    out = run_cli("tools", "revision", "--host", host, "--port", str(port))
    with client_for(sim, "DV01") as c:
        revs = [".".join(str(b) for b in c.monitor(5, E2C_NODE, rca)) for rca in (0x30000, 0x30004, 0x30005)]
    assert f"Protocol revision: {revs[0]}" in out
    assert f"Software revision: {revs[1]}" in out
    assert f"U-Boot revision: {revs[2]}" in out


def expected_cryo_cells(sim, antenna: str) -> dict[int, str]:
    """Column index → the text the published table shows for the simulator's bytes."""
    with client_for(sim, antenna) as c:
        temps = {k: femc_float(c.monitor(1, FEMC, 0x0C000 + 4 * k)) for k in CRYO_COLUMNS}
        pressure = femc_float(c.monitor(1, FEMC, 0x0C044))
    # the published CLI formats with % ("%2.2f", "%.2e"): the same here, on purpose
    cells = {col: "%2.2f" % temps[k] for k, col in CRYO_COLUMNS.items()}  # noqa: UP031
    cells[17] = "%.2e" % pressure  # noqa: UP031
    for k, col in CRYO_COLUMNS.items():  # and they are the model's physical values
        assert float(cells[col]) == pytest.approx(sim.models[antenna].peek(f"FEMC.TEMP{k}"), abs=0.006)
    return cells


@pytest.mark.slow
def test_cli_cryo_one_host(sim):
    host, port = endpoint(sim)
    out = run_cli("tools", "cryo", "--host", host, "--port", str(port))
    rows = table_rows(out)
    row = rows[host]
    assert len(row) == 19
    for col, text in expected_cryo_cells(sim, "DV01").items():
        assert row[col] == text, col


@pytest.mark.slow
def test_cli_cryo_all_through_the_host_shim(address_sim, tmp_path: Path):
    """``--all`` walks the 66 ALMA host names; all 66 are simulated on 127.0.1.x."""
    s = address_sim(None, latency=0.0)
    assert len(s.antennas) == 66
    port = s.array["DV01"].port
    env = shim_env(tmp_path / "shim", s.host_names())
    out = run_cli("tools", "cryo", "--all", "--show-errors", "--port", str(port), env=env, timeout=240)
    rows = table_rows(out)
    hosts = [f"{a.lower()}-e2c" for a in s.antennas]
    assert [h for h in rows if h != "Host"] == hosts
    for antenna in ("CM01", "DA41", "DV01", "DV25", "PM04"):
        row = rows[f"{antenna.lower()}-e2c"]
        assert row[-1] == "-", f"{antenna}: no errors"
        for col, text in expected_cryo_cells(s, antenna).items():
            assert row[col] == text, (antenna, col)
    for h in hosts:
        assert rows[h][-1] == "-" and rows[h][8] != "N/A", h


@pytest.mark.slow
def test_host_shim_refuses_unmapped_e2c_names(tmp_path):
    """The safety net of the test above: an unmapped ALMA name never resolves."""
    env = shim_env(tmp_path / "shim", {"dv01-e2c": "127.0.1.1"})
    env["COLUMNS"] = "1000"
    r = subprocess.run(
        [CLI, "tools", "cryo", "--host", "dv02-e2c", "--port", "2000", "--show-errors"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Host not found" in r.stdout
