"""Terminal tables that never wrap a value (issue #15.1).

Every table-printing command is rendered at 80 and 120 columns: no line is wider than
that, and every value of the command's ``--format json`` output appears whole, in one
cell or in the legend below the table. Piped output is laid out for ``$COLUMNS`` (120
when unset); a real pseudo-terminal of 80 and 120 columns gets the rich table, held to
the same rules. The array is a simulated outage three and a half hours in: two antennas
answer nothing (errors), the ones back from the outage have warm cryostats (alarms).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys

import pytest
import typer.main
import typer.testing
from simhelpers import cli_on_a_terminal
from typer.testing import CliRunner

from e2ckit.cli import app
from e2ckit.cli.output import Table, plain

#: the click command tree of the app, built once for the module: typer's CliRunner rebuilds
#: it on every invoke (10 ms), which is not what these tests are about (a shell builds it
#: once per process too)
CLICK_APP = typer.main.get_command(app)


@pytest.fixture(autouse=True)
def _click_app_built_once(monkeypatch):
    build = typer.testing._get_command
    monkeypatch.setattr(typer.testing, "_get_command", lambda a: CLICK_APP if a is app else build(a))


ANTENNAS = ["DV01", "DV02", "DV03", "DA41", "CM01", "PM01"]
WIDTHS = (80, 120)
MARKS = ("!!", "!")


# conftest's `sim` in memory, the active array of these in-process commands (active_sim):
# 4 h into the outage scenario (back from the outage, cryostats warm: alarms), DV03 down,
# PM01 erring
pytestmark = pytest.mark.sim_array(ANTENNAS, seed=5, scenario="outage", advance=4 * 3600, serve=False,
                                   faults=[("DV03", "down"), ("PM01", "error", {"code": 5002})])  # fmt: skip


@pytest.fixture(autouse=True)
def env(active_sim, tmp_path, monkeypatch):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("COLUMNS", raising=False)


def run(*args: str, columns: int | None = None) -> tuple[int, str]:
    env = {"COLUMNS": str(columns)} if columns else {}
    r = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.stdout


def cells_and_legend(text: str, split: str = r"\s{2,}") -> tuple[set[str], str]:
    """The cells of every table line (markers taken off) and the legend's text."""
    lines = text.splitlines()
    legend_at = next((i for i, ln in enumerate(lines) if ln.startswith("  ") and ln.strip()), len(lines))
    cells: set[str] = set()
    for ln in lines[:legend_at]:
        for c in re.split(split, ln.strip()):
            c = c.strip()
            for m in MARKS:
                if c.endswith(" " + m):
                    c = c[: -len(m) - 1]
            if c.startswith("x "):
                cells.add(c[2:])
            cells.add(c)
    legend = " ".join(" ".join(ln.split()) for ln in lines[legend_at:])
    return cells, legend


def display(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).replace("\n", "; ")


def assert_whole(text: str, values, width: int, split: str = r"\s{2,}") -> None:
    assert text.strip(), "nothing printed"
    too_wide = [ln for ln in text.splitlines() if len(ln) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[0]!r}"
    cells, legend = cells_and_legend(text, split)
    for v in values:
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
            continue
        shown = display(v)
        assert shown in cells or " ".join(shown.split()) in legend, f"{shown!r} not shown whole"


