"""e2ckit as a true drop-in for the published e2c-client 0.2.2 (installed by the test extra).

* every option of every e2c-client command, read from e2c-client's own ``--help``
  pages, is accepted by the same e2ckit command (with e2c-client's meaning);
* ``--format e2c`` prints byte for byte what e2c-client prints for the same reply: both
  run against the same simulated E2C on loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from e2ckit.cli import app

E2C_CLIENT = shutil.which("e2c-client", path=os.path.dirname(sys.executable)) or shutil.which("e2c-client")


# conftest's `sim` on loopback, reached through E2CKIT_ARRAY (array_csv); a stepped clock:
# the simulated readings hold still between the two clients' requests
pytestmark = pytest.mark.sim_array(["DV01", "CM01"], seed=7)


@pytest.fixture(autouse=True)
def _env(sim, array_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    sim.clear_faults()


# -- e2c-client's --help trees --------------------------------------------------------------


def _published_app():
    from e2c_client.__main__ import app as published

    return published


def _help(application, path: list[str]) -> str:
    r = CliRunner().invoke(application, [*path, "--help"], env={"COLUMNS": "250", "TERM": "dumb"})
    assert r.exit_code == 0, r.output
    return r.output


def _commands(help_text: str) -> list[str]:
    """Command names listed under 'Commands' in a typer help page."""
    if "Commands" not in help_text:
        return []
    block = help_text.split("Commands", 1)[1]
    return re.findall(r"^[│| ]\s+([a-z][a-z-]*)\s", block, flags=re.M)


def _options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text)) - {"--help"}


def published_tree() -> dict[tuple[str, ...], set[str]]:
    """Every command path of e2c-client, from its help pages, with the options its help lists."""
    published = _published_app()
    tree: dict[tuple[str, ...], set[str]] = {}
    todo: list[list[str]] = [[]]
    while todo:
        path = todo.pop()
        text = _help(published, path)
        subs = _commands(text)
        if subs:
            todo.extend([*path, s] for s in subs)
        else:
            tree[tuple(path)] = _options(text)
    return tree


def test_every_e2c_client_option_is_accepted():
    tree = published_tree()
    assert ("monitor", "request") in tree and ("tools", "cmpr") in tree and ("control", "request") in tree
    assert "--no-show-errors" in tree[("tools", "cryo")] and "--interpret" in tree[("monitor", "request")]
    ours = typer.main.get_command(app)
    missing = []
    for path, options in tree.items():
        cmd = ours
        for name in path:
            cmd = cmd.commands[name]  # every e2c-client command exists in e2ckit
        names = {o for p in cmd.params for o in (*p.opts, *getattr(p, "secondary_opts", []))}
        missing += [f"{' '.join(path)} {o}" for o in sorted(options - names)]
    assert not missing, f"e2c-client options e2ckit refuses: {missing}"


@pytest.mark.parametrize("command", ["cryo", "cmpr", "power"])
def test_no_show_errors_hides_the_error_column(command):
    run = CliRunner().invoke
    shown = run(app, ["tools", command, "--host", "DV01", "-f", "csv", "--show-errors"], catch_exceptions=False)
    hidden = run(app, ["tools", command, "--host", "DV01", "-f", "csv", "--no-show-errors"], catch_exceptions=False)
    assert shown.exit_code == 0 and hidden.exit_code == 0, (shown.stderr, hidden.stderr)
    assert "error" in shown.stdout.splitlines()[0].split(",")
    assert "error" not in hidden.stdout.splitlines()[0].split(",")


# -- --format e2c, byte for byte ------------------------------------------------------------

FEMC = ["--channel", "1", "--node", "0x13"]
SAME_REPLY = [
    ["monitor", "request", *FEMC, "--rca", "0x0C000"],
    ["monitor", "request", *FEMC, "--rca", "0x0C000", "--interpret", ">fB"],
    ["monitor", "request", *FEMC, "--rca", "0x0C000", "--interpret", ">f"],  # does not fit: both say so
    ["monitor", "request", "--channel", "0", "--node", "0x50", "--rca", "0x0C000"],  # an E2C error reply
    ["monitor", "request", *FEMC, "--rca", "0x0C000", "--verbose"],
    ["monitor", "nodes"],
    ["monitor", "nodes", "--verbose"],
    ["tools", "temperature", *FEMC],
    ["tools", "temperature", "--channel", "CMPR", "--node", "37"],  # the compressor: 2 on DV, 3 on CM
    ["tools", "revision"],
    ["control", "request", *FEMC, "--rca", "0x1C000", "--data", "0x01"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", SAME_REPLY, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("antenna", ["DV01", "CM01"])
def test_format_e2c_prints_what_e2c_client_prints(sim, args, antenna):
    assert E2C_CLIENT, "the published e2c-client is installed with the test extras"
    ep = sim.array[antenna]
    where = ["--host", ep.host, "--port", str(ep.port)]
    args = [("2" if antenna.startswith("DV") else "3") if a == "CMPR" else a for a in args]
    published = subprocess.run([E2C_CLIENT, *args, *where], capture_output=True, text=True, timeout=60)
    assert published.returncode == 0 and published.stdout, published.stderr
    extra = ["--yes"] if args[0] == "control" else []
    ours = CliRunner().invoke(app, [*args, *where, *extra, "--format", "e2c"], catch_exceptions=False)
    assert ours.stdout == published.stdout
    failed = published.stdout.startswith("Error: 5") or "Error retrieving" in published.stdout
    assert ours.exit_code == (1 if failed else 0), ours.stderr


def test_format_e2c_on_a_dead_host_is_one_error_line_and_exit_3(sim):
    r = CliRunner().invoke(app, ["monitor", "request", "--host", "127.0.0.1", "--port", "1", *FEMC,
                                 "--rca", "0x0C000", "--format", "e2c"], catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 3
    assert r.stdout.startswith("Error: ") and r.stdout.count("\n") == 1


def test_format_e2c_is_refused_where_e2c_client_prints_no_such_text():
    r = CliRunner().invoke(app, ["sweep", "cryo", "--format", "e2c"], catch_exceptions=False)
    assert r.exit_code == 2 and "--format e2c" in r.stderr and "monitor request" in r.stderr


def test_format_e2c_temperature_of_an_absent_node_says_the_e2c_error(sim):
    """Where e2c-client is wrong (README): it decodes the empty data of an error reply
    and prints ``Error: unpack requires a buffer of 4 bytes``; e2ckit prints the E2C's error."""
    r = CliRunner().invoke(app, ["tools", "temperature", "--host", "CM01", "--channel", "2", "--node", "37",
                                 "--format", "e2c"], catch_exceptions=False)  # fmt: skip
    assert r.stdout == "Error: 5002  (CAN Bus Timeout)\n"
    assert r.exit_code == 1


def test_monitor_nodes_host_imports_no_pandas(sim):
    """`monitor nodes --host` stays as light as e2c-client's (benchmarks/bench_cli.py times it)."""
    ep = sim.array["DV01"]
    code = ("import sys; from e2ckit.cli import app\n"
            "try:\n    app(['monitor', 'nodes', '--host', sys.argv[1], '--port', sys.argv[2]], prog_name='e2ckit')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code, ep.host, str(ep.port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
