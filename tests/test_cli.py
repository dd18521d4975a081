"""Every CLI command through typer's CliRunner, against a seeded simulated array in memory.

The simulated array answers in memory and is this process's active array (conftest's
``active_sim``, as ``--simulate`` makes its own); tests of a bare host:port or of a child
process use its ``served_twin`` on 127.0.0.1 (free ports). The control audit log goes to a
tmp path. No real host names are ever resolved: ``--host`` is always an antenna of the
simulated map or 127.0.0.1.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from e2ckit import __version__
from e2ckit.cli import (
    EXIT_ALARM,
    EXIT_BAD_INPUT,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    BadInput,
    app,
    exit_status,
    parse_data,
    parse_int,
    resolve_target,
)

#: the click command tree of the app, built once for the module: typer's CliRunner rebuilds
#: it on every invoke (10 ms), which is not what these tests are about (a shell builds it
#: once per process too)
CLICK_APP = typer.main.get_command(app)


@pytest.fixture(autouse=True)
def _click_app_built_once(monkeypatch):
    build = typer.testing._get_command
    monkeypatch.setattr(typer.testing, "_get_command", lambda a: CLICK_APP if a is app else build(a))


ANTENNAS = ["DV01", "DV02", "DA41", "CM01", "PM01"]


# conftest's `sim` in memory (real-time clock), the active array of these in-process
# commands (active_sim); a test that needs a host:port or a child process uses its
# served_twin (the same array on loopback)
pytestmark = pytest.mark.sim_array(ANTENNAS, seed=7, rate=1.0, serve=False)


@pytest.fixture(autouse=True)
def env(sim, active_sim, tmp_path, monkeypatch):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    sim.clear_faults()
    return tmp_path


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="module")
def cat():
    from e2ckit.catalog import default_catalog

    return default_catalog()


def one_line_error(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def as_json(result):
    return json.loads(result.stdout)


# -- basics -------------------------------------------------------------------------------


def test_version(run):
    r = run("version")
    assert r.exit_code == 0
    assert r.stdout.strip() == __version__
    assert run("--version").stdout.strip() == __version__


def test_help_lists_every_command(run):
    r = run("--help")
    assert r.exit_code == 0
    for name in ("version", "monitor", "control", "tools", "sweep", "nodes", "points", "simulate"):
        assert name in r.stdout
    sub = run("monitor", "--help").stdout
    assert "request" in sub and "nodes" in sub and "temperature" in sub
    tools = run("tools", "--help").stdout
    for name in ("temperature", "revision", "cryo", "cmpr"):
        assert name in tools


# -- parsing and pure helpers ---------------------------------------------------------------


def test_parse_int_hex_and_decimal():
    assert parse_int("0x13", "--node", 0, 0x7FE) == 0x13
    assert parse_int("19", "--node", 0, 0x7FE) == 19
    assert parse_int(" 0X0C000 ", "--rca", 0, 0x3FFFF) == 0xC000
    with pytest.raises(BadInput, match="--node 'zz' is not a number"):
        parse_int("zz", "--node", 0, 0x7FE)
    with pytest.raises(BadInput, match="out of range"):
        parse_int("6", "--channel", 0, 5)
    with pytest.raises(BadInput, match="missing --rca"):
        parse_int(None, "--rca", 0, 5)


def test_parse_data():
    assert parse_data("0x60 0x64 0x48 0x44") == b"\x60\x64\x48\x44"
    assert parse_data("1,2, 255") == b"\x01\x02\xff"
    with pytest.raises(BadInput, match="at most 8"):
        parse_data(" ".join(["1"] * 9))
    with pytest.raises(BadInput, match="out of range"):
        parse_data("0x100")
    with pytest.raises(BadInput, match="not a number"):
        parse_data("0xZZ")
    with pytest.raises(BadInput, match="missing --data"):
        parse_data("  ")


def test_exit_status_rules():
    assert exit_status([None, None]) == EXIT_OK
    assert exit_status([None, "timeout: x"]) == EXIT_PARTIAL
    assert exit_status(["E2C:TIMEOUT_ERROR: 5002", "E2C:TIMEOUT_ERROR: 5002"]) == EXIT_PARTIAL
    assert exit_status(["refused: x", "timeout: y"]) == EXIT_NOTHING
    assert exit_status([float("nan"), None]) == EXIT_OK


def test_resolve_target_uses_the_active_map(sim):
    ep = sim.array["DV01"]
    for spelling in ("DV01", "dv01", "dv01-e2c", "DV01-E2C"):
        label, got = resolve_target(spelling, None)
        assert (label, got.host, got.port) == ("DV01", ep.host, ep.port)
    # a fully qualified name is taken literally, labelled with its antenna (never resolved here)
    label, got = resolve_target("dv01-e2c.example.invalid", None)
    assert (label, got.host, got.port) == ("DV01", "dv01-e2c.example.invalid", 2000)
    label, got = resolve_target("DV01", 4321)
    assert got.port == 4321
    label, got = resolve_target("127.0.0.1", 2345)
    assert (label, got.host, got.port) == ("127.0.0.1", "127.0.0.1", 2345)
    assert resolve_target("127.0.0.1", None)[1].port == 2000
    with pytest.raises(BadInput, match="unknown antenna"):
        resolve_target("DV25", None)  # a real antenna, but not in this map
    with pytest.raises(BadInput, match="missing --host"):
        resolve_target(None, None)


# -- monitor --------------------------------------------------------------------------------

#: ``monitor request`` of FEMC.TEMP0 on DV01 (channel 1, node 0x13, RCA 0x0C000)
TEMP0_ON_DV01 = ("monitor", "request", "--host", "DV01", "--channel", "1", "--node", "0x13", "--rca", "0x0C000")


def test_monitor_request_decodes_with_the_catalog(run, cat):
    r = run(*TEMP0_ON_DV01, "-f", "json")
    assert r.exit_code == 0, r.output
    (row,) = as_json(r)
    assert row["antenna"] == "DV01"
    assert row["error"] is None
    assert len(row["raw"].split()) == 5  # float + FEMC status byte
    assert row["point"] is not None and row["unit"] == "K"
    assert 1.0 < row["value"] < 400.0


def test_monitor_request_by_ip_and_port_and_interpret(run, sim):
    ep = sim.array["DV02"]
    r = run("monitor", "request", "--host", ep.host, "--port", str(ep.port), "--channel", "5", "--node", "0x16",
            "--rca", "0x0E", "--interpret", ">f", "-f", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    (row,) = as_json(r)
    assert row["antenna"] == "DV02"  # an address the host map knows shows its antenna
    assert isinstance(row["interpreted"], float) and 0 < row["interpreted"] < 120


def test_monitor_request_plain_table_when_piped(run):
    r = run(*TEMP0_ON_DV01)
    assert r.exit_code == 0
    assert "\x1b[" not in r.stdout  # no colour codes into a pipe
    assert "DV01" in r.stdout and "raw" in r.stdout and "…" not in r.stdout


def test_monitor_request_e2c_error_exit_1(run, sim):
    sim.fault("DV01", "error", code=5002, node=0x13)
    r = run(*TEMP0_ON_DV01, "-f", "json")
    assert r.exit_code == EXIT_PARTIAL
    assert as_json(r)[0]["error"].startswith("E2C:TIMEOUT_ERROR")
    assert "TIMEOUT_ERROR" in r.stderr


def test_monitor_request_host_down_exit_3(run, sim):
    sim.fault("DV01", "down")
    r = run(*TEMP0_ON_DV01, "--timeout", "0.3")
    assert r.exit_code == EXIT_NOTHING
    assert "Traceback" not in r.output


BAD_MONITOR = [
    (["--channel", "zz", "--node", "0x13", "--rca", "0x0C000"], "--channel 'zz' is not a number"),
    (["--channel", "0xG1", "--node", "0x13", "--rca", "0x0C000"], "is not a number"),
    (["--channel", "6", "--node", "0x13", "--rca", "0x0C000"], "--channel 6 is out of range"),
    (["--channel", "-1", "--node", "0x13", "--rca", "0x0C000"], "out of range"),
    (["--channel", "1", "--node", "0x800", "--rca", "0x0C000"], "--node 0x800 is out of range"),
    (["--channel", "1", "--node", "0x13", "--rca", "0x40000"], "--rca 0x40000 is out of range"),
    (["--channel", "1", "--node", "0x13"], "missing --rca"),
    (["--channel", "1", "--node", "0x13", "--rca", "1", "--interpret", "Q!x"], "--interpret"),
    (["--channel", "1", "--node", "0x13", "--rca", "1", "--format", "xml"], "--format 'xml'"),
    (
        ["--channel", "1", "--node", "0x13", "--rca", "1", "--timeout", "0"],
        "--timeout must be a positive number of seconds",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_MONITOR)
def test_monitor_request_bad_input(run, args, message):
    r = run("monitor", "request", "--host", "DV01", *args)
    assert r.exit_code == EXIT_BAD_INPUT
    assert message in one_line_error(r)
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("host", "message"),
    [("DV99", "unknown antenna 'DV99'"), ("dv25-e2c", "unknown antenna"), (None, "missing --host")],
)
def test_monitor_request_unknown_or_missing_host(run, host, message):
    args = ["monitor", "request", "--channel", "1", "--node", "0x13", "--rca", "0x0C000"]
    if host:
        args += ["--host", host]
    r = run(*args)
    assert r.exit_code == EXIT_BAD_INPUT
    assert message in one_line_error(r)


def test_monitor_nodes(run):
    r = run("monitor", "nodes", "--host", "DV01", "-f", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["antenna"] for row in rows} == {"DV01"}
    lrus = {row["lru"] for row in rows}
    assert {"FEMC", "CMPR"} <= lrus
    assert all(len(row["esn"].removeprefix("0x")) == 16 for row in rows)


@pytest.mark.parametrize("group", ["monitor", "tools"])
def test_temperature(run, group):
    r = run(
        group, "temperature", "--host", "DV01", "--channel", "1", "--node", "0x13", "-f", "json"
    )
    assert r.exit_code == 0, r.output
    (row,) = as_json(r)
    assert row["lru"] == "FEMC"
    assert -20 < row["temperature_C"] < 80


def test_temperature_bad_node(run):
    r = run("tools", "temperature", "--host", "DV01", "--channel", "1", "--node", "4096")
    assert r.exit_code == EXIT_BAD_INPUT
    assert "--node 4096 is out of range" in one_line_error(r)


# -- tools ----------------------------------------------------------------------------------


def test_tools_cryo_all_concurrent(run, cat, sim):
    r = run("tools", "cryo", "--all", "-f", "json")
    assert r.exit_code == 0, r.output
    rows = as_json(r)
    assert [row["antenna"] for row in rows] == sim.antennas
    cryo = [p.name for p in cat.resolve("cryo")]
    assert set(cryo) <= set(rows[0])
    assert all(row["error"] is None for row in rows)


def test_tools_cryo_one_host_table(run):
    r = run("tools", "cryo", "--host", "DV02")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()  # one host: field/value lines, every point whole
    assert lines[0].split() == ["field", "value"]
    assert lines[2].split() == ["antenna", "DV02"]
    # cryo mixes FEMC, FEPS and FETIM points (issue 23): the names keep their LRU
    assert any(ln.startswith("FEMC.TEMP0 [K]") for ln in lines)
    assert any(ln.startswith("FEMC.VACUUM_GAUGE") and ln.split()[-1] in ("ON", "OFF") for ln in lines)
    assert any(ln.startswith("FEPS.OUTPUT_STATE") and ln.split()[-1] == "ON" for ln in lines)


def test_tools_cmpr_uses_the_family_channel(run):
    r = run("tools", "cmpr", "--all", "-f", "json")
    assert r.exit_code == 0, r.output
    rows = {row["antenna"]: row for row in as_json(r)}
    assert set(rows) == set(ANTENNAS)
    assert all(row["error"] is None for row in rows.values())  # CM/PM on channel 3, DA/DV on 2


def test_tools_revision(run, sim):
    r = run("tools", "revision", "--all", "-f", "json")
    assert r.exit_code == 0, r.output
    rows = as_json(r)
    assert [row["antenna"] for row in rows] == sim.antennas  # the active map only, no central hosts
    texts = [
        v for v in rows[0].values() if isinstance(v, str) and v.count(".") == 2 and v[0].isdigit()
    ]
    assert texts, rows[0]


def test_tools_host_and_all_are_exclusive(run):
    r = run("tools", "cryo", "--host", "DV01", "--all")
    assert r.exit_code == EXIT_BAD_INPUT
    assert "not both" in one_line_error(r)
    r = run("tools", "cmpr")
    assert r.exit_code == EXIT_BAD_INPUT
    assert "--host" in one_line_error(r)


def test_tools_cryo_partial_and_total_failure(run, sim):
    sim.fault("DV02", "down")
    r = run("tools", "cryo", "--all", "-f", "csv", "--timeout", "0.3")
    assert r.exit_code == EXIT_PARTIAL
    rows = {row["antenna"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert rows["DV02"]["error"].startswith("refused")
    assert rows["DV01"]["error"] == ""
    assert "DV02" in r.stderr
    for a in ANTENNAS:
        sim.fault(a, "down")
    r = run("tools", "cryo", "--all", "-f", "csv", "--timeout", "0.3")
    assert r.exit_code == EXIT_NOTHING


def test_tools_silent_antenna_costs_one_deadline(run, sim):
    import time

    sim.fault("DA41", "silent")
    t0 = time.monotonic()
    r = run("tools", "cryo", "--all", "-f", "json", "--timeout", "0.3", "--deadline", "0.8")
    assert time.monotonic() - t0 < 3.0
    assert r.exit_code == EXIT_PARTIAL
    rows = {row["antenna"]: row for row in as_json(r)}
    assert rows["DA41"]["error"] and rows["DV01"]["error"] is None


# -- sweep ------------------------------------------------------------------------------------


def test_sweep_family_json(run):
    r = run("sweep", "cryo", "--antennas", "DV", "-f", "json")
    assert r.exit_code == 0, r.output
    assert [row["antenna"] for row in as_json(r)] == ["DV01", "DV02"]


def test_sweep_points_list_and_tidy_csv(run, cat):
    names = [p.name for p in cat.resolve("cryo")][:2]
    r = run("sweep", ",".join(names), "--antennas", "DV01,CM01", "--tidy", "-f", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 4
    assert {
        "time",
        "antenna",
        "point",
        "value",
        "text",
        "unit",
        "status",
        "limit",
        "error",
        "raw",
        "latency_ms",
    } <= set(rows[0])


def test_sweep_parquet_to_file(run, env):
    import pyarrow.parquet as pq

    out = env / "cmpr.parquet"
    r = run("sweep", "cmpr", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    t = pq.read_table(out)
    assert t.num_rows == len(ANTENNAS)
    assert "antenna" in t.column_names


def test_sweep_csv_file_by_suffix(run, env):
    out = env / "cryo.csv"
    r = run("sweep", "cryo", "-o", str(out))
    assert r.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(ANTENNAS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchgroup"], "nosuchgroup"),
        (["cryo", "--antennas", "DV99"], "DV99"),
        (["cryo", "--antennas", "XX"], "XX"),
        (["cryo", "--timeout", "-1"], "--timeout"),
        (["cryo", "--deadline", "0"], "--deadline"),
        (["cryo", "--format", "yaml"], "--format"),
    ],
)
def test_sweep_bad_input(run, args, message):
    r = run("sweep", *args)
    assert r.exit_code == EXIT_BAD_INPUT
    assert message in one_line_error(r)


# -- nodes and points ----------------------------------------------------------------------------


def test_nodes_and_inventory(run):
    r = run("nodes", "--antennas", "DV01,CM01", "-f", "json")
    assert r.exit_code == 0, r.output
    rows = as_json(r)
    assert {row["antenna"] for row in rows} == {"DV01", "CM01"}
    r = run("nodes", "--antennas", "DV01", "--inventory", "--all", "-f", "json")
    assert r.exit_code == 0, r.output
    states = {row["state"] for row in as_json(r)}
    assert "ok" in states
    r = run("nodes", "--antennas", "DV01", "--inventory", "-f", "json")
    assert r.exit_code == 0 and as_json(r) == [], "only the LRUs not as expected, unless --all"
    assert "as expected" in r.stderr and "1 antennas: 1 ok" in r.stderr


def test_nodes_unknown_antenna(run):
    r = run("nodes", "--antennas", "ZZ01")
    assert r.exit_code == EXIT_BAD_INPUT
    one_line_error(r)


def test_points(run, cat):
    r = run("points", "-f", "json")
    assert r.exit_code == 0
    assert len(as_json(r)) == len(
        list(cat.points.values() if isinstance(cat.points, dict) else cat.points)
    )
    r = run("points", "cryo", "-f", "json")
    assert {row["name"] for row in as_json(r)} == {p.name for p in cat.resolve("cryo")}
    r = run("points", "--groups", "-f", "json")
    assert {"cryo", "cmpr", "revision"} <= {row["group"] for row in as_json(r)}
    r = run("points")
    # a table wider than the output comes in column groups, each titled, the name repeated
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines[0].startswith("catalog points") and lines[1].split()[0] == "name"


def test_points_unknown_group(run):
    r = run("points", "nosuchgroup")
    assert r.exit_code == EXIT_BAD_INPUT
    assert "nosuchgroup" in one_line_error(r)


# -- control --------------------------------------------------------------------------------------


CONTROL = [
    "control",
    "request",
    "--host",
    "DV01",
    "--channel",
    "0",
    "--node",
    "0x22",
    "--rca",
    "0x00082",
    "--data",
    "0x01",
]


def audit_lines(env):
    path = env / "audit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_control_refused_without_yes_and_terminal(run, env, sim):
    before = sim.requests_served("DV01")
    r = run(*CONTROL)
    assert r.exit_code == EXIT_REFUSED
    assert "refused" in r.stderr
    assert (
        "DV01" in r.stderr and "0x00082" in r.stderr and "0x01" in r.stderr
    )  # it said what it would do
    assert sim.requests_served("DV01") == before  # nothing sent
    (entry,) = audit_lines(env)
    assert entry["outcome"] == "refused"
    assert entry["target"]["antenna"] == "DV01" and entry["data"] == "0x01"
    assert {"time", "user", "host", "target", "data", "outcome"} <= set(entry)


def test_control_with_yes_is_sent_and_audited(run, env, sim):
    before = sim.requests_served("DV01")
    r = run(*CONTROL, "--yes", "-f", "json")
    assert r.exit_code == 0, r.output
    assert as_json(r)[0]["outcome"] == "sent"
    assert sim.requests_served("DV01") == before + 1
    intent, entry = audit_lines(env)  # the intent, on disk before the send, then the outcome
    assert intent["outcome"] == "intent" and entry["outcome"] == "sent"
    assert intent["id"] == entry["id"] and intent["via"] == "cli"
    ep = sim.array["DV01"]
    assert entry["host"] == f"{ep.host}:{ep.port}"  # where it went (in memory: the endpoint's label)


def test_control_states_lru_and_point(run, cat):
    r = run(*CONTROL)
    assert "LORR" in r.stderr


def test_control_prompt_declined(run, env, monkeypatch):
    import e2ckit.cli.control as control

    monkeypatch.setattr(control, "_can_confirm", lambda: True)
    r = run(*CONTROL, input="n\n")
    assert r.exit_code == EXIT_REFUSED
    assert audit_lines(env)[0]["outcome"] == "declined"
    r = run(*CONTROL, input="y\n")
    assert r.exit_code == EXIT_OK
    assert [e["outcome"] for e in audit_lines(env)[1:]] == ["intent", "sent"]


def test_control_e2c_error_is_audited(run, env, sim):
    sim.fault("DV01", "error", code=5014)
    r = run(*CONTROL, "--yes")
    assert r.exit_code == EXIT_PARTIAL
    assert [e["outcome"] for e in audit_lines(env)] == ["intent", "e2c-error"]
    assert "WRITE_PERM_DENIED" in audit_lines(env)[1]["detail"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("0x60 0x64 0x48 0x44 1 2 3 4 5", "at most 8"),
        ("0x1FF", "out of range"),
        ("0xZZ", "not a number"),
        ("", "missing --data"),
    ],
)
def test_control_bad_data(run, env, data, message):
    args = CONTROL[:-1] + [data, "--yes"]
    r = run(*args)
    assert r.exit_code == EXIT_BAD_INPUT
    assert message in one_line_error(r)
    assert audit_lines(env) == []  # nothing to send, nothing to log


def test_control_bad_channel(run):
    r = run(
        "control",
        "request",
        "--host",
        "DV01",
        "--channel",
        "7",
        "--node",
        "0x22",
        "--rca",
        "0x82",
        "--data",
        "1",
    )
    assert r.exit_code == EXIT_BAD_INPUT
    one_line_error(r)


def test_control_unwritable_audit_log_sends_nothing(run, env, sim, monkeypatch):
    (env / "blocker").write_text("a file, not a folder")
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(env / "blocker" / "audit.jsonl"))
    before = sim.requests_served("DV01")
    r = run(*CONTROL, "--yes")
    assert r.exit_code == EXIT_BAD_INPUT
    assert "audit log" in one_line_error(r)
    assert sim.requests_served("DV01") == before


def test_audit_default_path(monkeypatch, tmp_path):
    from e2ckit import audit

    monkeypatch.delenv("E2CKIT_AUDIT_LOG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert audit.audit_path() == tmp_path / "e2ckit" / "control-audit.jsonl"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert str(audit.audit_path()).endswith(".local/state/e2ckit/control-audit.jsonl")


# -- simulation ------------------------------------------------------------------------------------


def test_global_simulate_runs_against_an_embedded_array(run, sim):
    from e2ckit.array import default_array

    before = default_array()
    r = run("--simulate", "sweep", "cryo", "--antennas", "DV01,PM04", "-f", "json")
    assert r.exit_code == 0, r.output
    assert [row["antenna"] for row in as_json(r)] == [
        "DV01",
        "PM04",
    ]  # PM04 is not in the module's array
    assert "simulating 66 antennas" in r.stderr
    assert default_array() is before  # restored: the module's array again


def test_global_array_option(run, served_twin, env):
    # a map on the command line wins over the array this process has (active_sim)
    path = env / "two.csv"
    path.write_text(
        "antenna,host,port\n"
        + "".join(f"{a},{served_twin.array[a].host},{served_twin.array[a].port}\n" for a in ("DV01", "CM01"))
    )
    r = run("--array", str(path), "tools", "cryo", "--all", "-f", "json")
    assert r.exit_code == 0, r.output
    assert [row["antenna"] for row in as_json(r)] == ["DV01", "CM01"]
    r = run("--array", str(env / "missing.csv"), "version")
    assert r.exit_code == EXIT_BAD_INPUT


def test_simulate_command(run, env):
    out = env / "sim.csv"
    r = run(
        "simulate",
        "--antennas",
        "DV01,CM",
        "--duration",
        "0.2",
        "--write-array",
        str(out),
        "--seed",
        "3",
        "-f",
        "csv",
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 13 and {r["antenna"] for r in rows} >= {"DV01", "CM12"}
    assert out.read_text().startswith("antenna,host,port")


def test_simulate_bad_input(run):
    for args, msg in (
        (["--bind", "wire"], "--bind"),
        (["--antennas", "XX01"], "XX01"),
        (["--rate", "0"], "--rate"),
    ):
        r = run("simulate", "--duration", "0", *args)
        assert r.exit_code == EXIT_BAD_INPUT, args
        assert msg in one_line_error(r)
    r = run("--simulate", "simulate", "--duration", "0")
    assert r.exit_code == EXIT_BAD_INPUT


def test_simulate_list_scenarios(run):
    r = run("simulate", "--list-scenarios", "-f", "json")
    assert r.exit_code == 0
    assert "outage" in {row["scenario"] for row in as_json(r)}


def test_log_command_is_registered(run):
    r = run("log", "--help")
    assert r.exit_code == 0


def test_tools_on_a_bare_address(run, served_twin, tmp_path, monkeypatch):
    ep = served_twin.array["CM01"]  # a host:port (this module's array served on loopback)
    only_dv01 = tmp_path / "dv01.csv"
    only_dv01.write_text(f"antenna,host,port\nDV01,{served_twin.array['DV01'].host},{served_twin.array['DV01'].port}\n")
    monkeypatch.setenv("E2CKIT_ARRAY", str(only_dv01))  # CM01's address is no antenna of this map
    r = run("tools", "revision", "--host", ep.host, "--port", str(ep.port), "-f", "json")
    assert r.exit_code == 0, r.output
    assert as_json(r)[0]["antenna"] == "127.0.0.1"
    r = run("tools", "cmpr", "--host", ep.host, "--port", str(ep.port))
    assert r.exit_code == EXIT_BAD_INPUT
    assert "--channel" in one_line_error(r)
    r = run(
        "tools", "cmpr", "--host", ep.host, "--port", str(ep.port), "--channel", "3", "-f", "json"
    )
    assert r.exit_code == 0, r.output
    assert as_json(r)[0]["error"] is None


def test_global_simulate_takes_a_seed_and_a_scenario(run):
    r = run("--simulate", "--sim-scenario", "missing-lru", "nodes", "--inventory", "--antennas", "DV08,DV09", "-f", "json")
    assert r.exit_code == EXIT_ALARM, r.output  # a missing LRU: an antenna in alarm
    assert "scenario missing-lru" in r.stderr
    off = [(row["antenna"], row["lru"], row["state"]) for row in as_json(r) if row["state"] != "ok"]
    assert off == [("DV08", "FEPS", "missing")], off
    a = run("--simulate", "--sim-seed", "5", "sweep", "FEMC.TEMP0", "--antennas", "DV01", "-f", "json")
    b = run("--simulate", "--sim-seed", "6", "sweep", "FEMC.TEMP0", "--antennas", "DV01", "-f", "json")
    assert "seed 5" in a.stderr and a.exit_code == b.exit_code == 0
    assert as_json(a)[0]["FEMC.TEMP0"] != as_json(b)[0]["FEMC.TEMP0"], "another seed, another array"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sim-scenario", "no-such-thing", "--simulate"], "no scenario 'no-such-thing'"),
        (["--sim-seed", "3"], "add --simulate"),
        (["--sim-scenario", "outage"], "add --simulate"),
    ],
)
def test_global_simulate_options_bad_input(run, args, message):
    r = run(*args, "version")
    assert r.exit_code == EXIT_BAD_INPUT
    assert message in one_line_error(r)


def test_an_address_the_map_knows_shows_its_antenna(run, sim):
    """--host IP --port P of an antenna in the host map is that antenna: its name in the
    output, and the compressor's channel known (CM: 3) without --channel."""
    ep = sim.array["CM01"]
    r = run("tools", "cmpr", "--host", ep.host, "--port", str(ep.port), "-f", "json")
    assert r.exit_code == 0, r.output
    (row,) = as_json(r)
    assert row["antenna"] == "CM01" and row["error"] is None


