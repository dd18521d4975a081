"""`--simulate` answers in memory for every command, `monitor` and `control` included: they
reach an endpoint through its own driver (issue 21.1: no sockets where none are needed).
No socket may be opened here: a connect raises."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from e2ckit.cli import app
from e2ckit.cli.options import EXIT_NOTHING

FEMC = ("--channel", "1", "--node", "0x13")  # FEMC on a DV's channel 1
TEMP0 = (*FEMC, "--rca", "0x0C000")  # FEMC.TEMP0, the 4K stage (K)


@pytest.fixture
def run(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))

    def no_sockets(self, address):  # noqa: ANN001
        raise AssertionError(f"a socket connect to {address}: --simulate must answer in memory")

    monkeypatch.setattr(socket.socket, "connect", no_sockets)
    monkeypatch.setattr(socket.socket, "connect_ex", no_sockets)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["--simulate", *args], catch_exceptions=False)

    return invoke


def _audit(tmp_path: Path) -> list[dict]:
    log = tmp_path / "audit.jsonl"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def test_monitor_request_reads_the_simulated_array_in_memory(run) -> None:
    r = run("monitor", "request", "--host", "DV01", *TEMP0, "-f", "json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0] if r.stdout.lstrip().startswith("[") else json.loads(r.stdout)
    assert row["antenna"] == "DV01" and row["error"] is None
    assert 2.0 < row["value"] < 5.0, row  # a cold 4K stage, decoded by the catalog
    assert "simulating 66 antennas in memory" in r.stderr


def test_monitor_nodes_and_its_e2c_text_in_memory(run) -> None:
    r = run("monitor", "nodes", "--host", "DV01", "-f", "json")
    assert r.exit_code == 0, r.output
    lrus = {row["lru"] for row in json.loads(r.stdout)}
    assert {"FEMC", "CMPR", "FEPS"} <= lrus, lrus
    text = run("monitor", "nodes", "--host", "DV01", "--format", "e2c")
    assert text.exit_code == 0 and "Channel: 1, Node id:  0X13" in text.stdout, text.output


def test_an_antenna_in_an_outage_is_a_row_with_an_error_in_memory(run) -> None:
    r = run("--sim-outage", "DV02", "--sim-advance", "1h", "monitor", "request", "--host", "DV02", *TEMP0, "-f", "json")
    assert r.exit_code == EXIT_NOTHING, r.output
    row = json.loads(r.stdout)[0] if r.stdout.lstrip().startswith("[") else json.loads(r.stdout)
    assert row["error"].startswith("refused"), row
    text = run("--sim-outage", "DV02", "--sim-advance", "1h", "monitor", "request", "--host", "DV02", *TEMP0,
               "--format", "e2c")  # fmt: skip
    assert text.exit_code == EXIT_NOTHING and text.stdout.startswith("Error: refused"), text.output


def test_a_control_goes_through_memory_audited(run, tmp_path: Path) -> None:
    r = run("control", "request", "--host", "DV02", "--channel", "1", "--node", "0x13", "--rca", "0x1C034",
            "--data", "0x01", "--yes")  # fmt: skip  (FEMC.SET_BACKING_PUMP on)
    assert r.exit_code == 0, r.output
    assert [e["outcome"] for e in _audit(tmp_path)] == ["intent", "sent"]
    # and while DV02 has no power: its outcome is unknown, audited as such (as over a socket
    # the E2C reset before any reply: a control may have gone out)
    r = run("--sim-outage", "DV02", "--sim-advance", "1h", "control", "request", "--host", "DV02", "--channel", "1",
            "--node", "0x13", "--rca", "0x1C034", "--data", "0x01", "--yes")  # fmt: skip
    assert r.exit_code != 0 and "outcome unknown" in r.stderr, r.output
    assert [e["outcome"] for e in _audit(tmp_path)] == ["intent", "sent", "intent", "unknown"]
