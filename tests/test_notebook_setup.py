"""Notebooks a reader can reproduce (issue #15.6): a notebook whose stored outputs come
from a simulated array states that array in a ``SETUP`` cell, equal to its entry in
``tests/notebooks/notebooks.toml`` (which the notebook tests run it against), and that
cell's ``use(SETUP)`` starts the same array as the tests' builder."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

import e2ckit
from e2ckit.sim.notebook import build, use

ROOT = Path(__file__).parent.parent
NOTEBOOKS = ROOT / "notebooks"
#: notebooks whose SETUP cell this test requires (04 and 05 read logs, not an array)
REQUIRED = ["01-quickstart", "02-troubleshoot-an-antenna", "03-compare-the-array"]
KEYS = ("antennas", "seed", "scenarios", "advance", "faults")


def manifest() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    spec = tomllib.loads((ROOT / "tests" / "notebooks" / "notebooks.toml").read_text())
    return {n: {**spec.get("defaults", {}), **o} for n, o in spec["notebooks"].items()}


def setup_cell(name: str) -> dict | None:
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and "\nSETUP = " in "\n" + src:
            tree = ast.parse(src)
            for node in tree.body:
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SETUP":
                    return ast.literal_eval(node.value)
    return None


@pytest.mark.parametrize("name", sorted(manifest()))
def test_a_notebook_states_the_array_its_outputs_came_from(name):
    entry = manifest()[name]
    if "notebook" in entry:  # another run of a listed notebook (a dead array): no SETUP of its own
        assert entry["notebook"] in manifest() and entry.get("compare") is False
        return
    stated = setup_cell(name)
    if not entry.get("sim", True):
        assert stated is None  # it reads a log, and says which (04: data/outage-recovery)
        return
    if stated is None:
        assert name not in REQUIRED, f"{name} has no SETUP cell"
        pytest.skip(f"{name}: no SETUP cell yet")
    expected = {k: entry[k] for k in KEYS if k in entry}
    assert {k: stated.get(k) for k in expected} == expected and set(stated) <= set(KEYS)


def test_the_outage_notebook_names_its_log():
    text = (NOTEBOOKS / "04-outage-trends.ipynb").read_text()
    assert "data/outage-recovery" in text


def test_use_starts_the_stated_array_and_points_e2ckit_at_it(tmp_path, monkeypatch):
    monkeypatch.delenv("E2CKIT_ARRAY", raising=False)
    setup = setup_cell("03-compare-the-array")
    small = dict(setup, antennas="DV05,DA45,PM03,DV01")
    sim = use(small, tmp_path / "array.csv")
    try:
        assert os.environ["E2CKIT_ARRAY"] == str(tmp_path / "array.csv")
        wide = e2ckit.sweep("cryo")  # no array named: $E2CKIT_ARRAY
        assert set(wide.index) == {"DV05", "DA45", "PM03", "DV01"}
        assert wide.loc["PM03", "error"].startswith("refused")
        assert wide.loc["DA45", "FEMC.CRYOSTAT_PRESSURE"] > 5e-4  # the leak, six hours in
        assert wide["error"].notna().sum() == 1
    finally:
        sim.stop()
    again = build(small)
    try:
        assert again.clock.now() == sim.clock.now()  # same settings, same simulated time
    finally:
        again.stop()
