"""The writer and the reader apart: ``e2ckit.dataset`` reads without the network
stack, ``logger`` and ``dataset`` never import each other, and a read changes no
process-wide state."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "e2ckit"


def test_import_e2ckit_dataset_imports_no_transport_wire_client_or_sim_module() -> None:
    code = (
        "import sys, e2ckit.dataset\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('e2ckit.transport', 'e2ckit.wire', 'e2ckit.client',"
        " 'e2ckit.sim', 'e2ckit.compat', 'e2ckit.logger')))\n"
        "print(bad)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _imports(module_dir: Path) -> set[tuple[str, str]]:
    """(file, imported e2ckit module) of every import in a package, inside functions
    too (TYPE_CHECKING blocks excepted)."""
    found = set()
    for f in module_dir.glob("*.py"):
        tree = ast.parse(f.read_text())
        skip = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("e2ckit"):
                found.add((f.name, node.module))
            elif isinstance(node, ast.Import):
                found |= {(f.name, a.name) for a in node.names if a.name.startswith("e2ckit")}
    return found


def test_logger_and_dataset_never_import_each_other_and_the_format_imports_neither() -> None:
    dataset = _imports(PACKAGE / "dataset")
    logger = _imports(PACKAGE / "logger")
    fmt = _imports(PACKAGE / "logformat")
    assert not [i for i in dataset if i[1].startswith("e2ckit.logger")]
    assert not [i for i in logger if i[1].startswith("e2ckit.dataset")]
    assert all(m.startswith(("e2ckit.logformat", "e2ckit.errors")) for _, m in fmt), fmt


def test_the_old_logger_load_says_where_it_went() -> None:
    import e2ckit.logger

    with pytest.raises(AttributeError, match=r"e2ckit\.dataset import load"):
        e2ckit.logger.load  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        e2ckit.logger.nope  # noqa: B018

