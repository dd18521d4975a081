"""The installed CLI as a real subprocess: start-up imports, pipes, exit codes, the control refusal.

The simulator runs in this test process on 127.0.0.1 (free ports) and the child finds it
through ``E2CKIT_ARRAY``; the child's audit log goes to a tmp path.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest
from simhelpers import cli_on_a_terminal

from e2ckit.dataset import load

HEAVY = ("pandas", "pyarrow", "matplotlib", "ipywidgets")
ANTENNAS = ["DV01", "DV02", "CM01", "PM02"]


# conftest's `sim` on loopback (real-time clock): the child finds it through E2CKIT_ARRAY
pytestmark = pytest.mark.sim_array(ANTENNAS, seed=11, rate=1.0)


@pytest.fixture
def env(sim, array_csv, tmp_path):
    e = dict(os.environ)
    e["E2CKIT_ARRAY"] = str(array_csv)
    e["E2CKIT_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    e.pop("COLUMNS", None)
    sim.clear_faults()
    return e


def e2ckit(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    code = "import sys; from e2ckit.cli import main; sys.argv[0] = 'e2ckit'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args", [["--help"], ["version"], ["tools", "--help"], ["sweep", "--help"]]
)
def test_startup_imports_nothing_heavy(args):
    r, loaded = _run_probing_imports(args)
    assert r.returncode == 0, r.stderr
    assert loaded == ["LOADED="], r.stderr


def _run_probing_imports(args: list[str], env: dict[str, str] | None = None):
    """Run the CLI in a child that reports, at exit, which heavy modules it imported."""
    probe = (
        "import sys, atexit\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: sys.stderr.write('LOADED=' + ','.join(m for m in heavy if m in sys.modules) + '\\n'))\n"
        "from e2ckit.cli import main\n"
        f"sys.argv = ['e2ckit', *{args!r}]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env)
    return r, [ln for ln in r.stderr.splitlines() if ln.startswith("LOADED=")]


@pytest.mark.parametrize(
    "args",
    [["tools", "cryo", "--all"], ["sweep", "cmpr", "--format", "csv"], ["sweep", "cryo", "--tidy", "--format", "json"]],
)
def test_array_sweeps_answer_without_pandas(env, args):
    """The everyday array-wide commands read, decode and print without importing pandas
    (its import alone costs more than sweeping 66 antennas)."""
    r, loaded = _run_probing_imports(args, env)
    assert r.returncode == 0, r.stderr
    assert len([ln for ln in r.stdout.splitlines() if ln.strip()]) > len(ANTENNAS) - 1
    assert loaded == ["LOADED="], r.stderr


def test_cryo_all_piped_is_plain_and_untruncated(env, sim):
    r = e2ckit("tools", "cryo", "--all", env=env)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout and "…" not in r.stdout
    # piped, with no $COLUMNS: laid out in 120 columns, in column groups that each
    # repeat the antenna and its host
    blocks = [b.splitlines() for b in r.stdout.split("\n\n")]
    groups = [b for b in blocks if b[0].startswith("Cryostat status")]
    assert len(groups) > 1 and all(len(ln) <= 120 for ln in r.stdout.splitlines())
    for lines in groups:
        assert lines[1].split()[:2] == ["antenna", "host"]
        assert [ln.split()[0] for ln in lines[3:]] == sim.antennas
        assert len({len(ln) for ln in lines[1:3]}) == 1  # header and rule line up


def test_dead_antenna_gives_exit_1_and_data_still_flows(sim, env):
    sim.fault("CM01", "down")
    r = e2ckit("tools", "cmpr", "--all", "--format", "csv", "--timeout", "0.3", env=env)
    assert r.returncode == 1
    rows = {row["antenna"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert rows["CM01"]["error"].startswith("refused") and rows["DV01"]["error"] == ""
    assert "CM01" in r.stderr and "Traceback" not in r.stderr


def test_bad_input_exit_2_one_line(env):
    r = e2ckit(
        "monitor",
        "request",
        "--host",
        "DV01",
        "--channel",
        "9",
        "--node",
        "0x13",
        "--rca",
        "0xC000",
        env=env,
    )
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "--channel 9 is out of range" in r.stderr
    r = e2ckit("sweep", "nosuchgroup", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0


def test_control_refused_without_a_terminal(sim, env, tmp_path):
    before = sim.requests_served("DV02")
    r = e2ckit("control", "request", "--host", "DV02", "--channel", "0", "--node", "0x22", "--rca", "0x82",
               "--data", "0x01", env=env)  # fmt: skip
    assert r.returncode == 4
    assert "refused" in r.stderr and "LORR" in r.stderr
    assert sim.requests_served("DV02") == before
    (entry,) = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert entry["outcome"] == "refused" and entry["target"]["antenna"] == "DV02"


def test_control_with_yes(sim, env, tmp_path):
    r = e2ckit("control", "request", "--host", "DV02", "--channel", "0", "--node", "0x22", "--rca", "0x82",
               "--data", "0x01", "--yes", "--format", "json", env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["outcome"] == "sent"
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [e["outcome"] for e in lines] == ["intent", "sent"]


def test_main_job_embedded_simulation(env):
    env = dict(env)
    env.pop("E2CKIT_ARRAY")
    r = e2ckit("--simulate", "sweep", "cryo", "--format", "csv", env=env)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 66
    assert all(row["error"] == "" for row in rows)


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "e2ckit")
    if not os.path.exists(exe):
        pytest.skip("console script not installed (pip install -e .)")
    r = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip()


def _in_a_terminal(
    args: list[str], env: dict[str, str], stream: str = "stdout", columns: str | None = "160"
) -> tuple[int, str]:
    """The CLI with ``stream`` on a pseudo-terminal; ``columns=None``: no $COLUMNS, and
    the terminal, never sized, reports 0 columns."""
    term_env = {**env, "COLUMNS": columns or "", "LINES": "40", "TERM": "xterm-256color"}
    if columns is None:
        del term_env["COLUMNS"]
    term_env.pop("NO_COLOR", None)
    return cli_on_a_terminal(args, term_env, stream=stream)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_gets_a_rich_table_with_failures_marked(sim, env):
    """On a terminal the table is drawn by rich: a border, bold headers, a failed reading
    as a dim dash and the antenna's error in red, good readings plain."""
    sim.fault("DV02", "error", code=5002)
    status, out = _in_a_terminal(["sweep", "FEMC.TEMP0", "--antennas", "DV01,DV02"], env)
    assert status == 1, out  # one antenna failed: partial
    assert "┏" in out and "\x1b[1m" in out, "a rich table with bold headers"
    dv01 = next(line for line in out.splitlines() if "DV01" in line)
    dv02 = next(line for line in out.splitlines() if "DV02" in line)
    shown = float(dv01.split("│")[2])
    assert shown == pytest.approx(sim.models["DV01"].peek("FEMC.TEMP0"), abs=0.05)
    assert "\x1b[2m" not in dv01 and "\x1b[31m" not in dv01
    assert "\x1b[2m—" in dv02, "the failed reading: a dim dash"
    assert "\x1b[31m" in dv02 and "5002" in dv02, "the error, in red"


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_log_on_a_terminal_keeps_a_live_status_line_and_names_a_dead_antenna(sim, env, tmp_path):
    """``e2ckit log`` on a terminal redraws one status line in place (carriage return and
    erase-line) with cycles, samples and errors, and prints a line when an antenna goes
    down; the dataset holds what the last status said was written. The terminal here
    reports no size: the line must still be whole (it was once cut to 20 characters)."""
    sim.fault("DV02", "down")
    out_dir = tmp_path / "night"
    # 1.6 s: status lines at 0.5 s and 1 s (1.5 s on a quick machine), then the final erase
    args = ["log", "FEMC.TEMP0", "--antennas", "DV01,DV02", "--interval", "0.25", "--duration", "1.6",
            "--out", str(out_dir)]  # fmt: skip
    status, err = _in_a_terminal(args, env, stream="stderr", columns=None)
    assert status == 0, err
    redraws = err.count("\r\x1b[2K")
    assert redraws >= 3, err
    live = [line for line in err.split("\r\x1b[2K") if " cycles at " in line and " | " in line]
    assert live and "errors" in live[-1] and "1 down (DV02)" in live[-1], repr(err[-600:])
    assert "DV02 down: refused" in err
    stopped = next(line for line in err.splitlines() if "stopped:" in line)
    # every logger message carries the UTC time it was said (a logger runs for days)
    said = [line.split("\r\x1b[2K")[-1] for line in err.splitlines() if "e2ckit: " in line]
    assert said and all(re.search(r"e2ckit: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", line) for line in said), said
    df = load(out_dir)
    assert f"{len(df)} samples" in stopped
    assert set(df.antenna) == {"DV01", "DV02"} and df[df.antenna == "DV02"].error.notna().all()