# -- issue 25 item 8: rough edges ------------------------------------------------------------


@pytest.mark.parametrize("args, says", [
    (["sweep", "cryo", "--timeout", "-1"], "--timeout"),
    (["sweep", "cryox"], "cryox"),
    (["nodes", "--antennas", "DV99"], "DV99"),
    (["sweep", "cryo", "--antennas", "ZZ01"], "ZZ01"),
    (["monitor", "request", "--host", "DV01", "--channel", "9", "--node", "0x13", "--rca", "0x0C000"], "--channel"),
])  # fmt: skip
def test_bad_options_are_refused_before_the_simulated_array_starts(run, args, says):
    r = run("--simulate", *args)
    assert r.exit_code == EXIT_BAD_INPUT
    assert "simulating" not in r.stderr, "66 simulated E2Cs started before a bad option was refused"
    assert says in one_line_error(r)


def test_messages_name_the_simulated_array_not_its_temporary_file(run):
    r = run("--simulate", "monitor", "request", "--host", "DV99", "--channel", "1", "--node", "0x13", "--rca", "0x0C000")
    assert r.exit_code == EXIT_BAD_INPUT
    assert "the --simulate array" in r.stderr and "/tmp" not in r.stderr and "array.csv" not in r.stderr


def test_wide_csv_keeps_numbers_numeric_and_enums_as_labels(run):
    r = run("sweep", "cryo,cmpr", "--antennas", "DV01", "-f", "csv")
    assert r.exit_code == 0, r.stderr
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    float(row["FEMC.TEMP0"])  # a number
    assert row["CMPR.ECU_TYPE"] in ("EUROPEAN", "JAPANESE"), row["CMPR.ECU_TYPE"]  # a label, not 0.0
    assert row["FEMC.BACKING_PUMP"] in ("ON", "OFF")
    for point, cell in row.items():
        if point.endswith(".note") or point in ("antenna", "error") or not cell:
            continue
        if point in ("CMPR.SW_REV",):
            continue
        try:
            float(cell)
        except ValueError:
            assert cell.isupper() and ":" not in cell, f"{point}: text {cell!r} in a value column"
    blocked = [p for p, v in row.items() if p.endswith(".note") and v.startswith("blocked")]
    assert blocked and all(row[p[: -len(".note")]] == "" for p in blocked)