# (command, json values to find: "text" of tidy rows, or every value of the json rows)
SWEEPS = [
    (["sweep", "cryo"], ["sweep", "cryo", "--tidy"]),
    (["sweep", "cmpr"], ["sweep", "cmpr", "--tidy"]),
    (["tools", "cryo", "--all"], ["sweep", "cryo", "--tidy"]),
    (["tools", "cmpr", "--all"], ["sweep", "cmpr", "--tidy"]),
    (["tools", "revision", "--all"], ["sweep", "revision", "--tidy"]),
]
TABLES = [
    ["sweep", "FEMC.TEMP0,CMPR.DRIVE", "--tidy"],
    ["nodes"],
    ["nodes", "--inventory"],
    ["points"],
    ["points", "cryo"],
    ["points", "--groups"],
    ["monitor", "nodes", "--host", "DV01"],
    ["monitor", "request", "--host", "DV01", "--channel", "1", "--node", "0x13", "--rca", "0x0C000"],
    ["tools", "temperature", "--host", "DV01", "--channel", "1", "--node", "0x13"],
    ["simulate", "--list-scenarios"],
    # a control (the gate valve's: refused or honoured, either way a one-row table)
    ["control", "request", "--host", "DV02", "--channel", "1", "--node", "0x13", "--rca", "0x1C034",
     "--data", "0x00", "--yes"],
]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("command", "values_from"), SWEEPS, ids=lambda c: " ".join(c))
def test_sweep_tables_fit_and_show_every_value_whole(width, command, values_from):
    status, out = run(*command, columns=width)
    assert status in (0, 1, 6), out  # 6: the outage's warm antennas are in alarm
    _, js = run(*values_from, "-f", "json")
    rows = json.loads(js)
    texts = {r["text"] for r in rows if r["point"] != "(node listing)"}
    assert_whole(out, texts, width)
    # the failed antennas' errors are whole too, and marked
    _, wide = run(*command, "-f", "json")
    assert_whole(out, [r["error"] for r in json.loads(wide)], width)
    assert re.search(r"(^|\s)x \S", out), "errors carry a text marker"
    assert len(re.findall(r"^  x +error$", out, re.M)) == 1, "explained once"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", TABLES, ids=lambda c: " ".join(c))
def test_every_other_table_fits_and_shows_every_value_whole(width, command):
    status, out = run(*command, columns=width)
    assert status in (0, 1, 6), out  # 6: the outage's warm antennas are in alarm
    _, js = run(*command, "-f", "json")
    rows = json.loads(js)
    shown_columns, _ = cells_and_legend(out)  # the headers among them; hidden ones left out
    values = [v for r in rows for k, v in r.items()
              if k not in ("time", "raw", "latency_ms", "description") and k in shown_columns]  # fmt: skip
    assert_whole(out, values, width)
    # a description is prose: wrapped inside its column at spaces, every word whole
    shown_words = set(out.split())
    for r in rows:
        missing = [w for w in str(r.get("description") or "").split() if w not in shown_words]
        assert not missing, missing


@pytest.mark.parametrize("width", WIDTHS)
def test_the_simulators_host_table_fits(width):
    status, out = run("simulate", "-a", "DV01,DV02,CM01", "--duration", "0", columns=width)
    assert status == 0 and all(len(ln) <= width for ln in out.splitlines())
    assert sorted(ln.split()[0] for ln in out.splitlines()[2:]) == ["CM01", "DV01", "DV02"]


def test_alarms_are_marked_in_text_and_explained_once():
    _, out = run("sweep", "cryo", columns=120)
    assert re.search(r"\d !!(\s|$)", out), "an alarm reading carries '!!'"
    assert len(re.findall(r"^  !! +alarm", out, re.M)) == 1
    assert out.count("blocked: hardware state") <= 1, "a repeated status text is explained once"


def test_every_header_with_a_unit_shows_it():
    _, out = run("sweep", "cryo", columns=200)
    assert "CRYOSTAT_PRESSURE [mbar]" in out and "TEMP0 [K]" in out


def test_a_table_that_fits_is_one_block():
    t = Table(["antenna", "a", "b"], [["DV01", 1.5, "x"]] * 3)
    assert plain(t, 80).splitlines()[0].split() == ["antenna", "a", "b"]


def test_columns_are_grouped_with_the_key_repeated():
    cols = ["antenna", *[f"POINT_{i:02d}" for i in range(20)]]
    t = Table(cols, [[f"DV{j:02d}", *[1000.0 + i for i in range(20)]] for j in range(3)])
    out = plain(t, 80)
    headers = [ln for ln in out.splitlines() if ln.startswith("antenna")]
    assert len(headers) > 1 and all(len(ln) <= 80 for ln in out.splitlines())
    assert sum(len(h.split()) - 1 for h in headers) == 20