def test_wide_parquet_columns_are_typed(run, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "cryo.parquet"
    r = run("sweep", "cryo,cmpr", "--antennas", "DV01,CM01", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    schema = pq.read_table(out).schema
    assert str(schema.field("FEMC.TEMP0").type) == "double"
    assert str(schema.field("CMPR.ECU_TYPE").type) == "string"
    assert str(schema.field("FEMC.TURBO_PUMP.note").type) == "string"


def test_log_help_says_run_is_the_default(run):
    r = run("log", "--help")
    assert "`run` is the default" in " ".join(r.stdout.split())


def test_progress_names_the_antennas_still_awaited():
    from e2ckit.cli.reading import awaited_text

    assert awaited_text(["DV03", "DV07"]) == "DV03, DV07"
    assert awaited_text([f"DV{i:02d}" for i in range(1, 10)]) == "DV01, DV02, DV03, DV04 +5"


# -- issue 25 item 1: summaries, --problems, one exit table ------------------------------------


def test_array_wide_outputs_end_with_a_summary_counted_from_limit_and_error(run, sim):
    sim.fault("DV02", "down")
    sim.fault("PM01", "error", code=5002)
    r = run("sweep", "cryo", "-f", "csv")
    assert r.exit_code == EXIT_PARTIAL, r.stderr
    assert r.stderr.splitlines()[-1] == "e2ckit: 5 antennas: 3 ok, 1 unknown, 1 silent"
    r = run("tools", "cryo", "--all", "-f", "csv")
    assert r.stderr.splitlines()[-1] == "e2ckit: 5 antennas: 3 ok, 1 unknown, 1 silent"
    r = run("nodes", "-f", "csv")
    assert r.stderr.splitlines()[-1].startswith("e2ckit: 5 antennas: ")
    assert "1 silent" in r.stderr.splitlines()[-1]


def test_problems_keeps_only_the_antennas_that_are_not_ok(run, sim):
    sim.fault("DV02", "down")
    r = run("sweep", "cryo", "--problems", "-f", "json")
    assert [row["antenna"] for row in as_json(r)] == ["DV02"]
    r = run("sweep", "cryo", "--problems", "--tidy", "-f", "json")
    assert {row["antenna"] for row in as_json(r)} == {"DV02"} and all(row["error"] for row in as_json(r))
    r = run("tools", "cryo", "--all", "--problems", "-f", "json")
    assert [row["antenna"] for row in as_json(r)] == ["DV02"]
    r = run("tools", "power", "--all", "--problems", "-f", "json")
    assert [row["antenna"] for row in as_json(r)] == ["DV02"]
    r = run("nodes", "--problems", "-f", "json")
    assert {row["antenna"] for row in as_json(r)} == {"DV02"}


def test_a_sweep_with_an_antenna_in_alarm_exits_6(run):
    """The one exit table (cli/options.exit_status_of): alarm → 6, as `check`."""
    r = run("--simulate", "--sim-outage", "DV01", "--sim-advance", "4h", "sweep", "cryo", "-a", "DV01,DV02", "-f", "csv")
    assert r.exit_code == EXIT_ALARM, r.stderr
    assert r.stderr.splitlines()[-1] == "e2ckit: 2 antennas: 1 ok, 1 alarm"
    r = run("--simulate", "sweep", "cryo", "-a", "DV01,DV02", "-f", "csv")
    assert r.exit_code == EXIT_OK


# -- issue 25 items 2 and 3: expected states look expected; whole causes -----------------------


def test_a_reading_in_its_expected_state_is_explained_not_flagged(run):
    """The turbo reads blocked (-3) while the backing pump is off: the legend says it is
    expected and why; the cell carries no warn/alarm/error marker."""
    r = run("sweep", "FEMC.BACKING_PUMP,FEMC.TURBO_PUMP", "-a", "DV01")
    assert r.exit_code == 0, r.stderr
    legend = " ".join(r.stdout.split())
    assert "expected TURBO_PUMP: reads blocked (-3) because the backing pump is off; the expected state, not a fault" in legend
    cells = next(ln for ln in r.stdout.splitlines() if ln.startswith("DV01")).split()
    assert "!" not in cells and "!!" not in cells and "x" not in cells


def _outage_check(run, *extra: str, columns: int):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(
        app, ["--simulate", "--sim-outage", "DV01", "--sim-advance", "4h", "check", "DV01", *extra],
        catch_exceptions=False,
    )  # fmt: skip


@pytest.mark.parametrize("columns", [80, 120])
def test_check_wraps_whole_causes_within_the_width(run, columns):
    r = _outage_check(run, columns=columns)
    assert r.exit_code == 6, r.stderr
    assert "…" not in r.stdout
    assert all(len(line) <= columns for line in r.stdout.splitlines()), r.stdout
    wide = _outage_check(run, "--wide", columns=columns)
    causes = [ln for ln in wide.stdout.splitlines() if ln.startswith("  ")]
    def words(text: str) -> str:  # the simulated temperatures move between the two runs
        return re.sub(r"\d", "#", " ".join(text.split()))

    assert words(r.stdout) == words(wide.stdout), "the same words, only wrapped"
    assert any(len(ln) > columns for ln in causes) or columns == 120, "--wide: one line per cause"


def test_progress_on_a_terminal_names_the_antenna_still_awaited(served_twin, tmp_path):
    """On a terminal the progress bar says which antenna the sweep waits for (here one
    whose E2C accepts and never answers), not the last one that answered."""
    import socket
    import sys
    import threading

    sys.path.insert(0, os.path.dirname(__file__))
    from simhelpers import cli_on_a_terminal

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])  # accepted, never answered
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    hosts = tmp_path / "array.csv"
    dv01 = served_twin.array["DV01"]  # a child process: the module's array on loopback
    hosts.write_text(f"antenna,host,port\nDV01,{dv01.host},{dv01.port}\nDV02,127.0.0.1,{silent.getsockname()[1]}\n")
    env = dict(os.environ, E2CKIT_ARRAY=str(hosts))
    env.pop("COLUMNS", None)
    try:
        # DV02's 0.8 s timeout: the bar (10 refreshes a second) shows it awaited several times
        code, err_text = cli_on_a_terminal(["sweep", "cryo", "--timeout", "0.8", "--deadline", "1.2"], env,
                                           stream="stderr", size=(120, 40))  # fmt: skip
    finally:
        stop.set()
        t.join(timeout=5)
        for c in held:
            c.close()
        silent.close()
    assert code == EXIT_PARTIAL
    assert "waiting for DV02" in err_text and "waiting for DV01" not in err_text.split("1/2")[-1]