def test_piped_output_defaults_to_120_columns():
    _, out = run("sweep", "cryo")
    assert max(len(ln) for ln in out.splitlines()) <= 120


@pytest.mark.parametrize("option", [["--simulate"], ["--sim-seed", "3"], ["--array", "x.csv"]])
def test_a_global_option_after_the_command_says_where_it_goes(option):
    r = CliRunner().invoke(app, ["sweep", "cryo", *option])
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert f"{option[0]} is a global option: put it before the command: " in line
    assert line.endswith(f"e2ckit {' '.join(option)} sweep cryo")


HELP = ["sweep", "nodes", "points", "simulate", "monitor", "monitor request", "monitor nodes", "control",
        "control request", "tools", "tools cryo", "log", "log run", "log compact"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", HELP)
def test_every_help_fits(width, command):
    code, out = run(*command.split(), "--help", columns=width)
    assert code == 0 and all(len(ln) <= width for ln in out.splitlines()), out
    if "Commands:" in out:
        assert "..." not in out.split("Commands:")[1]


@pytest.mark.parametrize("width", WIDTHS)
def test_help_is_not_cut(width):
    code, out = run("--help", columns=width)
    commands = out.split("Commands:")[1]
    assert code == 0 and "..." not in commands, "command summaries are whole"
    assert "(or check them against the inventory)" in " ".join(commands.split())
    assert all(len(ln) <= width for ln in out.splitlines())
    code, out = run("log", "--help", columns=width)
    commands = out.split("Commands:")[1]
    assert "..." not in commands and "Ctrl-C or SIGTERM" in " ".join(commands.split())


def _in_a_terminal(args: list[str], env: dict[str, str], columns: int) -> tuple[int, str]:
    """The CLI with stdout on a pseudo-terminal sized ``columns`` x 40 (no $COLUMNS:
    the width comes from the terminal itself)."""
    term_env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    term_env["TERM"] = "xterm-256color"
    return cli_on_a_terminal(args, term_env, size=(columns, 40))


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", [["sweep", "cryo"], ["tools", "cryo", "--all"]], ids=" ".join)
def test_a_real_terminal_gets_rich_tables_that_fit(served_twin, tmp_path, width, command):
    # a child process: the module's array served on loopback, named by E2CKIT_ARRAY
    env = dict(os.environ, E2CKIT_ARRAY=str(served_twin.write_array(tmp_path / "array.csv")))
    status, raw = _in_a_terminal(command, env, width)
    assert status in (0, 1, 6), raw  # 6: the outage's warm antennas are in alarm
    assert "┏" in raw and "\x1b[" in raw, "a rich table on a terminal"
    text = re.sub(r"\x1b\[[0-9;]*m", "", raw).replace("\r\n", "\n")
    from e2ckit.api import sweep

    texts = set(sweep("cryo", array=served_twin.array, tidy=True)["text"].dropna())
    assert_whole(text, texts, width, split=r"\s*[│┃]\s*")


@pytest.mark.parametrize("renderer", ["plain", "rich"])
def test_numbers_stay_right_aligned_when_some_carry_a_marker(renderer):
    from rich.console import Console

    from e2ckit.cli.output import render_rich

    t = Table(["antenna", "TEMP0 [K]"], [["DV01", 1.5], ["DV02", 22.25], ["DV03", 133.0]],
              text=[["DV01", "1.50"], ["DV02", "22.25"], ["DV03", "133.00"]],
              states=[[None, "warn"], [None, None], [None, "alarm"]])  # fmt: skip
    if renderer == "plain":
        out = plain(t, 80)
    else:
        console = Console(width=80, record=True, force_terminal=True, color_system="standard")
        render_rich(t, console)
        out = console.export_text()
    ends = {ln.index(v) + len(v) for ln in out.splitlines() for v in ("1.50", "22.25", "133.00") if v in ln}
    assert len(ends) == 1, out
    assert "1.50 !" in out and "133.00 !!" in out
